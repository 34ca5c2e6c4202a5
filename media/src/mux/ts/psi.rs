//! Program specific information the muxer writes: the program association section (PAT,
//! §2.4.4.3) and the TS program map section (PMT, §2.4.4.8), each closed by its CRC_32.

use bytes::{BufMut, BytesMut};

/// "table_id … 0x00 program_association_section", "0x02 TS_program_map_section" (Table 2-31).
const TABLE_PAT: u8 = 0x00;
const TABLE_PMT: u8 = 0x02;

/// One elementary stream listed in the PMT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PmtStream {
    /// stream_type (Table 2-34): 0x1B AVC, 0x24 HEVC, 0x0F ADTS AAC.
    pub stream_type: u8,
    pub pid: u16,
}

/// PAT with one program: "Exactly one MPEG-2 program" per HLS segment.
pub fn pat(transport_stream_id: u16, program_number: u16, pmt_pid: u16, version: u8) -> BytesMut {
    let mut s = section_start(TABLE_PAT, transport_stream_id, version);
    s.put_u16(program_number);
    // reserved '111', program_map_PID(13)
    s.put_u16(0xe000 | (pmt_pid & 0x1fff));
    finish_section(s)
}

/// PMT for one program: PCR_PID, no program descriptors, one entry per stream without
/// ES descriptors.
pub fn pmt(program_number: u16, version: u8, pcr_pid: u16, streams: &[PmtStream]) -> BytesMut {
    let mut s = section_start(TABLE_PMT, program_number, version);
    // reserved '111', PCR_PID(13)
    s.put_u16(0xe000 | (pcr_pid & 0x1fff));
    // reserved '1111', program_info_length(12) = 0
    s.put_u16(0xf000);
    for st in streams {
        s.put_u8(st.stream_type);
        // reserved '111', elementary_PID(13)
        s.put_u16(0xe000 | (st.pid & 0x1fff));
        // reserved '1111', ES_info_length(12) = 0
        s.put_u16(0xf000);
    }
    finish_section(s)
}

/// table_id, the section_length placeholder, the 16-bit id (transport_stream_id /
/// program_number), version_number with current_next_indicator 1, section 0 of 0.
fn section_start(table_id: u8, id: u16, version: u8) -> BytesMut {
    let mut s = BytesMut::with_capacity(64);
    s.put_u8(table_id);
    // section_syntax_indicator 1, '0', reserved '11', section_length (patched later)
    s.put_u16(0xb000);
    s.put_u16(id);
    // reserved '11', version_number(5), current_next_indicator 1
    s.put_u8(0xc0 | (version & 0x1f) << 1 | 1);
    s.put_u8(0); // section_number
    s.put_u8(0); // last_section_number
    s
}

/// Patches section_length ("the number of bytes of the section, starting immediately
/// following the section_length field, and including the CRC") and appends the CRC_32.
fn finish_section(mut s: BytesMut) -> BytesMut {
    // Our sections are far below the 1021-byte limit, so the length fits 12 bits.
    let len = (s.len() - 3 + 4) as u16;
    s[1] = 0xb0 | ((len >> 8) as u8 & 0x0f);
    s[2] = len as u8;
    let crc = crc32_mpeg2(&s);
    s.put_u32(crc);
    s
}

/// CRC_32 of Annex A ("gives a zero output of the registers in the decoder after processing
/// the entire section"). One implementation serves both directions: the demuxer's.
pub use crate::demux::ts::psi::crc32 as crc32_mpeg2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_check_value_and_validates_to_zero() {
        // CRC-32/MPEG-2 check value for "123456789".
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_e6e7);
        let s = pat(1, 1, 0x1000, 0);
        assert_eq!(crc32_mpeg2(&s), 0);
    }

    #[test]
    fn pat_matches_a_known_section() {
        // ffmpeg's PAT for program 1 on PMT PID 0x1000, version 0.
        let s = pat(1, 1, 0x1000, 0);
        assert_eq!(
            &s[..],
            &[
                0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00, 0x2a, 0xb1,
                0x04, 0xb2
            ]
        );
    }

    #[test]
    fn pmt_lists_streams_and_pcr_pid() {
        let streams = [
            PmtStream { stream_type: 0x1b, pid: 0x100 },
            PmtStream { stream_type: 0x0f, pid: 0x101 },
        ];
        let s = pmt(1, 3, 0x100, &streams);
        assert_eq!(s[0], 0x02);
        assert_eq!(usize::from(u16::from(s[1] & 0x0f) << 8 | u16::from(s[2])), s.len() - 3);
        assert_eq!(s[5], 0xc0 | 3 << 1 | 1);
        assert_eq!(&s[8..12], &[0xe1, 0x00, 0xf0, 0x00]);
        assert_eq!(&s[12..17], &[0x1b, 0xe1, 0x00, 0xf0, 0x00]);
        assert_eq!(&s[17..22], &[0x0f, 0xe1, 0x01, 0xf0, 0x00]);
        assert_eq!(crc32_mpeg2(&s), 0);
    }
}
