//! AV1: the AV1CodecConfigurationRecord (`av1C`, AV1 Codec ISO Media File Format Binding
//! §2.3), the sequence header OBU fields CMAF sample entries and playlists need (profile, level,
//! tier, bit depth, chroma, colour, maximum frame size; AV1 spec §5.5), the `av01.P.LLT.DD`
//! codec string, and the temporal-unit helpers the demuxers use: splitting OBUs, spotting
//! random access points, and dropping the OBUs ISOBMFF samples should not carry.

use bytes::{BufMut, Bytes, BytesMut};

use super::bits::{BitReader, Truncated};
pub use super::vui::colr_values;
use super::vui::{Colour, reduced_rate};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Av1Error {
    #[error("av1C record truncated")]
    Truncated,
    #[error("av1C marker/version byte {0:#04x} is not 0x81")]
    BadVersion(u8),
    #[error("no sequence header OBU")]
    NoSequenceHeader,
    #[error("malformed sequence header: {0}")]
    BadSequenceHeader(&'static str),
    #[error("malformed OBU: {0}")]
    BadObu(&'static str),
}

/// OBU types (AV1 spec §6.2.2, Table "obu_type").
pub mod obu_type {
    pub const SEQUENCE_HEADER: u8 = 1;
    pub const TEMPORAL_DELIMITER: u8 = 2;
    pub const FRAME_HEADER: u8 = 3;
    pub const TILE_GROUP: u8 = 4;
    pub const METADATA: u8 = 5;
    pub const FRAME: u8 = 6;
    pub const REDUNDANT_FRAME_HEADER: u8 = 7;
    pub const TILE_LIST: u8 = 8;
    pub const PADDING: u8 = 15;
}

/// frame_type KEY_FRAME (§6.8.2).
const KEY_FRAME: u32 = 0;
/// The AV1CodecConfigurationRecord's first byte: "marker = 1; version = 1".
const AV1C_MARKER_VERSION: u8 = 0x81;
/// av1C fixed part before configOBUs.
const AV1C_HEADER_LEN: usize = 4;

/// One OBU inside a buffer (low overhead bitstream format, §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Obu<'a> {
    pub obu_type: u8,
    /// The whole OBU: header, size field and payload.
    pub bytes: &'a [u8],
    pub payload: &'a [u8],
}

/// Splits `data` into OBUs. "obu_has_size_field" may be 0 only on the last OBU, which then
/// fills the rest of the buffer (as in an ISOBMFF sample).
pub fn obus(data: &[u8]) -> Obus<'_> {
    Obus { data, failed: false }
}

/// Iterator returned by [`obus`]; a malformed OBU ends it with one error.
#[derive(Debug, Clone)]
pub struct Obus<'a> {
    data: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for Obus<'a> {
    type Item = Result<Obu<'a>, Av1Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.data.is_empty() {
            return None;
        }
        let r = split_obu(self.data);
        match r {
            Ok((obu, rest)) => {
                self.data = rest;
                Some(Ok(obu))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// obu_header() (§5.3.2) and obu_size, then the payload.
fn split_obu(data: &[u8]) -> Result<(Obu<'_>, &[u8]), Av1Error> {
    let header = *data.first().ok_or(Av1Error::BadObu("empty"))?;
    // "obu_forbidden_bit must be set to 0."
    if header & 0x80 != 0 {
        return Err(Av1Error::BadObu("forbidden bit set"));
    }
    let obu_type = (header >> 3) & 0x0f;
    let extension = header & 0x04 != 0;
    let has_size = header & 0x02 != 0;
    let mut pos = 1 + usize::from(extension);
    if pos > data.len() {
        return Err(Av1Error::BadObu("truncated header"));
    }
    let payload_len = if has_size {
        let (size, n) = leb128(&data[pos..]).ok_or(Av1Error::BadObu("bad obu_size"))?;
        pos += n;
        usize::try_from(size).map_err(|_| Av1Error::BadObu("obu_size too large"))?
    } else {
        data.len() - pos
    };
    let end = pos.checked_add(payload_len).ok_or(Av1Error::BadObu("obu_size too large"))?;
    if end > data.len() {
        return Err(Av1Error::BadObu("obu_size overruns the buffer"));
    }
    let obu = Obu { obu_type, bytes: &data[..end], payload: &data[pos..end] };
    Ok((obu, &data[end..]))
}

/// leb128() (§4.10.5): up to 8 bytes, "the value … shall be less than or equal to (1 << 32) − 1".
/// Returns the value and the number of bytes read.
fn leb128(data: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for i in 0..8 {
        let b = *data.get(i)?;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return (value <= u64::from(u32::MAX)).then_some((value, i + 1));
        }
    }
    None
}

/// A parsed AV1CodecConfigurationRecord plus what its sequence header OBU says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Av1Config {
    /// The record; written verbatim into `av1C`.
    pub record: Bytes,
    /// The sequence header OBU (a slice of `record`).
    pub sequence_header: Bytes,
    pub seq_profile: u8,
    pub seq_level_idx_0: u8,
    pub seq_tier_0: bool,
    /// BitDepth: 8, 10 or 12.
    pub bit_depth: u8,
    pub monochrome: bool,
    pub chroma_subsampling_x: bool,
    pub chroma_subsampling_y: bool,
    pub chroma_sample_position: u8,
    /// max_frame_width_minus_1 + 1 and max_frame_height_minus_1 + 1.
    pub width: u32,
    pub height: u32,
    /// From timing_info when it signals an equal picture interval (rarely present).
    pub frame_rate: Option<(u32, u32)>,
    /// Colour description (2 = unspecified where absent) and color_range.
    pub colour: Colour,
    /// Frame headers of such streams carry no frame type: every frame is a shown key frame.
    pub reduced_still_picture_header: bool,
}

