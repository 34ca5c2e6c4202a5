//! One RTMP publishing connection as a sans-IO state machine: bytes in from the socket,
//! [`Output`]s out (bytes to write back, publish requests to decide, media to ingest).
//!
//! Flow of a publish (ffmpeg and OBS alike): handshake; `connect` (answered at once);
//! `releaseStream`, `FCPublish`, `createStream` (answered at once); `publish` on the created
//! stream, which surfaces as [`Output::PublishRequested`] and waits for the server's
//! [`RtmpSession::accept_publish`] or [`RtmpSession::reject_publish`]; then
//! `@setDataFrame`/`onMetaData`, audio and video messages; finally `FCUnpublish`,
//! `deleteStream` ([`Output::PublishFinished`]) and the socket closes.

use std::collections::VecDeque;

use bytes::Bytes;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::rml_amf0::Amf0Value;

use crate::amf0::Value;
use crate::chunk::{ChunkReader, RawMessage};
use crate::command::{self, Command};
use crate::config::RtmpConfig;
use crate::error::RtmpError;
use crate::writer::{self, Writer};

/// Input is processed in pieces of at most this size, so the engine never holds much more
/// than one piece beyond its limits however much the caller passes at once.
const INPUT_PIECE: usize = 64 * 1024;
/// Message streams a publisher may hold open at once (it needs one).
const MAX_STREAMS: u32 = 8;
/// Handshake version byte: "In C0, this field identifies the RTMP version requested by the
/// client. [...] The version defined by this specification is 3" (RTMP 5.2.2).
const RTMP_VERSION: u8 = 3;

// Message type ids (RTMP 5.4 and 7.1).
const SET_CHUNK_SIZE: u8 = 1;
const ABORT: u8 = 2;
const ACKNOWLEDGEMENT: u8 = 3;
const USER_CONTROL: u8 = 4;
const WINDOW_ACK_SIZE: u8 = 5;
const SET_PEER_BANDWIDTH: u8 = 6;
const AUDIO: u8 = 8;
const VIDEO: u8 = 9;
const AGGREGATE: u8 = 22;

/// What the session asks of the server, in order. Drain with [`RtmpSession::poll_output`]
/// until `None` after every call that takes input or a decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Bytes to write to the socket, in order, before anything produced later.
    Send(Bytes),
    /// The publisher wants to publish; answer with `accept_publish` or `reject_publish`.
    /// Media is only surfaced after acceptance.
    PublishRequested(PublishRequest),
    /// An FLV video tag body (frame type/codec byte first), as `media::demux::flv` reads it.
    Video { timestamp_ms: u32, data: Bytes },
    /// An FLV audio tag body (sound format byte first).
    Audio { timestamp_ms: u32, data: Bytes },
    /// Stream metadata (`@setDataFrame`/`onMetaData`) as strings, for logging.
    Metadata { fields: Vec<(String, String)> },
    /// The publisher stopped publishing (`FCUnpublish`, `deleteStream` or `closeStream`).
    PublishFinished,
}

/// A publish waiting for the server's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishRequest {
    /// Identifies the request to `accept_publish`/`reject_publish`.
    pub request_id: u32,
    /// The RTMP application (the channel group): `live` in `rtmp://host/live/cam1`.
    pub app: String,
    /// The stream name without its query (the channel): `cam1`.
    pub stream_key: String,
    /// The query of the stream name (`token=abc` in `cam1?token=abc`), or else of the app.
    pub query: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Publish {
    Idle,
    Pending { request_id: u32, stream_id: u32, stream_key: String },
    Live { stream_id: u32 },
    Rejected,
}

#[derive(Debug, Clone, PartialEq)]
struct Connection {
    app: String,
    app_query: Option<String>,
}

