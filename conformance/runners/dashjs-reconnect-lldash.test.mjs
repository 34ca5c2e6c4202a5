// dashjs keeps playing LL-DASH across a publisher reconnect (issue 5): the publisher stops,
// comes back after 3 s, and playback must recover within 2 s, then play on without a stall.
// A 1 s absence (RECONNECT_GAPS_MS=1000) recovers in most runs but not all: dashjs has asked
// the old Period for the segment after its last before the new Period is listed, and that
// request (held, then 404) can keep its audio from moving on (seen once in CI; see the issue
// note). It is not in the default run for that reason. "Recover" is judged on what the viewer sees: the
// freeze between the last frame of the old publish and the first of the new one, minus the
// time the publisher itself had nothing to show (the gap between those frames' burnt-in capture
// times). dashjs keeps its latency across the gap, so the new publish is on screen about one
// glass-to-glass latency after it goes live (printed too). The server keeps the channel
// timeline on the wall clock, starts a new Period for the new session, and ends the old one with
// a SegmentTimeline that says where its media stops; dashjs prebuffers the new Period and steps
// over the gap. Run it alone with `run-all.sh dashjs-reconnect-lldash.test.mjs`
// (RECONNECT_GAPS_MS=1000,3000 for both gaps).
// dashjs 5 (the DASH-IF reference player, npm `dashjs`) in headless Chromium plays Sluice's
// LL-DASH (`/{group}/{channel}/dash/index.mpd`: dynamic MPD, SegmentTemplate $Number$,
// availabilityTimeOffset with availabilityTimeComplete="false", segments in progress streamed
// chunked as parts land) in its low-latency mode: no stall after start-up, audio decoded, glass
// to glass under the product's bound. Glass to glass is read off the rendered frames (clock
// strip, see strip.mjs); dashjs's own getCurrentLiveLatency() is printed beside it.
//
// dashjs is served from node_modules on Sluice's origin by playwright (page.route); dashjs is
// left to autoplay (calling video.play() early stopped its MPD refreshes in a trial).
//
// Env: G2G_SECONDS (default 30) = measured play time of the steady-state case;
//      DASHJS_LOG=info|debug to raise dashjs's log level (its console output lands in the
//      results file); RECONNECT_GAPS_MS (default 3000) = how long the publisher stays away.

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
// Publisher reconnect: playback before the publisher stops, the gap before it comes back, how
// soon after the new publish its frames must be on screen, and how long to watch afterwards.
const RECONNECT_PLAY_BEFORE_MS = 10000;
const RECONNECT_GAPS_MS = (process.env.RECONNECT_GAPS_MS || '3000').split(',').map(Number);
const RECOVER_WITHIN_MS = 2000;
const RECONNECT_PLAY_AFTER_MS = 15000;



const h = new Harness();
let sluice;
let browser;
before(async () => {
  sluice = await h.startSluice('serve');
  browser = await h.launchChromium();
});
after(() => h.close());

