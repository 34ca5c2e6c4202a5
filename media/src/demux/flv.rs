//! FLV tag bodies (as carried in RTMP audio/video messages and in .flv files) → access units.
//!
//! Push/pull contract: feed each tag with [`FlvDemuxer::push_tag`]; drain events with
//! [`FlvDemuxer::poll_event`] until it returns `None`. A malformed tag yields an
//! `Event::Dropped` with the reason and never disturbs later tags.
//!
//! Sits at the front of the data flow: RTMP ingest (and the demo source, through
//! [`FlvFileReader`]) hands tag bodies in; [`Event::Track`] and [`Event::Frame`] go to the
//! pipeline. Video comes out on [`VIDEO_TRACK`] at 90 kHz, AAC on [`AUDIO_TRACK`] at its sample
//! rate with sample-exact timestamps.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::AccessUnit;
use crate::codec::aac::AudioSpecificConfig;
use crate::codec::av1::{self, Av1Config};
use crate::codec::h264::{self, AvcConfig};
use crate::codec::h265::{self, HevcConfig};
use crate::time::{VIDEO_TIMESCALE, ms_to_ticks};
use crate::track::{AUDIO_TRACK, CodecConfig, MediaKind, TrackInfo, VIDEO_TRACK};

/// FLV tag types (video_file_format_spec_v10 §E.4.1 "TagType": 8 audio, 9 video, 18 script).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagKind {
    Audio,
    Video,
    /// Script data (`onMetaData`); the demuxer ignores it.
    Script,
    /// Any other tag type byte, including filtered (encrypted) tags; ignored.
    Other(u8),
}

impl TagKind {
    /// Maps an FLV TagType byte (reserved bits, Filter bit, 5-bit type).
    pub fn from_tag_type(byte: u8) -> Self {
        // "Filter: Shall be 0 in unencrypted files, and 1 for encrypted tags."
        if byte & 0x20 != 0 {
            return TagKind::Other(byte);
        }
        match byte & 0x1f {
            8 => TagKind::Audio,
            9 => TagKind::Video,
            18 => TagKind::Script,
            _ => TagKind::Other(byte),
        }
    }
}

/// One FLV tag: kind, 32-bit millisecond timestamp (RTMP's), body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlvTag {
    pub kind: TagKind,
    pub timestamp_ms: u32,
    pub body: Bytes,
}

/// What the demuxer produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A track appeared or its decoder configuration changed (same bytes again: no event).
    Track(TrackInfo),
    /// One access unit of a track previously announced with [`Event::Track`].
    Frame(AccessUnit),
    /// The publisher sends a codec Sluice cannot package. Emitted when the codec first appears
    /// on the track; its later tags are discarded silently (counted in [`DemuxStats`]).
    Unsupported { track: MediaKind, codec: String },
    /// A tag was discarded (malformed, or a frame before its sequence header).
    Dropped { reason: String },
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemuxStats {
    /// Access units emitted.
    pub frames: u64,
    /// Tags dropped with an [`Event::Dropped`].
    pub dropped: u64,
    /// Tags of an unsupported codec discarded.
    pub unsupported: u64,
    /// AAC timestamps re-anchored to the tag timestamp (gaps and jumps).
    pub audio_reanchors: u64,
}

/// AAC timestamps follow the running sample count until the tag timestamp disagrees by more
/// than this many frames (a gap or jump); then they re-anchor to the tag timestamp.
const REANCHOR_FRAMES: i64 = 3;

/// Legacy FLV video FrameType 5: "video info/command frame", carries no picture.
const FRAME_TYPE_COMMAND: u8 = 5;
/// Legacy FLV CodecID 7: AVC.
const CODEC_ID_AVC: u8 = 7;
/// CodecID 12: HEVC, a widespread extension outside the FLV specification.
const CODEC_ID_HEVC_NON_STANDARD: u8 = 12;
/// Legacy FLV SoundFormat 10: AAC.
const SOUND_FORMAT_AAC: u8 = 10;
/// Enhanced RTMP: SoundFormat 9 means an ExAudioTagHeader with a FourCC follows.
const SOUND_FORMAT_EX_HEADER: u8 = 9;
/// Enhanced RTMP: "IsExHeader" is the top bit of the first video byte.
const VIDEO_EX_HEADER: u8 = 0x80;

/// AVCPacketType / enhanced RTMP packet types (shared numbering for 0–3).
const PACKET_SEQUENCE_HEADER: u8 = 0;
const PACKET_CODED_FRAMES: u8 = 1;
const PACKET_END_OF_SEQUENCE: u8 = 2;
/// Enhanced RTMP VideoPacketType.CodedFramesX: composition time is implied zero.
const PACKET_CODED_FRAMES_X: u8 = 3;
/// Enhanced RTMP VideoPacketType.Metadata (HDR info): ignored.
const PACKET_METADATA: u8 = 4;
/// Enhanced RTMP VideoPacketType.MPEG2TSSequenceStart (an AV1VideoDescriptor): ignored.
const PACKET_MPEG2TS_SEQUENCE_START: u8 = 5;
/// Enhanced RTMP AudioPacketType.MultichannelConfig: informational, ignored.
const AUDIO_PACKET_MULTICHANNEL_CONFIG: u8 = 4;

/// Sans-IO FLV tag-body demuxer. See the module docs for the push/pull contract.
#[derive(Debug, Default)]
pub struct FlvDemuxer {
    video: VideoState,
    audio: AudioState,
    events: VecDeque<Event>,
    stats: DemuxStats,
}

#[derive(Debug, Default)]
struct VideoState {
    received: Option<ReceivedVideo>,
    unsupported: Option<String>,
}

/// The video codecs this demuxer packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VideoCodec {
    Avc,
    Hevc,
    Av1,
}