/// The RTMP engine for one TCP connection from a publisher.
///
/// Push/pull contract: feed every byte read from the socket to
/// [`handle_input`](Self::handle_input), then drain [`poll_output`](Self::poll_output) until
/// `None`; write each [`Output::Send`] in order. Answer each [`Output::PublishRequested`] with
/// [`accept_publish`](Self::accept_publish) or [`reject_publish`](Self::reject_publish) and
/// drain again (input that arrived after `publish` is parsed only once the decision is made).
/// An `Err` from `handle_input` means the connection must be closed; the
/// outputs still queued may be drained first (a play refusal queues an `onStatus` worth
/// writing before closing). The engine reads no clock and logs nothing.
pub struct RtmpSession {
    config: RtmpConfig,
    handshake: Option<Handshake>,
    handshake_started: bool,
    reader: ChunkReader,
    writer: Writer,
    outputs: VecDeque<Output>,
    connection: Option<Connection>,
    streams: Vec<u32>,
    next_stream_id: u32,
    publish: Publish,
    next_request_id: u32,
    bytes_received: u64,
    acknowledged: u64,
    peer_window: Option<u32>,
    failed: bool,
}

impl std::fmt::Debug for RtmpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtmpSession")
            .field("handshaking", &self.handshake.is_some())
            .field("connection", &self.connection)
            .field("publish", &self.publish)
            .field("buffered", &self.reader.buffered())
            .field("outputs", &self.outputs.len())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl RtmpSession {
    /// A session waiting for the client's handshake.
    pub fn new(config: RtmpConfig) -> Self {
        let mut config = config;
        // "all sizes greater than 16777215 (0xFFFFFF) are equivalent since no chunk is larger
        // than one message" (RTMP 5.4.1); below 128 only makes our chunks smaller.
        config.chunk_size = config.chunk_size.clamp(128, 0xFF_FFFF);
        Self {
            reader: ChunkReader::new(config.max_message_bytes, config.max_command_bytes),
            config,
            handshake: Some(Handshake::new(PeerType::Server)),
            handshake_started: false,
            writer: Writer::new(),
            outputs: VecDeque::new(),
            connection: None,
            streams: Vec::new(),
            next_stream_id: 1,
            publish: Publish::Idle,
            next_request_id: 0,
            bytes_received: 0,
            acknowledged: 0,
            peer_window: None,
            failed: false,
        }
    }

    /// Feeds bytes read from the socket. An error means the connection must be closed; the
    /// message says why.
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<(), RtmpError> {
        if self.failed {
            return Err(RtmpError::SessionFailed);
        }
        let result = bytes.chunks(INPUT_PIECE).try_for_each(|piece| self.process_piece(piece));
        if result.is_err() {
            self.failed = true;
        }
        self.flush();
        result
    }

    /// The next output, or `None` when there is nothing more to do until new input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Accepts the pending publish: sends `NetStream.Publish.Start`, after which media flows.
    /// Input buffered while the decision was pending is handled now, so drain the outputs
    /// afterwards; an error here, as from `handle_input`, means the connection must close.
    pub fn accept_publish(&mut self, request: PublishRequest) -> Result<(), RtmpError> {
        if self.failed {
            return Err(RtmpError::SessionFailed);
        }
        let Publish::Pending { request_id, stream_id, stream_key } = &self.publish else {
            return Err(RtmpError::UnknownRequest(request.request_id));
        };
        if *request_id != request.request_id {
            return Err(RtmpError::UnknownRequest(request.request_id));
        }
        let stream_id = *stream_id;
        let description = format!("{} is now published", writer::truncate(stream_key));
        self.writer.stream_begin(stream_id)?;
        self.writer.on_status(stream_id, "status", "NetStream.Publish.Start", &description)?;
        self.publish = Publish::Live { stream_id };
        self.resume()
    }

    /// Refuses the pending publish: sends `onStatus` level `error`, code
    /// `NetStream.Publish.Rejected`, with `reason` as description (ffmpeg prints it as
    /// "Server error: reason", OBS logs code and description). The server then closes the
    /// connection (input buffered meanwhile is handled, but media is never surfaced).
    pub fn reject_publish(
        &mut self,
        request: PublishRequest,
        reason: &str,
    ) -> Result<(), RtmpError> {
        if self.failed {
            return Err(RtmpError::SessionFailed);
        }
        let Publish::Pending { request_id, stream_id, .. } = &self.publish else {
            return Err(RtmpError::UnknownRequest(request.request_id));
        };
        if *request_id != request.request_id {
            return Err(RtmpError::UnknownRequest(request.request_id));
        }
        let stream_id = *stream_id;
        // OBS closes on "NetStream.Publish.Rejected" (not on BadName); ffmpeg fails on any
        // status whose level is "error".
        self.writer.on_status(stream_id, "error", "NetStream.Publish.Rejected", reason)?;
        self.publish = Publish::Rejected;
        self.resume()
    }

    fn process_piece(&mut self, piece: &[u8]) -> Result<(), RtmpError> {
        self.bytes_received += piece.len() as u64;
        if let Some(handshake) = self.handshake.as_mut() {
            if !self.handshake_started
                && let Some(&version) = piece.first()
            {
                self.handshake_started = true;
                if version != RTMP_VERSION {
                    return Err(RtmpError::Handshake(format!(
                        "client asked for version {version}, only plain rtmp (version 3) is \
                         supported"
                    )));
                }
            }
            match handshake.process_bytes(piece) {
                Err(e) => return Err(RtmpError::Handshake(e.to_string())),
                Ok(HandshakeProcessResult::InProgress { response_bytes }) => {
                    self.writer.raw(&response_bytes);
                }
                Ok(HandshakeProcessResult::Completed { response_bytes, remaining_bytes }) => {
                    self.writer.raw(&response_bytes);
                    self.handshake = None;
                    self.reader.push(&remaining_bytes);
                }
            }
        } else {
            self.reader.push(piece);
        }
        self.pump()?;
        if let Some(window) = self.peer_window
            && self.bytes_received - self.acknowledged >= u64::from(window)
        {
            // The sequence number is a 32-bit count of bytes received so far; it wraps.
            self.writer.acknowledgement(self.bytes_received as u32)?;
            self.acknowledged = self.bytes_received;
        }
        Ok(())
    }

    /// Parses and handles buffered messages. While a publish awaits the server's decision,
    /// input stays buffered unparsed (media a client sends straight after `publish` is kept,
    /// and how reads split the input cannot change the outcome); the decision resumes it.
    fn pump(&mut self) -> Result<(), RtmpError> {
        while !matches!(self.publish, Publish::Pending { .. }) {
            let Some(message) = self.reader.next_message()? else {
                break;
            };
            self.dispatch(message)?;
        }
        if self.reader.buffered() > self.config.max_buffered_bytes {
            return Err(RtmpError::BufferFull { limit: self.config.max_buffered_bytes });
        }
        Ok(())
    }

    /// Resumes parsing after a publish decision.
    fn resume(&mut self) -> Result<(), RtmpError> {
        let result = self.pump();
        if result.is_err() {
            self.failed = true;
        }
        self.flush();
        result
    }

    /// Moves encoded bytes into the output queue.
    fn flush(&mut self) {
        if let Some(bytes) = self.writer.take() {
            self.outputs.push_back(Output::Send(bytes));
        }
    }

    /// Queues an event after any bytes already encoded, keeping the two in order.
    fn emit(&mut self, output: Output) {
        self.flush();
        self.outputs.push_back(output);
    }

    fn dispatch(&mut self, message: RawMessage) -> Result<(), RtmpError> {
        match message.type_id {
            SET_CHUNK_SIZE => {
                let size = be_u32(&message.payload, "set chunk size")?;
                self.reader.set_chunk_size(size)
            }
            ABORT => {
                // "chunk stream ID (32 bits): This field holds the chunk stream ID, whose
                // current message is to be discarded" (RTMP 5.4.2).
                let csid = be_u32(&message.payload, "abort")?;
                self.reader.abort(csid);
                Ok(())
            }
            ACKNOWLEDGEMENT | SET_PEER_BANDWIDTH => Ok(()),
            WINDOW_ACK_SIZE => {
                let size = be_u32(&message.payload, "window acknowledgement size")?;
                self.peer_window = (size > 0).then_some(size);
                Ok(())
            }
            USER_CONTROL => self.on_user_control(&message.payload),
            AUDIO | VIDEO => {
                if self.is_live_on(message.stream_id) && !message.payload.is_empty() {
                    let timestamp_ms = message.timestamp;
                    let data = message.payload;
                    self.emit(if message.type_id == AUDIO {
                        Output::Audio { timestamp_ms, data }
                    } else {
                        Output::Video { timestamp_ms, data }
                    });
                }
                Ok(())
            }
            command::DATA_AMF0 | command::DATA_AMF3 => {
                let values = command::parse_data(message.type_id, &message.payload)?;
                self.on_data(message.stream_id, &values);
                Ok(())
            }
            command::COMMAND_AMF0 | command::COMMAND_AMF3 => {
                let cmd = command::parse_command(message.type_id, &message.payload)?;
                self.on_command(message.stream_id, cmd)
            }
            AGGREGATE => self.on_aggregate(message),
            // Shared objects and anything unknown: not part of publishing, ignored.
            _ => Ok(()),
        }
    }

    fn is_live_on(&self, stream_id: u32) -> bool {
        self.publish == Publish::Live { stream_id }
    }

    fn on_user_control(&mut self, payload: &[u8]) -> Result<(), RtmpError> {
        let malformed = |detail: &str| RtmpError::MalformedControl {
            kind: "user control",
            detail: detail.to_owned(),
        };
        let event = payload
            .get(..2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| malformed("shorter than its 2-byte event type"))?;
        // "PingRequest (=6): The server sends this event to test whether the client is
        // reachable. Event data is a 4-byte timestamp" (RTMP 7.1.7). Answer a client that
        // pings us; every other event is about playback and ignored.
        if event == 6 {
            let timestamp = payload
                .get(2..6)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| malformed("ping request without its timestamp"))?;
            self.writer.ping_response(timestamp)?;
        }
        Ok(())
    }

    fn on_data(&mut self, stream_id: u32, values: &[Value]) {
        // Metadata belongs on the publishing stream; some encoders send it on the connection
        // (stream 0) instead, which is accepted too.
        let live = match self.publish {
            Publish::Live { stream_id: live } => stream_id == live || stream_id == 0,
            _ => false,
        };
        if !live {
            return;
        }
        if let Some(fields) = command::metadata_fields(values) {
            self.emit(Output::Metadata { fields });
        }
    }

    /// "An aggregate message is a single message that contains a series of RTMP
    /// sub-messages", each an FLV-style tag "Header | Message Data | Back Pointer"; "the
    /// timestamp of the first sub-message [...] is the same as the timestamp of the
    /// aggregate message" and later ones are offset from it (RTMP 7.1.6).
    fn on_aggregate(&mut self, message: RawMessage) -> Result<(), RtmpError> {
        if !self.is_live_on(message.stream_id) {
            return Ok(());
        }
        let malformed = |detail: String| RtmpError::MalformedControl { kind: "aggregate", detail };
        let data = &message.payload;
        let mut pos = 0usize;
        let mut first_timestamp = None;
        while pos < data.len() {
            let header = data
                .get(pos..pos + 11)
                .ok_or_else(|| malformed(format!("sub-message header truncated at byte {pos}")))?;
            let tag_type = header[0];
            let size = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
            let timestamp = u32::from_be_bytes([header[7], header[4], header[5], header[6]]);
            let body_start = pos + 11;
            let body_end = body_start + size;
            if body_end + 4 > data.len() {
                return Err(malformed(format!(
                    "sub-message of {size} bytes at byte {pos} overruns the message"
                )));
            }
            let base = *first_timestamp.get_or_insert(timestamp);
            let timestamp_ms = message.timestamp.wrapping_add(timestamp.wrapping_sub(base));
            let body = message.payload.slice(body_start..body_end);
            match tag_type {
                AUDIO if !body.is_empty() => self.emit(Output::Audio { timestamp_ms, data: body }),
                VIDEO if !body.is_empty() => self.emit(Output::Video { timestamp_ms, data: body }),
                command::DATA_AMF0 => {
                    let values = command::parse_data(tag_type, &body)?;
                    self.on_data(message.stream_id, &values);
                }
                _ => {}
            }
            pos = body_end + 4;
        }
        Ok(())
    }

    fn on_command(&mut self, stream_id: u32, cmd: Command) -> Result<(), RtmpError> {
        if cmd.name == "connect" {
            return self.on_connect(&cmd);
        }
        if self.connection.is_none() {
            return Err(RtmpError::NotConnected(writer::truncate(&cmd.name).to_owned()));
        }
        let tid = cmd.transaction_id;
        match cmd.name.as_str() {
            // FMLE-era commands that ffmpeg and OBS send before createStream. ffmpeg ignores
            // results and errors for them; answer `_result` as Adobe servers do.
            "releaseStream" | "_checkbw" => self.result(stream_id, tid, Amf0Value::Undefined),
            "FCPublish" => {
                self.result(stream_id, tid, Amf0Value::Undefined)?;
                // Encoders built on librtmp and FMLE expect this notification.
                let name = cmd.args.first().and_then(Value::as_str).unwrap_or_default();
                let status = writer::status_object(
                    "status",
                    "NetStream.Publish.Start",
                    &format!("FCPublish to stream {name}"),
                );
                self.writer.command(stream_id, "onFCPublish", 0.0, Amf0Value::Null, vec![status])
            }
            "FCUnpublish" => {
                self.finish_publish();
                let name = cmd.args.first().and_then(Value::as_str).unwrap_or_default();
                let status = writer::status_object(
                    "status",
                    "NetStream.Unpublish.Success",
                    &format!("{name} is now unpublished"),
                );
                self.writer.command(
                    stream_id,
                    "onFCUnpublish",
                    0.0,
                    Amf0Value::Null,
                    vec![status],
                )?;
                self.result(stream_id, tid, Amf0Value::Undefined)
            }
            "getStreamLength" => self.result(stream_id, tid, Amf0Value::Number(0.0)),
            "createStream" => self.on_create_stream(stream_id, tid),
            "publish" => self.on_publish(stream_id, &cmd),
            "play" | "play2" => {
                let requested = cmd.args.first().and_then(Value::as_str).unwrap_or_default();
                let stream_key = writer::truncate(requested).to_owned();
                self.writer.on_status(
                    stream_id,
                    "error",
                    "NetStream.Play.Failed",
                    "this server only accepts publishing over rtmp; play over hls, dash or webrtc",
                )?;
                Err(RtmpError::PlayNotSupported { stream_key })
            }
            "deleteStream" => {
                // "deleteStream": Command Object null, then "Stream ID: The ID of the stream
                // that is destroyed on the server" (RTMP 7.2.2.3).
                if let Some(id) = cmd.args.first().and_then(Value::as_number) {
                    let id = id as u32;
                    if self.is_live_on(id) {
                        self.finish_publish();
                    }
                    self.streams.retain(|&s| s != id);
                }
                Ok(())
            }
            "closeStream" => {
                if self.is_live_on(stream_id) {
                    self.finish_publish();
                }
                Ok(())
            }
            // Replies to calls we never make, playback controls and vendor extensions: left
            // unanswered, as nginx-rtmp and SRS do.
            _ => Ok(()),
        }
    }

    /// `_result(tid, null, value)`, unless the caller wants no answer (transaction id 0).
    fn result(&mut self, stream_id: u32, tid: f64, value: Amf0Value) -> Result<(), RtmpError> {
        if tid == 0.0 {
            return Ok(());
        }
        self.writer.command(stream_id, "_result", tid, Amf0Value::Null, vec![value])
    }

    fn on_connect(&mut self, cmd: &Command) -> Result<(), RtmpError> {
        if self.connection.is_some() {
            return Err(RtmpError::AlreadyConnected);
        }
        // "app: The Server application name the client is connected to" (RTMP 7.2.1.1).
        let raw_app =
            cmd.object.property("app").and_then(Value::as_str).ok_or(RtmpError::MissingApp)?;
        let (app, app_query) = command::split_query(raw_app.trim_end_matches('/'));
        self.connection = Some(Connection { app, app_query });

        self.writer.window_ack_size(self.config.window_ack_size)?;
        self.writer.peer_bandwidth(self.config.peer_bandwidth)?;
        self.writer.set_chunk_size(self.config.chunk_size)?;
        let mut properties = std::collections::HashMap::new();
        properties.insert("fmsVer".to_owned(), Amf0Value::Utf8String("FMS/3,0,1,123".into()));
        properties.insert("capabilities".to_owned(), Amf0Value::Number(31.0));
        let mut information = writer::status_object(
            "status",
            "NetConnection.Connect.Success",
            "Connection succeeded.",
        );
        if let Amf0Value::Object(info) = &mut information {
            // We speak AMF0 only.
            info.insert("objectEncoding".to_owned(), Amf0Value::Number(0.0));
        }
        self.writer.command(
            0,
            "_result",
            cmd.transaction_id,
            Amf0Value::Object(properties),
            vec![information],
        )
    }

    fn on_create_stream(&mut self, stream_id: u32, tid: f64) -> Result<(), RtmpError> {
        if self.streams.len() >= MAX_STREAMS as usize {
            return Err(RtmpError::TooManyStreams { limit: MAX_STREAMS });
        }
        let id = self.next_stream_id;
        self.next_stream_id = self.next_stream_id.wrapping_add(1).max(1);
        self.streams.push(id);
        // The reply carries the new stream id even if the client sent transaction id 0.
        self.writer.command(
            stream_id,
            "_result",
            tid,
            Amf0Value::Null,
            vec![Amf0Value::Number(f64::from(id))],
        )
    }

    fn on_publish(&mut self, stream_id: u32, cmd: &Command) -> Result<(), RtmpError> {
        if !self.streams.contains(&stream_id) {
            return Err(RtmpError::UnknownStream(stream_id));
        }
        match self.publish {
            Publish::Pending { stream_id: busy, .. } | Publish::Live { stream_id: busy } => {
                return Err(RtmpError::AlreadyPublishing(busy));
            }
            Publish::Idle | Publish::Rejected => {}
        }
        // "Publishing Name: Name with which the stream is published" (RTMP 7.2.2.6).
        let raw_name =
            cmd.args.first().and_then(Value::as_str).ok_or(RtmpError::MissingStreamName)?;
        let (stream_key, key_query) = command::split_query(raw_name);
        let (app, app_query) = match &self.connection {
            Some(c) => (c.app.clone(), c.app_query.clone()),
            None => return Err(RtmpError::NotConnected("publish".into())),
        };
        let request = PublishRequest {
            request_id: self.next_request_id,
            app,
            stream_key: stream_key.clone(),
            query: key_query.or(app_query),
        };
        self.next_request_id = self.next_request_id.wrapping_add(1);
        self.publish = Publish::Pending { request_id: request.request_id, stream_id, stream_key };
        self.emit(Output::PublishRequested(request));
        Ok(())
    }

    /// Ends a live publish, once. (A pending publish cannot be ended this way: input is held
    /// until the decision; the `Pending` arm only keeps the match total.)
    fn finish_publish(&mut self) {
        match self.publish {
            Publish::Live { .. } => {
                self.publish = Publish::Idle;
                self.emit(Output::PublishFinished);
            }
            Publish::Pending { .. } => self.publish = Publish::Idle,
            Publish::Idle | Publish::Rejected => {}
        }
    }
}

/// A 4-byte big-endian control message body.
fn be_u32(payload: &[u8], kind: &'static str) -> Result<u32, RtmpError> {
    payload.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok_or_else(|| {
        RtmpError::MalformedControl { kind, detail: format!("{} bytes, expected 4", payload.len()) }
    })
}
