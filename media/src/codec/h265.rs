//! H.265/HEVC: HEVCDecoderConfigurationRecord (`hvcC`, ISO/IEC 14496-15 §8.3.3), building one
//! from bare VPS/SPS/PPS (what the MPEG-TS demuxer has), the SPS fields CMAF sample entries and
//! playlists need (size, frame rate, sample aspect ratio, colour), the ISO/IEC 14496-15 Annex E
//! codec string (`hvc1.1.6.L93.B0`), and the sample helpers the demuxers use to spot IRAP
//! pictures in length-prefixed samples.

use bytes::{BufMut, Bytes, BytesMut};

use super::bits::{BitReader, ByteReader, Truncated};
use super::nal::{self, NalError, unescape_rbsp};
use super::vui::{Colour, parse_vui_head, reduced_rate};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum H265Error {
    #[error("hvcC record truncated")]
    Truncated,
    #[error("hvcC configurationVersion {0} is not 1")]
    BadVersion(u8),
    #[error("no {0} parameter set")]
    Missing(&'static str),
    #[error("malformed SPS: {0}")]
    BadSps(&'static str),
    #[error("hvcC lengthSizeMinusOne {0} is not 0, 1 or 3")]
    BadLengthSize(u8),
    #[error("parameter set of {0} bytes does not fit hvcC's 16-bit length")]
    TooLong(usize),
    #[error("NAL unit length {len} overruns the {left} bytes left in the sample")]
    BadNalLength { len: usize, left: usize },
}

impl From<NalError> for H265Error {
    fn from(e: NalError) -> Self {
        match e {
            NalError::BadLengthSize(n) => H265Error::BadLengthSize(n),
            NalError::BadNalLength { len, left } => H265Error::BadNalLength { len, left },
        }
    }
}

/// NAL unit types (ITU-T H.265 Table 7-1) this crate looks at.
pub mod nal_type {
    pub const TRAIL_N: u8 = 0;
    pub const TRAIL_R: u8 = 1;
    pub const RASL_N: u8 = 8;
    pub const RASL_R: u8 = 9;
    pub const BLA_W_LP: u8 = 16;
    pub const BLA_W_RADL: u8 = 17;
    pub const BLA_N_LP: u8 = 18;
    pub const IDR_W_RADL: u8 = 19;
    pub const IDR_N_LP: u8 = 20;
    pub const CRA_NUT: u8 = 21;
    /// RSV_IRAP_VCL22..23: reserved IRAP types.
    pub const RSV_IRAP_23: u8 = 23;
    pub const VPS: u8 = 32;
    pub const SPS: u8 = 33;
    pub const PPS: u8 = 34;
    pub const AUD: u8 = 35;
    pub const EOS: u8 = 36;
    pub const EOB: u8 = 37;
    pub const FD: u8 = 38;
    pub const PREFIX_SEI: u8 = 39;
    pub const SUFFIX_SEI: u8 = 40;
}

/// "NAL units with nal_unit_type in the range of BLA_W_LP to RSV_IRAP_VCL23, inclusive" are
/// IRAP pictures (H.265 §3.73): BLA, IDR, CRA and the two reserved IRAP types.
pub fn is_irap(nal_type: u8) -> bool {
    (nal_type::BLA_W_LP..=nal_type::RSV_IRAP_23).contains(&nal_type)
}

/// The nal_unit_type of a NAL unit: "forbidden_zero_bit f(1), nal_unit_type u(6),
/// nuh_layer_id u(6), nuh_temporal_id_plus1 u(3)" (§7.3.1.2).
pub fn nal_unit_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| (b >> 1) & 0x3f)
}

/// The nuh_layer_id of a NAL unit (0 for the base layer).
fn nuh_layer_id(nal: &[u8]) -> Option<u8> {
    match nal {
        [a, b, ..] => Some(((a & 0x01) << 5) | (b >> 3)),
        _ => None,
    }
}

/// hvcC fixed part before the arrays: 22 bytes of profile/format fields plus numOfArrays.
const HVCC_HEADER_LEN: usize = 23;

/// A parsed HEVCDecoderConfigurationRecord plus what its first SPS says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HevcConfig {
    /// The record; written verbatim into `hvcC`. [`Self::with_four_byte_lengths`] gives the
    /// form [`crate::AccessUnit`]s use (4-byte NAL lengths).
    pub record: Bytes,
    pub vps: Vec<Bytes>,
    pub sps: Vec<Bytes>,
    pub pps: Vec<Bytes>,
    /// Bytes per NAL length prefix (1, 2 or 4).
    pub nal_length_size: u8,
    /// Cropped (conformance window) picture size in pixels.
    pub width: u32,
    pub height: u32,
    /// Frame rate from VUI timing info as (num, den), when signalled.
    pub frame_rate: Option<(u32, u32)>,
    pub general_profile_space: u8,
    pub general_tier_flag: bool,
    pub general_profile_idc: u8,
    /// general_profile_compatibility_flag[0..32], flag 0 in the most significant bit.
    pub general_profile_compatibility_flags: u32,
    /// The 48 bits from general_progressive_source_flag on, as in hvcC.
    pub general_constraint_indicator_flags: [u8; 6],
    pub general_level_idc: u8,
    pub chroma_format_idc: u8,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
}