impl VideoCodec {
    fn name(self) -> &'static str {
        match self {
            VideoCodec::Avc => "AVC",
            VideoCodec::Hevc => "HEVC",
            VideoCodec::Av1 => "AV1",
        }
    }
}

/// The accepted video sequence header.
#[derive(Debug)]
struct ReceivedVideo {
    codec: VideoCodec,
    /// The sequence header as received (compared to spot repeats).
    record: Bytes,
    /// NAL length prefix size incoming samples use (the track's record says 4); 0 for AV1.
    nal_length_size: u8,
    track: TrackInfo,
}

#[derive(Debug, Default)]
struct AudioState {
    config: Option<AudioSpecificConfig>,
    samples_per_frame: i64,
    /// Expected dts of the next frame, ticks.
    next_dts: Option<i64>,
    unsupported: Option<String>,
}

impl FlvDemuxer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one tag body. Script and unknown tags are ignored.
    pub fn push_tag(&mut self, kind: TagKind, timestamp_ms: u32, body: Bytes) {
        match kind {
            TagKind::Video => self.push_video(timestamp_ms, body),
            TagKind::Audio => self.push_audio(timestamp_ms, body),
            TagKind::Script | TagKind::Other(_) => {}
        }
    }

    /// [`Self::push_tag`] for a tag from [`FlvFileReader`].
    pub fn push(&mut self, tag: FlvTag) {
        self.push_tag(tag.kind, tag.timestamp_ms, tag.body);
    }

    /// Next event, in input order.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn stats(&self) -> DemuxStats {
        self.stats
    }

    /// The current video track, if a sequence header has been accepted.
    pub fn video_track(&self) -> Option<TrackInfo> {
        self.video.received.as_ref().map(|r| r.track.clone())
    }

    /// The current audio track, if a sequence header has been accepted.
    pub fn audio_track(&self) -> Option<TrackInfo> {
        self.audio.config.as_ref().map(|c| audio_track_info(c.clone()))
    }

    fn drop_tag(&mut self, reason: impl Into<String>) {
        self.stats.dropped += 1;
        self.events.push_back(Event::Dropped { reason: reason.into() });
    }

    fn push_video(&mut self, timestamp_ms: u32, body: Bytes) {
        let Some(&first) = body.first() else {
            return self.drop_tag("empty video tag");
        };
        if first & VIDEO_EX_HEADER != 0 {
            return self.push_enhanced_video(timestamp_ms, body);
        }
        // "FrameType UB[4] … CodecID UB[4]" (§E.4.3.1)
        let frame_type = first >> 4;
        let codec_id = first & 0x0f;
        if frame_type == FRAME_TYPE_COMMAND {
            return;
        }
        let codec = match codec_id {
            CODEC_ID_AVC => VideoCodec::Avc,
            // The non-standard CodecID 12 (Chinese CDNs, ffmpeg forks) lays HEVC out exactly
            // like AVC: "HEVCPacketType UI8 … CompositionTime SI24", then an
            // HEVCDecoderConfigurationRecord or length-prefixed NAL units.
            CODEC_ID_HEVC_NON_STANDARD => VideoCodec::Hevc,
            _ => return self.unsupported_video(legacy_video_codec_name(codec_id)),
        };
        // "AVCPacketType UI8, CompositionTime SI24" then the data.
        if body.len() < 5 {
            return self.drop_tag(format!("truncated {} video tag header", codec.name()));
        }
        let packet_type = body[1];
        let cts = si24(&body[2..5]);
        self.video.unsupported = None;
        self.video_packet(codec, packet_type, timestamp_ms, cts, body.slice(5..));
    }

    fn push_enhanced_video(&mut self, timestamp_ms: u32, body: Bytes) {
        // Enhanced RTMP ExVideoTagHeader: "IsExHeader UB[1], VideoFrameType UB[3],
        // VideoPacketType UB[4]", then "VideoFourCc UI32".
        let frame_type = (body[0] >> 4) & 0x07;
        let packet_type = body[0] & 0x0f;
        // "if (videoPacketType != VideoPacketType.Metadata && videoFrameType ==
        // VideoFrameType.Command) { videoCommand = UI8 … processVideoBody = false }"
        if frame_type == FRAME_TYPE_COMMAND && packet_type != PACKET_METADATA {
            return;
        }
        if !matches!(
            packet_type,
            PACKET_SEQUENCE_HEADER
                | PACKET_CODED_FRAMES
                | PACKET_END_OF_SEQUENCE
                | PACKET_CODED_FRAMES_X
                | PACKET_METADATA
                | PACKET_MPEG2TS_SEQUENCE_START
        ) {
            return self.drop_tag(format!(
                "enhanced RTMP video packet type {packet_type} (multitrack/ModEx) not supported"
            ));
        }
        let Some(fourcc) = body.get(1..5) else {
            return self.drop_tag("truncated enhanced RTMP video header");
        };
        let codec = match fourcc {
            b"avc1" => VideoCodec::Avc,
            b"hvc1" => VideoCodec::Hevc,
            b"av01" => VideoCodec::Av1,
            b"vp09" => return self.unsupported_video("VP9 (enhanced RTMP vp09)".into()),
            b"vp08" => return self.unsupported_video("VP8 (enhanced RTMP vp08)".into()),
            other => {
                return self.unsupported_video(format!(
                    "enhanced RTMP video FourCC {}",
                    fourcc_text(other)
                ));
            }
        };
        self.video.unsupported = None;
        match packet_type {
            // HDR colour metadata (AMF): the SPS VUI already describes the colour.
            PACKET_METADATA => {}
            // "PacketTypeSequenceStart and PacketTypeMPEG2TSSequenceStart are mutually
            // exclusive"; the latter only carries an AV1VideoDescriptor.
            PACKET_MPEG2TS_SEQUENCE_START => {}
            // AV1 coded frames are "one or more OBUs which represent a single temporal unit",
            // with no composition time (AV1 has no reordering between temporal units).
            PACKET_CODED_FRAMES | PACKET_CODED_FRAMES_X if codec == VideoCodec::Av1 => {
                self.video_packet(codec, PACKET_CODED_FRAMES, timestamp_ms, 0, body.slice(5..))
            }
            // "compositionTimeOffset = SI24" precedes AVC and HEVC coded frames.
            PACKET_CODED_FRAMES => {
                let Some(cts) = body.get(5..8).map(si24) else {
                    return self
                        .drop_tag(format!("truncated enhanced RTMP {} frame", codec.name()));
                };
                self.video_packet(codec, PACKET_CODED_FRAMES, timestamp_ms, cts, body.slice(8..));
            }
            // "CodedFramesX: compositionTimeOffset is implied to equal zero".
            PACKET_CODED_FRAMES_X => {
                self.video_packet(codec, PACKET_CODED_FRAMES, timestamp_ms, 0, body.slice(5..))
            }
            _ => self.video_packet(codec, packet_type, timestamp_ms, 0, body.slice(5..)),
        }
    }

    fn unsupported_video(&mut self, codec: String) {
        self.stats.unsupported += 1;
        if self.video.unsupported.as_ref() != Some(&codec) {
            self.video.unsupported = Some(codec.clone());
            self.events.push_back(Event::Unsupported { track: MediaKind::Video, codec });
        }
    }

    fn video_packet(
        &mut self,
        codec: VideoCodec,
        packet_type: u8,
        timestamp_ms: u32,
        cts: i32,
        data: Bytes,
    ) {
        match packet_type {
            PACKET_SEQUENCE_HEADER => self.video_sequence_header(codec, data),
            PACKET_CODED_FRAMES => self.video_frame(codec, timestamp_ms, cts, data),
            // End of sequence: the configuration stays valid for a resumed stream.
            PACKET_END_OF_SEQUENCE => {}
            other => self.drop_tag(format!("unknown {} packet type {other}", codec.name())),
        }
    }

    fn video_sequence_header(&mut self, codec: VideoCodec, data: Bytes) {
        if self.video.received.as_ref().is_some_and(|r| r.codec == codec && r.record == data) {
            return;
        }
        let parsed = match codec {
            VideoCodec::Avc => AvcConfig::parse(data.clone())
                .map_err(|e| e.to_string())
                .map(|c| (c.nal_length_size, CodecConfig::H264(c.with_four_byte_lengths()))),
            VideoCodec::Hevc => HevcConfig::parse(data.clone())
                .map_err(|e| e.to_string())
                .map(|c| (c.nal_length_size, CodecConfig::H265(c.with_four_byte_lengths()))),
            VideoCodec::Av1 => Av1Config::parse(data.clone())
                .map_err(|e| e.to_string())
                .map(|c| (0, CodecConfig::Av1(c))),
        };
        match parsed {
            Ok((nal_length_size, config)) => {
                self.accept_video(codec, data, nal_length_size, config)
            }
            Err(e) => self.drop_tag(format!("bad {} sequence header: {e}", codec.name())),
        }
    }

    fn accept_video(
        &mut self,
        codec: VideoCodec,
        record: Bytes,
        nal_length_size: u8,
        config: CodecConfig,
    ) {
        let track = TrackInfo {
            id: VIDEO_TRACK,
            kind: MediaKind::Video,
            timescale: VIDEO_TIMESCALE,
            codec: config,
        };
        self.video.received =
            Some(ReceivedVideo { codec, record, nal_length_size, track: track.clone() });
        self.events.push_back(Event::Track(track));
    }

    fn video_frame(&mut self, codec: VideoCodec, timestamp_ms: u32, cts: i32, data: Bytes) {
        if codec == VideoCodec::Av1 {
            return self.av1_frame(timestamp_ms, data);
        }
        let name = codec.name();
        let Some(received) = self.video.received.as_ref().filter(|r| r.codec == codec) else {
            return self.drop_tag(format!("{name} frame before its sequence header"));
        };
        let length_size = received.nal_length_size;
        // AVC and HEVC (AV1 returned above) frame samples as length-prefixed NAL units
        // (ISO/IEC 14496-15), so the split is shared; only the sync-sample rule differs.
        let scan = if codec == VideoCodec::Avc {
            h264::scan_sample(&data, length_size)
                .map(|i| (i.nal_units, i.has_idr))
                .map_err(|e| e.to_string())
        } else {
            h265::scan_sample(&data, length_size)
                .map(|i| (i.nal_units, i.has_irap))
                .map_err(|e| e.to_string())
        };
        let keyframe = match scan {
            Ok((n, keyframe)) if n > 0 => keyframe,
            Ok(_) => return self.drop_tag(format!("empty {name} frame")),
            Err(e) => return self.drop_tag(format!("malformed {name} frame: {e}")),
        };
        let data = if length_size == 4 {
            data
        } else {
            match h264::to_four_byte_lengths(&data, length_size) {
                Ok(d) => d,
                Err(e) => return self.drop_tag(format!("malformed {name} frame: {e}")),
            }
        };
        let dts = ms_to_ticks(i64::from(timestamp_ms), VIDEO_TIMESCALE);
        let pts = ms_to_ticks(i64::from(timestamp_ms) + i64::from(cts), VIDEO_TIMESCALE);
        // ISO/IEC 14496-15: "A sync sample in AVC is an IDR access unit"; for HEVC the sync
        // samples are IRAP pictures (IDR, CRA, BLA). So the keyframe flag follows the NAL
        // units, not FLV's FrameType (which also marks open-GOP I frames).
        self.stats.frames += 1;
        self.events.push_back(Event::Frame(AccessUnit {
            track: VIDEO_TRACK,
            dts,
            pts,
            keyframe,
            data,
        }));
    }

    fn av1_frame(&mut self, timestamp_ms: u32, data: Bytes) {
        let received = self.video.received.as_ref().filter(|r| r.codec == VideoCodec::Av1);
        let reduced_still = match received.map(|r| &r.track.codec) {
            Some(CodecConfig::Av1(c)) => c.reduced_still_picture_header,
            _ => false,
        };
        let configured = received.is_some();
        let info = match av1::scan_temporal_unit(&data, reduced_still) {
            Ok(info) if info.obus > 0 => info,
            Ok(_) => return self.drop_tag("empty AV1 frame"),
            Err(e) => return self.drop_tag(format!("malformed AV1 frame: {e}")),
        };
        if !configured {
            // No av1C yet (a publisher that only sent MPEG2TSSequenceStart, or none): a
            // temporal unit that carries a sequence header OBU configures the track.
            let Some(config) = info
                .sequence_header_at
                .and_then(|at| data.get(at..))
                .and_then(|obu| Av1Config::from_sequence_header(obu).ok())
            else {
                return self.drop_tag("AV1 frame before its sequence header");
            };
            let record = config.record.clone();
            self.accept_video(VideoCodec::Av1, record, 0, CodecConfig::Av1(config));
        }
        let data = match av1::strip_droppable_obus(&data) {
            Ok(d) if !d.is_empty() => d,
            Ok(_) => return self.drop_tag("AV1 frame with only temporal delimiter/padding OBUs"),
            Err(e) => return self.drop_tag(format!("malformed AV1 frame: {e}")),
        };
        let dts = ms_to_ticks(i64::from(timestamp_ms), VIDEO_TIMESCALE);
        self.stats.frames += 1;
        self.events.push_back(Event::Frame(AccessUnit {
            track: VIDEO_TRACK,
            dts,
            // AV1-ISOBMFF: "composition offsets in movie fragments SHALL NOT be used".
            pts: dts,
            keyframe: info.key_frame,
            data,
        }));
    }

    fn push_audio(&mut self, timestamp_ms: u32, body: Bytes) {
        let Some(&first) = body.first() else {
            return self.drop_tag("empty audio tag");
        };
        // "SoundFormat UB[4], SoundRate UB[2], SoundSize UB[1], SoundType UB[1]" (§E.4.2.1)
        let sound_format = first >> 4;
        if sound_format == SOUND_FORMAT_EX_HEADER {
            return self.push_enhanced_audio(timestamp_ms, body);
        }
        if sound_format != SOUND_FORMAT_AAC {
            return self.unsupported_audio(legacy_audio_codec_name(sound_format).into());
        }
        // "AACPacketType UI8: 0 = AAC sequence header, 1 = AAC raw"
        let Some(&packet_type) = body.get(1) else {
            return self.drop_tag("truncated AAC audio tag header");
        };
        self.audio.unsupported = None;
        self.aac_packet(packet_type, timestamp_ms, body.slice(2..));
    }

    fn push_enhanced_audio(&mut self, timestamp_ms: u32, body: Bytes) {
        // Enhanced RTMP ExAudioTagHeader: "SoundFormat UB[4] = 9, AudioPacketType UB[4]",
        // then "AudioFourCc UI32".
        let packet_type = body[0] & 0x0f;
        if !matches!(
            packet_type,
            PACKET_SEQUENCE_HEADER
                | PACKET_CODED_FRAMES
                | PACKET_END_OF_SEQUENCE
                | AUDIO_PACKET_MULTICHANNEL_CONFIG
        ) {
            return self.drop_tag(format!(
                "enhanced RTMP audio packet type {packet_type} (multitrack/ModEx) not supported"
            ));
        }
        let Some(fourcc) = body.get(1..5) else {
            return self.drop_tag("truncated enhanced RTMP audio header");
        };
        let name = match fourcc {
            b"mp4a" => None,
            b"Opus" => Some("Opus (enhanced RTMP Opus)".to_string()),
            b"fLaC" => Some("FLAC (enhanced RTMP fLaC)".to_string()),
            b"ac-3" => Some("AC-3 (enhanced RTMP ac-3)".to_string()),
            b"ec-3" => Some("E-AC-3 (enhanced RTMP ec-3)".to_string()),
            b".mp3" => Some("MP3 (enhanced RTMP .mp3)".to_string()),
            other => Some(format!("enhanced RTMP audio FourCC {}", fourcc_text(other))),
        };
        if let Some(name) = name {
            return self.unsupported_audio(name);
        }
        self.audio.unsupported = None;
        if packet_type == AUDIO_PACKET_MULTICHANNEL_CONFIG {
            return;
        }
        self.aac_packet(packet_type, timestamp_ms, body.slice(5..));
    }

    fn unsupported_audio(&mut self, codec: String) {
        self.stats.unsupported += 1;
        if self.audio.unsupported.as_ref() != Some(&codec) {
            self.audio.unsupported = Some(codec.clone());
            self.events.push_back(Event::Unsupported { track: MediaKind::Audio, codec });
        }
    }

    fn aac_packet(&mut self, packet_type: u8, timestamp_ms: u32, data: Bytes) {
        match packet_type {
            PACKET_SEQUENCE_HEADER => self.aac_sequence_header(data),
            PACKET_CODED_FRAMES => self.aac_frame(timestamp_ms, data),
            PACKET_END_OF_SEQUENCE => {}
            other => self.drop_tag(format!("unknown AAC packet type {other}")),
        }
    }

    fn aac_sequence_header(&mut self, data: Bytes) {
        if self.audio.config.as_ref().is_some_and(|c| c.raw == data) {
            return;
        }
        match AudioSpecificConfig::parse(data) {
            Ok(config) => {
                self.audio.samples_per_frame = i64::from(config.samples_per_frame());
                self.audio.next_dts = None;
                self.audio.config = Some(config.clone());
                self.events.push_back(Event::Track(audio_track_info(config)));
            }
            Err(e) => self.drop_tag(format!("bad AAC sequence header: {e}")),
        }
    }

    fn aac_frame(&mut self, timestamp_ms: u32, data: Bytes) {
        let Some(config) = &self.audio.config else {
            return self.drop_tag("AAC frame before its sequence header");
        };
        if data.is_empty() {
            return self.drop_tag("empty AAC frame");
        }
        let spf = self.audio.samples_per_frame;
        let from_tag = ms_to_ticks(i64::from(timestamp_ms), config.sample_rate);
        // FLV timestamps are whole milliseconds; consecutive AAC frames are exactly
        // samples_per_frame apart, so the running count is the exact timeline.
        let dts = match self.audio.next_dts {
            Some(next) if (from_tag - next).abs() <= REANCHOR_FRAMES * spf => next,
            Some(_) => {
                self.stats.audio_reanchors += 1;
                from_tag
            }
            None => from_tag,
        };
        self.audio.next_dts = Some(dts + spf);
        self.stats.frames += 1;
        self.events.push_back(Event::Frame(AccessUnit {
            track: AUDIO_TRACK,
            dts,
            pts: dts,
            keyframe: true,
            data,
        }));
    }
}

