//! Opus: packet durations from the TOC byte (RFC 6716 §3) and the decoder configuration CMAF
//! writes into the `dOps` box of an `Opus` sample entry ("Encapsulation of Opus in ISO Base
//! Media File Format", §4.3.2), built from what a WHIP/SDP source implies (`opus/48000/2`),
//! parsed back from a `dOps` payload or taken from an Ogg/WebM/E-RTMP `OpusHead` (RFC 7845
//! §5.1).
//!
//! WHIP ingest turns RTP payloads into access units (one Opus packet each, 48 kHz timescale,
//! durations from [`packet_duration_48k`]); `cmaf::init` writes the sample entry.

use bytes::{BufMut, Bytes, BytesMut};

/// Opus always decodes at 48 kHz: timescale of Opus tracks and the unit of `PreSkip`.
pub const SAMPLE_RATE: u32 = 48_000;

/// RFC 6381 codec string of the `Opus` sample entry (HLS CODECS "opus").
pub const CODEC_STRING: &str = "opus";

/// PreSkip assumed when the source does not say (SDP and RTP carry none): libopus's encoder
/// lookahead at 48 kHz for its default (audio/voip) applications, 312 samples (6.5 ms), which
/// is what ffmpeg writes into OpusHead and `dOps` for libopus streams (testdata's
/// `ffmpeg-libopus-*.opus`; the restricted-lowdelay application has 120). Browsers' WHIP
/// senders encode with libopus too. A wrong guess only shifts which few ms of the decoder's
/// start-up output are dropped: the Opus-in-ISOBMFF PreSkip "is informative only", trimming
/// being the edit list's job, which live fragments do without (§4.4).
pub const DEFAULT_PRE_SKIP: u16 = 312;

/// RFC 6716 §3.4 [R5]: "no more than 120 ms of audio total", in 48 kHz samples.
const MAX_PACKET_48K: u32 = 5_760;

/// RFC 6716 §3.4 [R2]: "No implicit frame length is larger than 1275 bytes."
const MAX_FRAME_BYTES: usize = 1_275;

/// Fixed part of the `dOps` payload: Version, OutputChannelCount, PreSkip, InputSampleRate,
/// OutputGain, ChannelMappingFamily.
const DOPS_FIXED_LEN: usize = 11;

/// Magic signature and fixed length of an `OpusHead` packet (RFC 7845 §5.1).
const OPUS_HEAD_MAGIC: &[u8; 8] = b"OpusHead";
const OPUS_HEAD_FIXED_LEN: usize = 19;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpusError {
    #[error("opus config truncated")]
    Truncated,
    #[error("unsupported dOps version {0}")]
    DopsVersion(u8),
    #[error("unsupported OpusHead version {0}")]
    HeadVersion(u8),
    #[error("not an OpusHead packet")]
    NotOpusHead,
    #[error("bytes after the dOps record")]
    TrailingBytes,
    #[error("zero output channels")]
    NoChannels,
    #[error("mapping family {family} cannot carry {channels} channels")]
    ChannelsForFamily { family: u8, channels: u8 },
    #[error("mapping family {0} needs a channel mapping table")]
    MissingMapping(u8),
    #[error("mapping family 0 has no channel mapping table")]
    UnexpectedMapping,
    #[error("channel mapping table: {0}")]
    BadMapping(&'static str),
}

/// Channel mapping table (RFC 7845 §5.1.1), present when ChannelMappingFamily ≠ 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelMapping {
    /// Number of Opus streams in each packet.
    pub stream_count: u8,
    /// How many of those streams are stereo (coupled).
    pub coupled_count: u8,
    /// Decoded channel index per output channel (255: silence); one entry per output channel.
    pub mapping: Vec<u8>,
}

/// Opus decoder configuration: the fields of `dOps` (and of OpusHead), plus the `dOps` payload
/// rendered once at construction (equal bytes mean an unchanged init segment).
///
/// Built only through [`OpusConfig::new`] and friends, which check the fields against each
/// other, so the fields are read through accessors and the rendered bytes cannot go stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusConfig {
    channels: u8,
    pre_skip: u16,
    input_sample_rate: u32,
    output_gain: i16,
    mapping_family: u8,
    mapping: Option<ChannelMapping>,
    dops: Bytes,
}

