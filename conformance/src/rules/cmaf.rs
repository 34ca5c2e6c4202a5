//! The rules of `conformance/RULES.md` section C that matter for HEVC in fMP4 (applied to every
//! fMP4 rendition, with the HEVC sample-entry checks where the entry is `hvc1` / `hev1`):
//! CMAF-01 (init layout), CMAF-05 (structure, sample entry, `hvcC`, `colr`/`pasp`), CMAF-09
//! (segments start with a sync sample, an IDR / IRAP picture) and CMAF-13 (CODECS equals the
//! string derived from the sample entry).

use super::{Level, Outcome};
use crate::codecs::{self, parse_hvcc};
use crate::mp4::{self, InitLayout, TrackInit};
use crate::playlist::Multivariant;

/// Brands that are 'iso6' or higher (or CMAF brands, which require it).
const ISO6_OR_HIGHER: [&str; 7] = ["iso6", "iso7", "iso8", "iso9", "isoa", "cmfc", "cmf2"];

/// True when the init claims CMAF conformance.
pub fn claims_cmaf(layout: &InitLayout) -> bool {
    layout.has_brand("cmfc") || layout.has_brand("cmf2")
}

fn is_hevc(t: &TrackInit) -> bool {
    matches!(t.sample_entry.as_str(), "hvc1" | "hev1")
}

fn is_avc(t: &TrackInit) -> bool {
    matches!(t.sample_entry.as_str(), "avc1" | "avc3")
}

/// CMAF-01 on one init segment.
pub fn cmaf_01(uri: &str, layout: &InitLayout) -> Outcome {
    // "The Media Initialization Section for an fMP4 Segment MUST contain a File Type Box
    // ('ftyp') containing a brand that is compatible with 'iso6' or higher. The File Type Box
    // MUST be followed by a Movie Box." (HLS §3.1.2) "The Media Initialization Section MUST NOT
    // contain sample data." (HLS §3.1) "Each Track Box SHOULD contain a sample table, but its
    // sample count MUST be zero." (HLS §3.1.2)
    let mut o = Outcome::new();
    match (layout.top.first().map(String::as_str), layout.top.get(1).map(String::as_str)) {
        (Some("ftyp"), Some("moov")) => {}
        (Some("ftyp"), next) => {
            o.must(format!("{uri}: ftyp is followed by {}, not moov", next.unwrap_or("nothing")))
        }
        (first, _) => {
            o.must(format!("{uri}: first box is {}, not ftyp", first.unwrap_or("nothing")))
        }
    }
    let brands: Vec<&str> = layout
        .major_brand
        .iter()
        .chain(layout.compatible_brands.iter())
        .map(String::as_str)
        .collect();
    if !brands.iter().any(|b| ISO6_OR_HIGHER.contains(b)) {
        o.must(format!("{uri}: no brand compatible with iso6 or higher (brands {brands:?})"));
    }
    for b in layout.top.iter().filter(|b| matches!(b.as_str(), "mdat" | "moof")) {
        o.must(format!("{uri}: init segment carries sample data ({b} box)"));
    }
    for (id, samples, stts) in &layout.sample_tables {
        if samples.is_some_and(|n| n > 0) {
            o.must(format!(
                "{uri}: track {id} sample table lists {} samples",
                samples.unwrap_or(0)
            ));
        }
        if stts.is_some_and(|n| n > 0) {
            o.must(format!("{uri}: track {id} stts has {} entries", stts.unwrap_or(0)));
        }
    }
    o.evidence(format!("{uri}: {} (brands {})", layout.top.join("+"), brands.join(",")));
    o
}