impl HevcConfig {
    /// Parses an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1.2) and its first SPS.
    pub fn parse(record: Bytes) -> Result<Self, H265Error> {
        let header = record.get(..HVCC_HEADER_LEN).ok_or(H265Error::Truncated)?;
        // "unsigned int(8) configurationVersion = 1;"
        if header[0] != 1 {
            return Err(H265Error::BadVersion(header[0]));
        }
        // "bit(6) reserved = '111111'b; unsigned int(2) lengthSizeMinusOne;" … "The value of
        // this field shall be one of 0, 1, or 3 corresponding to a length encoded with 1, 2,
        // or 4 bytes, respectively."
        let length_size_minus_one = header[21] & 0x03;
        if length_size_minus_one == 2 {
            return Err(H265Error::BadLengthSize(length_size_minus_one));
        }
        let num_arrays = header[22];
        let (mut vps, mut sps, mut pps) = (Vec::new(), Vec::new(), Vec::new());
        let mut r = ByteReader::at(&record, HVCC_HEADER_LEN);
        for _ in 0..num_arrays {
            // "bit(1) array_completeness; unsigned int(1) reserved = 0;
            // unsigned int(6) NAL_unit_type; unsigned int(16) numNalus;"
            let kind = r.u8().ok_or(H265Error::Truncated)? & 0x3f;
            let count = r.u16().ok_or(H265Error::Truncated)?;
            for _ in 0..count {
                // "unsigned int(16) nalUnitLength; bit(8*nalUnitLength) nalUnit;"
                let nal = r.u16_prefixed().ok_or(H265Error::Truncated)?;
                match kind {
                    nal_type::VPS => vps.push(nal),
                    nal_type::SPS => sps.push(nal),
                    nal_type::PPS => pps.push(nal),
                    // SEI arrays (and anything else) stay in the record only.
                    _ => {}
                }
            }
        }
        let info = Sps::parse(sps.first().ok_or(H265Error::Missing("SPS"))?)?;
        let ptl = &header[1..13];
        Ok(Self {
            record: record.clone(),
            vps,
            sps,
            pps,
            nal_length_size: length_size_minus_one + 1,
            width: info.width,
            height: info.height,
            frame_rate: info.frame_rate,
            // "unsigned int(2) general_profile_space; unsigned int(1) general_tier_flag;
            // unsigned int(5) general_profile_idc;"
            general_profile_space: ptl[0] >> 6,
            general_tier_flag: ptl[0] & 0x20 != 0,
            general_profile_idc: ptl[0] & 0x1f,
            general_profile_compatibility_flags: u32::from_be_bytes([
                ptl[1], ptl[2], ptl[3], ptl[4],
            ]),
            general_constraint_indicator_flags: [ptl[5], ptl[6], ptl[7], ptl[8], ptl[9], ptl[10]],
            general_level_idc: ptl[11],
            // "bit(6) reserved = '111111'b; unsigned int(2) chromaFormat;" etc.
            chroma_format_idc: header[16] & 0x03,
            bit_depth_luma: (header[17] & 0x07) + 8,
            bit_depth_chroma: (header[18] & 0x07) + 8,
        })
    }

    /// Builds a record with 4-byte NAL lengths from bare parameter sets (NAL units with their
    /// 2-byte header, emulation prevention in place), as an Annex B demuxer finds them. Profile,
    /// tier, level, chroma format and bit depths come from the first base-layer SPS.
    pub fn from_parameter_sets(
        vps: &[Bytes],
        sps: &[Bytes],
        pps: &[Bytes],
    ) -> Result<Self, H265Error> {
        if vps.is_empty() {
            return Err(H265Error::Missing("VPS"));
        }
        if pps.is_empty() {
            return Err(H265Error::Missing("PPS"));
        }
        let info = Sps::parse(sps.first().ok_or(H265Error::Missing("SPS"))?)?;
        let nal_bytes: usize = vps.iter().chain(sps).chain(pps).map(|n| n.len() + 2).sum();
        let mut rec = BytesMut::with_capacity(HVCC_HEADER_LEN + 9 + nal_bytes);
        rec.put_u8(1); // configurationVersion
        rec.put_u8(
            info.general_profile_space << 6
                | u8::from(info.general_tier_flag) << 5
                | info.general_profile_idc,
        );
        rec.put_u32(info.general_profile_compatibility_flags);
        rec.put_slice(&info.general_constraint_indicator_flags);
        rec.put_u8(info.general_level_idc);
        // "bit(4) reserved = '1111'b; unsigned int(12) min_spatial_segmentation_idc;" — 0:
        // no guarantee is made (the VUI's bitstream_restriction is not consulted).
        rec.put_u16(0xf000);
        // "bit(6) reserved = '111111'b; unsigned int(2) parallelismType;" — 0: unknown.
        rec.put_u8(0xfc);
        rec.put_u8(0xfc | info.chroma_format_idc);
        rec.put_u8(0xf8 | (info.bit_depth_luma - 8));
        rec.put_u8(0xf8 | (info.bit_depth_chroma - 8));
        // "bit(16) avgFrameRate" — "Value 0 indicates an unspecified average frame rate."
        rec.put_u16(0);
        // "bit(2) constantFrameRate; bit(3) numTemporalLayers; bit(1) temporalIdNested;
        // unsigned int(2) lengthSizeMinusOne;"
        rec.put_u8((info.max_sub_layers & 0x07) << 3 | u8::from(info.temporal_id_nested) << 2 | 3);
        rec.put_u8(3); // numOfArrays
        for (kind, nals) in [(nal_type::VPS, vps), (nal_type::SPS, sps), (nal_type::PPS, pps)] {
            // "when the sample entry name is 'hvc1', the default and mandatory value of
            // array_completeness is 1 for arrays of all types of parameter sets"
            rec.put_u8(0x80 | kind);
            let count = u16::try_from(nals.len()).map_err(|_| H265Error::TooLong(nals.len()))?;
            rec.put_u16(count);
            for nal in nals {
                nal::put_parameter_set(&mut rec, nal).map_err(H265Error::TooLong)?;
            }
        }
        Self::parse(rec.freeze())
    }