impl Av1Config {
    /// Parses an AV1CodecConfigurationRecord. The record must carry the sequence header OBU
    /// ("if present, it SHALL be the first OBU"): Sluice needs it for size and codec string.
    pub fn parse(record: Bytes) -> Result<Self, Av1Error> {
        let header = record.get(..AV1C_HEADER_LEN).ok_or(Av1Error::Truncated)?;
        // "unsigned int(1) marker = 1; unsigned int(7) version = 1;"
        if header[0] != AV1C_MARKER_VERSION {
            return Err(Av1Error::BadVersion(header[0]));
        }
        let config_obus = &record[AV1C_HEADER_LEN..];
        let first = obus(config_obus).next().ok_or(Av1Error::NoSequenceHeader)??;
        if first.obu_type != obu_type::SEQUENCE_HEADER {
            return Err(Av1Error::NoSequenceHeader);
        }
        let seq = SequenceHeader::parse(first.payload)?;
        let sequence_header = record.slice_ref(first.bytes);
        Ok(Self::from_parts(record, sequence_header, &seq))
    }

    /// Builds a record from a sequence header OBU found in-band (a temporal unit that carries
    /// one), when no av1C was sent. The OBU is copied with its size field.
    pub fn from_sequence_header(obu: &[u8]) -> Result<Self, Av1Error> {
        let (first, _) = split_obu(obu)?;
        if first.obu_type != obu_type::SEQUENCE_HEADER {
            return Err(Av1Error::NoSequenceHeader);
        }
        let seq = SequenceHeader::parse(first.payload)?;
        let mut rec = BytesMut::with_capacity(AV1C_HEADER_LEN + first.bytes.len() + 8);
        rec.put_u8(AV1C_MARKER_VERSION);
        rec.put_u8(seq.seq_profile << 5 | seq.seq_level_idx_0);
        rec.put_u8(
            u8::from(seq.seq_tier_0) << 7
                | u8::from(seq.high_bitdepth) << 6
                | u8::from(seq.twelve_bit) << 5
                | u8::from(seq.monochrome) << 4
                | u8::from(seq.subsampling_x) << 3
                | u8::from(seq.subsampling_y) << 2
                | seq.chroma_sample_position,
        );
        // "initial_presentation_delay_present" = 0, reserved.
        rec.put_u8(0);
        // configOBUs: "The flag obu_has_size_field SHALL be set to 1".
        rec.put_u8((first.bytes[0] | 0x02) & !0x04);
        put_leb128(&mut rec, first.payload.len());
        rec.put_slice(first.payload);
        let record = rec.freeze();
        let sequence_header = record.slice(AV1C_HEADER_LEN..);
        Ok(Self::from_parts(record, sequence_header, &seq))
    }

