// dashjs 5 (the DASH-IF reference player, npm `dashjs`) in headless Chromium plays Sluice's
// LL-DASH (`/{group}/{channel}/dash/index.mpd`: dynamic MPD, SegmentTemplate $Number$,
// availabilityTimeOffset with availabilityTimeComplete="false", segments in progress streamed
// chunked as parts land) in its low-latency mode: no stall after start-up, audio decoded, glass
// to glass under the product's bound. Glass to glass is read off the rendered frames (clock
// strip, see strip.mjs); dashjs's own getCurrentLiveLatency() is printed beside it.
// The publisher-reconnect case is in dashjs-reconnect-lldash.mjs (not run by run-all.sh yet).
//
// dashjs is served from node_modules on Sluice's origin by playwright (page.route); dashjs is
// left to autoplay (calling video.play() early stopped its MPD refreshes in a trial).
//
// Env: G2G_SECONDS (default 30) = measured play time of the steady-state case;
//      DASHJS_LOG=info|debug to raise dashjs's log level (its console output lands in the
//      results file); RECONNECT_GAP_MS (default 1000) = how long the publisher stays away.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import {
  Harness, newPage, recordConsole, recordNetwork, sleep, summarize, summarizeRequests, waitForChannel, writeResults,
} from './harness.mjs';
import { LAYOUT, pageSampler } from './strip.mjs';
import { DASHJS_VERSION, counters, networkSummary, playerState, routePlayer, waitForPlayback } from './dashjs-page.mjs';

const SECONDS = Number(process.env.G2G_SECONDS || 30);
const BOUND_MS = 2000; // product bound: glass-to-glass median on loopback (goal: 1500 ms)
// Same tolerance as the hls.js LL-HLS runner: a short stall right after sampling starts
// (the player settling on the live edge), none later.
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