impl OpusConfig {
    /// A configuration from its fields, checked as RFC 7845 §5.1.1 requires: family 0 is mono or
    /// stereo without a table ("Allowed numbers of channels: 1 or 2"), family 1 has 1 to 8
    /// channels ("Allowed numbers of channels: 1...8"), every other family needs a table whose
    /// "Stream Count 'N' MUST be larger than zero", "Coupled Stream Count 'M' MUST be no larger
    /// than the total number of streams, N", "M+N MUST be no larger than 255", and whose mapping
    /// entries each name a decoded channel below M+N or 255 (silence).
    pub fn new(
        channels: u8,
        pre_skip: u16,
        input_sample_rate: u32,
        output_gain: i16,
        mapping_family: u8,
        mapping: Option<ChannelMapping>,
    ) -> Result<Self, OpusError> {
        if channels == 0 {
            return Err(OpusError::NoChannels);
        }
        let bad_count = || OpusError::ChannelsForFamily { family: mapping_family, channels };
        match (mapping_family, &mapping) {
            (0, Some(_)) => return Err(OpusError::UnexpectedMapping),
            (0, None) if channels > 2 => return Err(bad_count()),
            (0, None) => {}
            (1, _) if channels > 8 => return Err(bad_count()),
            (family, None) => return Err(OpusError::MissingMapping(family)),
            (_, Some(table)) => check_mapping(channels, table)?,
        }
        let mut config = Self {
            channels,
            pre_skip,
            input_sample_rate,
            output_gain,
            mapping_family,
            mapping,
            dops: Bytes::new(),
        };
        config.dops = config.render_dops();
        Ok(config)
    }

    /// What an SDP `opus/48000/{channels}` source implies (WHIP): mono or stereo, family 0,
    /// [`DEFAULT_PRE_SKIP`], input rate 48 kHz, no gain. More channels need a mapping table
    /// (WebRTC's `multiopus`), which [`OpusConfig::new`] takes.
    pub fn from_channels(channels: u8) -> Result<Self, OpusError> {
        Self::new(channels, DEFAULT_PRE_SKIP, SAMPLE_RATE, 0, 0, None)
    }

    /// Parses the payload of a `dOps` box (after its 8-byte box header). All fields are
    /// big-endian: "This box refers to Ogg Opus at many parts but all the data are stored as
    /// big-endian format."
    pub fn parse_dops(payload: &[u8]) -> Result<Self, OpusError> {
        let fixed = payload.get(..DOPS_FIXED_LEN).ok_or(OpusError::Truncated)?;
        // "The Version field shall be set to 0. … without support of those values, the reader
        // shall not read the fields after this".
        if fixed[0] != 0 {
            return Err(OpusError::DopsVersion(fixed[0]));
        }
        let channels = fixed[1];
        let pre_skip = u16::from_be_bytes([fixed[2], fixed[3]]);
        let input_sample_rate = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let output_gain = i16::from_be_bytes([fixed[8], fixed[9]]);
        let family = fixed[10];
        let (mapping, used) = read_mapping(family, channels, &payload[DOPS_FIXED_LEN..])?;
        if DOPS_FIXED_LEN + used != payload.len() {
            return Err(OpusError::TrailingBytes);
        }
        Self::new(channels, pre_skip, input_sample_rate, output_gain, family, mapping)
    }

    /// Takes the configuration from an Ogg Opus identification header (RFC 7845 §5.1, also the
    /// WebM/Matroska CodecPrivate and the enhanced-RTMP Opus sequence header): little-endian
    /// fields after the "OpusHead" signature. "A demuxer SHOULD treat streams where the upper
    /// four bits of the version number match that of a recognized specification as backwards
    /// compatible", so versions 0–15 are read and bytes after the mapping table are ignored.
    pub fn from_opus_head(packet: &[u8]) -> Result<Self, OpusError> {
        if !packet.starts_with(OPUS_HEAD_MAGIC) {
            return Err(OpusError::NotOpusHead);
        }
        let fixed = packet.get(..OPUS_HEAD_FIXED_LEN).ok_or(OpusError::Truncated)?;
        let version = fixed[8];
        if version >> 4 != 0 {
            return Err(OpusError::HeadVersion(version));
        }
        let channels = fixed[9];
        let pre_skip = u16::from_le_bytes([fixed[10], fixed[11]]);
        let input_sample_rate = u32::from_le_bytes([fixed[12], fixed[13], fixed[14], fixed[15]]);
        let output_gain = i16::from_le_bytes([fixed[16], fixed[17]]);
        let family = fixed[18];
        let (mapping, _) = read_mapping(family, channels, &packet[OPUS_HEAD_FIXED_LEN..])?;
        Self::new(channels, pre_skip, input_sample_rate, output_gain, family, mapping)
    }

