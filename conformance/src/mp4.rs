//! Just enough ISO BMFF reading to judge CMAF parts and segments over the wire.
//!
//! From an init segment: per track the handler, timescale, `trex` defaults and the RFC 6381
//! codec string derived from the sample entry (`avcC`, `hvcC`, `esds`, Opus). From a media
//! segment or part: per `traf` the `tfdt` base decode time, the sample count, the summed
//! sample durations and each sample's sync flag. Independent of `sluice-media` on purpose.

use std::fmt;

/// Why a box structure could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mp4Error {
    /// A box header or body runs past the end of its parent.
    Truncated(&'static str),
    /// A required box is missing.
    Missing(&'static str),
}

impl fmt::Display for Mp4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated(b) => write!(f, "truncated {b} box"),
            Self::Missing(b) => write!(f, "missing {b} box"),
        }
    }
}

impl std::error::Error for Mp4Error {}

/// One box: its type and its body (after the header).
#[derive(Debug, Clone, Copy)]
pub struct BoxRef<'a> {
    /// Four-character type.
    pub kind: [u8; 4],
    /// Body bytes.
    pub body: &'a [u8],
}

/// Splits a byte range into its top-level boxes.
pub fn boxes(data: &[u8]) -> Result<Vec<BoxRef<'_>>, Mp4Error> {
    Ok(boxes_at(data)?.into_iter().map(|(_, b)| b).collect())
}

/// Like [`boxes`], with each box's offset (of its header) in `data`.
pub fn boxes_at(data: &[u8]) -> Result<Vec<(usize, BoxRef<'_>)>, Mp4Error> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut rest = data;
    while !rest.is_empty() {
        if rest.len() < 8 {
            return Err(Mp4Error::Truncated("box header"));
        }
        let size32 = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as u64;
        let kind = [rest[4], rest[5], rest[6], rest[7]];
        let (header, size) = match size32 {
            0 => (8u64, rest.len() as u64),
            1 => {
                if rest.len() < 16 {
                    return Err(Mp4Error::Truncated("largesize box header"));
                }
                let mut b = [0u8; 8];
                b.copy_from_slice(&rest[8..16]);
                (16, u64::from_be_bytes(b))
            }
            n => (8, n),
        };
        if size < header || size > rest.len() as u64 {
            return Err(Mp4Error::Truncated("box"));
        }
        out.push((at, BoxRef { kind, body: &rest[header as usize..size as usize] }));
        at += size as usize;
        rest = &rest[size as usize..];
    }
    Ok(out)
}

fn child<'a>(parent: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>, Mp4Error> {
    Ok(boxes(parent)?.into_iter().find(|b| &b.kind == kind).map(|b| b.body))
}

fn children<'a>(parent: &'a [u8], kind: &[u8; 4]) -> Result<Vec<&'a [u8]>, Mp4Error> {
    Ok(boxes(parent)?.into_iter().filter(|b| &b.kind == kind).map(|b| b.body).collect())
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8], what: &'static str) -> Self {
        Self { data, pos: 0, what }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], Mp4Error> {
        if self.pos + n > self.data.len() {
            return Err(Mp4Error::Truncated(self.what));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, Mp4Error> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, Mp4Error> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, Mp4Error> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
}

/// What the init segment says about one track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInit {
    /// track_ID from `tkhd`.
    pub track_id: u32,
    /// Handler type (`vide`, `soun`, …).
    pub handler: String,
    /// Media timescale from `mdhd`.
    pub timescale: u32,
    /// Sample entry four-cc (`avc1`, `mp4a`, …).
    pub sample_entry: String,
    /// RFC 6381 codec string, when derivable.
    pub codec: Option<String>,
    /// `trex` default_sample_duration.
    pub default_duration: u32,
    /// `trex` default_sample_flags.
    pub default_flags: u32,
    /// `trex` default_sample_size.
    pub default_size: u32,
    /// Body of the decoder configuration box of a video sample entry (`avcC` / `hvcC`).
    pub config: Option<Vec<u8>>,
    /// colour_type of the `colr` box in a video sample entry (`nclx`, `nclc`, `prof`, …).
    pub colr: Option<String>,
    /// A `pasp` box is in the video sample entry.
    pub pasp: bool,
}

