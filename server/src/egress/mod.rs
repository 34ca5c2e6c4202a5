//! Egress: the HTTP router and the per-format handlers that serve from hub snapshots.

pub mod body;
pub mod dash;
pub mod hls;
pub mod http;
pub mod response;
pub mod ts;
