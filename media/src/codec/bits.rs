//! Readers the codec parsers share: an MSB-first bit reader over a byte slice, with the
//! exp-Golomb codes H.264 and H.265 headers use (ISO/IEC 14496-10 §9.1), and a big-endian byte
//! reader for decoder configuration records. Every read is bounds-checked.

use bytes::Bytes;

/// Reading past the end of the data (the only way a bit read can fail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bitstream truncated")]
pub struct Truncated;

/// MSB-first reader. Reads never panic: past the end they return [`Truncated`].
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits from the start of `data`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Bits not yet read.
    pub fn remaining(&self) -> usize {
        (self.data.len() * 8).saturating_sub(self.pos)
    }

    pub fn read_bit(&mut self) -> Result<bool, Truncated> {
        let byte = self.data.get(self.pos / 8).ok_or(Truncated)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }

    pub fn read_flag(&mut self) -> Result<bool, Truncated> {
        self.read_bit()
    }

    /// Reads `n` bits (0 ≤ n ≤ 32) as an unsigned number.
    pub fn read_bits(&mut self, n: u32) -> Result<u32, Truncated> {
        if n > 32 || (n as usize) > self.remaining() {
            return Err(Truncated);
        }
        let mut v: u64 = 0;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.read_bit()?);
        }
        // n ≤ 32, so v < 2^32.
        Ok(v as u32)
    }

    pub fn skip_bits(&mut self, n: usize) -> Result<(), Truncated> {
        if n > self.remaining() {
            return Err(Truncated);
        }
        self.pos += n;
        Ok(())
    }

    /// ue(v): "leadingZeroBits … codeNum = 2^leadingZeroBits − 1 + read_bits(leadingZeroBits)"
    /// (§9.1). Codes longer than 32 bits cannot occur in a conforming stream and are rejected
    /// as truncated.
    pub fn read_ue(&mut self) -> Result<u32, Truncated> {
        let mut zeros = 0u32;
        while !self.read_bit()? {
            zeros += 1;
            if zeros > 31 {
                return Err(Truncated);
            }
        }
        let rest = self.read_bits(zeros)?;
        let v = (1u64 << zeros) - 1 + u64::from(rest);
        u32::try_from(v).map_err(|_| Truncated)
    }

    /// se(v): codeNum k maps to (−1)^(k+1) · Ceil(k ÷ 2) (§9.1.1).
    pub fn read_se(&mut self) -> Result<i32, Truncated> {
        let k = i64::from(self.read_ue()?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        i32::try_from(v).map_err(|_| Truncated)
    }
}

/// Big-endian byte reader over a decoder configuration record held in `Bytes`: length-prefixed
/// parts come back as slices of the same buffer, without copying. Past the end reads give
/// `None`.
#[derive(Debug, Clone)]
pub struct ByteReader<'a> {
    data: &'a Bytes,
    pos: usize,
}

impl<'a> ByteReader<'a> {
    /// A reader positioned at byte `pos` of `data`.
    pub fn at(data: &'a Bytes, pos: usize) -> Self {
        Self { data, pos }
    }

    pub fn u8(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from(self.u8()?) << 8 | u16::from(self.u8()?))
    }

    /// An `unsigned int(16)` length, then that many bytes (returned as a slice of the record).
    pub fn u16_prefixed(&mut self) -> Option<Bytes> {
        let len = usize::from(self.u16()?);
        let end = self.pos.checked_add(len).filter(|&end| end <= self.data.len())?;
        let part = self.data.slice(self.pos..end);
        self.pos = end;
        Some(part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bits_msb_first() {
        let mut r = BitReader::new(&[0b1010_0000, 0xff]);
        assert_eq!(r.read_bits(3), Ok(0b101));
        assert_eq!(r.read_bits(5), Ok(0));
        assert_eq!(r.read_bits(8), Ok(0xff));
        assert_eq!(r.read_bit(), Err(Truncated));
    }

    #[test]
    fn exp_golomb_codes_decode_per_table_9_2() {
        // 1 | 010 | 011 | 00100 | 00101 → ue 0,1,2,3,4
        let mut r = BitReader::new(&[0b1010_0110, 0b0100_0010, 0b1000_0000]);
        assert_eq!(r.read_ue(), Ok(0));
        assert_eq!(r.read_ue(), Ok(1));
        assert_eq!(r.read_ue(), Ok(2));
        assert_eq!(r.read_ue(), Ok(3));
        assert_eq!(r.read_ue(), Ok(4));
        // same codes as se: 0, 1, -1, 2, -2
        let mut r = BitReader::new(&[0b1010_0110, 0b0100_0010, 0b1000_0000]);
        let se: Vec<i32> = (0..5).map(|_| r.read_se().unwrap()).collect();
        assert_eq!(se, vec![0, 1, -1, 2, -2]);
    }

    #[test]
    fn byte_reader_slices_length_prefixed_parts_and_stops_at_the_end() {
        let rec = Bytes::from_static(&[0xaa, 0x01, 0x02, 0, 2, 0x67, 0x42, 0, 5, 0x68]);
        let mut r = ByteReader::at(&rec, 1);
        assert_eq!(r.u16(), Some(0x0102));
        let part = r.u16_prefixed().unwrap();
        assert_eq!(&part[..], &[0x67, 0x42]);
        assert_eq!(part.as_ptr(), rec[5..].as_ptr());
        assert_eq!(r.clone().u16_prefixed(), None, "length 5 overruns the 1 byte left");
        assert_eq!(r.u16(), Some(5));
        assert_eq!(r.u8(), Some(0x68));
        assert_eq!(r.u8(), None);
    }

    #[test]
    fn long_or_truncated_codes_are_errors() {
        assert_eq!(BitReader::new(&[0, 0, 0, 0, 0]).read_ue(), Err(Truncated));
        assert_eq!(BitReader::new(&[0b0000_1000]).read_ue(), Err(Truncated));
        assert_eq!(BitReader::new(&[]).read_bits(1), Err(Truncated));
        assert_eq!(BitReader::new(&[1]).read_bits(33), Err(Truncated));
    }
}
