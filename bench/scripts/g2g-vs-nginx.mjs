#!/usr/bin/env node
// Glass-to-glass latency, Sluice LL-HLS vs Debian nginx + libnginx-mod-rtmp HLS, side by side.
//
// One ffmpeg encode of the clock-strip source (conformance/runners/strip.mjs) goes through the
// tee muxer to both servers' RTMP ports. Two headless Chromium pages play the two streams with
// hls.js at the same time, read the wall clock off every presented frame and report
// latency = presentation time − stamped time. Usage (see bench/scripts/README.md):
//
//   node bench/scripts/g2g-vs-nginx.mjs [--seconds 30] [--variant zerolatency|obs] [--nginx-only]

import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Harness, ROOT, newPage, sleep, summarize, writeResults } from '../../conformance/runners/harness.mjs';
import { startNginx } from './nginx-rtmp.mjs';
import { LAYOUT, pageSampler } from '../../conformance/runners/strip.mjs';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    variant: { type: 'string', default: 'zerolatency' },
    'nginx-only': { type: 'boolean', default: false },
  },
});
const SECONDS = Number(opts.seconds);
const HLSJS_DIST = path.join(ROOT, 'web/node_modules/hls.js/dist');
const STREAM = 'g2g';

// Whole run is bounded: startup (≤ 60 s) + measurement + shutdown.
const deadline = setTimeout(() => { console.error('g2g-vs-nginx: overall timeout'); process.exit(2); }, (SECONDS + 120) * 1000);
deadline.unref();

async function waitOk(url, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try { if ((await fetch(url, { signal: AbortSignal.timeout(2000) })).ok) return; } catch { /* not yet */ }
    await sleep(250);
  }
  throw new Error(`${url} not available within ${timeoutMs} ms`);
}

async function openPlayer(context, playerBase, src, ll, log) {
  const page = await newPage(context, log);
  await page.addInitScript(pageSampler);
  await page.goto(`${playerBase}/player.html?ll=${ll ? 1 : 0}&src=${encodeURIComponent(src)}`);
  return page;
}

async function main() {
  if (!fs.existsSync(path.join(HLSJS_DIST, 'hls.min.js'))) throw new Error('hls.js missing: npm ci --prefix web');
  const h = new Harness();
  const log = [];
  try {
    const nginx = await startNginx(h, STREAM);
    const sluice = opts['nginx-only'] ? null : await h.startSluice('serve');
    const epoch0 = Date.now();
    const targets = [nginx.rtmpUrl];
    if (sluice) targets.push(sluice.rtmpUrl(`live/${STREAM}`));
    const source = h.startStripSource({ epoch0, targets, variant: opts.variant });
    await waitOk(nginx.hlsUrl, 20000);
    const sluiceHls = sluice && `${sluice.baseUrl}/live/${STREAM}/hls/index.m3u8`;
    if (sluice) await waitOk(sluiceHls, 20000);

    const context = await h.launchChromium();
    const players = [{ name: 'nginx-rtmp', page: await openPlayer(context, nginx.base, nginx.hlsUrl, false, log) }];
    if (sluice) players.push({ name: 'sluice', page: await openPlayer(context, nginx.base, sluiceHls, true, log) });
    for (const p of players) {
      await p.page.waitForFunction(() => { const v = document.querySelector('video'); return v && v.currentTime > 0.5 && !v.paused; }, null, { timeout: 30000 });
      await p.page.evaluate(([e0, L]) => window.g2g.start('#player', e0, L), [epoch0, LAYOUT]);
    }
    await sleep(SECONDS * 1000);
    if (!source.running) throw new Error(`ffmpeg source exited early: ${source.tail}`);

    const result = { date: new Date().toISOString(), seconds: SECONDS, variant: opts.variant, players: {} };
    for (const p of players) {
      const r = await p.page.evaluate(() => window.g2g.report());
      const s = summarize(r.samples);
      const hl = summarize(r.hlsLatencyMs);
      result.players[p.name] = { ...s, rejected: r.rejected, frames: r.frames, waiting: r.waiting, maxFreezeMs: r.maxFreezeMs, hlsLatencyMedianMs: hl.median };
      console.log(`${p.name.padEnd(10)} glass-to-glass median=${s.median.toFixed(0)} ms p90=${s.p90.toFixed(0)} ms samples=${s.n} rejected=${r.rejected} stalls=${r.waiting.length} hls.latency median=${hl.median.toFixed(0)} ms`);
    }
    if (sluice) {
      const ratio = result.players['nginx-rtmp'].median / result.players.sluice.median;
      result.ratio = ratio;
      console.log(`ratio nginx/sluice = ${ratio.toFixed(2)}x`);
    }
    console.log(`results: ${writeResults('g2g-vs-nginx', { ...result, log })}`);
  } finally {
    await h.close();
  }
}

main().then(() => process.exit(0), (err) => { console.error(err.stack || err); process.exit(1); });
