// Chromium plays an RTMP-published stream over WHEP (Sluice's own player page at
// GET /{group}/{channel}/whep): video decodes at the source's 30 fps in every quarter of the run,
// AAC→Opus audio arrives with energy and little concealment, and glass to glass is read off the
// rendered frames (clock strip, see strip.mjs; same sampler as the hls.js tests).
//
// The goal is a g2g median <= 65 ms (SRS 7 ~67 ms on this kind of machine); the assertion
// here is a loose 500 ms so a loaded machine does not fail the run: the printed figure is what
// counts. Note the strip source's own 50–90 ms bias (strip.mjs) is inside every figure.
//
// Env: WHEP_SECONDS (default 20) = measured play time.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { Harness, WEBRTC_CHROMIUM_ARGS, newPage, sleep, summarize, waitForChannel, writeResults } from './harness.mjs';
import { LAYOUT, pageSampler } from './strip.mjs';

const SECONDS = Number(process.env.WHEP_SECONDS || 20);
const FPS = 30; // the strip source's frame rate
const AUDIO_RATE = 48000; // Opus clock; totalSamplesReceived counts per channel
const BOUND_MS = 500; // loose g2g median bound; the goal (65 ms) is reported, not asserted
const MIN_FPS_SHARE = 0.8; // decoded frames per quarter vs 30 fps
const MIN_AUDIO_SHARE = 0.9; // received audio samples vs 48000 × seconds
const MAX_CONCEALED_SHARE = 0.1;
const MAX_PLI = 3; // one at start-up is normal for a receiver; a stream of them is not

const h = new Harness();
let sluice;
let browser;
before(async () => {
  sluice = await h.startSluice('serve');
  browser = await h.launchChromium({ extraArgs: WEBRTC_CHROMIUM_ARGS });
});
after(() => h.close());

/** Runs in the page: the inbound-rtp video/audio stats of the WHEP peer connection. */
async function inboundStats() {
  const pc = window.sluiceWhep && window.sluiceWhep.pc;
  const out = { t: performance.now(), video: null, audio: null };
  if (!pc) return out;
  for (const s of (await pc.getStats()).values()) {
    if (s.type !== 'inbound-rtp') continue;
    if (s.kind === 'video') {
      out.video = {
        framesDecoded: s.framesDecoded || 0, framesReceived: s.framesReceived || 0, framesDropped: s.framesDropped || 0,
        keyFramesDecoded: s.keyFramesDecoded || 0, pliCount: s.pliCount || 0, firCount: s.firCount || 0,
        nackCount: s.nackCount || 0, freezeCount: s.freezeCount || 0, totalFreezesDuration: s.totalFreezesDuration || 0,
        packetsLost: s.packetsLost || 0, packetsReceived: s.packetsReceived || 0,
        jitterBufferDelay: s.jitterBufferDelay || 0, jitterBufferEmittedCount: s.jitterBufferEmittedCount || 0,
        totalDecodeTime: s.totalDecodeTime || 0, frameWidth: s.frameWidth || 0, frameHeight: s.frameHeight || 0,
        decoderImplementation: s.decoderImplementation || null,
      };
    } else if (s.kind === 'audio') {
      out.audio = {
        totalSamplesReceived: s.totalSamplesReceived || 0, concealedSamples: s.concealedSamples || 0,
        totalAudioEnergy: s.totalAudioEnergy || 0, audioLevel: s.audioLevel || 0,
        packetsLost: s.packetsLost || 0, packetsReceived: s.packetsReceived || 0,
        jitterBufferDelay: s.jitterBufferDelay || 0, jitterBufferEmittedCount: s.jitterBufferEmittedCount || 0,
      };
    }
  }
  return out;
}

/** Mean jitter-buffer delay in ms between two snapshots of one kind's stats. */
function jitterBufferMs(a, b) {
  const n = b.jitterBufferEmittedCount - a.jitterBufferEmittedCount;
  return n > 0 ? Math.round(((b.jitterBufferDelay - a.jitterBufferDelay) / n) * 10000) / 10 : NaN;
}

