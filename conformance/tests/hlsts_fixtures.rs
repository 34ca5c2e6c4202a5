//! `check_hls` against the committed HLS-TS, Packed Audio and HEVC-fMP4 fixtures
//! (`fixtures/hlsts/`, made by its `make.sh` with Debian ffmpeg 5.1), served by a tiny static
//! file server on loopback: real encoder output gets the verdicts RULES.md predicts, each
//! broken copy fails exactly its seeded rule, and the LL-HLS-only rules report "not
//! applicable" on classic playlists instead of passing or failing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use sluice_conformance::live::{HlsOptions, check_hls};
use sluice_conformance::report::{Report, RuleResult, Verdict};
use sluice_conformance::url::Url;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hlsts")
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("m3u8") => "application/vnd.apple.mpegurl",
        Some("ts") => "video/mp2t",
        Some("aac") => "audio/aac",
        Some("mp4" | "m4s") => "video/mp4",
        _ => "application/octet-stream",
    }
}

fn serve(mut s: TcpStream) {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let target = head.split(' ').nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/");
    let file = (!path.contains("..")).then(|| root().join(path.trim_start_matches('/')));
    let (status, ctype, body) = match file.and_then(|f| std::fs::read(f).ok()) {
        Some(body) => ("200 OK", content_type(path), body),
        None => ("404 Not Found", "text/plain", b"not found".to_vec()),
    };
    let _ = s.write_all(
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let _ = s.write_all(&body);
}

/// Runs `sluice-check hls` on a fixture path (relative to `fixtures/hlsts`).
fn check(path: &str, apple: bool) -> Report {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let server = thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((s, _)) => {
                    let _ = s.set_nonblocking(false);
                    thread::spawn(move || serve(s));
                }
                Err(_) => thread::sleep(Duration::from_millis(2)),
            }
        }
    });
    let url = Url::parse(&format!("http://127.0.0.1:{port}/{path}")).unwrap();
    let report = check_hls(&HlsOptions { url, duration: Duration::from_secs(1), apple });
    stop.store(true, Ordering::Relaxed);
    server.join().unwrap();
    report
}

fn rule(r: &Report, id: &str) -> RuleResult {
    r.results().into_iter().find(|x| x.id == id).unwrap()
}

fn assert_rule(r: &Report, id: &str, verdict: Verdict, text: &str) {
    let x = rule(r, id);
    assert_eq!(x.verdict, verdict, "{id}: {}\n{}", x.message, r.render());
    assert!(x.message.contains(text), "{id}: {:?} lacks {text:?}\n{}", x.message, r.render());
}

/// The rules that failed, sorted.
fn failures(r: &Report) -> Vec<&'static str> {
    r.results().into_iter().filter(|x| x.verdict == Verdict::Fail).map(|x| x.id).collect()
}

/// On a classic (no EXT-X-PART-INF) playlist every LL-HLS rule is not applicable, except the
/// two that hold for any HLS server: ignoring `_HLS_skip` (DD-06) and Expires (HTTP-03).
fn assert_ll_rules_not_applicable(r: &Report) {
    for x in r.results().into_iter().filter(|x| x.id.starts_with("LLHLS-")) {
        match x.id {
            "LLHLS-DD-06" => assert_eq!(x.verdict, Verdict::Pass, "{}", x.message),
            "LLHLS-HTTP-03" => assert_eq!(x.verdict, Verdict::Warn, "{}", x.message),
            _ => assert_eq!(x.verdict, Verdict::Skip, "{} {:?}: {}", x.id, x.verdict, x.message),
        }
    }
}

#[test]
fn ffmpeg_h264_ts_passes_section_b_with_the_sdt_first_warning() {
    let r = check("h264/index.m3u8", false);
    for id in ["TS-01", "TS-02", "TS-03", "TS-05", "TS-06", "TS-07", "TS-08"] {
        assert_eq!(rule(&r, id).verdict, Verdict::Pass, "{id}: {}", rule(&r, id).message);
    }
    // RULES.md: "ffmpeg 5.1 HLS-TS segments start with SDT (PID 0x11), then PAT, then PMT".
    assert_rule(&r, "TS-04", Verdict::Warn, "SDT (PID 0x11) then PAT (PID 0x0), not PAT then PMT");
    assert_rule(&r, "TS-05", Verdict::Pass, "NAL types [9, 7, 8");
    assert_rule(&r, "TS-07", Verdict::Pass, "max PCR interval 33 ms");
    assert_rule(&r, "TS-09", Verdict::Skip, "not applicable: MPEG-TS segments (muxed)");
    assert_rule(&r, "TS-10", Verdict::Pass, "avc1.64000b");
    assert_rule(&r, "HLS-MV-02", Verdict::Pass, "avc1.64000b");
    assert_rule(&r, "HLS-MP-15", Verdict::Pass, "largest timestamp deviation 0 ms");
    assert_rule(&r, "HLS-MP-16", Verdict::Pass, "");
    assert_rule(&r, "HLS-MP-12", Verdict::Skip, "no fMP4 segments");
    for id in ["CMAF-01", "CMAF-05", "CMAF-09"] {
        assert_rule(&r, id, Verdict::Skip, "MPEG-TS segments");
    }
    assert_ll_rules_not_applicable(&r);
    // ffmpeg writes an estimated BANDWIDTH below the peak segment bit rate of its own output.
    assert_eq!(failures(&r), vec!["HLS-MV-01"], "{}", r.render());
    assert!(r.metrics().iter().any(|(k, v)| k.contains("segment format") && v == "MPEG-TS"));
}