    fn from_parts(record: Bytes, sequence_header: Bytes, seq: &SequenceHeader) -> Self {
        Self {
            record,
            sequence_header,
            seq_profile: seq.seq_profile,
            seq_level_idx_0: seq.seq_level_idx_0,
            seq_tier_0: seq.seq_tier_0,
            bit_depth: seq.bit_depth,
            monochrome: seq.monochrome,
            chroma_subsampling_x: seq.subsampling_x,
            chroma_subsampling_y: seq.subsampling_y,
            chroma_sample_position: seq.chroma_sample_position,
            width: seq.max_frame_width,
            height: seq.max_frame_height,
            frame_rate: seq.frame_rate,
            colour: seq.colour,
            reduced_still_picture_header: seq.reduced_still_picture_header,
        }
    }

    /// Codecs parameter string (AV1-ISOBMFF §5): `av01.P.LLT.DD`, then
    /// `.M.CCC.cp.tc.mc.F` unless those are all defaults ("If the codecs parameter string ends
    /// with ".0.110.01.01.01.0" … that trailing part of the string SHOULD be omitted"). Colour
    /// values follow the `colr` box Sluice writes, which replaces unspecified (2) with BT.709.
    pub fn codec_string(&self) -> String {
        let mut s = format!(
            "av01.{}.{:02}{}.{:02}",
            self.seq_profile,
            self.seq_level_idx_0,
            if self.seq_tier_0 { 'H' } else { 'M' },
            self.bit_depth
        );
        let c = colr_values(self.colour);
        // "If both subsampling_x and subsampling_y are set to 1, then the third digit SHALL be
        // equal to chroma_sample_position, otherwise it SHALL be set to 0."
        let csp = if self.chroma_subsampling_x && self.chroma_subsampling_y {
            self.chroma_sample_position
        } else {
            0
        };
        let tail = format!(
            ".{}.{}{}{}.{:02}.{:02}.{:02}.{}",
            u8::from(self.monochrome),
            u8::from(self.chroma_subsampling_x),
            u8::from(self.chroma_subsampling_y),
            csp,
            c.primaries,
            c.transfer,
            c.matrix,
            u8::from(c.full_range)
        );
        if tail != ".0.110.01.01.01.0" {
            s.push_str(&tail);
        }
        s
    }
}

fn put_leb128(b: &mut BytesMut, mut v: usize) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            b.put_u8(byte);
            return;
        }
        b.put_u8(byte | 0x80);
    }
}

/// The sequence header OBU fields Sluice uses (§5.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceHeader {
    pub seq_profile: u8,
    pub reduced_still_picture_header: bool,
    pub seq_level_idx_0: u8,
    pub seq_tier_0: bool,
    pub frame_rate: Option<(u32, u32)>,
    pub max_frame_width: u32,
    pub max_frame_height: u32,
    pub high_bitdepth: bool,
    pub twelve_bit: bool,
    pub bit_depth: u8,
    pub monochrome: bool,
    pub subsampling_x: bool,
    pub subsampling_y: bool,
    pub chroma_sample_position: u8,
    pub colour: Colour,
}

impl SequenceHeader {
    /// Parses a sequence_header_obu() payload.
    pub fn parse(payload: &[u8]) -> Result<Self, Av1Error> {
        parse_sequence_header(payload)
            .map_err(|Truncated| Av1Error::BadSequenceHeader("truncated"))?
    }
}