    /// The `dOps` payload (OpusDecoderConfigurationRecord), what the sample entry carries.
    pub fn dops_bytes(&self) -> &Bytes {
        &self.dops
    }

    /// RFC 6381 codec string: the sample entry's four-character code, `opus`.
    pub fn codec_string(&self) -> &'static str {
        CODEC_STRING
    }

    /// OutputChannelCount.
    pub fn channels(&self) -> u8 {
        self.channels
    }

    /// PreSkip: 48 kHz samples to drop from the decoder's output at the start.
    pub fn pre_skip(&self) -> u16 {
        self.pre_skip
    }

    /// InputSampleRate: the encoder input's rate, informational (playback is always 48 kHz).
    pub fn input_sample_rate(&self) -> u32 {
        self.input_sample_rate
    }

    /// OutputGain in dB, Q7.8 fixed point.
    pub fn output_gain(&self) -> i16 {
        self.output_gain
    }

    /// ChannelMappingFamily.
    pub fn mapping_family(&self) -> u8 {
        self.mapping_family
    }

    /// The channel mapping table (family ≠ 0).
    pub fn mapping(&self) -> Option<&ChannelMapping> {
        self.mapping.as_ref()
    }

    /// OpusDecoderConfigurationRecord: "unsigned int(8) Version; unsigned int(8)
    /// OutputChannelCount; unsigned int(16) PreSkip; unsigned int(32) InputSampleRate; signed
    /// int(16) OutputGain; unsigned int(8) ChannelMappingFamily; if (ChannelMappingFamily != 0)
    /// { ChannelMappingTable(OutputChannelCount); }".
    fn render_dops(&self) -> Bytes {
        let table = self.mapping.as_ref().map_or(0, |m| 2 + m.mapping.len());
        let mut b = BytesMut::with_capacity(DOPS_FIXED_LEN + table);
        b.put_u8(0); // Version
        b.put_u8(self.channels);
        b.put_u16(self.pre_skip);
        b.put_u32(self.input_sample_rate);
        b.put_i16(self.output_gain);
        b.put_u8(self.mapping_family);
        if let Some(m) = &self.mapping {
            b.put_u8(m.stream_count);
            b.put_u8(m.coupled_count);
            b.put_slice(&m.mapping);
        }
        b.freeze()
    }
}

/// Reads the ChannelMappingTable that follows the fixed fields when the family is not 0;
/// returns it and the bytes it took.
fn read_mapping(
    family: u8,
    channels: u8,
    rest: &[u8],
) -> Result<(Option<ChannelMapping>, usize), OpusError> {
    if family == 0 {
        return Ok((None, 0));
    }
    let len = 2 + usize::from(channels);
    let table = rest.get(..len).ok_or(OpusError::Truncated)?;
    let mapping = ChannelMapping {
        stream_count: table[0],
        coupled_count: table[1],
        mapping: table[2..].to_vec(),
    };
    Ok((Some(mapping), len))
}

fn check_mapping(channels: u8, m: &ChannelMapping) -> Result<(), OpusError> {
    if m.mapping.len() != usize::from(channels) {
        return Err(OpusError::BadMapping("one entry per output channel expected"));
    }
    if m.stream_count == 0 {
        return Err(OpusError::BadMapping("stream count 0"));
    }
    if m.coupled_count > m.stream_count {
        return Err(OpusError::BadMapping("more coupled streams than streams"));
    }
    let decoded = u16::from(m.stream_count) + u16::from(m.coupled_count);
    if decoded > 255 {
        return Err(OpusError::BadMapping("more than 255 decoded channels"));
    }
    if m.mapping.iter().any(|&c| c != 255 && u16::from(c) >= decoded) {
        return Err(OpusError::BadMapping("entry names no decoded channel"));
    }
    Ok(())
}

