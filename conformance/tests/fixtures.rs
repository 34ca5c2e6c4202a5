//! The playlist fixtures: `good.m3u8` passes every static rule, `bad.m3u8` trips exactly the
//! eleven seeded faults listed in `fixtures/llhls/README.md`; the MPD fixtures likewise:
//! `good.mpd` has no FAIL or WARN, `bad.mpd` fails exactly the seven rules of
//! `fixtures/lldash/README.md`.

use sluice_conformance::lint::lint;
use sluice_conformance::report::{RuleResult, Verdict};

const GOOD: &[u8] = include_bytes!("../fixtures/llhls/good.m3u8");
const BAD: &[u8] = include_bytes!("../fixtures/llhls/bad.m3u8");
const GOOD_MPD: &[u8] = include_bytes!("../fixtures/lldash/good.mpd");
const BAD_MPD: &[u8] = include_bytes!("../fixtures/lldash/bad.mpd");

fn results(name: &str, body: &[u8]) -> Vec<RuleResult> {
    lint(&[(name.to_string(), body.to_vec())], false).results()
}

#[test]
fn good_fixture_has_no_failures_or_warnings() {
    for r in results("good.m3u8", GOOD) {
        assert!(
            matches!(r.verdict, Verdict::Pass | Verdict::Skip),
            "{} {:?}: {}",
            r.id,
            r.verdict,
            r.message
        );
    }
}

#[test]
fn bad_fixture_trips_each_seeded_fault_and_nothing_else() {
    let expected: [(&str, Verdict, &str); 11] = [
        ("HLS-PL-06", Verdict::Fail, "EXT-X-VERSION 3 but EXT-X-MAP needs 6"),
        ("HLS-MP-02", Verdict::Fail, "msn 267: EXTINF 4.60000 rounds above TARGETDURATION 4"),
        ("LLHLS-SC-02", Verdict::Fail, "PART-HOLD-BACK 0.8 < 2 x PART-TARGET 0.5"),
        ("LLHLS-SC-03", Verdict::Fail, "HOLD-BACK 8 < 3 x TD (12)"),
        ("LLHLS-SC-04", Verdict::Fail, "CAN-SKIP-UNTIL 12 < 6 x TD (24)"),
        ("LLHLS-PART-02", Verdict::Fail, "part 268.1: DURATION 0.6 > PART-TARGET 0.5"),
        ("LLHLS-PART-03", Verdict::Fail, "part 268.3: DURATION 0.3 < 0.85 x PART-TARGET"),
        ("HLS-MP-12", Verdict::Fail, "EXT-X-PROGRAM-DATE-TIME after EXT-X-PART of the same parent"),
        ("LLHLS-PH-01", Verdict::Fail, "no EXT-X-PRELOAD-HINT:TYPE=PART"),
        ("LLHLS-PH-04", Verdict::Warn, "2 PRELOAD-HINT tags with TYPE=MAP"),
        ("LLHLS-RR-02", Verdict::Fail, "is absolute, must be relative"),
    ];
    assert_exactly(&results("bad.m3u8", BAD), &expected);
}

/// Each expected rule has its verdict and message, and no other rule FAILs or WARNs.
fn assert_exactly(all: &[RuleResult], expected: &[(&str, Verdict, &str)]) {
    for (id, verdict, text) in expected {
        let r = all.iter().find(|r| r.id == *id).unwrap();
        assert_eq!(r.verdict, *verdict, "{id}: {}", r.message);
        assert!(r.message.contains(text), "{id}: {}", r.message);
    }
    let flagged: Vec<&str> = all
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Warn))
        .map(|r| r.id)
        .collect();
    assert_eq!(flagged.len(), expected.len(), "unexpected extra findings: {flagged:?}");
}

#[test]
fn lint_report_fails_on_bad_fixture_only() {
    assert!(!lint(&[("good.m3u8".into(), GOOD.to_vec())], false).failed());
    assert!(lint(&[("bad.m3u8".into(), BAD.to_vec())], false).failed());
}

#[test]
fn good_mpd_passes_every_single_document_rule() {
    let all = results("good.mpd", GOOD_MPD);
    assert_eq!(all.len(), 19);
    assert_exactly(&all, &[]);
    assert_eq!(all.iter().filter(|r| r.verdict == Verdict::Pass).count(), 14);
}

#[test]
fn bad_mpd_fails_exactly_the_seeded_rules() {
    let expected: [(&str, Verdict, &str); 7] = [
        ("LLDASH-TSB-01", Verdict::Fail, "suggestedPresentationDelay 30 s leaves no time-shift"),
        ("LLDASH-UTC-01", Verdict::Fail, "no UTCTiming element"),
        ("LLDASH-ST-01", Verdict::Fail, "SegmentTimeline uses S@n"),
        ("LLDASH-PRT-01", Verdict::Fail, "ProducerReferenceTime without UTCTiming"),
        ("DASH-MPD-03", Verdict::Fail, "Representation id \"video\" used twice"),
        ("DASH-MPD-02", Verdict::Fail, "AdaptationSet audio without @id"),
        ("LLDASH-ATO-02", Verdict::Fail, "chunked but no availabilityTimeComplete=\"false\""),
    ];
    assert_exactly(&results("bad.mpd", BAD_MPD), &expected);
}

#[test]
fn broken_mpd_fails_mpd_01_without_panicking() {
    let r = lint(&[("x.mpd".into(), b"<MPD><Period></MPD>".to_vec())], false);
    let mpd01 = r.results().into_iter().find(|r| r.id == "DASH-MPD-01").unwrap();
    assert_eq!(mpd01.verdict, Verdict::Fail, "{}", mpd01.message);
}
