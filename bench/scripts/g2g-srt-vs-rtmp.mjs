#!/usr/bin/env node
// Glass-to-glass latency through Sluice, SRT ingest vs RTMP ingest, same encode, same run.
//
// One ffmpeg encode of the clock-strip source (conformance/runners/strip.mjs) goes through the
// tee muxer to Sluice twice: FLV over RTMP to live/g2g-rtmp and MPEG-TS over SRT (latency
// 120 ms) to live/g2g-srt. Two headless Chromium pages play both channels through the dashboard
// (`/?play=...`, hls.js LL-HLS), one browser each, at the same time, read the wall clock off every presented frame
// and report latency = presentation time − stamped time. Only the ingest path differs.
//
//   node bench/scripts/g2g-srt-vs-rtmp.mjs [--seconds 30] [--variant zerolatency|obs]

import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { Harness, newPage, sleep, summarize, waitForChannel, writeResults } from '../../conformance/runners/harness.mjs';
import { LAYOUT, pageSampler } from '../../conformance/runners/strip.mjs';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    variant: { type: 'string', default: 'zerolatency' },
  },
});
const SECONDS = Number(opts.seconds);
if (!(SECONDS > 0)) throw new Error(`--seconds ${opts.seconds}: not a positive number`);

// Whole run is bounded: startup (≤ 90 s) + measurement + shutdown.
const deadline = setTimeout(() => { console.error('g2g-srt-vs-rtmp: overall timeout'); process.exit(2); }, (SECONDS + 150) * 1000);
deadline.unref();

const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function main() {
  const h = new Harness();
  const log = [];
  try {
    const sluice = await h.startSluice('serve');
    const epoch0 = Date.now();
    const channels = [
      { name: 'rtmp', id: 'live/g2g-rtmp', url: sluice.rtmpUrl('live/g2g-rtmp') },
      { name: 'srt', id: 'live/g2g-srt', url: sluice.srtUrl('live/g2g-srt') },
    ];
    const source = h.startStripSource({ epoch0, targets: channels.map((c) => c.url), variant: opts.variant });
    for (const c of channels) await waitForChannel(sluice.baseUrl, c.id, 20000);

    // One browser per stream: two tabs of one window would leave one in the background, where
    // Chromium throttles requestVideoFrameCallback (a trial got 94 samples instead of 900).
    for (const c of channels) {
      c.page = await newPage(await h.launchChromium(), log);
      await c.page.addInitScript(pageSampler);
      await c.page.goto(`${sluice.baseUrl}/?play=${c.id}`);
    }
    for (const c of channels) {
      await c.page.waitForFunction(() => {
        const v = document.getElementById('player');
        return window.sluicePlayer && v.currentTime > 0.3 && !v.paused;
      }, null, { timeout: 30000 }).catch((err) => {
        throw new Error(`${c.name}: ${err.message}\n${log.join('\n')}\nffmpeg:\n${source.tail}`);
      });
      await c.page.evaluate(([e0, L]) => window.g2g.start('#player', e0, L), [epoch0, LAYOUT]);
    }
    const loadStart = loadavg();
    await sleep(SECONDS * 1000);
    if (!source.running) throw new Error(`ffmpeg source exited early: ${source.tail}`);

    const result = { date: new Date().toISOString(), seconds: SECONDS, variant: opts.variant, loadavg: [loadStart, loadavg()], ingest: {} };
    for (const c of channels) {
      const r = await c.page.evaluate(() => window.g2g.report());
      const s = summarize(r.samples);
      const hl = summarize(r.hlsLatencyMs);
      result.ingest[c.name] = { ...s, rejected: r.rejected, frames: r.frames, waiting: r.waiting, maxFreezeMs: r.maxFreezeMs, hlsLatencyMedianMs: hl.median };
      console.log(`${c.name.padEnd(4)} -> LL-HLS glass-to-glass median=${s.median.toFixed(0)} ms p90=${s.p90.toFixed(0)} ms samples=${s.n} ` +
        `rejected=${r.rejected} stalls=${r.waiting.length} hls.latency median=${hl.median.toFixed(0)} ms`);
    }
    const { rtmp, srt } = result.ingest;
    result.srtMinusRtmpMs = srt.median - rtmp.median;
    console.log(`srt - rtmp = ${result.srtMinusRtmpMs.toFixed(0)} ms (medians); load average ${loadStart} -> ${result.loadavg[1]}`);
    console.log(`-> ${writeResults('g2g-srt-vs-rtmp', result)}`);
    if (log.length) console.log(`page log:\n${log.join('\n')}`);
    // eslint-disable-next-line no-control-regex
    const warnings = sluice.child.tail.replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter((l) => /WARN|ERROR/.test(l));
    if (warnings.length) console.log(`server warnings (last ${warnings.length}):\n${warnings.join('\n')}`);
  } finally {
    await h.close();
  }
}

main().then(() => process.exit(0), (err) => { console.error(err.stack || err.message); process.exit(1); });
