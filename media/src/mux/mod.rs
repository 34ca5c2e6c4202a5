//! Container muxers: turn access units back into a wire container for egress that is not CMAF.

pub mod ts;