/// Parses an init segment (`ftyp` + `moov`).
pub fn parse_init(data: &[u8]) -> Result<Vec<TrackInit>, Mp4Error> {
    let moov = child(data, b"moov")?.ok_or(Mp4Error::Missing("moov"))?;
    let mut trex = Vec::new();
    if let Some(mvex) = child(moov, b"mvex")? {
        for t in children(mvex, b"trex")? {
            let mut c = Cursor::new(t, "trex");
            c.take(4)?;
            let id = c.u32()?;
            let _desc = c.u32()?;
            let dur = c.u32()?;
            let size = c.u32()?;
            let flags = c.u32()?;
            trex.push((id, dur, size, flags));
        }
    }
    let mut out = Vec::new();
    for trak in children(moov, b"trak")? {
        let tkhd = child(trak, b"tkhd")?.ok_or(Mp4Error::Missing("tkhd"))?;
        let mut c = Cursor::new(tkhd, "tkhd");
        let version = c.u8()?;
        c.take(3)?;
        c.take(if version == 1 { 16 } else { 8 })?;
        let track_id = c.u32()?;
        let mdia = child(trak, b"mdia")?.ok_or(Mp4Error::Missing("mdia"))?;
        let mdhd = child(mdia, b"mdhd")?.ok_or(Mp4Error::Missing("mdhd"))?;
        let mut c = Cursor::new(mdhd, "mdhd");
        let version = c.u8()?;
        c.take(3)?;
        c.take(if version == 1 { 16 } else { 8 })?;
        let timescale = c.u32()?;
        let hdlr = child(mdia, b"hdlr")?.ok_or(Mp4Error::Missing("hdlr"))?;
        let mut c = Cursor::new(hdlr, "hdlr");
        c.take(8)?;
        let handler = String::from_utf8_lossy(c.take(4)?).into_owned();
        let stsd = child(mdia, b"minf")?
            .map(|m| child(m, b"stbl"))
            .transpose()?
            .flatten()
            .map(|s| child(s, b"stsd"))
            .transpose()?
            .flatten()
            .ok_or(Mp4Error::Missing("stsd"))?;
        let (sample_entry, codec) = codec_of_stsd(stsd)?;
        let visual = visual_details(stsd)?;
        let (default_duration, default_size, default_flags) = trex
            .iter()
            .find(|(id, _, _, _)| *id == track_id)
            .map(|(_, d, s, f)| (*d, *s, *f))
            .unwrap_or((0, 0, 0));
        out.push(TrackInit {
            track_id,
            handler,
            timescale,
            sample_entry,
            codec,
            default_duration,
            default_flags,
            default_size,
            config: visual.0,
            colr: visual.1,
            pasp: visual.2,
        });
    }
    Ok(out)
}

fn codec_of_stsd(stsd: &[u8]) -> Result<(String, Option<String>), Mp4Error> {
    let mut c = Cursor::new(stsd, "stsd");
    c.take(8)?; // version/flags, entry_count
    let entries = boxes(&stsd[8..])?;
    let entry = entries.first().ok_or(Mp4Error::Missing("sample entry"))?;
    let fourcc = String::from_utf8_lossy(&entry.kind).into_owned();
    let codec = match &entry.kind {
        b"avc1" | b"avc3" => visual_child(entry.body, b"avcC")?.and_then(|avcc| {
            (avcc.len() >= 4)
                .then(|| format!("{fourcc}.{:02x}{:02x}{:02x}", avcc[1], avcc[2], avcc[3]))
        }),
        b"hvc1" | b"hev1" => visual_child(entry.body, b"hvcC")?
            .and_then(|h| crate::codecs::hevc(&fourcc, h.get(1..13)?)),
        b"mp4a" => audio_child(entry.body, b"esds")?.and_then(mp4a_codec),
        b"Opus" => Some("Opus".to_string()),
        b"av01" => Some("av01".to_string()),
        _ => None,
    };
    Ok((fourcc, codec))
}

/// Children of a VisualSampleEntry start after its 78 fixed bytes.
fn visual_child<'a>(entry: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>, Mp4Error> {
    if entry.len() < 78 {
        return Err(Mp4Error::Truncated("visual sample entry"));
    }
    child(&entry[78..], kind)
}

/// (decoder configuration body, colr colour_type, pasp present) of a visual sample entry;
/// all empty for other entries.
type VisualDetails = (Option<Vec<u8>>, Option<String>, bool);