fn parse_sequence_header(p: &[u8]) -> Result<Result<SequenceHeader, Av1Error>, Truncated> {
    let mut r = BitReader::new(p);
    let seq_profile = r.read_bits(3)? as u8;
    // "seq_profile … Values 3..7 are reserved" (§6.4.1, profiles Main, High, Professional).
    if seq_profile > 2 {
        return Ok(Err(Av1Error::BadSequenceHeader("reserved seq_profile")));
    }
    let _still_picture = r.read_flag()?;
    let reduced_still_picture_header = r.read_flag()?;
    let mut frame_rate = None;
    let seq_level_idx_0;
    let mut seq_tier_0 = false;
    if reduced_still_picture_header {
        seq_level_idx_0 = r.read_bits(5)? as u8;
    } else {
        let timing_info_present = r.read_flag()?;
        let mut decoder_model_info_present = false;
        let mut buffer_delay_length = 0;
        if timing_info_present {
            // timing_info( )
            let num_units_in_display_tick = r.read_bits(32)?;
            let time_scale = r.read_bits(32)?;
            if r.read_flag()? {
                // equal_picture_interval: num_ticks_per_picture_minus_1 uvlc()
                let ticks = read_uvlc(&mut r)?;
                let den = u64::from(num_units_in_display_tick) * (u64::from(ticks) + 1);
                frame_rate = reduced_rate(u64::from(time_scale), den);
            }
            decoder_model_info_present = r.read_flag()?;
            if decoder_model_info_present {
                // decoder_model_info( )
                buffer_delay_length = r.read_bits(5)? + 1;
                let _num_units_in_decoding_tick = r.read_bits(32)?;
                let _buffer_removal_time_length_minus_1 = r.read_bits(5)?;
                let _frame_presentation_time_length_minus_1 = r.read_bits(5)?;
            }
        }
        let initial_display_delay_present = r.read_flag()?;
        let operating_points = r.read_bits(5)? + 1;
        let mut first = None;
        for _ in 0..operating_points {
            let _operating_point_idc = r.read_bits(12)?;
            let level = r.read_bits(5)? as u8;
            // "if ( seq_level_idx[ i ] > 7 ) seq_tier[ i ] f(1)"
            let tier = level > 7 && r.read_flag()?;
            first.get_or_insert((level, tier));
            if decoder_model_info_present && r.read_flag()? {
                // operating_parameters_info( op ): two n-bit delays and low_delay_mode_flag.
                r.skip_bits(2 * buffer_delay_length as usize + 1)?;
            }
            if initial_display_delay_present && r.read_flag()? {
                let _initial_display_delay_minus_1 = r.read_bits(4)?;
            }
        }
        // operating_points ≥ 1, so the loop ran at least once.
        let (level, tier) = first.unwrap_or((0, false));
        seq_level_idx_0 = level;
        seq_tier_0 = tier;
    }
    let frame_width_bits = r.read_bits(4)? + 1;
    let frame_height_bits = r.read_bits(4)? + 1;
    let max_frame_width = r.read_bits(frame_width_bits)?.saturating_add(1);
    let max_frame_height = r.read_bits(frame_height_bits)?.saturating_add(1);
    let frame_id_numbers_present = !reduced_still_picture_header && r.read_flag()?;
    if frame_id_numbers_present {
        // delta_frame_id_length_minus_2 f(4), additional_frame_id_length_minus_1 f(3)
        r.skip_bits(7)?;
    }
    // use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    r.skip_bits(3)?;
    if !reduced_still_picture_header {
        // enable_interintra_compound, enable_masked_compound, enable_warped_motion,
        // enable_dual_filter
        r.skip_bits(4)?;
        let enable_order_hint = r.read_flag()?;
        if enable_order_hint {
            // enable_jnt_comp, enable_ref_frame_mvs
            r.skip_bits(2)?;
        }
        let seq_choose_screen_content_tools = r.read_flag()?;
        // "if ( seq_choose_screen_content_tools ) seq_force_screen_content_tools =
        // SELECT_SCREEN_CONTENT_TOOLS else seq_force_screen_content_tools f(1)"
        let force_screen_content_tools = seq_choose_screen_content_tools || r.read_flag()?;
        if force_screen_content_tools {
            let seq_choose_integer_mv = r.read_flag()?;
            if !seq_choose_integer_mv {
                let _seq_force_integer_mv = r.read_flag()?;
            }
        }
        if enable_order_hint {
            let _order_hint_bits_minus_1 = r.read_bits(3)?;
        }
    }
    // enable_superres, enable_cdef, enable_restoration
    r.skip_bits(3)?;
    // color_config( ) (§5.5.2)
    let high_bitdepth = r.read_flag()?;
    let mut twelve_bit = false;
    let bit_depth = if seq_profile == 2 && high_bitdepth {
        twelve_bit = r.read_flag()?;
        if twelve_bit { 12 } else { 10 }
    } else if high_bitdepth {
        10
    } else {
        8
    };
    let monochrome = seq_profile != 1 && r.read_flag()?;
    let (mut primaries, mut transfer, mut matrix) = (2u8, 2u8, 2u8);
    if r.read_flag()? {
        // color_description_present_flag
        primaries = r.read_bits(8)? as u8;
        transfer = r.read_bits(8)? as u8;
        matrix = r.read_bits(8)? as u8;
    }
    let (full_range, subsampling_x, subsampling_y, chroma_sample_position);
    if monochrome {
        full_range = r.read_flag()?;
        (subsampling_x, subsampling_y, chroma_sample_position) = (true, true, 0);
    } else if primaries == 1 && transfer == 13 && matrix == 0 {
        // "CP_BT_709 … TC_SRGB … MC_IDENTITY": 4:4:4, full range.
        full_range = true;
        (subsampling_x, subsampling_y, chroma_sample_position) = (false, false, 0);
    } else {
        full_range = r.read_flag()?;
        let (sx, sy) = match seq_profile {
            0 => (true, true),
            1 => (false, false),
            _ if bit_depth == 12 => {
                let sx = r.read_flag()?;
                (sx, sx && r.read_flag()?)
            }
            _ => (true, false),
        };
        subsampling_x = sx;
        subsampling_y = sy;
        chroma_sample_position = if sx && sy { r.read_bits(2)? as u8 } else { 0 };
    }
    Ok(Ok(SequenceHeader {
        seq_profile,
        reduced_still_picture_header,
        seq_level_idx_0,
        seq_tier_0,
        frame_rate,
        max_frame_width,
        max_frame_height,
        high_bitdepth,
        twelve_bit,
        bit_depth,
        monochrome,
        subsampling_x,
        subsampling_y,
        chroma_sample_position,
        colour: Colour { primaries, transfer, matrix, full_range },
    }))
}

