#!/usr/bin/env bash
# Glass-to-glass latency through Sluice, SRT ingest vs RTMP ingest, same encode, same run.
# See README.md. Usage: bench/scripts/g2g-srt-vs-rtmp.sh [--seconds 30] [--variant zerolatency|obs]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ -d "$root/web/node_modules/hls.js" ] || npm ci --prefix "$root/web" --no-audit --no-fund
[ -d "$root/conformance/runners/node_modules/playwright-core" ] || npm ci --prefix "$root/conformance/runners" --no-audit --no-fund
exec timeout --kill-after=10 600 node "$root/bench/scripts/g2g-srt-vs-rtmp.mjs" "$@"