fn audio_track_info(config: AudioSpecificConfig) -> TrackInfo {
    TrackInfo {
        id: AUDIO_TRACK,
        kind: MediaKind::Audio,
        timescale: config.sample_rate,
        codec: CodecConfig::Aac(config),
    }
}

/// Sign-extends a big-endian 24-bit value (FLV's SI24 CompositionTime).
fn si24(b: &[u8]) -> i32 {
    let v = (i32::from(b[0]) << 16) | (i32::from(b[1]) << 8) | i32::from(b[2]);
    (v << 8) >> 8
}

fn fourcc_text(fourcc: &[u8]) -> String {
    fourcc.iter().flat_map(|&b| std::ascii::escape_default(b)).map(char::from).collect()
}

/// §E.4.3.1 CodecID names (plus the non-standard AV1 id 13; 12 is HEVC, handled above).
fn legacy_video_codec_name(codec_id: u8) -> String {
    match codec_id {
        2 => "Sorenson H.263".into(),
        3 => "Screen video".into(),
        4 => "On2 VP6".into(),
        5 => "On2 VP6 with alpha".into(),
        6 => "Screen video version 2".into(),
        13 => "AV1 (non-standard FLV codec id 13)".into(),
        other => format!("FLV video codec id {other}"),
    }
}

