//! Example configurations and publish recipes (see `configs/` and `recipes/` beside this crate).
//! The tests below keep every example config loadable by the real parser.

#[cfg(test)]
mod tests {
    use sluice_server::config::Config;

    #[test]
    fn every_example_config_parses_and_validates() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("configs folder exists") {
            let path = entry.expect("readable entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let config = Config::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
                config.validate().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                seen += 1;
            }
        }
        assert!(seen >= 2, "expected the example configs, found {seen}");
    }

    #[test]
    fn the_full_example_states_the_defaults() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/sluice.toml");
        let example = Config::from_file(&path).expect("parses");
        let default = Config::default();
        assert_eq!(example.http, default.http);
        assert_eq!(example.https, default.https);
        assert_eq!(example.rtmp, default.rtmp);
        assert_eq!(example.media.part_target_ms, default.media.part_target_ms);
        assert_eq!(example.media.segment_target_ms, default.media.segment_target_ms);
        assert_eq!(example.media.playlist_segments, default.media.playlist_segments);
        assert_eq!(example.limits.max_held_requests, default.limits.max_held_requests);
    }
}