    /// ISO/IEC 14496-15 Annex E codec string, e.g. `hvc1.1.6.L93.B0`: profile space letter
    /// (none, A, B, C) and profile_idc; the 32 compatibility flags "in reverse bit order" in
    /// hex without leading zeros; L or H for the tier and the level_idc; then the six
    /// constraint bytes in hex, "trailing bytes that are zero may be omitted".
    pub fn codec_string(&self) -> String {
        let space = match self.general_profile_space {
            1 => "A",
            2 => "B",
            3 => "C",
            _ => "",
        };
        let mut s = format!(
            "hvc1.{space}{}.{:X}.{}{}",
            self.general_profile_idc,
            self.general_profile_compatibility_flags.reverse_bits(),
            if self.general_tier_flag { 'H' } else { 'L' },
            self.general_level_idc,
        );
        let flags = &self.general_constraint_indicator_flags;
        let used = flags.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        for b in &flags[..used] {
            s.push_str(&format!(".{b:X}"));
        }
        s
    }

    /// The full parse of the first SPS (sample aspect ratio, colour description, …).
    pub fn first_sps(&self) -> Result<Sps, H265Error> {
        Sps::parse(self.sps.first().ok_or(H265Error::Missing("SPS"))?)
    }

    /// The same configuration with 4-byte NAL length prefixes, the form [`crate::AccessUnit`]
    /// carries: the record's `lengthSizeMinusOne` is rewritten to 3. Samples must be converted
    /// with [`to_four_byte_lengths`].
    pub fn with_four_byte_lengths(&self) -> Self {
        if self.nal_length_size == 4 {
            return self.clone();
        }
        // parse() proved the record has at least HVCC_HEADER_LEN bytes; lengthSizeMinusOne is
        // in byte 21.
        let (record, [vps, sps, pps]) =
            nal::with_four_byte_lengths(&self.record, 21, [&self.vps, &self.sps, &self.pps]);
        Self { record, vps, sps, pps, nal_length_size: 4, ..self.clone() }
    }
}

/// The sequence parameter set fields Sluice uses (H.265 §7.3.2.2.1, §7.3.3, §E.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sps {
    /// sps_max_sub_layers_minus1 + 1.
    pub max_sub_layers: u8,
    pub temporal_id_nested: bool,
    pub general_profile_space: u8,
    pub general_tier_flag: bool,
    pub general_profile_idc: u8,
    pub general_profile_compatibility_flags: u32,
    pub general_constraint_indicator_flags: [u8; 6],
    pub general_level_idc: u8,
    pub chroma_format_idc: u8,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    /// Picture size after the conformance window.
    pub width: u32,
    pub height: u32,
    /// Frame rate from VUI timing info as (num, den) reduced, when signalled.
    pub frame_rate: Option<(u32, u32)>,
    /// Sample aspect ratio (h, v) from the VUI, when signalled.
    pub sample_aspect_ratio: Option<(u16, u16)>,
    /// VUI colour description, when signalled.
    pub colour: Option<Colour>,
}

impl Sps {
    /// Parses one base-layer SPS NAL unit (2-byte NAL header included, emulation prevention in
    /// place).
    pub fn parse(nal: &[u8]) -> Result<Self, H265Error> {
        if nal.len() < 2 {
            return Err(H265Error::BadSps("empty"));
        }
        if nal_unit_type(nal) != Some(nal_type::SPS) {
            return Err(H265Error::BadSps("not an SPS NAL unit"));
        }
        // Layers above 0 use a different SPS syntax (sps_ext_or_max_sub_layers_minus1).
        if nuh_layer_id(nal) != Some(0) {
            return Err(H265Error::BadSps("not a base-layer SPS"));
        }
        let rbsp = unescape_rbsp(&nal[2..]);
        parse_sps_rbsp(&rbsp).map_err(|Truncated| H265Error::BadSps("truncated"))?
    }
}

/// profile_tier_level( 1, sps_max_sub_layers_minus1 ) general part (§7.3.3).
struct GeneralPtl {
    profile_space: u8,
    tier_flag: bool,
    profile_idc: u8,
    compat: u32,
    constraint: [u8; 6],
    level_idc: u8,
}

