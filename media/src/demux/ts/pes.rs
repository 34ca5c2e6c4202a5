//! PES packets (ISO/IEC 13818-1 §2.4.3.6): reassembling one PES packet from the payloads of its
//! transport packets ([`PesAssembler`]) and reading its header ([`PesHeader::parse`]) for the
//! PTS and DTS.
//!
//! Second stage of the TS demuxer for audio and video PIDs: packets in, whole PES packets out;
//! the elementary stream handlers take it from there.

use bytes::{Bytes, BytesMut};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PesError {
    #[error("pes header truncated")]
    Truncated,
    #[error("no pes start code")]
    NoStartCode,
    #[error("pes packet larger than {0} bytes")]
    TooLarge(usize),
    #[error("pes packet cut short: {got} of {expected} bytes")]
    CutShort { got: usize, expected: usize },
}

/// The fields of a PES header the demuxer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PesHeader {
    pub stream_id: u8,
    /// 33-bit presentation time stamp, 90 kHz.
    pub pts: Option<u64>,
    /// 33-bit decoding time stamp, 90 kHz.
    pub dts: Option<u64>,
    /// Offset of the first payload byte.
    pub payload_start: usize,
}

/// stream_ids without the optional PES header (§2.4.3.7 Table 2-21 exceptions):
/// program_stream_map, padding_stream, private_stream_2, ECM, EMM, program_stream_directory,
/// DSMCC_stream and ITU-T Rec. H.222.1 type E.
fn has_optional_header(stream_id: u8) -> bool {
    !matches!(stream_id, 0xbc | 0xbe | 0xbf | 0xf0 | 0xf1 | 0xff | 0xf2 | 0xf8)
}

impl PesHeader {
    /// Parses the header at the start of a PES packet.
    pub fn parse(data: &[u8]) -> Result<Self, PesError> {
        let fixed = data.get(..6).ok_or(PesError::Truncated)?;
        // "packet_start_code_prefix … the bit string '0000 0000 0000 0000 0000 0001'".
        if fixed[..3] != [0, 0, 1] {
            return Err(PesError::NoStartCode);
        }
        let stream_id = fixed[3];
        if !has_optional_header(stream_id) {
            return Ok(Self { stream_id, pts: None, dts: None, payload_start: 6 });
        }
        let opt = data.get(6..9).ok_or(PesError::Truncated)?;
        // "When the PTS_DTS_flags field is set to '10', the PTS fields shall be present in the
        // PES packet header. When the PTS_DTS_flags field is set to '11', both the PTS fields
        // and DTS fields shall be present" ("The value '01' is forbidden": read as none).
        let pts_dts_flags = opt[1] >> 6;
        let header_data_length = usize::from(opt[2]);
        let payload_start = 9 + header_data_length;
        let fields = data.get(9..payload_start).ok_or(PesError::Truncated)?;
        let (pts, dts) = match pts_dts_flags {
            0b10 => (Some(read_timestamp(fields.get(..5))?), None),
            0b11 => {
                (Some(read_timestamp(fields.get(..5))?), Some(read_timestamp(fields.get(5..10))?))
            }
            _ => (None, None),
        };
        Ok(Self { stream_id, pts, dts, payload_start })
    }
}

/// "PTS [32..30] 3, marker_bit, PTS [29..15] 15, marker_bit, PTS [14..0] 15, marker_bit",
/// after a 4-bit prefix. Marker bits are not checked: muxers in the wild get them wrong and the
/// value is still right.
fn read_timestamp(b: Option<&[u8]>) -> Result<u64, PesError> {
    let b = b.ok_or(PesError::Truncated)?;
    Ok(u64::from(b[0] >> 1 & 0x07) << 30
        | u64::from(b[1]) << 22
        | u64::from(b[2] >> 1) << 15
        | u64::from(b[3]) << 7
        | u64::from(b[4] >> 1))
}

/// Reassembles the PES packets of one PID.
///
/// A PES packet ends when its PES_packet_length is reached or, for length 0 ("neither specified
/// nor bounded and is allowed only in PES packets whose payload consists of bytes from a video
/// elementary stream contained in transport stream packets" — tolerated on any stream), at the
/// next payload_unit_start_indicator.
#[derive(Debug)]
pub struct PesAssembler {
    buf: BytesMut,
    active: bool,
    max: usize,
}

impl PesAssembler {
    pub fn new(max: usize) -> Self {
        Self { buf: BytesMut::new(), active: false, max }
    }

    /// Forgets the PES packet in progress; returns true if there was one.
    pub fn reset(&mut self) -> bool {
        let was = self.active;
        self.buf = BytesMut::new();
        self.active = false;
        was
    }

