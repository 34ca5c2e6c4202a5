// The glass-to-glass clock strip: the source burns the wall clock into every frame as a row of
// black/white blocks, and the page reads it back off the rendered frame.
//
// Source side (ffmpeg, checked with Debian ffmpeg 5.1):
//   settb=1/1000,setpts=RTCTIME/1000-EPOCH0   pts = wall-clock ms since EPOCH0 when the frame
//                                              passes the filter (RTCTIME is in microseconds)
//   fps=30                                     regular 30 fps timeline (its output time base is
//                                              1/30, so `t` stays wall-clock seconds since EPOCH0)
//   drawbox ...                                24 bits of round(t*1000) as 24 px blocks
// Layout (in a 640 px wide frame; scaled if the video is another size): a black bar behind the
// row, block k at x = 8 + 24k, y = 8, 24×24 px. k = 0 is a white reference, k = 1 a black
// reference (the bar), k = 2..25 are the bits from most (bit 23) to least significant (bit 0).
// 2^24 ms is 4.6 h, far longer than any run.
//
// Measured bias of the source itself (frames piped out of ffmpeg, decoded by Node): a frame
// leaves ffmpeg 50–90 ms after the time it carries (the fps filter holds one frame and rounds to
// its 33 ms grid; ffmpeg's own loop holds another). That bias is included in every
// glass-to-glass figure, so the figures are slightly pessimistic, like a camera's own delay.

export const LAYOUT = Object.freeze({
  width: 640,
  block: 24,
  x0: 8,
  y0: 8,
  bits: 24,
  barHeight: 40,
});

/** The ffmpeg -vf chain that stamps wall-clock ms since `epoch0` into every frame. */
export function stripFilter(epoch0) {
  const { block, x0, y0, bits } = LAYOUT;
  const parts = [
    'settb=1/1000',
    `setpts=RTCTIME/1000-${epoch0}`,
    'fps=30',
    `drawbox=x=${x0 - 4}:y=${y0 - 4}:w=${block * (bits + 2) + 8}:h=${block + 8}:color=black:t=fill`,
    `drawbox=x=${x0}:y=${y0}:w=${block}:h=${block}:color=white:t=fill`,
  ];
  for (let bit = 0; bit < bits; bit++) {
    const k = 2 + (bits - 1 - bit);
    parts.push(
      `drawbox=x=${x0 + block * k}:y=${y0}:w=${block}:h=${block}:color=white:t=fill` +
        `:enable='mod(floor(floor(t*1000+0.5)/${2 ** bit}),2)'`,
    );
  }
  return parts.join(',');
}

/** Encoder settings: `zerolatency` (x264 zerolatency, 1 s GOP, no B-frames), `obs`
 *  (OBS-like: x264 veryfast without tune, 2 B-frames, 2 s GOP) and `hevc` (x265 ultrafast
 *  zerolatency, 1 s GOP, no B-frames; Chromium cannot play it, so it is for checkers). */
export const VARIANTS = Object.freeze({
  zerolatency: ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '30', '-keyint_min', '30', '-sc_threshold', '0', '-bf', '0'],
  obs: ['-c:v', 'libx264', '-preset', 'veryfast', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0', '-bf', '2'],
  hevc: ['-c:v', 'libx265', '-preset', 'ultrafast', '-tune', 'zerolatency',
    '-x265-params', 'keyint=30:min-keyint=30:bframes=0:scenecut=0:log-level=error', '-b:v', '1M'],
});

/** The container a target URL takes: MPEG-TS for `srt://` (SRT carries TS), FLV for `rtmp://`,
 *  WebRTC for a WHIP endpoint (`http(s)://…/whip`, FFmpeg 9 only). */
export function targetFormat(url) {
  if (url.startsWith('srt://')) return 'mpegts';
  if (/^https?:\/\/.*\/whip$/.test(url)) return 'whip';
  if (url.startsWith('rtmp://') || url.startsWith('rtmps://')) return 'flv';
  throw new Error(`no container known for target ${url} (expected rtmp:// or srt://)`);
}

