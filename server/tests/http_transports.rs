//! The same routes over HTTP/1.1, h2c (prior knowledge) and TLS with ALPN h2 / http/1.1,
//! checked with curl as an independent client.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Publisher, Sluice};

/// Runs curl and returns (HTTP version, status, body).
fn curl(args: &[&str], url: &str) -> (String, String, String) {
    let out = Command::new("curl")
        .args(["-s", "-k", "--max-time", "10", "-w", "\n%{http_version} %{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl is installed (scripts/install-deps.sh)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, tail) = text.rsplit_once('\n').expect("curl wrote its status line");
    let (version, status) = tail.split_once(' ').expect("version and status");
    (version.to_owned(), status.to_owned(), body.to_owned())
}

#[test]
fn playlists_and_blocking_reloads_over_h1_h2c_and_tls_h2() {
    let sluice = Sluice::start_with(true, &[]);
    let https = sluice.https.expect("TLS listener");
    let _pub = Publisher::start(&sluice.rtmp_url("live/tx"), false);
    sluice.wait_live("live/tx", Duration::from_secs(20));

    let plain = sluice.url("/live/tx/hls/index.m3u8");
    let tls = format!("https://{https}/live/tx/hls/index.m3u8");
    for (args, url, want) in [
        (&["--http1.1"][..], plain.as_str(), "1.1"),
        (&["--http2-prior-knowledge"][..], plain.as_str(), "2"),
        (&["--http2"][..], tls.as_str(), "2"),
        (&["--http1.1"][..], tls.as_str(), "1.1"),
    ] {
        let (version, status, body) = curl(args, url);
        assert_eq!((version.as_str(), status.as_str()), (want, "200"), "{args:?} {url}");
        assert!(body.starts_with("#EXTM3U"), "{body}");
    }

    // A blocking reload over HTTP/2 (TLS) is answered with the next part.
    let media = format!("https://{https}/live/tx/hls/video.m3u8");
    let (_, _, text) = curl(&["--http2"], &media);
    let (msn, part) = common::last_part(&text);
    let (version, status, text) =
        curl(&["--http2"], &format!("{media}?_HLS_msn={msn}&_HLS_part={}", part + 1));
    assert_eq!((version.as_str(), status.as_str()), ("2", "200"));
    assert!(common::last_part(&text) > (msn, part), "{text}");

    // Browser players need CORS on every response, preflight included.
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "-X",
            "OPTIONS",
            "-H",
            "Origin: http://example.com",
        ])
        .arg(&plain)
        .output()
        .expect("curl runs");
    let headers = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(headers.contains("access-control-allow-origin: *"), "{headers}");
    assert!(headers.starts_with("http/1.1 204"), "{headers}");
}
