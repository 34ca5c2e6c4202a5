//! Test peers for the RTMP engine: an in-memory publisher built from `rml_rtmp`'s client-side
//! handshake and chunk serializer (an independent implementation of the wire format), and a
//! deterministic xorshift generator.
#![allow(dead_code)]

use std::collections::HashMap;

use bytes::Bytes;
use rml_rtmp::chunk_io::{ChunkDeserializer, ChunkSerializer};
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::messages::RtmpMessage;
use rml_rtmp::rml_amf0::Amf0Value;
use rml_rtmp::time::RtmpTimestamp;
use sluice_rtmp::{Output, PublishRequest, RtmpConfig, RtmpError, RtmpSession};

/// xorshift64*: deterministic pseudo-random numbers for generated inputs.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// A message the engine sent back, decoded.
#[derive(Debug, Clone)]
pub struct Reply {
    pub stream_id: u32,
    pub message: RtmpMessage,
}

impl Reply {
    /// `(name, transaction id, arguments)` if this is a command.
    pub fn command(&self) -> Option<(&str, f64, &[Amf0Value])> {
        match &self.message {
            RtmpMessage::Amf0Command {
                command_name, transaction_id, additional_arguments, ..
            } => Some((command_name, *transaction_id, additional_arguments)),
            _ => None,
        }
    }

    /// The `code` of a status object argument, if any.
    pub fn status_code(&self) -> Option<String> {
        let (_, _, args) = self.command()?;
        args.iter().find_map(|a| match a {
            Amf0Value::Object(props) => match props.get("code") {
                Some(Amf0Value::Utf8String(code)) => Some(code.clone()),
                _ => None,
            },
            _ => None,
        })
    }

    pub fn status_field(&self, field: &str) -> Option<String> {
        let (_, _, args) = self.command()?;
        args.iter().find_map(|a| match a {
            Amf0Value::Object(props) => match props.get(field) {
                Some(Amf0Value::Utf8String(v)) => Some(v.clone()),
                _ => None,
            },
            _ => None,
        })
    }
}

/// An in-memory publisher talking to an [`RtmpSession`].
pub struct Peer {
    pub session: RtmpSession,
    serializer: ChunkSerializer,
    deserializer: ChunkDeserializer,
    /// Every byte fed to the session, in order (a recording of the connection).
    pub sent: Vec<u8>,
    /// Decoded messages the session sent back.
    pub replies: Vec<Reply>,
    /// Non-`Send` outputs, in order.
    pub events: Vec<Output>,
}

impl Peer {
    /// A session that completed the handshake with a real (rml_rtmp) client handshake.
    pub fn handshaken(config: RtmpConfig) -> Self {
        let mut session = RtmpSession::new(config);
        let mut client = Handshake::new(PeerType::Client);
        let c0c1 = client.generate_outbound_p0_and_p1().expect("c0c1");
        session.handle_input(&c0c1).expect("server accepts c0c1");
        let mut s0s1s2 = Vec::new();
        while let Some(out) = session.poll_output() {
            match out {
                Output::Send(b) => s0s1s2.extend_from_slice(&b),
                other => panic!("unexpected output during handshake: {other:?}"),
            }
        }
        assert_eq!(s0s1s2.len(), 1 + 1536 * 2, "s0+s1+s2");
        let c2 = match client.process_bytes(&s0s1s2).expect("client accepts s0s1s2") {
            HandshakeProcessResult::Completed { response_bytes, .. } => response_bytes,
            HandshakeProcessResult::InProgress { .. } => panic!("client handshake incomplete"),
        };
        session.handle_input(&c2).expect("server accepts c2");
        assert!(session.poll_output().is_none());
        let mut sent = c0c1;
        sent.extend_from_slice(&c2);
        Self {
            session,
            serializer: ChunkSerializer::new(),
            deserializer: ChunkDeserializer::new(),
            sent,
            replies: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Feeds raw bytes and collects what comes out.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), RtmpError> {
        self.sent.extend_from_slice(bytes);
        let result = self.session.handle_input(bytes);
        self.drain();
        result
    }

    /// Collects queued outputs: decodes sent bytes into replies, keeps the rest as events.
    pub fn drain(&mut self) {
        while let Some(out) = self.session.poll_output() {
            match out {
                Output::Send(bytes) => self.decode_replies(&bytes),
                other => self.events.push(other),
            }
        }
    }

    fn decode_replies(&mut self, bytes: &[u8]) {
        let mut input: &[u8] = bytes;
        while let Some(payload) =
            self.deserializer.get_next_message(input).expect("engine output parses as rtmp chunks")
        {
            input = &[];
            let message = payload.to_rtmp_message().expect("engine output parses as rtmp");
            if let RtmpMessage::SetChunkSize { size } = message {
                self.deserializer.set_max_chunk_size(size as usize).expect("valid chunk size");
            }
            self.replies.push(Reply { stream_id: payload.message_stream_id, message });
        }
    }

    /// Encodes one message as chunks (without sending it).
    pub fn encode(&mut self, message: RtmpMessage, stream_id: u32, timestamp: u32) -> Vec<u8> {
        let payload = message
            .into_message_payload(RtmpTimestamp::new(timestamp), stream_id)
            .expect("payload");
        self.serializer.serialize(&payload, false, false).expect("chunks").bytes
    }

    pub fn send(
        &mut self,
        message: RtmpMessage,
        stream_id: u32,
        timestamp: u32,
    ) -> Result<(), RtmpError> {
        let bytes = self.encode(message, stream_id, timestamp);
        self.feed(&bytes)
    }

    /// Switches our outgoing chunk size (and tells the engine), as ffmpeg and OBS do.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), RtmpError> {
        let packet =
            self.serializer.set_max_chunk_size(size, RtmpTimestamp::new(0)).expect("chunk size");
        self.feed(&packet.bytes)
    }