/** ffmpeg arguments for the strip source pushing to every URL in `targets`: FLV to `rtmp://`
 *  URLs, MPEG-TS to `srt://` URLs (one encode; several targets go through the tee muxer). */
export function stripSourceArgs({ epoch0, targets, variant = 'zerolatency', durationS, audio = true }) {
  const venc = VARIANTS[variant];
  if (!venc) throw new Error(`unknown variant ${variant}`);
  if (!targets.length) throw new Error('no targets');
  const formats = targets.map(targetFormat);
  const args = [
    '-hide_banner', '-loglevel', 'warning', '-nostdin',
    '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
  ];
  if (audio) args.push('-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000');
  if (durationS) args.push('-t', String(durationS));
  args.push('-vf', stripFilter(epoch0), ...venc, '-pix_fmt', 'yuv420p');
  if (audio) {
    // Audio on the same clock: sample time plus the wall time (ms since EPOCH0) at which the
    // audio graph started. Without it audio pts start at 0 while video pts start at ffmpeg's
    // start-up delay (100–300 ms), and players hold video back by that much.
    // WebRTC carries Opus, not AAC.
    const codec = formats.includes('whip') ? 'libopus' : 'aac';
    args.push('-af', `asetpts=N/SR/TB+(RTCSTART/1000-${epoch0})/1000/TB`,
      '-c:a', codec, '-b:a', '128k', '-ar', '48000', '-ac', '2');
  } else {
    args.push('-an');
  }
  // ffmpeg's MPEG-TS muxer packs ~8 AAC frames (~170 ms) into one PES by default, so audio
  // reaches the server in bursts that can leave hls.js's audio buffer dry at the live edge; a
  // low-latency encoder sends each frame in its own PES (see examples/recipes).
  if (formats.includes('whip') && targets.length > 1) throw new Error('a WHIP target must be alone');
  if (targets.length === 1) {
    if (formats[0] === 'mpegts') args.push('-pes_payload_size', '0');
    // Sluice's ICE is lite: FFmpeg must take the DTLS client role.
    if (formats[0] === 'whip') args.push('-whip_flags', 'dtls_active', '-handshake_timeout', '5000');
    args.push('-f', formats[0], targets[0]);
  } else {
    // With +global_header the parameter sets live only in extradata; FLV carries them in its
    // sequence header, MPEG-TS needs them in band before every keyframe (dump_extra).
    const opts = (f) => (f === 'mpegts' ? 'f=mpegts:pes_payload_size=0:bsfs/v=dump_extra' : 'f=flv');
    args.push('-map', '0:v', ...(audio ? ['-map', '1:a'] : []), '-flags', '+global_header', '-f', 'tee',
      targets.map((t, i) => `[${opts(formats[i])}:onfail=ignore:flush_packets=1]${t}`).join('|'));
  }
  return args;
}

/**
 * Runs in the page (serialised with toString by page.addInitScript): defines `window.g2g` with
 * `start(selector, epoch0, layout)` and `report()`. Reads the strip on every presented frame with
 * requestVideoFrameCallback and records latency = presentation wall time − stamped wall time.
 * Also tracks stalls: `waiting` events after the first `playing`, and currentTime freezes.
 * `report().stamps` lists every decoded frame as [presented wall ms, stamped wall ms].
 */
