//! CMAF: box writers, init segments and the per-track fragmenter that cuts parts and segments.

pub mod boxes;
pub mod fragmenter;
pub mod init;