/// §E.4.2.1 SoundFormat names.
fn legacy_audio_codec_name(format: u8) -> &'static str {
    match format {
        0 => "Linear PCM (platform endian)",
        1 => "ADPCM",
        2 => "MP3",
        3 => "Linear PCM (little endian)",
        4 => "Nellymoser 16 kHz mono",
        5 => "Nellymoser 8 kHz mono",
        6 => "Nellymoser",
        7 => "G.711 A-law",
        8 => "G.711 mu-law",
        11 => "Speex",
        14 => "MP3 8 kHz",
        15 => "Device-specific sound",
        _ => "reserved FLV sound format",
    }
}

/// Errors reading a complete .flv file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FlvError {
    #[error("not an FLV file")]
    NotFlv,
    #[error("FLV header DataOffset {0} is invalid")]
    BadDataOffset(u32),
    #[error("FLV file truncated at byte {0}")]
    Truncated(usize),
}

/// The FLV file header's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlvHeader {
    pub version: u8,
    pub has_audio: bool,
    pub has_video: bool,
}

/// Reads the tags of a complete .flv file (video_file_format_spec_v10 §E.2–E.4): header,
/// `PreviousTagSize0`, then tag + `PreviousTagSize` pairs. Tag bodies are zero-copy slices.
/// A truncated tag ends the iteration with one error.
#[derive(Debug, Clone)]
pub struct FlvFileReader {
    data: Bytes,
    pos: usize,
    header: FlvHeader,
    done: bool,
}

