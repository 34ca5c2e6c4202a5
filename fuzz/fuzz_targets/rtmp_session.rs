//! Arbitrary bytes into an RTMP publish session, split at fuzzer-chosen points, with every
//! publish request accepted so the media path is reached too. Must never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_rtmp::{Output, RtmpConfig, RtmpSession};

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else { return };
    let mut session = RtmpSession::new(RtmpConfig::default());
    let step = usize::from(split).max(1);
    for chunk in data.chunks(step) {
        if session.handle_input(chunk).is_err() {
            break;
        }
        while let Some(out) = session.poll_output() {
            if let Output::PublishRequested(req) = out {
                let _ = session.accept_publish(req);
            }
        }
    }
});
