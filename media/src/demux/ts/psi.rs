//! Program Specific Information (ISO/IEC 13818-1 §2.4.4): reassembling sections from packet
//! payloads ([`SectionAssembler`]), checking their CRC_32 ([`crc32`]), and reading the two
//! tables the demuxer needs: the Program Association Table ([`Pat`]) and the Program Map Table
//! ([`Pmt`]). Also used for SCTE-35 sections, which follow the same section framing.

use bytes::Bytes;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PsiError {
    #[error("pointer_field {0} overruns the packet")]
    BadPointer(usize),
    #[error("section_length {0} exceeds 4093")]
    SectionTooLong(usize),
    #[error("section cut short by the next section start")]
    Truncated,
    #[error("section crc mismatch")]
    BadCrc,
    #[error("table_id {0:#04x} is not the expected {1:#04x}")]
    BadTableId(u8, u8),
    #[error("section syntax malformed")]
    Malformed,
}

/// CRC_32 of ISO/IEC 13818-1 Annex A (polynomial 0x04C11DB7, initial value 0xFFFFFFFF, no
/// reflection, no final XOR). Over a whole section including its CRC_32 field the result is 0:
/// "gives a zero output of the registers in the decoder".
pub fn crc32(data: &[u8]) -> u32 {
    data.iter()
        .fold(0xffff_ffff, |crc, &b| (crc << 8) ^ CRC_TABLE[usize::from((crc >> 24) as u8 ^ b)])
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 0x8000_0000 != 0 { (c << 1) ^ 0x04c1_1db7 } else { c << 1 };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// "private_section_length … shall not exceed 4093" (the largest any section may be; PAT and PMT
/// are limited to 1021).
const MAX_SECTION_LENGTH: usize = 4093;
/// A table_id of 0xFF is stuffing: the rest of the packet is 0xFF bytes the decoder discards.
const STUFFING: u8 = 0xff;

/// Reassembles sections from the payloads of one PID's packets.
#[derive(Debug, Default)]
pub struct SectionAssembler {
    buf: Vec<u8>,
    /// True while inside a section (or right after a unit start, before its first byte).
    active: bool,
}

impl SectionAssembler {
    /// Forgets the section in progress (a continuity error lost some of its bytes).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.active = false;
    }

    /// Feeds one packet payload; complete sections (table_id through CRC_32, unchecked) and
    /// framing errors are appended to `out`.
    pub fn push(
        &mut self,
        unit_start: bool,
        payload: &[u8],
        out: &mut Vec<Result<Bytes, PsiError>>,
    ) {
        let mut data = payload;
        if unit_start {
            // "pointer_field … the number of bytes, immediately following the pointer_field
            // until the first byte of the first section that is present in the payload".
            let Some((&pointer, rest)) = data.split_first() else {
                self.reset();
                return;
            };
            let pointer = usize::from(pointer);
            if pointer > rest.len() {
                self.reset();
                out.push(Err(PsiError::BadPointer(pointer)));
                return;
            }
            let (tail, head) = rest.split_at(pointer);
            if self.active {
                self.consume(tail, out);
                if !self.buf.is_empty() {
                    out.push(Err(PsiError::Truncated));
                }
            }
            self.buf.clear();
            self.active = true;
            data = head;
        } else if !self.active {
            return;
        }
        self.consume(data, out);
    }

    fn consume(&mut self, data: &[u8], out: &mut Vec<Result<Bytes, PsiError>>) {
        self.buf.extend_from_slice(data);
        loop {
            if self.buf.first() == Some(&STUFFING) {
                // The rest of the packet is stuffing.
                self.reset();
                return;
            }
            if self.buf.len() < 3 {
                return;
            }
            let section_length = usize::from(self.buf[1] & 0x0f) << 8 | usize::from(self.buf[2]);
            if section_length > MAX_SECTION_LENGTH {
                self.reset();
                out.push(Err(PsiError::SectionTooLong(section_length)));
                return;
            }
            let total = 3 + section_length;
            if self.buf.len() < total {
                return;
            }
            out.push(Ok(Bytes::copy_from_slice(&self.buf[..total])));
            self.buf.drain(..total);
        }
    }
}

/// The long-form section header common to PAT and PMT (§2.4.4.3, §2.4.4.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LongHeader {
    table_id_extension: u16,
    version: u8,
    current_next: bool,
}