/// uvlc() (§4.10.3).
fn read_uvlc(r: &mut BitReader<'_>) -> Result<u32, Truncated> {
    let mut leading_zeros = 0u32;
    while !r.read_flag()? {
        leading_zeros += 1;
        if leading_zeros >= 32 {
            return Ok(u32::MAX);
        }
    }
    let value = r.read_bits(leading_zeros)?;
    Ok(value.saturating_add((1u32 << leading_zeros) - 1))
}

/// What [`scan_temporal_unit`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemporalUnitInfo {
    pub obus: usize,
    /// The first frame is a key frame with show_frame = 1: a random access point.
    pub key_frame: bool,
    /// The offset of the first sequence header OBU, if any.
    pub sequence_header_at: Option<usize>,
    /// Temporal delimiter or padding OBUs present (which ISOBMFF samples "SHOULD NOT" carry).
    pub droppable_obus: usize,
}

/// Checks that a temporal unit splits into OBUs and finds whether its first frame is a shown
/// key frame. "If an AV1 Sample is signaled as a sync sample … Its first frame is a Key Frame
/// that has show_frame flag set to 1"; the sequence header may come from `av1C` ("From any
/// sync sample, an AV1 bitstream is formed by first outputting the OBUs contained in the
/// AV1CodecConfigurationBox").
pub fn scan_temporal_unit(
    data: &[u8],
    reduced_still_picture_header: bool,
) -> Result<TemporalUnitInfo, Av1Error> {
    let mut info =
        TemporalUnitInfo { obus: 0, key_frame: false, sequence_header_at: None, droppable_obus: 0 };
    let mut seen_frame = false;
    let mut offset = 0;
    for obu in obus(data) {
        let obu = obu?;
        info.obus += 1;
        match obu.obu_type {
            obu_type::SEQUENCE_HEADER => {
                info.sequence_header_at.get_or_insert(offset);
            }
            obu_type::TEMPORAL_DELIMITER | obu_type::PADDING => info.droppable_obus += 1,
            obu_type::TILE_LIST => return Err(Av1Error::BadObu("tile list OBUs are not allowed")),
            obu_type::FRAME | obu_type::FRAME_HEADER if !seen_frame => {
                seen_frame = true;
                info.key_frame = reduced_still_picture_header || is_shown_key_frame(obu.payload);
            }
            _ => {}
        }
        offset += obu.bytes.len();
    }
    Ok(info)
}

