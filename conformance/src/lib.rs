//! `sluice-check`: an independent, over-the-wire conformance checker for Sluice's LL-HLS output.
//!
//! It fetches playlists and media with its own HTTP/1.1 client ([`http`]), parses them with its
//! own playlist and MP4 readers ([`playlist`], [`mp4`]) and judges them with one function per
//! rule of `conformance/RULES.md` section A ([`rules`]). [`live`] follows a running stream,
//! [`stall`] checks the paused-publisher case, [`lint`] judges playlist files, and [`report`]
//! turns outcomes into PASS/FAIL/WARN/SKIP lines. It shares no code with the server, so a bug
//! cannot hide by agreeing with itself.

pub mod attrs;
pub mod http;
pub mod lint;
pub mod live;
pub mod mp4;
pub mod playlist;
pub mod report;
pub mod rules;
pub mod stall;
pub mod url;
