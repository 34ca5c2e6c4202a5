#!/usr/bin/env bash
# Runs Sluice with its built-in test source: open http://127.0.0.1:8080/ and watch live/demo.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/install-deps.sh demo
cargo build --release -p sluice-server
echo "Sluice demo: open http://127.0.0.1:8080/ (live/demo), publish with rtmp://127.0.0.1:1935/live/<name>"
exec target/release/sluice demo "$@"
