//! Follows one rendition for the run's duration like an LL-HLS client would: a blocking reload
//! for the next part, with the hinted part fetched concurrently, every new segment fetched by a
//! background worker, and segments / parts that leave the playlist re-fetched within their
//! availability window. Per-snapshot rules are judged as responses arrive; everything timed is
//! recorded for the rules judged at the end. A playlist that already has EXT-X-ENDLIST cannot
//! grow, so its listed segments (the last [`BACKFILL`]) are fetched instead; of a live playlist
//! the newest listed segment is fetched at the start as well.

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::observe::{self, blocking_timeout};
use crate::http::Response;
use crate::mp4::{InitLayout, TrackInit, parse_init, parse_init_layout};
use crate::playlist::MediaPlaylist;
use crate::rules::delivery::{CacheSample, Observed};
use crate::rules::timing::{Fetch, Recheck, Release};
use crate::rules::{Outcome, delivery, reload};
use crate::url::Url;

/// How many listed segments of an ENDLIST playlist are fetched.
pub const BACKFILL: usize = 30;

/// Shared store of part bodies by absolute URL.
type PartStore = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// A hinted part fetched while the blocking playlist request was held.
#[derive(Debug, Clone)]
pub struct HintRecord {
    /// The GET.
    pub fetch: Fetch,
    /// Absolute URL.
    pub url: String,
    /// Body.
    pub data: Vec<u8>,
    /// (msn, index) once published.
    pub position: Option<(u64, u64)>,
    /// The part listed just before it when it was published.
    pub previous: Option<(u64, u64)>,
    /// INDEPENDENT=YES on the published EXT-X-PART.
    pub independent: Option<bool>,
    /// EXT-X-MAP URL in force.
    pub map: Option<String>,
    /// An EXT-X-DISCONTINUITY precedes it (first part of a discontinuous parent).
    pub discontinuity: bool,
}

/// A newly listed segment fetched by the worker, with its parts.
#[derive(Debug, Clone)]
pub struct SegmentRecord {
    /// Media Sequence Number.
    pub msn: u64,
    /// Absolute URL.
    pub url: String,
    /// EXTINF.
    pub extinf: f64,
    /// EXT-X-DISCONTINUITY applied.
    pub discontinuity: bool,
    /// PROGRAM-DATE-TIME applied.
    pub pdt: Option<String>,
    /// EXT-X-MAP URL.
    pub map: Option<String>,
    /// The GET.
    pub fetch: Fetch,
    /// Body.
    pub data: Vec<u8>,
    /// Expires header.
    pub expires: Option<String>,
    /// Parts: (url, DURATION, body if obtained).
    pub parts: Vec<(String, Option<f64>, Option<Vec<u8>>)>,
}

/// Everything recorded while following one rendition.
#[derive(Debug, Default)]
pub struct FollowResult {
    /// Playlist file name (report context).
    pub name: String,
    /// Playlist URL.
    pub url: Option<Url>,
    /// Rule outcomes judged on the fly.
    pub outcomes: Vec<(&'static str, Outcome)>,
    /// First playlist fetched.
    pub first: Option<MediaPlaylist>,
    /// Last playlist fetched.
    pub last: Option<MediaPlaylist>,
    /// Largest playlist duration seen (s).
    pub max_duration: f64,
    /// (msn, t) when each segment was first seen complete.
    pub appearances: Vec<(u64, f64)>,
    /// Times between consecutive new parts (s).
    pub inter_arrivals: Vec<f64>,
    /// Blocking reload holds and release delays.
    pub releases: Vec<Release>,
    /// Hinted parts fetched.
    pub hints: Vec<HintRecord>,
    /// Newly listed segments fetched.
    pub segments: Vec<SegmentRecord>,
    /// Re-fetches after removal.
    pub rechecks: Vec<Recheck>,
    /// Whether segments were removed from the head during the run.
    pub removal_seen: bool,
    /// Playlist responses received.
    pub reloads: usize,
    /// Size of the last playlist body (bytes).
    pub playlist_bytes: usize,
    /// Cache-Control samples.
    pub cache: Vec<CacheSample>,
    /// Parsed init segments by absolute URL.
    pub inits: HashMap<String, Vec<TrackInit>>,
    /// Box layout of each init segment by absolute URL.
    pub init_layouts: HashMap<String, InitLayout>,
    /// Fatal problem that stopped following.
    pub error: Option<String>,
}

impl FollowResult {
    /// The init segment of the last playlist (the rendition's current tracks).
    pub fn current_init(&self) -> Option<&Vec<TrackInit>> {
        let p = self.last.as_ref()?;
        let url = self.url.as_ref()?;
        let map = p.final_map.as_ref()?.uri.as_ref()?;
        self.inits.get(&url.join(map).ok()?.to_string())
    }

