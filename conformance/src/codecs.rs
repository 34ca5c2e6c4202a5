//! RFC 6381 codec strings and the few bitstream helpers needed to derive them, shared by the
//! MP4 reader (from `avcC` / `hvcC` / `esds`) and the TS reader (from in-band SPS NAL units and
//! ADTS headers), plus a small `hvcC` parser for the HEVC sample-entry checks.
//!
//! Formats: `avc1.PPCCLL` (RFC 6381 §3.3: profile_idc, constraint flags byte, level_idc in hex);
//! `hvc1.[A-C]P.COMPAT.TL.CC…` (ISO/IEC 14496-15 Annex E.3: profile space letter + profile_idc,
//! the 32 compatibility flags bit-reversed in hex, tier L/H + level_idc, then the six constraint
//! bytes in hex with trailing zero bytes omitted); `mp4a.40.AOT` (RFC 6381 §3.3, MPEG-4 audio
//! object type).

use std::fmt::Write as _;

/// `avc1.PPCCLL` from profile_idc, the constraint-flags byte and level_idc.
pub fn avc(fourcc: &str, profile: u8, constraints: u8, level: u8) -> String {
    format!("{fourcc}.{profile:02x}{constraints:02x}{level:02x}")
}

/// `hvc1.…` from the 12 general profile_tier_level bytes (the layout shared by `hvcC` bytes
/// 1..13 and an SPS's profile_tier_level): space/tier/profile, 4 compatibility bytes, 6
/// constraint bytes, level_idc.
pub fn hevc(fourcc: &str, ptl: &[u8]) -> Option<String> {
    let ptl = ptl.get(..12)?;
    let space = ["", "A", "B", "C"][usize::from(ptl[0] >> 6)];
    let tier = if ptl[0] & 0x20 != 0 { 'H' } else { 'L' };
    let profile = ptl[0] & 0x1f;
    let compat = u32::from_be_bytes([ptl[1], ptl[2], ptl[3], ptl[4]]).reverse_bits();
    let level = ptl[11];
    let mut constraints: Vec<u8> = ptl[5..11].to_vec();
    while constraints.last() == Some(&0) {
        constraints.pop();
    }
    let mut s = format!("{fourcc}.{space}{profile}.{compat:X}.{tier}{level}");
    for b in constraints {
        let _ = write!(s, ".{b:X}");
    }
    Some(s)
}

/// `mp4a.40.AOT`.
pub fn aac(audio_object_type: u8) -> String {
    format!("mp4a.40.{audio_object_type}")
}

/// True when two RFC 6381 strings name the same thing (hex digits are case-insensitive).
pub fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// True when two HEVC strings agree on everything after the sample-entry four-cc (`hvc1` and
/// `hev1` describe the same bitstream; they differ in where the parameter sets live).
pub fn same_hevc_bitstream(a: &str, b: &str) -> bool {
    let tail = |s: &str| s.trim().split_once('.').map(|(_, t)| t.to_ascii_uppercase());
    let family = |s: &str| {
        let s = s.trim().to_ascii_lowercase();
        s.starts_with("hvc1") || s.starts_with("hev1")
    };
    family(a) && family(b) && tail(a).is_some() && tail(a) == tail(b)
}

/// The NAL units of an Annex B byte stream, without their start codes (trailing zero bytes,
/// which belong to the next four-byte start code, are trimmed).
pub fn annexb_nals(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let mut e = starts.get(k + 1).map_or(data.len(), |&n| n - 3);
        while e > s && data[e - 1] == 0 {
            e -= 1;
        }
        if let Some(nal) = data.get(s..e)
            && !nal.is_empty()
        {
            out.push(nal);
        }
    }
    out
}

/// Removes emulation-prevention bytes (the 0x03 in 0x000003) from a NAL unit.
pub fn rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// H.264 nal_unit_type.
pub fn avc_nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| b & 0x1f)
}

/// HEVC nal_unit_type.
pub fn hevc_nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| (b >> 1) & 0x3f)
}

/// `avc1.PPCCLL` from an H.264 SPS NAL unit (header byte, then profile_idc, constraint flags,
/// level_idc; none of them can contain an emulation-prevention byte).
pub fn avc_from_sps(nal: &[u8]) -> Option<String> {
    (avc_nal_type(nal)? == 7 && nal.len() >= 4).then(|| avc("avc1", nal[1], nal[2], nal[3]))
}

/// `hvc1.…` from an HEVC SPS NAL unit: after the two-byte header and the byte holding
/// sps_video_parameter_set_id / sps_max_sub_layers_minus1 / temporal_id_nesting comes the
/// general profile_tier_level.
pub fn hevc_from_sps(nal: &[u8]) -> Option<String> {
    if hevc_nal_type(nal)? != 33 {
        return None;
    }
    let r = rbsp(nal);
    hevc("hvc1", r.get(3..15)?)
}

