//! Malformed input, generated deterministically (xorshift): random bytes, a valid handshake
//! followed by garbage, truncated chunks and mutated recordings of a real publish. The engine
//! must answer with an error (or wait for more bytes), never panic, and never surface media
//! or a publish request out of garbage.

mod common;

use bytes::Bytes;
use common::{Peer, XorShift};
use rml_rtmp::messages::RtmpMessage;
use rml_rtmp::rml_amf0::Amf0Value;
use sluice_rtmp::{Output, RtmpConfig, RtmpError, RtmpSession};

/// Feeds `input` in pieces chosen by `rng`, accepting any publish request; returns the first
/// error and the non-`Send` outputs.
fn feed(input: &[u8], rng: &mut XorShift, config: &RtmpConfig) -> (Option<RtmpError>, Vec<Output>) {
    let mut session = RtmpSession::new(config.clone());
    let mut events = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let n = 1 + rng.below(rest.len().min(3000));
        let (piece, tail) = rest.split_at(n);
        rest = tail;
        let result = session.handle_input(piece);
        while let Some(out) = session.poll_output() {
            match out {
                Output::Send(_) => {}
                Output::PublishRequested(r) => {
                    events.push(Output::PublishRequested(r.clone()));
                    if let Err(e) = session.accept_publish(r) {
                        return (Some(e), events);
                    }
                }
                other => events.push(other),
            }
        }
        if let Err(e) = result {
            // Once failed, the session stays failed.
            assert_eq!(session.handle_input(b"more"), Err(RtmpError::SessionFailed));
            return (Some(e), events);
        }
    }
    (None, events)
}

/// C0+C1 and C2 from a real client handshake; the server does not check C2 against its S1,
/// so the same bytes complete the handshake with any fresh session.
fn handshake_bytes() -> Vec<u8> {
    Peer::handshaken(RtmpConfig::default()).sent
}

#[test]
fn random_bytes_instead_of_a_handshake() {
    let mut rng = XorShift::new(0x5EED_0001);
    let config = RtmpConfig::default();
    for i in 0..1000 {
        let len = 1 + rng.below(8000);
        let mut input = rng.bytes(len);
        if i % 2 == 0 {
            // Any version byte but 3 is refused at once, with the version in the message.
            if input[0] == 3 {
                input[0] = 6;
            }
            let (err, events) = feed(&input, &mut rng, &config);
            let err = err.unwrap_or_else(|| panic!("input {i} accepted"));
            assert!(err.to_string().contains(&format!("version {}", input[0])), "{err}");
            assert!(events.is_empty());
        } else {
            // Version 3 then noise: the (lenient) handshake may complete; whatever follows
            // must not become a publish or media.
            input[0] = 3;
            let (_, events) = feed(&input, &mut rng, &config);
            assert!(events.is_empty(), "input {i}: {events:?}");
        }
    }
}

#[test]
fn valid_handshake_followed_by_garbage() {
    let mut rng = XorShift::new(0x5EED_0002);
    let config = RtmpConfig { max_message_bytes: 1 << 20, ..RtmpConfig::default() };
    let prefix = handshake_bytes();
    let mut errors = 0;
    for i in 0..1500 {
        let mut input = prefix.clone();
        let len = 1 + rng.below(4000);
        let garbage = rng.bytes(len);
        let compressed_first = garbage[0] >> 6 != 0;
        input.extend_from_slice(&garbage);
        let (err, events) = feed(&input, &mut rng, &config);
        assert!(events.is_empty(), "input {i}: {events:?}");
        if compressed_first {
            // The first chunk after the handshake cannot refer to a previous header.
            assert!(matches!(err, Some(RtmpError::NoPreviousHeader { .. })), "input {i}: {err:?}");
        }
        errors += usize::from(err.is_some());
    }
    assert!(errors > 1200, "most garbage is refused outright ({errors}/1500)");
}