/// Duration of one frame, in 48 kHz samples, from the TOC byte's config (RFC 6716 §3.1,
/// Table 2): configs 0–11 are SILK-only (NB, MB, WB) with 10/20/40/60 ms frames, 12–15 hybrid
/// (SWB, FB) with 10/20 ms, 16–31 CELT-only (NB, WB, SWB, FB) with 2.5/5/10/20 ms.
pub fn frame_duration_48k(toc: u8) -> u32 {
    let config = usize::from(toc >> 3);
    match config {
        0..=11 => [480, 960, 1_920, 2_880][config % 4],
        12..=15 => [480, 960][config % 2],
        _ => [120, 240, 480, 960][config % 4],
    }
}

/// Duration of an Opus packet in 48 kHz samples: the TOC's frame size times its frame count
/// (RFC 6716 §3.1, "c: The number of frames in the packet": code 0 one, codes 1 and 2 two,
/// code 3 "an arbitrary number of frames" given by the frame count byte). `None` for a packet
/// that breaks any of §3.4's rules [R1]–[R7] ("A receiver MUST NOT process packets that
/// violate any of the rules above as normal Opus packets").
///
/// Opus-in-ISOBMFF §4.3.4: "The duration of Opus sample is given by multiplying the total of
/// frame sizes for a single Opus bitstream expressed in seconds by the value of the timescale
/// field", which at a 48 kHz timescale is this value.
pub fn packet_duration_48k(packet: &[u8]) -> Option<u32> {
    // [R1] "Packets are at least one byte."
    let (&toc, rest) = packet.split_first()?;
    let frames = match toc & 0x3 {
        0 => {
            // [R2] for the one implicit length.
            implicit_length_ok(rest.len())?;
            1
        }
        1 => {
            // [R3] "Code 1 packets have an odd total length, N, so that (N-1)/2 is an integer."
            if rest.len() % 2 != 0 {
                return None;
            }
            implicit_length_ok(rest.len() / 2)?;
            2
        }
        2 => {
            // [R4] "Code 2 packets have enough bytes after the TOC for a valid frame length, and
            // that length is no larger than the number of bytes remaining in the packet."
            let (first, used) = frame_length(rest)?;
            let remaining = rest.len().checked_sub(used)?;
            implicit_length_ok(remaining.checked_sub(first)?)?;
            2
        }
        _ => code3_frame_count(rest)?,
    };
    let total = frame_duration_48k(toc).checked_mul(u32::from(frames))?;
    // [R5] "Code 3 packets contain at least one frame, but no more than 120 ms of audio total."
    // (Codes 0–2 stay within it: at most two 60 ms frames.)
    (total <= MAX_PACKET_48K).then_some(total)
}

/// Frame count of a code 3 packet (`rest`: the bytes after the TOC), checking [R5]–[R7].
fn code3_frame_count(rest: &[u8]) -> Option<u8> {
    // [R6] "The length of a CBR code 3 packet, N, is at least two bytes".
    let (&count_byte, mut rest) = rest.split_first()?;
    let vbr = count_byte & 0x80 != 0;
    let padded = count_byte & 0x40 != 0;
    let m = count_byte & 0x3f;
    // [R5] "at least one frame".
    if m == 0 {
        return None;
    }
    // "Values from 0...254 indicate that 0...254 bytes of padding are included, in addition to
    // the byte(s) used to indicate the size of the padding. If the value is 255, then the size
    // of the additional padding is 254 bytes, plus the padding value encoded in the next byte."
    let mut padding = 0usize;
    if padded {
        loop {
            let (&b, r) = rest.split_first()?;
            rest = r;
            if b == 255 {
                padding += 254;
            } else {
                padding += usize::from(b);
                break;
            }
        }
    }
    // [R6] "the number of bytes added to indicate the padding size plus the trailing padding
    // bytes themselves, P, is no more than N-2"; [R7] the padding must fit as well.
    let data = rest.len().checked_sub(padding)?;
    let frames = usize::from(m);
    if vbr {
        // [R7] "VBR code 3 packets are large enough to contain all the header bytes (TOC byte,
        // frame count byte, any padding length bytes, and any frame length bytes), plus the
        // length of the first M-1 frames, plus any trailing padding bytes."
        let mut left = data;
        let mut lengths = &rest[..data];
        for _ in 1..frames {
            let (len, used) = frame_length(lengths)?;
            lengths = &lengths[used..];
            left = left.checked_sub(used)?.checked_sub(len)?;
        }
        implicit_length_ok(left)?;
    } else {
        // [R6] "(N-2-P) is a non-negative integer multiple of M".
        if data % frames != 0 {
            return None;
        }
        implicit_length_ok(data / frames)?;
    }
    Some(m)
}