fn visual_details(stsd: &[u8]) -> Result<VisualDetails, Mp4Error> {
    let entries = boxes(stsd.get(8..).ok_or(Mp4Error::Truncated("stsd"))?)?;
    let Some(entry) = entries.first() else { return Ok((None, None, false)) };
    let config_kind: &[u8; 4] = match &entry.kind {
        b"avc1" | b"avc3" => b"avcC",
        b"hvc1" | b"hev1" => b"hvcC",
        b"av01" => b"av1C",
        b"vp09" => b"vpcC",
        _ => return Ok((None, None, false)),
    };
    let config = visual_child(entry.body, config_kind)?.map(<[u8]>::to_vec);
    let colr = visual_child(entry.body, b"colr")?
        .map(|c| String::from_utf8_lossy(c.get(..4).unwrap_or_default()).into_owned());
    let pasp = visual_child(entry.body, b"pasp")?.is_some();
    Ok((config, colr, pasp))
}

/// Children of an AudioSampleEntry start after its 28 fixed bytes.
fn audio_child<'a>(entry: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>, Mp4Error> {
    if entry.len() < 28 {
        return Err(Mp4Error::Truncated("audio sample entry"));
    }
    child(&entry[28..], kind)
}

/// `mp4a.{objectTypeIndication hex}.{audioObjectType}` from an `esds` body.
fn mp4a_codec(esds: &[u8]) -> Option<String> {
    // Full box header, then descriptors: ES_Descriptor(3) → DecoderConfigDescriptor(4) →
    // DecoderSpecificInfo(5).
    let mut d = esds.get(4..)?;
    let (tag, body) = descriptor(d)?;
    if tag != 3 {
        return None;
    }
    let flags = *body.get(2)?;
    let mut off = 3;
    if flags & 0x80 != 0 {
        off += 2;
    }
    if flags & 0x40 != 0 {
        off += 1 + *body.get(off)? as usize;
    }
    if flags & 0x20 != 0 {
        off += 2;
    }
    d = body.get(off..)?;
    let (tag, dcd) = descriptor(d)?;
    if tag != 4 {
        return None;
    }
    let oti = *dcd.first()?;
    let rest = dcd.get(13..)?;
    let aot = match descriptor(rest) {
        Some((5, dsi)) if !dsi.is_empty() => {
            let aot = dsi[0] >> 3;
            if aot == 31 && dsi.len() >= 2 {
                32 + (((dsi[0] & 0x07) << 3) | (dsi[1] >> 5))
            } else {
                aot
            }
        }
        _ => return Some(format!("mp4a.{oti:02x}")),
    };
    Some(format!("mp4a.{oti:02x}.{aot}"))
}

fn descriptor(d: &[u8]) -> Option<(u8, &[u8])> {
    let tag = *d.first()?;
    let mut len = 0usize;
    let mut i = 1;
    loop {
        let b = *d.get(i)?;
        len = (len << 7) | (b & 0x7f) as usize;
        i += 1;
        if b & 0x80 == 0 || i > 4 {
            break;
        }
    }
    Some((tag, d.get(i..i + len)?))
}

/// One `traf` of a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRun {
    /// track_ID from `tfhd`.
    pub track_id: u32,
    /// `tfdt` baseMediaDecodeTime, if present.
    pub base_decode_time: Option<u64>,
    /// Number of samples over all `trun`s.
    pub sample_count: u32,
    /// Σ sample durations (timescale units), using tfhd/trex defaults where needed.
    pub duration: u64,
    /// Sync flag of each sample, in order.
    pub sync: Vec<bool>,
}

/// Every `moof`'s `traf`s in order.
pub fn parse_fragments(data: &[u8], init: &[TrackInit]) -> Result<Vec<TrackRun>, Mp4Error> {
    let mut out = Vec::new();
    for b in boxes(data)? {
        if &b.kind != b"moof" {
            continue;
        }
        for traf in children(b.body, b"traf")? {
            out.push(parse_traf(traf, init)?);
        }
    }
    if out.is_empty() {
        return Err(Mp4Error::Missing("moof/traf"));
    }
    Ok(out)
}

