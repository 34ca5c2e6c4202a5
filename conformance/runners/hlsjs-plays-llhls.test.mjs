// hls.js in headless Chromium plays Sluice's LL-HLS through the dashboard (`/?play=live/...`)
// without stalling, in low-latency mode, and glass to glass under the product's bound.
// Glass to glass is read off the rendered frames (clock strip, see strip.mjs). The source is
// published over RTMP, and in one case each over SRT (MPEG-TS) and WHIP (FFmpeg 9, H.264 +
// Opus) to compare the ingest paths.
//
// Env: G2G_SECONDS (default 20) = measured play time per variant (at least; the OBS-like case
// plays 30 s).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { Harness, newPage, sleep, summarize, waitForChannel, writeResults } from './harness.mjs';
import { LAYOUT, pageSampler } from './strip.mjs';

const DEFAULT_SECONDS = Number(process.env.G2G_SECONDS || 20);
const BOUND_MS = 2000; // product bound: glass-to-glass median on loopback
// A short stall right after sampling starts is tolerated (hls.js settling on the live edge; with
// a 2 s GOP it may wait up to a second and a half for the next independent part).
const INITIAL_GRACE_MS = 3000;
const MAX_INITIAL_STALL_MS = 1500;
const MAX_FREEZE_MS = 1000;

const h = new Harness();
let sluice;
let browser;
before(async () => {
  sluice = await h.startSluice('serve');
  browser = await h.launchChromium();
});
after(() => h.close());

// x264 zerolatency + AAC; OBS-like x264 (2 B-frames, 2 s GOP) + AAC; and video only, which tells
// audio-path problems apart from video-path ones.
// All over RTMP (FLV), and the zerolatency source once more over SRT (MPEG-TS, 120 ms SRT
// latency): the same player and measurement, only the ingest differs.
const CASES = [
  { name: 'zerolatency', variant: 'zerolatency', audio: true, ingest: 'rtmp' },
  // 2 s GOPs make hls.js's start-up stall (seen ~1 in 5 runs, ~1 s) likelier; its catch-up
  // then needs ~10 s, so this case is measured over 30 s to judge the steady state too.
  { name: 'obs', variant: 'obs', audio: true, ingest: 'rtmp', seconds: 30 },
  { name: 'zerolatency-video-only', variant: 'zerolatency', audio: false, ingest: 'rtmp' },
  { name: 'srt-zerolatency', variant: 'zerolatency', audio: true, ingest: 'srt' },
  // FFmpeg 9 over WHIP: H.264 + Opus (Opus in CMAF for LL-HLS).
  { name: 'whip-zerolatency', variant: 'zerolatency', audio: true, ingest: 'whip' },
];

