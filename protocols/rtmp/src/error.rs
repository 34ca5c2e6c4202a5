//! Why an RTMP connection has to be closed. Every variant is a reason in words: the server
//! logs it with the connection it concerns.

/// A fatal problem with one RTMP connection. After an error the session refuses further input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RtmpError {
    /// The RTMP handshake (C0/C1/C2) was malformed.
    #[error("rtmp handshake failed: {0}")]
    Handshake(String),
    /// A chunk used a compressed header on a chunk stream that never had a full header.
    #[error("chunk stream {csid} sent a type {fmt} chunk header before any type 0 header")]
    NoPreviousHeader { csid: u32, fmt: u8 },
    /// A chunk with a new message header arrived while the chunk stream's previous message was
    /// still incomplete.
    #[error("chunk stream {csid} started a new message before finishing the previous one")]
    InterruptedMessage { csid: u32 },
    /// The publisher declared a message bigger than allowed.
    #[error("{kind} message of {size} bytes exceeds the {limit}-byte limit")]
    MessageTooLarge { kind: &'static str, size: u32, limit: u32 },
    /// Too many bytes held in the engine (unparsed input plus partial messages).
    #[error("more than {limit} bytes of rtmp input buffered")]
    BufferFull { limit: usize },
    /// The publisher used more chunk streams than a publishing client ever needs.
    #[error("more than {limit} chunk streams in use")]
    TooManyChunkStreams { limit: usize },
    /// Set Chunk Size with an out-of-range value.
    #[error("invalid chunk size {0} (must be 1 to 2147483647)")]
    InvalidChunkSize(u32),
    /// A protocol control or user control message that does not parse.
    #[error("malformed {kind} message: {detail}")]
    MalformedControl { kind: &'static str, detail: String },
    /// AMF0 in a command or data message that does not parse.
    #[error("malformed amf0 in {context}: {detail}")]
    MalformedAmf { context: &'static str, detail: String },
    /// A command message without a string command name and numeric transaction id.
    #[error("malformed command message: {0}")]
    MalformedCommand(String),
    /// A command that needs a connection arrived before `connect`.
    #[error("{0} received before connect")]
    NotConnected(String),
    /// `connect` arrived twice.
    #[error("connect received twice")]
    AlreadyConnected,
    /// `connect` without an `app` string.
    #[error("connect has no app name")]
    MissingApp,
    /// `publish` without a stream name.
    #[error("publish has no stream name")]
    MissingStreamName,
    /// `publish` on a message stream never created with `createStream`.
    #[error("publish on stream {0}, which was never created")]
    UnknownStream(u32),
    /// A second `publish` while one is pending or live on this connection.
    #[error("a second publish on one connection (stream {0} is already publishing)")]
    AlreadyPublishing(u32),
    /// The client asked to play: Sluice only ingests over RTMP.
    #[error("rtmp play of {stream_key:?} refused: this server only accepts publishing over rtmp")]
    PlayNotSupported { stream_key: String },
    /// More `createStream` calls than a publisher needs.
    #[error("more than {limit} streams created on one connection")]
    TooManyStreams { limit: u32 },
    /// `accept_publish`/`reject_publish` for a request that is not the pending one.
    #[error("publish request {0} is not pending")]
    UnknownRequest(u32),
    /// Encoding one of our own messages failed (a bug, reported rather than panicking).
    #[error("encoding an outgoing rtmp message failed: {0}")]
    Encode(String),
    /// The session already failed; the connection must be closed.
    #[error("rtmp session already failed")]
    SessionFailed,
}
