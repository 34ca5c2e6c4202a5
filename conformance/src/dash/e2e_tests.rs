//! `check_dash` against a tiny simulated LL-DASH origin that announces ATO 0.8 s but, like a
//! static server in front of ffmpeg's `.tmp` segments, 404s every segment until it is complete:
//! LLDASH-AV-01 and LLDASH-CTE-01 must fail, the MPD rules must not.

use std::time::Duration;

use super::clock::local_now;
use super::{DashOptions, check_dash};
use crate::live::test_origin::serve;
use crate::mp4::testing::{fragment, init};
use crate::report::Verdict;
use crate::url::Url;

/// xs:dateTime (UTC, milliseconds) of Unix seconds.
fn xs_datetime(t: f64) -> String {
    let ms = (t * 1000.0).round() as i64;
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // H. Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

fn segment(k: u64) -> Vec<u8> {
    // 1 s at timescale 1000: five 200 ms chunks of one 200 ms sample each.
    (0..5u64).flat_map(|c| fragment(1, k * 1000 + c * 200, &[(200, c == 0)])).collect()
}

#[test]
fn origin_404ing_inside_the_ato_window_fails_av_01_and_cte_01() {
    let ast = local_now() - 10.0;
    let mpd = format!(
        r#"<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" profiles="urn:mpeg:dash:profile:isoff-live:2011" availabilityStartTime="{}" publishTime="{}" minimumUpdatePeriod="PT1S" minBufferTime="PT1S" timeShiftBufferDepth="PT8S" maxSegmentDuration="PT1S">
<ServiceDescription id="0"><Latency target="1500"/></ServiceDescription>
<Period id="p0" start="PT0S"><AdaptationSet id="1" contentType="video" mimeType="video/mp4">
<ProducerReferenceTime id="1" type="encoder" wallClockTime="{}" presentationTime="0"><UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="/time"/></ProducerReferenceTime>
<SegmentTemplate timescale="1000" duration="1000" startNumber="0" availabilityTimeOffset="0.8" availabilityTimeComplete="false" initialization="init.mp4" media="$Number$.m4s"/>
<Representation id="v" bandwidth="100000" codecs="avc1.64001f"/></AdaptationSet></Period>
<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="/time"/></MPD>"#,
        xs_datetime(ast),
        xs_datetime(ast),
        xs_datetime(ast)
    );
    let (port, stop) = serve(move |path, _, _| {
        let now = local_now();
        match path {
            "/index.mpd" => (200, "application/dash+xml", mpd.clone().into_bytes()),
            "/time" => (200, "text/plain", xs_datetime(now).into_bytes()),
            "/init.mp4" => (200, "video/mp4", init(1, true, 1000)),
            p => match p
                .strip_prefix('/')
                .and_then(|p| p.strip_suffix(".m4s"))
                .and_then(|n| n.parse::<u64>().ok())
            {
                // Complete segments only: nothing while the segment is in its ATO window.
                Some(k) if now - ast >= (k + 1) as f64 => (200, "video/mp4", segment(k)),
                _ => (404, "text/plain", b"not found".to_vec()),
            },
        }
    });
    let url = Url::parse(&format!("http://127.0.0.1:{port}/index.mpd")).unwrap();
    let report = check_dash(&DashOptions { url, duration: Duration::from_secs(4) });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let verdict = |id: &str| report.results().into_iter().find(|r| r.id == id).unwrap();
    for id in ["LLDASH-AV-01", "LLDASH-CTE-01"] {
        let r = verdict(id);
        assert_eq!(r.verdict, Verdict::Fail, "{id}: {}\n{}", r.message, report.render());
        assert!(r.message.contains("status 404"), "{id}: {}", r.message);
    }
    for id in [
        "DASH-MPD-02",
        "DASH-MPD-03",
        "LLDASH-ST-01",
        "LLDASH-ST-02",
        "LLDASH-UTC-01",
        "LLDASH-ATO-01",
        "LLDASH-TSB-01",
    ] {
        let r = verdict(id);
        assert_eq!(r.verdict, Verdict::Pass, "{id}: {}\n{}", r.message, report.render());
    }
}

#[test]
fn datetime_formatting_round_trips() {
    let t = 1_795_000_000.123;
    let back = crate::mpd::parse_datetime(&xs_datetime(t)).unwrap();
    assert!((back - t).abs() < 1e-6, "{} -> {back}", xs_datetime(t));
}
