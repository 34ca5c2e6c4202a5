#!/usr/bin/env bash
# Installs what Sluice's demo and tests need on a fresh Debian 12 machine: Debian packages
# (libopus-dev + pkg-config, which the server links for its AAC → Opus bridge; ffmpeg, Chromium,
# nginx + RTMP module for the side-by-side bench, Node.js) and the npm
# packages (hls.js for the dashboard, playwright-core for the browser tests) and the Python WebRTC
# test peers (FFmpeg 9 with `-f whip` from imageio-ffmpeg, aiortc) into project folders.
# Idempotent: skips what is already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
what="${1:-all}"   # all | demo

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# The server binary links the system libopus (found through pkg-config): needed to build it at all.
pkgs=(nodejs npm libopus-dev pkg-config)
if [ "$what" = all ]; then
  pkgs+=(ffmpeg chromium fonts-dejavu-core nginx libnginx-mod-rtmp curl iproute2 nftables python3 python3-venv)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from elsewhere (e.g. a preinstalled toolchain): only ask Debian when it is absent.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# nginx is only a reference for the bench: never leave Debian's default site running on :80.
if [ "$what" = all ] && command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
  sudo_if_needed systemctl stop nginx || true
fi

[ -f "$root/web/node_modules/hls.js/dist/hls.min.js" ] || npm ci --prefix "$root/web" --no-audit --no-fund
if [ "$what" = all ]; then
  [ -d "$root/conformance/runners/node_modules/playwright-core" ] || npm ci --prefix "$root/conformance/runners" --no-audit --no-fund
fi
if [ "$what" = all ]; then
  # WHIP/WHEP test peers (server/tests/whip_whep.rs): Debian's ffmpeg 5.1 has no `-f whip`, so a
  # static FFmpeg 9 comes from PyPI (imageio-ffmpeg), and aiortc plays scripted publisher/viewer;
  # aioquic is the independent HTTP/3 client of server/tests/http3.rs.
  venv="$root/.venv-webrtc"
  py=/usr/bin/python3; [ -x "$py" ] || py=python3
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  if ! "$venv/bin/python" -c 'import aiortc, imageio_ffmpeg, aioquic' 2>/dev/null; then
    "$venv/bin/pip" install -q --disable-pip-version-check 'imageio-ffmpeg==0.8.1' 'aiortc==1.16.*' 'aioquic==1.3.*'
  fi
  # imageio-ffmpeg fetches nothing at run time: the binary ships inside the wheel.
  "$venv/bin/python" -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())' >/dev/null
fi
