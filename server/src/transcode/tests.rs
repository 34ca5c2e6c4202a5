//! AAC → Opus on real captures: transcode, decode the Opus back with libopus, and check length,
//! pitch, channels, bitrate and timestamps; plus damaged and jumping input.

use audiopus::coder::Decoder;
use audiopus::{Channels, SampleRate};
use bytes::Bytes;
use sluice_media::codec::aac::AudioSpecificConfig;
use sluice_media::demux::flv::{Event, FlvDemuxer, FlvFileReader};
use sluice_media::{AccessUnit, CodecConfig, MediaKind};

use super::aac_to_opus::FRAME_48K;
use super::{AacToOpus, OpusPacket, TranscodeError};

const DEMO_CLIP: &[u8] = include_bytes!("../../../testdata/demo-clip.flv");
const STEREO_44K1: &[u8] = include_bytes!("../../../testdata/ffmpeg-aac-44k1-stereo-440-880.flv");
const MONO_32K: &[u8] = include_bytes!("../../../testdata/ffmpeg-aac-32k-mono-440.flv");

/// The AAC track of an FLV file: its config and access units.
fn aac_track(flv: &'static [u8]) -> (AudioSpecificConfig, Vec<AccessUnit>) {
    let mut demux = FlvDemuxer::new();
    let (mut asc, mut id, mut frames) = (None, None, Vec::new());
    for tag in FlvFileReader::new(Bytes::from_static(flv)).expect("an FLV file") {
        demux.push(tag.expect("an intact tag"));
        while let Some(event) = demux.poll_event() {
            match event {
                Event::Track(t) if t.kind == MediaKind::Audio => {
                    if let CodecConfig::Aac(c) = t.codec {
                        asc = Some(c);
                        id = Some(t.id);
                    }
                }
                Event::Frame(au) if Some(au.track) == id => frames.push(au),
                _ => {}
            }
        }
    }
    (asc.expect("an AAC track"), frames)
}

fn drain(t: &mut AacToOpus, out: &mut Vec<OpusPacket>) {
    while let Some(p) = t.poll_output() {
        out.push(p);
    }
}

/// Transcodes a whole track, flushing at the end.
fn transcode(asc: &AudioSpecificConfig, frames: &[AccessUnit]) -> (AacToOpus, Vec<OpusPacket>) {
    let mut t = AacToOpus::new(asc).expect("a supported AAC config");
    let mut out = Vec::new();
    for au in frames {
        t.push(au).expect("a clean frame decodes");
        drain(&mut t, &mut out);
    }
    t.flush();
    drain(&mut t, &mut out);
    (t, out)
}

/// Decodes Opus packets with libopus into per-channel PCM, dropping the pre-skip so sample 0 is
/// the first packet's `pts_48k`.
fn decode(packets: &[OpusPacket], channels: usize, pre_skip: u16) -> Vec<Vec<f32>> {
    let layout = if channels == 2 { Channels::Stereo } else { Channels::Mono };
    let mut dec = Decoder::new(SampleRate::Hz48000, layout).expect("an Opus decoder");
    let mut pcm = vec![Vec::new(); channels];
    let mut buf = vec![0f32; 5760 * channels];
    for p in packets {
        let n = dec.decode_float(Some(&p.data[..]), &mut buf[..], false).expect("a valid packet");
        assert_eq!(n, FRAME_48K, "20 ms per packet");
        for frame in buf[..n * channels].chunks(channels) {
            for (c, s) in frame.iter().enumerate() {
                pcm[c].push(*s);
            }
        }
    }
    for ch in &mut pcm {
        ch.drain(..usize::from(pre_skip).min(ch.len()));
    }
    pcm
}