/// Checks CRC and table_id and splits a long-form section into its header and body (the bytes
/// after last_section_number, before CRC_32).
fn long_section(section: &[u8], table_id: u8) -> Result<(LongHeader, &[u8]), PsiError> {
    if section.len() < 12 {
        return Err(PsiError::Malformed);
    }
    if section[0] != table_id {
        return Err(PsiError::BadTableId(section[0], table_id));
    }
    if crc32(section) != 0 {
        return Err(PsiError::BadCrc);
    }
    // "section_syntax_indicator … shall be set to '1'".
    if section[1] & 0x80 == 0 {
        return Err(PsiError::Malformed);
    }
    let header = LongHeader {
        table_id_extension: u16::from_be_bytes([section[3], section[4]]),
        version: (section[5] >> 1) & 0x1f,
        current_next: section[5] & 0x01 != 0,
    };
    Ok((header, &section[8..section.len() - 4]))
}

/// table_id of program_association_section.
pub const PAT_TABLE_ID: u8 = 0x00;
/// table_id of TS_program_map_section.
pub const PMT_TABLE_ID: u8 = 0x02;

/// One program_association_section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pat {
    pub transport_stream_id: u16,
    pub version: u8,
    /// current_next_indicator: false means "not yet applicable".
    pub current: bool,
    /// (program_number, program_map_PID); program 0 (the network PID) is left out.
    pub programs: Vec<(u16, u16)>,
}

impl Pat {
    pub fn parse(section: &[u8]) -> Result<Self, PsiError> {
        let (h, body) = long_section(section, PAT_TABLE_ID)?;
        if body.len() % 4 != 0 {
            return Err(PsiError::Malformed);
        }
        let programs = body
            .chunks_exact(4)
            .map(|c| {
                (u16::from_be_bytes([c[0], c[1]]), u16::from(c[2] & 0x1f) << 8 | u16::from(c[3]))
            })
            // "If the program_number is 0x0000, then the following PID reference shall be the
            // network PID".
            .filter(|&(number, _)| number != 0)
            .collect();
        Ok(Self {
            transport_stream_id: h.table_id_extension,
            version: h.version,
            current: h.current_next,
            programs,
        })
    }
}

/// One descriptor (tag, payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub tag: u8,
    pub data: Bytes,
}

/// registration_descriptor (tag 5): "format_identifier … a 32-bit value obtained from a
/// Registration Authority".
pub const REGISTRATION_DESCRIPTOR: u8 = 0x05;

/// The format_identifier of the first registration descriptor in `descriptors`.
pub fn registration(descriptors: &[Descriptor]) -> Option<[u8; 4]> {
    descriptors
        .iter()
        .filter(|d| d.tag == REGISTRATION_DESCRIPTOR)
        .find_map(|d| d.data.get(..4).and_then(|b| b.try_into().ok()))
}

/// One elementary stream of a PMT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PmtStream {
    pub stream_type: u8,
    pub pid: u16,
    pub descriptors: Vec<Descriptor>,
}

/// One TS_program_map_section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pmt {
    pub program_number: u16,
    pub version: u8,
    pub current: bool,
    pub pcr_pid: u16,
    pub descriptors: Vec<Descriptor>,
    pub streams: Vec<PmtStream>,
}

impl Pmt {
    pub fn parse(section: &Bytes) -> Result<Self, PsiError> {
        let (h, body) = long_section(section, PMT_TABLE_ID)?;
        // body offsets are 8 into the section.
        let at = |offset: usize| section.slice(8 + offset..);
        let fixed = body.get(..4).ok_or(PsiError::Malformed)?;
        let pcr_pid = u16::from(fixed[0] & 0x1f) << 8 | u16::from(fixed[1]);
        let program_info_length = usize::from(fixed[2] & 0x0f) << 8 | usize::from(fixed[3]);
        let mut pos = 4;
        let descriptors = read_descriptors(&at(pos), program_info_length)?;
        pos += program_info_length;
        let mut streams = Vec::new();
        while pos < body.len() {
            let e = body.get(pos..pos + 5).ok_or(PsiError::Malformed)?;
            let stream_type = e[0];
            let pid = u16::from(e[1] & 0x1f) << 8 | u16::from(e[2]);
            let es_info_length = usize::from(e[3] & 0x0f) << 8 | usize::from(e[4]);
            pos += 5;
            if pos + es_info_length > body.len() {
                return Err(PsiError::Malformed);
            }
            let descriptors = read_descriptors(&at(pos), es_info_length)?;
            pos += es_info_length;
            streams.push(PmtStream { stream_type, pid, descriptors });
        }
        Ok(Self {
            program_number: h.table_id_extension,
            version: h.version,
            current: h.current_next,
            pcr_pid,
            descriptors,
            streams,
        })
    }
}

