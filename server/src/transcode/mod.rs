//! Audio transcoding for egress paths whose players cannot take the source codec: today the
//! AAC → Opus bridge that lets WebRTC (WHEP) viewers hear RTMP and SRT sources, whose encoders
//! send AAC while browsers' WebRTC stacks only decode Opus.
//!
//! Place in the data flow: access units of a channel's AAC track (the same ones the CMAF
//! fragmenter gets) → [`AacToOpus`] → Opus packets for the WHEP packetizer. The server runs one
//! per channel and only while a viewer needs it. Sans-IO like `media`: no async, no clock;
//! timestamps come from the access units.
//!
//! Pieces: symphonia decodes AAC-LC to `f32` PCM, [`resample`] brings it to 48 kHz when the
//! source uses another rate, libopus (through audiopus, linked to the system `libopus`)
//! encodes 20 ms frames.

mod aac_to_opus;
pub mod resample;

#[cfg(test)]
mod tests;

pub use aac_to_opus::{AacToOpus, OpusPacket, TranscodeStats};

/// Why a transcoder could not be built, or why one access unit was dropped. A dropped access unit
/// leaves the transcoder usable; its time is filled with silence so the timeline stays exact.
#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    #[error("aac: {0}")]
    UnsupportedAac(String),
    #[error("aac: {0} channels not supported (1 or 2)")]
    UnsupportedChannels(u8),
    #[error(transparent)]
    Resample(#[from] resample::ResampleError),
    #[error("opus encoder: {0}")]
    Encoder(String),
    #[error("aac frame dropped: {0}")]
    MalformedFrame(String),
}
