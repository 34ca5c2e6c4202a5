// The independent conformance checker (`sluice-check`, section A of RULES.md) judges a live
// Sluice fed by real ffmpeg: every MUST/PROFILE rule passes over 20 s of playlist reloads,
// blocking requests, parts and segments; then, with the encoder paused (SIGSTOP), a held
// request gets 503 after three target durations (LLHLS-DD-05).
// Over SRT ingest (ffmpeg MPEG-TS caller), for CHECK_SRT_SECONDS: the classic HLS-TS endpoint
// (`/ts/index.m3u8`) of an H.264 stream passes section A and section B (TS-01..TS-08, TS-10), and
// the LL-HLS endpoint of an H.265 (x265) stream passes section A and the CMAF-HEVC rules.
// The LL-DASH endpoint (`/dash/index.mpd`) of an RTMP x264 publish passes section D
// (`sluice-check dash`, CHECK_DASH_SECONDS): zero FAIL verdicts.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Harness, ROOT, sleep, waitForChannel, writeResults } from './harness.mjs';

const CHECK = process.env.SLUICE_CHECK_BIN || path.join(ROOT, 'target/release/sluice-check');
const SECONDS = Number(process.env.CHECK_SECONDS || 20);
const SRT_SECONDS = Number(process.env.CHECK_SRT_SECONDS || 12);
const DASH_SECONDS = Number(process.env.CHECK_DASH_SECONDS || 20);

function run(args, timeoutMs) {
  return new Promise((resolve) => {
    const p = spawn(CHECK, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out }); });
  });
}

const h = new Harness();
let sluice;
before(async () => { sluice = await h.startSluice('serve'); });
after(() => h.close());

for (const variant of ['zerolatency', 'obs']) {
  test(`sluice-check passes section A against live ffmpeg input (${variant})`, { timeout: (SECONDS + 120) * 1000 }, async () => {
    const id = `live/check-${variant}`;
    const source = h.startStripSource({ epoch0: Date.now(), targets: [sluice.rtmpUrl(id)], variant, audio: true });
    try {
      await waitForChannel(sluice.baseUrl, id, 20000);
      await sleep(3000); // a few segments in the window
      const url = `${sluice.baseUrl}/${id}/hls/index.m3u8`;
      const results = path.join(ROOT, 'target/results');
      fs.mkdirSync(results, { recursive: true });
      const json = path.join(results, `checker-${variant}.json`);
      const r = await run(['hls', url, '--duration', String(SECONDS), '--json', json], (SECONDS + 90) * 1000);
      const lines = r.out.split('\n');
      for (const l of lines.filter((l) => /^(FAIL|WARN|MEASURE|SUMMARY)/.test(l))) console.log(`# ${l}`);
      writeResults(`checker-${variant}-summary`, { code: r.code, summary: lines.filter((l) => l.startsWith('SUMMARY')) });
      assert.equal(r.code, 0, `sluice-check exited ${r.code}:\n${lines.filter((l) => /^(FAIL|error|usage)/i.test(l)).join('\n') || r.out.slice(-2000)}`);
      assert.ok(lines.some((l) => l.startsWith('PASS LLHLS-DD-02')), 'blocking reload rule ran');

      // Pause the encoder: the channel stops growing while the publisher stays connected.
      process.kill(-source.pid, 'SIGSTOP');
      try {
        const stall = await run(['hls-stall', url], 60000);
        for (const l of stall.out.split('\n').filter((l) => /^(PASS|FAIL|SKIP) LLHLS-DD-05/.test(l))) console.log(`# ${l}`);
        assert.equal(stall.code, 0, stall.out);
        assert.ok(/PASS LLHLS-DD-05/.test(stall.out), stall.out);
      } finally {
        process.kill(-source.pid, 'SIGCONT');
      }
    } finally {
      await source.stop();
    }
  });
}

/** Runs `sluice-check hls URL` for `seconds`, prints its verdict lines and returns them with the
 *  JSON report. */
async function checkHls(url, name, seconds) {
  const json = path.join(ROOT, 'target/results', `checker-${name}.json`);
  fs.mkdirSync(path.dirname(json), { recursive: true });
  fs.rmSync(json, { force: true });
  const r = await run(['hls', url, '--duration', String(seconds), '--json', json], (seconds + 90) * 1000);
  const lines = r.out.split('\n');
  for (const l of lines.filter((l) => /^(FAIL|WARN|MEASURE|SUMMARY)/.test(l))) console.log(`# [${name}] ${l}`);
  const report = fs.existsSync(json) ? JSON.parse(fs.readFileSync(json, 'utf8')) : null;
  return { ...r, lines, report };
}

const verdict = (report, id) => (report.results.find((x) => x.id === id) || {}).verdict;

