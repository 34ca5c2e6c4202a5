// dashjs in a bare page on Sluice's origin, for the LL-DASH runners: the page, its routing
// through playwright, and what the runners read back from it.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { summarizeRequests } from './harness.mjs';

const require = createRequire(import.meta.url);
const DASHJS = require.resolve('dashjs'); // …/dashjs/dist/modern/umd/dash.all.min.js
// The package's exports hide package.json; it sits three levels above the bundle.
export const DASHJS_VERSION = JSON.parse(fs.readFileSync(new URL('../../../package.json', `file://${DASHJS}`), 'utf8')).version;

/** A bare page on Sluice's origin: dashjs with its defaults (low-latency mode comes from the
 *  MPD's availabilityTimeComplete="false"), live catch-up on, autoplay; dashjs events, errors
 *  and live latency recorded on window. `settings` (dashjs settings) are applied on top. */
export function playerPage(src, logLevel, settings = {}) {
  return `<!doctype html><meta charset="utf-8"><title>dashjs LL-DASH</title>
<video id="player" muted autoplay playsinline></video>
<script src="/__runner/dash.all.min.js"></script>
<script>
"use strict";
window.dashEvents = [];
window.dashErrors = [];
window.liveLatency = [];
window.sampleLatency = false;
const video = document.getElementById("player");
const player = dashjs.MediaPlayer().create();
window.dashPlayer = player;
player.updateSettings({
  debug: { logLevel: dashjs.Debug.${logLevel} },
  streaming: { liveCatchup: { enabled: true } },
});
player.updateSettings(${JSON.stringify(settings)});
const E = dashjs.MediaPlayer.events;
const push = (list, e) => { list.push(e); if (list.length > 500) list.shift(); };
for (const name of ["MANIFEST_LOADED", "STREAM_INITIALIZED", "STREAM_ACTIVATED", "STREAM_DEACTIVATED",
  "PERIOD_SWITCH_STARTED", "PERIOD_SWITCH_COMPLETED", "PLAYBACK_PLAYING", "PLAYBACK_WAITING",
  "PLAYBACK_STALLED", "PLAYBACK_ENDED", "PLAYBACK_SEEKING", "BUFFER_EMPTY", "STREAM_TEARDOWN_COMPLETE"]) {
  player.on(E[name], (e) => push(window.dashEvents, {
    at: Date.now(), type: name,
    period: e && e.toStreamInfo ? e.toStreamInfo.id : (e && e.streamInfo ? e.streamInfo.id : undefined),
    mediaType: e && e.mediaType, time: Math.round(video.currentTime * 1000) / 1000,
  }));
}
player.on(E.ERROR, (e) => push(window.dashErrors, {
  at: Date.now(), code: e.error && e.error.code, message: String((e.error && e.error.message) || e.error || e),
}));
setInterval(() => {
  if (!window.sampleLatency || video.paused) return;
  const l = player.getCurrentLiveLatency();
  if (Number.isFinite(l) && l > 0) window.liveLatency.push(Math.round(l * 1000));
}, 250);
player.initialize(video, ${JSON.stringify(src)}, true);
</script>`;
}

/** Serves the player page and dashjs on Sluice's origin (or any `baseUrl`: the page never
 *  reaches the server); returns the page URL. The page plays channel `id`'s MPD, or `src`. */
export async function routePlayer(page, baseUrl, id, { src = `${baseUrl}/${id}/dash/index.mpd`, settings } = {}) {
  const pageUrl = `${baseUrl}/__runner/dashjs.html`;
  const logLevel = { debug: 'LOG_LEVEL_DEBUG', info: 'LOG_LEVEL_INFO' }[process.env.DASHJS_LOG] || 'LOG_LEVEL_WARNING';
  await page.route(pageUrl, (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: playerPage(src, logLevel, settings) }));
  await page.route(`${baseUrl}/__runner/dash.all.min.js`, (route) => route.fulfill({ status: 200, contentType: 'text/javascript', path: DASHJS }));
  return pageUrl;
}

/** Waits until the video has advanced 0.3 s while playing, or dashjs reported an error. */
export async function waitForPlayback(page, context) {
  const started = await page.waitForFunction(() => {
    const v = document.getElementById('player');
    if (window.dashErrors.length) return 'error';
    if (window.startTime === undefined && !v.paused && v.currentTime > 0) window.startTime = v.currentTime;
    return window.startTime !== undefined && !v.paused && v.currentTime > window.startTime + 0.3 && 'playing';
  }, null, { timeout: 30000, polling: 100 }).then((handle) => handle.jsonValue()).catch((err) => err.message);
  if (started !== 'playing') {
    const errors = await page.evaluate(() => ({ errors: window.dashErrors, events: window.dashEvents })).catch((e) => e.message);
    assert.fail(`dashjs did not start playing (${started}): ${JSON.stringify(errors)}\n${context()}`);
  }
}

export const counters = (page) => page.evaluate(() => {
  const v = document.getElementById('player');
  const q = v.getVideoPlaybackQuality();
  return { at: Date.now(), decoded: q.totalVideoFrames, dropped: q.droppedVideoFrames, audioBytes: v.webkitAudioDecodedByteCount, t: v.currentTime };
});

/** dashjs's view of the stream. */
export const playerState = (page) => page.evaluate(() => {
  const p = window.dashPlayer;
  const safe = (f) => { try { return f(); } catch (e) { return `throws: ${e.message || e}`; } };
  const track = (type) => safe(() => { const t = p.getCurrentTrackFor(type); return t ? { codec: t.codec, id: t.id } : null; });
  return {
    version: safe(() => p.getVersion()),
    lowLatency: safe(() => p.getLowLatencyModeEnabled()),
    targetLiveDelayMs: safe(() => Math.round(p.getTargetLiveDelay() * 1000)),
    liveLatencyMs: safe(() => Math.round(p.getCurrentLiveLatency() * 1000)),
    bufferVideoS: safe(() => p.getBufferLength('video')),
    bufferAudioS: safe(() => p.getBufferLength('audio')),
    audioTracks: safe(() => p.getTracksFor('audio').length),
    video: track('video'), audio: track('audio'),
    playbackRate: document.getElementById('player').playbackRate,
    errors: window.dashErrors, events: window.dashEvents,
  };
});

export const networkSummary = (net) => summarizeRequests(net, /\/dash\//);
