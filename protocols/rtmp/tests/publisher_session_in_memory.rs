//! The publish flow driven in memory by an independent client implementation (rml_rtmp's
//! client handshake and chunk serializer): what the engine answers to each command and what
//! it hands the server.

mod common;

use std::collections::HashMap;

use bytes::Bytes;
use common::Peer;
use rml_rtmp::messages::{RtmpMessage, UserControlEventType};
use rml_rtmp::rml_amf0::Amf0Value;
use sluice_rtmp::{Output, PublishRequest, RtmpConfig, RtmpError};

fn s(v: &str) -> Amf0Value {
    Amf0Value::Utf8String(v.to_owned())
}

#[test]
fn answers_the_fmle_command_sequence_ffmpeg_and_obs_send() {
    let mut peer = Peer::handshaken(RtmpConfig::default());
    let request = peer.publish_request("live", "cam1");
    assert_eq!(
        request,
        PublishRequest {
            request_id: 0,
            app: "live".into(),
            stream_key: "cam1".into(),
            query: None,
        }
    );

    // connect: window ack size, peer bandwidth, chunk size, then _result(1) with success.
    assert!(matches!(
        peer.replies[0].message,
        RtmpMessage::WindowAcknowledgement { size: 2_500_000 }
    ));
    assert!(matches!(
        peer.replies[1].message,
        RtmpMessage::SetPeerBandwidth { size: 2_500_000, .. }
    ));
    assert!(matches!(peer.replies[2].message, RtmpMessage::SetChunkSize { size: 4096 }));
    let connect = &peer.replies[3];
    assert_eq!(connect.command().map(|(n, t, _)| (n, t)), Some(("_result", 1.0)));
    assert_eq!(connect.status_code().as_deref(), Some("NetConnection.Connect.Success"));

    // releaseStream(2), FCPublish(3), createStream(4) get _result with their transaction ids.
    let results: Vec<f64> = peer
        .replies_named("_result")
        .iter()
        .filter_map(|r| r.command().map(|(_, t, _)| t))
        .collect();
    assert_eq!(results, vec![1.0, 2.0, 3.0, 4.0]);
    let create = peer.replies_named("_result")[3];
    assert_eq!(create.command().map(|(_, _, a)| a.to_vec()), Some(vec![Amf0Value::Number(1.0)]));

    // FCPublish is also answered with onFCPublish (NetStream.Publish.Start).
    let fc = peer.replies_named("onFCPublish");
    assert_eq!(fc.len(), 1);
    assert_eq!(fc[0].status_code().as_deref(), Some("NetStream.Publish.Start"));

    // Nothing about the publish itself is sent before the server decides.
    assert!(peer.replies_named("onStatus").is_empty());

    peer.session.accept_publish(request).unwrap();
    peer.drain();
    let begin = peer.replies.iter().any(|r| {
        matches!(
            r.message,
            RtmpMessage::UserControl {
                event_type: UserControlEventType::StreamBegin,
                stream_id: Some(1),
                ..
            }
        )
    });
    assert!(begin, "stream begin for stream 1");
    let status = peer.replies_named("onStatus");
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].stream_id, 1);
    assert_eq!(status[0].status_code().as_deref(), Some("NetStream.Publish.Start"));
    assert_eq!(status[0].status_field("level").as_deref(), Some("status"));

    // _checkbw and getStreamLength are answered; unknown commands are not.
    let before = peer.replies.len();
    peer.command(0, "_checkbw", 6.0, Amf0Value::Null, vec![]).unwrap();
    peer.command(0, "getStreamLength", 7.0, Amf0Value::Null, vec![s("cam1")]).unwrap();
    peer.command(0, "someVendorCall", 8.0, Amf0Value::Null, vec![]).unwrap();
    let later: Vec<(String, f64)> = peer.replies[before..]
        .iter()
        .filter_map(|r| r.command().map(|(n, t, _)| (n.to_owned(), t)))
        .collect();
    assert_eq!(later, vec![("_result".into(), 6.0), ("_result".into(), 7.0)]);
}