fn parse_traf(traf: &[u8], init: &[TrackInit]) -> Result<TrackRun, Mp4Error> {
    let tfhd = child(traf, b"tfhd")?.ok_or(Mp4Error::Missing("tfhd"))?;
    let mut c = Cursor::new(tfhd, "tfhd");
    let flags = c.u32()? & 0x00ff_ffff;
    let track_id = c.u32()?;
    if flags & 0x01 != 0 {
        c.u64()?;
    }
    if flags & 0x02 != 0 {
        c.u32()?;
    }
    let trex = init.iter().find(|t| t.track_id == track_id);
    let mut default_duration = trex.map_or(0, |t| t.default_duration);
    let mut default_flags = trex.map_or(0, |t| t.default_flags);
    if flags & 0x08 != 0 {
        default_duration = c.u32()?;
    }
    if flags & 0x10 != 0 {
        c.u32()?;
    }
    if flags & 0x20 != 0 {
        default_flags = c.u32()?;
    }
    let base_decode_time = match child(traf, b"tfdt")? {
        Some(tfdt) => {
            let mut c = Cursor::new(tfdt, "tfdt");
            let v = c.u8()?;
            c.take(3)?;
            Some(if v == 1 { c.u64()? } else { c.u32()? as u64 })
        }
        None => None,
    };
    let mut run =
        TrackRun { track_id, base_decode_time, sample_count: 0, duration: 0, sync: Vec::new() };
    for trun in children(traf, b"trun")? {
        let mut c = Cursor::new(trun, "trun");
        let tr_flags = c.u32()? & 0x00ff_ffff;
        let count = c.u32()?;
        if tr_flags & 0x001 != 0 {
            c.u32()?;
        }
        let first_flags = if tr_flags & 0x004 != 0 { Some(c.u32()?) } else { None };
        for i in 0..count {
            let dur = if tr_flags & 0x100 != 0 { c.u32()? } else { default_duration };
            if tr_flags & 0x200 != 0 {
                c.u32()?;
            }
            let sflags = if tr_flags & 0x400 != 0 { c.u32()? } else { default_flags };
            if tr_flags & 0x800 != 0 {
                c.u32()?;
            }
            let sflags = if i == 0 { first_flags.unwrap_or(sflags) } else { sflags };
            run.duration += dur as u64;
            // sample_is_non_sync_sample is bit 16 of the sample flags (ISO 14496-12 §8.8.3.1).
            run.sync.push(sflags & 0x0001_0000 == 0);
        }
        run.sample_count += count;
    }
    Ok(run)
}

/// The layout of an init segment, for the structural rules (HLS §3.1.2, CMAF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitLayout {
    /// Top-level box types in order.
    pub top: Vec<String>,
    /// `ftyp` major_brand.
    pub major_brand: Option<String>,
    /// `ftyp` compatible_brands.
    pub compatible_brands: Vec<String>,
    /// Per `trak`: (track_ID, `stsz`/`stz2` sample_count, `stts` entry_count).
    pub sample_tables: Vec<(u32, Option<u32>, Option<u32>)>,
}

impl InitLayout {
    /// True when `brand` is the major brand or a compatible brand.
    pub fn has_brand(&self, brand: &str) -> bool {
        self.major_brand.as_deref() == Some(brand)
            || self.compatible_brands.iter().any(|b| b == brand)
    }
}