    /// Feeds one packet payload. Returns the PES packets it completed (at most two: the one a
    /// unit start ends and a short one that starts and ends in this packet) and errors.
    pub fn push(
        &mut self,
        unit_start: bool,
        payload: &[u8],
        out: &mut Vec<Result<Bytes, PesError>>,
    ) {
        if unit_start {
            if let Some(done) = self.finish() {
                out.push(done);
            }
            self.active = true;
        } else if !self.active {
            return;
        }
        if self.buf.len() + payload.len() > self.max {
            self.reset();
            out.push(Err(PesError::TooLarge(self.max)));
            return;
        }
        self.buf.extend_from_slice(payload);
        if let Some(expected) = announced_len(&self.buf)
            && self.buf.len() >= expected
        {
            // Bytes past PES_packet_length in the last packet are stuffing.
            self.buf.truncate(expected);
            self.active = false;
            out.push(Ok(std::mem::take(&mut self.buf).freeze()));
        }
    }

    /// Ends the PES packet in progress (the stream ended or the next one starts): unbounded
    /// packets are complete, bounded ones that did not reach their length are an error.
    pub fn finish(&mut self) -> Option<Result<Bytes, PesError>> {
        if !self.active {
            return None;
        }
        self.active = false;
        let data = std::mem::take(&mut self.buf).freeze();
        match announced_len(&data) {
            Some(expected) if data.len() < expected => {
                Some(Err(PesError::CutShort { got: data.len(), expected }))
            }
            _ if data.is_empty() => None,
            _ => Some(Ok(data)),
        }
    }
}

/// Total length announced by PES_packet_length ("the number of bytes in the PES packet
/// following the last byte of the field"); None when unbounded (0) or not yet known.
fn announced_len(data: &[u8]) -> Option<usize> {
    let len = usize::from(u16::from_be_bytes([*data.get(4)?, *data.get(5)?]));
    (len != 0).then_some(6 + len)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A PES header with PTS (and DTS) as ffmpeg writes them.
    pub(crate) fn header(stream_id: u8, len: u16, pts: u64, dts: Option<u64>) -> Vec<u8> {
        let mut h = vec![0, 0, 1, stream_id];
        h.extend_from_slice(&len.to_be_bytes());
        let flags = if dts.is_some() { 0xc0 } else { 0x80 };
        h.extend_from_slice(&[0x80, flags, if dts.is_some() { 10 } else { 5 }]);
        let prefix = if dts.is_some() { 0x30 } else { 0x20 };
        h.extend(timestamp(prefix, pts));
        if let Some(d) = dts {
            h.extend(timestamp(0x10, d));
        }
        h
    }

    fn timestamp(prefix: u8, t: u64) -> [u8; 5] {
        [
            prefix | ((t >> 29) & 0x0e) as u8 | 1,
            (t >> 22) as u8,
            ((t >> 14) & 0xfe) as u8 | 1,
            (t >> 7) as u8,
            ((t << 1) & 0xfe) as u8 | 1,
        ]
    }

    #[test]
    fn reads_33_bit_pts_and_dts() {
        let h = header(0xe0, 0, (1 << 33) - 1, Some(0x1_2345_6789));
        let p = PesHeader::parse(&h).unwrap();
        assert_eq!(
            (p.stream_id, p.pts, p.dts, p.payload_start),
            (0xe0, Some((1 << 33) - 1), Some(0x1_2345_6789), 19)
        );
        let h = header(0xc0, 0, 126_000, None);
        let p = PesHeader::parse(&h).unwrap();
        assert_eq!((p.pts, p.dts, p.payload_start), (Some(126_000), None, 14));
        assert_eq!(PesHeader::parse(&h[..12]), Err(PesError::Truncated));
        assert_eq!(PesHeader::parse(&[0, 0, 2, 0xe0, 0, 0]), Err(PesError::NoStartCode));
    }

    #[test]
    fn bounded_pes_completes_at_its_length_unbounded_at_next_start() {
        let mut a = PesAssembler::new(1 << 20);
        let mut out = Vec::new();
        let mut p = header(0xc0, 8 + 4, 0, None);
        p.extend_from_slice(&[1, 2, 3, 4, 0xff, 0xff]);
        a.push(true, &p[..10], &mut out);
        assert!(out.is_empty());
        a.push(false, &p[10..], &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ref().unwrap().len(), 18);
        out.clear();
        let v = header(0xe0, 0, 0, None);
        a.push(true, &v, &mut out);
        a.push(false, &[9; 100], &mut out);
        assert!(out.is_empty());
        a.push(true, &v, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ref().unwrap().len(), v.len() + 100);
        assert_eq!(a.finish().map(|r| r.map(|b| b.len())), Some(Ok(v.len())));
    }

    #[test]
    fn oversized_and_cut_short_packets_are_errors() {
        let mut a = PesAssembler::new(100);
        let mut out = Vec::new();
        a.push(true, &header(0xe0, 0, 0, None), &mut out);
        a.push(false, &[0; 90], &mut out);
        assert_eq!(out, vec![Err(PesError::TooLarge(100))]);
        out.clear();
        a.push(false, &[0; 10], &mut out);
        assert!(out.is_empty(), "bytes after an overflow wait for the next start");
        a.push(true, &header(0xc0, 50, 0, None), &mut out);
        a.push(true, &header(0xc0, 8, 0, None), &mut out);
        assert_eq!(out[0], Err(PesError::CutShort { got: 14, expected: 56 }));
        assert_eq!(out[1].as_ref().map(Bytes::len), Ok(14));
    }
}