#[test]
fn media_flows_only_after_accept_and_ends_with_fcunpublish() {
    let mut peer = Peer::handshaken(RtmpConfig::default());
    let request = peer.publish_request("live", "cam1");
    // ffmpeg and OBS wait for Publish.Start; a client that does not has its media held (not
    // parsed) until the server decides, then delivered in order.
    let avc_header = [0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f];
    peer.video(0, &avc_header).unwrap();
    assert_eq!(peer.events.len(), 1, "only the publish request: {:?}", peer.events);

    peer.session.accept_publish(request).unwrap();
    peer.drain();
    assert_eq!(peer.events.len(), 2, "held media delivered on accept: {:?}", peer.events);
    peer.audio(0, &[0xAF, 0x00, 0x12, 0x10]).unwrap();
    let big: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    peer.video(33, &big).unwrap();
    peer.audio(1023, &[0xAF, 0x01, 1, 2]).unwrap();
    // Video on a stream that is not publishing is dropped.
    let other = peer.encode(RtmpMessage::VideoData { data: Bytes::from_static(&[0x27, 1]) }, 7, 40);
    peer.feed(&other).unwrap();

    let media: Vec<(String, u32, usize)> = peer.events[1..]
        .iter()
        .map(|e| match e {
            Output::Video { timestamp_ms, data } => ("video".into(), *timestamp_ms, data.len()),
            Output::Audio { timestamp_ms, data } => ("audio".into(), *timestamp_ms, data.len()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        media,
        vec![
            ("video".into(), 0, avc_header.len()),
            ("audio".into(), 0, 4),
            ("video".into(), 33, 10_000),
            ("audio".into(), 1023, 4),
        ]
    );
    match &peer.events[3] {
        Output::Video { data, .. } => assert_eq!(&data[..], &big[..]),
        other => panic!("unexpected {other:?}"),
    }

    peer.command(0, "FCUnpublish", 9.0, Amf0Value::Null, vec![s("cam1")]).unwrap();
    peer.command(0, "deleteStream", 0.0, Amf0Value::Null, vec![Amf0Value::Number(1.0)]).unwrap();
    let finished = peer.events.iter().filter(|e| **e == Output::PublishFinished).count();
    assert_eq!(finished, 1, "finished exactly once");
    assert_eq!(peer.replies_named("onFCUnpublish").len(), 1);
    // After unpublishing, media is no longer surfaced.
    let count = peer.events.len();
    peer.video(100, &[0x27, 1, 0, 0, 0]).unwrap();
    assert_eq!(peer.events.len(), count);
}

#[test]
fn delete_stream_alone_finishes_the_publish() {
    let mut peer = Peer::handshaken(RtmpConfig::default());
    peer.live("live", "cam1");
    peer.command(0, "deleteStream", 0.0, Amf0Value::Null, vec![Amf0Value::Number(1.0)]).unwrap();
    assert_eq!(peer.events.last(), Some(&Output::PublishFinished));
}

#[test]
fn metadata_is_surfaced_as_strings_in_wire_order() {
    let mut peer = Peer::handshaken(RtmpConfig::default());
    peer.live("live", "cam1");
    // @setDataFrame("onMetaData", ecma array) written by hand to keep property order.
    let mut body = Vec::new();
    for v in ["@setDataFrame", "onMetaData"] {
        body.push(2);
        body.extend((v.len() as u16).to_be_bytes());
        body.extend(v.as_bytes());
    }
    body.extend([8, 0, 0, 0, 4]);
    let mut prop = |k: &str, v: &[u8]| {
        body.extend((k.len() as u16).to_be_bytes());
        body.extend(k.as_bytes());
        body.extend(v);
    };
    let mut num = vec![0];
    num.extend(320.0f64.to_be_bytes());
    prop("width", &num);
    let mut fps = vec![0];
    fps.extend(29.97f64.to_be_bytes());
    prop("framerate", &fps);
    let mut enc = vec![2, 0, 12];
    enc.extend(b"obs-output 1");
    prop("encoder", &enc);
    prop("stereo", &[1, 1]);
    body.extend([0, 0, 9]);
    peer.send(RtmpMessage::Unknown { type_id: 18, data: Bytes::from(body) }, 1, 0).unwrap();

    let fields = match peer.events.last() {
        Some(Output::Metadata { fields }) => fields.clone(),
        other => panic!("expected metadata, got {other:?}"),
    };
    let expected: Vec<(String, String)> =
        [("width", "320"), ("framerate", "29.97"), ("encoder", "obs-output 1"), ("stereo", "true")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
    assert_eq!(fields, expected);
}

#[test]
fn query_string_on_the_stream_name_is_split_off() {
    let mut peer = Peer::handshaken(RtmpConfig::default());
    let request = peer.publish_request("live", "cam1?token=abc");
    assert_eq!(request.app, "live");
    assert_eq!(request.stream_key, "cam1");
    assert_eq!(request.query.as_deref(), Some("token=abc"));

    // A query on the app (rtmp://host/live?token=x) is used when the name has none.
    let mut peer = Peer::handshaken(RtmpConfig::default());
    let request = peer.publish_request("live?token=xyz/", "cam2");
    assert_eq!(
        (request.app.as_str(), request.stream_key.as_str(), request.query.as_deref()),
        ("live", "cam2", Some("token=xyz"))
    );
}

#[test]
fn rejected_publish_gets_an_error_status_with_the_reason() {
    let mut peer = Peer::handshaken(RtmpConfig::default());
    let request = peer.publish_request("live", "cam1");
    peer.session.reject_publish(request.clone(), "channel live/cam1 is already live").unwrap();
    peer.drain();
    let status = peer.replies_named("onStatus");
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].stream_id, 1);
    assert_eq!(status[0].status_field("level").as_deref(), Some("error"));
    assert_eq!(status[0].status_code().as_deref(), Some("NetStream.Publish.Rejected"));
    assert_eq!(
        status[0].status_field("description").as_deref(),
        Some("channel live/cam1 is already live")
    );
    // The decision cannot be taken twice, and media after a rejection goes nowhere.
    assert_eq!(peer.session.accept_publish(request), Err(RtmpError::UnknownRequest(0)));
    peer.video(0, &[0x17, 0, 0, 0, 0]).unwrap();
    assert_eq!(peer.events.len(), 1);
}

#[test]
fn accepting_an_unknown_request_is_an_error_that_keeps_the_session() {
    let mut peer = Peer::handshaken(RtmpConfig::default());
    let request = peer.publish_request("live", "cam1");
    let wrong = PublishRequest { request_id: 41, ..request.clone() };
    assert_eq!(peer.session.accept_publish(wrong), Err(RtmpError::UnknownRequest(41)));
    peer.session.accept_publish(request).unwrap();
}

#[test]
fn play_is_refused_with_an_error_status_and_a_clear_error() {
    let mut peer = Peer::handshaken(RtmpConfig::default());
    peer.connect("live").unwrap();
    peer.command(0, "createStream", 2.0, Amf0Value::Null, vec![]).unwrap();
    let err = peer
        .command(1, "play", 0.0, Amf0Value::Null, vec![s("cam1"), Amf0Value::Number(-2.0)])
        .unwrap_err();
    assert_eq!(err, RtmpError::PlayNotSupported { stream_key: "cam1".into() });
    assert!(err.to_string().contains("only accepts publishing"), "{err}");
    let status = peer.replies_named("onStatus");
    assert_eq!(status.len(), 1, "the refusal is queued before the error");
    assert_eq!(status[0].status_code().as_deref(), Some("NetStream.Play.Failed"));
    assert_eq!(status[0].status_field("level").as_deref(), Some("error"));
    // The session stays failed.
    assert_eq!(peer.feed(&[0]), Err(RtmpError::SessionFailed));
}

#[test]
fn protocol_misuse_is_a_readable_error() {
    let mut peer = Peer::handshaken(RtmpConfig::default());
    let err = peer.command(0, "createStream", 2.0, Amf0Value::Null, vec![]).unwrap_err();
    assert_eq!(err.to_string(), "createStream received before connect");

    let mut peer = Peer::handshaken(RtmpConfig::default());
    peer.connect("live").unwrap();
    let err =
        peer.command(5, "publish", 0.0, Amf0Value::Null, vec![s("cam1"), s("live")]).unwrap_err();
    assert_eq!(err.to_string(), "publish on stream 5, which was never created");

    let mut peer = Peer::handshaken(RtmpConfig::default());
    peer.live("live", "cam1");
    let err =
        peer.command(1, "publish", 0.0, Amf0Value::Null, vec![s("cam2"), s("live")]).unwrap_err();
    assert_eq!(err, RtmpError::AlreadyPublishing(1));

    let mut peer = Peer::handshaken(RtmpConfig::default());
    let mut props = HashMap::new();
    props.insert("tcUrl".to_owned(), s("rtmp://x/live"));
    let err = peer.command(0, "connect", 1.0, Amf0Value::Object(props), vec![]).unwrap_err();
    assert_eq!(err.to_string(), "connect has no app name");
}

#[test]
fn messages_over_the_size_limit_are_refused_with_a_clear_error() {
    let config = RtmpConfig { max_message_bytes: 100_000, ..RtmpConfig::default() };
    let mut peer = Peer::handshaken(config);
    peer.live("live", "cam1");
    let frame = vec![0x27u8; 100_001];
    let err = peer.video(0, &frame).unwrap_err();
    assert_eq!(err.to_string(), "media message of 100001 bytes exceeds the 100000-byte limit");
}

#[test]
fn buffered_bytes_are_capped() {
    let config = RtmpConfig { max_buffered_bytes: 50_000, ..RtmpConfig::default() };
    let mut peer = Peer::handshaken(config);
    peer.live("live", "cam1");
    // Send all but the last byte of a 200 kB frame: nothing completes, the buffer fills.
    let chunks =
        peer.encode(RtmpMessage::VideoData { data: Bytes::from(vec![0x17u8; 200_000]) }, 1, 0);
    let err = peer.feed(&chunks[..chunks.len() - 1]).unwrap_err();
    assert_eq!(err, RtmpError::BufferFull { limit: 50_000 });
}

#[test]
fn acknowledges_received_bytes_per_the_publishers_window() {
    let mut peer = Peer::handshaken(RtmpConfig::default());
    peer.live("live", "cam1");
    peer.send(RtmpMessage::WindowAcknowledgement { size: 5_000 }, 0, 0).unwrap();
    peer.video(0, &vec![0x17u8; 6_000]).unwrap();
    let acks: Vec<u32> = peer
        .replies
        .iter()
        .filter_map(|r| match r.message {
            RtmpMessage::Acknowledgement { sequence_number } => Some(sequence_number),
            _ => None,
        })
        .collect();
    assert_eq!(acks, vec![peer.sent.len() as u32], "one ack carrying the total byte count");
}

#[test]
fn ping_requests_are_answered() {
    let mut peer = Peer::handshaken(RtmpConfig::default());
    peer.connect("live").unwrap();
    let ping = RtmpMessage::UserControl {
        event_type: UserControlEventType::PingRequest,
        stream_id: None,
        buffer_length: None,
        timestamp: Some(rml_rtmp::time::RtmpTimestamp::new(4242)),
    };
    peer.send(ping, 0, 0).unwrap();
    let pong = peer.replies.last().map(|r| r.message.clone());
    assert_eq!(
        pong,
        Some(RtmpMessage::UserControl {
            event_type: UserControlEventType::PingResponse,
            stream_id: None,
            buffer_length: None,
            timestamp: Some(rml_rtmp::time::RtmpTimestamp::new(4242)),
        })
    );
}

#[test]
fn aggregate_messages_are_unpacked_with_offset_timestamps() {
    let mut peer = Peer::handshaken(RtmpConfig::default());
    peer.live("live", "cam1");
    let mut body = Vec::new();
    let mut tag = |tag_type: u8, ts: u32, data: &[u8]| {
        body.push(tag_type);
        body.extend(&(data.len() as u32).to_be_bytes()[1..]);
        body.extend(&ts.to_be_bytes()[1..]);
        body.push((ts >> 24) as u8);
        body.extend([0, 0, 0]);
        body.extend(data);
        body.extend((data.len() as u32 + 11).to_be_bytes());
    };
    tag(9, 5000, &[0x17, 1, 0, 0, 0, 9]);
    tag(8, 5010, &[0xAF, 1, 7]);
    tag(9, 5033, &[0x27, 1, 0, 0, 0, 8]);
    peer.send(RtmpMessage::Unknown { type_id: 22, data: Bytes::from(body) }, 1, 100).unwrap();
    let got: Vec<(bool, u32, u8)> = peer.events[1..]
        .iter()
        .map(|e| match e {
            Output::Video { timestamp_ms, data } => (true, *timestamp_ms, data[0]),
            Output::Audio { timestamp_ms, data } => (false, *timestamp_ms, data[0]),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(got, vec![(true, 100, 0x17), (false, 110, 0xAF), (true, 133, 0x27)]);

    let truncated = Bytes::from_static(&[9, 0, 0, 50, 0, 0, 0, 0, 0, 0, 0, 1]);
    let err = peer.send(RtmpMessage::Unknown { type_id: 22, data: truncated }, 1, 200).unwrap_err();
    assert!(err.to_string().starts_with("malformed aggregate message"), "{err}");
}

#[test]
fn deeply_nested_amf_is_refused_not_a_stack_overflow() {
    let mut peer = Peer::handshaken(RtmpConfig::default());
    let mut body = vec![2, 0, 7];
    body.extend(b"connect");
    body.push(0);
    body.extend(1.0f64.to_be_bytes());
    for _ in 0..15_000 {
        body.extend([3, 0, 1, b'a']);
    }
    let err =
        peer.send(RtmpMessage::Unknown { type_id: 20, data: Bytes::from(body) }, 0, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed amf0 in command message: objects nested deeper than 32 levels"
    );
}

#[test]
fn a_recorded_session_split_at_every_offset_gives_the_same_outputs() {
    // Record a whole publish with small chunks, then replay it cut in two at every offset.
    let mut peer = Peer::handshaken(RtmpConfig::default());
    let request = peer.publish_request("live", "cam1");
    peer.session.accept_publish(request).unwrap();
    peer.drain();
    peer.video(0, &[0x17, 0, 0, 0, 0, 1, 2, 3]).unwrap();
    peer.video(33, &vec![0x27u8; 9000]).unwrap();
    peer.audio(21, &[0xAF, 1, 5, 6]).unwrap();
    peer.command(0, "FCUnpublish", 9.0, Amf0Value::Null, vec![s("cam1")]).unwrap();
    let recording = peer.sent.clone();
    let reference = peer.events.clone();

    let run = |pieces: &[&[u8]]| {
        let mut session = sluice_rtmp::RtmpSession::new(RtmpConfig::default());
        let mut events = Vec::new();
        for piece in pieces {
            session.handle_input(piece).expect("valid recording");
            while let Some(out) = session.poll_output() {
                match out {
                    Output::Send(_) => {}
                    Output::PublishRequested(r) => {
                        events.push(Output::PublishRequested(r.clone()));
                        session.accept_publish(r).expect("accept");
                    }
                    other => events.push(other),
                }
            }
        }
        events
    };
    for cut in (0..=recording.len()).step_by(7) {
        let (a, b) = recording.split_at(cut);
        assert_eq!(run(&[a, b]), reference, "cut at {cut}");
    }
}
