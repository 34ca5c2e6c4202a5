//! Arbitrary SRT stream ids (what any caller sends before authenticating) into the stream id
//! parser. Must never panic; a parsed id names a two-part channel.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(id) = sluice_srt::StreamId::parse(&text) {
        assert!(!id.group.is_empty() && !id.channel.is_empty());
        assert!(!id.group.contains('/') && !id.channel.contains('/'));
    }
});
