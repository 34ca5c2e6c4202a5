#!/usr/bin/env bash
# CPU share of one ingested 6 Mbit/s SRT stream in Sluice, against plain SRT receivers
# (ffmpeg `-c copy -f null`, srt-live-transmit to /dev/null) fed the same file in the same run.
# See README.md.
# Usage: bench/scripts/srt-ingest-cpu.sh [--streams N] [--seconds S] [--no-reference]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

args=("$@")
streams=1
seconds=30
reference=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --streams) streams="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --no-reference) reference=no; shift ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ "$streams" =~ ^[1-9][0-9]*$ && "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "--streams and --seconds take positive integers" >&2; exit 2; }

# The whole run is bounded: encode (first run only) + start-up + window + slack.
if [ -z "${SRT_CPU_BOUNDED:-}" ]; then
  SRT_CPU_BOUNDED=1 exec timeout --kill-after=10 $((seconds * 3 + 300)) "$0" "${args[@]}"
fi

sluice="$root/target/release/sluice"
[ -x "$sluice" ] || { echo "no $sluice: cargo build --release -p sluice-server" >&2; exit 1; }
command -v ffmpeg >/dev/null || { echo "needs ffmpeg (scripts/install-deps.sh)" >&2; exit 1; }
slt=""
if [ "$reference" = yes ] && command -v srt-live-transmit >/dev/null; then slt=srt-live-transmit; fi

warmup=5
hz=$(getconf CLK_TCK)
work="$(mktemp -d /tmp/sluice-srt-cpu.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Sleeps that a signal interrupts at once (a foreground `sleep` would hold off the trap).
nap() { sleep "$1" & wait $!; }

# 1. The source, encoded once (and cached): x264 at 6 Mbit/s. Film grain-like noise keeps the
#    encoder at its rate cap; plain testsrc2 would compress far below 6 Mbit/s.
length=$((warmup + seconds + 30 > 65 ? warmup + seconds + 30 : 65))  # no loop inside the window
cache="$root/target/bench-cache"
src="$cache/srt-720p30-6M-${length}s.ts"
mkdir -p "$cache" "$root/target/results"
if [ ! -s "$src" ]; then
  echo "encoding the ${length} s source once (x264 veryfast 1280x720 30 fps 6M/6M/12M + AAC) ..."
  ffmpeg -hide_banner -loglevel error -nostdin -y \
    -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
    -t "$length" -vf noise=alls=12:allf=t -pix_fmt yuv420p \
    -c:v libx264 -preset veryfast -g 60 -keyint_min 60 -sc_threshold 0 \
    -b:v 6M -maxrate 6M -bufsize 12M -c:a aac -b:a 128k -ac 2 -f mpegts "$src.part"
  mv "$src.part" "$src"
fi
file_bps=$(ffprobe -v error -show_entries format=bit_rate -of csv=p=0 "$src")
# MPEG-TS carries no per-stream rate: sum the video packets over the file's duration.
video_bps=$(ffprobe -v error -select_streams v:0 -show_entries packet=size -show_entries format=duration \
  -of csv=p=0 "$src" | awk -F, 'NF == 1 && /\./ {d = $1; next} {b += $1} END {printf "%d", b * 8 / d}')

