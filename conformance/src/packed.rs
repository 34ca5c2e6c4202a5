//! Packed Audio segments (HLS §3.1.3: ADTS AAC, MP3, AC-3, E-AC-3 with an ID3 tag in front):
//! recognising one, and reading the ID3 PRIV `com.apple.streaming.transportStreamTimestamp`
//! that must open it. Independent of `sluice-media` on purpose.

/// The PRIV owner identifier that carries a Packed Audio segment's first timestamp.
pub const TIMESTAMP_OWNER: &[u8] = b"com.apple.streaming.transportStreamTimestamp";

/// True when the bytes look like Packed Audio: an ID3v2 tag, or an ADTS / MPEG audio / AC-3
/// sync word at offset 0.
pub fn sniff(data: &[u8]) -> bool {
    data.starts_with(b"ID3") || audio_sync(data)
}

fn audio_sync(d: &[u8]) -> bool {
    match d {
        [0xff, b, ..] => b & 0xe0 == 0xe0, // ADTS (0xFFF) and MPEG audio (0xFFE)
        [0x0b, 0x77, ..] => true,          // AC-3 / E-AC-3
        _ => false,
    }
}

fn syncsafe(b: &[u8]) -> Option<usize> {
    let b = b.get(..4)?;
    if b.iter().any(|x| x & 0x80 != 0) {
        return None;
    }
    Some(b.iter().fold(0usize, |acc, x| (acc << 7) | usize::from(*x)))
}

/// What the start of a Packed Audio segment holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedStart {
    /// The 33-bit timestamp of the first sample (90 kHz).
    pub timestamp: u64,
    /// Bytes taken by the ID3 tag.
    pub tag_len: usize,
    /// An audio frame sync word follows the tag.
    pub audio_follows: bool,
}

/// Reads the ID3v2 tag at the start of `data` and its transportStreamTimestamp PRIV frame.
pub fn read_start(data: &[u8]) -> Result<PackedStart, String> {
    let h = data
        .get(..10)
        .filter(|h| h.starts_with(b"ID3"))
        .ok_or("does not start with an ID3v2 tag")?;
    let major = h[3];
    if !(2..=4).contains(&major) {
        return Err(format!("ID3v2.{major} is not a known version"));
    }
    if major == 2 {
        return Err("ID3v2.2 has no four-character PRIV frame".into());
    }
    let size = syncsafe(&h[6..10]).ok_or("ID3 tag size is not syncsafe")?;
    let body = data.get(10..10 + size).ok_or("ID3 tag runs past the segment")?;
    let mut pos = if h[5] & 0x40 != 0 {
        // Extended header: its size is syncsafe (v2.4, includes itself) or plain (v2.3, excludes itself).
        let b = body.get(..4).ok_or("ID3 extended header truncated")?;
        if major == 4 {
            syncsafe(b).ok_or("ID3 extended header size is not syncsafe")?
        } else {
            4 + u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        }
    } else {
        0
    };
    let mut found = None;
    while pos + 10 <= body.len() {
        let id = &body[pos..pos + 4];
        if id == [0, 0, 0, 0] {
            break; // padding
        }
        let len = if major == 4 {
            syncsafe(&body[pos + 4..pos + 8]).ok_or("ID3 frame size is not syncsafe")?
        } else {
            let b = &body[pos + 4..pos + 8];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        };
        let frame = body.get(pos + 10..pos + 10 + len).ok_or("ID3 frame runs past the tag")?;
        if id == b"PRIV"
            && let Some(nul) = frame.iter().position(|b| *b == 0)
            && &frame[..nul] == TIMESTAMP_OWNER
        {
            let v = frame.get(nul + 1..).unwrap_or_default();
            if v.len() != 8 {
                return Err(format!(
                    "transportStreamTimestamp payload is {} bytes, not 8",
                    v.len()
                ));
            }
            let ts = u64::from_be_bytes([v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]]);
            if ts >> 33 != 0 {
                return Err(format!(
                    "transportStreamTimestamp 0x{ts:016x} has bits above bit 32 set"
                ));
            }
            found = Some(ts);
        }
        pos += 10 + len;
    }
    let timestamp =
        found.ok_or("ID3 tag has no PRIV com.apple.streaming.transportStreamTimestamp frame")?;
    let tag_len = 10 + size + if h[5] & 0x10 != 0 { 10 } else { 0 };
    let audio_follows = data.get(tag_len..).is_some_and(audio_sync);
    Ok(PackedStart { timestamp, tag_len, audio_follows })
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builds Packed Audio segments for tests.

    /// An ID3v2.4 tag holding one PRIV frame `owner\0payload`.
    pub fn id3_priv(owner: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut frame = owner.to_vec();
        frame.push(0);
        frame.extend_from_slice(payload);
        let ss = |n: usize| {
            [(n >> 21) as u8 & 0x7f, (n >> 14) as u8 & 0x7f, (n >> 7) as u8 & 0x7f, n as u8 & 0x7f]
        };
        let mut body = b"PRIV".to_vec();
        body.extend_from_slice(&ss(frame.len()));
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&frame);
        let mut tag = b"ID3\x04\x00\x00".to_vec();
        tag.extend_from_slice(&ss(body.len()));
        tag.extend_from_slice(&body);
        tag
    }

    /// A Packed Audio segment: the timestamp tag, then `frames` ADTS frames.
    pub fn segment(pts: u64, frames: usize) -> Vec<u8> {
        let mut v = id3_priv(super::TIMESTAMP_OWNER, &pts.to_be_bytes());
        v.extend(crate::ts::testing::adts(frames));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn reads_the_transport_stream_timestamp() {
        let seg = segment(0x1_2345_6789, 3);
        assert!(sniff(&seg));
        let s = read_start(&seg).unwrap();
        assert_eq!(s.timestamp, 0x1_2345_6789);
        assert!(s.audio_follows);
        assert_eq!(s.tag_len, seg.len() - 60);
    }

    #[test]
    fn rejects_missing_or_malformed_timestamps() {
        assert!(read_start(&crate::ts::testing::adts(2)).is_err());
        assert!(read_start(&id3_priv(b"com.example.other", &[0; 8])).is_err());
        assert!(read_start(&id3_priv(TIMESTAMP_OWNER, &[0; 4])).is_err());
        assert!(read_start(&id3_priv(TIMESTAMP_OWNER, &[0, 0, 0, 2, 0, 0, 0, 0])).is_err());
        let seg = segment(90_000, 1);
        for n in 0..seg.len() {
            let _ = read_start(&seg[..n]);
        }
    }
}
