// The independent conformance checker (`sluice-check`, section A of RULES.md) judges a live
// Sluice fed by real ffmpeg: every MUST/PROFILE rule passes over 20 s of playlist reloads,
// blocking requests, parts and segments; then, with the encoder paused (SIGSTOP), a held
// request gets 503 after three target durations (LLHLS-DD-05).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Harness, ROOT, sleep, waitForChannel, writeResults } from './harness.mjs';

const CHECK = process.env.SLUICE_CHECK_BIN || path.join(ROOT, 'target/release/sluice-check');
const SECONDS = Number(process.env.CHECK_SECONDS || 20);

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