/// Power of `freq` in `x` (Goertzel), normalised by length.
fn tone_power(x: &[f32], freq: f64, rate: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / rate;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s0 = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (x.len() as f64).powi(2)
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

fn db(ratio: f64) -> f64 {
    10.0 * ratio.log10()
}

/// Kbit/s of a packet run (20 ms each).
fn kbps(packets: &[OpusPacket]) -> f64 {
    let bytes: usize = packets.iter().map(|p| p.data.len()).sum();
    bytes as f64 * 8.0 / (packets.len() as f64 * 0.02) / 1000.0
}

/// Packets stamped 960 apart from the first input pts rescaled, one discontinuity flag at the start.
fn assert_continuous(packets: &[OpusPacket], first_pts_48k: i64) {
    for (i, p) in packets.iter().enumerate() {
        assert_eq!(p.pts_48k, first_pts_48k + (i * FRAME_48K) as i64, "packet {i}");
        assert_eq!(p.duration_48k, FRAME_48K as u32);
        assert_eq!(p.discontinuity, i == 0, "packet {i}");
    }
}

/// The decoded duration matches the AAC input within one Opus frame (plus the pre-skip that
/// `decode` removed).
fn assert_duration(pcm_len: usize, aac_frames: usize, in_rate: u32, pre_skip: u16) {
    let input_48k = aac_frames as f64 * 1024.0 * 48_000.0 / f64::from(in_rate);
    let out = (pcm_len + usize::from(pre_skip)) as f64;
    assert!(
        out >= input_48k && out < input_48k + FRAME_48K as f64 + 1.0,
        "{out} samples out for {input_48k} in"
    );
}

#[test]
fn demo_clip_becomes_stereo_opus_with_its_440_hz_tone() {
    let (asc, frames) = aac_track(DEMO_CLIP);
    assert_eq!((asc.sample_rate, asc.channels), (48_000, 2));
    let (t, packets) = transcode(&asc, &frames);
    assert_eq!((t.channels(), t.pre_skip()), (2, 312));
    assert_eq!(t.stats().frames_dropped, 0);
    assert_continuous(&packets, frames[0].pts * 48_000 / 48_000);
    // TOC byte (RFC 6716 §3.1): "s: … 0: mono, 1: stereo", config ≥ 12 is CELT-using fullband.
    assert!(packets.iter().all(|p| p.data[0] & 0x04 != 0), "stereo packets");
    let pcm = decode(&packets, 2, t.pre_skip());
    assert_duration(pcm[0].len(), frames.len(), 48_000, t.pre_skip());
    for (c, ch) in pcm.iter().enumerate() {
        let mid = &ch[24_000..168_000];
        assert!(rms(mid) > 0.01, "channel {c} carries signal: rms {}", rms(mid));
        let ratio = db(tone_power(mid, 440.0, 48_000.0) / tone_power(mid, 1000.0, 48_000.0));
        assert!(ratio > 40.0, "channel {c}: 440 Hz only {ratio:.1} dB above 1 kHz");
    }
    let rate = kbps(&packets);
    assert!((96.0..=160.0).contains(&rate), "{rate:.1} kbit/s");
}

#[test]
fn opus_output_matches_the_aac_decode_sample_for_sample() {
    // The Opus rendition, once its pre-skip is dropped, must line up with the AAC decode itself
    // (no time shift) and be close to it (a 128 kbit/s encode of a tone).
    let (asc, frames) = aac_track(DEMO_CLIP);
    let (t, packets) = transcode(&asc, &frames);
    let pcm = decode(&packets, 2, t.pre_skip());
    let reference = aac_reference(&asc, &frames);
    let range = 24_000..168_000;
    for c in 0..2 {
        let err: Vec<f32> = range.clone().map(|i| pcm[c][i] - reference[c][i]).collect();
        let snr = db((rms(&reference[c][range.clone()]) / rms(&err)).powi(2));
        assert!(snr > 30.0, "channel {c}: SNR {snr:.1} dB against the AAC decode");
        // One sample of misalignment would cost a 440 Hz tone far less than this; check the
        // neighbours do worse, so the alignment is exact.
        for shift in [1usize, 2] {
            let err: Vec<f32> =
                range.clone().map(|i| pcm[c][i + shift] - reference[c][i]).collect();
            let shifted = db((rms(&reference[c][range.clone()]) / rms(&err)).powi(2));
            assert!(shifted < snr, "channel {c}: shift {shift} gives {shifted:.1} ≥ {snr:.1} dB");
        }
    }
}

/// The AAC track decoded straight with symphonia, per channel.
fn aac_reference(asc: &AudioSpecificConfig, frames: &[AccessUnit]) -> Vec<Vec<f32>> {
    use symphonia::core::audio::{Audio, GenericAudioBufferRef};
    use symphonia::core::codecs::audio::well_known::CODEC_ID_AAC;
    use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoderOptions};
    use symphonia::core::packet::PacketRef;
    use symphonia::core::units::{Duration, Timestamp};
    use symphonia::default::codecs::AacDecoder;
    let mut params = AudioCodecParameters::new();
    params.for_codec(CODEC_ID_AAC).with_extra_data(asc.raw.to_vec().into_boxed_slice());
    let mut dec = AacDecoder::try_new(&params, &AudioDecoderOptions::default()).expect("AAC-LC");
    let mut pcm = vec![Vec::new(); usize::from(asc.channels)];
    for au in frames {
        let packet = PacketRef::new(0, Timestamp::new(0), Duration::new(1024), &au.data);
        use symphonia::core::codecs::audio::AudioDecoder as _;
        let Ok(GenericAudioBufferRef::F32(buf)) = dec.decode_ref(&packet) else {
            panic!("the capture decodes");
        };
        for (c, ch) in pcm.iter_mut().enumerate() {
            ch.extend_from_slice(buf.plane(c).expect("a plane per channel"));
        }
    }
    pcm
}

