//! Inbound RTMP chunk stream: reassembles the publisher's chunks into whole messages
//! (RTMP specification 1.0, section 5.3), bounded in memory.
//!
//! Our own reader rather than `rml_rtmp`'s `ChunkDeserializer`, which keeps one reassembly
//! buffer for all chunk streams (so interleaved chunk streams corrupt each other), has no size
//! limits and underflows on some malformed headers. Messages that fit in one chunk are handed
//! out without copying (`Bytes` split off the input buffer).

use std::collections::HashMap;

use bytes::{Buf, Bytes, BytesMut};

use crate::error::RtmpError;

/// "The maximum chunk size defaults to 128 bytes" (RTMP 5.4.1).
const DEFAULT_CHUNK_SIZE: u32 = 128;
/// A 24-bit timestamp field of 0xFFFFFF announces an Extended Timestamp field (RTMP 5.3.1.3).
const EXTENDED_TIMESTAMP: u32 = 0xFF_FFFF;
/// A publisher uses a handful of chunk streams (control, command, audio, video, data).
pub(crate) const MAX_CHUNK_STREAMS: usize = 64;
/// How much the reassembly buffer of a multi-chunk message reserves up front: growth past this
/// follows the bytes that actually arrived, not the declared length.
const INITIAL_REASSEMBLY: usize = 64 * 1024;

/// One complete RTMP message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawMessage {
    pub(crate) type_id: u8,
    pub(crate) stream_id: u32,
    pub(crate) timestamp: u32,
    pub(crate) payload: Bytes,
}

/// Message type ids carried as AMF (commands and data): held to the smaller command limit.
pub(crate) fn is_amf_type(type_id: u8) -> bool {
    matches!(type_id, 15 | 17 | 18 | 20)
}

#[derive(Debug, Default)]
struct ChunkStream {
    /// Absolute timestamp of the current (or last) message.
    timestamp: u32,
    /// Last timestamp field: absolute for type 0, a delta for types 1 and 2.
    delta: u32,
    /// Whether the last type 0/1/2 header carried an Extended Timestamp.
    extended: bool,
    length: u32,
    type_id: u8,
    stream_id: u32,
    /// Bytes of the current message received so far (`None`: no message in progress).
    partial: Option<BytesMut>,
}

/// Reassembles chunks into [`RawMessage`]s.
#[derive(Debug)]
pub(crate) struct ChunkReader {
    buffer: BytesMut,
    chunk_size: u32,
    streams: HashMap<u32, ChunkStream>,
    partial_bytes: usize,
    max_message_bytes: u32,
    max_command_bytes: u32,
}

/// The parsed header of the chunk at the front of the buffer.
struct Header {
    fmt: u8,
    csid: u32,
    header_len: usize,
    timestamp_field: u32,
    extended: bool,
    length: u32,
    type_id: u8,
    stream_id: u32,
}