    pub fn command(
        &mut self,
        stream_id: u32,
        name: &str,
        transaction_id: f64,
        command_object: Amf0Value,
        args: Vec<Amf0Value>,
    ) -> Result<(), RtmpError> {
        let message = RtmpMessage::Amf0Command {
            command_name: name.to_owned(),
            transaction_id,
            command_object,
            additional_arguments: args,
        };
        self.send(message, stream_id, 0)
    }

    pub fn connect(&mut self, app: &str) -> Result<(), RtmpError> {
        let mut props = HashMap::new();
        props.insert("app".to_owned(), Amf0Value::Utf8String(app.to_owned()));
        props.insert("type".to_owned(), Amf0Value::Utf8String("nonprivate".into()));
        props.insert(
            "flashVer".to_owned(),
            Amf0Value::Utf8String("FMLE/3.0 (compatible; test)".into()),
        );
        props.insert("tcUrl".to_owned(), Amf0Value::Utf8String(format!("rtmp://127.0.0.1/{app}")));
        self.command(0, "connect", 1.0, Amf0Value::Object(props), vec![])
    }

    /// The FMLE/ffmpeg sequence up to `publish` (tids 1..=4); returns the pending request.
    pub fn publish_request(&mut self, app: &str, name: &str) -> PublishRequest {
        self.set_chunk_size(4096).expect("set chunk size");
        self.connect(app).expect("connect");
        let key = Amf0Value::Utf8String(name.to_owned());
        self.command(0, "releaseStream", 2.0, Amf0Value::Null, vec![key.clone()])
            .expect("releaseStream");
        self.command(0, "FCPublish", 3.0, Amf0Value::Null, vec![key.clone()]).expect("FCPublish");
        self.command(0, "createStream", 4.0, Amf0Value::Null, vec![]).expect("createStream");
        self.command(
            1,
            "publish",
            5.0,
            Amf0Value::Null,
            vec![key, Amf0Value::Utf8String("live".into())],
        )
        .expect("publish");
        match self.events.last() {
            Some(Output::PublishRequested(request)) => request.clone(),
            other => panic!("expected a publish request, got {other:?}"),
        }
    }

    /// Publishes and accepts: media flows afterwards.
    pub fn live(&mut self, app: &str, name: &str) {
        let request = self.publish_request(app, name);
        self.session.accept_publish(request).expect("accept");
        self.drain();
    }

    pub fn video(&mut self, timestamp: u32, data: &[u8]) -> Result<(), RtmpError> {
        let data = Bytes::copy_from_slice(data);
        self.send(RtmpMessage::VideoData { data }, 1, timestamp)
    }

    pub fn audio(&mut self, timestamp: u32, data: &[u8]) -> Result<(), RtmpError> {
        let data = Bytes::copy_from_slice(data);
        self.send(RtmpMessage::AudioData { data }, 1, timestamp)
    }

    /// The replies that are commands named `name`.
    pub fn replies_named(&self, name: &str) -> Vec<&Reply> {
        self.replies.iter().filter(|r| r.command().is_some_and(|(n, _, _)| n == name)).collect()
    }
}

pub mod tcp;
