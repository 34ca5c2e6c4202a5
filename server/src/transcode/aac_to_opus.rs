//! AAC access units in, 20 ms Opus packets at 48 kHz out: the bridge that gives WHEP viewers the
//! sound of RTMP and SRT sources.
//!
//! Push/pull contract: [`AacToOpus::push`] takes one raw AAC frame (no ADTS header) with its
//! timestamp in the AAC sample-rate timescale (the track's timescale); after each push,
//! [`AacToOpus::poll_output`] yields the Opus packets it completed (zero, one or two: a 1024-sample
//! AAC frame holds 21.3 ms at 48 kHz, 23.2 ms at 44.1 kHz). [`AacToOpus::flush`] ends the stream
//! and pads the last partial frame with silence.
//!
//! Quality: stereo sources are encoded as stereo at 128 kbit/s, mono sources as mono at
//! 96 kbit/s (mono Opus packets are valid in a WebRTC `opus/48000/2` stream; the decoder plays
//! them on both speakers), constrained VBR, `OPUS_APPLICATION_AUDIO` (music and speech, fullband).
//!
//! Timing: packet `pts_48k` is the 48 kHz instant of the first input sample the packet encodes:
//! the first input pts rescaled to 48 kHz plus the samples emitted since. libopus delays its
//! output by its look-ahead ([`AacToOpus::pre_skip`], 312 samples = 6.5 ms for this
//! application): the decoded samples of a packet stamped `t` belong at `t − pre_skip`, which is
//! the Ogg/MP4 "pre-skip" convention. A packetizer that wants lip sync subtracts it. Latency added
//! by the bridge on top of that: the 20 ms framing plus < 1 ms of resampler look-ahead.
//!
//! Timeline: input timestamps are followed by sample count, so jitter up to 1/8 frame is ignored.
//! A forward gap of up to one AAC frame (a lost frame; at high rates up to 20 ms) is filled
//! with silence so audio keeps its place against video. A larger jump, or any jump backwards
//! beyond the jitter, ends the current timeline (the partial frame is padded and sent, the
//! encoder and decoder start over) and starts a new one at the new timestamp; its first packet
//! carries `discontinuity`. Because a forward reset needs a jump of more than 960 samples at
//! 48 kHz, the padded last packet never overlaps the new timeline's first.
//!
//! Bad input: a frame the AAC decoder rejects is dropped (counted) and replaced by one frame of
//! silence; non-finite samples become silence. Nothing here panics on input.

use std::collections::VecDeque;
use std::fmt;

use audiopus::coder::Encoder;
use audiopus::{Application, Bitrate, Channels, SampleRate};
use bytes::Bytes;
use sluice_media::AccessUnit;
use sluice_media::codec::aac::AudioSpecificConfig;
use symphonia::core::audio::{Audio, GenericAudioBufferRef};
use symphonia::core::codecs::audio::well_known::CODEC_ID_AAC;
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::packet::PacketRef;
use symphonia::core::units::{Duration, Timestamp};
use symphonia::default::codecs::AacDecoder;

use super::TranscodeError;
use super::resample::{OUTPUT_RATE, Resampler};

/// Samples per channel in one Opus packet: 20 ms at 48 kHz.
pub const FRAME_48K: usize = 960;
/// Target bitrate for stereo sources.
pub const STEREO_BITRATE: i32 = 128_000;
/// Target bitrate for mono sources.
pub const MONO_BITRATE: i32 = 96_000;
/// RFC 6716 §3.2.1: a frame is at most 1275 bytes; one frame per packet here.
const MAX_PACKET: usize = 1275;
/// Packets kept for a caller that does not drain; the oldest go first beyond this (5 s).
const MAX_QUEUED: usize = 250;
/// Samples AAC-LC frames hold; symphonia decodes only this frame length.
const AAC_FRAME: i64 = 1024;