test(`Chromium plays RTMP over WHEP: 30 fps video, AAC→Opus audio with energy, g2g median <= ${BOUND_MS} ms`, { timeout: (SECONDS + 60) * 1000 }, async () => {
  const id = 'live/whep-rtmp';
  const epoch0 = Date.now();
  const source = h.startStripSource({ epoch0, targets: [sluice.rtmpUrl(id)], variant: 'zerolatency', audio: true });
  try {
    const channel = await waitForChannel(sluice.baseUrl, id, 20000);
    const liveAt = Date.now();
    const log = [];
    const page = await newPage(browser, log);
    page.on('response', (r) => { if (r.status() >= 400) log.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });
    await page.addInitScript(pageSampler);
    const gotoAt = Date.now();
    await page.goto(`${sluice.baseUrl}/${id}/whep`);
    const fail = async (err) => {
      const w = await page.evaluate(() => window.sluiceWhep && { status: window.sluiceWhep.status, error: window.sluiceWhep.error }).catch(() => null);
      throw new Error(`${err.message}\nwhep: ${JSON.stringify(w)}\npage log:\n${log.join('\n')}\nserver:\n${sluice.child.tail}\nffmpeg:\n${source.tail}`);
    };
    await page.waitForFunction(() => window.sluiceWhep && (window.sluiceWhep.status === 'connected' || window.sluiceWhep.error),
      null, { timeout: 15000 }).catch(fail);
    const connectedAt = Date.now();
    const whep0 = await page.evaluate(() => {
      const w = window.sluiceWhep; const answer = w.pc && w.pc.remoteDescription ? w.pc.remoteDescription.sdp : '';
      // msid lines tell whether Chromium lip-syncs the two tracks (same stream id) or not.
      return { status: w.status, session: w.session, error: w.error, answerMsid: answer.split(/\r?\n/).filter((l) => l.startsWith('a=msid')) };
    });
    assert.equal(whep0.status, 'connected', `WHEP session did not connect: ${JSON.stringify(whep0)}\nserver:\n${sluice.child.tail}`);
    await page.waitForFunction(() => {
      const v = document.getElementById('video');
      return v.videoWidth > 0 && v.currentTime > 0.3 && !v.paused;
    }, null, { timeout: 15000 }).catch(fail);
    const playingAt = Date.now();

    // Measure: the strip on every rendered frame, getStats once a second.
    await page.evaluate(([e0, L]) => window.g2g.start('#video', e0, L), [epoch0, LAYOUT]);
    const series = [await page.evaluate(inboundStats)];
    const t0 = Date.now();
    for (let i = 1; i <= SECONDS; i++) {
      await sleep(Math.max(0, t0 + i * 1000 - Date.now()));
      series.push(await page.evaluate(inboundStats));
    }
    const report = await page.evaluate(() => window.g2g.report());
    const whep = await page.evaluate(() => ({ status: window.sluiceWhep.status, error: window.sluiceWhep.error }));
    await page.close();
    assert.ok(source.running, `ffmpeg source exited during the run: ${source.tail}`);

    const first = series[0]; const last = series[series.length - 1];
    assert.ok(first.video && last.video, `no inbound video stats: ${JSON.stringify(last)}`);
    assert.ok(first.audio && last.audio, `no inbound audio stats: ${JSON.stringify(last)}`);
    const runS = (last.t - first.t) / 1000;

    // Video: decoded frame rate in each quarter of the run, and per 1-s window (reported).
    const quarters = [];
    for (let q = 0; q < 4; q++) {
      const a = series[Math.round((q * SECONDS) / 4)]; const b = series[Math.round(((q + 1) * SECONDS) / 4)];
      quarters.push(Math.round(((b.video.framesDecoded - a.video.framesDecoded) / ((b.t - a.t) / 1000)) * 10) / 10);
    }
    const perSecondFps = series.slice(1).map((s, i) => Math.round(((s.video.framesDecoded - series[i].video.framesDecoded) / ((s.t - series[i].t) / 1000)) * 10) / 10);
    const video = {
      framesDecoded: last.video.framesDecoded - first.video.framesDecoded,
      framesDropped: last.video.framesDropped - first.video.framesDropped,
      keyFramesDecoded: last.video.keyFramesDecoded - first.video.keyFramesDecoded,
      fps: Math.round(((last.video.framesDecoded - first.video.framesDecoded) / runS) * 10) / 10,
      renderedFps: Math.round((report.frames / (report.elapsedMs / 1000)) * 10) / 10,
      quarterFps: quarters, minSecondFps: Math.min(...perSecondFps), perSecondFps,
      pliCount: last.video.pliCount, firCount: last.video.firCount, nackCount: last.video.nackCount,
      freezeCount: last.video.freezeCount - first.video.freezeCount,
      totalFreezesDurationS: Math.round((last.video.totalFreezesDuration - first.video.totalFreezesDuration) * 1000) / 1000,
      packetsLost: last.video.packetsLost - first.video.packetsLost,
      jitterBufferMs: jitterBufferMs(first.video, last.video),
      decodeMsPerFrame: Math.round(((last.video.totalDecodeTime - first.video.totalDecodeTime) / Math.max(1, last.video.framesDecoded - first.video.framesDecoded)) * 10000) / 10,
      size: `${last.video.frameWidth}x${last.video.frameHeight}`, decoder: last.video.decoderImplementation,
    };
    const samples = last.audio.totalSamplesReceived - first.audio.totalSamplesReceived;
    const audio = {
      samples, expected: Math.round(AUDIO_RATE * runS), share: Math.round((samples / (AUDIO_RATE * runS)) * 1000) / 1000,
      energy: Math.round((last.audio.totalAudioEnergy - first.audio.totalAudioEnergy) * 10000) / 10000,
      concealed: last.audio.concealedSamples - first.audio.concealedSamples,
      concealedShare: samples > 0 ? Math.round(((last.audio.concealedSamples - first.audio.concealedSamples) / samples) * 10000) / 10000 : NaN,
      audioLevel: last.audio.audioLevel, packetsLost: last.audio.packetsLost - first.audio.packetsLost,
      jitterBufferMs: jitterBufferMs(first.audio, last.audio),
    };
    const g2g = summarize(report.samples);
    const result = {
      date: new Date().toISOString(), case: 'whep-rtmp-zerolatency', variant: 'zerolatency', audio: true, ingest: 'rtmp',
      seconds: SECONDS, measuredSeconds: Math.round(runS * 10) / 10, channel, whep: { ...whep0, ...whep },
      loadavg: fs.readFileSync('/proc/loadavg', 'utf8').trim(),
      startupMs: { liveToConnected: connectedAt - liveAt, gotoToConnected: connectedAt - gotoAt, gotoToPlaying: playingAt - gotoAt },
      g2g: { median: g2g.median, p90: g2g.p90, min: g2g.min, max: g2g.max, samples: g2g.n },
      video, audio,
      frames: report.frames, rejected: report.rejected, implausible: report.implausible,
      maxFreezeMs: report.maxFreezeMs, playedSeconds: report.playedSeconds, log, series,
    };
    const file = writeResults('whep-rtmp-zerolatency', result);
    console.log(`[whep, rtmp zerolatency] glass-to-glass median=${g2g.median} ms p90=${g2g.p90} ms samples=${g2g.n} ` +
      `(rejected=${report.rejected}) video ${video.fps} fps decoded, ${video.renderedFps} fps rendered, quarters=${JSON.stringify(quarters)} ` +
      `min 1-s=${video.minSecondFps} pli=${video.pliCount} freezes=${video.freezeCount} jb=${video.jitterBufferMs} ms; ` +
      `audio ${(audio.share * 100).toFixed(1)}% of ${AUDIO_RATE}/s energy=${audio.energy} concealed=${(audio.concealedShare * 100).toFixed(2)}% jb=${audio.jitterBufferMs} ms; ` +
      `startup goto→connected ${result.startupMs.gotoToConnected} ms, →playing ${result.startupMs.gotoToPlaying} ms; ` +
      `loadavg=${result.loadavg} -> ${file}`);

    assert.equal(whep.status, 'connected', `WHEP session not connected at the end: ${JSON.stringify(whep)}`);
    for (const [q, fps] of quarters.entries()) {
      assert.ok(fps >= FPS * MIN_FPS_SHARE, `quarter ${q + 1}: ${fps} fps decoded < ${FPS * MIN_FPS_SHARE} (quarters ${JSON.stringify(quarters)})`);
    }
    assert.ok(video.pliCount <= MAX_PLI, `${video.pliCount} PLIs sent (max ${MAX_PLI})`);
    assert.ok(audio.samples >= AUDIO_RATE * runS * MIN_AUDIO_SHARE, `audio samples ${audio.samples} < ${MIN_AUDIO_SHARE} × ${AUDIO_RATE} × ${runS.toFixed(1)} s`);
    assert.ok(audio.energy > 0, `audio energy ${audio.energy}: silent`);
    assert.ok(audio.concealedShare < MAX_CONCEALED_SHARE, `concealed audio ${(audio.concealedShare * 100).toFixed(2)}% >= ${MAX_CONCEALED_SHARE * 100}%`);
    assert.ok(g2g.n >= SECONDS * FPS * 0.5, `too few g2g samples: ${g2g.n} in ${SECONDS} s (rejected=${report.rejected}, implausible=${report.implausible}, frames=${report.frames})`);
    assert.ok(g2g.median <= BOUND_MS, `glass-to-glass median ${g2g.median} ms > ${BOUND_MS} ms`);
  } finally {
    await source.stop();
  }
});