fn parse_profile_tier_level(
    r: &mut BitReader<'_>,
    max_sub_layers_minus1: u32,
) -> Result<GeneralPtl, Truncated> {
    let profile_space = r.read_bits(2)? as u8;
    let tier_flag = r.read_flag()?;
    let profile_idc = r.read_bits(5)? as u8;
    let compat = r.read_bits(32)?;
    // general_progressive_source_flag … general_inbld_flag / reserved: 48 bits in all.
    let mut constraint = [0u8; 6];
    for b in &mut constraint {
        *b = r.read_bits(8)? as u8;
    }
    let level_idc = r.read_bits(8)? as u8;
    let mut profile_present = [false; 8];
    let mut level_present = [false; 8];
    for i in 0..max_sub_layers_minus1 as usize {
        profile_present[i] = r.read_flag()?;
        level_present[i] = r.read_flag()?;
    }
    // "if( maxNumSubLayersMinus1 > 0 ) for( i = maxNumSubLayersMinus1; i < 8; i++ )
    // reserved_zero_2bits"
    if max_sub_layers_minus1 > 0 {
        r.skip_bits(2 * (8 - max_sub_layers_minus1 as usize))?;
    }
    for i in 0..max_sub_layers_minus1 as usize {
        if profile_present[i] {
            // sub_layer profile space … sub_layer_inbld/reserved: 2+1+5+32+48 bits.
            r.skip_bits(88)?;
        }
        if level_present[i] {
            r.skip_bits(8)?;
        }
    }
    Ok(GeneralPtl { profile_space, tier_flag, profile_idc, compat, constraint, level_idc })
}

fn parse_sps_rbsp(rbsp: &[u8]) -> Result<Result<Sps, H265Error>, Truncated> {
    let mut r = BitReader::new(rbsp);
    let _vps_id = r.read_bits(4)?;
    // "The value of sps_max_sub_layers_minus1 shall be in the range of 0 to 6, inclusive."
    let max_sub_layers_minus1 = r.read_bits(3)?;
    if max_sub_layers_minus1 > 6 {
        return Ok(Err(H265Error::BadSps("sps_max_sub_layers_minus1 > 6")));
    }
    let temporal_id_nested = r.read_flag()?;
    let ptl = parse_profile_tier_level(&mut r, max_sub_layers_minus1)?;
    let _sps_id = r.read_ue()?;
    let chroma_format_idc = r.read_ue()?;
    if chroma_format_idc > 3 {
        return Ok(Err(H265Error::BadSps("chroma_format_idc out of range")));
    }
    let separate_colour_plane = chroma_format_idc == 3 && r.read_flag()?;
    let pic_width = u64::from(r.read_ue()?);
    let pic_height = u64::from(r.read_ue()?);
    let mut window = [0u64; 4];
    if r.read_flag()? {
        // conformance_window_flag
        for w in &mut window {
            *w = u64::from(r.read_ue()?);
        }
    }
    // "bit_depth_luma_minus8 shall be in the range of 0 to 8, inclusive."
    let bit_depth_luma_minus8 = r.read_ue()?;
    let bit_depth_chroma_minus8 = r.read_ue()?;
    if bit_depth_luma_minus8 > 8 || bit_depth_chroma_minus8 > 8 {
        return Ok(Err(H265Error::BadSps("bit depth out of range")));
    }
    // Table 6-1: SubWidthC/SubHeightC; ChromaArrayType 0 (monochrome or separate planes) is 1, 1.
    let chroma_array_type = if separate_colour_plane { 0 } else { chroma_format_idc };
    let (sub_w, sub_h) = match chroma_array_type {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    };
    // "the conformance cropping window contains the luma samples with horizontal picture
    // coordinates from SubWidthC * conf_win_left_offset to pic_width_in_luma_samples −
    // ( SubWidthC * conf_win_right_offset + 1 )"
    let crop_w = sub_w * (window[0] + window[1]);
    let crop_h = sub_h * (window[2] + window[3]);
    if pic_width == 0 || pic_height == 0 || crop_w >= pic_width || crop_h >= pic_height {
        return Ok(Err(H265Error::BadSps("conformance window removes the whole picture")));
    }
    let (Ok(width), Ok(height)) =
        (u32::try_from(pic_width - crop_w), u32::try_from(pic_height - crop_h))
    else {
        return Ok(Err(H265Error::BadSps("picture size out of range")));
    };
    // "log2_max_pic_order_cnt_lsb_minus4 … shall be in the range of 0 to 12, inclusive."
    let log2_max_poc_lsb_minus4 = r.read_ue()?;
    if log2_max_poc_lsb_minus4 > 12 {
        return Ok(Err(H265Error::BadSps("log2_max_pic_order_cnt_lsb_minus4 > 12")));
    }
    let sub_layer_ordering_info_present = r.read_flag()?;
    let first = if sub_layer_ordering_info_present { 0 } else { max_sub_layers_minus1 };
    for _ in first..=max_sub_layers_minus1 {
        let _max_dec_pic_buffering_minus1 = r.read_ue()?;
        let _max_num_reorder_pics = r.read_ue()?;
        let _max_latency_increase_plus1 = r.read_ue()?;
    }
    let _log2_min_luma_coding_block_size_minus3 = r.read_ue()?;
    let _log2_diff_max_min_luma_coding_block_size = r.read_ue()?;
    let _log2_min_luma_transform_block_size_minus2 = r.read_ue()?;
    let _log2_diff_max_min_luma_transform_block_size = r.read_ue()?;
    let _max_transform_hierarchy_depth_inter = r.read_ue()?;
    let _max_transform_hierarchy_depth_intra = r.read_ue()?;
    let mut sps = Sps {
        max_sub_layers: max_sub_layers_minus1 as u8 + 1,
        temporal_id_nested,
        general_profile_space: ptl.profile_space,
        general_tier_flag: ptl.tier_flag,
        general_profile_idc: ptl.profile_idc,
        general_profile_compatibility_flags: ptl.compat,
        general_constraint_indicator_flags: ptl.constraint,
        general_level_idc: ptl.level_idc,
        chroma_format_idc: chroma_format_idc as u8,
        bit_depth_luma: bit_depth_luma_minus8 as u8 + 8,
        bit_depth_chroma: bit_depth_chroma_minus8 as u8 + 8,
        width,
        height,
        frame_rate: None,
        sample_aspect_ratio: None,
        colour: None,
    };
    // Everything after this point only feeds the optional VUI facts; a stream whose tail does
    // not parse (truncated, or a syntax this parser rejects) keeps the facts above.
    let _ = parse_sps_tail(&mut r, log2_max_poc_lsb_minus4, &mut sps);
    Ok(Ok(sps))
}