impl ChunkReader {
    pub(crate) fn new(max_message_bytes: u32, max_command_bytes: u32) -> Self {
        Self {
            buffer: BytesMut::new(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: HashMap::new(),
            partial_bytes: 0,
            max_message_bytes,
            max_command_bytes,
        }
    }

    /// Appends input; call [`next_message`](Self::next_message) until it returns `None`.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes held: unparsed input plus partly received messages.
    pub(crate) fn buffered(&self) -> usize {
        self.buffer.len() + self.partial_bytes
    }

    /// Applies the publisher's Set Chunk Size.
    pub(crate) fn set_chunk_size(&mut self, size: u32) -> Result<(), RtmpError> {
        // "The maximum chunk size SHOULD be at least 128 bytes, and MUST be at least 1 byte"
        // and "This field holds the new maximum chunk size, in bytes, which will be used for
        // all of the sender's subsequent chunks. Valid sizes are 1 to 2147483647" (RTMP 5.4.1).
        if size == 0 || size > 0x7FFF_FFFF {
            return Err(RtmpError::InvalidChunkSize(size));
        }
        self.chunk_size = size;
        Ok(())
    }

    /// Applies an Abort Message: "The receiver of this message discards the partially
    /// received message over a chunk stream" (RTMP 5.4.2).
    pub(crate) fn abort(&mut self, csid: u32) {
        if let Some(stream) = self.streams.get_mut(&csid)
            && let Some(partial) = stream.partial.take()
        {
            self.partial_bytes -= partial.len();
        }
    }

    /// The next complete message, or `None` when more input is needed.
    pub(crate) fn next_message(&mut self) -> Result<Option<RawMessage>, RtmpError> {
        loop {
            let Some(header) = self.parse_header()? else {
                return Ok(None);
            };
            match self.consume_chunk(header)? {
                Step::NeedMore => return Ok(None),
                // A non-final chunk of a longer message: carry on with the next chunk.
                Step::Partial => {}
                Step::Message(message) => return Ok(Some(message)),
            }
        }
    }

    /// Parses the chunk header at the front of the buffer without consuming anything.
    fn parse_header(&self) -> Result<Option<Header>, RtmpError> {
        let buf = &self.buffer[..];
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        // Basic header (RTMP 5.3.1.1): "Chunk stream IDs 2-63 can be encoded in the 1-byte
        // version", value 0 means the 2-byte form (ID 64-319, "the second byte + 64") and
        // value 1 the 3-byte form (ID 64-65599, "third byte*256 + second byte + 64").
        let fmt = first >> 6;
        let (csid, basic_len) = match first & 0x3F {
            0 => match buf.get(1) {
                Some(&b1) => (u32::from(b1) + 64, 2),
                None => return Ok(None),
            },
            1 => match (buf.get(1), buf.get(2)) {
                (Some(&b1), Some(&b2)) => (u32::from(b2) * 256 + u32::from(b1) + 64, 3),
                _ => return Ok(None),
            },
            n => (u32::from(n), 1),
        };

        let previous = self.streams.get(&csid);
        if fmt != 0 && previous.is_none() {
            return Err(RtmpError::NoPreviousHeader { csid, fmt });
        }
        if fmt != 3 && previous.is_some_and(|s| s.partial.is_some()) {
            return Err(RtmpError::InterruptedMessage { csid });
        }
        if fmt == 0 && previous.is_none() && self.streams.len() >= MAX_CHUNK_STREAMS {
            return Err(RtmpError::TooManyChunkStreams { limit: MAX_CHUNK_STREAMS });
        }

        // Message header (RTMP 5.3.1.2): type 0 is 11 bytes, type 1 is 7, type 2 is 3 and
        // "Type 3 chunks have no message header".
        let message_header_len = [11usize, 7, 3, 0][usize::from(fmt)];
        let Some(mh) = buf.get(basic_len..basic_len + message_header_len) else {
            return Ok(None);
        };
        let be24 = |b: &[u8]| u32::from_be_bytes([0, b[0], b[1], b[2]]);
        let (timestamp_field, extended) = if fmt == 3 {
            // "This field is present in Type 3 chunks when the most recent Type 0, 1, or 2
            // chunk for the same chunk stream ID indicated the presence of an extended
            // timestamp field" (RTMP 5.3.1.3).
            let prev = previous.map(|s| (s.delta, s.extended)).unwrap_or_default();
            (prev.0, prev.1)
        } else {
            let field = be24(&mh[0..3]);
            (field, field == EXTENDED_TIMESTAMP)
        };
        let (length, type_id) = if fmt <= 1 {
            (be24(&mh[3..6]), mh[6])
        } else {
            previous.map(|s| (s.length, s.type_id)).unwrap_or_default()
        };
        let stream_id = if fmt == 0 {
            // The message stream ID is "stored in little-endian format" (RTMP 5.3.1.2.1).
            u32::from_le_bytes([mh[7], mh[8], mh[9], mh[10]])
        } else {
            previous.map(|s| s.stream_id).unwrap_or_default()
        };

        let mut header_len = basic_len + message_header_len;
        let mut timestamp_field = timestamp_field;
        if extended {
            let Some(ext) = buf.get(header_len..header_len + 4) else {
                return Ok(None);
            };
            if fmt != 3 {
                timestamp_field = u32::from_be_bytes([ext[0], ext[1], ext[2], ext[3]]);
            }
            header_len += 4;
        }

        Ok(Some(Header {
            fmt,
            csid,
            header_len,
            timestamp_field,
            extended,
            length,
            type_id,
            stream_id,
        }))
    }

    /// Consumes the chunk if all of it has arrived.
    fn consume_chunk(&mut self, header: Header) -> Result<Step, RtmpError> {
        let stream = self.streams.get(&header.csid);
        let received = stream.and_then(|s| s.partial.as_ref()).map_or(0, BytesMut::len);
        let starts_message = stream.is_none_or(|s| s.partial.is_none());

        if starts_message {
            let (limit, kind) = if is_amf_type(header.type_id) {
                (self.max_command_bytes, "command")
            } else {
                (self.max_message_bytes, "media")
            };
            if header.length > limit {
                return Err(RtmpError::MessageTooLarge { kind, size: header.length, limit });
            }
        }

        // `received < length` holds for a message in progress, so this cannot underflow;
        // saturating anyway keeps a logic slip from panicking.
        let remaining = (header.length as usize).saturating_sub(received);
        let payload_len = remaining.min(self.chunk_size as usize);
        if self.buffer.len() < header.header_len + payload_len {
            return Ok(Step::NeedMore);
        }

        let stream = self.streams.entry(header.csid).or_default();
        if starts_message {
            match header.fmt {
                0 => {
                    stream.timestamp = header.timestamp_field;
                    stream.delta = header.timestamp_field;
                }
                1 | 2 => {
                    stream.delta = header.timestamp_field;
                    stream.timestamp = stream.timestamp.wrapping_add(header.timestamp_field);
                }
                // "If a Type 3 chunk follows a Type 0 chunk, then the timestamp delta for this
                // Type 3 chunk is the same as the timestamp of the Type 0 chunk" (RTMP 5.3.1.2.4).
                _ => stream.timestamp = stream.timestamp.wrapping_add(stream.delta),
            }
            if header.fmt != 3 {
                stream.extended = header.extended;
            }
            stream.length = header.length;
            stream.type_id = header.type_id;
            stream.stream_id = header.stream_id;
        }

        self.buffer.advance(header.header_len);
        let complete = received + payload_len == header.length as usize;
        let payload = if complete && received == 0 {
            // The whole message is in this chunk: hand out the input bytes without copying.
            stream.partial = None;
            self.buffer.split_to(payload_len).freeze()
        } else {
            let partial = stream.partial.get_or_insert_with(|| {
                BytesMut::with_capacity((header.length as usize).min(INITIAL_REASSEMBLY))
            });
            partial.extend_from_slice(&self.buffer[..payload_len]);
            self.buffer.advance(payload_len);
            self.partial_bytes += payload_len;
            if !complete {
                return Ok(Step::Partial);
            }
            let done = stream.partial.take().unwrap_or_default();
            self.partial_bytes -= done.len();
            done.freeze()
        };

        Ok(Step::Message(RawMessage {
            type_id: stream.type_id,
            stream_id: stream.stream_id,
            timestamp: stream.timestamp,
            payload,
        }))
    }
}

/// What consuming one chunk achieved.
enum Step {
    /// The chunk has not fully arrived; nothing was consumed.
    NeedMore,
    /// The chunk was consumed; its message needs more chunks.
    Partial,
    Message(RawMessage),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A type 0 chunk header on `csid` (< 64).
    fn type0(csid: u8, timestamp: u32, length: u32, type_id: u8, stream_id: u32) -> Vec<u8> {
        let mut out = vec![csid];
        let ts = timestamp.min(EXTENDED_TIMESTAMP);
        out.extend_from_slice(&ts.to_be_bytes()[1..]);
        out.extend_from_slice(&length.to_be_bytes()[1..]);
        out.push(type_id);
        out.extend_from_slice(&stream_id.to_le_bytes());
        if timestamp >= EXTENDED_TIMESTAMP {
            out.extend_from_slice(&timestamp.to_be_bytes());
        }
        out
    }

