// hls.js (default config with low-latency mode off) in headless Chromium plays Sluice's classic
// HLS-TS endpoint (`/{group}/{channel}/ts/index.m3u8` → `video.m3u8` → `{msn}.ts`, H.264 + AAC muxed)
// fed over SRT (ffmpeg MPEG-TS caller): no stall, no fatal error, frames keep being decoded and
// audio is decoded too. Glass to glass is read off the rendered frames (clock strip, see
// strip.mjs) and printed: classic HLS sits several segments behind live, so only a loose sanity
// bound is asserted.
//
// hls.js is Sluice's own copy (/assets/hls.min.js); the page is served on Sluice's origin by
// playwright (page.route), so no CORS is involved.
//
// Env: G2G_SECONDS (default 20) = measured play time of the steady-state case.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Harness, newPage, sleep, summarize, waitForChannel, writeResults } from './harness.mjs';
import { LAYOUT, pageSampler } from './strip.mjs';

const SECONDS = Number(process.env.G2G_SECONDS || 20);
const EARLY_SECONDS = 8; // the early-join case only needs to show that playback starts and keeps going
// Not a product bound: hls.js' default live sync point is 3 target durations behind the live
// edge (EXT-X-TARGETDURATION is 2 for 1 s segments, so about 7 s glass to glass); this only
// catches a player that drifted far behind live.
const SANITY_BOUND_MS = 15000;
const INITIAL_GRACE_MS = 3000;
const MAX_INITIAL_STALL_MS = 1000;
const MAX_FREEZE_MS = 1000;

/** A bare page: Sluice's hls.js with its default config (low-latency mode off) on `src`, with
 *  errors and the source buffers it created recorded on window. */
function playerPage(src) {
  return `<!doctype html><meta charset="utf-8"><title>hls.js HLS-TS</title>
<video id="player" muted autoplay playsinline></video>
<script src="/assets/hls.min.js"></script>
<script>
"use strict";
window.hlsErrors = [];
window.bufferTracks = null;
const video = document.getElementById("player");
// hls.js' defaults except lowLatencyMode, which hls.js 1.x turns on by default: a classic player.
const hls = new Hls({ lowLatencyMode: false });
window.sluicePlayer = hls;
hls.on(Hls.Events.ERROR, (_e, d) => {
  window.hlsErrors.push({
    type: d.type, details: d.details, fatal: d.fatal, at: Math.round(performance.now()),
    reason: d.reason || (d.error && d.error.message) || null, sn: d.frag ? d.frag.sn : null,
    buffer: d.sourceBufferName || null,
  });
});
hls.on(Hls.Events.BUFFER_CREATED, (_e, d) => {
  window.bufferTracks = Object.fromEntries(Object.entries(d.tracks).map(([k, t]) => [k, { codec: t.codec, container: t.container }]));
});
hls.on(Hls.Events.MANIFEST_PARSED, () => { video.play().catch(() => {}); });
hls.loadSource(${JSON.stringify(src)});
hls.attachMedia(video);
</script>`;
}

const h = new Harness();
let sluice;
let browser;
before(async () => {
  sluice = await h.startSluice('serve');
  browser = await h.launchChromium();
});
after(() => h.close());

/** Counts of the playlist's segments (fetching it directly, not through the player). */
async function tsSegmentCount(id) {
  const res = await fetch(`${sluice.baseUrl}/${id}/ts/video.m3u8`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) return 0;
  return (await res.text()).split('\n').filter((l) => /^\d+\.ts$/.test(l.trim())).length;
}

/**
 * Publishes the strip over SRT to `id`, waits until the TS playlist lists `joinAfterSegments`
 * segments (0: join as soon as the channel is live), plays `/{id}/ts/index.m3u8` with
 * default hls.js for `seconds` and asserts it played: no fatal error, no stall, frames decoded
 * in every quarter, audio present and decoded. Returns the glass-to-glass summary.
 */