/// The SPS from scaling_list_enabled_flag to the VUI (§7.3.2.2.1).
fn parse_sps_tail(
    r: &mut BitReader<'_>,
    log2_max_poc_lsb_minus4: u32,
    sps: &mut Sps,
) -> Result<(), Truncated> {
    if r.read_flag()? && r.read_flag()? {
        // scaling_list_enabled_flag && sps_scaling_list_data_present_flag
        skip_scaling_list_data(r)?;
    }
    let _amp_enabled = r.read_flag()?;
    let _sample_adaptive_offset_enabled = r.read_flag()?;
    if r.read_flag()? {
        // pcm_enabled_flag: bit depths u(4) u(4), two ue(v), loop filter flag.
        r.skip_bits(8)?;
        let _ = r.read_ue()?;
        let _ = r.read_ue()?;
        let _ = r.read_flag()?;
    }
    // "The value of num_short_term_ref_pic_sets shall be in the range of 0 to 64, inclusive."
    let num_short_term_ref_pic_sets = r.read_ue()?;
    if num_short_term_ref_pic_sets > 64 {
        return Err(Truncated);
    }
    let mut num_delta_pocs = [0u32; 64];
    for idx in 0..num_short_term_ref_pic_sets as usize {
        num_delta_pocs[idx] = skip_st_ref_pic_set(r, idx, &num_delta_pocs)?;
    }
    if r.read_flag()? {
        // long_term_ref_pics_present_flag; "num_long_term_ref_pics_sps shall be in the range
        // of 0 to 32, inclusive."
        let n = r.read_ue()?;
        if n > 32 {
            return Err(Truncated);
        }
        for _ in 0..n {
            // lt_ref_pic_poc_lsb_sps u(v) with log2_max_pic_order_cnt_lsb_minus4 + 4 bits,
            // used_by_curr_pic_lt_sps_flag u(1).
            r.skip_bits(log2_max_poc_lsb_minus4 as usize + 4 + 1)?;
        }
    }
    let _sps_temporal_mvp_enabled = r.read_flag()?;
    let _strong_intra_smoothing_enabled = r.read_flag()?;
    if r.read_flag()? {
        // vui_parameters_present_flag
        parse_vui(r, sps)?;
    }
    Ok(())
}

/// scaling_list_data( ) (§7.3.4), read and discarded.
fn skip_scaling_list_data(r: &mut BitReader<'_>) -> Result<(), Truncated> {
    for size_id in 0..4u32 {
        let step = if size_id == 3 { 3 } else { 1 };
        for _matrix_id in (0..6).step_by(step) {
            if !r.read_flag()? {
                // scaling_list_pred_matrix_id_delta
                let _ = r.read_ue()?;
            } else {
                let coef_num = 64.min(1u32 << (4 + (size_id << 1)));
                if size_id > 1 {
                    let _dc_coef_minus8 = r.read_se()?;
                }
                for _ in 0..coef_num {
                    let _delta_coef = r.read_se()?;
                }
            }
        }
    }
    Ok(())
}

