//! Annex B byte streams (ISO/IEC 14496-10 Annex B, ISO/IEC 23008-2 Annex B): NAL units behind
//! `00 00 01` / `00 00 00 01` start codes, the form MPEG-TS carries H.264 and H.265 in.
//!
//! Sluice's [`crate::AccessUnit`]s hold length-prefixed NAL units (4-byte lengths, the MP4
//! form); the TS demuxer converts Annex B → length-prefixed with [`to_length_prefixed`] and the
//! TS muxer goes back with [`append_annex_b`]. Neither direction touches the NAL payload:
//! emulation prevention bytes stay where they are, which is what keeps start codes out of it.
//!
//! Codec-agnostic: the same functions serve H.264 and H.265.

use bytes::{BufMut, Bytes, BytesMut};

use super::nal::{self, NalError};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AnnexBError {
    #[error("nal length size {0} is not 1, 2 or 4")]
    BadLengthSize(u8),
    #[error("nal unit length {len} overruns the {left} bytes left in the sample")]
    BadNalLength { len: usize, left: usize },
    #[error("nal unit of {0} bytes does not fit a 4-byte length")]
    NalTooLong(usize),
}

impl From<NalError> for AnnexBError {
    fn from(e: NalError) -> Self {
        match e {
            NalError::BadNalLength { len, left } => AnnexBError::BadNalLength { len, left },
            NalError::BadLengthSize(n) => AnnexBError::BadLengthSize(n),
        }
    }
}

/// The 4-byte start code written before every NAL unit (`zero_byte` +
/// `start_code_prefix_one_3bytes`). Annex B §B.1.2 asks for the `zero_byte` before SPS, PPS and
/// the first NAL unit of an access unit; writing it everywhere is always allowed.
pub const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Iterator over the NAL units of an Annex B byte stream; see [`nal_units`].
#[derive(Debug, Clone)]
pub struct AnnexBNalUnits<'a> {
    /// Unread data; starts just after a start code (or is empty once done).
    rest: &'a [u8],
}

/// Splits an Annex B byte stream into NAL units (without start codes).
///
/// Bytes before the first start code are skipped (`leading_zero_8bits`, or garbage from a
/// stream joined mid-way). A NAL unit runs up to the next `00 00 01`; zero bytes at its end are
/// dropped, which removes both `trailing_zero_8bits` and the `zero_byte` of a 4-byte start code
/// ("The last byte of the NAL unit shall not be equal to 0x00", §7.4.1). Empty NAL units are
/// skipped. A stream cut short yields the NAL unit as far as it goes: truncation is invisible
/// at this level and is for the decoder to notice.
pub fn nal_units(data: &[u8]) -> AnnexBNalUnits<'_> {
    let rest = match find_start_code(data) {
        Some(pos) => &data[pos + 3..],
        None => &[],
    };
    AnnexBNalUnits { rest }
}

impl<'a> Iterator for AnnexBNalUnits<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.rest.is_empty() {
            let (nal, rest) = match find_start_code(self.rest) {
                Some(pos) => (&self.rest[..pos], &self.rest[pos + 3..]),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            let nal = trim_trailing_zeros(nal);
            if !nal.is_empty() {
                return Some(nal);
            }
        }
        None
    }
}

/// Position of the first `00 00 01` in `data`.
fn find_start_code(data: &[u8]) -> Option<usize> {
    let mut from = 2;
    while from < data.len() {
        // Look for the 0x01 and check the two bytes before it.
        let one = from + data.get(from..)?.iter().position(|&b| b == 1)?;
        if data[one - 1] == 0 && data[one - 2] == 0 {
            return Some(one - 2);
        }
        from = one + 1;
    }
    None
}

fn trim_trailing_zeros(nal: &[u8]) -> &[u8] {
    let end = nal.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &nal[..end]
}

/// Converts an Annex B byte stream into 4-byte length-prefixed NAL units (the form
/// [`crate::AccessUnit`] carries). NAL units are split as [`nal_units`] does.
pub fn to_length_prefixed(data: &[u8]) -> Result<Bytes, AnnexBError> {
    let mut out = BytesMut::with_capacity(data.len() + 16);
    for nal in nal_units(data) {
        let len = u32::try_from(nal.len()).map_err(|_| AnnexBError::NalTooLong(nal.len()))?;
        out.put_u32(len);
        out.put_slice(nal);
    }
    Ok(out.freeze())
}

/// Converts a length-prefixed sample (1-, 2- or 4-byte lengths) into an Annex B byte stream
/// with 4-byte start codes.
pub fn to_annex_b(data: &[u8], length_size: u8) -> Result<Bytes, AnnexBError> {
    let mut out = BytesMut::with_capacity(data.len() + 16);
    append_annex_b(data, length_size, &mut out)?;
    Ok(out.freeze())
}

