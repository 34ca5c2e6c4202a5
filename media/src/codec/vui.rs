//! Video usability facts the video codec parsers share: the colour description (ISO/IEC 23091-2
//! code points) H.264, H.265 and AV1 all signal, the part of vui_parameters( ) that H.264
//! (§E.1.1) and H.265 (§E.2.1) spell identically (sample aspect ratio, overscan, video signal
//! type, chroma location), and frame rates reduced from a time scale and a tick length.

use super::bits::{BitReader, Truncated};

/// VUI colour description (ISO/IEC 23091-2 code points).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour {
    pub primaries: u8,
    pub transfer: u8,
    pub matrix: u8,
    pub full_range: bool,
}

/// The colour a `colr` (nclx) box carries for this description: unspecified (2) primaries,
/// transfer or matrix become BT.709 (1), the default Sluice writes for every video codec.
pub fn colr_values(c: Colour) -> Colour {
    const UNSPECIFIED: u8 = 2;
    const BT709: u8 = 1;
    let or_709 = |v: u8| if v == UNSPECIFIED { BT709 } else { v };
    Colour {
        primaries: or_709(c.primaries),
        transfer: or_709(c.transfer),
        matrix: or_709(c.matrix),
        full_range: c.full_range,
    }
}

/// Table E-1 (the same in H.264 and H.265): sample aspect ratios for aspect_ratio_idc 1..=16.
const SAR_TABLE: [(u16, u16); 16] = [
    (1, 1),
    (12, 11),
    (10, 11),
    (16, 11),
    (40, 33),
    (24, 11),
    (20, 11),
    (32, 11),
    (80, 33),
    (18, 11),
    (15, 11),
    (64, 33),
    (160, 99),
    (4, 3),
    (3, 2),
    (2, 1),
];

/// aspect_ratio_idc "EXTENDED_SAR" (explicit sar_width/sar_height follow).
const EXTENDED_SAR: u32 = 255;

/// vui_parameters( ) from aspect_ratio_info_present_flag through chroma_loc_info, the fields
/// H.264 and H.265 share. Each fact is stored as soon as it is read, so a VUI truncated later
/// keeps what came before.
pub(crate) fn parse_vui_head(
    r: &mut BitReader<'_>,
    sample_aspect_ratio: &mut Option<(u16, u16)>,
    colour: &mut Option<Colour>,
) -> Result<(), Truncated> {
    if r.read_flag()? {
        // aspect_ratio_info_present_flag
        let idc = r.read_bits(8)?;
        if idc == EXTENDED_SAR {
            let w = r.read_bits(16)? as u16;
            let h = r.read_bits(16)? as u16;
            if w != 0 && h != 0 {
                *sample_aspect_ratio = Some((w, h));
            }
        } else if (1..=16).contains(&idc) {
            *sample_aspect_ratio = SAR_TABLE.get(idc as usize - 1).copied();
        }
    }
    if r.read_flag()? {
        // overscan_info_present_flag
        let _overscan_appropriate = r.read_flag()?;
    }
    if r.read_flag()? {
        // video_signal_type_present_flag
        let _video_format = r.read_bits(3)?;
        let full_range = r.read_flag()?;
        if r.read_flag()? {
            // colour_description_present_flag
            let primaries = r.read_bits(8)? as u8;
            let transfer = r.read_bits(8)? as u8;
            let matrix = r.read_bits(8)? as u8;
            *colour = Some(Colour { primaries, transfer, matrix, full_range });
        }
    }
    if r.read_flag()? {
        // chroma_loc_info_present_flag
        let _top = r.read_ue()?;
        let _bottom = r.read_ue()?;
    }
    Ok(())
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `num / den` in lowest terms, when both are non-zero and the result fits `u32`s.
pub(crate) fn reduced_rate(num: u64, den: u64) -> Option<(u32, u32)> {
    if num == 0 || den == 0 {
        return None;
    }
    let g = gcd(num, den);
    Some((u32::try_from(num / g).ok()?, u32::try_from(den / g).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interlaced_vui_rate_is_reduced_frame_rate() {
        // 29.97 fps as time_scale 60000, num_units_in_tick 1001 → (60000, 2002) → (30000, 1001).
        assert_eq!(reduced_rate(60000, 2002), Some((30000, 1001)));
        assert_eq!(reduced_rate(0, 2), None);
        assert_eq!(reduced_rate(50, 0), None);
    }

    #[test]
    fn vui_head_keeps_the_facts_read_before_a_truncation() {
        // aspect_ratio_idc 14 (4:3), no overscan info, a video signal type whose colour
        // description is cut after colour_primaries.
        let data = [0b1000_0111, 0b0011_0101, 0b0000_0001];
        let (mut sar, mut colour) = (None, None);
        let r = parse_vui_head(&mut BitReader::new(&data), &mut sar, &mut colour);
        assert_eq!(r, Err(Truncated));
        assert_eq!((sar, colour), (Some((4, 3)), None));
    }

    #[test]
    fn unspecified_colour_is_written_as_bt709() {
        let unspecified = Colour { primaries: 2, transfer: 2, matrix: 2, full_range: true };
        let bt709 = Colour { primaries: 1, transfer: 1, matrix: 1, full_range: true };
        assert_eq!(colr_values(unspecified), bt709);
        let pq = Colour { primaries: 9, transfer: 16, matrix: 9, full_range: false };
        assert_eq!(colr_values(pq), pq);
    }
}