/// CMAF-05 on one init segment: one track per CMAF header, video sample entries with `colr`
/// (nclx) and `pasp`, and for HEVC a well-formed `hvcC` (complete parameter-set arrays for
/// `hvc1`). Structural shortfalls fail only when the init claims CMAF (`cmfc`/`cmf2`).
pub fn cmaf_05_init(uri: &str, layout: &InitLayout, tracks: &[TrackInit]) -> Outcome {
    // CMAF (second-hand, RULES.md CMAF-05): "One media track per CMAF header / track file ...
    // video sample entry carries colr (nclx) and pasp" (CMAF 7.x; B.2.3 for HEVC).
    // ISO/IEC 14496-15 (HEVCDecoderConfigurationRecord): "When the sample entry name is 'hvc1',
    // the default and mandatory value of array_completeness is 1 for arrays of all types of
    // parameter sets, and 0 for all other arrays."
    let cmaf = claims_cmaf(layout);
    let level = if cmaf { Level::Must } else { Level::Should };
    let claim = if cmaf { "" } else { " (no cmfc/cmf2 brand: reported, not failed)" };
    let mut o = Outcome::new();
    if tracks.len() > 1 {
        o.problem(
            level,
            format!("{uri}: {} tracks in one init; a CMAF header holds one{claim}", tracks.len()),
        );
    }
    for t in tracks.iter().filter(|t| t.handler == "vide") {
        let at = format!("{uri}: track {} {}", t.track_id, t.sample_entry);
        if is_hevc(t) {
            match t.config.as_deref().map(parse_hvcc) {
                None => o.must(format!("{at}: no hvcC box")),
                Some(Err(e)) => o.must(format!("{at}: {e}")),
                Some(Ok(h)) => {
                    if h.version != 1 {
                        o.must(format!("{at}: hvcC configurationVersion {}", h.version));
                    }
                    if t.sample_entry == "hvc1" {
                        for (ty, name) in [(32u8, "VPS"), (33, "SPS"), (34, "PPS")] {
                            match h.array(ty) {
                                None => o.must(format!("{at}: hvcC has no {name} array")),
                                Some(a) if !a.complete || a.count == 0 => o.must(format!(
                                    "{at}: hvcC {name} array not complete (array_completeness {}, {} units)",
                                    u8::from(a.complete),
                                    a.count
                                )),
                                Some(_) => {}
                            }
                        }
                    }
                    o.evidence(format!("{at}: hvcC ok, NAL length size {}", h.length_size));
                }
            }
        }
        match t.colr.as_deref() {
            None => o.problem(level, format!("{at}: no colr box in the sample entry{claim}")),
            Some("nclx") => {}
            Some(other) => {
                o.problem(level, format!("{at}: colr colour_type {other}, not nclx{claim}"))
            }
        }
        if !t.pasp {
            o.problem(level, format!("{at}: no pasp box in the sample entry{claim}"));
        }
    }
    o
}

/// CMAF-05 on one media segment: one `traf` per `moof`, one `trun` per `traf`.
pub fn cmaf_05_segment(uri: &str, data: &[u8], cmaf: bool) -> Outcome {
    // CMAF (second-hand, RULES.md CMAF-05): "one traf per moof; one trun per traf".
    let level = if cmaf { Level::Must } else { Level::Should };
    let claim = if cmaf { "" } else { " (no cmfc/cmf2 brand: reported, not failed)" };
    let mut o = Outcome::new();
    match mp4::moof_shapes(data) {
        Err(e) => o.must(format!("{uri}: {e}")),
        Ok(moofs) => {
            for (i, trafs) in moofs.iter().enumerate() {
                if trafs.len() != 1 {
                    o.problem(level, format!("{uri}: moof #{i} has {} traf{claim}", trafs.len()));
                }
                for (id, truns) in trafs.iter().filter(|(_, n)| *n != 1) {
                    o.problem(
                        level,
                        format!("{uri}: moof #{i} track {id} has {truns} trun{claim}"),
                    );
                }
            }
        }
    }
    o
}

/// The NAL unit types of one length-prefixed sample (`length_size` bytes per length).
fn sample_nal_types(sample: &[u8], length_size: usize, hevc: bool) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < sample.len() {
        let len = sample
            .get(pos..pos + length_size)
            .ok_or("NAL length field runs past the sample")?
            .iter()
            .fold(0usize, |a, b| (a << 8) | usize::from(*b));
        pos += length_size;
        let nal = sample.get(pos..pos + len).ok_or("NAL unit runs past the sample")?;
        let t = if hevc { codecs::hevc_nal_type(nal) } else { codecs::avc_nal_type(nal) };
        out.extend(t);
        pos += len;
    }
    Ok(out)
}

