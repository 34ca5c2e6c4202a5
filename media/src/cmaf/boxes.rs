//! ISO BMFF box writing (ISO/IEC 14496-12 §4.2): a box is a 32-bit size, a four-character
//! type, then its payload. The writers put a placeholder size, run a closure that writes the
//! payload (and nested boxes) into the same buffer, then patch the size.
//!
//! Used by `cmaf::init` (ftyp+moov) and `cmaf::fragmenter` (moof+mdat).

use bytes::{BufMut, BytesMut};

/// A four-character box type.
pub type FourCc = [u8; 4];

/// Writes a box: header, the payload written by `body`, then patches the size.
///
/// Sizes above 4 GiB (which would need `largesize`) cannot occur for the init segments and
/// sub-second parts written here; such a size is saturated rather than wrapped.
pub fn write_box(buf: &mut BytesMut, kind: &FourCc, body: impl FnOnce(&mut BytesMut)) {
    let start = buf.len();
    buf.put_u32(0);
    buf.put_slice(kind);
    body(buf);
    patch_u32(buf, start, u32::try_from(buf.len() - start).unwrap_or(u32::MAX));
}

/// Writes a FullBox: "unsigned int(8) version; bit(24) flags;" after the box header.
pub fn write_full_box(
    buf: &mut BytesMut,
    kind: &FourCc,
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut BytesMut),
) {
    write_box(buf, kind, |b| {
        b.put_u32((u32::from(version) << 24) | (flags & 0x00ff_ffff));
        body(b);
    });
}

/// Overwrites four bytes at `at` (a position the caller wrote earlier).
pub fn patch_u32(buf: &mut BytesMut, at: usize, value: u32) {
    if let Some(slot) = buf.get_mut(at..at + 4) {
        slot.copy_from_slice(&value.to_be_bytes());
    }
}

/// The unity transformation matrix of `mvhd`/`tkhd`:
/// "{ 0x00010000,0,0,0,0x00010000,0,0,0,0x40000000 }".
pub fn put_unity_matrix(buf: &mut BytesMut) {
    for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        buf.put_u32(v);
    }
}

/// A minimal box reader for tests (this crate's and the integration tests' own copy live
/// apart so the writer cannot agree with itself through shared code).
#[cfg(test)]
pub(crate) mod reader {
    /// One parsed box: type and payload (after the 8-byte header).
    #[derive(Debug, Clone, Copy)]
    pub struct BoxRef<'a> {
        pub kind: [u8; 4],
        pub payload: &'a [u8],
    }

    /// Parses a sequence of boxes; panics on malformed data (test code).
    pub fn boxes(mut data: &[u8]) -> Vec<BoxRef<'_>> {
        let mut out = Vec::new();
        while !data.is_empty() {
            assert!(data.len() >= 8, "box header truncated");
            let size = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
            assert!(size >= 8 && size <= data.len(), "bad box size {size} of {}", data.len());
            let kind: [u8; 4] = data[4..8].try_into().unwrap();
            out.push(BoxRef { kind, payload: &data[8..size] });
            data = &data[size..];
        }
        out
    }

    /// The only child of type `kind` among `data`'s boxes.
    pub fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> &'a [u8] {
        let found: Vec<_> = boxes(data).into_iter().filter(|b| &b.kind == kind).collect();
        assert_eq!(found.len(), 1, "expected one {}", String::from_utf8_lossy(kind));
        found[0].payload
    }

    /// Follows a path of container boxes, e.g. `[b"moov", b"trak", b"mdia"]`.
    pub fn path<'a>(data: &'a [u8], kinds: &[&[u8; 4]]) -> &'a [u8] {
        kinds.iter().fold(data, |d, k| child(d, k))
    }

    pub fn u16_at(d: &[u8], at: usize) -> u16 {
        u16::from_be_bytes(d[at..at + 2].try_into().unwrap())
    }

    pub fn u32_at(d: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(d[at..at + 4].try_into().unwrap())
    }

    pub fn u64_at(d: &[u8], at: usize) -> u64 {
        u64::from_be_bytes(d[at..at + 8].try_into().unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::reader::*;
    use super::*;

    #[test]
    fn nested_boxes_round_trip_with_patched_sizes() {
        let mut buf = BytesMut::new();
        write_box(&mut buf, b"moov", |b| {
            write_full_box(b, b"mvhd", 1, 0x000102, |b| b.put_u64(42));
            write_box(b, b"trak", |b| write_box(b, b"free", |_| {}));
        });
        write_box(&mut buf, b"mdat", |b| b.put_slice(b"hello"));
        let top = boxes(&buf);
        assert_eq!(top.len(), 2);
        assert_eq!(&top[0].kind, b"moov");
        assert_eq!(top[1].payload, b"hello");
        let mvhd = child(top[0].payload, b"mvhd");
        assert_eq!(u32_at(mvhd, 0), 0x0100_0102, "version 1, flags 0x000102");
        assert_eq!(u64_at(mvhd, 4), 42);
        assert!(path(&buf, &[b"moov", b"trak", b"free"]).is_empty());
        assert_eq!(u32_at(&buf, 0) as usize, 8 + (8 + 12) + (8 + 8));
    }

    #[test]
    fn flags_are_limited_to_24_bits() {
        let mut buf = BytesMut::new();
        write_full_box(&mut buf, b"tfhd", 0, 0xff02_0000, |_| {});
        assert_eq!(u32_at(&buf, 8), 0x0002_0000);
    }
}
