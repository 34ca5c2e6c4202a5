//! Outbound messages to the publisher (control messages, command results, `onStatus`),
//! encoded with `rml_rtmp`'s message types and chunk serializer. We only send a handful of
//! small messages per connection; all carry timestamp 0 because the engine reads no clock.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use rml_rtmp::chunk_io::ChunkSerializer;
use rml_rtmp::messages::{PeerBandwidthLimitType, RtmpMessage, UserControlEventType};
use rml_rtmp::rml_amf0::Amf0Value;
use rml_rtmp::time::RtmpTimestamp;

use crate::error::RtmpError;

/// Longest string we echo back (descriptions carry client-supplied names and server reasons;
/// an AMF0 string holds at most 65535 bytes).
const MAX_ECHO_BYTES: usize = 1024;

/// Encodes outgoing messages into chunks, accumulating them until taken.
pub(crate) struct Writer {
    serializer: ChunkSerializer,
    pending: BytesMut,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("pending", &self.pending.len()).finish_non_exhaustive()
    }
}

/// A `level`/`code`/`description` status object, as carried by `onStatus` and `_result`.
pub(crate) fn status_object(level: &str, code: &str, description: &str) -> Amf0Value {
    let mut props = HashMap::new();
    props.insert("level".to_owned(), Amf0Value::Utf8String(level.to_owned()));
    props.insert("code".to_owned(), Amf0Value::Utf8String(code.to_owned()));
    props.insert("description".to_owned(), Amf0Value::Utf8String(truncate(description).to_owned()));
    Amf0Value::Object(props)
}

/// Cuts `s` to at most [`MAX_ECHO_BYTES`] on a character boundary.
pub(crate) fn truncate(s: &str) -> &str {
    if s.len() <= MAX_ECHO_BYTES {
        return s;
    }
    let mut end = MAX_ECHO_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn encode_error(e: impl std::fmt::Display) -> RtmpError {
    RtmpError::Encode(e.to_string())
}

impl Writer {
    pub(crate) fn new() -> Self {
        Self { serializer: ChunkSerializer::new(), pending: BytesMut::new() }
    }

    /// Takes everything encoded so far.
    pub(crate) fn take(&mut self) -> Option<Bytes> {
        (!self.pending.is_empty()).then(|| self.pending.split().freeze())
    }

    /// Appends bytes that are not chunks (the handshake).
    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    fn send(&mut self, message: RtmpMessage, stream_id: u32) -> Result<(), RtmpError> {
        let payload =
            message.into_message_payload(RtmpTimestamp::new(0), stream_id).map_err(encode_error)?;
        let packet = self.serializer.serialize(&payload, false, false).map_err(encode_error)?;
        self.pending.extend_from_slice(&packet.bytes);
        Ok(())
    }

    /// Set Chunk Size for our own chunks; `size` must already be in `1..=0x7FFFFFFF`.
    pub(crate) fn set_chunk_size(&mut self, size: u32) -> Result<(), RtmpError> {
        let packet = self
            .serializer
            .set_max_chunk_size(size, RtmpTimestamp::new(0))
            .map_err(encode_error)?;
        self.pending.extend_from_slice(&packet.bytes);
        Ok(())
    }

    pub(crate) fn window_ack_size(&mut self, size: u32) -> Result<(), RtmpError> {
        self.send(RtmpMessage::WindowAcknowledgement { size }, 0)
    }

    pub(crate) fn peer_bandwidth(&mut self, size: u32) -> Result<(), RtmpError> {
        let limit_type = PeerBandwidthLimitType::Dynamic;
        self.send(RtmpMessage::SetPeerBandwidth { size, limit_type }, 0)
    }

    /// "The client or the server MUST send an acknowledgment to the peer after receiving bytes
    /// equal to the window size" and the sequence number "holds the number of bytes received
    /// so far" (RTMP 5.4.3).
    pub(crate) fn acknowledgement(&mut self, sequence_number: u32) -> Result<(), RtmpError> {
        self.send(RtmpMessage::Acknowledgement { sequence_number }, 0)
    }

    /// User Control Stream Begin for `stream_id`.
    pub(crate) fn stream_begin(&mut self, stream_id: u32) -> Result<(), RtmpError> {
        let message = RtmpMessage::UserControl {
            event_type: UserControlEventType::StreamBegin,
            stream_id: Some(stream_id),
            buffer_length: None,
            timestamp: None,
        };
        self.send(message, 0)
    }

    /// "The client sends the PingResponse event to the server as a response to the
    /// PingRequest. The event data is a 4-byte timestamp, which was received with the
    /// PingRequest" (RTMP 7.1.7).
    pub(crate) fn ping_response(&mut self, timestamp: u32) -> Result<(), RtmpError> {
        let message = RtmpMessage::UserControl {
            event_type: UserControlEventType::PingResponse,
            stream_id: None,
            buffer_length: None,
            timestamp: Some(RtmpTimestamp::new(timestamp)),
        };
        self.send(message, 0)
    }

    /// An AMF0 command message on `stream_id`.
    pub(crate) fn command(
        &mut self,
        stream_id: u32,
        name: &str,
        transaction_id: f64,
        command_object: Amf0Value,
        arguments: Vec<Amf0Value>,
    ) -> Result<(), RtmpError> {
        let message = RtmpMessage::Amf0Command {
            command_name: name.to_owned(),
            transaction_id,
            command_object,
            additional_arguments: arguments,
        };
        self.send(message, stream_id)
    }

    /// `onStatus(0, null, {level, code, description})` on `stream_id`.
    pub(crate) fn on_status(
        &mut self,
        stream_id: u32,
        level: &str,
        code: &str,
        description: &str,
    ) -> Result<(), RtmpError> {
        let status = status_object(level, code, description);
        self.command(stream_id, "onStatus", 0.0, Amf0Value::Null, vec![status])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        let s = "é".repeat(600);
        let t = truncate(&s);
        assert!(t.len() <= MAX_ECHO_BYTES);
        assert_eq!(t.len() % 2, 0);
        assert_eq!(truncate("short"), "short");
    }

    #[test]
    fn on_status_encodes_a_command_chunk() {
        let mut w = Writer::new();
        w.set_chunk_size(4096).unwrap();
        assert_eq!(w.take().map(|b| b[7]), Some(1));
        w.on_status(1, "error", "NetStream.Publish.Rejected", "no such channel").unwrap();
        let bytes = w.take().unwrap();
        // A type 0 header on chunk stream 6 with message type 20 (AMF0 command), stream 1.
        assert_eq!(bytes[0], 6);
        assert_eq!(bytes[7], 20);
        assert_eq!(&bytes[8..12], &1u32.to_le_bytes());
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("onStatus"));
        assert!(text.contains("NetStream.Publish.Rejected"));
        assert!(text.contains("no such channel"));
        assert!(w.take().is_none());
    }
}