free_udp_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# utime + stime of a process (all its threads), in clock ticks. /proc/PID/stat fields 14 and 15;
# the command name (field 2) may hold spaces, so count from the closing parenthesis.
ticks() {
  local s
  s=$(cat "/proc/$1/stat")
  s=${s##*) }
  set -- $s
  echo $(( ${12} + ${13} ))
}
sum_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(ticks "$p"))); done; echo "$t"; }
wchar() { awk '/^wchar:/ {print $2}' "/proc/$1/io"; }
sum_wchar() { local t=0 p; for p in "$@"; do t=$((t + $(wchar "$p"))); done; echo "$t"; }
metric() { curl -s -m 5 "http://$http/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
last_frame() { awk -F= '$1 == "frame" {f = $2} END {print f + 0}' "$1" 2>/dev/null || echo 0; }
sum_frames() { local t=0 i; for i in $(seq 1 "$streams"); do t=$((t + $(last_frame "$work/ff$i.progress"))); done; echo "$t"; }

send() { # file → SRT caller URL, paced in real time, looping if the run outlives the file
  ffmpeg -hide_banner -loglevel error -nostdin -re -stream_loop -1 -i "$src" -map 0 -c copy \
    -f mpegts "$1" >/dev/null 2>>"$work/senders.err" &
  pids+=($!)
}

# 2. Sluice on free loopback ports (default workers: one per core).
"$sluice" serve --http 127.0.0.1:0 --rtmp off --https off --srt 127.0.0.1:0 \
  --data "$work/data" >"$work/sluice.out" 2>"$work/sluice.err" &
sluice_pid=$!
pids+=("$sluice_pid")
for _ in $(seq 100); do
  http=$(awk '$1 == "listening" && $2 == "http" {print $3}' "$work/sluice.out")
  srt=$(awk '$1 == "listening" && $2 == "srt" {print $3}' "$work/sluice.out")
  [ -n "$http" ] && [ -n "$srt" ] && break
  sleep 0.2
done
[ -n "$http" ] && [ -n "$srt" ] || { echo "sluice did not start:" >&2; cat "$work/sluice.err" >&2; exit 1; }

# 3. The reference receivers, listening before their senders call.
ff_pids=(); ff_ports=()
slt_pids=(); slt_ports=()
if [ "$reference" = yes ]; then
  for i in $(seq 1 "$streams"); do
    port=$(free_udp_port)
    ffmpeg -hide_banner -loglevel error -nostdin -nostats \
      -i "srt://127.0.0.1:$port?mode=listener&latency=120000&pkt_size=1316" \
      -map 0 -c copy -f null -progress "$work/ff$i.progress" -stats_period 1 - \
      >/dev/null 2>>"$work/ffref.err" &
    ff_pids+=($!); pids+=($!)
    ff_ports+=("$port")
    if [ -n "$slt" ]; then
      port=$(free_udp_port)
      "$slt" -q "srt://127.0.0.1:$port?mode=listener&latency=120" file://con \
        >/dev/null 2>>"$work/slt.err" &
      slt_pids+=($!); pids+=($!)
      slt_ports+=("$port")
    fi
  done
  sleep 1
fi

# 4. One paced sender per receiver, all from the same file.
for i in $(seq 1 "$streams"); do
  send "srt://$srt?mode=caller&latency=120000&pkt_size=1316&streamid=publish:live/bench$i"
  if [ "$reference" = yes ]; then
    send "srt://127.0.0.1:${ff_ports[$((i - 1))]}?mode=caller&latency=120000&pkt_size=1316"
    if [ -n "$slt" ]; then
      send "srt://127.0.0.1:${slt_ports[$((i - 1))]}?mode=caller&latency=120000&pkt_size=1316"
    fi
  fi
done

for i in $(seq 1 "$streams"); do
  for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$http/live/bench$i/hls/index.m3u8")" = 200 ] && break
    sleep 0.2
  done
  [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$http/live/bench$i/hls/index.m3u8")" = 200 ] \
    || { echo "live/bench$i never went live:" >&2; tail -5 "$work/sluice.err" "$work/senders.err" >&2; exit 1; }
done
nap "$warmup"

