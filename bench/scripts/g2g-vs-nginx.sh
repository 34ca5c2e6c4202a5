#!/usr/bin/env bash
# Glass-to-glass latency, Sluice LL-HLS/LL-DASH vs nginx-rtmp HLS/DASH, same source, same run. See README.md.
# Usage: bench/scripts/g2g-vs-nginx.sh [--protocol hls|dash] [--seconds 30] [--variant zerolatency|obs] [--nginx-only]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ -d "$root/web/node_modules/hls.js" ] || npm ci --prefix "$root/web" --no-audit --no-fund
[ -d "$root/conformance/runners/node_modules/playwright-core" ] || npm ci --prefix "$root/conformance/runners" --no-audit --no-fund
exec timeout --kill-after=10 600 node "$root/bench/scripts/g2g-vs-nginx.mjs" "$@"