/// Reads `len` bytes of (tag, length, data) descriptors from the start of `data`.
fn read_descriptors(data: &Bytes, len: usize) -> Result<Vec<Descriptor>, PsiError> {
    if len > data.len() {
        return Err(PsiError::Malformed);
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 2 <= len {
        let tag = data[pos];
        let dlen = usize::from(data[pos + 1]);
        let end = pos + 2 + dlen;
        if end > len {
            return Err(PsiError::Malformed);
        }
        out.push(Descriptor { tag, data: data.slice(pos + 2..end) });
        pos = end;
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Appends the CRC_32 to a section built without it.
    pub(crate) fn with_crc(mut section: Vec<u8>) -> Vec<u8> {
        let crc = crc32(&section);
        section.extend_from_slice(&crc.to_be_bytes());
        section
    }

    /// The PAT ffmpeg writes: one program (1) on PMT PID 0x1000.
    pub(crate) fn pat_section() -> Vec<u8> {
        with_crc(vec![0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00])
    }

    #[test]
    fn crc_of_ffmpeg_pat_matches_and_checks_to_zero() {
        let pat = pat_section();
        // The CRC ffmpeg writes for this PAT.
        assert_eq!(&pat[12..], &[0x2a, 0xb1, 0x04, 0xb2]);
        assert_eq!(crc32(&pat), 0);
    }

    #[test]
    fn pat_lists_programs_without_network_pid() {
        let s = with_crc(vec![
            0x00, 0xb0, 0x11, 0x00, 0x07, 0xc3, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x10, 0x00, 0x01,
            0xf0, 0x00,
        ]);
        let pat = Pat::parse(&s).unwrap();
        assert_eq!((pat.transport_stream_id, pat.version, pat.current), (7, 1, true));
        assert_eq!(pat.programs, vec![(1, 0x1000)]);
        let mut bad = s.clone();
        bad[10] ^= 1;
        assert_eq!(Pat::parse(&bad), Err(PsiError::BadCrc));
    }

    #[test]
    fn pmt_lists_streams_and_descriptors() {
        let s = Bytes::from(with_crc(vec![
            0x02, 0xb0, 0x1d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0xe1, 0x00, 0xf0,
            0x00, // pcr 0x100
            0x1b, 0xe1, 0x00, 0xf0, 0x00, // H.264 on 0x100
            0x0f, 0xe1, 0x01, 0xf0, 0x06, 0x0a, 0x04, b'e', b'n', b'g', 0x00, // AAC, ISO 639
            0x86, 0xe1, 0xf0, 0xf0, 0x00, // SCTE-35
        ]));
        let pmt = Pmt::parse(&s).unwrap();
        assert_eq!((pmt.program_number, pmt.pcr_pid), (1, 0x100));
        let types: Vec<(u8, u16)> = pmt.streams.iter().map(|s| (s.stream_type, s.pid)).collect();
        assert_eq!(types, vec![(0x1b, 0x100), (0x0f, 0x101), (0x86, 0x1f0)]);
        assert_eq!(pmt.streams[1].descriptors[0].tag, 0x0a);
        assert_eq!(&pmt.streams[1].descriptors[0].data[..], b"eng\0");
    }

    #[test]
    fn sections_spanning_packets_and_several_per_packet() {
        let pat = pat_section();
        let mut a = SectionAssembler::default();
        let mut out = Vec::new();
        // Pointer 0, the first 5 bytes; the rest in a continuation packet, then stuffing.
        let mut first = vec![0];
        first.extend_from_slice(&pat[..5]);
        a.push(true, &first, &mut out);
        assert!(out.is_empty());
        let mut cont = pat[5..].to_vec();
        cont.extend_from_slice(&[0xff; 20]);
        a.push(false, &cont, &mut out);
        assert_eq!(out, vec![Ok(Bytes::from(pat.clone()))]);
        // Two sections in one packet, after 3 bytes of a section we never saw start.
        out.clear();
        let mut p = vec![3, 1, 2, 3];
        p.extend_from_slice(&pat);
        p.extend_from_slice(&pat);
        p.extend_from_slice(&[0xff; 4]);
        a.push(true, &p, &mut out);
        assert_eq!(out.len(), 2);
        // A section interrupted by a new unit start is reported.
        out.clear();
        let mut p = vec![0];
        p.extend_from_slice(&pat[..8]);
        a.push(true, &p, &mut out);
        a.push(true, &[0], &mut out);
        assert_eq!(out, vec![Err(PsiError::Truncated)]);
        out.clear();
        a.push(true, &[200, 0], &mut out);
        assert_eq!(out, vec![Err(PsiError::BadPointer(200))]);
    }
}