/// CMAF-09 on one media segment: each video track starts with a sync sample whose first
/// picture is IDR (AVC) / IRAP (HEVC).
pub fn cmaf_09(uri: &str, data: &[u8], init: &[TrackInit]) -> Outcome {
    // CMAF 7.3.2.4 (second-hand, RULES.md CMAF-09): "Each fragment/segment starts with a SAP
    // 1/2 sync sample (first_sample_flags or trex/tfhd defaults: sample_is_non_sync_sample=0)".
    let mut o = Outcome::new();
    let runs = match mp4::parse_fragments(data, init) {
        Ok(r) => r,
        Err(e) => {
            o.must(format!("{uri}: {e}"));
            return o;
        }
    };
    let mut judged = false;
    for t in init.iter().filter(|t| t.handler == "vide") {
        let Some(run) = runs.iter().find(|r| r.track_id == t.track_id) else { continue };
        judged = true;
        if run.sync.first() != Some(&true) {
            o.must(format!(
                "{uri}: track {} first sample is not a sync sample (sample_is_non_sync_sample=1)",
                t.track_id
            ));
        }
        let length_size = match (is_hevc(t), is_avc(t), t.config.as_deref()) {
            (true, _, Some(c)) => parse_hvcc(c).ok().map(|h| usize::from(h.length_size)),
            (_, true, Some(c)) if c.len() > 4 => Some(usize::from(c[4] & 3) + 1),
            _ => None,
        };
        let Some(length_size) = length_size else { continue };
        let sample = match mp4::first_sample(data, init, t.track_id) {
            Ok(Some(s)) => s,
            Ok(None) => continue,
            Err(e) => {
                o.must(format!("{uri}: track {} first sample: {e}", t.track_id));
                continue;
            }
        };
        let hevc = is_hevc(t);
        match sample_nal_types(sample, length_size, hevc) {
            Err(e) => o.must(format!("{uri}: track {} first sample: {e}", t.track_id)),
            Ok(types) => {
                let vcl = types
                    .iter()
                    .copied()
                    .find(|n| if hevc { *n < 32 } else { (1..=5).contains(n) });
                let key = |n: u8| if hevc { (16..=21).contains(&n) } else { n == 5 };
                match vcl {
                    Some(n) if key(n) => o.evidence(format!("{uri}: starts with NAL type {n}")),
                    Some(n) => o.must(format!(
                        "{uri}: track {} first picture is NAL type {n}, not {}",
                        t.track_id,
                        if hevc { "IRAP (16-21)" } else { "IDR (5)" }
                    )),
                    None => o.must(format!(
                        "{uri}: track {} first sample holds no picture ({types:?})",
                        t.track_id
                    )),
                }
            }
        }
    }
    if !judged {
        return Outcome::skip(format!("{uri}: no video track fragment"));
    }
    o
}

