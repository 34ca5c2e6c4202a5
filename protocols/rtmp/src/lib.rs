//! Sans-IO RTMP publish (ingest) engine for Sluice.
//!
//! Sits at the very start of the data flow: the server owns the TCP socket of an RTMP
//! publisher (OBS, ffmpeg, hardware encoders) and drives one [`RtmpSession`] per connection.
//! The session does the handshake, answers the publisher's commands, asks the server to
//! decide on each publish ([`Output::PublishRequested`]) and hands out FLV audio/video tag
//! bodies, which the server feeds to `media::demux::flv`.
//!
//! Built on `rml_rtmp` for the handshake and for encoding what we send; the inbound chunk
//! reader and AMF0 decoder are our own because `rml_rtmp`'s server session panics or
//! misbehaves on some malformed input (see `chunk` and `amf0`). No clock, no logging: errors
//! are values that say in words why the connection must close.

mod amf0;
mod chunk;
mod command;
mod config;
mod error;
mod session;
mod writer;

pub use config::RtmpConfig;
pub use error::RtmpError;
pub use session::{Output, PublishRequest, RtmpSession};