fn fourcc(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Reads the top-level layout, the brands and every track's sample-table counts.
pub fn parse_init_layout(data: &[u8]) -> Result<InitLayout, Mp4Error> {
    let top = boxes(data)?;
    let mut layout = InitLayout {
        top: top.iter().map(|b| fourcc(&b.kind)).collect(),
        major_brand: None,
        compatible_brands: Vec::new(),
        sample_tables: Vec::new(),
    };
    if let Some(ftyp) = top.iter().find(|b| &b.kind == b"ftyp") {
        let body = ftyp.body;
        layout.major_brand = body.get(..4).map(fourcc);
        layout.compatible_brands =
            body.get(8..).unwrap_or_default().chunks_exact(4).map(fourcc).collect();
    }
    if let Some(moov) = top.iter().find(|b| &b.kind == b"moov") {
        for trak in children(moov.body, b"trak")? {
            let Some(tkhd) = child(trak, b"tkhd")? else { continue };
            let mut c = Cursor::new(tkhd, "tkhd");
            let version = c.u8()?;
            c.take(3)?;
            c.take(if version == 1 { 16 } else { 8 })?;
            let track_id = c.u32()?;
            let stbl = child(trak, b"mdia")?
                .map(|m| child(m, b"minf"))
                .transpose()?
                .flatten()
                .map(|m| child(m, b"stbl"))
                .transpose()?
                .flatten();
            let count_at = |body: Option<&[u8]>, off: usize| {
                body.and_then(|b| b.get(off..off + 4))
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            };
            let (samples, stts) = match stbl {
                Some(stbl) => {
                    let stsz = child(stbl, b"stsz")?;
                    let stz2 = child(stbl, b"stz2")?;
                    let samples = count_at(stsz, 8).or(count_at(stz2, 8));
                    (samples, count_at(child(stbl, b"stts")?, 4))
                }
                None => (None, None),
            };
            layout.sample_tables.push((track_id, samples, stts));
        }
    }
    Ok(layout)
}

/// Per `moof` of a segment: (track_ID, number of `trun`s) of each `traf`.
pub fn moof_shapes(data: &[u8]) -> Result<Vec<Vec<(u32, usize)>>, Mp4Error> {
    let mut out = Vec::new();
    for b in boxes(data)? {
        if &b.kind != b"moof" {
            continue;
        }
        let mut trafs = Vec::new();
        for traf in children(b.body, b"traf")? {
            let tfhd = child(traf, b"tfhd")?.ok_or(Mp4Error::Missing("tfhd"))?;
            let mut c = Cursor::new(tfhd, "tfhd");
            c.u32()?;
            trafs.push((c.u32()?, children(traf, b"trun")?.len()));
        }
        out.push(trafs);
    }
    Ok(out)
}

/// The bytes of the first sample of `track_id` in the first `moof` that carries the track,
/// located through `tfhd` / `trun` (movie-fragment-relative addressing). `Ok(None)` when the
/// track is absent or its data cannot be located without guessing (a non-first `traf` without
/// default-base-is-moof, a `trun` without data_offset, a zero sample size).
pub fn first_sample<'a>(
    data: &'a [u8],
    init: &[TrackInit],
    track_id: u32,
) -> Result<Option<&'a [u8]>, Mp4Error> {
    for (moof_at, b) in boxes_at(data)? {
        if &b.kind != b"moof" {
            continue;
        }
        for (i, traf) in children(b.body, b"traf")?.into_iter().enumerate() {
            let tfhd = child(traf, b"tfhd")?.ok_or(Mp4Error::Missing("tfhd"))?;
            let mut c = Cursor::new(tfhd, "tfhd");
            let flags = c.u32()? & 0x00ff_ffff;
            if c.u32()? != track_id {
                continue;
            }
            let base = if flags & 0x01 != 0 {
                c.u64()? as usize
            } else if flags & 0x02_0000 != 0 || i == 0 {
                moof_at
            } else {
                return Ok(None);
            };
            if flags & 0x02 != 0 {
                c.u32()?;
            }
            if flags & 0x08 != 0 {
                c.u32()?;
            }
            let trex_size =
                init.iter().find(|t| t.track_id == track_id).map_or(0, |t| t.default_size);
            let default_size = if flags & 0x10 != 0 { c.u32()? } else { trex_size };
            let Some(trun) = children(traf, b"trun")?.into_iter().next() else { return Ok(None) };
            let mut c = Cursor::new(trun, "trun");
            let tr_flags = c.u32()? & 0x00ff_ffff;
            if c.u32()? == 0 {
                return Ok(None);
            }
            if tr_flags & 0x001 == 0 {
                // Without data_offset the run would start at the base offset, i.e. inside the
                // moof: not locatable without guessing.
                return Ok(None);
            }
            let offset = c.u32()? as i32 as i64;
            if tr_flags & 0x004 != 0 {
                c.u32()?;
            }
            if tr_flags & 0x100 != 0 {
                c.u32()?;
            }
            let size = if tr_flags & 0x200 != 0 { c.u32()? } else { default_size } as usize;
            if size == 0 {
                return Ok(None);
            }
            let start = usize::try_from(base as i64 + offset)
                .map_err(|_| Mp4Error::Truncated("trun data_offset"))?;
            let end = start.checked_add(size).ok_or(Mp4Error::Truncated("mdat sample"))?;
            return data.get(start..end).map(Some).ok_or(Mp4Error::Truncated("mdat sample"));
        }
    }
    Ok(None)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builders for tiny synthetic boxes used by tests across the crate.

    /// Wraps a body in a box header.
    pub fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    /// A moof with one traf: tfdt, and a trun with explicit durations and flags per sample.
    pub fn fragment(track_id: u32, tfdt: u64, samples: &[(u32, bool)]) -> Vec<u8> {
        let mut tfhd = vec![0, 0, 0, 0];
        tfhd.extend_from_slice(&track_id.to_be_bytes());
        let mut tfdt_body = vec![1, 0, 0, 0];
        tfdt_body.extend_from_slice(&tfdt.to_be_bytes());
        let mut trun = vec![0, 0, 0x05, 0x00]; // duration + flags present
        trun.extend_from_slice(&(samples.len() as u32).to_be_bytes());
        for (d, sync) in samples {
            trun.extend_from_slice(&d.to_be_bytes());
            let f: u32 = if *sync { 0x0200_0000 } else { 0x0101_0000 };
            trun.extend_from_slice(&f.to_be_bytes());
        }
        let traf = [bx(b"tfhd", &tfhd), bx(b"tfdt", &tfdt_body), bx(b"trun", &trun)].concat();
        let mut out = bx(b"moof", &bx(b"traf", &traf));
        out.extend(bx(b"mdat", &[0u8; 4]));
        out
    }

    /// An init segment with one avc1 track (avcC 64001f) or one mp4a track (AAC-LC).
    pub fn init(track_id: u32, video: bool, timescale: u32) -> Vec<u8> {
        let entry = if video {
            let mut body = vec![0u8; 78];
            body.extend(bx(b"avcC", &[1, 0x64, 0x00, 0x1f, 0xff]));
            bx(b"avc1", &body)
        } else {
            let mut body = vec![0u8; 28];
            // esds: ES_Descriptor(3) { id, flags, DecoderConfig(4) { oti 0x40, …, DSI(5) { 0x12 0x10 } } }
            let dsi = [5u8, 2, 0x12, 0x10];
            let mut dcd = vec![4u8, (13 + dsi.len()) as u8, 0x40, 0x15];
            dcd.extend_from_slice(&[0u8; 11]);
            dcd.extend_from_slice(&dsi);
            let mut es = vec![3u8, (3 + dcd.len()) as u8, 0, 1, 0];
            es.extend_from_slice(&dcd);
            let mut esds = vec![0u8; 4];
            esds.extend_from_slice(&es);
            body.extend(bx(b"esds", &esds));
            bx(b"mp4a", &body)
        };
        init_with(track_id, if video { b"vide" } else { b"soun" }, timescale, &entry, b"iso6")
    }

    /// An init segment with one hvc1 track (Main, level 3.1): `colr_pasp` adds `colr` (nclx)
    /// and `pasp`; `complete` sets array_completeness on the VPS/SPS/PPS arrays.
    pub fn hevc_init(colr_pasp: bool, complete: bool, brand: &[u8; 4]) -> Vec<u8> {
        let mut hvcc = vec![1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93];
        hvcc.extend_from_slice(&[0xf0, 0x00, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, 0x0f, 3]);
        for ty in [32u8, 33, 34] {
            hvcc.extend_from_slice(&[if complete { 0x80 } else { 0 } | ty, 0, 1, 0, 2, ty << 1, 1]);
        }
        let mut body = vec![0u8; 78];
        body.extend(bx(b"hvcC", &hvcc));
        if colr_pasp {
            body.extend(bx(b"colr", b"nclx\0\x01\0\x01\0\x01\0"));
            body.extend(bx(b"pasp", &[0, 0, 0, 1, 0, 0, 0, 1]));
        }
        init_with(1, b"vide", 90000, &bx(b"hvc1", &body), brand)
    }

    /// An init segment with one track of `handler` described by the sample entry box `entry`.
    pub fn init_with(
        track_id: u32,
        handler: &[u8; 4],
        timescale: u32,
        entry: &[u8],
        brand: &[u8; 4],
    ) -> Vec<u8> {
        let mut tkhd = vec![0u8; 4];
        tkhd.extend_from_slice(&[0u8; 8]);
        tkhd.extend_from_slice(&track_id.to_be_bytes());
        tkhd.extend_from_slice(&[0u8; 60]);
        let mut mdhd = vec![0u8; 4];
        mdhd.extend_from_slice(&[0u8; 8]);
        mdhd.extend_from_slice(&timescale.to_be_bytes());
        mdhd.extend_from_slice(&[0u8; 8]);
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(handler);
        hdlr.extend_from_slice(&[0u8; 13]);
        let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
        stsd.extend_from_slice(entry);
        let stbl = bx(
            b"stbl",
            &[bx(b"stsd", &stsd), bx(b"stts", &[0; 8]), bx(b"stsz", &[0; 12])].concat(),
        );
        let minf = bx(b"minf", &stbl);
        let mdia = bx(b"mdia", &[bx(b"mdhd", &mdhd), bx(b"hdlr", &hdlr), minf].concat());
        let trak = bx(b"trak", &[bx(b"tkhd", &tkhd), mdia].concat());
        let mut trex = vec![0u8; 4];
        trex.extend_from_slice(&track_id.to_be_bytes());
        trex.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mvex = bx(b"mvex", &bx(b"trex", &trex));
        let moov = bx(b"moov", &[trak, mvex].concat());
        let mut ftyp = brand.to_vec();
        ftyp.extend_from_slice(&[0, 0, 0, 0]);
        ftyp.extend_from_slice(brand);
        [bx(b"ftyp", &ftyp), moov].concat()
    }

    /// A moof (default-base-is-moof, trun with data offset, sizes and flags) and its mdat; each
    /// sample is one NAL unit with a 4-byte length prefix.
    pub fn fragment_with_data(track_id: u32, samples: &[(bool, Vec<u8>)]) -> Vec<u8> {
        let mut tfhd = vec![0, 0x02, 0, 0];
        tfhd.extend_from_slice(&track_id.to_be_bytes());
        let tfdt = bx(b"tfdt", &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mdat_body: Vec<u8> = samples
            .iter()
            .flat_map(|(_, nal)| {
                let mut v = (nal.len() as u32).to_be_bytes().to_vec();
                v.extend_from_slice(nal);
                v
            })
            .collect();
        let build = |offset: u32| {
            let mut trun = vec![0, 0, 0x07, 0x01];
            trun.extend_from_slice(&(samples.len() as u32).to_be_bytes());
            trun.extend_from_slice(&offset.to_be_bytes());
            for (sync, nal) in samples {
                trun.extend_from_slice(&3000u32.to_be_bytes());
                trun.extend_from_slice(&(nal.len() as u32 + 4).to_be_bytes());
                let f: u32 = if *sync { 0x0200_0000 } else { 0x0101_0000 };
                trun.extend_from_slice(&f.to_be_bytes());
            }
            let traf = [bx(b"tfhd", &tfhd), tfdt.clone(), bx(b"trun", &trun)].concat();
            bx(b"moof", &bx(b"traf", &traf))
        };
        let moof_len = build(0).len() as u32;
        [build(moof_len + 8), bx(b"mdat", &mdat_body)].concat()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn reads_avc_codec_string_and_timescale() {
        let tracks = parse_init(&init(1, true, 90000)).unwrap();
        assert_eq!(tracks.len(), 1);
        assert_eq!(tracks[0].handler, "vide");
        assert_eq!(tracks[0].timescale, 90000);
        assert_eq!(tracks[0].codec.as_deref(), Some("avc1.64001f"));
    }

    #[test]
    fn reads_aac_codec_string() {
        let tracks = parse_init(&init(2, false, 48000)).unwrap();
        assert_eq!(tracks[0].codec.as_deref(), Some("mp4a.40.2"));
    }

    #[test]
    fn reads_fragment_timing_and_sync_flags() {
        let frag = fragment(1, 9000, &[(3000, true), (3000, false), (3000, false)]);
        let runs = parse_fragments(&frag, &[]).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].base_decode_time, Some(9000));
        assert_eq!(runs[0].duration, 9000);
        assert_eq!(runs[0].sync, vec![true, false, false]);
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let frag = fragment(1, 0, &[(1, true)]);
        for n in 0..frag.len() {
            let _ = parse_fragments(&frag[..n], &[]);
        }
        let i = init(1, true, 90000);
        for n in 0..i.len() {
            let _ = parse_init(&i[..n]);
        }
        assert!(parse_fragments(b"\0\0\0\x08free", &[]).is_err());
    }
}
