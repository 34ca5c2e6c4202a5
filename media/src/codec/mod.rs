//! Codec configuration parsing: what CMAF sample entries and playlist attributes need.

pub mod aac;
pub mod bits;
pub mod h264;