    fn add(&mut self, id: &'static str, o: Outcome) {
        self.outcomes.push((id, o));
    }
}

enum Job {
    Segment {
        rec: SegmentRecord,
        part_urls: Vec<(String, Option<f64>)>,
    },
    Recheck {
        url: String,
        uri: String,
        kind: &'static str,
        at: Instant,
        removed_at: Instant,
        window: f64,
    },
    Stop,
}

struct WorkerOut {
    segments: Vec<SegmentRecord>,
    rechecks: Vec<Recheck>,
}

fn fetch_of(uri: &str, obs: &Observed, resp: Option<&Response>, media: Option<f64>) -> Fetch {
    Fetch {
        uri: uri.to_string(),
        status: obs.status.ok_or_else(|| obs.error.clone().unwrap_or_default()),
        total: obs.secs,
        transfer: resp.map_or(0.0, |r| r.timings.body_transfer().as_secs_f64()),
        media_duration: media,
    }
}

fn worker(rx: mpsc::Receiver<Job>, parts: PartStore) -> WorkerOut {
    let mut out = WorkerOut { segments: Vec::new(), rechecks: Vec::new() };
    let mut pending: Vec<Job> = Vec::new();
    let mut stopping = false;
    loop {
        // Run every due recheck.
        let now = Instant::now();
        let mut i = 0;
        while i < pending.len() {
            let due = matches!(&pending[i], Job::Recheck { at, .. } if *at <= now || stopping);
            if due {
                if let Job::Recheck { url, uri, kind, removed_at, window, .. } = pending.remove(i)
                    && let Ok(u) = Url::parse(&url)
                {
                    let (obs, resp) = observe::get(&u, Duration::from_secs(5), &[], false);
                    out.rechecks.push(Recheck {
                        fetch: fetch_of(&uri, &obs, resp.as_ref(), None),
                        kind,
                        since_removed: removed_at.elapsed().as_secs_f64(),
                        window,
                    });
                }
            } else {
                i += 1;
            }
        }
        if stopping && pending.is_empty() {
            return out;
        }
        let wait = pending
            .iter()
            .filter_map(|j| match j {
                Job::Recheck { at, .. } => Some(at.saturating_duration_since(Instant::now())),
                _ => None,
            })
            .min()
            .unwrap_or(Duration::from_millis(200));
        match rx.recv_timeout(wait) {
            Ok(Job::Segment { mut rec, part_urls }) => {
                if let Ok(u) = Url::parse(&rec.url) {
                    let (obs, resp) = observe::get(&u, Duration::from_secs(10), &[], false);
                    rec.fetch = fetch_of(&rec.fetch.uri, &obs, resp.as_ref(), Some(rec.extinf));
                    rec.expires = obs.expires.clone();
                    rec.data = resp.map(|r| r.body).unwrap_or_default();
                }
                for (purl, dur) in part_urls {
                    let known = parts.lock().unwrap_or_else(|e| e.into_inner()).get(&purl).cloned();
                    let body = known.or_else(|| {
                        let u = Url::parse(&purl).ok()?;
                        let (obs, resp) = observe::get(&u, Duration::from_secs(5), &[], false);
                        (obs.status == Some(200)).then(|| resp.map(|r| r.body)).flatten()
                    });
                    rec.parts.push((purl, dur, body));
                }
                out.segments.push(rec);
            }
            Ok(job @ Job::Recheck { .. }) => pending.push(job),
            Ok(Job::Stop) | Err(RecvTimeoutError::Disconnected) => stopping = true,
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

/// Judges the rules that need one playlist response only.
fn snapshot_rules(
    fr: &mut FollowResult,
    text: &str,
    body: &[u8],
    obs: &Observed,
    p: &MediaPlaylist,
) {
    for (id, o) in crate::rules::media_snapshot(text, body, p, fr.removal_seen) {
        fr.add(id, o);
    }
    if let Some(u) = &fr.url {
        let o = delivery::hls_pl_03(&u.path, obs.content_type.as_deref());
        fr.add("HLS-PL-03", o);
    }
}

fn reload_rules(
    fr: &mut FollowResult,
    prev: &MediaPlaylist,
    next: &MediaPlaylist,
    hint_status: Option<u16>,
) {
    fr.add("HLS-MP-03", reload::hls_mp_03(prev, next));
    fr.add("HLS-MP-04", reload::hls_mp_04(prev, next));
    fr.add("HLS-MP-05", reload::hls_mp_05(prev, next));
    fr.add("LLHLS-PI-02", reload::llhls_pi_02(prev, next));
    if let Some(u) = fr.url.clone() {
        fr.add("LLHLS-PH-05", reload::llhls_ph_05(prev, next, &u, hint_status));
    }
    fr.add("LLHLS-PH-01", reload::llhls_ph_01_map(prev, next));
}

fn fetch_init(fr: &mut FollowResult, p: &MediaPlaylist) {
    let (Some(url), Some(map)) = (fr.url.clone(), p.final_map.as_ref().and_then(|m| m.uri.clone()))
    else {
        return;
    };
    let Ok(u) = url.join(&map) else { return };
    if fr.inits.contains_key(&u.to_string()) {
        return;
    }
    let (obs, resp) = observe::get(&u, Duration::from_secs(5), &[], false);
    match (obs.status, resp) {
        (Some(200), Some(r)) => match parse_init(&r.body) {
            Ok(t) => {
                fr.inits.insert(u.to_string(), t);
                if let Ok(layout) = parse_init_layout(&r.body) {
                    fr.init_layouts.insert(u.to_string(), layout);
                }
            }
            Err(e) => {
                let mut o = Outcome::new();
                o.must(format!("init {map}: {e}"));
                fr.add("HLS-MP-12", o);
            }
        },
        _ => {
            let mut o = Outcome::new();
            o.must(format!("EXT-X-MAP {map} answered {}", obs.describe()));
            fr.add("HLS-MP-12", o);
        }
    }
}

fn segment_record(url: &Url, s: &crate::playlist::Segment, abs: String) -> SegmentRecord {
    SegmentRecord {
        msn: s.msn,
        url: abs,
        extinf: s.duration,
        discontinuity: s.discontinuity,
        pdt: s.program_date_time.clone(),
        map: s
            .map
            .as_ref()
            .and_then(|m| m.uri.as_ref())
            .and_then(|u| url.join(u).ok())
            .map(|u| u.to_string()),
        fetch: Fetch {
            uri: s.uri.clone(),
            status: Err("not fetched".into()),
            total: 0.0,
            transfer: 0.0,
            media_duration: Some(s.duration),
        },
        data: Vec::new(),
        expires: None,
        parts: Vec::new(),
    }
}

/// Follows `url` until `deadline`.
pub fn follow(name: String, url: Url, start: Instant, deadline: Instant) -> FollowResult {
    let mut fr = FollowResult { name, url: Some(url.clone()), ..FollowResult::default() };
    let since = |i: Instant| i.saturating_duration_since(start).as_secs_f64();

    let (obs, resp) = observe::get(&url, Duration::from_secs(5), &[], true);
    let (Some(resp), Some(first)) = (resp, obs.playlist.clone()) else {
        fr.error = Some(format!("GET {url}: {}", obs.describe()));
        return fr;
    };
    if obs.status != Some(200) {
        fr.error = Some(format!("GET {url}: {}", obs.describe()));
        return fr;
    }
    let text = resp.text();
    snapshot_rules(&mut fr, &text, &resp.body, &obs, &first);
    let td = first.target_duration.unwrap_or(1).max(1);
    fr.cache.push(CacheSample {
        kind: "non-blocking playlist 200",
        expected: td as f64 / 2.0,
        got: obs.max_age,
    });
    fetch_init(&mut fr, &first);
    fr.reloads = 1;
    fr.playlist_bytes = resp.wire_body_len;
    fr.max_duration = first.duration();

    let parts: PartStore = Arc::new(Mutex::new(HashMap::new()));
    let (tx, rx) = mpsc::channel::<Job>();
    let store = Arc::clone(&parts);
    let worker_handle = thread::spawn(move || worker(rx, store));

    {
        // An ENDLIST playlist cannot grow: fetch what it lists. A live one: fetch its newest
        // segment too, so that even a short run judges one segment and its successor.
        let keep = if first.endlist { BACKFILL } else { 1 };
        let skip = first.segments.len().saturating_sub(keep);
        for s in first.segments.iter().skip(skip) {
            let Ok(su) = url.join(&s.uri) else { continue };
            let part_urls = s
                .parts
                .iter()
                .filter_map(|x| Some((url.join(x.uri.as_ref()?).ok()?.to_string(), x.duration)))
                .collect();
            let rec = segment_record(&url, s, su.to_string());
            let _ = tx.send(Job::Segment { rec, part_urls });
        }
    }

    let mut last = first.clone();
    fr.first = Some(first);
    let mut appeared: HashMap<String, f64> = HashMap::new();
    let mut last_exact_arrival: Option<Instant> = None;
    let mut blocking_cache_sampled = false;
    let part_target = last.part_target.unwrap_or(td as f64);

    while Instant::now() < deadline && !last.endlist {
        let can_block = last.server_control.as_ref().is_some_and(|s| s.can_block_reload);
        let next = last.next_part();
        let hint = last
            .part_hint()
            .and_then(|h| h.uri.clone())
            .and_then(|u| url.join(&u).ok())
            .filter(|_| can_block);
        let (req_url, wanted) = match (can_block, next) {
            (true, Some((m, n))) => (
                url.with_params(&[("_HLS_msn", m.to_string()), ("_HLS_part", n.to_string())]),
                Some((m, Some(n))),
            ),
            (true, None) => {
                let m = last.next_msn();
                (url.with_params(&[("_HLS_msn", m.to_string())]), Some((m, None)))
            }
            (false, _) => {
                thread::sleep(Duration::from_secs_f64((part_target / 2.0).clamp(0.05, 3.0)));
                (url.clone(), None)
            }
        };
        let hint_thread = hint.clone().map(|h| {
            let timeout = blocking_timeout(td);
            thread::spawn(move || {
                let sent = Instant::now();
                let (obs, resp) = observe::get(&h, timeout, &[], false);
                (sent, obs, resp)
            })
        });
        let sent = Instant::now();
        let (obs, resp) = observe::get(&req_url, blocking_timeout(td), &[], true);
        let hint_result = hint_thread.and_then(|t| t.join().ok());
        let hint_status = hint_result.as_ref().and_then(|(_, o, _)| o.status);

        let (Some(resp), Some(p)) = (resp, obs.playlist.clone()) else {
            if let Some((m, n)) = wanted {
                let id = if n.is_some() { "LLHLS-DD-02" } else { "LLHLS-DD-01" };
                let o = match n {
                    Some(n) => delivery::llhls_dd_02(m, n, &obs),
                    None => delivery::llhls_dd_01(m, &obs),
                };
                fr.add(id, o);
            }
            // 503 or an error: fall back to a plain reload after a short pause.
            thread::sleep(Duration::from_millis(200));
            if let (_, Some(r)) = observe::get(&url, Duration::from_secs(5), &[], true)
                && let Some(p) = crate::live::observe::observed(&r, true).playlist
            {
                last = p;
            }
            continue;
        };
        if obs.status != Some(200) {
            continue;
        }
        fr.reloads += 1;
        fr.playlist_bytes = resp.wire_body_len;
        let done = resp.timings.done_at();
        let now_t = since(done);

        if let Some((m, n)) = wanted {
            let o = match n {
                Some(n) => delivery::llhls_dd_02(m, n, &obs),
                None => delivery::llhls_dd_01(m, &obs),
            };
            fr.add(if n.is_some() { "LLHLS-DD-02" } else { "LLHLS-DD-01" }, o);
            if !blocking_cache_sampled {
                blocking_cache_sampled = true;
                fr.cache.push(CacheSample {
                    kind: "blocking playlist 200",
                    expected: 6.0 * td as f64,
                    got: obs.max_age,
                });
            }
        }

        // Release timing: playlist answered vs the hinted part's response headers.
        let fresh = reload::new_parts(&last, &p);
        let hold = done.saturating_duration_since(sent).as_secs_f64();
        if wanted.is_some() {
            let delay = hint_result.as_ref().and_then(|(_, o, r)| {
                let r = r.as_ref()?;
                (o.status == Some(200)).then(|| {
                    let a = done.saturating_duration_since(r.timings.headers_at()).as_secs_f64();
                    let b = r.timings.headers_at().saturating_duration_since(done).as_secs_f64();
                    a - b
                })
            });
            fr.releases.push(Release { hold, delay });
        }
        if fresh.len() == 1 && hold > 0.002 {
            if let Some(prev) = last_exact_arrival {
                fr.inter_arrivals.push(done.saturating_duration_since(prev).as_secs_f64());
            }
            last_exact_arrival = Some(done);
        } else {
            last_exact_arrival = if fresh.len() == 1 { Some(done) } else { None };
        }

        // The hinted part, now published (or not).
        if let (Some(h), Some((hsent, hobs, hresp))) = (&hint, hint_result) {
            let all = p.all_parts();
            let pos = all.iter().position(|(_, _, part)| {
                part.uri.as_ref().and_then(|u| url.join(u).ok()).as_ref() == Some(h)
            });
            let (position, previous, independent, dur, map, disc) = match pos {
                Some(i) => {
                    let (m, n, part) = all[i];
                    let disc = n == 0
                        && (p
                            .segments
                            .iter()
                            .find(|s| s.msn == m)
                            .map_or(p.trailing_discontinuity, |s| s.discontinuity));
                    (
                        Some((m, n)),
                        i.checked_sub(1).map(|j| (all[j].0, all[j].1)),
                        Some(part.independent),
                        part.duration,
                        part.map
                            .as_ref()
                            .and_then(|mp| mp.uri.as_ref())
                            .and_then(|u| url.join(u).ok())
                            .map(|u| u.to_string()),
                        disc,
                    )
                }
                None => (None, None, None, None, None, false),
            };
            let data = hresp.as_ref().map(|r| r.body.clone()).unwrap_or_default();
            if hobs.status == Some(200) {
                parts.lock().unwrap_or_else(|e| e.into_inner()).insert(h.to_string(), data.clone());
                if fr.hints.is_empty() {
                    fr.cache.push(CacheSample {
                        kind: "blocking part 200",
                        expected: 6.0 * td as f64,
                        got: hobs.max_age,
                    });
                }
            }
            let _ = hsent;
            fr.hints.push(HintRecord {
                fetch: fetch_of(&h.to_string(), &hobs, hresp.as_ref(), dur.or(Some(part_target))),
                url: h.to_string(),
                data,
                position,
                previous,
                independent,
                map,
                discontinuity: disc,
            });
        }

        // Per-snapshot and reload rules.
        snapshot_rules(&mut fr, &resp.text(), &resp.body, &obs, &p);
        reload_rules(&mut fr, &last, &p, hint_status);
        fetch_init(&mut fr, &p);
        fr.max_duration = fr.max_duration.max(p.duration());
        if p.media_sequence > last.media_sequence {
            fr.removal_seen = true;
        }

        // New complete segments → worker; removed ones → rechecks.
        for s in p
            .segments
            .iter()
            .filter(|s| last.segments.iter().all(|o| o.msn != s.msn) && s.msn >= last.next_msn())
        {
            let Ok(su) = url.join(&s.uri) else { continue };
            appeared.insert(su.to_string(), now_t);
            fr.appearances.push((s.msn, now_t));
            let part_urls = s
                .parts
                .iter()
                .filter_map(|x| Some((url.join(x.uri.as_ref()?).ok()?.to_string(), x.duration)))
                .collect();
            let rec = segment_record(&url, s, su.to_string());
            let _ = tx.send(Job::Segment { rec, part_urls });
        }
        let margin = 0.5;
        for old in last.segments.iter().filter(|o| o.msn < p.media_sequence) {
            let Ok(su) = url.join(&old.uri) else { continue };
            let Some(first_seen) = appeared.get(&su.to_string()).copied() else { continue };
            let window_end = first_seen + old.duration + fr.max_duration;
            let at_t = (window_end - margin).min(since(deadline) - 0.3).max(now_t);
            let _ = tx.send(Job::Recheck {
                url: su.to_string(),
                uri: old.uri.clone(),
                kind: "segment",
                at: start + Duration::from_secs_f64(at_t.max(0.0)),
                removed_at: done,
                window: window_end - now_t,
            });
        }
        for old in last.segments.iter().filter(|o| !o.parts.is_empty()) {
            let dropped = p.segments.iter().any(|s| s.msn == old.msn && s.parts.is_empty())
                || old.msn < p.media_sequence;
            if !dropped {
                continue;
            }
            if let Some(first_part) = old.parts.first().and_then(|x| x.uri.clone())
                && let Ok(pu) = url.join(&first_part)
            {
                let window = 3.0 * td as f64;
                let at_t = (now_t + window - margin).min(since(deadline) - 0.3).max(now_t);
                let _ = tx.send(Job::Recheck {
                    url: pu.to_string(),
                    uri: first_part,
                    kind: "part",
                    at: start + Duration::from_secs_f64(at_t.max(0.0)),
                    removed_at: done,
                    window,
                });
            }
        }
        last = p;
    }

    let _ = tx.send(Job::Stop);
    if let Ok(out) = worker_handle.join() {
        fr.segments = out.segments;
        fr.rechecks = out.rechecks;
    }
    fr.segments.sort_by_key(|s| s.msn);
    fr.last = Some(last);
    fr
}
