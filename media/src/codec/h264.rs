//! H.264: AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3) and the SPS fields playlists
//! need (size, frame rate, profile/level → RFC 6381 `avc1.PPCCLL`), the record built from
//! in-band parameter sets (what the MPEG-TS demuxer sees), plus the helpers the demuxers use on
//! samples: splitting length-prefixed NAL units and spotting IDR pictures.

use bytes::{BufMut, Bytes, BytesMut};

use super::bits::{BitReader, ByteReader, Truncated};
use super::nal::{self, NalError};
pub use super::nal::{NalUnits, nal_units, unescape_rbsp};
pub use super::vui::Colour;
use super::vui::{parse_vui_head, reduced_rate};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum H264Error {
    #[error("avcC record truncated")]
    Truncated,
    #[error("avcC configurationVersion {0} is not 1")]
    BadVersion(u8),
    #[error("avcC has no SPS")]
    NoSps,
    #[error("malformed SPS: {0}")]
    BadSps(&'static str),
    #[error("avcC lengthSizeMinusOne {0} is not 0, 1 or 3")]
    BadLengthSize(u8),
    #[error("NAL unit length {len} overruns the {left} bytes left in the sample")]
    BadNalLength { len: usize, left: usize },
    #[error("no PPS")]
    NoPps,
    #[error("{0} parameter sets do not fit an avcC record")]
    TooManyParameterSets(usize),
    #[error("parameter set of {0} bytes does not fit an avcC record")]
    ParameterSetTooLong(usize),
}

impl From<NalError> for H264Error {
    fn from(e: NalError) -> Self {
        match e {
            NalError::BadLengthSize(n) => H264Error::BadLengthSize(n),
            NalError::BadNalLength { len, left } => H264Error::BadNalLength { len, left },
        }
    }
}

/// NAL unit types (ISO/IEC 14496-10 Table 7-1) this crate looks at.
pub mod nal_type {
    pub const NON_IDR_SLICE: u8 = 1;
    pub const IDR_SLICE: u8 = 5;
    pub const SEI: u8 = 6;
    pub const SPS: u8 = 7;
    pub const PPS: u8 = 8;
    pub const AUD: u8 = 9;
}

/// A parsed AVCDecoderConfigurationRecord plus what its first SPS says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig {
    /// The record exactly as received; written verbatim into `avcC`.
    pub record: Bytes,
    pub profile_idc: u8,
    pub constraint_flags: u8,
    pub level_idc: u8,
    /// Bytes per NAL length prefix (1, 2 or 4).
    pub nal_length_size: u8,
    pub sps: Vec<Bytes>,
    pub pps: Vec<Bytes>,
    /// Cropped picture size in pixels.
    pub width: u32,
    pub height: u32,
    /// Frame rate from VUI timing info as (num, den), when signalled.
    pub frame_rate: Option<(u32, u32)>,
}

impl AvcConfig {
    /// Parses an AVCDecoderConfigurationRecord and its first SPS.
    pub fn parse(record: Bytes) -> Result<Self, H264Error> {
        let mut r = ByteReader::at(&record, 0);
        // configurationVersion = 1
        let version = r.u8().ok_or(H264Error::Truncated)?;
        if version != 1 {
            return Err(H264Error::BadVersion(version));
        }
        // AVCProfileIndication, profile_compatibility, AVCLevelIndication: the SPS has them.
        for _ in 0..3 {
            r.u8().ok_or(H264Error::Truncated)?;
        }
        // bit(6) reserved = '111111'b; unsigned int(2) lengthSizeMinusOne;
        // "The value of this field shall be one of 0, 1, or 3 corresponding to a length encoded
        // with 1, 2, or 4 bytes, respectively."
        let length_size_minus_one = r.u8().ok_or(H264Error::Truncated)? & 0x03;
        if length_size_minus_one == 2 {
            return Err(H264Error::BadLengthSize(length_size_minus_one));
        }
        // bit(3) reserved = '111'b; unsigned int(5) numOfSequenceParameterSets;
        let num_sps = r.u8().ok_or(H264Error::Truncated)? & 0x1f;
        let sps = (0..num_sps).map(|_| r.u16_prefixed()).collect::<Option<Vec<_>>>();
        let sps = sps.ok_or(H264Error::Truncated)?;
        let num_pps = r.u8().ok_or(H264Error::Truncated)?;
        let pps = (0..num_pps).map(|_| r.u16_prefixed()).collect::<Option<Vec<_>>>();
        let pps = pps.ok_or(H264Error::Truncated)?;
        // Trailing high-profile fields (chroma_format etc.) are not needed: the SPS has them.
        let first = sps.first().ok_or(H264Error::NoSps)?;
        let info = Sps::parse(first)?;
        Ok(Self {
            record: record.clone(),
            profile_idc: info.profile_idc,
            constraint_flags: info.constraint_flags,
            level_idc: info.level_idc,
            nal_length_size: length_size_minus_one + 1,
            sps,
            pps,
            width: info.width,
            height: info.height,
            frame_rate: info.frame_rate,
        })
    }