test(`dashjs ${DASHJS_VERSION} plays LL-DASH (RTMP zerolatency + AAC) in low-latency mode for ${SECONDS} s: no stall, audio decoded, g2g median <= ${BOUND_MS} ms`,
  { timeout: (SECONDS + 90) * 1000 }, async () => {
    const id = 'live/dash-g2g';
    const epoch0 = Date.now();
    const source = h.startStripSource({ epoch0, targets: [sluice.rtmpUrl(id)], variant: 'zerolatency', audio: true });
    try {
      const channel = await waitForChannel(sluice.baseUrl, id, 20000);
      const log = [];
      const page = await newPage(browser, log);
      const consoleLines = recordConsole(page);
      const net = recordNetwork(page, epoch0);
      const pageUrl = await routePlayer(page, sluice.baseUrl, id);
      await page.addInitScript(pageSampler);
      const joinedAt = Date.now();
      await page.goto(pageUrl);
      await waitForPlayback(page, () => `page log:\n${log.join('\n')}\nnetwork: ${JSON.stringify(networkSummary(net))}\nserver:\n${sluice.child.tail}\nffmpeg:\n${source.tail}`);
      const startupMs = Date.now() - joinedAt;

      const first = await counters(page);
      await page.evaluate(([e0, L]) => { window.g2g.start('#player', e0, L); window.sampleLatency = true; }, [epoch0, LAYOUT]);
      const checkpoints = [first];
      for (let i = 0; i < 4; i++) {
        await sleep((SECONDS * 1000) / 4);
        checkpoints.push(await counters(page));
      }
      const report = await page.evaluate(() => window.g2g.report());
      const liveLatencyMs = await page.evaluate(() => window.liveLatency.slice());
      const player = await playerState(page);
      const mpd = await fetch(`${sluice.baseUrl}/${id}/dash/index.mpd`).then((r) => r.text()).catch((e) => e.message);
      await page.close();
      assert.ok(source.running, `ffmpeg source exited during the run: ${source.tail}`);

      const g2g = summarize(report.samples);
      const dashLatency = summarize(liveLatencyMs);
      const lateStalls = report.waiting.filter((w) => w.atMs > INITIAL_GRACE_MS || w.durationMs > MAX_INITIAL_STALL_MS);
      const last = checkpoints[checkpoints.length - 1];
      const network = networkSummary(net);
      const segNumbers = net.filter((e) => /\/dash\/video\/\d+\.m4s$/.test(e.path)).map((e) => Number(e.path.match(/(\d+)\.m4s$/)[1]));
      const result = {
        date: new Date().toISOString(), case: 'dashjs-lldash-zerolatency', dashjs: DASHJS_VERSION, ingest: 'rtmp', seconds: SECONDS,
        startupMs, channel, player: { ...player, events: undefined }, checkpoints,
        loadavg: fs.readFileSync('/proc/loadavg', 'utf8').trim(),
        g2g: { median: g2g.median, p90: g2g.p90, min: g2g.min, max: g2g.max, samples: g2g.n },
        dashLiveLatencyMs: { median: dashLatency.median, p90: dashLatency.p90, min: dashLatency.min, max: dashLatency.max, samples: dashLatency.n },
        frames: report.frames, rejected: report.rejected, implausible: report.implausible,
        waiting: report.waiting, openWaitingMs: report.openWaitingMs, maxFreezeMs: report.maxFreezeMs, lateMaxFreezeMs: report.lateMaxFreezeMs,
        playedSeconds: report.playedSeconds, network: { ...network, videoSegments: segNumbers }, events: player.events, mpd, log,
        console: consoleLines.slice(-300), requests: net,
      };
      const file = writeResults('dashjs-lldash-zerolatency', result);
      console.log(`[dashjs ${player.version}, rtmp zerolatency] glass-to-glass median=${g2g.median} ms p90=${g2g.p90} ms samples=${g2g.n} ` +
        `(rejected=${report.rejected}) dashjs getCurrentLiveLatency median=${dashLatency.median} ms p90=${dashLatency.p90} ms ` +
        `target=${player.targetLiveDelayMs} ms lowLatency=${player.lowLatency} startup=${startupMs} ms ` +
        `decoded=${first.decoded}->${last.decoded} (dropped ${last.dropped}) audioBytes=${first.audioBytes}->${last.audioBytes} ` +
        `played=${report.playedSeconds.toFixed(1)} s waiting=${JSON.stringify(report.waiting)} maxFreeze=${report.maxFreezeMs} ms ` +
        `lateMaxFreeze=${report.lateMaxFreezeMs} ms segments=${JSON.stringify(network.byStatus)} errors=${JSON.stringify(player.errors)} ` +
        `loadavg=${result.loadavg} -> ${file}`);

      assert.equal(player.lowLatency, true, 'dashjs low-latency mode (availabilityTimeComplete="false")');
      assert.deepEqual(player.errors, [], 'dashjs errors');
      assert.deepEqual(network.bad, [], 'LL-DASH requests that failed or were not 2xx');
      // Audio is present: dashjs knows an audio track and Chromium decoded audio during the run.
      assert.ok(player.audioTracks >= 1 && player.audio && /mp4a\./.test(player.audio.codec || ''), `audio track: ${JSON.stringify(player.audio)} (${player.audioTracks})`);
      assert.ok(last.audioBytes > first.audioBytes, `audio decoded bytes did not grow: ${first.audioBytes} -> ${last.audioBytes}`);
      for (let i = 1; i < checkpoints.length; i++) {
        const got = checkpoints[i].decoded - checkpoints[i - 1].decoded;
        assert.ok(got >= (SECONDS / 4) * 30 * 0.7, `only ${got} frames decoded in quarter ${i}: ${JSON.stringify(checkpoints)}`);
      }
      assert.ok(g2g.n >= SECONDS * 30 * 0.5, `too few strip samples: ${g2g.n} in ${SECONDS} s (rejected=${report.rejected}, implausible=${report.implausible})`);
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

// What dashjs does here (5.2.1, first runs): the MPD keeps the old Period open-ended until the new
// Period is listed (about 1.0–1.3 s after the new publish, once its first segment is complete),
// so dashjs keeps addressing the old Period's template; its request for the next number is held
// by the server until the new session's first segment starts and is answered with it, so the new
// publish shows through the old Period within a few hundred ms. When the new Period arrives dashjs
// ends the old one and switches (seamless), and has so far jumped a 0.4–0.6 s buffer gap in the
// new Period shortly after. With the publisher away longer than TD + 0.5 s (RECONNECT_GAP_MS=3000)
// the held request times out, dashjs's next-number requests get 404 and frames stop for ~2.7 s
// until the new Period is picked up at the next MPD refresh: that case fails.