/// Tag header: "TagType UI8, DataSize UI24, Timestamp UI24, TimestampExtended UI8,
/// StreamID UI24".
const TAG_HEADER_LEN: usize = 11;
/// PreviousTagSize UI32 after every tag.
const PREVIOUS_TAG_SIZE_LEN: usize = 4;
/// FLV version 1 header size.
const FLV_HEADER_LEN: u32 = 9;

impl FlvFileReader {
    pub fn new(data: Bytes) -> Result<Self, FlvError> {
        if data.len() < FLV_HEADER_LEN as usize || &data[..3] != b"FLV" {
            return Err(FlvError::NotFlv);
        }
        let flags = data[4];
        let header = FlvHeader {
            version: data[3],
            has_audio: flags & 0x04 != 0,
            has_video: flags & 0x01 != 0,
        };
        // "DataOffset UI32: The length of this header in bytes" (9 for version 1).
        let offset = u32::from_be_bytes([data[5], data[6], data[7], data[8]]);
        if offset < FLV_HEADER_LEN {
            return Err(FlvError::BadDataOffset(offset));
        }
        let pos = offset as usize + PREVIOUS_TAG_SIZE_LEN;
        if pos > data.len() {
            return Err(FlvError::Truncated(data.len()));
        }
        Ok(Self { data, pos, header, done: false })
    }

    pub fn header(&self) -> FlvHeader {
        self.header
    }
}