#[test]
fn ffmpeg_h265_ts_is_flagged_for_open_gop_hevc_in_ts_and_missing_codecs() {
    let r = check("h265/index.m3u8", false);
    for id in ["TS-01", "TS-02", "TS-03", "TS-06", "TS-07"] {
        assert_eq!(rule(&r, id).verdict, Verdict::Pass, "{id}: {}", rule(&r, id).message);
    }
    // x265's default open GOP: segments 1 and 2 start with a CRA whose RASL pictures need the
    // previous segment; segment 0 starts with an IDR.
    assert_rule(&r, "TS-05", Verdict::Warn, "starts with a CRA followed by 2 RASL pictures");
    // ffmpeg 5.1 writes no CODECS for HEVC, and Apple wants HEVC in fMP4 only.
    assert_rule(&r, "TS-10", Verdict::Warn, "HEVC in MPEG-TS");
    let ts10 = rule(&r, "TS-10");
    assert!(ts10.problems.iter().any(|(_, m)| m.contains("without CODECS")), "{ts10:?}");
    // The first segment holds 28 frames by decode order (its 2 RASL pictures went to the next
    // segment), so EXTINF 1.0 overstates it.
    assert_rule(&r, "TS-08", Verdict::Warn, "msn 0: EXTINF 1.000000 but its media spans 0.933 s");
    assert!(!failures(&r).iter().any(|id| id.starts_with("TS-")), "{}", r.render());

    let apple = check("h265/index.m3u8", true);
    assert_rule(&apple, "TS-10", Verdict::Fail, "HEVC in MPEG-TS");
}

#[test]
fn ffmpeg_hevc_fmp4_codecs_string_fails_cmaf_13_and_the_derived_one_passes() {
    let r = check("hevc-fmp4/index.m3u8", false);
    // ffmpeg 5.1 hard-codes ".4" and ".B01"; the hvcC says compatibility 0x6, constraints 0x90.
    assert_rule(
        &r,
        "CMAF-13",
        Verdict::Fail,
        "hvc1 sample entry says hvc1.1.6.L30.90 but CODECS is \"hvc1.1.4.L30.B01",
    );
    assert_rule(&r, "CMAF-01", Verdict::Pass, "ftyp+moov");
    assert_rule(&r, "CMAF-09", Verdict::Pass, "starts with NAL type");
    // Not a CMAF claim (no cmfc brand): audio and video in one init, two trafs per moof, no
    // colr: reported as warnings only.
    assert_rule(&r, "CMAF-05", Verdict::Warn, "2 tracks in one init");
    let c5 = rule(&r, "CMAF-05");
    assert!(c5.problems.iter().any(|(_, m)| m.contains("no colr box")), "{c5:?}");
    assert!(!c5.problems.iter().any(|(_, m)| m.contains("pasp")), "{c5:?}");
    for id in ["TS-01", "TS-05", "TS-06"] {
        assert_rule(&r, id, Verdict::Skip, "fMP4 segments");
    }
    assert_ll_rules_not_applicable(&r);

    let fixed = check("hevc-fmp4/index-derived.m3u8", false);
    assert_rule(&fixed, "CMAF-13", Verdict::Pass, "hvc1.1.6.L30.90");
    assert_rule(&fixed, "HLS-MV-02", Verdict::Pass, "hvc1.1.6.L30.90");
    assert!(!fixed.failed(), "{}", fixed.render());
}

#[test]
fn each_broken_ts_fixture_fails_its_seeded_rule_only() {
    let cases: [(&str, &[&str], &str, &str); 4] = [
        ("broken/truncated.m3u8", &["TS-01"], "TS-01", "not a multiple of 188"),
        (
            "broken/ccjump.m3u8",
            &["HLS-MP-15", "TS-06"],
            "TS-06",
            "PID 0x100 continuity_counter 3 at the end, 7 at the start",
        ),
        (
            "broken/nonidr.m3u8",
            &["TS-05"],
            "TS-05",
            "first H.264 picture is NAL type 1, not IDR (5)",
        ),
        ("broken/nopcr.m3u8", &["TS-07"], "TS-07", "no PCR on PCR_PID 0x100"),
    ];
    for (path, failing, id, text) in cases {
        let r = check(path, false);
        assert_eq!(failures(&r), failing.to_vec(), "{path}\n{}", r.render());
        assert_rule(&r, id, Verdict::Fail, text);
    }
}

#[test]
fn packed_audio_needs_the_id3_timestamp() {
    let r = check("packed/audio.m3u8", false);
    assert_rule(&r, "TS-09", Verdict::Pass, "transportStreamTimestamp 126000");
    assert_rule(&r, "TS-01", Verdict::Skip, "Packed Audio segments, not MPEG-TS");
    assert!(!r.failed(), "{}", r.render());
    let bad = check("packed/noid3.m3u8", false);
    assert_rule(&bad, "TS-09", Verdict::Fail, "noid3.aac: does not start with an ID3v2 tag");
    assert_eq!(failures(&bad), vec!["TS-09"]);
}

#[test]
fn lint_applies_the_unrounded_target_duration_to_ts_playlists() {
    // ffmpeg's audio-only HLS writes exactly this: version 3, TD 1, EXTINF 1.002667.
    let v3 = b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.002667,\na.ts\n#EXT-X-ENDLIST\n";
    let r = sluice_conformance::lint::lint(&[("v3.m3u8".into(), v3.to_vec())], false);
    assert_rule(
        &r,
        "TS-08",
        Verdict::Fail,
        "EXTINF 1.002667 > TARGETDURATION 1 with EXT-X-VERSION 3",
    );
    let h264 = std::fs::read(root().join("h264/video.m3u8")).unwrap();
    let r = sluice_conformance::lint::lint(&[("video.m3u8".into(), h264)], false);
    assert_rule(&r, "TS-08", Verdict::Pass, "TD 1, version 6");
}