/// [`to_annex_b`] appending to `out`. On error `out` keeps the NAL units converted before the
/// bad length; callers that need all-or-nothing check with [`nal::scan`] first or truncate back.
pub fn append_annex_b(data: &[u8], length_size: u8, out: &mut BytesMut) -> Result<(), AnnexBError> {
    for nal in nal::nal_units(data, length_size) {
        put_nal(out, nal?);
    }
    Ok(())
}

/// Writes one NAL unit behind a 4-byte start code.
pub fn put_nal(out: &mut BytesMut, nal: &[u8]) {
    out.put_slice(&START_CODE);
    out.put_slice(nal);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(data: &[u8]) -> Vec<Vec<u8>> {
        nal_units(data).map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn splits_on_three_and_four_byte_start_codes() {
        let stream = [
            0, 0, 0, 1, 0x09, 0xf0, // AUD behind a 4-byte start code
            0, 0, 1, 0x67, 0x42, 0x00, // SPS behind a 3-byte one
            0, 0, 0, 1, 0x65, 0x88, 0x84,
        ];
        assert_eq!(
            split(&stream),
            vec![vec![0x09, 0xf0], vec![0x67, 0x42], vec![0x65, 0x88, 0x84]]
        );
    }

    #[test]
    fn leading_garbage_trailing_zeros_and_empty_units_are_dropped() {
        let stream =
            [0xff, 0x12, 0, 0, 0, 0, 1, 0x41, 0x9a, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0x41, 0x9b, 0, 0];
        assert_eq!(split(&stream), vec![vec![0x41, 0x9a], vec![0x41, 0x9b]]);
    }

    #[test]
    fn emulation_prevention_bytes_stay_inside_the_unit() {
        // 00 00 03 01 is how an encoder escapes a payload 00 00 01; it must not split.
        let nal = [0x65, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0x03, 0x00, 0x7f];
        let mut stream = START_CODE.to_vec();
        stream.extend_from_slice(&nal);
        assert_eq!(split(&stream), vec![nal.to_vec()]);
        let prefixed = to_length_prefixed(&stream).unwrap();
        assert_eq!(&prefixed[..4], &[0, 0, 0, nal.len() as u8]);
        assert_eq!(&prefixed[4..], &nal);
        assert_eq!(to_annex_b(&prefixed, 4).unwrap(), Bytes::from(stream));
    }

    #[test]
    fn no_start_code_or_truncated_streams_never_panic() {
        for data in [&[][..], &[0], &[0, 0], &[0, 0, 1], &[0, 0, 0, 1], &[1, 1, 1], &[0, 1, 0, 1]] {
            assert!(split(data).is_empty(), "{data:?}");
            assert!(to_length_prefixed(data).unwrap().is_empty());
        }
        // Cut mid-unit: the unit goes as far as the data.
        assert_eq!(split(&[0, 0, 1, 0x65, 0x88, 0, 0]), vec![vec![0x65, 0x88]]);
        assert_eq!(split(&[0, 0, 1, 0x65, 0, 0, 1]), vec![vec![0x65]]);
    }

    #[test]
    fn length_prefixed_of_every_size_round_trips() {
        let nals: [&[u8]; 3] = [&[0x09, 0xf0], &[0x67, 0x42, 0xc0, 0x1e], &[0x65, 0x88]];
        let mut annex_b = Vec::new();
        for n in nals {
            annex_b.extend_from_slice(&START_CODE);
            annex_b.extend_from_slice(n);
        }
        for size in [1u8, 2, 4] {
            let mut prefixed = Vec::new();
            for n in nals {
                let len = (n.len() as u32).to_be_bytes();
                prefixed.extend_from_slice(&len[4 - usize::from(size)..]);
                prefixed.extend_from_slice(n);
            }
            assert_eq!(&to_annex_b(&prefixed, size).unwrap()[..], &annex_b[..], "size {size}");
        }
        let back = to_length_prefixed(&annex_b).unwrap();
        assert_eq!(&to_annex_b(&back, 4).unwrap()[..], &annex_b[..]);
    }

    #[test]
    fn bad_length_prefixes_are_errors() {
        assert_eq!(
            to_annex_b(&[0, 0, 0, 9, 0x65], 4),
            Err(AnnexBError::BadNalLength { len: 9, left: 1 })
        );
        assert_eq!(to_annex_b(&[0, 0], 4), Err(AnnexBError::BadNalLength { len: 4, left: 2 }));
        assert_eq!(to_annex_b(&[0, 1, 0x65], 3), Err(AnnexBError::BadLengthSize(3)));
        assert!(to_annex_b(&[], 4).unwrap().is_empty());
    }
}