    /// Builds an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1) with 4-byte NAL
    /// length prefixes from in-band parameter sets (NAL units with their 1-byte header,
    /// emulation prevention in place), as an Annex B stream (MPEG-TS) carries them.
    /// The first SPS must parse; profile, compatibility and level come from it.
    pub fn from_parameter_sets(sps: &[Bytes], pps: &[Bytes]) -> Result<Self, H264Error> {
        let first = sps.first().ok_or(H264Error::NoSps)?;
        if pps.is_empty() {
            return Err(H264Error::NoPps);
        }
        // "unsigned int(5) numOfSequenceParameterSets" and "unsigned int(8)
        // numOfPictureParameterSets".
        if sps.len() > 31 {
            return Err(H264Error::TooManyParameterSets(sps.len()));
        }
        if pps.len() > 255 {
            return Err(H264Error::TooManyParameterSets(pps.len()));
        }
        let info = Sps::parse(first)?;
        let mut rec =
            BytesMut::with_capacity(11 + sps.iter().chain(pps).map(|p| p.len() + 2).sum::<usize>());
        // configurationVersion = 1; AVCProfileIndication, profile_compatibility and
        // AVCLevelIndication "contain the profile, constraint flags and level … of the SPS".
        rec.put_u8(1);
        rec.put_u8(info.profile_idc);
        rec.put_u8(info.constraint_flags);
        rec.put_u8(info.level_idc);
        // bit(6) reserved = '111111'b; unsigned int(2) lengthSizeMinusOne = 3 (4-byte lengths).
        rec.put_u8(0xff);
        // bit(3) reserved = '111'b; unsigned int(5) numOfSequenceParameterSets. The count was
        // checked above to fit 5 bits.
        rec.put_u8(0xe0 | sps.len() as u8);
        for s in sps {
            nal::put_parameter_set(&mut rec, s).map_err(H264Error::ParameterSetTooLong)?;
        }
        // numOfPictureParameterSets: checked above to fit 8 bits.
        rec.put_u8(pps.len() as u8);
        for p in pps {
            nal::put_parameter_set(&mut rec, p).map_err(H264Error::ParameterSetTooLong)?;
        }
        // "if( profile_idc == 100 || profile_idc == 110 || profile_idc == 122 ||
        // profile_idc == 144 )": chroma_format, bit depths and the (empty) SPS extension list.
        // 244 (High 4:4:4 Predictive) replaced 144 and carries the same fields.
        if matches!(info.profile_idc, 100 | 110 | 122 | 144 | 244) {
            // bit(6) reserved = '111111'b; unsigned int(2) chroma_format;
            rec.put_u8(0xfc | (info.chroma_format_idc & 0x03) as u8);
            // bit(5) reserved = '11111'b; unsigned int(3) bit_depth_luma_minus8; (same chroma)
            rec.put_u8(0xf8 | (info.bit_depth_luma.saturating_sub(8) & 0x07) as u8);
            rec.put_u8(0xf8 | (info.bit_depth_chroma.saturating_sub(8) & 0x07) as u8);
            // unsigned int(8) numOfSequenceParameterSetExt = 0
            rec.put_u8(0);
        }
        Self::parse(rec.freeze())
    }