for (const { name, variant, audio, ingest, seconds = DEFAULT_SECONDS } of CASES) {
  const SECONDS = Math.max(seconds, DEFAULT_SECONDS);
  test(`hls.js plays LL-HLS from the dashboard, ${name} (${ingest} ingest): no stall, g2g median <= ${BOUND_MS} ms`, { timeout: (SECONDS + 90) * 1000 }, async () => {
    const id = `live/g2g-${name}`;
    const epoch0 = Date.now();
    const target = { srt: sluice.srtUrl, whip: sluice.whipUrl, rtmp: sluice.rtmpUrl }[ingest](id);
    const source = h.startStripSource({ epoch0, targets: [target], variant, audio });
    try {
      const channel = await waitForChannel(sluice.baseUrl, id, 20000);
      const log = [];
      const page = await newPage(browser, log);
      await page.addInitScript(pageSampler);
      await page.goto(`${sluice.baseUrl}/?play=${id}`);
      await page.waitForFunction(() => {
        const v = document.getElementById('player');
        return window.sluicePlayer && v.currentTime > 0.3 && !v.paused;
      }, null, { timeout: 30000 }).catch(async (err) => {
        throw new Error(`${err.message}\npage log:\n${log.join('\n')}\nserver:\n${sluice.child.tail}\nffmpeg:\n${source.tail}`);
      });
      await page.evaluate(([e0, L]) => window.g2g.start('#player', e0, L), [epoch0, LAYOUT]);
      await sleep(SECONDS * 1000);

      const report = await page.evaluate(() => window.g2g.report());
      const player = await page.evaluate(() => {
        const hls = window.sluicePlayer;
        const level = hls.levels[hls.currentLevel >= 0 ? hls.currentLevel : 0];
        const d = level && level.details;
        return {
          lowLatencyMode: hls.lowLatencyMode,
          configLowLatency: hls.config.lowLatencyMode,
          latencyMs: hls.latency * 1000,
          targetLatencyMs: hls.targetLatency * 1000,
          playingDate: hls.playingDate ? hls.playingDate.toISOString() : null,
          canBlockReload: d ? d.canBlockReload : null,
          partTarget: d ? d.partTarget : null,
          partCount: d && d.partList ? d.partList.length : 0,
          targetduration: d ? d.targetduration : null,
        };
      });
      await page.close();
      assert.ok(source.running, `ffmpeg source exited during the run: ${source.tail}`);

      const g2g = summarize(report.samples);
      const hlsLatency = summarize(report.hlsLatencyMs);
      const lateStalls = report.waiting.filter((w) => w.atMs > INITIAL_GRACE_MS || w.durationMs > MAX_INITIAL_STALL_MS);
      const result = {
        date: new Date().toISOString(), case: name, variant, audio, ingest, seconds: SECONDS, channel, player,
        loadavg: fs.readFileSync('/proc/loadavg', 'utf8').trim(),
        g2g: { median: g2g.median, p90: g2g.p90, min: g2g.min, max: g2g.max, samples: g2g.n },
        hlsLatencyMs: { median: hlsLatency.median, p90: hlsLatency.p90 },
        frames: report.frames, rejected: report.rejected, implausible: report.implausible,
        waiting: report.waiting, openWaitingMs: report.openWaitingMs, maxFreezeMs: report.maxFreezeMs,
        playedSeconds: report.playedSeconds, log,
      };
      const file = writeResults(`hlsjs-llhls-${name}`, result);
      console.log(`[${name}, ${ingest}] glass-to-glass median=${g2g.median} ms p90=${g2g.p90} ms samples=${g2g.n} ` +
        `(rejected=${report.rejected}) hls.latency median=${hlsLatency.median?.toFixed(0)} ms ` +
        `parts=${player.partCount} partTarget=${player.partTarget} played=${report.playedSeconds.toFixed(1)} s ` +
        `waiting=${JSON.stringify(report.waiting)} maxFreeze=${report.maxFreezeMs} ms loadavg=${result.loadavg} -> ${file}`);

      assert.equal(player.lowLatencyMode, true, 'hls.js lowLatencyMode');
      assert.ok(player.partCount > 0 && player.canBlockReload, `playlist is LL-HLS (parts + blocking reload): ${JSON.stringify(player)}`);
      assert.ok(g2g.n > 0, `no decodable frames (rejected=${report.rejected}, implausible=${report.implausible}, frames=${report.frames})`);
      assert.ok(g2g.n >= SECONDS * 30 * 0.5, `too few samples: ${g2g.n} in ${SECONDS} s`);
      assert.ok(report.playedSeconds >= SECONDS * 0.85, `currentTime advanced only ${report.playedSeconds.toFixed(2)} s in ${SECONDS} s`);
      assert.deepEqual(lateStalls, [], `stalls after start: ${JSON.stringify(report.waiting)}`);
      assert.equal(report.openWaitingMs, 0, 'still waiting at the end');
      assert.ok(report.maxFreezeMs <= MAX_INITIAL_STALL_MS, `currentTime froze for ${report.maxFreezeMs} ms`);
      assert.ok(report.lateMaxFreezeMs <= MAX_FREEZE_MS, `currentTime froze for ${report.lateMaxFreezeMs} ms after start-up`);
      assert.ok(g2g.median <= BOUND_MS, `glass-to-glass median ${g2g.median} ms > ${BOUND_MS} ms`);
    } finally {
      await source.stop();
    }
  });
}