    fn reader() -> ChunkReader {
        ChunkReader::new(1 << 20, 64 * 1024)
    }

    fn all(reader: &mut ChunkReader) -> Vec<RawMessage> {
        let mut out = Vec::new();
        while let Some(m) = reader.next_message().unwrap() {
            out.push(m);
        }
        out
    }

    #[test]
    fn single_chunk_message() {
        let mut r = reader();
        let mut bytes = type0(4, 40, 3, 9, 1);
        bytes.extend([1, 2, 3]);
        r.push(&bytes);
        let msgs = all(&mut r);
        assert_eq!(
            msgs,
            vec![RawMessage {
                type_id: 9,
                stream_id: 1,
                timestamp: 40,
                payload: Bytes::from_static(&[1, 2, 3]),
            }]
        );
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn interleaved_chunk_streams_reassemble_separately() {
        let mut r = reader();
        let video: Vec<u8> = (0..200u16).map(|i| i as u8).collect();
        let mut bytes = type0(6, 0, 200, 9, 1);
        bytes.extend(&video[..128]);
        // An audio message on another chunk stream between the two video chunks.
        bytes.extend(type0(4, 0, 2, 8, 1));
        bytes.extend([0xAF, 0x01]);
        bytes.push(0xC0 | 6);
        bytes.extend(&video[128..]);
        r.push(&bytes);
        let msgs = all(&mut r);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].type_id, 8);
        assert_eq!(&msgs[0].payload[..], &[0xAF, 0x01]);
        assert_eq!(msgs[1].type_id, 9);
        assert_eq!(&msgs[1].payload[..], &video[..]);
    }

    #[test]
    fn compressed_headers_accumulate_timestamp_deltas() {
        let mut r = reader();
        let mut bytes = type0(4, 1000, 1, 8, 1);
        bytes.push(0xAA);
        // Type 1: delta 23, new length 2.
        bytes.extend([0x40 | 4, 0, 0, 23, 0, 0, 2, 8, 0xBB, 0xBB]);
        // Type 2: delta 21.
        bytes.extend([0x80 | 4, 0, 0, 21, 0xCC, 0xCC]);
        // Type 3 starting a new message: same delta again.
        bytes.extend([0xC0 | 4, 0xDD, 0xDD]);
        r.push(&bytes);
        let stamps: Vec<u32> = all(&mut r).iter().map(|m| m.timestamp).collect();
        assert_eq!(stamps, vec![1000, 1023, 1044, 1065]);
    }