/// CMAF-13: each variant's CODECS equals the strings derived from its renditions' sample
/// entries (`avcC`, `hvcC`, `esds`). `inits_of` maps a rendition URI (as written in the
/// multivariant) to its init tracks.
pub fn cmaf_13(mv: &Multivariant, inits_of: &dyn Fn(&str) -> Option<Vec<TrackInit>>) -> Outcome {
    // IOP-LL 8.X.4: "@codecs SHALL be set to the sample entry"; HLS §6.2.4: CODECS "MUST include
    // every media format [RFC6381] present in any Media Segment" (RULES.md CMAF-13: equal to the
    // RFC 6381 string derived from avcC/hvcC/esds).
    let mut o = Outcome::new();
    let mut judged = false;
    for v in &mv.variants {
        let Some(codecs) = v.attrs.text("CODECS") else { continue };
        let listed: Vec<&str> = codecs.split(',').map(str::trim).collect();
        for member in super::multivariant::variant_members(mv, v) {
            let Some(tracks) = inits_of(&member) else { continue };
            for t in tracks {
                let derivable = is_avc(&t) || is_hevc(&t) || t.sample_entry == "mp4a";
                if !derivable {
                    continue;
                }
                judged = true;
                match &t.codec {
                    None => o.must(format!(
                        "{member}: {} sample entry yields no codec string (configuration box missing or short)",
                        t.sample_entry
                    )),
                    Some(c) if listed.iter().any(|l| codecs::same(l, c)) => {
                        o.evidence(format!("{member}: {c}"))
                    }
                    Some(c) => o.must(format!(
                        "{member}: {} sample entry says {c} but CODECS is \"{codecs}\"",
                        t.sample_entry
                    )),
                }
            }
        }
    }
    if !judged {
        return Outcome::skip("no CODECS to compare with an fMP4 init");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp4::testing::{bx, fragment_with_data, hevc_init, init};
    use crate::mp4::{parse_init, parse_init_layout};

    fn fails(o: &Outcome) -> bool {
        o.problems.iter().any(|p| p.level.fails(false))
    }

    #[test]
    fn cmaf_01_checks_layout_brands_and_samples() {
        let good = hevc_init(true, true, b"cmfc");
        assert!(cmaf_01("i", &parse_init_layout(&good).unwrap()).is_clean());
        let ftyp_len = u32::from_be_bytes([good[0], good[1], good[2], good[3]]) as usize;
        let old = [bx(b"ftyp", b"iso5\0\0\0\0iso5mp41"), good[ftyp_len..].to_vec()].concat();
        let o = cmaf_01("i", &parse_init_layout(&old).unwrap());
        assert!(fails(&o), "{o:?}");
        let with_mdat = [good.clone(), bx(b"mdat", &[0; 8])].concat();
        assert!(fails(&cmaf_01("i", &parse_init_layout(&with_mdat).unwrap())));
        let free_first = [bx(b"free", &[]), good].concat();
        assert!(fails(&cmaf_01("i", &parse_init_layout(&free_first).unwrap())));
    }

    #[test]
    fn cmaf_05_checks_hvcc_colr_pasp_by_claim() {
        let good = hevc_init(true, true, b"cmfc");
        let tracks = parse_init(&good).unwrap();
        assert_eq!(tracks[0].codec.as_deref(), Some("hvc1.1.6.L93.90"));
        assert!(cmaf_05_init("i", &parse_init_layout(&good).unwrap(), &tracks).is_clean());
        let bare = hevc_init(false, true, b"cmfc");
        let o = cmaf_05_init("i", &parse_init_layout(&bare).unwrap(), &parse_init(&bare).unwrap());
        assert!(fails(&o) && o.problems.len() == 2, "{o:?}");
        let partial = hevc_init(true, false, b"cmfc");
        let o = cmaf_05_init(
            "i",
            &parse_init_layout(&partial).unwrap(),
            &parse_init(&partial).unwrap(),
        );
        assert!(fails(&o) && o.problems[0].msg.contains("VPS array not complete"), "{o:?}");
        let plain = hevc_init(false, true, b"iso6");
        let o =
            cmaf_05_init("i", &parse_init_layout(&plain).unwrap(), &parse_init(&plain).unwrap());
        assert!(!fails(&o) && o.has_level(Level::Should), "{o:?}");
    }

    #[test]
    fn cmaf_09_requires_a_leading_irap() {
        let init = parse_init(&hevc_init(true, true, b"cmfc")).unwrap();
        // IDR_W_RADL (19) sample, then a TRAIL_R (1) sample.
        let idr = fragment_with_data(
            1,
            &[(true, vec![0x26, 0x01, 0xaf]), (false, vec![0x02, 0x01, 0xd0])],
        );
        assert!(cmaf_09("s", &idr, &init).is_clean(), "{:?}", cmaf_09("s", &idr, &init));
        let trail = fragment_with_data(1, &[(true, vec![0x02, 0x01, 0xd0])]);
        let o = cmaf_09("s", &trail, &init);
        assert!(fails(&o) && o.problems[0].msg.contains("NAL type 1"), "{o:?}");
        let flagged = fragment_with_data(1, &[(false, vec![0x26, 0x01, 0xaf])]);
        assert!(fails(&cmaf_09("s", &flagged, &init)));
    }

    #[test]
    fn truncated_inits_and_segments_never_panic() {
        let good = hevc_init(true, true, b"cmfc");
        let init = parse_init(&good).unwrap();
        for n in 0..good.len() {
            if let Ok(layout) = parse_init_layout(&good[..n]) {
                let _ = cmaf_01("i", &layout);
                let tracks = parse_init(&good[..n]).unwrap_or_default();
                let _ = cmaf_05_init("i", &layout, &tracks);
            }
        }
        let seg = fragment_with_data(1, &[(true, vec![0x26, 0x01, 0xaf, 0x00, 0x12])]);
        for n in 0..seg.len() {
            let _ = cmaf_05_segment("s", &seg[..n], true);
            let _ = cmaf_09("s", &seg[..n], &init);
        }
        // A sample whose NAL length runs past the sample is a failure, not a panic.
        let bad = fragment_with_data(1, &[(true, vec![0x26])]);
        let mut bad = bad.clone();
        let n = bad.len();
        bad[n - 5..n - 1].copy_from_slice(&[0, 0, 0, 9]);
        assert!(fails(&cmaf_09("s", &bad, &init)));
    }

    #[test]
    fn cmaf_13_compares_codecs_exactly() {
        let tracks = parse_init(&hevc_init(true, true, b"cmfc")).unwrap();
        let mv = |c: &str| {
            Multivariant::parse(&format!(
                "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"{c}\"\nv.m3u8\n"
            ))
        };
        let of = |_: &str| Some(tracks.clone());
        assert!(cmaf_13(&mv("hvc1.1.6.L93.90,mp4a.40.2"), &of).is_clean());
        assert!(fails(&cmaf_13(&mv("hvc1.1.4.L93.B01,mp4a.40.2"), &of)));
        assert!(fails(&cmaf_13(&mv("hev1.1.6.L93.90"), &of)));
        let avc = parse_init(&init(1, true, 90000)).unwrap();
        assert!(cmaf_13(&mv("avc1.64001F"), &|_| Some(avc.clone())).is_clean());
    }
}