#[test]
fn truncated_chunks_wait_and_a_chunk_cut_short_is_an_error() {
    let mut peer = Peer::handshaken(RtmpConfig::default());
    peer.connect("live").unwrap();
    let prefix = peer.sent.clone();
    let mut connect_again = Peer::handshaken(RtmpConfig::default());
    let command = connect_again.encode(
        RtmpMessage::Amf0Command {
            command_name: "createStream".into(),
            transaction_id: 2.0,
            command_object: Amf0Value::Null,
            additional_arguments: vec![],
        },
        0,
        0,
    );
    // A chunk cut anywhere simply waits for the rest: no error, no answer yet.
    for cut in 1..command.len() {
        let mut session = RtmpSession::new(RtmpConfig::default());
        session.handle_input(&prefix).unwrap();
        while session.poll_output().is_some() {}
        assert_eq!(session.handle_input(&command[..cut]), Ok(()), "cut at {cut}");
        assert!(session.poll_output().is_none(), "cut at {cut}");
    }
    // A message cut short (its first 128-byte chunk arrived, the rest never does) and
    // followed by a new full header on the same chunk stream is refused.
    let video =
        connect_again.encode(RtmpMessage::VideoData { data: Bytes::from(vec![0x27u8; 300]) }, 1, 0);
    let mut input = prefix.clone();
    input.extend_from_slice(&video[..12 + 128]);
    let mut other = Peer::handshaken(RtmpConfig::default());
    // Another serializer's first video message: a type 0 header on chunk stream 4 again.
    let next = other.encode(RtmpMessage::VideoData { data: Bytes::from(vec![0x27u8; 10]) }, 1, 0);
    let mut session = RtmpSession::new(RtmpConfig::default());
    session.handle_input(&input).unwrap();
    let err = session.handle_input(&next);
    assert_eq!(err, Err(RtmpError::InterruptedMessage { csid: 4 }));
}

#[test]
fn mutated_recordings_of_a_publish_never_panic() {
    // A real-looking publish: chunk size change, connect, FMLE commands, publish, metadata,
    // multi-chunk video, audio, FCUnpublish.
    let mut peer = Peer::handshaken(RtmpConfig::default());
    let request = peer.publish_request("live", "cam1");
    peer.session.accept_publish(request).unwrap();
    peer.drain();
    let meta = RtmpMessage::Amf0Data {
        values: vec![
            Amf0Value::Utf8String("@setDataFrame".into()),
            Amf0Value::Utf8String("onMetaData".into()),
            Amf0Value::Object(
                [("width".to_owned(), Amf0Value::Number(320.0))].into_iter().collect(),
            ),
        ],
    };
    peer.send(meta, 1, 0).unwrap();
    peer.video(0, &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]).unwrap();
    peer.audio(0, &[0xAF, 0, 0x12, 0x10]).unwrap();
    for t in 0..5u32 {
        peer.video(t * 33, &vec![0x27u8; 6000 + t as usize]).unwrap();
        peer.audio(t * 23, &[0xAF, 1, 9, 9, 9]).unwrap();
    }
    peer.command(
        0,
        "FCUnpublish",
        9.0,
        Amf0Value::Null,
        vec![Amf0Value::Utf8String("cam1".into())],
    )
    .unwrap();
    let recording = peer.sent.clone();
    let handshake_len = 1 + 1536 * 2;

    let config = RtmpConfig::default();
    let (clean_err, clean_events) = feed(&recording, &mut XorShift::new(7), &config);
    assert_eq!(clean_err, None);
    assert_eq!(clean_events.last(), Some(&Output::PublishFinished));

    let mut rng = XorShift::new(0x5EED_0003);
    let mut errors = 0;
    let cases = 2000;
    for _ in 0..cases {
        let mut input = recording.clone();
        match rng.below(4) {
            0 => {
                // Flip a few bytes after the handshake.
                for _ in 0..1 + rng.below(8) {
                    let at = handshake_len + rng.below(input.len() - handshake_len);
                    input[at] ^= 1 + rng.below(255) as u8;
                }
            }
            1 => {
                // Cut out a range.
                let at = handshake_len + rng.below(input.len() - handshake_len);
                let len = 1 + rng.below(200);
                input.drain(at..(at + len).min(input.len()));
            }
            2 => {
                // Insert noise.
                let at = handshake_len + rng.below(input.len() - handshake_len);
                let len = 1 + rng.below(64);
                let noise = rng.bytes(len);
                input.splice(at..at, noise);
            }
            _ => {
                // Overwrite a stretch with a copy of another stretch (plausible headers in
                // the wrong place).
                let len = 1 + rng.below(64);
                let from = handshake_len + rng.below(input.len() - handshake_len - len);
                let to = handshake_len + rng.below(input.len() - handshake_len - len);
                let copy = input[from..from + len].to_vec();
                input[to..to + len].copy_from_slice(&copy);
            }
        }
        let (err, events) = feed(&input, &mut rng, &config);
        errors += usize::from(err.is_some());
        // Whatever survived is bounded by what was sent: never more media than the
        // recording holds.
        let media = events
            .iter()
            .filter(|e| matches!(e, Output::Video { .. } | Output::Audio { .. }))
            .count();
        assert!(media <= 12 + 2, "{media} media outputs from a 12-message recording");
    }
    assert!(errors > cases / 4, "mutations are detected ({errors}/{cases})");
}