#[test]
fn stereo_44k1_capture_is_resampled_with_left_and_right_kept_apart() {
    let (asc, frames) = aac_track(STEREO_44K1);
    assert_eq!((asc.sample_rate, asc.channels), (44_100, 2));
    let (t, packets) = transcode(&asc, &frames);
    assert_continuous(&packets, frames[0].pts * 48_000 / 44_100);
    let pcm = decode(&packets, 2, t.pre_skip());
    assert_duration(pcm[0].len(), frames.len(), 44_100, t.pre_skip());
    let (left, right) = (&pcm[0][24_000..120_000], &pcm[1][24_000..120_000]);
    // ffmpeg's sine filter: amplitude 1/8 → RMS 0.088.
    for (name, ch) in [("left", left), ("right", right)] {
        assert!((0.07..0.11).contains(&rms(ch)), "{name} rms {}", rms(ch));
    }
    let l = db(tone_power(left, 440.0, 48_000.0) / tone_power(left, 880.0, 48_000.0));
    let r = db(tone_power(right, 880.0, 48_000.0) / tone_power(right, 440.0, 48_000.0));
    assert!(l > 40.0 && r > 40.0, "left 440 Hz by {l:.1} dB, right 880 Hz by {r:.1} dB");
    // A wrong resampling ratio would move the tone: 440 · 48/44.1 = 479 Hz.
    let off = db(tone_power(left, 440.0, 48_000.0) / tone_power(left, 479.0, 48_000.0));
    assert!(off > 30.0, "tone at its pitch by {off:.1} dB");
    let rate = kbps(&packets);
    assert!((96.0..=160.0).contains(&rate), "{rate:.1} kbit/s");
}

#[test]
fn mono_32k_capture_becomes_mono_opus_at_96_kbit() {
    let (asc, frames) = aac_track(MONO_32K);
    assert_eq!((asc.sample_rate, asc.channels), (32_000, 1));
    let (t, packets) = transcode(&asc, &frames);
    assert_eq!((t.channels(), t.bitrate()), (1, 96_000));
    assert!(packets.iter().all(|p| p.data[0] & 0x04 == 0), "mono packets");
    assert_continuous(&packets, frames[0].pts * 48_000 / 32_000);
    let pcm = decode(&packets, 1, t.pre_skip());
    assert_duration(pcm[0].len(), frames.len(), 32_000, t.pre_skip());
    let mid = &pcm[0][9_600..38_400];
    let ratio = db(tone_power(mid, 440.0, 48_000.0) / tone_power(mid, 1000.0, 48_000.0));
    assert!(ratio > 40.0, "440 Hz by {ratio:.1} dB");
    let rate = kbps(&packets);
    assert!((64.0..=120.0).contains(&rate), "{rate:.1} kbit/s");
}

/// The demo clip's frames with pts shifted so the track starts at `start`.
fn retimed(frames: &[AccessUnit], start: i64) -> Vec<AccessUnit> {
    let base = frames[0].pts;
    frames
        .iter()
        .map(|f| AccessUnit { pts: f.pts - base + start, dts: f.dts - base + start, ..f.clone() })
        .collect()
}

#[test]
fn a_one_frame_gap_is_filled_with_silence_and_keeps_the_timeline() {
    let (asc, frames) = aac_track(DEMO_CLIP);
    let frames = retimed(&frames, 90_000);
    let mut lost = frames.clone();
    lost.remove(50);
    let (t, packets) = transcode(&asc, &lost);
    assert_eq!((t.stats().gaps_filled, t.stats().discontinuities), (1, 0));
    assert_continuous(&packets, 90_000);
    let (_, whole) = transcode(&asc, &frames);
    assert_eq!(packets.len(), whole.len(), "same duration as without the loss");
}