/// A frame length coded in one or two bytes (RFC 6716 §3.2.1): "0: No frame (DTX or lost
/// packet); 1...251: Length of the frame in bytes; 252...255: A second byte is needed. The
/// total length is (second_byte*4)+first_byte." Returns the length and the bytes used.
fn frame_length(data: &[u8]) -> Option<(usize, usize)> {
    let first = usize::from(*data.first()?);
    if first < 252 {
        return Some((first, 1));
    }
    let second = usize::from(*data.get(1)?);
    Some((second * 4 + first, 2))
}

/// [R2] "No implicit frame length is larger than 1275 bytes."
fn implicit_length_ok(len: usize) -> Option<()> {
    (len <= MAX_FRAME_BYTES).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A packet with TOC `config`/`code` and `rest` after it.
    fn packet(config: u8, code: u8, rest: &[u8]) -> Vec<u8> {
        let mut p = vec![config << 3 | code];
        p.extend_from_slice(rest);
        p
    }

    #[test]
    fn frame_sizes_follow_table_2_for_every_config() {
        let ms_x10: Vec<u32> = (0..32u8).map(|c| frame_duration_48k(c << 3) / 48).collect();
        #[rustfmt::skip]
        let expected = [
            10, 20, 40, 60, 10, 20, 40, 60, 10, 20, 40, 60, // SILK NB, MB, WB
            10, 20, 10, 20,                                 // hybrid SWB, FB
            2, 5, 10, 20, 2, 5, 10, 20, 2, 5, 10, 20, 2, 5, 10, 20, // CELT (2.5 ms → 120/48 = 2)
        ];
        assert_eq!(ms_x10, expected);
        assert_eq!(frame_duration_48k(16 << 3), 120, "2.5 ms");
        // The stereo flag does not change the frame size.
        assert_eq!(frame_duration_48k(31 << 3 | 0x04), 960);
    }

    #[test]
    fn code_0_is_one_frame_for_every_config() {
        for config in 0..32u8 {
            let p = packet(config, 0, &[0xaa; 40]);
            assert_eq!(packet_duration_48k(&p), Some(frame_duration_48k(config << 3)));
        }
        // DTX: a TOC byte alone is one empty frame.
        assert_eq!(packet_duration_48k(&[31 << 3]), Some(960));
    }

    #[test]
    fn codes_1_and_2_are_two_frames() {
        for config in 0..32u8 {
            let f = frame_duration_48k(config << 3);
            assert_eq!(packet_duration_48k(&packet(config, 1, &[1, 2, 3, 4])), Some(2 * f));
            // Code 2: first frame 3 bytes, second the remaining 2.
            assert_eq!(packet_duration_48k(&packet(config, 2, &[3, 1, 2, 3, 4, 5])), Some(2 * f));
        }
        // 2 × 60 ms = 120 ms, the maximum, is still fine.
        assert_eq!(packet_duration_48k(&packet(3, 1, &[])), Some(5_760));
    }

    #[test]
    fn code_3_counts_frames_from_the_frame_count_byte() {
        // CBR, 3 frames of 20 ms CELT, 2 bytes each.
        assert_eq!(packet_duration_48k(&packet(31, 3, &[3, 1, 1, 2, 2, 3, 3])), Some(2_880));
        // CBR with padding: p flag, padding length 2, then 2 frames of 1 byte and the padding.
        assert_eq!(packet_duration_48k(&packet(31, 3, &[0x42, 2, 7, 8, 0, 0])), Some(1_920));
        // VBR: 3 frames, lengths 1 and 2 coded, the last takes the remaining 3.
        let vbr = packet(19, 3, &[0x83, 1, 2, 9, 8, 8, 7, 7, 7]);
        assert_eq!(packet_duration_48k(&vbr), Some(2_880));
        // 48 frames of 2.5 ms = 120 ms, the maximum.
        assert_eq!(packet_duration_48k(&packet(16, 3, &[48])), Some(5_760));
        // Padding length 255 means 254 plus the next byte: 254 + 1 = 255 padding bytes.
        let mut padded = packet(31, 3, &[0x41, 255, 1, 5]);
        padded.extend_from_slice(&[0; 255]);
        assert_eq!(packet_duration_48k(&padded), Some(960));
    }

    #[test]
    fn malformed_packets_have_no_duration() {
        let bad: Vec<(&str, Vec<u8>)> = vec![
            ("R1 empty", vec![]),
            ("R2 code 0 frame over 1275 bytes", packet(31, 0, &[0; 1_276])),
            ("R2 code 1 frames over 1275 bytes", packet(31, 1, &[0; 2_552])),
            ("R3 code 1 odd payload", packet(31, 1, &[1, 2, 3])),
            ("R4 code 2 without a length", packet(31, 2, &[])),
            ("R4 code 2 truncated two-byte length", packet(31, 2, &[252])),
            ("R4 code 2 length past the end", packet(31, 2, &[5, 1, 2])),
            ("R2 code 2 implicit second frame too long", packet(31, 2, &[0; 1_277])),
            ("R6 code 3 without a count byte", packet(31, 3, &[])),
            ("R5 code 3 zero frames", packet(31, 3, &[0])),
            ("R5 code 3 over 120 ms", packet(31, 3, &[7])),
            ("R5 code 3 over 120 ms of 60 ms SILK", packet(3, 3, &[3])),
            ("R6 code 3 CBR not a multiple", packet(31, 3, &[2, 1, 2, 3])),
            ("R6 code 3 padding length missing", packet(31, 3, &[0x41])),
            ("R6 code 3 padding continuation missing", packet(31, 3, &[0x41, 255])),
            ("R6 code 3 padding past the end", packet(31, 3, &[0x41, 9, 1, 2])),
            ("R7 code 3 VBR lengths missing", packet(31, 3, &[0x83, 1])),
            ("R7 code 3 VBR frames past the end", packet(31, 3, &[0x83, 4, 4, 1, 2])),
        ];
        for (what, p) in bad {
            assert_eq!(packet_duration_48k(&p), None, "{what}");
        }
    }

    #[test]
    fn every_short_packet_is_judged_without_panicking() {
        // Every TOC byte with every 0–2 following bytes, and a deterministic spread of longer
        // packets: a duration is never over 120 ms and never 0.
        for toc in 0..=255u8 {
            for len in 0..3usize {
                for fill in 0..=255u8 {
                    let p: Vec<u8> = std::iter::once(toc).chain((0..len).map(|_| fill)).collect();
                    if let Some(d) = packet_duration_48k(&p) {
                        assert!((120..=5_760).contains(&d), "{p:?}: {d}");
                    }
                }
            }
        }
        let mut x: u32 = 0x9e37_79b9;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let len = (x % 700) as usize;
            let p: Vec<u8> = (0..len).map(|i| (x.rotate_left(i as u32 % 32) >> 3) as u8).collect();
            if let Some(d) = packet_duration_48k(&p) {
                assert!((120..=5_760).contains(&d));
            }
        }
    }

    #[test]
    fn stereo_from_sdp_is_family_0_with_libopus_pre_skip() {
        let c = OpusConfig::from_channels(2).unwrap();
        assert_eq!(
            (c.channels(), c.pre_skip(), c.input_sample_rate(), c.output_gain()),
            (2, 312, 48_000, 0)
        );
        assert_eq!((c.mapping_family(), c.mapping()), (0, None));
        assert_eq!(c.codec_string(), "opus");
        // Version 0, 2 channels, PreSkip 0x0138, 48000 = 0x0000bb80, gain 0, family 0.
        assert_eq!(&c.dops_bytes()[..], &[0, 2, 0x01, 0x38, 0, 0, 0xbb, 0x80, 0, 0, 0]);
        assert_eq!(OpusConfig::from_channels(1).unwrap().dops_bytes()[1], 1);
        assert_eq!(OpusConfig::from_channels(0), Err(OpusError::NoChannels));
        assert_eq!(
            OpusConfig::from_channels(6),
            Err(OpusError::ChannelsForFamily { family: 0, channels: 6 })
        );
    }

    #[test]
    fn dops_round_trips_with_and_without_a_mapping_table() {
        let stereo = OpusConfig::from_channels(2).unwrap();
        assert_eq!(OpusConfig::parse_dops(stereo.dops_bytes()), Ok(stereo.clone()));
        // 5.1 as libopus's surround encoder lays it out: 4 streams, 2 coupled.
        let table =
            ChannelMapping { stream_count: 4, coupled_count: 2, mapping: vec![0, 4, 1, 2, 3, 5] };
        let surround = OpusConfig::new(6, 312, 44_100, -256, 1, Some(table.clone())).unwrap();
        let bytes = surround.dops_bytes().clone();
        assert_eq!(bytes.len(), 11 + 2 + 6);
        assert_eq!(&bytes[8..13], &[0xff, 0x00, 1, 4, 2], "gain -1.0 dB, family 1, N, M");
        let back = OpusConfig::parse_dops(&bytes).unwrap();
        assert_eq!(back, surround);
        assert_eq!(back.mapping(), Some(&table));
        assert_eq!(back.output_gain(), -256);
    }

    #[test]
    fn bad_dops_payloads_are_refused() {
        let good = OpusConfig::from_channels(2).unwrap().dops_bytes().clone();
        assert_eq!(OpusConfig::parse_dops(&good[..10]), Err(OpusError::Truncated));
        let mut v1 = good.to_vec();
        v1[0] = 1;
        assert_eq!(OpusConfig::parse_dops(&v1), Err(OpusError::DopsVersion(1)));
        let mut trailing = good.to_vec();
        trailing.push(0);
        assert_eq!(OpusConfig::parse_dops(&trailing), Err(OpusError::TrailingBytes));
        let mut no_table = good.to_vec();
        no_table[10] = 1;
        assert_eq!(OpusConfig::parse_dops(&no_table), Err(OpusError::Truncated));
        let mut zero = good.to_vec();
        zero[1] = 0;
        assert_eq!(OpusConfig::parse_dops(&zero), Err(OpusError::NoChannels));
        // Family 1 table naming decoded channel 3 of 1 stream + 1 coupled (2 channels... 0..2).
        let table = [0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 3];
        assert!(matches!(OpusConfig::parse_dops(&table), Err(OpusError::BadMapping(_))));
        let zero_streams = [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
        assert!(matches!(OpusConfig::parse_dops(&zero_streams), Err(OpusError::BadMapping(_))));
        let too_coupled = [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0];
        assert!(matches!(OpusConfig::parse_dops(&too_coupled), Err(OpusError::BadMapping(_))));
        // Family 1 allows 8 channels at most; other families need a table.
        assert_eq!(
            OpusConfig::new(9, 0, 0, 0, 1, None),
            Err(OpusError::ChannelsForFamily { family: 1, channels: 9 })
        );
        assert_eq!(OpusConfig::new(2, 0, 0, 0, 255, None), Err(OpusError::MissingMapping(255)));
        let mono = ChannelMapping { stream_count: 1, coupled_count: 0, mapping: vec![0] };
        assert_eq!(OpusConfig::new(1, 0, 0, 0, 0, Some(mono)), Err(OpusError::UnexpectedMapping));
        // Silence (255) is a valid entry.
        let silent = ChannelMapping { stream_count: 1, coupled_count: 0, mapping: vec![0, 255] };
        assert!(OpusConfig::new(2, 0, 0, 0, 255, Some(silent)).is_ok());
    }

    #[test]
    fn opus_head_is_read_little_endian() {
        // ffmpeg/libopus stereo: "OpusHead", version 1, 2 channels, pre-skip 312, 48000 Hz.
        let head = b"OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00\x00\x00\x00";
        assert_eq!(OpusConfig::from_opus_head(head), Ok(OpusConfig::from_channels(2).unwrap()));
        assert_eq!(OpusConfig::from_opus_head(&head[..18]), Err(OpusError::Truncated));
        assert_eq!(OpusConfig::from_opus_head(b"OpusTags\x01"), Err(OpusError::NotOpusHead));
        let mut v2 = head.to_vec();
        v2[8] = 0x10;
        assert_eq!(OpusConfig::from_opus_head(&v2), Err(OpusError::HeadVersion(0x10)));
        // A compatible minor version with extra bytes after the header is accepted.
        let mut v1x = head.to_vec();
        v1x[8] = 0x0f;
        v1x.extend_from_slice(b"more");
        assert_eq!(OpusConfig::from_opus_head(&v1x).map(|c| c.pre_skip()), Ok(312));
        // Family 1 with its table, mono.
        let fam1 = b"OpusHead\x01\x01\x00\x00\x80\xbb\x00\x00\x00\x00\x01\x01\x00\x00";
        let c = OpusConfig::from_opus_head(fam1).unwrap();
        assert_eq!(c.mapping().map(|m| m.mapping.clone()), Some(vec![0]));
    }
}