/// One parameter-set (or SEI) array of an `hvcC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HvccArray {
    /// NAL unit type of the array's units.
    pub nal_type: u8,
    /// array_completeness.
    pub complete: bool,
    /// Number of NAL units.
    pub count: u16,
}

/// What an `HEVCDecoderConfigurationRecord` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hvcc {
    /// configurationVersion.
    pub version: u8,
    /// The 12 general profile_tier_level bytes.
    pub ptl: [u8; 12],
    /// lengthSizeMinusOne + 1.
    pub length_size: u8,
    /// The NAL unit arrays.
    pub arrays: Vec<HvccArray>,
}

impl Hvcc {
    /// The array of `nal_type`, if present.
    pub fn array(&self, nal_type: u8) -> Option<&HvccArray> {
        self.arrays.iter().find(|a| a.nal_type == nal_type)
    }
}

/// Parses an `hvcC` box body (ISO/IEC 14496-15 §8.3.3.1.2).
pub fn parse_hvcc(b: &[u8]) -> Result<Hvcc, String> {
    if b.len() < 23 {
        return Err(format!("hvcC is {} bytes, the fixed part alone is 23", b.len()));
    }
    let mut ptl = [0u8; 12];
    ptl.copy_from_slice(&b[1..13]);
    let length_size = (b[21] & 0x03) + 1;
    let n = b[22];
    let mut arrays = Vec::new();
    let mut pos = 23usize;
    for i in 0..n {
        let head = b.get(pos..pos + 3).ok_or(format!("hvcC array {i} header truncated"))?;
        let nal_type = head[0] & 0x3f;
        let complete = head[0] & 0x80 != 0;
        let count = u16::from_be_bytes([head[1], head[2]]);
        pos += 3;
        for j in 0..count {
            let len = b.get(pos..pos + 2).ok_or(format!("hvcC array {i} unit {j} truncated"))?;
            let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
            pos += 2;
            if b.len() < pos + len {
                return Err(format!("hvcC array {i} unit {j} runs past the box"));
            }
            pos += len;
        }
        arrays.push(HvccArray { nal_type, complete, count });
    }
    Ok(Hvcc { version: b[0], ptl, length_size, arrays })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hevc_string_follows_annex_e() {
        // Main profile, compat flags 1 and 2, progressive + frame-only constraints, level 3.0.
        let ptl = [0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 30];
        assert_eq!(hevc("hvc1", &ptl).as_deref(), Some("hvc1.1.6.L30.90"));
        let high = [0x22, 0x20, 0, 0, 0, 0xb0, 0, 0, 0, 0, 0, 153];
        assert_eq!(hevc("hev1", &high).as_deref(), Some("hev1.2.4.H153.B0"));
        assert_eq!(hevc("hvc1", &ptl[..11]), None);
    }

    #[test]
    fn sps_strings_and_nal_splitting() {
        let stream = [
            0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac, 0, 0, 1, 0x68, 0xee,
            0, 0, 1, 0x65, 0x88,
        ];
        let nals = annexb_nals(&stream);
        let types: Vec<u8> = nals.iter().filter_map(|n| avc_nal_type(n)).collect();
        assert_eq!(types, vec![9, 7, 8, 5]);
        assert_eq!(avc_from_sps(nals[1]).as_deref(), Some("avc1.64001f"));
        // HEVC SPS with an emulation-prevention byte inside the constraint flags.
        let sps = [0x42, 0x01, 0x01, 0x01, 0x60, 0, 0, 3, 0, 0x90, 0, 0, 0, 0, 0, 30, 0xa0];
        assert_eq!(hevc_from_sps(&sps).as_deref(), Some("hvc1.1.6.L30.90"));
        assert!(annexb_nals(&[0, 0, 1]).is_empty());
    }

    #[test]
    fn hvcc_arrays_and_truncation() {
        let mut b = vec![1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 30];
        b.extend_from_slice(&[0xf0, 0, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, 0x0f, 2]);
        b.extend_from_slice(&[0xa0, 0, 1, 0, 2, 0x40, 0x01]); // VPS, complete
        b.extend_from_slice(&[0x21, 0, 1, 0, 1, 0x42]); // SPS, not complete
        let h = parse_hvcc(&b).unwrap();
        assert_eq!(h.length_size, 4);
        assert!(h.array(32).unwrap().complete);
        assert!(!h.array(33).unwrap().complete);
        assert!(h.array(34).is_none());
        for n in 0..b.len() {
            let _ = parse_hvcc(&b[..n]);
        }
        assert!(parse_hvcc(&b[..b.len() - 1]).is_err());
        assert!(same_hevc_bitstream("hev1.1.6.L30.90", "HVC1.1.6.l30.90"));
        assert!(!same_hevc_bitstream("hvc1.1.4.L30.B01", "hvc1.1.6.L30.90"));
    }
}