impl Iterator for FlvFileReader {
    type Item = Result<FlvTag, FlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.data.len() {
            return None;
        }
        let start = self.pos;
        let Some(h) = self.data.get(start..start + TAG_HEADER_LEN) else {
            self.done = true;
            return Some(Err(FlvError::Truncated(self.data.len())));
        };
        let size = (usize::from(h[1]) << 16) | (usize::from(h[2]) << 8) | usize::from(h[3]);
        // "TimestampExtended: … the upper 8 bits, and the Timestamp field represents the lower
        // 24 bits of the timestamp in milliseconds."
        let timestamp_ms = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
        let kind = TagKind::from_tag_type(h[0]);
        let body_start = start + TAG_HEADER_LEN;
        let body_end = body_start + size;
        if body_end > self.data.len() {
            self.done = true;
            return Some(Err(FlvError::Truncated(self.data.len())));
        }
        let body = self.data.slice(body_start..body_end);
        // A missing final PreviousTagSize is tolerated: the tag itself is complete.
        self.pos = (body_end + PREVIOUS_TAG_SIZE_LEN).min(self.data.len());
        Some(Ok(FlvTag { kind, timestamp_ms, body }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::AVCC;

    fn video_seq_header() -> Bytes {
        let mut b = vec![0x17, 0, 0, 0, 0];
        b.extend_from_slice(AVCC);
        Bytes::from(b)
    }

    fn video_frame(key: bool, cts: i32, nal_type: u8) -> Bytes {
        let mut b = vec![if key { 0x17 } else { 0x27 }, 1];
        b.extend_from_slice(&cts.to_be_bytes()[1..]);
        b.extend_from_slice(&[0, 0, 0, 3, nal_type, 0x88, 0x84]);
        Bytes::from(b)
    }

    fn aac(packet_type: u8, payload: &[u8]) -> Bytes {
        let mut b = vec![0xaf, packet_type];
        b.extend_from_slice(payload);
        Bytes::from(b)
    }

    fn drain(d: &mut FlvDemuxer) -> Vec<Event> {
        std::iter::from_fn(|| d.poll_event()).collect()
    }

    fn frames(events: &[Event]) -> Vec<&AccessUnit> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Frame(au) => Some(au),
                _ => None,
            })
            .collect()
    }

    /// The reasons of the `Dropped` events, in order.
    fn dropped(events: &[Event]) -> Vec<&str> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Dropped { reason } => Some(reason.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn video_sequence_header_announces_track_once() {
        let mut d = FlvDemuxer::new();
        d.push_tag(TagKind::Video, 0, video_seq_header());
        d.push_tag(TagKind::Video, 0, video_seq_header());
        let ev = drain(&mut d);
        assert_eq!(ev.len(), 1);
        let Event::Track(t) = &ev[0] else { panic!("expected a track, got {ev:?}") };
        assert_eq!(t.id, VIDEO_TRACK);
        assert_eq!(t.timescale, 90_000);
        assert_eq!(t.codec_string(), "avc1.42c01e");
    }

    #[test]
    fn b_frame_composition_time_becomes_pts() {
        let mut d = FlvDemuxer::new();
        d.push_tag(TagKind::Video, 0, video_seq_header());
        d.push_tag(TagKind::Video, 1000, video_frame(true, 67, 5));
        d.push_tag(TagKind::Video, 1033, video_frame(false, -33, 1));
        let ev = drain(&mut d);
        let f = frames(&ev);
        assert_eq!((f[0].dts, f[0].pts, f[0].keyframe), (90_000, 96_030, true));
        assert_eq!((f[1].dts, f[1].pts, f[1].keyframe), (92_970, 90_000, false));
        assert_eq!(&f[0].data[..], &[0, 0, 0, 3, 5, 0x88, 0x84]);
    }

    #[test]
    fn keyframe_follows_idr_not_flv_frame_type() {
        let mut d = FlvDemuxer::new();
        d.push_tag(TagKind::Video, 0, video_seq_header());
        d.push_tag(TagKind::Video, 0, video_frame(true, 0, 1));
        d.push_tag(TagKind::Video, 33, video_frame(false, 0, 5));
        let ev = drain(&mut d);
        let f = frames(&ev);
        assert!(!f[0].keyframe);
        assert!(f[1].keyframe);
    }

    #[test]
    fn frames_before_sequence_header_and_garbage_are_dropped() {
        let mut d = FlvDemuxer::new();
        d.push_tag(TagKind::Video, 0, video_frame(true, 0, 5));
        d.push_tag(TagKind::Audio, 0, aac(1, &[0x21, 0x00]));
        d.push_tag(TagKind::Video, 0, Bytes::new());
        d.push_tag(TagKind::Video, 0, Bytes::from_static(&[0x17, 0, 0, 0, 0, 1, 2]));
        d.push_tag(TagKind::Video, 0, video_seq_header());
        d.push_tag(TagKind::Video, 0, Bytes::from_static(&[0x17, 1, 0, 0, 0, 0, 0, 0, 9, 0x65]));
        let ev = drain(&mut d);
        let reasons = dropped(&ev);
        assert_eq!(reasons.len(), 5, "{ev:?}");
        assert!(reasons[0].contains("before its sequence header"));
        assert!(reasons[1].contains("before its sequence header"));
        assert!(reasons[3].starts_with("bad AVC sequence header"));
        assert!(reasons[4].starts_with("malformed AVC frame"));
        assert_eq!(d.stats().dropped, 5);
        assert!(d.video_track().is_some());
    }

    fn hvcc() -> Vec<u8> {
        crate::codec::h265::fixtures::ffmpeg_hvcc()
    }

    /// An enhanced RTMP video tag: IsExHeader | frame type | packet type, FourCC, rest.
    fn ex_video(frame_type: u8, packet_type: u8, fourcc: &[u8; 4], rest: &[u8]) -> Bytes {
        let mut b = vec![0x80 | frame_type << 4 | packet_type];
        b.extend_from_slice(fourcc);
        b.extend_from_slice(rest);
        Bytes::from(b)
    }

    #[test]
    fn enhanced_rtmp_hvc1_is_demuxed_with_irap_keyframes() {
        let mut d = FlvDemuxer::new();
        d.push_tag(TagKind::Video, 0, ex_video(1, 0, b"hvc1", &hvcc()));
        // CodedFrames (1) with SI24 cts 67: IDR_W_RADL slice (type 19 → header 0x26 0x01).
        d.push_tag(
            TagKind::Video,
            1000,
            ex_video(1, 1, b"hvc1", &[0, 0, 67, 0, 0, 0, 3, 0x26, 1, 0xaf]),
        );
        // CodedFramesX (3), no cts: TRAIL_R (type 1 → 0x02 0x01).
        d.push_tag(TagKind::Video, 1033, ex_video(2, 3, b"hvc1", &[0, 0, 0, 3, 0x02, 1, 0xd0]));
        // CRA (type 21 → 0x2a 0x01) is a sync sample too.
        d.push_tag(TagKind::Video, 1066, ex_video(1, 3, b"hvc1", &[0, 0, 0, 3, 0x2a, 1, 0xd0]));
        // Metadata (4) and SequenceEnd (2) produce nothing.
        d.push_tag(TagKind::Video, 1066, ex_video(1, 4, b"hvc1", &[2, 0, 9]));
        d.push_tag(TagKind::Video, 1100, ex_video(1, 2, b"hvc1", &[]));
        let ev = drain(&mut d);
        let Event::Track(t) = &ev[0] else { panic!("expected a track, got {ev:?}") };
        assert_eq!(t.codec_string(), "hvc1.1.6.L60.90");
        assert!(matches!(&t.codec, CodecConfig::H265(c) if (c.width, c.height) == (320, 240)));
        let f = frames(&ev);
        assert_eq!(f.len(), 3, "{ev:?}");
        assert_eq!((f[0].dts, f[0].pts, f[0].keyframe), (90_000, 96_030, true));
        assert_eq!(&f[0].data[..], &[0, 0, 0, 3, 0x26, 1, 0xaf]);
        assert_eq!((f[1].dts, f[1].pts, f[1].keyframe), (92_970, 92_970, false));
        assert!(f[2].keyframe);
        assert_eq!(ev.len(), 4);
        assert_eq!(d.video_track().as_ref(), Some(t));
    }

    #[test]
    fn legacy_codec_id_12_is_hevc() {
        let mut d = FlvDemuxer::new();
        let mut seq = vec![0x1c, 0, 0, 0, 0];
        seq.extend_from_slice(&hvcc());
        d.push_tag(TagKind::Video, 0, Bytes::from(seq));
        d.push_tag(
            TagKind::Video,
            0,
            Bytes::from_static(&[0x1c, 1, 0, 0, 0, 0, 0, 0, 3, 0x26, 1, 0xaf]),
        );
        let ev = drain(&mut d);
        assert!(matches!(&ev[0], Event::Track(t) if t.codec_string() == "hvc1.1.6.L60.90"));
        assert!(frames(&ev)[0].keyframe);
    }

    #[test]
    fn hevc_frames_need_an_hevc_sequence_header() {
        let mut d = FlvDemuxer::new();
        d.push_tag(TagKind::Video, 0, video_seq_header());
        d.push_tag(TagKind::Video, 0, ex_video(1, 3, b"hvc1", &[0, 0, 0, 3, 0x26, 1, 0xaf]));
        d.push_tag(TagKind::Video, 0, ex_video(1, 0, b"hvc1", &hvcc()[..30]));
        d.push_tag(TagKind::Video, 0, ex_video(1, 1, b"hvc1", &[0, 0]));
        let ev = drain(&mut d);
        let reasons = dropped(&ev);
        assert_eq!(
            reasons,
            vec![
                "HEVC frame before its sequence header",
                "bad HEVC sequence header: hvcC record truncated",
                "truncated enhanced RTMP HEVC frame",
            ]
        );
    }

    #[test]
    fn unknown_fourccs_are_unsupported_by_name_once() {
        let mut d = FlvDemuxer::new();
        d.push_tag(TagKind::Video, 0, ex_video(1, 0, b"vp09", &[1, 2]));
        d.push_tag(TagKind::Video, 0, ex_video(1, 1, b"vp09", &[0, 0, 0, 1]));
        d.push_tag(TagKind::Video, 33, ex_video(2, 1, b"vp09", &[0, 0, 0, 1]));
        d.push_tag(TagKind::Video, 66, ex_video(2, 1, b"xyz\x01", &[0]));
        let ev = drain(&mut d);
        assert_eq!(
            ev,
            vec![
                Event::Unsupported {
                    track: MediaKind::Video,
                    codec: "VP9 (enhanced RTMP vp09)".into()
                },
                Event::Unsupported {
                    track: MediaKind::Video,
                    codec: "enhanced RTMP video FourCC xyz\\x01".into()
                },
            ]
        );
        assert_eq!(d.stats().unsupported, 4);
    }

    #[test]
    fn enhanced_rtmp_av01_is_demuxed_without_temporal_delimiters() {
        let av1c = crate::codec::av1::fixtures::SVT_AV1C;
        let mut d = FlvDemuxer::new();
        d.push_tag(TagKind::Video, 0, ex_video(1, 0, b"av01", av1c));
        // CodedFrames (1) without composition time: TD, then a shown key frame OBU.
        d.push_tag(TagKind::Video, 40, ex_video(1, 1, b"av01", &[0x12, 0, 0x32, 2, 0x10, 0xaa]));
        // An inter frame (frame_type 1).
        d.push_tag(TagKind::Video, 73, ex_video(2, 1, b"av01", &[0x12, 0, 0x32, 1, 0x30]));
        let ev = drain(&mut d);
        let Event::Track(t) = &ev[0] else { panic!("expected a track, got {ev:?}") };
        assert_eq!(t.codec_string(), "av01.0.00M.08");
        let f = frames(&ev);
        assert_eq!((f[0].dts, f[0].pts, f[0].keyframe), (3600, 3600, true));
        assert_eq!(&f[0].data[..], &[0x32, 2, 0x10, 0xaa]);
        assert!(!f[1].keyframe);
        assert_eq!(ev.len(), 3);
    }

    #[test]
    fn av1_without_av1c_is_configured_from_an_in_band_sequence_header() {
        let seq_obu = &crate::codec::av1::fixtures::SVT_AV1C[4..];
        let mut d = FlvDemuxer::new();
        // MPEG2TSSequenceStart (5) carries an AV1VideoDescriptor, which is ignored.
        d.push_tag(TagKind::Video, 0, ex_video(1, 5, b"av01", &[0x80, 4, 0x81, 0, 0x0c, 0]));
        d.push_tag(TagKind::Video, 0, ex_video(2, 1, b"av01", &[0x32, 1, 0x30]));
        let mut key = seq_obu.to_vec();
        key.extend_from_slice(&[0x32, 1, 0x10]);
        d.push_tag(TagKind::Video, 33, ex_video(1, 1, b"av01", &key));
        let ev = drain(&mut d);
        assert_eq!(ev[0], Event::Dropped { reason: "AV1 frame before its sequence header".into() });
        let Event::Track(t) = &ev[1] else { panic!("expected a track, got {ev:?}") };
        assert_eq!(t.config_bytes(), crate::codec::av1::fixtures::SVT_AV1C);
        assert!(frames(&ev)[0].keyframe);
    }

    #[test]
    fn enhanced_rtmp_avc1_is_demuxed() {
        let mut d = FlvDemuxer::new();
        let mut seq = b"\x90avc1".to_vec();
        seq.extend_from_slice(AVCC);
        d.push_tag(TagKind::Video, 0, Bytes::from(seq));
        // CodedFramesX (3): no composition time.
        d.push_tag(TagKind::Video, 40, Bytes::from_static(b"\x93avc1\x00\x00\x00\x01\x65"));
        let ev = drain(&mut d);
        assert!(matches!(ev[0], Event::Track(_)));
        let f = frames(&ev);
        assert_eq!((f[0].dts, f[0].pts, f[0].keyframe), (3600, 3600, true));
    }

    #[test]
    fn non_aac_audio_is_unsupported_by_name() {
        let mut d = FlvDemuxer::new();
        d.push_tag(TagKind::Audio, 0, Bytes::from_static(&[0x2f, 0xff, 0xfb]));
        d.push_tag(TagKind::Audio, 26, Bytes::from_static(&[0x2f, 0xff, 0xfb]));
        d.push_tag(TagKind::Audio, 0, Bytes::from_static(b"\x90Opus\x01"));
        assert_eq!(
            drain(&mut d),
            vec![
                Event::Unsupported { track: MediaKind::Audio, codec: "MP3".into() },
                Event::Unsupported {
                    track: MediaKind::Audio,
                    codec: "Opus (enhanced RTMP Opus)".into()
                },
            ]
        );
    }

    #[test]
    fn aac_timestamps_are_sample_exact_and_reanchor_on_gaps() {
        let mut d = FlvDemuxer::new();
        d.push_tag(TagKind::Audio, 0, aac(0, &[0x11, 0x90]));
        // 48 kHz: frames every 21.333 ms, FLV rounds to 0, 21, 43, 64, 85.
        for ms in [0u32, 21, 43, 64, 85] {
            d.push_tag(TagKind::Audio, ms, aac(1, &[0x21]));
        }
        // A 1 s gap re-anchors.
        d.push_tag(TagKind::Audio, 1085, aac(1, &[0x21]));
        d.push_tag(TagKind::Audio, 1107, aac(1, &[0x21]));
        let ev = drain(&mut d);
        let Event::Track(t) = &ev[0] else { panic!("expected a track") };
        assert_eq!((t.timescale, t.codec_string().as_str()), (48_000, "mp4a.40.2"));
        let dts: Vec<i64> = frames(&ev).iter().map(|f| f.dts).collect();
        assert_eq!(dts, vec![0, 1024, 2048, 3072, 4096, 52_080, 53_104]);
        assert_eq!(d.stats().audio_reanchors, 1);
    }

    #[test]
    fn changed_aac_config_is_a_new_track() {
        let mut d = FlvDemuxer::new();
        d.push_tag(TagKind::Audio, 0, aac(0, &[0x11, 0x90]));
        d.push_tag(TagKind::Audio, 0, aac(0, &[0x11, 0x90]));
        d.push_tag(TagKind::Audio, 0, aac(0, &[0x12, 0x10]));
        let ev = drain(&mut d);
        assert_eq!(ev.len(), 2);
        let Event::Track(t) = &ev[1] else { panic!("expected a track") };
        assert_eq!(t.timescale, 44_100);
    }

    #[test]
    fn file_reader_reads_tags_and_reports_truncation() {
        let mut f = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
        // video tag, 2 bytes, timestamp 0x01_000002 (extended byte is the top 8 bits)
        f.extend_from_slice(&[9, 0, 0, 2, 0, 0, 2, 1, 0, 0, 0, 0x17, 0x02, 0, 0, 0, 13]);
        f.extend_from_slice(&[18, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 12]);
        f.extend_from_slice(&[8, 0, 0, 9, 0, 0]);
        let mut r = FlvFileReader::new(Bytes::from(f)).unwrap();
        assert!(r.header().has_audio && r.header().has_video);
        let t = r.next().unwrap().unwrap();
        assert_eq!(
            (t.kind, t.timestamp_ms, &t.body[..]),
            (TagKind::Video, 0x0100_0002, &[0x17, 2][..])
        );
        assert_eq!(r.next().unwrap().unwrap().kind, TagKind::Script);
        assert!(matches!(r.next(), Some(Err(FlvError::Truncated(_)))));
        assert_eq!(r.next(), None);
        assert_eq!(
            FlvFileReader::new(Bytes::from_static(b"FLX\x01\x05\0\0\0\x09")).err(),
            Some(FlvError::NotFlv)
        );
    }
}