/// st_ref_pic_set( stRpsIdx ) (§7.3.7) in an SPS; returns NumDeltaPocs[ stRpsIdx ].
fn skip_st_ref_pic_set(
    r: &mut BitReader<'_>,
    idx: usize,
    num_delta_pocs: &[u32; 64],
) -> Result<u32, Truncated> {
    if idx != 0 && r.read_flag()? {
        // inter_ref_pic_set_prediction_flag. In an SPS delta_idx_minus1 is absent and
        // inferred 0, so RefRpsIdx = stRpsIdx − 1.
        let _delta_rps_sign = r.read_flag()?;
        let _abs_delta_rps_minus1 = r.read_ue()?;
        let ref_count = num_delta_pocs[idx - 1];
        let mut count = 0;
        for _ in 0..=ref_count {
            let used_by_curr_pic = r.read_flag()?;
            // "When use_delta_flag[ j ] is not present, its value is inferred to be equal to 1."
            let use_delta = used_by_curr_pic || r.read_flag()?;
            if use_delta {
                count += 1;
            }
        }
        return Ok(count);
    }
    let num_negative = r.read_ue()?;
    let num_positive = r.read_ue()?;
    // Both are bounded by sps_max_dec_pic_buffering_minus1, itself at most 15.
    if num_negative > 16 || num_positive > 16 {
        return Err(Truncated);
    }
    for _ in 0..num_negative + num_positive {
        let _delta_poc_minus1 = r.read_ue()?;
        let _used_by_curr_pic = r.read_flag()?;
    }
    Ok(num_negative + num_positive)
}

/// vui_parameters( ) (§E.2.1) up to the timing info.
fn parse_vui(r: &mut BitReader<'_>, sps: &mut Sps) -> Result<(), Truncated> {
    parse_vui_head(r, &mut sps.sample_aspect_ratio, &mut sps.colour)?;
    let _neutral_chroma_indication = r.read_flag()?;
    let _field_seq = r.read_flag()?;
    let _frame_field_info_present = r.read_flag()?;
    if r.read_flag()? {
        // default_display_window_flag
        for _ in 0..4 {
            let _ = r.read_ue()?;
        }
    }
    if r.read_flag()? {
        // vui_timing_info_present_flag. "vui_time_scale is the number of time units that pass
        // in one second … vui_num_units_in_tick is the number of time units of a clock …
        // that corresponds to one increment (called a clock tick)"; one picture per tick.
        let num_units_in_tick = r.read_bits(32)?;
        let time_scale = r.read_bits(32)?;
        sps.frame_rate = reduced_rate(u64::from(time_scale), u64::from(num_units_in_tick));
    }
    Ok(())
}

/// What [`scan_sample`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleInfo {
    pub nal_units: usize,
    pub has_irap: bool,
}

/// Checks that a length-prefixed sample splits cleanly into NAL units and reports whether one
/// of them is an IRAP picture's slice. (The length-prefix framing is the same as AVC's,
/// ISO/IEC 14496-15 §4.3.2.)
pub fn scan_sample(data: &[u8], length_size: u8) -> Result<SampleInfo, H265Error> {
    let (nal_units, has_irap) =
        nal::scan(data, length_size, |nal| nal_unit_type(nal).is_some_and(is_irap))?;
    Ok(SampleInfo { nal_units, has_irap })
}

/// True when the length-prefixed sample contains an IRAP picture (BLA, IDR or CRA): ISO/IEC
/// 14496-15 §8.4.1 makes those the sync samples of an HEVC track. Malformed samples count as
/// not containing one.
pub fn contains_irap(data: &[u8], length_size: u8) -> bool {
    scan_sample(data, length_size).is_ok_and(|i| i.has_irap)
}

/// Rewrites a length-prefixed sample to 4-byte length prefixes (returns it unchanged, after
/// checking its framing, when it already uses 4).
pub fn to_four_byte_lengths(data: &Bytes, length_size: u8) -> Result<Bytes, H265Error> {
    Ok(nal::to_four_byte_lengths(data, length_size)?)
}

