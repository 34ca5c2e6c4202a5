//! Per-connection settings of the RTMP engine: what we announce to the publisher and the
//! limits that keep one connection's memory bounded.

/// Settings for one [`RtmpSession`](crate::RtmpSession).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpConfig {
    /// Chunk size we send with (clamped to `128..=0xFF_FFFF`). Only our few control and
    /// status messages use it; the publisher picks its own chunk size for media.
    pub chunk_size: u32,
    /// Window acknowledgement size announced to the publisher: it acknowledges every this many
    /// bytes it receives from us (we send very little, so this barely matters).
    pub window_ack_size: u32,
    /// Peer bandwidth announced with limit type "dynamic".
    pub peer_bandwidth: u32,
    /// Largest RTMP message accepted (a video frame is one message). Larger ones end the
    /// connection with [`RtmpError::MessageTooLarge`](crate::RtmpError::MessageTooLarge).
    /// The wire format caps messages at 16 MiB − 1 anyway.
    pub max_message_bytes: u32,
    /// Largest command or data (AMF0) message accepted: `connect`, `publish`, `onMetaData`…
    /// are a few hundred bytes in practice.
    pub max_command_bytes: u32,
    /// Cap on the bytes the engine holds between calls: unparsed input plus partly received
    /// messages. Exceeding it ends the connection with
    /// [`RtmpError::BufferFull`](crate::RtmpError::BufferFull).
    pub max_buffered_bytes: usize,
}

impl Default for RtmpConfig {
    fn default() -> Self {
        Self {
            chunk_size: 4096,
            window_ack_size: 2_500_000,
            peer_bandwidth: 2_500_000,
            max_message_bytes: 8 * 1024 * 1024,
            max_command_bytes: 64 * 1024,
            max_buffered_bytes: 24 * 1024 * 1024,
        }
    }
}