    /// RFC 6381 codec string, e.g. `avc1.64001f`.
    pub fn codec_string(&self) -> String {
        format!("avc1.{:02x}{:02x}{:02x}", self.profile_idc, self.constraint_flags, self.level_idc)
    }

    /// The full parse of the first SPS (sample aspect ratio, colour description, …).
    pub fn first_sps(&self) -> Result<Sps, H264Error> {
        Sps::parse(self.sps.first().ok_or(H264Error::NoSps)?)
    }

    /// The same configuration with 4-byte NAL length prefixes, the form [`crate::AccessUnit`]
    /// carries: the record's `lengthSizeMinusOne` is rewritten to 3. Samples must be converted
    /// with [`to_four_byte_lengths`].
    pub fn with_four_byte_lengths(&self) -> Self {
        if self.nal_length_size == 4 {
            return self.clone();
        }
        // parse() proved the record has at least 5 bytes; lengthSizeMinusOne is in byte 4.
        let (record, [sps, pps]) =
            nal::with_four_byte_lengths(&self.record, 4, [&self.sps, &self.pps]);
        Self { record, nal_length_size: 4, sps, pps, ..self.clone() }
    }
}

/// The sequence parameter set fields Sluice uses (ISO/IEC 14496-10 §7.3.2.1.1, §E.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sps {
    pub profile_idc: u8,
    pub constraint_flags: u8,
    pub level_idc: u8,
    pub chroma_format_idc: u32,
    pub bit_depth_luma: u32,
    pub bit_depth_chroma: u32,
    /// Cropped picture size in pixels.
    pub width: u32,
    pub height: u32,
    /// Frame rate from VUI timing info as (num, den) reduced, when signalled.
    pub frame_rate: Option<(u32, u32)>,
    /// Sample aspect ratio (h, v) from the VUI, when signalled.
    pub sample_aspect_ratio: Option<(u16, u16)>,
    /// VUI colour description (primaries, transfer, matrix, full range), when signalled.
    pub colour: Option<Colour>,
}

impl Sps {
    /// Parses one SPS NAL unit (with its 1-byte NAL header, emulation prevention in place).
    pub fn parse(nal: &[u8]) -> Result<Self, H264Error> {
        let header = *nal.first().ok_or(H264Error::BadSps("empty"))?;
        if header & 0x1f != nal_type::SPS {
            return Err(H264Error::BadSps("not an SPS NAL unit"));
        }
        let rbsp = unescape_rbsp(&nal[1..]);
        parse_sps_rbsp(&rbsp).map_err(|Truncated| H264Error::BadSps("truncated"))?
    }
}