/// Real HEVC parameter sets for this crate's unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    /// Parameter sets of a libx265 3.5 encode (Debian 12 ffmpeg 5.1): `ffmpeg -f lavfi -i
    /// testsrc2=size=320x240:rate=30 -t 2 -c:v libx265 -x265-params keyint=30:bframes=0
    /// -f hevc`. Main profile, level 2 (60), 320x240, VUI timing 30 fps.
    pub const X265_VPS: &[u8] = &[
        0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00,
        0x03, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x92, 0x80, 0x90,
    ];
    pub const X265_SPS: &[u8] = &[
        0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00,
        0x03, 0x00, 0x3c, 0xa0, 0x0a, 0x08, 0x0f, 0x16, 0x59, 0x2a, 0x49, 0x32, 0xbc, 0x05, 0xa0,
        0x20, 0x00, 0x00, 0x03, 0x00, 0x20, 0x00, 0x00, 0x03, 0x03, 0xc1,
    ];
    pub const X265_PPS: &[u8] = &[0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40];

    /// The hvcC ffmpeg 5.1 writes for the same stream (`-c copy -tag:v hvc1 out.mp4`).
    pub const FFMPEG_HVCC: &str = "0101600000009000000000003cf000fcfdf8f800000f03a00001001840010c01ffff01600000030090000003000003003c928090a10001002942010101600000030090000003000003003ca00a080f16592a4932bc05a020000003002000000303c1a2000100074401c172b46240";

    pub fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    pub fn ffmpeg_hvcc() -> Vec<u8> {
        hex(FFMPEG_HVCC)
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::test_support::BitWriter;

    #[test]
    fn parses_ffmpeg_hvcc_and_its_sps() {
        let c = HevcConfig::parse(Bytes::from(hex(FFMPEG_HVCC))).unwrap();
        assert_eq!(c.codec_string(), "hvc1.1.6.L60.90");
        assert_eq!((c.width, c.height), (320, 240));
        assert_eq!(c.frame_rate, Some((30, 1)));
        assert_eq!(c.nal_length_size, 4);
        assert_eq!((c.vps.len(), c.sps.len(), c.pps.len()), (1, 1, 1));
        assert_eq!(&c.vps[0][..], X265_VPS);
        assert_eq!(&c.sps[0][..], X265_SPS);
        assert_eq!(&c.pps[0][..], X265_PPS);
        assert_eq!((c.chroma_format_idc, c.bit_depth_luma, c.bit_depth_chroma), (1, 8, 8));
        let sps = c.first_sps().unwrap();
        assert_eq!(sps.max_sub_layers, 1);
        assert!(sps.temporal_id_nested);
    }

    #[test]
    fn record_from_parameter_sets_matches_ffmpeg() {
        let c = HevcConfig::from_parameter_sets(
            &[Bytes::from_static(X265_VPS)],
            &[Bytes::from_static(X265_SPS)],
            &[Bytes::from_static(X265_PPS)],
        )
        .unwrap();
        assert_eq!(c.record, hex(FFMPEG_HVCC));
        assert_eq!(c.codec_string(), "hvc1.1.6.L60.90");
    }

    #[test]
    fn missing_parameter_sets_are_errors() {
        let v = [Bytes::from_static(X265_VPS)];
        let s = [Bytes::from_static(X265_SPS)];
        let p = [Bytes::from_static(X265_PPS)];
        assert_eq!(HevcConfig::from_parameter_sets(&[], &s, &p), Err(H265Error::Missing("VPS")));
        assert_eq!(HevcConfig::from_parameter_sets(&v, &[], &p), Err(H265Error::Missing("SPS")));
        assert_eq!(HevcConfig::from_parameter_sets(&v, &s, &[]), Err(H265Error::Missing("PPS")));
        assert_eq!(
            HevcConfig::from_parameter_sets(&v, &p, &p),
            Err(H265Error::BadSps("not an SPS NAL unit"))
        );
    }

    #[test]
    fn codec_string_follows_annex_e() {
        let mut c = HevcConfig::parse(Bytes::from(hex(FFMPEG_HVCC))).unwrap();
        // Apple's example: Main, level 3.1, progressive + non-packed + frame-only.
        c.general_level_idc = 93;
        c.general_constraint_indicator_flags = [0xb0, 0, 0, 0, 0, 0];
        assert_eq!(c.codec_string(), "hvc1.1.6.L93.B0");
        // Main 10 in high tier, profile space 1, constraint bytes with an inner zero.
        c.general_profile_space = 1;
        c.general_tier_flag = true;
        c.general_profile_idc = 2;
        c.general_profile_compatibility_flags = 0x2000_0000;
        c.general_level_idc = 120;
        c.general_constraint_indicator_flags = [0xb0, 0, 0x01, 0, 0, 0];
        assert_eq!(c.codec_string(), "hvc1.A2.4.H120.B0.0.1");
        c.general_constraint_indicator_flags = [0; 6];
        assert_eq!(c.codec_string(), "hvc1.A2.4.H120");
    }

    #[test]
    fn record_errors_are_reported() {
        assert_eq!(HevcConfig::parse(Bytes::new()), Err(H265Error::Truncated));
        let mut rec = hex(FFMPEG_HVCC);
        rec[0] = 0;
        assert_eq!(HevcConfig::parse(Bytes::from(rec.clone())), Err(H265Error::BadVersion(0)));
        rec[0] = 1;
        rec[21] = 0xfe;
        assert_eq!(HevcConfig::parse(Bytes::from(rec.clone())), Err(H265Error::BadLengthSize(2)));
        rec[21] = 0x0f;
        assert_eq!(
            HevcConfig::parse(Bytes::from(rec[..rec.len() - 1].to_vec())),
            Err(H265Error::Truncated)
        );
        rec[22] = 0;
        assert_eq!(HevcConfig::parse(Bytes::from(rec)), Err(H265Error::Missing("SPS")));
        assert_eq!(Sps::parse(&X265_SPS[..8]), Err(H265Error::BadSps("truncated")));
        assert_eq!(Sps::parse(&[0x42]), Err(H265Error::BadSps("empty")));
    }

    #[test]
    fn short_length_prefixes_are_rewritten_to_four_bytes() {
        let mut rec = hex(FFMPEG_HVCC);
        rec[21] = 0x0d; // lengthSizeMinusOne = 1
        let c = HevcConfig::parse(Bytes::from(rec)).unwrap();
        assert_eq!(c.nal_length_size, 2);
        let c4 = c.with_four_byte_lengths();
        assert_eq!(c4.nal_length_size, 4);
        assert_eq!(c4.record, hex(FFMPEG_HVCC));
        assert_eq!(HevcConfig::parse(c4.record.clone()).unwrap(), c4);
        let sample = Bytes::from_static(&[0, 3, 0x26, 0x01, 0xaf]);
        assert_eq!(&to_four_byte_lengths(&sample, 2).unwrap()[..], &[0, 0, 0, 3, 0x26, 0x01, 0xaf]);
    }

    #[test]
    fn irap_types_and_sample_scan() {
        assert!(is_irap(nal_type::IDR_W_RADL));
        assert!(is_irap(nal_type::CRA_NUT));
        assert!(is_irap(nal_type::BLA_W_LP));
        assert!(!is_irap(nal_type::TRAIL_R));
        assert!(!is_irap(nal_type::RASL_N));
        assert!(!is_irap(nal_type::VPS));
        // AUD (35 << 1 = 0x46), then an IDR_W_RADL slice (19 << 1 = 0x26).
        let idr = [0, 0, 0, 3, 0x46, 0x01, 0x50, 0, 0, 0, 3, 0x26, 0x01, 0xaf];
        assert!(contains_irap(&idr, 4));
        assert_eq!(scan_sample(&idr, 4), Ok(SampleInfo { nal_units: 2, has_irap: true }));
        // CRA (21 << 1 = 0x2a) is a sync sample too; TRAIL_R (0x02) is not.
        assert!(contains_irap(&[0, 0, 0, 3, 0x2a, 0x01, 0xaf], 4));
        assert!(!contains_irap(&[0, 0, 0, 3, 0x02, 0x01, 0xd0], 4));
        assert!(!contains_irap(&[0, 0, 0, 9, 0x26, 0x01], 4));
        assert!(matches!(scan_sample(&[0, 0, 0, 9, 0x26], 4), Err(H265Error::BadNalLength { .. })));
    }

    #[test]
    fn conformance_window_crops_1080p() {
        // 1920x1088 coded with conf_win_bottom_offset 4 (× SubHeightC 2 = 8 lines): x265's
        // 1080p SPS, built by hand from the one above with a different size.
        let mut w = BitWriter::default();
        w.bits(0, 4); // vps id
        w.bits(0, 3); // max_sub_layers_minus1
        w.bits(1, 1); // temporal_id_nesting
        w.bits(0b0000_0001, 8); // space 0, tier 0, profile 1
        w.bits(0x6000_0000, 32);
        for b in [0x90, 0, 0, 0, 0, 0] {
            w.bits(b, 8);
        }
        w.bits(123, 8); // level 4.1
        w.ue(0); // sps id
        w.ue(1); // chroma 4:2:0
        w.ue(1920);
        w.ue(1088);
        w.bits(1, 1); // conformance window
        w.ue(0);
        w.ue(0);
        w.ue(0);
        w.ue(4);
        w.ue(0); // bit depths
        w.ue(0);
        w.ue(4); // log2_max_poc_lsb_minus4
        w.bits(1, 1); // sub_layer_ordering_info_present
        w.ue(4);
        w.ue(0);
        w.ue(0);
        for v in [0, 3, 0, 3, 1, 1] {
            w.ue(v);
        }
        w.bits(0, 1); // scaling list
        w.bits(1, 1); // amp
        w.bits(1, 1); // sao
        w.bits(0, 1); // pcm
        w.ue(2); // two short-term RPS
        w.ue(1); // rps 0: one negative
        w.ue(0);
        w.ue(0);
        w.bits(1, 1);
        w.bits(1, 1); // rps 1: inter-predicted from rps 0 (NumDeltaPocs 1 → 2 flags)
        w.bits(0, 1);
        w.ue(0);
        w.bits(1, 1);
        w.bits(0, 1);
        w.bits(1, 1); // use_delta_flag
        w.bits(0, 1); // long-term
        w.bits(1, 1); // temporal mvp
        w.bits(1, 1); // strong intra smoothing
        w.bits(1, 1); // VUI
        w.bits(1, 1); // aspect ratio: idc 1 (square)
        w.bits(1, 8);
        w.bits(0, 1); // overscan
        w.bits(1, 1); // video signal type
        w.bits(5, 3);
        w.bits(0, 1); // limited range
        w.bits(1, 1); // colour description: BT.709
        w.bits(1, 8);
        w.bits(1, 8);
        w.bits(1, 8);
        w.bits(0, 1); // chroma loc
        w.bits(0, 3); // neutral chroma, field seq, frame field info
        w.bits(0, 1); // default display window
        w.bits(1, 1); // timing: 1001 / 60000
        w.bits(1001, 32);
        w.bits(60000, 32);
        w.bits(0, 1);
        w.bits(1, 1); // stop bit
        let mut nal = vec![0x42, 0x01];
        nal.extend(w.finish());
        let sps = Sps::parse(&nal).unwrap();
        assert_eq!((sps.width, sps.height), (1920, 1080));
        assert_eq!(sps.frame_rate, Some((60000, 1001)));
        assert_eq!(sps.sample_aspect_ratio, Some((1, 1)));
        assert_eq!(
            sps.colour,
            Some(Colour { primaries: 1, transfer: 1, matrix: 1, full_range: false })
        );
        assert_eq!(sps.general_level_idc, 123);
    }
}
