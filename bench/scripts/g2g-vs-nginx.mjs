#!/usr/bin/env node
// Glass-to-glass latency, Sluice vs Debian nginx + libnginx-mod-rtmp, side by side:
//   --protocol hls (default)  Sluice LL-HLS vs nginx-rtmp HLS, both in hls.js
//   --protocol dash           Sluice LL-DASH vs nginx-rtmp DASH, both in dashjs
//
// One ffmpeg encode of the clock-strip source (conformance/runners/strip.mjs) goes through the
// tee muxer to both servers' RTMP ports. Two headless Chromium pages play the two streams at
// the same time, read the wall clock off every presented frame and report
// latency = presentation time − stamped time. Usage (see bench/scripts/README.md):
//
//   node bench/scripts/g2g-vs-nginx.mjs [--protocol hls|dash] [--seconds 30] [--variant zerolatency|obs] [--nginx-only]

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  Harness, ROOT, newPage, recordNetwork, sleep, summarize, writeResults,
} from '../../conformance/runners/harness.mjs';
import { DASH_FRAGMENT, DASH_PLAYLIST_LENGTH, startNginx } from './nginx-rtmp.mjs';
import { LAYOUT, pageSampler } from '../../conformance/runners/strip.mjs';
import { DASHJS_VERSION, networkSummary, playerState, routePlayer } from '../../conformance/runners/dashjs-page.mjs';

const { values: opts } = parseArgs({
  options: {
    protocol: { type: 'string', default: 'hls' },
    seconds: { type: 'string', default: '30' },
    variant: { type: 'string', default: 'zerolatency' },
    'nginx-only': { type: 'boolean', default: false },
  },
});
const SECONDS = Number(opts.seconds);
if (!(SECONDS > 0)) throw new Error(`--seconds ${opts.seconds}: not a positive number`);
const HLSJS_DIST = path.join(ROOT, 'web/node_modules/hls.js/dist');
const STREAM = 'g2g';

// nginx-rtmp's MPD carries no UTCTiming, so dashjs would ask its default time server (on the
// internet) and fall back to the MPD's Date header (1 s resolution); both pages run on the
// server's host, so the nginx page uses the local clock instead. Everything else is dashjs's
// defaults for a live stream plus the shared page's catch-up (its MPD has no low-latency
// signalling, so dashjs stays in plain live mode).
const NGINX_DASHJS_SETTINGS = { streaming: { utcSynchronization: { enabled: false } } };

const PROTOCOLS = {
  hls: {
    title: 'Sluice LL-HLS (hls.js lowLatencyMode) vs nginx-rtmp HLS (hls.js defaults)',
    nginxUrl: (nginx) => nginx.hlsUrl,
    sluiceUrl: (sluice, id) => `${sluice.baseUrl}/${id}/hls/index.m3u8`,
    // The hls.js page is served by nginx for both streams.
    async open(page, { nginx, src, sluice }) {
      await page.goto(`${nginx.base}/player.html?ll=${sluice ? 1 : 0}&src=${encodeURIComponent(src)}`);
    },
    async read(page, report) {
      return { hlsLatencyMedianMs: summarize(report.hlsLatencyMs).median };
    },
    line: (r) => `hls.latency median=${r.hlsLatencyMedianMs.toFixed(0)} ms`,
  },
  dash: {
    title: `Sluice LL-DASH (dashjs ${DASHJS_VERSION} low-latency mode) vs nginx-rtmp DASH ` +
      `(dash_fragment ${DASH_FRAGMENT}, dash_playlist_length ${DASH_PLAYLIST_LENGTH}; dashjs live defaults, local clock)`,
    nginxUrl: (nginx) => nginx.dashUrl,
    sluiceUrl: (sluice, id) => `${sluice.baseUrl}/${id}/dash/index.mpd`,
    // The dashjs page (dashjs-page.mjs) on each server's own origin, as in the LL-DASH runners.
    async open(page, { nginx, src, sluice }) {
      const net = recordNetwork(page);
      const base = sluice ? sluice.baseUrl : nginx.base;
      await page.goto(await routePlayer(page, base, null, { src, settings: sluice ? {} : NGINX_DASHJS_SETTINGS }));
      return net;
    },
    async read(page, _report, net) {
      const liveLatency = summarize(await page.evaluate(() => window.liveLatency.slice()));
      const state = await playerState(page);
      const network = networkSummary(net);
      return {
        dashjs: state.version, lowLatency: state.lowLatency, targetLiveDelayMs: state.targetLiveDelayMs,
        dashLiveLatencyMedianMs: liveLatency.median, playbackRate: state.playbackRate,
        errors: state.errors, events: state.events, network,
      };
    },
    line: (r) => `dashjs lowLatency=${r.lowLatency} target=${r.targetLiveDelayMs} ms live latency median=${r.dashLiveLatencyMedianMs} ms ` +
      `requests=${JSON.stringify(r.network.byStatus)} errors=${r.errors.length}`,
  },
};
const proto = PROTOCOLS[opts.protocol];
if (!proto) throw new Error(`--protocol ${opts.protocol}: expected ${Object.keys(PROTOCOLS).join(' or ')}`);