# 5. The window: CPU ticks, bytes and frames before and after.
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s.%N)
s0=$(ticks "$sluice_pid"); b0=$(metric sluice_ingest_bytes_total)
f0=0; fr0=0; l0=0; lw0=0
if [ "$reference" = yes ]; then f0=$(sum_ticks "${ff_pids[@]}"); fr0=$(sum_frames); fi
if [ -n "$slt" ]; then l0=$(sum_ticks "${slt_pids[@]}"); lw0=$(sum_wchar "${slt_pids[@]}"); fi
nap "$seconds"
t1=$(date +%s.%N)
s1=$(ticks "$sluice_pid"); b1=$(metric sluice_ingest_bytes_total)
f1=0; fr1=0; l1=0; lw1=0
if [ "$reference" = yes ]; then f1=$(sum_ticks "${ff_pids[@]}"); fr1=$(sum_frames); fi
if [ -n "$slt" ]; then l1=$(sum_ticks "${slt_pids[@]}"); lw1=$(sum_wchar "${slt_pids[@]}"); fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
cc=$(metric sluice_ts_continuity_errors_total)
dropped=$(metric sluice_frames_dropped_total)
for p in "${pids[@]}"; do
  kill -0 "$p" 2>/dev/null || { echo "a process ($p) died during the window:" >&2; tail -5 "$work"/*.err >&2; exit 1; }
done

# 6. Report: % of one core per stream, and the ratios against the references.
python3 - "$streams" "$t0" "$t1" "$hz" "$s0" "$s1" "$b0" "$b1" "$f0" "$f1" "$fr0" "$fr1" \
  "$l0" "$l1" "$lw0" "$lw1" "$reference" "$slt" "$file_bps" "${video_bps:-}" \
  "$load_start" "$load_end" "$cc" "$dropped" "$(nproc)" "$root/target/results/srt-ingest-cpu.json" <<'EOF'
import json, sys
(n, t0, t1, hz, s0, s1, b0, b1, f0, f1, fr0, fr1, l0, l1, lw0, lw1, ref, slt, file_bps, video_bps,
 load_start, load_end, cc, dropped, cores, out) = sys.argv[1:]
n, hz, wall = int(n), int(hz), float(t1) - float(t0)
pct = lambda a, b: (int(b) - int(a)) / hz / wall * 100 / n
mbps = lambda a, b: (int(b) - int(a)) * 8 / wall / 1e6 / n
res = {"streams": n, "window_s": round(wall, 2), "cores": int(cores),
       "source_mbps": round(int(file_bps) / 1e6, 2),
       "source_video_mbps": round(int(video_bps) / 1e6, 2) if video_bps.isdigit() else None,
       "loadavg_start": load_start, "loadavg_end": load_end,
       "sluice": {"cpu_pct_per_stream": round(pct(s0, s1), 2),
                  "ingest_mbps_per_stream": round(mbps(b0, b1), 2),
                  "ts_continuity_errors": int(cc), "frames_dropped": int(dropped)}}
print(f"source: 1280x720 30 fps x264 veryfast -b:v 6M -maxrate 6M -bufsize 12M, 2 s GOP, AAC 128k; "
      f"file {res['source_mbps']} Mbit/s (video {res['source_video_mbps']})")
print(f"streams={n} window={wall:.1f} s cores={cores} clock ticks={hz}/s "
      f"loadavg start {load_start} end {load_end}")
s = res["sluice"]
print(f"sluice                  cpu {s['cpu_pct_per_stream']:6.2f}% of one core per stream  "
      f"ingest {s['ingest_mbps_per_stream']:.2f} Mbit/s per stream  "
      f"(cc errors {cc}, frames dropped {dropped})")
if ref == "yes":
    res["ffmpeg_copy_null"] = {"cpu_pct_per_stream": round(pct(f0, f1), 2),
                               "fps_per_stream": round((int(fr1) - int(fr0)) / wall / n, 1)}
    r = res["ffmpeg_copy_null"]
    print(f"ffmpeg -c copy -f null  cpu {r['cpu_pct_per_stream']:6.2f}% of one core per stream  "
          f"{r['fps_per_stream']} fps per stream")
    if r["cpu_pct_per_stream"] > 0:
        res["ratio_sluice_over_ffmpeg"] = round(s["cpu_pct_per_stream"] / r["cpu_pct_per_stream"], 2)
if slt:
    res["srt_live_transmit"] = {"cpu_pct_per_stream": round(pct(l0, l1), 2),
                                "output_mbps_per_stream": round(mbps(lw0, lw1), 2)}
    r = res["srt_live_transmit"]
    print(f"srt-live-transmit       cpu {r['cpu_pct_per_stream']:6.2f}% of one core per stream  "
          f"output {r['output_mbps_per_stream']:.2f} Mbit/s per stream")
    if r["cpu_pct_per_stream"] > 0:
        res["ratio_sluice_over_srt_live_transmit"] = round(
            s["cpu_pct_per_stream"] / r["cpu_pct_per_stream"], 2)
names = {"ratio_sluice_over_ffmpeg": "sluice/ffmpeg",
         "ratio_sluice_over_srt_live_transmit": "sluice/srt-live-transmit"}
ratios = [f"{names[k]} = {v}x" for k, v in res.items() if k in names]
if ratios:
    print("ratio " + "   ".join(ratios))
json.dump(res, open(out, "w"), indent=2)
EOF