for (const RECONNECT_GAP_MS of RECONNECT_GAPS_MS) test(`dashjs ${DASHJS_VERSION} keeps playing LL-DASH across a publisher reconnect after ${RECONNECT_GAP_MS} ms away: recovers within ${RECOVER_WITHIN_MS} ms, then no stall`,
  { timeout: 120000 }, async () => {
    const id = `live/dash-reconnect-${RECONNECT_GAP_MS}`;
    const epoch0 = Date.now();
    const start = () => h.startStripSource({ epoch0, targets: [sluice.rtmpUrl(id)], variant: 'zerolatency', audio: true });
    let source = start();
    const mpdUrl = `${sluice.baseUrl}/${id}/dash/index.mpd`;
    const periodsOf = (mpd) => [...mpd.matchAll(/<Period id="([^"]+)" start="([^"]+)"/g)].map((m) => `${m[1]}@${m[2]}`);
    try {
      const channel = await waitForChannel(sluice.baseUrl, id, 20000);
      const log = [];
      const page = await newPage(browser, log);
      const consoleLines = recordConsole(page);
      const net = recordNetwork(page, epoch0);
      const pageUrl = await routePlayer(page, sluice.baseUrl, id);
      await page.addInitScript(pageSampler);
      await page.goto(pageUrl);
      await waitForPlayback(page, () => `page log:\n${log.join('\n')}\nserver:\n${sluice.child.tail}\nffmpeg:\n${source.tail}`);
      await page.evaluate(([e0, L]) => { window.g2g.start('#player', e0, L); window.sampleLatency = true; }, [epoch0, LAYOUT]);
      await sleep(RECONNECT_PLAY_BEFORE_MS);

      // Stop the publisher, start a new one on the same channel a second later, and watch the
      // channel and the MPD (every 100 ms) until the new Period is listed.
      const mpdBefore = await fetch(mpdUrl).then((r) => r.text());
      const timeline = [];
      const stoppedAt = Date.now();
      await source.stop();
      const stopDoneAt = Date.now();
      await sleep(RECONNECT_GAP_MS);
      const restartedAt = Date.now();
      source = start();
      let publishedAt = null; // the channel is live again (API, 100 ms resolution)
      let newPeriodAt = null; // the MPD lists a second Period
      const watchUntil = Date.now() + 10000;
      while (Date.now() < watchUntil && (publishedAt === null || newPeriodAt === null)) {
        const [ch, mpd] = await Promise.all([
          fetch(`${sluice.baseUrl}/api/v1/channels`).then((r) => r.json()).then((b) => (b.channels || []).find((c) => c.id === id)).catch(() => null),
          fetch(mpdUrl).then(async (r) => `${r.status} ${periodsOf(await r.text()).join(' ')}`).catch((e) => e.message),
        ]);
        const now = Date.now();
        timeline.push({ atMs: now - restartedAt, live: ch ? ch.live : null, mpd });
        if (publishedAt === null && ch && ch.live) publishedAt = now;
        if (newPeriodAt === null && / .+ /.test(mpd)) newPeriodAt = now;
        await sleep(100);
      }
      await sleep(RECONNECT_PLAY_AFTER_MS - (Date.now() - restartedAt));
      const mpdAfter = await fetch(mpdUrl).then((r) => r.text());
      const report = await page.evaluate(() => window.g2g.report());
      const liveLatencyMs = await page.evaluate(() => window.liveLatency.slice());
      const player = await playerState(page);
      const final = await counters(page);
      await page.close();

      // The new publish's first frame on screen: the first presented frame stamped after the
      // new ffmpeg started (the strip stamps wall-clock capture time).
      const firstNew = report.stamps.find(([, stamped]) => stamped >= restartedAt);
      const lastOld = report.stamps.filter(([, stamped]) => stamped < restartedAt).pop();
      const publishRef = publishedAt ?? restartedAt;
      const onScreenAfterLiveMs = firstNew ? firstNew[0] - publishRef : null;
      // The freeze the viewer saw, and the part of it the server and player added.
      const viewerFreezeMs = firstNew && lastOld ? firstNew[0] - lastOld[0] : null;
      const publisherGapMs = firstNew && lastOld ? firstNew[1] - lastOld[1] : null;
      const recoveredMs = viewerFreezeMs === null ? null : viewerFreezeMs - publisherGapMs;
      const afterNew = firstNew ? report.stamps.filter(([shown]) => shown >= firstNew[0]) : [];
      const g2gAfter = summarize(afterNew.map(([shown, stamped]) => shown - stamped));
      const g2gBefore = summarize(report.stamps.filter(([shown]) => shown < stoppedAt).map(([shown, stamped]) => shown - stamped));
      // As in the steady-state runners: the player may settle (dashjs shows the new Period's
      // first frame when it prebuffers it, then steps over the gap) for up to
      // MAX_INITIAL_STALL_MS within INITIAL_GRACE_MS of the first new frame; no freeze after.
      let maxGapAfterMs = 0;
      let settleGapMs = 0;
      for (let i = 1; i < afterNew.length; i++) {
        const gap = afterNew[i][0] - afterNew[i - 1][0];
        if (afterNew[i - 1][0] - afterNew[0][0] < INITIAL_GRACE_MS) settleGapMs = Math.max(settleGapMs, gap);
        else maxGapAfterMs = Math.max(maxGapAfterMs, gap);
      }
      const lastShownAgoMs = report.stamps.length ? Date.now() - report.stamps[report.stamps.length - 1][0] : null;
      const rel = (t) => (t === null || t === undefined ? null : t - restartedAt);
      const network = networkSummary(net);
      const around = net.filter((e) => e.atMs >= stoppedAt - epoch0 - 3000 && e.atMs <= restartedAt - epoch0 + 8000)
        .map((e) => ({ ...e, atMs: e.atMs - (restartedAt - epoch0), headersMs: rel(e.headersMs === null ? null : e.headersMs + epoch0), doneMs: rel(e.doneMs === null ? null : e.doneMs + epoch0) }));
      const result = {
        date: new Date().toISOString(), case: 'dashjs-lldash-reconnect', gapMs: RECONNECT_GAP_MS, dashjs: DASHJS_VERSION, channel,
        // Times relative to the restart of the publisher (ms).
        stoppedMs: rel(stoppedAt), stopDoneMs: rel(stopDoneAt), publishedMs: rel(publishedAt), newPeriodMs: rel(newPeriodAt),
        lastOldFrame: lastOld ? { shownMs: rel(lastOld[0]), stampedMs: rel(lastOld[1]) } : null,
        firstNewFrame: firstNew ? { shownMs: rel(firstNew[0]), stampedMs: rel(firstNew[1]) } : null,
        recoveredMs, viewerFreezeMs, publisherGapMs, onScreenAfterLiveMs, settleGapMs, maxGapAfterMs, lastShownAgoMs,
        g2gBefore: { median: g2gBefore.median, n: g2gBefore.n }, g2gAfter: { median: g2gAfter.median, p90: g2gAfter.p90, n: g2gAfter.n },
        dashLiveLatencyMs: summarize(liveLatencyMs), final,
        player: { ...player, events: undefined },
        events: player.events.map((e) => ({ ...e, at: rel(e.at) })),
        waiting: report.waiting, timeline, mpdBefore, mpdAfter, network: { byStatus: network.byStatus, bad: network.bad },
        requestsAroundReconnect: around, log, console: consoleLines.slice(-400),
        server: sluice.child.tail.split('\n').filter((l) => l.includes(id)).join('\n'),
      };
      const file = writeResults(`dashjs-lldash-reconnect-${RECONNECT_GAP_MS}`, result);
      console.log(`[dashjs reconnect, ${RECONNECT_GAP_MS} ms away] publisher stopped at ${rel(stoppedAt)} ms, restarted at 0, channel live at ${rel(publishedAt)} ms, ` +
        `new Period in MPD at ${rel(newPeriodAt)} ms; last old frame shown at ${result.lastOldFrame?.shownMs} ms, ` +
        `first new frame shown at ${result.firstNewFrame?.shownMs} ms (${onScreenAfterLiveMs} ms after the new publish went live); viewer froze ${viewerFreezeMs} ms, publisher had no frames for ${publisherGapMs} ms: recovery added ${recoveredMs} ms; ` +
        `g2g before=${g2gBefore.median} ms after=${g2gAfter.median} ms (n=${g2gAfter.n}) settling gap=${settleGapMs} ms, max gap later=${maxGapAfterMs} ms ` +
        `last frame ${lastShownAgoMs} ms ago; periods before ${periodsOf(mpdBefore).join(' ')} after ${periodsOf(mpdAfter).join(' ')}; ` +
        `errors=${JSON.stringify(player.errors)} segments=${JSON.stringify(network.byStatus)} -> ${file}`);

      assert.ok(source.running, `the new ffmpeg source exited: ${source.tail}`);
      assert.ok(publishedAt !== null, `channel not live again within 10 s of the restart: ${JSON.stringify(timeline)}`);
      assert.ok(periodsOf(mpdAfter).length >= 2, `MPD after the reconnect has no new Period:\n${mpdAfter}`);
      assert.ok(firstNew, `dashjs never showed a frame of the new publish (last frame shown ${lastShownAgoMs} ms before the end; ` +
        `events ${JSON.stringify(result.events.slice(-20))}; errors ${JSON.stringify(player.errors)}); see ${file}`);
      assert.ok(lastOld, 'no frame of the first publish was shown');
      assert.ok(recoveredMs <= RECOVER_WITHIN_MS, `the viewer froze ${viewerFreezeMs} ms for a publisher gap of ${publisherGapMs} ms: recovery took ${recoveredMs} ms (> ${RECOVER_WITHIN_MS} ms); see ${file}`);
      assert.ok(settleGapMs <= MAX_INITIAL_STALL_MS, `frames stopped for ${settleGapMs} ms right after the recovery`);
      assert.ok(maxGapAfterMs <= MAX_FREEZE_MS, `frames stopped for ${maxGapAfterMs} ms after the recovery`);
      assert.ok(lastShownAgoMs !== null && lastShownAgoMs < 1000, `no frame shown in the last ${lastShownAgoMs} ms`);
      assert.ok(g2gAfter.median <= BOUND_MS, `glass-to-glass median after the reconnect ${g2gAfter.median} ms > ${BOUND_MS} ms`);
    } finally {
      await source.stop();
    }
  });
