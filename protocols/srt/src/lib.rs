//! SRT for Sluice, the part that needs no socket: what a caller's stream id asks for.
//!
//! The SRT transport itself (handshake, ARQ, AES) is srt-tokio's, driven by the server's
//! `ingest::srt`. This crate turns the stream id a caller sent into a channel and a mode, so
//! the listener can accept, reject with a reason, or pick the channel's passphrase.

pub mod stream_id;

pub use stream_id::{Mode, StreamId, StreamIdError};