fn parse_sps_rbsp(rbsp: &[u8]) -> Result<Result<Sps, H264Error>, Truncated> {
    let mut r = BitReader::new(rbsp);
    let profile_idc = r.read_bits(8)? as u8;
    let constraint_flags = r.read_bits(8)? as u8;
    let level_idc = r.read_bits(8)? as u8;
    let _sps_id = r.read_ue()?;
    let mut chroma_format_idc = 1;
    let mut separate_colour_plane = false;
    let mut bit_depth_luma = 8;
    let mut bit_depth_chroma = 8;
    // "if( profile_idc = = 100 | | profile_idc = = 110 | | profile_idc = = 122 | | … )"
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.read_ue()?;
        if chroma_format_idc > 3 {
            return Ok(Err(H264Error::BadSps("chroma_format_idc out of range")));
        }
        if chroma_format_idc == 3 {
            separate_colour_plane = r.read_flag()?;
        }
        bit_depth_luma = r.read_ue()?.saturating_add(8);
        bit_depth_chroma = r.read_ue()?.saturating_add(8);
        let _qpprime_y_zero_transform_bypass = r.read_flag()?;
        if r.read_flag()? {
            // seq_scaling_matrix_present_flag:
            // "for( i = 0; i < ( ( chroma_format_idc != 3 ) ? 8 : 12 ); i++ )"
            let lists = if chroma_format_idc != 3 { 8 } else { 12 };
            for i in 0..lists {
                if r.read_flag()? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    let _log2_max_frame_num_minus4 = r.read_ue()?;
    let pic_order_cnt_type = r.read_ue()?;
    match pic_order_cnt_type {
        0 => {
            let _log2_max_poc_lsb_minus4 = r.read_ue()?;
        }
        1 => {
            let _delta_pic_order_always_zero = r.read_flag()?;
            let _offset_for_non_ref_pic = r.read_se()?;
            let _offset_for_top_to_bottom_field = r.read_se()?;
            // "The value of num_ref_frames_in_pic_order_cnt_cycle shall be in the range of 0
            // to 255, inclusive."
            let n = r.read_ue()?;
            if n > 255 {
                return Ok(Err(H264Error::BadSps("num_ref_frames_in_pic_order_cnt_cycle > 255")));
            }
            for _ in 0..n {
                let _offset_for_ref_frame = r.read_se()?;
            }
        }
        2 => {}
        _ => return Ok(Err(H264Error::BadSps("pic_order_cnt_type out of range"))),
    }
    let _max_num_ref_frames = r.read_ue()?;
    let _gaps_in_frame_num_allowed = r.read_flag()?;
    let pic_width_in_mbs = u64::from(r.read_ue()?) + 1;
    let pic_height_in_map_units = u64::from(r.read_ue()?) + 1;
    let frame_mbs_only = r.read_flag()?;
    if !frame_mbs_only {
        let _mb_adaptive_frame_field = r.read_flag()?;
    }
    let _direct_8x8_inference = r.read_flag()?;
    let mut crop = [0u64; 4];
    if r.read_flag()? {
        for c in &mut crop {
            *c = u64::from(r.read_ue()?);
        }
    }
    // (7-18) FrameHeightInMbs = ( 2 − frame_mbs_only_flag ) * PicHeightInMapUnits
    let field_factor = if frame_mbs_only { 1 } else { 2 };
    let full_w = pic_width_in_mbs * 16;
    let full_h = field_factor * pic_height_in_map_units * 16;
    // "If ChromaArrayType is equal to 0, CropUnitX = 1, CropUnitY = 2 − frame_mbs_only_flag;
    // otherwise CropUnitX = SubWidthC, CropUnitY = SubHeightC * ( 2 − frame_mbs_only_flag )"
    let chroma_array_type = if separate_colour_plane { 0 } else { chroma_format_idc };
    let (sub_w, sub_h) = match chroma_array_type {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    };
    let crop_unit_x = if chroma_array_type == 0 { 1 } else { sub_w };
    let crop_unit_y = if chroma_array_type == 0 { field_factor } else { sub_h * field_factor };
    let crop_w = crop_unit_x * (crop[0] + crop[1]);
    let crop_h = crop_unit_y * (crop[2] + crop[3]);
    if crop_w >= full_w || crop_h >= full_h {
        return Ok(Err(H264Error::BadSps("cropping removes the whole picture")));
    }
    let (Ok(width), Ok(height)) = (u32::try_from(full_w - crop_w), u32::try_from(full_h - crop_h))
    else {
        return Ok(Err(H264Error::BadSps("picture size out of range")));
    };

    let mut sps = Sps {
        profile_idc,
        constraint_flags,
        level_idc,
        chroma_format_idc,
        bit_depth_luma,
        bit_depth_chroma,
        width,
        height,
        frame_rate: None,
        sample_aspect_ratio: None,
        colour: None,
    };
    // vui_parameters_present_flag. Encoders sometimes truncate the VUI; the size above is
    // already known, so a truncated VUI only loses the optional facts.
    if r.read_flag()? {
        let _ = parse_vui(&mut r, &mut sps);
    }
    Ok(Ok(sps))
}

/// scaling_list( scalingList, sizeOfScalingList, … ) (§7.3.2.1.1.1), read and discarded.
fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), Truncated> {
    let mut last_scale: i32 = 8;
    let mut next_scale: i32 = 8;
    for _ in 0..size {
        if next_scale != 0 {
            let delta_scale = r.read_se()?;
            next_scale = (last_scale + delta_scale).rem_euclid(256);
        }
        last_scale = if next_scale == 0 { last_scale } else { next_scale };
    }
    Ok(())
}

/// vui_parameters( ) (§E.1.1) up to timing info.
fn parse_vui(r: &mut BitReader<'_>, sps: &mut Sps) -> Result<(), Truncated> {
    parse_vui_head(r, &mut sps.sample_aspect_ratio, &mut sps.colour)?;
    if r.read_flag()? {
        // timing_info_present_flag. "time_scale is the number of time units that pass in one
        // second … num_units_in_tick … corresponds to one increment (called a clock tick)";
        // a frame is two field ticks, so frame rate = time_scale / (2 * num_units_in_tick).
        let num_units_in_tick = r.read_bits(32)?;
        let time_scale = r.read_bits(32)?;
        sps.frame_rate = reduced_rate(u64::from(time_scale), 2 * u64::from(num_units_in_tick));
    }
    Ok(())
}

/// The NAL unit type of a NAL unit (its first byte's low 5 bits).
pub fn nal_unit_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| b & 0x1f)
}