/// uncompressed_header( ) start (§5.9.2) when reduced_still_picture_header is 0:
/// "show_existing_frame f(1)", then "frame_type f(2)", "show_frame f(1)".
fn is_shown_key_frame(frame_header: &[u8]) -> bool {
    let mut r = BitReader::new(frame_header);
    let read = |r: &mut BitReader<'_>| -> Result<bool, Truncated> {
        if r.read_flag()? {
            // show_existing_frame: shows an earlier frame; not a random access point here.
            return Ok(false);
        }
        let frame_type = r.read_bits(2)?;
        let show_frame = r.read_flag()?;
        Ok(frame_type == KEY_FRAME && show_frame)
    };
    read(&mut r).unwrap_or(false)
}

/// The temporal unit without temporal delimiter and padding OBUs ("OBUs of type
/// OBU_TEMPORAL_DELIMITER, OBU_PADDING, or OBU_REDUNDANT_FRAME_HEADER SHOULD NOT be used").
/// Zero-copy when the kept OBUs are contiguous (the usual leading temporal delimiter).
pub fn strip_droppable_obus(data: &Bytes) -> Result<Bytes, Av1Error> {
    let mut kept: Vec<(usize, usize)> = Vec::new();
    let mut offset = 0;
    for obu in obus(data) {
        let obu = obu?;
        let end = offset + obu.bytes.len();
        if !matches!(obu.obu_type, obu_type::TEMPORAL_DELIMITER | obu_type::PADDING) {
            match kept.last_mut() {
                Some(last) if last.1 == offset => last.1 = end,
                _ => kept.push((offset, end)),
            }
        }
        offset = end;
    }
    Ok(match kept.as_slice() {
        [] => Bytes::new(),
        [(start, end)] => data.slice(*start..*end),
        ranges => {
            let mut out = BytesMut::with_capacity(data.len());
            for &(start, end) in ranges {
                out.put_slice(&data[start..end]);
            }
            out.freeze()
        }
    })
}

/// Real AV1 configuration for this crate's unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    /// The av1C ffmpeg 5.1 writes for an SVT-AV1 1.4.1 encode (`ffmpeg -f lavfi -i
    /// testsrc2=size=320x240:rate=30 -t 2 -c:v libsvtav1 -preset 10 -g 30 out.mp4`): Main
    /// profile, level 2.0 (seq_level_idx 0), 8-bit 4:2:0, 320x240, no colour description.
    pub const SVT_AV1C: &[u8] = &[
        0x81, 0x00, 0x0c, 0x00, 0x0a, 0x0b, 0x00, 0x00, 0x00, 0x04, 0x3c, 0xff, 0xbc, 0x02, 0xf8,
        0x00, 0x40,
    ];
}

#[cfg(test)]
mod tests {
    use super::fixtures::SVT_AV1C;
    use super::*;

    #[test]
    fn parses_svt_av1c_and_sequence_header() {
        let c = Av1Config::parse(Bytes::from_static(SVT_AV1C)).unwrap();
        assert_eq!(c.codec_string(), "av01.0.00M.08");
        assert_eq!((c.width, c.height), (320, 240));
        assert_eq!((c.seq_profile, c.seq_level_idx_0, c.seq_tier_0, c.bit_depth), (0, 0, false, 8));
        assert!(c.chroma_subsampling_x && c.chroma_subsampling_y && !c.monochrome);
        assert_eq!(c.colour, Colour { primaries: 2, transfer: 2, matrix: 2, full_range: false });
        assert_eq!(&c.sequence_header[..], &SVT_AV1C[4..]);
        assert_eq!(c.frame_rate, None);
    }

    #[test]
    fn record_from_in_band_sequence_header_matches_ffmpeg() {
        let c = Av1Config::from_sequence_header(&SVT_AV1C[4..]).unwrap();
        assert_eq!(&c.record[..], SVT_AV1C);
        // An OBU without a size field (last in a sample) gets one in av1C.
        let mut no_size = vec![0x08];
        no_size.extend_from_slice(&SVT_AV1C[6..]);
        assert_eq!(&Av1Config::from_sequence_header(&no_size).unwrap().record[..], SVT_AV1C);
        assert_eq!(Av1Config::from_sequence_header(&[0x12, 0x00]), Err(Av1Error::NoSequenceHeader));
    }

