#!/usr/bin/env bash
# Runs every test Sluice has, installing what they need first. This is what CI runs.
#   lint → release build → unit + integration tests (real ffmpeg, ffprobe, sockets)
#   → real-player and conformance runs (hls.js in headless Chromium, sluice-check).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
start=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "installing test dependencies"
scripts/install-deps.sh all

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "building (release, once for every test)"
cargo build --release --workspace --all-targets --locked

step "unit and integration tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release --workspace --locked --no-fail-fast
else
  cargo test --release --workspace --locked --no-fail-fast
fi

step "real players and conformance (hls.js in Chromium, sluice-check)"
conformance/runners/run-all.sh

step "all tests passed in $(( $(date +%s) - start )) s"