/// One encoded Opus packet (one 20 ms frame, RFC 7587 payload as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusPacket {
    /// 48 kHz instant of the first input sample encoded in this packet (see the module docs for
    /// the pre-skip).
    pub pts_48k: i64,
    /// Always [`FRAME_48K`].
    pub duration_48k: u32,
    pub data: Bytes,
    /// First packet of a timeline: the stream's start, or the first after an input jump.
    pub discontinuity: bool,
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TranscodeStats {
    /// Access units pushed.
    pub frames_in: u64,
    /// Access units the AAC decoder rejected (replaced by silence).
    pub frames_dropped: u64,
    /// Input jumps that started a new timeline.
    pub discontinuities: u64,
    /// Small forward gaps filled with silence.
    pub gaps_filled: u64,
    /// Opus packets produced.
    pub packets_out: u64,
    /// Frames libopus failed to encode (their time is skipped).
    pub encode_errors: u64,
    /// Packets discarded because the caller did not drain [`AacToOpus::poll_output`].
    pub packets_overflowed: u64,
}

/// Where the current run of continuous input sits.
#[derive(Debug, Clone, Copy)]
struct Timeline {
    /// 48 kHz instant of the run's first input sample.
    anchor_48k: i64,
    /// 48 kHz samples already packed into packets (including final padding).
    emitted_48k: i64,
    /// Input pts the next access unit should carry.
    expected_in: i64,
    /// No packet sent yet in this run.
    fresh: bool,
}

/// The AAC → Opus transcoder of one audio track. See the module docs.
pub struct AacToOpus {
    decoder: AacDecoder,
    resampler: Resampler,
    encoder: Encoder,
    channels: usize,
    in_rate: u32,
    bitrate: i32,
    pre_skip: u16,
    /// Largest forward gap (input ticks) filled with silence rather than reset.
    max_fill_in: i64,
    timeline: Option<Timeline>,
    /// Decoded (sanitised) input-rate samples of one frame, per channel.
    decoded: Vec<Vec<f32>>,
    /// Resampler output not yet interleaved, per channel.
    resampled: Vec<Vec<f32>>,
    /// Interleaved 48 kHz samples waiting for a full Opus frame.
    fifo: Vec<f32>,
    packet_buf: Vec<u8>,
    out: VecDeque<OpusPacket>,
    stats: TranscodeStats,
}