// Whole run is bounded: startup (≤ 60 s) + measurement + shutdown.
const deadline = setTimeout(() => { console.error('g2g-vs-nginx: overall timeout'); process.exit(2); }, (SECONDS + 120) * 1000);
deadline.unref();

const loadavg = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

async function waitOk(url, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try { if ((await fetch(url, { signal: AbortSignal.timeout(2000) })).ok) return; } catch { /* not yet */ }
    await sleep(250);
  }
  throw new Error(`${url} not available within ${timeoutMs} ms`);
}

async function openPlayer(name, context, log, target) {
  const page = await newPage(context, log);
  await page.addInitScript(pageSampler);
  const net = await proto.open(page, target);
  return { name, page, net };
}

async function main() {
  if (!fs.existsSync(path.join(HLSJS_DIST, 'hls.min.js'))) throw new Error('hls.js missing: npm ci --prefix web');
  const h = new Harness();
  const log = [];
  try {
    console.log(`${opts.protocol}: ${proto.title}; ${SECONDS} s, x264 ${opts.variant}`);
    const nginx = await startNginx(h, STREAM, { dash: opts.protocol === 'dash' });
    const sluice = opts['nginx-only'] ? null : await h.startSluice('serve');
    const epoch0 = Date.now();
    const targets = [nginx.rtmpUrl];
    if (sluice) targets.push(sluice.rtmpUrl(`live/${STREAM}`));
    const source = h.startStripSource({ epoch0, targets, variant: opts.variant });
    const nginxSrc = proto.nginxUrl(nginx);
    await waitOk(nginxSrc, 20000);
    const sluiceSrc = sluice && proto.sluiceUrl(sluice, `live/${STREAM}`);
    if (sluice) await waitOk(sluiceSrc, 20000);

    const context = await h.launchChromium();
    const players = [await openPlayer('nginx-rtmp', context, log, { nginx, src: nginxSrc })];
    if (sluice) players.push(await openPlayer('sluice', context, log, { nginx, sluice, src: sluiceSrc }));
    for (const p of players) {
      await p.page.waitForFunction(() => { const v = document.querySelector('video'); return v && v.currentTime > 0.5 && !v.paused; }, null, { timeout: 30000 })
        .catch((err) => { throw new Error(`${p.name} did not start playing: ${err.message}\n${log.join('\n')}\nffmpeg:\n${source.tail}`); });
      await p.page.evaluate(([e0, L]) => { window.g2g.start('#player', e0, L); window.sampleLatency = true; }, [epoch0, LAYOUT]);
    }
    const loadStart = loadavg();
    await sleep(SECONDS * 1000);
    const loadEnd = loadavg();
    if (!source.running) throw new Error(`ffmpeg source exited early: ${source.tail}`);

    const result = {
      date: new Date().toISOString(), protocol: opts.protocol, title: proto.title, seconds: SECONDS, variant: opts.variant,
      loadavg: { start: loadStart, end: loadEnd }, players: {},
    };
    if (opts.protocol === 'dash') result.nginxDash = { fragment: DASH_FRAGMENT, playlistLength: DASH_PLAYLIST_LENGTH, dashjsSettings: NGINX_DASHJS_SETTINGS };
    for (const p of players) {
      const r = await p.page.evaluate(() => window.g2g.report());
      const s = summarize(r.samples);
      const extra = await proto.read(p.page, r, p.net);
      result.players[p.name] = {
        ...s, rejected: r.rejected, frames: r.frames, waiting: r.waiting, maxFreezeMs: r.maxFreezeMs, lateMaxFreezeMs: r.lateMaxFreezeMs, ...extra,
      };
      console.log(`${p.name.padEnd(10)} glass-to-glass median=${s.median.toFixed(0)} ms p90=${s.p90.toFixed(0)} ms samples=${s.n} rejected=${r.rejected} ` +
        `stalls=${r.waiting.length} maxFreeze=${r.maxFreezeMs} ms ${proto.line(extra)}`);
    }
    if (sluice) {
      const ratio = result.players['nginx-rtmp'].median / result.players.sluice.median;
      result.ratio = ratio;
      console.log(`ratio nginx/sluice = ${ratio.toFixed(2)}x`);
    }
    console.log(`load average ${loadStart} -> ${loadEnd}`);
    if (opts.protocol === 'dash') {
      result.mpd = {};
      for (const [name, url] of [['nginx-rtmp', nginxSrc], ['sluice', sluiceSrc]]) {
        if (url) result.mpd[name] = await fetch(url).then((res) => res.text()).catch((e) => e.message);
      }
    }
    const name = opts.protocol === 'hls' ? 'g2g-vs-nginx' : `g2g-vs-nginx-${opts.protocol}`;
    console.log(`results: ${writeResults(name, { ...result, log })}`);
  } finally {
    await h.close();
  }
}

main().then(() => process.exit(0), (err) => { console.error(err.stack || err); process.exit(1); });
