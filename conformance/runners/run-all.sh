#!/usr/bin/env bash
# Runs the real-client conformance runners (hls.js, dashjs, Shaka and WHEP in headless Chromium against
# target/release/sluice). Installs the npm dependencies first if they are missing.
# Usage: conformance/runners/run-all.sh [test files...]
# Without arguments every *.test.mjs here runs (about 7 min on 2 cores):
#   checker-live           sluice-check on LL-HLS (RTMP x264, two encoders) and, over SRT ingest,
#                          on the HLS-TS endpoint (x264) and the LL-HLS endpoint (x265);
#                          sluice-check dash on the LL-DASH endpoint (RTMP x264)
#   dashjs-plays-lldash    dashjs 5 LL-DASH (low-latency mode, RTMP ingest) 30 s: no stall, audio, g2g bound
#   dashjs-reconnect-lldash dashjs 5 LL-DASH across a publisher reconnect (3 s away): recovers within 2 s
#   demo-plays             `sluice demo` plays from the dashboard
#   hlsjs-plays-hls-ts     hls.js (LL off) on the HLS-TS endpoint of an SRT publish, g2g printed
#   hlsjs-plays-llhls      hls.js LL-HLS via the dashboard, RTMP, SRT and WHIP ingest, g2g bound
#   hlsjs-llhls-transports hls.js LL-HLS over HTTP/1.1, HTTP/2 and HTTP/3 (Chromium forced onto QUIC), same run
#   shaka-plays-lldash     Shaka Player 5 LL-DASH (lowLatencyMode, RTMP ingest) 30 s: no stall, audio, g2g bound
#   whep-plays-rtmp        Chromium WHEP player page on an RTMP publish: 30 fps, AAC→Opus audio, g2g (~35 s)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

[ -d "$root/web/node_modules/hls.js" ] || npm ci --prefix "$root/web" --no-audit --no-fund
[ -d "$here/node_modules/playwright-core" ] && [ -d "$here/node_modules/dashjs" ] && [ -d "$here/node_modules/shaka-player" ] || npm ci --prefix "$here" --no-audit --no-fund
if [ ! -x "${SLUICE_BIN:-$root/target/release/sluice}" ]; then
  echo "target/release/sluice missing: cargo build --release -p sluice-server" >&2
  exit 1
fi

cd "$here"
if [ "$#" -eq 0 ]; then set -- *.test.mjs; fi
# One file at a time: each starts its own server, encoder and browser (2-core machines).
exec timeout --kill-after=10 900 node --test --test-concurrency=1 "$@"
