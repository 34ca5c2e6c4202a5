//! Codec configuration parsing: what CMAF sample entries and playlist attributes need.

pub mod aac;
pub mod adts;
pub mod annexb;
pub mod av1;
pub mod bits;
pub mod h264;
pub mod h265;
pub mod nal;
pub mod opus;
pub mod vui;
