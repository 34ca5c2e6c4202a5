//! Arbitrary request targets into the LL-HLS resource-path and delivery-directive parsers
//! (everything a viewer controls). Must never panic; a parsed path must rebuild to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (path, query) = text.split_once('?').unwrap_or((text, ""));
    if let Ok(resource) = sluice_hls::parse_resource(path) {
        assert_eq!(resource.uri(), path);
    }
    let _ = sluice_hls::Directives::parse(query);
});