/// Checks that a sample splits cleanly into non-empty NAL units and reports whether one of
/// them is an IDR slice (nal_unit_type 5).
pub fn scan_sample(data: &[u8], length_size: u8) -> Result<SampleInfo, H264Error> {
    let is_idr = |nal: &[u8]| nal_unit_type(nal) == Some(nal_type::IDR_SLICE);
    let (nal_units, has_idr) = nal::scan(data, length_size, is_idr)?;
    Ok(SampleInfo { nal_units, has_idr })
}

/// What [`scan_sample`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleInfo {
    pub nal_units: usize,
    pub has_idr: bool,
}

/// True when the length-prefixed sample contains an IDR slice (nal_unit_type 5). Malformed
/// samples count as not containing one.
pub fn contains_idr(data: &[u8], length_size: u8) -> bool {
    scan_sample(data, length_size).is_ok_and(|i| i.has_idr)
}

/// Rewrites a length-prefixed sample to 4-byte length prefixes (returns it unchanged when it
/// already uses 4).
pub fn to_four_byte_lengths(data: &Bytes, length_size: u8) -> Result<Bytes, H264Error> {
    Ok(nal::to_four_byte_lengths(data, length_size)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::BitWriter;

    /// The SPS of `testdata/ffmpeg-x264-aac-baseline.flv` (x264 constrained baseline, level 3.0,
    /// 640x360 with 8 lines cropped from 368, VUI timing 30 fps).
    const SPS_BASELINE_360P: &[u8] = &[
        0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0xc0, 0x44, 0x00, 0x00, 0x03, 0x00,
        0x04, 0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x58, 0xba, 0x80,
    ];

    fn record_with(sps: &[u8], pps: &[u8], length_size_minus_one: u8) -> Bytes {
        let mut r = vec![1, sps[1], sps[2], sps[3], 0xfc | length_size_minus_one, 0xe1];
        r.extend_from_slice(&(sps.len() as u16).to_be_bytes());
        r.extend_from_slice(sps);
        r.push(1);
        r.extend_from_slice(&(pps.len() as u16).to_be_bytes());
        r.extend_from_slice(pps);
        Bytes::from(r)
    }

    #[test]
    fn parses_record_and_sps_size_and_rate() {
        let rec = record_with(SPS_BASELINE_360P, &[0x68, 0xcb, 0x83, 0xcb, 0x20], 3);
        let c = AvcConfig::parse(rec.clone()).unwrap();
        assert_eq!(c.codec_string(), "avc1.42c01e");
        assert_eq!((c.width, c.height), (640, 360));
        assert_eq!(c.frame_rate, Some((30, 1)));
        assert_eq!(c.nal_length_size, 4);
        assert_eq!(c.sps.len(), 1);
        assert_eq!(&c.pps[0][..], &[0x68, 0xcb, 0x83, 0xcb, 0x20]);
        assert_eq!(c.record, rec);
    }

    /// avcC of `testdata/obs-like-x264-bframes-aac.flv` as ffmpeg wrote it (High 3.0, with the
    /// trailing chroma_format / bit depth fields).
    const AVCC_HIGH: &[u8] = &[
        0x01, 0x64, 0x00, 0x1e, 0xff, 0xe1, 0x00, 0x1a, 0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40,
        0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x3c,
        0x0f, 0x16, 0x2d, 0x96, 0x01, 0x00, 0x04, 0x68, 0xef, 0xbc, 0xb0, 0xfd, 0xf8, 0xf8, 0x00,
    ];

    #[test]
    fn record_from_in_band_parameter_sets_matches_ffmpeg_baseline() {
        let pps = Bytes::from_static(&[0x68, 0xcb, 0x83, 0xcb, 0x20]);
        let c = AvcConfig::from_parameter_sets(
            &[Bytes::from_static(SPS_BASELINE_360P)],
            std::slice::from_ref(&pps),
        )
        .unwrap();
        assert_eq!(c.record, record_with(SPS_BASELINE_360P, &pps, 3));
        assert_eq!(AvcConfig::parse(c.record.clone()).unwrap(), c);
        assert_eq!((c.nal_length_size, c.width, c.height), (4, 640, 360));
        assert_eq!(c.codec_string(), "avc1.42c01e");
    }

    #[test]
    fn high_profile_record_carries_chroma_and_bit_depth_like_ffmpeg() {
        let original = AvcConfig::parse(Bytes::from_static(AVCC_HIGH)).unwrap();
        let rebuilt = AvcConfig::from_parameter_sets(&original.sps, &original.pps).unwrap();
        assert_eq!(&rebuilt.record[..], AVCC_HIGH);
        assert_eq!(rebuilt, original);
        assert_eq!(rebuilt.codec_string(), "avc1.64001e");
    }

    #[test]
    fn record_from_parameter_sets_rejects_missing_or_bad_sets() {
        let sps = [Bytes::from_static(SPS_BASELINE_360P)];
        let pps = [Bytes::from_static(&[0x68, 0xce])];
        assert_eq!(AvcConfig::from_parameter_sets(&[], &pps), Err(H264Error::NoSps));
        assert_eq!(AvcConfig::from_parameter_sets(&sps, &[]), Err(H264Error::NoPps));
        assert_eq!(
            AvcConfig::from_parameter_sets(&pps, &pps),
            Err(H264Error::BadSps("not an SPS NAL unit"))
        );
        assert_eq!(
            AvcConfig::from_parameter_sets(&vec![sps[0].clone(); 32], &pps),
            Err(H264Error::TooManyParameterSets(32))
        );
        let long = [Bytes::from(vec![0x68; 70_000])];
        assert_eq!(
            AvcConfig::from_parameter_sets(&sps, &long),
            Err(H264Error::ParameterSetTooLong(70_000))
        );
    }

    #[test]
    fn high_profile_with_scaling_lists_and_cropping() {
        // Hand-built High profile SPS (profile 100, level 31): chroma 4:2:0, 8-bit, one scaling
        // list present (all deltas zero), 1920x1088 coded, cropped by 8 lines to 1080, no VUI.
        let mut w = BitWriter::default();
        w.bits(100, 8);
        w.bits(0, 8);
        w.bits(31, 8);
        w.ue(0); // sps id
        w.ue(1); // chroma_format_idc
        w.ue(0); // bit_depth_luma_minus8
        w.ue(0); // bit_depth_chroma_minus8
        w.bits(0, 1); // qpprime
        w.bits(1, 1); // seq_scaling_matrix_present_flag
        w.bits(1, 1); // list 0 present
        w.se(-8); // nextScale = 0 → rest of list uses last scale
        for _ in 1..8 {
            w.bits(0, 1);
        }
        w.ue(0); // log2_max_frame_num_minus4
        w.ue(2); // poc type 2
        w.ue(4); // max refs
        w.bits(0, 1);
        w.ue(119); // width in mbs - 1 → 1920
        w.ue(67); // height in map units - 1 → 1088
        w.bits(1, 1); // frame_mbs_only
        w.bits(1, 1); // direct_8x8
        w.bits(1, 1); // cropping
        w.ue(0);
        w.ue(0);
        w.ue(0);
        w.ue(4); // bottom: 4 * CropUnitY(2) = 8 lines
        w.bits(0, 1); // no VUI
        w.bits(1, 1); // rbsp stop bit
        let mut nal = vec![0x67];
        nal.extend(w.finish());
        let sps = Sps::parse(&nal).unwrap();
        assert_eq!((sps.width, sps.height), (1920, 1080));
        assert_eq!(sps.frame_rate, None);
        assert_eq!(sps.profile_idc, 100);
    }

    #[test]
    fn record_errors_are_reported() {
        assert_eq!(AvcConfig::parse(Bytes::new()), Err(H264Error::Truncated));
        assert_eq!(
            AvcConfig::parse(Bytes::from_static(&[2, 0, 0, 0, 0xff])),
            Err(H264Error::BadVersion(2))
        );
        assert_eq!(
            AvcConfig::parse(Bytes::from_static(&[1, 0x42, 0, 0x1e, 0xff, 0xe0, 0])),
            Err(H264Error::NoSps)
        );
        assert_eq!(
            AvcConfig::parse(Bytes::from_static(&[1, 0x42, 0, 0x1e, 0xfe, 0xe0, 0])),
            Err(H264Error::BadLengthSize(2))
        );
        assert_eq!(
            AvcConfig::parse(Bytes::from_static(&[1, 0x42, 0, 0x1e, 0xff, 0xe1, 0, 9, 0x67])),
            Err(H264Error::Truncated)
        );
        let truncated_sps = record_with(&SPS_BASELINE_360P[..6], &[0x68], 3);
        assert_eq!(AvcConfig::parse(truncated_sps), Err(H264Error::BadSps("truncated")));
    }

    #[test]
    fn splits_nal_units_and_finds_idr() {
        let sample = [0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 3, 0x65, 0x88, 0x84];
        let nals: Vec<&[u8]> = nal_units(&sample, 4).map(Result::unwrap).collect();
        assert_eq!(nals, vec![&[0x09, 0xf0][..], &[0x65, 0x88, 0x84][..]]);
        assert!(contains_idr(&sample, 4));
        assert!(!contains_idr(&[0, 0, 0, 2, 0x41, 0x9a], 4));
        assert!(!contains_idr(&[0, 0, 0, 9, 0x65], 4));
        assert!(matches!(scan_sample(&[0, 0, 0, 9, 0x65], 4), Err(H264Error::BadNalLength { .. })));
    }

    #[test]
    fn short_length_prefixes_are_rewritten_to_four_bytes() {
        let rec = record_with(SPS_BASELINE_360P, &[0x68, 0xcb], 1);
        let c = AvcConfig::parse(rec).unwrap();
        assert_eq!(c.nal_length_size, 2);
        let c4 = c.with_four_byte_lengths();
        assert_eq!(c4.nal_length_size, 4);
        assert_eq!(AvcConfig::parse(c4.record.clone()).unwrap(), c4);
        let sample = Bytes::from_static(&[0, 2, 0x65, 0x88, 0, 1, 0x06]);
        let out = to_four_byte_lengths(&sample, 2).unwrap();
        assert_eq!(&out[..], &[0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 1, 0x06]);
    }
}
