//! `sluice-check hls-stall`: with the publisher paused by the caller, a request blocked on the
//! next part (and one blocked on the next segment) must be answered 503 at about 3 x TD
//! (LLHLS-DD-05), never with the unchanged playlist.

use std::thread;
use std::time::{Duration, Instant};

use crate::live::{self, observe};
use crate::report::Report;
use crate::rules::{delivery, ms};
use crate::url::Url;

/// Runs the stall check against every rendition of `url`.
pub fn check_stall(url: &Url, apple: bool) -> Report {
    let mut report = Report::new(&url.to_string(), apple);
    let Some(entry) = live::entry(url, &mut report) else { return report };
    let handles: Vec<_> = entry
        .renditions
        .iter()
        .cloned()
        .map(|(name, u)| thread::spawn(move || stall_one(name, u)))
        .collect();
    for h in handles {
        let Ok(results) = h.join() else { continue };
        for (name, metric, outcomes) in results {
            if let Some((k, v)) = metric {
                report.metric(k, v);
            }
            for o in outcomes {
                report.add("LLHLS-DD-05", &name, o);
            }
        }
    }
    report
}

type StallResult = (String, Option<(String, String)>, Vec<crate::rules::Outcome>);

fn stall_one(name: String, url: Url) -> Vec<StallResult> {
    let Some(p) = observe::get(&url, Duration::from_secs(5), &[], true).0.playlist else {
        return vec![(name, None, vec![crate::rules::Outcome::skip("playlist unavailable")])];
    };
    let td = p.target_duration.unwrap_or(1).max(1);
    // Is the stream really paused? Compare two reloads a few part targets apart.
    let pause = Duration::from_secs_f64(p.part_target.unwrap_or(0.5).max(0.2) * 3.0);
    thread::sleep(pause);
    let again = observe::get(&url, Duration::from_secs(5), &[], true).0.playlist;
    let progressing = again
        .as_ref()
        .is_some_and(|a| a.last_part() != p.last_part() || a.last_msn() != p.last_msn());
    let metric = Some((
        format!("{name} stall precheck"),
        if progressing {
            format!(
                "playlist still progressing over {} (publisher not paused?)",
                ms(pause.as_secs_f64())
            )
        } else {
            format!("no change over {}", ms(pause.as_secs_f64()))
        },
    ));
    let p = again.unwrap_or(p);
    let timeout = Duration::from_secs_f64(3.0 * td as f64 + (td as f64).max(1.0) + 3.0);
    // One past the segment in production, so that the request must block whether or not the
    // server counts an in-progress parent (parts only) as "containing" its MSN.
    let seg_msn = p.next_msn() + 1;
    let seg_url = url.with_params(&[("_HLS_msn", seg_msn.to_string())]);
    let seg = thread::spawn(move || {
        let t = Instant::now();
        let (o, _) = observe::get(&seg_url, timeout, &[], true);
        (o, t)
    });
    let mut outcomes = Vec::new();
    if let Some((m, n)) = p.next_part() {
        let part_url =
            url.with_params(&[("_HLS_msn", m.to_string()), ("_HLS_part", n.to_string())]);
        let (o, _) = observe::get(&part_url, timeout, &[], true);
        outcomes.push(delivery::llhls_dd_05(m, Some(n), &o, td));
    }
    if let Ok((o, _)) = seg.join() {
        outcomes.push(delivery::llhls_dd_05(seg_msn, None, &o, td));
    }
    vec![(name, metric, outcomes)]
}