impl fmt::Debug for AacToOpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AacToOpus")
            .field("channels", &self.channels)
            .field("in_rate", &self.in_rate)
            .field("bitrate", &self.bitrate)
            .field("pre_skip", &self.pre_skip)
            .field("timeline", &self.timeline)
            .field("queued", &self.out.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl AacToOpus {
    /// A transcoder for the AAC track described by `asc`. AAC-LC with 1024-sample frames, mono
    /// or stereo, 7.35 to 96 kHz; anything else (HE-AAC, 5.1, 960-sample frames) is an error.
    pub fn new(asc: &AudioSpecificConfig) -> Result<Self, TranscodeError> {
        let channels = match asc.channels {
            1 | 2 => usize::from(asc.channels),
            n => return Err(TranscodeError::UnsupportedChannels(n)),
        };
        let mut params = AudioCodecParameters::new();
        params.for_codec(CODEC_ID_AAC).with_extra_data(asc.raw.to_vec().into_boxed_slice());
        let decoder = AacDecoder::try_new(&params, &AudioDecoderOptions::default())
            .map_err(|e| TranscodeError::UnsupportedAac(e.to_string()))?;
        let decoded_channels = decoder.codec_params().channels.as_ref().map_or(0, |c| c.count());
        if decoded_channels != channels {
            return Err(TranscodeError::UnsupportedAac(format!(
                "config says {channels} channels, decoder {decoded_channels}"
            )));
        }
        let resampler = Resampler::new(asc.sample_rate, channels)?;
        let bitrate = if channels == 2 { STEREO_BITRATE } else { MONO_BITRATE };
        let encoder = build_encoder(channels, bitrate)?;
        let pre_skip = encoder
            .lookahead()
            .ok()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| TranscodeError::Encoder("no look-ahead".into()))?;
        let in_rate = asc.sample_rate;
        let fill_20ms =
            (FRAME_48K as u64 * u64::from(in_rate)).div_ceil(u64::from(OUTPUT_RATE)) as i64;
        Ok(Self {
            decoder,
            resampler,
            encoder,
            channels,
            in_rate,
            bitrate,
            pre_skip,
            max_fill_in: AAC_FRAME.max(fill_20ms),
            timeline: None,
            decoded: vec![Vec::with_capacity(AAC_FRAME as usize); channels],
            resampled: vec![Vec::with_capacity(2 * AAC_FRAME as usize); channels],
            fifo: Vec::with_capacity(4 * FRAME_48K * channels),
            packet_buf: vec![0; MAX_PACKET],
            out: VecDeque::new(),
            stats: TranscodeStats::default(),
        })
    }

    /// Opus channel count of the output (1 or 2, as the source).
    pub fn channels(&self) -> u8 {
        // 1 or 2, checked in `new`.
        self.channels as u8
    }

    /// Target bitrate, bits per second.
    pub fn bitrate(&self) -> i32 {
        self.bitrate
    }

    /// The source's sample rate (the timescale of pushed timestamps).
    pub fn input_rate(&self) -> u32 {
        self.in_rate
    }

    /// The encoder's look-ahead in 48 kHz samples: decoded audio of a packet stamped `t` belongs
    /// at `t − pre_skip` (Ogg/MP4 Opus pre-skip).
    pub fn pre_skip(&self) -> u16 {
        self.pre_skip
    }

    pub fn stats(&self) -> TranscodeStats {
        self.stats
    }

    /// Transcodes one AAC frame. `Err` means this frame was dropped (malformed; its time is
    /// filled with silence); the transcoder stays usable either way.
    pub fn push(&mut self, au: &AccessUnit) -> Result<(), TranscodeError> {
        self.stats.frames_in += 1;
        self.align_timeline(au.pts);
        let result = self.decode(&au.data);
        if result.is_err() {
            self.stats.frames_dropped += 1;
            // The overlap-add state after a failed frame is unknown: start it clean.
            self.decoder.reset();
            for d in &mut self.decoded {
                d.clear();
                d.resize(AAC_FRAME as usize, 0.0);
            }
        }
        let planes: Vec<&[f32]> = self.decoded.iter().map(Vec::as_slice).collect();
        self.resampler.process(&planes, &mut self.resampled);
        self.encode_ready();
        result
    }

    /// The next finished Opus packet, oldest first.
    pub fn poll_output(&mut self) -> Option<OpusPacket> {
        self.out.pop_front()
    }

    /// Ends the stream: the audio still held (resampler look-ahead, a partial frame) goes out,
    /// padded with silence to a whole packet. The next push starts a new timeline.
    pub fn flush(&mut self) {
        if self.timeline.is_none() {
            return;
        }
        self.resampler.flush(&mut self.resampled);
        self.encode_ready();
        if !self.fifo.is_empty() {
            self.fifo.resize(FRAME_48K * self.channels, 0.0);
            self.encode_ready();
        }
        self.timeline = None;
        self.decoder.reset();
        match build_encoder(self.channels, self.bitrate) {
            Ok(encoder) => self.encoder = encoder,
            // Keep the old encoder (its state only colours the next run's first frame).
            Err(_) => self.stats.encode_errors += 1,
        }
    }

    /// Decides where `pts` sits against the running timeline: continue, fill a small gap, or
    /// start over.
    fn align_timeline(&mut self, pts: i64) {
        if let Some(t) = self.timeline {
            let delta = pts.saturating_sub(t.expected_in);
            if delta.unsigned_abs() <= (AAC_FRAME / 8) as u64 {
                // Jitter: follow the sample count.
            } else if delta > 0 && delta <= self.max_fill_in {
                self.stats.gaps_filled += 1;
                self.feed_silence(delta as usize);
                self.advance_expected(delta);
            } else {
                self.stats.discontinuities += 1;
                self.flush();
            }
        }
        if self.timeline.is_none() {
            self.timeline = Some(Timeline {
                anchor_48k: to_48k(pts, self.in_rate),
                emitted_48k: 0,
                expected_in: pts,
                fresh: true,
            });
        }
        self.advance_expected(AAC_FRAME);
    }

    fn advance_expected(&mut self, ticks: i64) {
        if let Some(t) = &mut self.timeline {
            t.expected_in = t.expected_in.saturating_add(ticks);
        }
    }

    /// Feeds `n` input-rate samples of silence (a filled gap).
    fn feed_silence(&mut self, n: usize) {
        let zeros = vec![0.0f32; n];
        let planes = vec![zeros.as_slice(); self.channels];
        self.resampler.process(&planes, &mut self.resampled);
    }

    /// Decodes one raw AAC frame into `self.decoded`.
    fn decode(&mut self, data: &[u8]) -> Result<(), TranscodeError> {
        let packet = PacketRef::new(0, Timestamp::new(0), Duration::new(AAC_FRAME as u64), data);
        let buf = match self.decoder.decode_ref(&packet) {
            Ok(GenericAudioBufferRef::F32(buf)) => buf,
            Ok(_) => return Err(TranscodeError::MalformedFrame("decoder output not f32".into())),
            Err(e) => return Err(TranscodeError::MalformedFrame(e.to_string())),
        };
        if buf.frames() == 0 {
            return Err(TranscodeError::MalformedFrame("no samples".into()));
        }
        for (c, dst) in self.decoded.iter_mut().enumerate() {
            dst.clear();
            // A stream whose elements miss a channel: repeat the first one.
            let Some(src) = buf.plane(c).or_else(|| buf.plane(0)) else {
                dst.resize(buf.frames(), 0.0);
                continue;
            };
            dst.extend(src.iter().map(|&s| sanitize(s)));
        }
        Ok(())
    }

    /// Interleaves what the resampler produced and encodes every complete 20 ms frame.
    fn encode_ready(&mut self) {
        let frames = self.resampled.iter().map(Vec::len).min().unwrap_or(0);
        for i in 0..frames {
            for ch in &self.resampled {
                self.fifo.push(sanitize(ch[i]));
            }
        }
        for ch in &mut self.resampled {
            ch.clear();
        }
        let Some(timeline) = &mut self.timeline else {
            self.fifo.clear();
            return;
        };
        let whole = FRAME_48K * self.channels;
        let mut offset = 0;
        while self.fifo.len() - offset >= whole {
            let pcm = &self.fifo[offset..offset + whole];
            offset += whole;
            let pts_48k = timeline.anchor_48k.saturating_add(timeline.emitted_48k);
            timeline.emitted_48k += FRAME_48K as i64;
            match self.encoder.encode_float(pcm, &mut self.packet_buf) {
                Ok(len) => {
                    if self.out.len() >= MAX_QUEUED {
                        self.out.pop_front();
                        self.stats.packets_overflowed += 1;
                    }
                    self.out.push_back(OpusPacket {
                        pts_48k,
                        duration_48k: FRAME_48K as u32,
                        data: Bytes::copy_from_slice(&self.packet_buf[..len.min(MAX_PACKET)]),
                        discontinuity: timeline.fresh,
                    });
                    timeline.fresh = false;
                    self.stats.packets_out += 1;
                }
                Err(_) => self.stats.encode_errors += 1,
            }
        }
        self.fifo.drain(..offset);
    }
}

fn build_encoder(channels: usize, bitrate: i32) -> Result<Encoder, TranscodeError> {
    let err = |e: audiopus::Error| TranscodeError::Encoder(e.to_string());
    let layout = if channels == 2 { Channels::Stereo } else { Channels::Mono };
    let mut encoder = Encoder::new(SampleRate::Hz48000, layout, Application::Audio).map_err(err)?;
    encoder.set_bitrate(Bitrate::BitsPerSecond(bitrate)).map_err(err)?;
    encoder.set_vbr_constraint(true).map_err(err)?;
    Ok(encoder)
}

/// Input-rate ticks to 48 kHz ticks, rounding down, saturating at the `i64` range.
fn to_48k(ticks: i64, rate: u32) -> i64 {
    let v = (i128::from(ticks) * i128::from(OUTPUT_RATE)).div_euclid(i128::from(rate.max(1)));
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Non-finite samples (a decoder fed garbage) become silence; the rest is kept within ±2 (libopus
/// takes values beyond ±1, but nothing legitimate is that loud).
fn sanitize(s: f32) -> f32 {
    if s.is_finite() { s.clamp(-2.0, 2.0) } else { 0.0 }
}