#[test]
fn a_jump_starts_a_new_timeline_at_the_new_timestamp() {
    let (asc, frames) = aac_track(DEMO_CLIP);
    let mut input = retimed(&frames[..60], 0);
    // Ten frames missing, then a publisher restart from 0 (a backwards jump).
    input.extend(retimed(&frames[70..120], 70 * 1024));
    input.extend(retimed(&frames[120..], 0));
    let mut t = AacToOpus::new(&asc).expect("AAC-LC stereo");
    let mut packets = Vec::new();
    for au in &input {
        t.push(au).expect("clean frames");
        drain(&mut t, &mut packets);
    }
    t.flush();
    drain(&mut t, &mut packets);
    assert_eq!(t.stats().discontinuities, 2);
    let starts: Vec<usize> =
        packets.iter().enumerate().filter(|(_, p)| p.discontinuity).map(|(i, _)| i).collect();
    assert_eq!(starts.len(), 3, "the start and two jumps");
    assert_eq!(packets[starts[1]].pts_48k, 70 * 1024);
    assert_eq!(packets[starts[2]].pts_48k, 0);
    // Within each run: continuous, and the forward jump's padded tail ends before the new run.
    for w in packets.windows(2) {
        if !w[1].discontinuity {
            assert_eq!(w[1].pts_48k, w[0].pts_48k + FRAME_48K as i64);
        }
    }
    let before = &packets[starts[1] - 1];
    assert!(before.pts_48k + i64::from(before.duration_48k) <= packets[starts[1]].pts_48k);
    // Every run ends with its audio: 60 frames → 61440 samples → 64 packets.
    assert_eq!(starts[1], 64);
}

#[test]
fn timestamp_jitter_below_an_eighth_frame_is_ignored() {
    let (asc, frames) = aac_track(STEREO_44K1);
    let jittered: Vec<AccessUnit> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| AccessUnit { pts: f.pts + [0, 90, -90, 40][i % 4], ..f.clone() })
        .collect();
    let (t, packets) = transcode(&asc, &jittered);
    assert_eq!((t.stats().gaps_filled, t.stats().discontinuities), (0, 0));
    assert_continuous(&packets, to_48k_floor(jittered[0].pts, 44_100));
}

fn to_48k_floor(pts: i64, rate: i64) -> i64 {
    (pts * 48_000).div_euclid(rate)
}

/// xorshift64*: deterministic bytes for damage tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, n: usize) -> Bytes {
        (0..n).map(|_| self.next() as u8).collect::<Vec<u8>>().into()
    }
}

#[test]
fn garbage_frames_are_dropped_without_panic_and_time_keeps_flowing() {
    let (asc, frames) = aac_track(DEMO_CLIP);
    let mut t = AacToOpus::new(&asc).expect("AAC-LC stereo");
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut packets = Vec::new();
    let mut pts = 0i64;
    let mut dropped = 0;
    for i in 0..3_000 {
        let data = match i % 5 {
            // Real frames with flipped bytes decode partly and exercise deeper paths.
            0 | 1 => {
                let mut v = frames[i % frames.len()].data.to_vec();
                for _ in 0..1 + rng.next() % 4 {
                    let at = (rng.next() as usize) % v.len().max(1);
                    if let Some(b) = v.get_mut(at) {
                        *b ^= 1 << (rng.next() % 8);
                    }
                }
                Bytes::from(v)
            }
            2 => Bytes::new(),
            _ => {
                let n = (rng.next() % 800) as usize;
                rng.bytes(n)
            }
        };
        let au = AccessUnit { track: 2, dts: pts, pts, keyframe: true, data };
        if let Err(e) = t.push(&au) {
            assert!(matches!(e, TranscodeError::MalformedFrame(_)), "{e}");
            dropped += 1;
        }
        drain(&mut t, &mut packets);
        pts += 1024;
    }
    t.flush();
    drain(&mut t, &mut packets);
    assert!(dropped > 1_000, "{dropped} dropped");
    assert_eq!(t.stats().frames_dropped, dropped);
    // Every frame's time is still there (dropped ones as silence).
    assert_continuous(&packets, 0);
    assert_eq!(packets.len(), (3_000usize * 1024).div_ceil(FRAME_48K));
    // What came out is valid Opus.
    decode(&packets, 2, t.pre_skip());
}

