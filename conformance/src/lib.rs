//! `sluice-check`: an independent, over-the-wire conformance checker for Sluice's HLS output
//! (LL-HLS with CMAF parts, and classic HLS with MPEG-TS segments).
//!
//! It fetches playlists and media with its own HTTP/1.1 client ([`http`]), parses them with its
//! own playlist, MP4, MPEG-TS and packed-audio readers ([`playlist`], [`mp4`], [`ts`],
//! [`packed`], with [`codecs`] for RFC 6381 strings) and judges them with one function per
//! rule of `conformance/RULES.md` sections A, B and the HEVC-relevant part of C ([`rules`]).
//! [`live`] follows a running stream, [`stall`] checks the paused-publisher case, [`lint`]
//! judges playlist files, and [`report`] turns outcomes into PASS/FAIL/WARN/SKIP lines.
//! Section D (LL-DASH) is [`dash`]: it polls an MPD read with [`xml`] + [`mpd`], fetches
//! segments and probes the live edge, judged by `rules::dash` and `dash::{media, probes}`.
//! Section E (WHIP / WHEP signalling) is [`webrtc`]: it POSTs offers it generates itself,
//! reads answers with [`sdp`] and judges them with `rules::whip`. It shares no code with the
//! server, so a bug cannot hide by agreeing with itself.

pub mod attrs;
pub mod codecs;
pub mod dash;
pub mod http;
pub mod lint;
pub mod live;
pub mod mp4;
pub mod mpd;
pub mod packed;
pub mod playlist;
pub mod report;
pub mod rules;
pub mod sdp;
pub mod stall;
pub mod ts;
pub mod url;
pub mod webrtc;
pub mod xml;