const SRT_CASES = [
  {
    name: 'srt-h264-ts', variant: 'zerolatency', endpoint: 'ts', codec: /^avc1\./, format: 'MPEG-TS',
    mustPass: ['TS-01', 'TS-02', 'TS-03', 'TS-04', 'TS-05', 'TS-06', 'TS-07', 'TS-08', 'TS-10'],
  },
  {
    name: 'srt-hevc-llhls', variant: 'hevc', endpoint: 'hls', codec: /^(hvc1|hev1)\./, format: 'fMP4',
    mustPass: ['LLHLS-DD-02', 'CMAF-01', 'CMAF-05', 'CMAF-09', 'CMAF-13'],
  },
];

for (const c of SRT_CASES) {
  test(`sluice-check passes against the ${c.endpoint} endpoint of an SRT-published ${c.variant} stream`, { timeout: (SRT_SECONDS + 120) * 1000 }, async () => {
    const id = `live/check-${c.name}`;
    const source = h.startStripSource({ epoch0: Date.now(), targets: [sluice.srtUrl(id)], variant: c.variant, audio: true });
    try {
      const channel = await waitForChannel(sluice.baseUrl, id, 20000);
      assert.match(channel.video.codec, c.codec, `channel video codec: ${JSON.stringify(channel.video)}`);
      await sleep(3000); // a few segments in the window
      const r = await checkHls(`${sluice.baseUrl}/${id}/${c.endpoint}/index.m3u8`, c.name, SRT_SECONDS);
      writeResults(`checker-${c.name}-summary`, { code: r.code, summary: r.lines.filter((l) => l.startsWith('SUMMARY')) });
      assert.ok(r.report, `no JSON report; output:\n${r.out.slice(-2000)}`);
      const fails = r.report.results.filter((x) => x.verdict === 'FAIL');
      assert.deepEqual(fails.map((x) => `${x.id}: ${x.message}`), [], 'FAIL verdicts');
      assert.equal(r.report.summary.fail, 0, JSON.stringify(r.report.summary));
      assert.equal(r.code, 0, `sluice-check exited ${r.code}:\n${r.lines.filter((l) => /^(FAIL|error|usage)/i.test(l)).join('\n') || r.out.slice(-2000)}`);
      // The rules that matter for this endpoint ran and passed (not skipped as not applicable).
      for (const rule of c.mustPass) assert.equal(verdict(r.report, rule), 'PASS', `${rule} verdict`);
      const formats = Object.entries(r.report.measurements).filter(([k]) => k.endsWith('segment format'));
      assert.ok(formats.length > 0 && formats.every(([, v]) => v === c.format), `segment formats: ${JSON.stringify(formats)}`);
      assert.ok(source.running, `ffmpeg source exited during the run: ${source.tail}`);
    } finally {
      await source.stop();
    }
  });
}

test('sluice-check dash passes section D against the LL-DASH endpoint of a live ffmpeg publish', { timeout: (DASH_SECONDS + 120) * 1000 }, async () => {
  const id = 'live/check-dash';
  const source = h.startStripSource({ epoch0: Date.now(), targets: [sluice.rtmpUrl(id)], variant: 'zerolatency', audio: true });
  try {
    await waitForChannel(sluice.baseUrl, id, 20000);
    await sleep(3000); // a few segments in the window
    const json = path.join(ROOT, 'target/results', 'checker-dash.json');
    fs.mkdirSync(path.dirname(json), { recursive: true });
    fs.rmSync(json, { force: true });
    const r = await run(['dash', `${sluice.baseUrl}/${id}/dash/index.mpd`, '--duration', String(DASH_SECONDS), '--json', json], (DASH_SECONDS + 90) * 1000);
    const lines = r.out.split('\n');
    for (const l of lines.filter((l) => /^(FAIL|WARN|MEASURE|SUMMARY)/.test(l))) console.log(`# [dash] ${l}`);
    writeResults('checker-dash-summary', { code: r.code, summary: lines.filter((l) => l.startsWith('SUMMARY')) });
    const report = fs.existsSync(json) ? JSON.parse(fs.readFileSync(json, 'utf8')) : null;
    assert.ok(report, `no JSON report; output:\n${r.out.slice(-2000)}`);
    const fails = report.results.filter((x) => x.verdict === 'FAIL');
    assert.deepEqual(fails.map((x) => `${x.id}: ${x.message}`), [], 'FAIL verdicts');
    assert.equal(r.code, 0, `sluice-check exited ${r.code}`);
    // The timed rules ran (not skipped).
    for (const rule of ['LLDASH-ST-02', 'LLDASH-UTC-01', 'LLDASH-CTE-01']) assert.equal(verdict(report, rule), 'PASS', `${rule} verdict`);
    assert.ok(source.running, `ffmpeg source exited during the run: ${source.tail}`);
  } finally {
    await source.stop();
  }
});
