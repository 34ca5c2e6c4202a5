//! NAL unit plumbing H.264 and H.265 share: both put NAL units in MP4 samples behind the same
//! big-endian length prefixes (ISO/IEC 14496-15 §4.3.2, sized by the decoder configuration
//! record's `lengthSizeMinusOne`), both escape their RBSPs with the same emulation prevention
//! bytes, and both records store parameter sets as `unsigned int(16)` length + NAL unit.
//!
//! The codec modules wrap these with their own sync-sample rules and error types; the Annex B
//! conversions and the TS muxer use the splitter directly.

use bytes::{BufMut, Bytes, BytesMut};

#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum NalError {
    #[error("nal length size {0} is not 1, 2 or 4")]
    BadLengthSize(u8),
    #[error("nal unit length {len} overruns the {left} bytes left in the sample")]
    BadNalLength { len: usize, left: usize },
}

/// Removes emulation prevention bytes: "emulation_prevention_three_byte … a byte equal to
/// 0x03" that follows two zero bytes (H.264 §7.4.1, H.265 §7.4.2) and is discarded by the
/// decoder.
pub fn unescape_rbsp(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut zeros = 0usize;
    for &b in data {
        if zeros >= 2 && b == 0x03 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Iterator over the NAL units of one length-prefixed (AVCC/HVCC) sample.
#[derive(Debug, Clone)]
pub struct NalUnits<'a> {
    data: &'a [u8],
    length_size: usize,
    failed: bool,
}

/// Splits a length-prefixed sample into its NAL units. A length that overruns the sample ends
/// the iteration with an error.
pub fn nal_units(data: &[u8], length_size: u8) -> NalUnits<'_> {
    NalUnits { data, length_size: usize::from(length_size), failed: false }
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = Result<&'a [u8], NalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.data.is_empty() {
            return None;
        }
        if !matches!(self.length_size, 1 | 2 | 4) {
            self.failed = true;
            return Some(Err(NalError::BadLengthSize(self.length_size as u8)));
        }
        let Some((prefix, rest)) = self.data.split_at_checked(self.length_size) else {
            self.failed = true;
            return Some(Err(NalError::BadNalLength {
                len: self.length_size,
                left: self.data.len(),
            }));
        };
        let len = prefix.iter().fold(0usize, |acc, &b| acc << 8 | usize::from(b));
        let Some((nal, rest)) = rest.split_at_checked(len) else {
            self.failed = true;
            return Some(Err(NalError::BadNalLength { len, left: rest.len() }));
        };
        self.data = rest;
        Some(Ok(nal))
    }
}

/// Checks that a sample splits cleanly into NAL units; returns how many there are and whether
/// one of them satisfies `is_sync` (the codec's random access rule).
pub fn scan(
    data: &[u8],
    length_size: u8,
    is_sync: impl Fn(&[u8]) -> bool,
) -> Result<(usize, bool), NalError> {
    let (mut count, mut sync) = (0, false);
    for nal in nal_units(data, length_size) {
        let nal = nal?;
        count += 1;
        sync |= is_sync(nal);
    }
    Ok((count, sync))
}

/// Rewrites a length-prefixed sample to 4-byte length prefixes (returns it unchanged, after
/// checking its framing, when it already uses 4).
pub fn to_four_byte_lengths(data: &Bytes, length_size: u8) -> Result<Bytes, NalError> {
    if length_size == 4 {
        scan(data, 4, |_| false)?;
        return Ok(data.clone());
    }
    let mut out = BytesMut::with_capacity(data.len() + data.len() / 4 + 8);
    for nal in nal_units(data, length_size) {
        let nal = nal?;
        // The source length fits 1 or 2 bytes, so it fits 4.
        out.put_u32(nal.len() as u32);
        out.put_slice(nal);
    }
    Ok(out.freeze())
}

/// Writes one parameter set the way avcC and hvcC store them: "unsigned int(16)
/// …NALUnitLength; bit(8*…NALUnitLength) …NALUnit". A set too long for the 16-bit length is
/// refused with its length.
pub fn put_parameter_set(rec: &mut BytesMut, nal: &[u8]) -> Result<(), usize> {
    let len = u16::try_from(nal.len()).map_err(|_| nal.len())?;
    rec.put_u16(len);
    rec.put_slice(nal);
    Ok(())
}

/// A decoder configuration record switched to 4-byte NAL lengths: `lengthSizeMinusOne` (the
/// low two bits of the byte at `length_byte`) set to 3, and each list of `parameter_sets`
/// (slices of `record`) re-sliced out of the new record, which has the same layout.
pub fn with_four_byte_lengths<const N: usize>(
    record: &Bytes,
    length_byte: usize,
    parameter_sets: [&[Bytes]; N],
) -> (Bytes, [Vec<Bytes>; N]) {
    let mut rec = BytesMut::from(&record[..]);
    // The records' parsers proved `length_byte` is inside the record.
    if let Some(b) = rec.get_mut(length_byte) {
        *b |= 0x03;
    }
    let new = rec.freeze();
    let sets = parameter_sets.map(|sets| sets.iter().map(|s| rebase(&new, record, s)).collect());
    (new, sets)
}

/// Re-slices `part` (a slice of `old`) out of `new`, which has the same layout.
fn rebase(new: &Bytes, old: &Bytes, part: &Bytes) -> Bytes {
    let start = (part.as_ptr() as usize).wrapping_sub(old.as_ptr() as usize);
    new.get(start..start.wrapping_add(part.len()))
        .map_or_else(|| part.clone(), |s| new.slice_ref(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulation_prevention_bytes_are_removed() {
        assert_eq!(unescape_rbsp(&[0, 0, 3, 1, 0, 0, 3, 0, 0, 3]), vec![0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(unescape_rbsp(&[0, 3, 0]), vec![0, 3, 0]);
    }

    #[test]
    fn splits_length_prefixed_samples_and_reports_overruns() {
        let sample = [0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 3, 0x65, 0x88, 0x84];
        let nals: Vec<&[u8]> = nal_units(&sample, 4).map(Result::unwrap).collect();
        assert_eq!(nals, vec![&[0x09, 0xf0][..], &[0x65, 0x88, 0x84][..]]);
        assert_eq!(scan(&sample, 4, |n| n[0] == 0x65), Ok((2, true)));
        assert_eq!(
            scan(&[0, 0, 0, 9, 0x65], 4, |_| true),
            Err(NalError::BadNalLength { len: 9, left: 1 })
        );
        assert_eq!(scan(&[0, 0], 4, |_| true), Err(NalError::BadNalLength { len: 4, left: 2 }));
        assert_eq!(scan(&[0, 1, 0x65], 3, |_| true), Err(NalError::BadLengthSize(3)));
        assert_eq!(scan(&[], 3, |_| true), Ok((0, false)));
    }

    #[test]
    fn records_switch_to_four_byte_lengths_without_moving_parameter_sets() {
        let record = Bytes::from_static(&[1, 0xfd, 0, 2, 0x67, 0x42, 0, 1, 0x68]);
        let sets = [record.slice(4..6), record.slice(8..9)];
        let (new, rebased) = with_four_byte_lengths(&record, 1, [&sets[..1], &sets[1..]]);
        assert_eq!(&new[..], &[1, 0xff, 0, 2, 0x67, 0x42, 0, 1, 0x68]);
        assert_eq!(rebased, [vec![sets[0].clone()], vec![sets[1].clone()]]);
        // The sets are slices of the new record, not copies of the old one.
        assert_eq!(rebased[0][0].as_ptr(), new[4..].as_ptr());
    }
}