#[test]
fn extreme_timestamps_do_not_overflow() {
    let (asc, frames) = aac_track(DEMO_CLIP);
    let mut t = AacToOpus::new(&asc).expect("AAC-LC stereo");
    let mut n = 0;
    for (i, pts) in
        [i64::MAX, i64::MIN, i64::MAX - 1, 0, i64::MIN + 5, -1024, i64::MAX].into_iter().enumerate()
    {
        for k in 0..3 {
            let pts = pts.saturating_add(k * 1024);
            let au = AccessUnit { pts, dts: pts, ..frames[i * 3 + k as usize].clone() };
            t.push(&au).expect("clean frame");
            while t.poll_output().is_some() {
                n += 1;
            }
        }
    }
    t.flush();
    while t.poll_output().is_some() {
        n += 1;
    }
    assert!(n > 0);
}

#[test]
fn random_decoder_configs_are_rejected_or_work_never_panic() {
    let mut rng = Rng(0x0ddb_a11c_0ffe_e000);
    let mut built = 0;
    for i in 0..2_000 {
        let len = 1 + (rng.next() % 8) as usize;
        let raw = rng.bytes(len);
        // Half through media's parser (what ingest does), half as arbitrary field values.
        let asc = if i % 2 == 0 {
            match AudioSpecificConfig::parse(raw) {
                Ok(asc) => asc,
                Err(_) => continue,
            }
        } else {
            AudioSpecificConfig {
                raw,
                object_type: rng.next() as u8,
                sample_rate: (rng.next() % 200_000) as u32,
                channels: (rng.next() % 4) as u8,
            }
        };
        if let Ok(mut t) = AacToOpus::new(&asc) {
            built += 1;
            let data = rng.bytes(64);
            let au = AccessUnit { track: 2, dts: 0, pts: 0, keyframe: true, data };
            let _ = t.push(&au);
            t.flush();
            while t.poll_output().is_some() {}
        }
    }
    assert!(built > 0, "some random configs are plain AAC-LC");
}

#[test]
fn unsupported_sources_get_a_clear_error() {
    // HE-AAC (SBR, object type 5) at 24 kHz core, stereo.
    let he_aac = AudioSpecificConfig::parse(Bytes::from_static(&[0x2b, 0x12, 0x08, 0x80]))
        .expect("an HE-AAC config");
    let err = AacToOpus::new(&he_aac).expect_err("symphonia decodes AAC-LC only");
    assert!(matches!(err, TranscodeError::UnsupportedAac(_)), "{err}");
    // 5.1 AAC-LC at 48 kHz: channelConfiguration 6.
    let surround = AudioSpecificConfig::parse(Bytes::from_static(&[0x11, 0xb0])).expect("an ASC");
    assert!(matches!(AacToOpus::new(&surround), Err(TranscodeError::UnsupportedChannels(6))));
}

#[test]
fn the_transcoder_can_move_to_another_thread() {
    fn is_send<T: Send>() {}
    is_send::<AacToOpus>();
}

/// CPU cost of the bridge, for the "CPU per AAC→Opus transcode" figure: prints thread
/// CPU time per second of audio. No timing assertion (shared machine, debug or release).
#[test]
fn cpu_per_second_of_audio_is_reported() {
    for (name, flv) in [("48 kHz stereo", DEMO_CLIP), ("44.1 kHz stereo", STEREO_44K1)] {
        let (asc, frames) = aac_track(flv);
        let loops = 3;
        let start = thread_cpu_ns();
        let wall = std::time::Instant::now();
        for _ in 0..loops {
            let (_, packets) = transcode(&asc, &frames);
            assert!(!packets.is_empty());
        }
        let cpu = thread_cpu_ns().zip(start).map(|(b, a)| b - a);
        let seconds = loops as f64 * frames.len() as f64 * 1024.0 / f64::from(asc.sample_rate);
        let per_s = |ns: u64| ns as f64 / 1e6 / seconds;
        let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
        match cpu {
            Some(ns) => println!(
                "aac→opus {name} ({profile} build): {:.1} ms CPU per s of audio ({:.2}% of a core)",
                per_s(ns),
                per_s(ns) / 10.0
            ),
            None => println!(
                "aac→opus {name} ({profile} build): {:.1} ms wall per s of audio",
                wall.elapsed().as_secs_f64() * 1e3 / seconds
            ),
        }
    }
}

/// This thread's CPU time (Linux `schedstat`: "time spent on the cpu" in ns).
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}
