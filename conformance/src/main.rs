//! `sluice-check`: command-line entry point of the conformance checker.

use std::process::ExitCode;
use std::time::Duration;

use sluice_conformance::dash::{DashOptions, check_dash};
use sluice_conformance::live::{HlsOptions, check_hls};
use sluice_conformance::report::Report;
use sluice_conformance::rules::whip::Proto;
use sluice_conformance::rules::{CATALOGUE, DASH_CATALOGUE, WEBRTC_CATALOGUE};
use sluice_conformance::url::Url;
use sluice_conformance::webrtc::{WebRtcOptions, check};
use sluice_conformance::{lint, stall};

const USAGE: &str = "\
usage:
  sluice-check hls <multivariant-or-media URL> [--duration SECS] [--apple] [--json FILE]
      follow every rendition for SECS (default 20; a playlist with EXT-X-ENDLIST has its
      listed segments fetched instead) and judge RULES.md section A. Each rendition's segments
      are classified by content (else by URI): MPEG-TS gets section B (TS-01..TS-08, TS-10),
      Packed Audio gets TS-09, fMP4 gets CMAF-01/05/09/13. Rules for features a playlist does
      not use (parts, blocking reload, preload hints) report SKIP (not applicable).
      Classic HLS-TS is the same command: sluice-check hls http://HOST/live/cam1/ts/index.m3u8
  sluice-check hls-stall <URL> [--apple] [--json FILE]
      with the publisher paused by the caller: a blocked request must get 503 at ~3 x TD
  sluice-check dash <MPD URL> [--duration SECS] [--json FILE]
      poll a live MPD for SECS (default 20) and judge RULES.md section D: MPD rules on every
      changed MPD and between polls, segments fetched (EPT vs $Number$ slot, chunks vs ATO,
      maxSegmentDuration), the clock from UTCTiming, the availability window, the in-progress
      segment streamed chunk by chunk, MPD caching / ETag. DASH-MPD-01 is a structural check
      (no XSD). e.g. sluice-check dash http://127.0.0.1:PORT/live/cam1/dash/index.mpd
  sluice-check lint <FILE.m3u8|FILE.mpd>... [--apple] [--json FILE]
      judge playlist / MPD files with the single-response rules
  sluice-check whip <WHIP endpoint URL> [--token T] [--json FILE]
  sluice-check whep <WHEP endpoint URL> [--token T] [--json FILE]
      RULES.md section E over HTTP signalling (RFC 9725 / draft-ietf-wish-whep-03): POST a
      generated offer (Opus + H.264; sendonly for WHIP, recvonly for WHEP), judge the answer,
      OPTIONS/CORS, GET, PATCH (trickle, entity-tags, ICE restart), DELETE, error POSTs, 401s
      with --token. Every session created is deleted. No media is sent (WHEP-05, WHIP-13 SKIP).
      e.g. sluice-check whip http://127.0.0.1:PORT/live/cam1/whip
  sluice-check rules
      list every rule (sections A, B, the HEVC-relevant CMAF rules of C, D and E) with its level
exit status: 1 when a MUST/PROFILE rule (and APPLE with --apple) failed, 2 on usage errors";

struct Args {
    command: String,
    targets: Vec<String>,
    duration: f64,
    apple: bool,
    json: Option<String>,
    token: Option<String>,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let command = it.next().ok_or("missing command")?;
    let mut args = Args {
        command,
        targets: Vec::new(),
        duration: 20.0,
        apple: false,
        json: None,
        token: None,
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--duration" => {
                let v = it.next().ok_or("--duration needs a value")?;
                args.duration = v.parse::<f64>().map_err(|_| format!("bad --duration {v:?}"))?;
                if !(args.duration.is_finite() && args.duration > 0.0 && args.duration <= 3600.0) {
                    return Err("--duration must be in (0, 3600]".into());
                }
            }
            "--apple" => args.apple = true,
            "--json" => args.json = Some(it.next().ok_or("--json needs a file")?),
            "--token" => args.token = Some(it.next().ok_or("--token needs a value")?),
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            _ => args.targets.push(a),
        }
    }
    Ok(args)
}

fn finish(report: &Report, json: Option<&str>) -> ExitCode {
    print!("{}", report.render());
    if let Some(path) = json
        && let Err(e) = std::fs::write(path, report.to_json())
    {
        eprintln!("sluice-check: cannot write {path}: {e}");
        return ExitCode::from(2);
    }
    if report.failed() { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn main() -> ExitCode {
    if matches!(std::env::args().nth(1).as_deref(), Some("-h" | "--help" | "help")) {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("sluice-check: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let url = || -> Result<Url, String> {
        match args.targets.as_slice() {
            [u] => Url::parse(u).map_err(|e| e.to_string()),
            _ => Err("expected exactly one URL".into()),
        }
    };
    let report = match args.command.as_str() {
        "hls" => match url() {
            Ok(url) => check_hls(&HlsOptions {
                url,
                duration: Duration::from_secs_f64(args.duration),
                apple: args.apple,
            }),
            Err(e) => {
                eprintln!("sluice-check: {e}\n{USAGE}");
                return ExitCode::from(2);
            }
        },
        "dash" => match url() {
            Ok(url) => {
                check_dash(&DashOptions { url, duration: Duration::from_secs_f64(args.duration) })
            }
            Err(e) => {
                eprintln!("sluice-check: {e}\n{USAGE}");
                return ExitCode::from(2);
            }
        },
        "hls-stall" => match url() {
            Ok(url) => stall::check_stall(&url, args.apple),
            Err(e) => {
                eprintln!("sluice-check: {e}\n{USAGE}");
                return ExitCode::from(2);
            }
        },
        "lint" => {
            let mut files = Vec::new();
            for f in &args.targets {
                match std::fs::read(f) {
                    Ok(b) => files.push((f.clone(), b)),
                    Err(e) => {
                        eprintln!("sluice-check: cannot read {f}: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
            if files.is_empty() {
                eprintln!("sluice-check: lint needs at least one file\n{USAGE}");
                return ExitCode::from(2);
            }
            lint::lint(&files, args.apple)
        }
        "whip" | "whep" => match url() {
            Ok(url) => check(&WebRtcOptions {
                url,
                token: args.token.clone(),
                proto: if args.command == "whip" { Proto::Whip } else { Proto::Whep },
                timeout: Duration::from_secs(5),
            }),
            Err(e) => {
                eprintln!("sluice-check: {e}\n{USAGE}");
                return ExitCode::from(2);
            }
        },
        "rules" => {
            for r in CATALOGUE.iter().chain(DASH_CATALOGUE).chain(WEBRTC_CATALOGUE) {
                println!("{:<14} {:<8} {}", r.id, r.level.name(), r.title);
            }
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!("sluice-check: unknown command {other:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    finish(&report, args.json.as_deref())
}