    #[test]
    fn codec_string_carries_non_default_colour_and_chroma() {
        let mut c = Av1Config::parse(Bytes::from_static(SVT_AV1C)).unwrap();
        // The specification's example: 10-bit BT.2100 PQ, level 3.0 (4), chroma position 2.
        c.seq_level_idx_0 = 4;
        c.bit_depth = 10;
        c.chroma_sample_position = 2;
        c.colour = Colour { primaries: 9, transfer: 16, matrix: 9, full_range: false };
        assert_eq!(c.codec_string(), "av01.0.04M.10.0.112.09.16.09.0");
        c.seq_tier_0 = true;
        c.seq_level_idx_0 = 13;
        c.chroma_sample_position = 0;
        c.colour = Colour { primaries: 1, transfer: 1, matrix: 1, full_range: false };
        assert_eq!(c.codec_string(), "av01.0.13H.10");
    }

    #[test]
    fn record_errors_are_reported() {
        assert_eq!(Av1Config::parse(Bytes::new()), Err(Av1Error::Truncated));
        assert_eq!(
            Av1Config::parse(Bytes::from_static(&[0x01, 0, 0x0c, 0])),
            Err(Av1Error::BadVersion(1))
        );
        assert_eq!(
            Av1Config::parse(Bytes::from_static(&[0x81, 0, 0x0c, 0])),
            Err(Av1Error::NoSequenceHeader)
        );
        assert_eq!(
            Av1Config::parse(Bytes::from_static(&SVT_AV1C[..10])),
            Err(Av1Error::BadObu("obu_size overruns the buffer"))
        );
        let mut short = SVT_AV1C[..8].to_vec();
        short[5] = 2;
        assert_eq!(
            Av1Config::parse(Bytes::from(short)),
            Err(Av1Error::BadSequenceHeader("truncated"))
        );
    }

    #[test]
    fn leb128_sizes_decode_and_encode() {
        assert_eq!(leb128(&[0x05]), Some((5, 1)));
        assert_eq!(leb128(&[0x80 | 0x2c, 0x02]), Some((300, 2)));
        assert_eq!(leb128(&[0x80, 0x80]), None);
        assert_eq!(leb128(&[0xff, 0xff, 0xff, 0xff, 0x7f]), None, "over 2^32 - 1");
        let mut b = BytesMut::new();
        put_leb128(&mut b, 300);
        assert_eq!(&b[..], &[0xac, 0x02]);
    }

    #[test]
    fn temporal_units_are_scanned_and_stripped() {
        // TD, sequence header, FRAME (key, shown: bits 0 00 1 → 0x10), padding.
        let mut tu = vec![0x12, 0x00];
        tu.extend_from_slice(&SVT_AV1C[4..]);
        tu.extend_from_slice(&[0x32, 0x02, 0x10, 0xaa, 0x7a, 0x01, 0x00]);
        let info = scan_temporal_unit(&tu, false).unwrap();
        assert_eq!(
            info,
            TemporalUnitInfo {
                obus: 4,
                key_frame: true,
                sequence_header_at: Some(2),
                droppable_obus: 2
            }
        );
        let stripped = strip_droppable_obus(&Bytes::from(tu.clone())).unwrap();
        assert_eq!(&stripped[..], &tu[2..tu.len() - 3]);
        // Inter frame (frame_type 1 → 0x30), then show_existing_frame (0x80): not key.
        assert!(!scan_temporal_unit(&[0x32, 0x01, 0x30], false).unwrap().key_frame);
        assert!(!scan_temporal_unit(&[0x1a, 0x01, 0x80], false).unwrap().key_frame);
        // Hidden key frame (show_frame 0 → 0x00) is not a random access point.
        assert!(!scan_temporal_unit(&[0x32, 0x01, 0x00], false).unwrap().key_frame);
        // Last OBU without size field fills the rest.
        assert_eq!(scan_temporal_unit(&[0x30, 0x10, 0xaa], false).unwrap().obus, 1);
        assert!(scan_temporal_unit(&[0x32, 0x05, 0x10], false).is_err());
        assert!(scan_temporal_unit(&[0x92, 0x00], false).is_err());
        // Padding between frames forces a copy; kept OBUs stay in order.
        let tu = [0x32, 0x01, 0x10, 0x7a, 0x00, 0x32, 0x01, 0x30];
        assert_eq!(
            &strip_droppable_obus(&Bytes::copy_from_slice(&tu)).unwrap()[..],
            &[0x32, 0x01, 0x10, 0x32, 0x01, 0x30]
        );
    }
}