    #[test]
    fn extended_timestamps_including_on_continuation_chunks() {
        let mut r = reader();
        let ts = 0x0100_0000;
        let mut bytes = type0(6, ts, 130, 9, 1);
        bytes.extend([7u8; 128]);
        bytes.push(0xC0 | 6);
        bytes.extend(ts.to_be_bytes());
        bytes.extend([7u8; 2]);
        r.push(&bytes);
        let msgs = all(&mut r);
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].timestamp, ts);
        assert_eq!(msgs[0].payload.len(), 130);
    }

    #[test]
    fn byte_by_byte_input_gives_the_same_messages() {
        let mut bytes = type0(0, 5, 300, 9, 1);
        bytes[0] = 0; // two-byte basic header form: csid 64 + next byte
        bytes.insert(1, 10);
        bytes.extend([1u8; 128]);
        bytes.extend([0xC0, 10]);
        bytes.extend([1u8; 128]);
        bytes.extend([0xC0, 10]);
        bytes.extend([1u8; 44]);
        let mut r = reader();
        let mut msgs = Vec::new();
        for b in &bytes {
            r.push(std::slice::from_ref(b));
            msgs.extend(all(&mut r));
        }
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].payload.len(), 300);
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn compressed_header_on_a_fresh_chunk_stream_is_an_error() {
        let mut r = reader();
        r.push(&[0x43, 0, 0, 0, 0, 0, 1, 9]);
        assert_eq!(r.next_message(), Err(RtmpError::NoPreviousHeader { csid: 3, fmt: 1 }));
    }

    #[test]
    fn new_header_mid_message_is_an_error() {
        let mut r = reader();
        let mut bytes = type0(6, 0, 200, 9, 1);
        bytes.extend([0u8; 128]);
        bytes.extend(type0(6, 0, 2, 9, 1));
        r.push(&bytes);
        assert_eq!(r.next_message(), Err(RtmpError::InterruptedMessage { csid: 6 }));
    }

    #[test]
    fn oversized_messages_are_refused_before_buffering() {
        let mut r = ChunkReader::new(1000, 100);
        r.push(&type0(6, 0, 1001, 9, 1));
        assert_eq!(
            r.next_message(),
            Err(RtmpError::MessageTooLarge { kind: "media", size: 1001, limit: 1000 })
        );
        let mut r = ChunkReader::new(1000, 100);
        r.push(&type0(3, 0, 101, 20, 0));
        assert_eq!(
            r.next_message(),
            Err(RtmpError::MessageTooLarge { kind: "command", size: 101, limit: 100 })
        );
    }

    #[test]
    fn abort_discards_the_partial_message() {
        let mut r = reader();
        let mut bytes = type0(6, 0, 200, 9, 1);
        bytes.extend([0u8; 128]);
        r.push(&bytes);
        assert_eq!(r.next_message(), Ok(None));
        assert_eq!(r.buffered(), 128);
        r.abort(6);
        assert_eq!(r.buffered(), 0);
        // After an abort the chunk stream may start a new message with a full header.
        let mut bytes = type0(6, 0, 1, 9, 1);
        bytes.push(9);
        r.push(&bytes);
        assert_eq!(all(&mut r).len(), 1);
    }

    #[test]
    fn chunk_size_zero_is_refused() {
        let mut r = reader();
        assert_eq!(r.set_chunk_size(0), Err(RtmpError::InvalidChunkSize(0)));
        assert_eq!(r.set_chunk_size(0x8000_0000), Err(RtmpError::InvalidChunkSize(0x8000_0000)));
        assert_eq!(r.set_chunk_size(4096), Ok(()));
    }

    #[test]
    fn chunk_stream_count_is_bounded() {
        let mut r = reader();
        let mut bytes = Vec::new();
        for csid in 0..=MAX_CHUNK_STREAMS as u32 {
            bytes.push(1);
            let id = csid + 64;
            let v = id - 64;
            bytes.extend([(v & 0xFF) as u8, (v >> 8) as u8]);
            bytes.extend([0, 0, 0, 0, 0, 0, 9, 1, 0, 0, 0]);
        }
        r.push(&bytes);
        let mut result = Ok(None);
        for _ in 0..=MAX_CHUNK_STREAMS {
            result = r.next_message();
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(RtmpError::TooManyChunkStreams { limit: MAX_CHUNK_STREAMS }));
    }
}