export function pageSampler() {
  const state = {
    running: false, samples: [], rejected: 0, implausible: 0, frames: 0,
    firstPlayingAt: null, waiting: [], maxFreezeMs: 0, freezes: [], startCurrentTime: null,
    lastCurrentTime: null, hlsLatency: [], stamps: [],
  };
  function lumaAt(data, width, x, y, r) {
    let sum = 0; let n = 0;
    for (let dy = -r; dy <= r; dy++) {
      for (let dx = -r; dx <= r; dx++) {
        const i = ((y + dy) * width + (x + dx)) * 4;
        sum += 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
        n++;
      }
    }
    return sum / n;
  }
  function decode(video, ctx, L) {
    const sx = video.videoWidth / L.width;
    if (!(sx > 0)) return null;
    ctx.drawImage(video, 0, 0, L.width * sx, L.barHeight * sx, 0, 0, L.width, L.barHeight);
    const data = ctx.getImageData(0, 0, L.width, L.barHeight).data;
    const cy = L.y0 + L.block / 2;
    const at = (k) => lumaAt(data, L.width, L.x0 + L.block * k + L.block / 2, cy, 4);
    const white = at(0); const black = at(1);
    if (white < 170 || black > 85) return null;
    const threshold = (white + black) / 2; const margin = (white - black) * 0.25;
    let value = 0;
    for (let bit = 0; bit < L.bits; bit++) {
      const y = at(2 + (L.bits - 1 - bit));
      if (Math.abs(y - threshold) < margin) return null;
      if (y > threshold) value += 2 ** bit;
    }
    return value;
  }
  window.g2g = {
    start(selector, epoch0, L) {
      const video = document.querySelector(selector);
      const canvas = document.createElement('canvas');
      canvas.width = L.width; canvas.height = L.barHeight;
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      state.running = true;
      state.startedAt = performance.now();
      state.startCurrentTime = video.currentTime;
      state.lastCurrentTime = video.currentTime;
      let lastProgressAt = performance.now();
      let waitingSince = null;
      video.addEventListener('waiting', () => { waitingSince = performance.now(); });
      video.addEventListener('playing', () => {
        if (waitingSince !== null) {
          state.waiting.push({ atMs: Math.round(waitingSince - state.startedAt), durationMs: Math.round(performance.now() - waitingSince) });
          waitingSince = null;
        }
      });
      state.poll = setInterval(() => {
        const now = performance.now();
        if (video.currentTime !== state.lastCurrentTime || video.paused) {
          state.lastCurrentTime = video.currentTime;
          lastProgressAt = now;
        } else {
          const frozen = now - lastProgressAt;
          if (frozen > state.maxFreezeMs) state.maxFreezeMs = Math.round(frozen);
          // Freezes that start after the first 3 s (start-up excluded).
          if (lastProgressAt - state.startedAt > 3000 && frozen > (state.lateMaxFreezeMs || 0)) {
            state.lateMaxFreezeMs = Math.round(frozen);
          }
        }
        if (waitingSince !== null && now - waitingSince > 0) state.openWaitingMs = Math.round(now - waitingSince);
        else state.openWaitingMs = 0;
        const hls = window.sluicePlayer || window.player;
        if (hls && Number.isFinite(hls.latency)) state.hlsLatency.push(hls.latency * 1000);
      }, 100);
      const onFrame = (_now, meta) => {
        if (!state.running) return;
        state.frames++;
        const value = decode(video, ctx, L);
        if (value === null) {
          state.rejected++;
        } else {
          const shownAt = performance.timeOrigin + meta.expectedDisplayTime;
          const latency = shownAt - (epoch0 + value);
          // Every decoded frame as [presented wall ms, stamped wall ms] (reconnect tests look
          // for the first frame of a new publish).
          state.stamps.push([Math.round(shownAt), epoch0 + value]);
          if (latency < 0 || latency > 120000) state.implausible++;
          else state.samples.push(Math.round(latency * 10) / 10);
        }
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    },
    report() {
      const video = document.querySelector('video');
      return {
        samples: state.samples.slice(), rejected: state.rejected, implausible: state.implausible,
        frames: state.frames, waiting: state.waiting.slice(), openWaitingMs: state.openWaitingMs || 0,
        maxFreezeMs: state.maxFreezeMs, lateMaxFreezeMs: state.lateMaxFreezeMs || 0,
        playedSeconds: video ? video.currentTime - state.startCurrentTime : 0,
        hlsLatencyMs: state.hlsLatency.slice(), stamps: state.stamps.slice(),
        elapsedMs: Math.round(performance.now() - state.startedAt),
      };
    },
    stop() { state.running = false; clearInterval(state.poll); },
  };
}