async function playsHlsTs({ id, name, seconds, joinAfterSegments }) {
  const epoch0 = Date.now();
  const source = h.startStripSource({ epoch0, targets: [sluice.srtUrl(id)], variant: 'zerolatency', audio: true });
  try {
    const channel = await waitForChannel(sluice.baseUrl, id, 20000);
    assert.ok(channel.endpoints && channel.endpoints.ts, `channel lists no ts endpoint: ${JSON.stringify(channel)}`);
    const joinDeadline = Date.now() + 20000;
    while (joinAfterSegments > 0 && (await tsSegmentCount(id)) < joinAfterSegments) {
      assert.ok(Date.now() < joinDeadline, `TS playlist did not reach ${joinAfterSegments} segments in 20 s`);
      await sleep(250);
    }
    const src = `/${id}/ts/index.m3u8`;
    const pageUrl = `${sluice.baseUrl}/__runner/hls-ts.html`;
    const log = [];
    const page = await newPage(browser, log);
    await page.route(pageUrl, (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: playerPage(src) }));
    await page.addInitScript(pageSampler);
    const joinPlaylist = await fetch(`${sluice.baseUrl}/${id}/ts/video.m3u8`).then((r) => r.text()).catch((e) => e.message);
    const joinedAt = Date.now();
    await page.goto(pageUrl);
    // Playing, or given up: a fatal hls.js error ends the wait at once.
    const started = await page.waitForFunction(() => {
      const v = document.getElementById('player');
      if (window.hlsErrors.some((e) => e.fatal)) return 'fatal';
      return window.sluicePlayer && v.currentTime > 0.3 && !v.paused && 'playing';
    }, null, { timeout: 30000 }).then((handle) => handle.jsonValue()).catch((err) => err.message);
    if (started !== 'playing') {
      const errors = await page.evaluate(() => window.hlsErrors).catch(() => []);
      const playlist = await fetch(`${sluice.baseUrl}/${id}/ts/video.m3u8`).then((r) => r.text()).catch((e) => e.message);
      assert.fail(`hls.js did not start playing (${started}); hls.js errors: ${JSON.stringify(errors)}\n` +
        `TS playlist at join:\n${joinPlaylist}\nTS playlist now:\n${playlist}\npage log:\n${log.join('\n')}\nserver:\n${sluice.child.tail}\nffmpeg:\n${source.tail}`);
    }
    const startupMs = Date.now() - joinedAt;
    const counters = () => page.evaluate(() => {
      const v = document.getElementById('player');
      const q = v.getVideoPlaybackQuality();
      return { decoded: q.totalVideoFrames, dropped: q.droppedVideoFrames, audioBytes: v.webkitAudioDecodedByteCount, t: v.currentTime };
    });
    const first = await counters();
    await page.evaluate(([e0, L]) => window.g2g.start('#player', e0, L), [epoch0, LAYOUT]);
    // Decoded-frame counts at a few points: they must rise in every interval, not just overall.
    const checkpoints = [first];
    for (let i = 0; i < 4; i++) {
      await sleep((seconds * 1000) / 4);
      checkpoints.push(await counters());
    }

    const report = await page.evaluate(() => window.g2g.report());
    const player = await page.evaluate(() => {
      const hls = window.sluicePlayer;
      const level = hls.levels[hls.currentLevel >= 0 ? hls.currentLevel : 0];
      const d = level && level.details;
      return {
        version: window.Hls.version,
        lowLatencyMode: hls.lowLatencyMode,
        levelVideoCodec: level ? level.videoCodec : null,
        levelAudioCodec: level ? level.audioCodec : null,
        bufferTracks: window.bufferTracks,
        errors: window.hlsErrors,
        latencyMs: hls.latency * 1000,
        targetduration: d ? d.targetduration : null,
        partCount: d && d.partList ? d.partList.length : 0,
        fragments: d ? d.fragments.length : 0,
        lastFragUrl: d && d.fragments.length ? d.fragments[d.fragments.length - 1].url : null,
      };
    });
    await page.close();
    assert.ok(source.running, `ffmpeg source exited during the run: ${source.tail}`);

    const g2g = summarize(report.samples);
    const hlsLatency = summarize(report.hlsLatencyMs);
    const lateStalls = report.waiting.filter((w) => w.atMs > INITIAL_GRACE_MS || w.durationMs > MAX_INITIAL_STALL_MS);
    const last = checkpoints[checkpoints.length - 1];
    const result = {
      date: new Date().toISOString(), case: name, ingest: 'srt', endpoint: src, joinAfterSegments, joinPlaylist, seconds, startupMs,
      channel, player, checkpoints,
      g2g: { median: g2g.median, p90: g2g.p90, min: g2g.min, max: g2g.max, samples: g2g.n },
      hlsLatencyMs: { median: hlsLatency.median, p90: hlsLatency.p90 },
      frames: report.frames, rejected: report.rejected, implausible: report.implausible,
      waiting: report.waiting, openWaitingMs: report.openWaitingMs, maxFreezeMs: report.maxFreezeMs,
      playedSeconds: report.playedSeconds, log,
    };
    const file = writeResults(`hlsjs-hls-ts-${name}`, result);
    console.log(`[hls-ts ${name}] glass-to-glass median=${g2g.median} ms p90=${g2g.p90} ms samples=${g2g.n} ` +
      `(rejected=${report.rejected}) hls.latency median=${hlsLatency.median?.toFixed(0)} ms startup=${startupMs} ms ` +
      `hls.js ${player.version} codecs=${player.levelVideoCodec},${player.levelAudioCodec} buffers=${JSON.stringify(player.bufferTracks)} ` +
      `decoded=${first.decoded}->${last.decoded} (dropped ${last.dropped}) audioBytes=${first.audioBytes}->${last.audioBytes} ` +
      `played=${report.playedSeconds.toFixed(1)} s waiting=${JSON.stringify(report.waiting)} maxFreeze=${report.maxFreezeMs} ms ` +
      `errors=${JSON.stringify(player.errors)} -> ${file}`);

    // The classic endpoint: default (non-LL) hls.js on a playlist without parts or blocking reload.
    assert.equal(player.lowLatencyMode, false, 'hls.js lowLatencyMode with a classic playlist');
    assert.equal(player.partCount, 0, 'the TS playlist lists no parts');
    assert.ok(player.lastFragUrl && /\/ts\/\d+\.ts$/.test(player.lastFragUrl), `segments are {msn}.ts: ${player.lastFragUrl}`);
    assert.deepEqual(player.errors.filter((e) => e.fatal), [], 'fatal hls.js errors');
    // Audio is present: the multivariant names an audio codec, hls.js made an audio source
    // buffer, and Chromium decoded audio during the run.
    assert.match(player.levelAudioCodec || '', /^mp4a\./, 'level audio codec');
    assert.ok(player.bufferTracks && (player.bufferTracks.audio || player.bufferTracks.audiovideo), `audio source buffer: ${JSON.stringify(player.bufferTracks)}`);
    assert.ok(last.audioBytes > first.audioBytes, `audio decoded bytes did not grow: ${first.audioBytes} -> ${last.audioBytes}`);
    // Decoding never stops: frames increase in every quarter of the run (about 30 fps).
    for (let i = 1; i < checkpoints.length; i++) {
      const got = checkpoints[i].decoded - checkpoints[i - 1].decoded;
      assert.ok(got >= (seconds / 4) * 30 * 0.7, `only ${got} frames decoded in quarter ${i}: ${JSON.stringify(checkpoints)}`);
    }
    assert.ok(g2g.n >= seconds * 30 * 0.5, `too few strip samples: ${g2g.n} in ${seconds} s (rejected=${report.rejected}, implausible=${report.implausible})`);
    assert.ok(report.playedSeconds >= seconds * 0.85, `currentTime advanced only ${report.playedSeconds.toFixed(2)} s in ${seconds} s`);
    assert.deepEqual(lateStalls, [], `stalls after start: ${JSON.stringify(report.waiting)}`);
    assert.equal(report.openWaitingMs, 0, 'still waiting at the end');
    assert.ok(report.maxFreezeMs <= MAX_FREEZE_MS, `currentTime froze for ${report.maxFreezeMs} ms`);
    assert.ok(g2g.median <= SANITY_BOUND_MS, `glass-to-glass median ${g2g.median} ms > ${SANITY_BOUND_MS} ms`);
    return g2g;
  } finally {
    await source.stop();
  }
}

// Steady state: a viewer arriving once the stream has run a few seconds. hls.js starts 3 target
// durations (6 s) before the live edge, so with 9 segments listed it does not load the first
// one. This run gives the HLS-TS glass-to-glass figure.
test(`hls.js (default config) plays HLS-TS from an SRT-published H.264+AAC strip for ${SECONDS} s: no stall, audio decoded`,
  { timeout: (SECONDS + 90) * 1000 },
  () => playsHlsTs({ id: 'live/ts-srt', name: 'srt', seconds: SECONDS, joinAfterSegments: 9 }));

// A viewer arriving as soon as the channel is live: hls.js then loads the stream's first TS
// segment too, and builds its source buffers from it.
test('hls.js (default config) joining HLS-TS as soon as an SRT publish goes live plays with audio',
  { timeout: (EARLY_SECONDS + 90) * 1000 },
  () => playsHlsTs({ id: 'live/ts-srt-early', name: 'srt-early-join', seconds: EARLY_SECONDS, joinAfterSegments: 0 }));
