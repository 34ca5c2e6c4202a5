// hls.js plays Sluice's LL-HLS over HTTP/1.1, HTTP/2 and HTTP/3 from one publish in the same
// run, through the dashboard (`/?play=live/...`): each without stalling and under the
// product's glass-to-glass bound, and each really on its transport, asserted from the page's
// Resource Timing (`nextHopProtocol` of every playlist and part request: `http/1.1`, `h2`,
// `h3`). HTTP/1.1 is the plain listener; HTTP/2 the TLS one with QUIC disabled in Chromium;
// HTTP/3 the same origin with Chromium forced onto QUIC (`--origin-to-force-quic-on`, the
// development certificate trusted by its SPKI fingerprint).
//
// Env: G2G_SECONDS (default 20) = measured play time per transport.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { Harness, newPage, sleep, summarize, waitForChannel, writeResults } from './harness.mjs';
import { LAYOUT, pageSampler } from './strip.mjs';

const SECONDS = Number(process.env.G2G_SECONDS || 20);
const BOUND_MS = 2000;
const INITIAL_GRACE_MS = 3000;
const MAX_INITIAL_STALL_MS = 1500;
const MAX_FREEZE_MS = 1000;
const ID = 'live/transports';

const h = new Harness();
let sluice;
let source;
const epoch0 = Date.now();
before(async () => {
  sluice = await h.startSluice('serve', [], { tls: true });
  source = h.startStripSource({ epoch0, targets: [sluice.rtmpUrl(ID)], variant: 'zerolatency', audio: true });
  await waitForChannel(sluice.baseUrl, ID, 20000);
});
after(async () => {
  if (source) await source.stop();
  await h.close();
});

const CASES = [
  { transport: 'h1', protocol: 'http/1.1', origin: () => sluice.baseUrl, args: () => [] },
  { transport: 'h2', protocol: 'h2', origin: () => sluice.httpsUrl,
    args: () => ['--disable-quic', `--ignore-certificate-errors-spki-list=${sluice.spki}`] },
  { transport: 'h3', protocol: 'h3', origin: () => sluice.httpsUrl,
    args: () => ['--enable-quic', `--origin-to-force-quic-on=${sluice.httpsAddr}`,
      `--ignore-certificate-errors-spki-list=${sluice.spki}`] },
];

const results = {};
for (const { transport, protocol, origin, args } of CASES) {
  test(`hls.js plays LL-HLS over ${transport} (${protocol}): no stall, g2g median <= ${BOUND_MS} ms`, { timeout: (SECONDS + 90) * 1000 }, async () => {
    const browser = await h.launchChromium({ extraArgs: args() });
    const log = [];
    const page = await newPage(browser, log);
    await page.addInitScript(() => performance.setResourceTimingBufferSize(100000));
    await page.addInitScript(pageSampler);
    await page.goto(`${origin()}/?play=${ID}`);
    await page.waitForFunction(() => {
      const v = document.getElementById('player');
      return window.sluicePlayer && v.currentTime > 0.3 && !v.paused;
    }, null, { timeout: 30000 }).catch(async (err) => {
      throw new Error(`${err.message}\npage log:\n${log.join('\n')}\nserver:\n${sluice.child.tail}`);
    });
    await page.evaluate(([e0, L]) => window.g2g.start('#player', e0, L), [epoch0, LAYOUT]);
    await sleep(SECONDS * 1000);
    const report = await page.evaluate(() => window.g2g.report());
    // Every playlist and media request the player made, by the protocol it went over.
    const protocols = await page.evaluate(() => {
      const count = {};
      for (const e of performance.getEntriesByType('resource')) {
        if (!e.name.includes('/hls/')) continue;
        count[e.nextHopProtocol || '(none)'] = (count[e.nextHopProtocol || '(none)'] || 0) + 1;
      }
      return count;
    });
    await page.close();
    await browser.close();

    const g2g = summarize(report.samples);
    const lateStalls = report.waiting.filter((w) => w.atMs > INITIAL_GRACE_MS || w.durationMs > MAX_INITIAL_STALL_MS);
    results[transport] = g2g.median;
    const result = {
      date: new Date().toISOString(), transport, protocols, seconds: SECONDS,
      loadavg: fs.readFileSync('/proc/loadavg', 'utf8').trim(),
      g2g: { median: g2g.median, p90: g2g.p90, min: g2g.min, max: g2g.max, samples: g2g.n },
      waiting: report.waiting, maxFreezeMs: report.maxFreezeMs, playedSeconds: report.playedSeconds, log,
      sameRun: { ...results },
    };
    const file = writeResults(`hlsjs-llhls-${transport}`, result);
    console.log(`[${transport}] glass-to-glass median=${g2g.median} ms p90=${g2g.p90} ms samples=${g2g.n} ` +
      `requests by protocol=${JSON.stringify(protocols)} waiting=${JSON.stringify(report.waiting)} ` +
      `maxFreeze=${report.maxFreezeMs} ms same run so far=${JSON.stringify(results)} loadavg=${result.loadavg} -> ${file}`);

    const total = Object.values(protocols).reduce((a, b) => a + b, 0);
    assert.ok(total >= SECONDS * 4, `too few playlist/part requests seen: ${JSON.stringify(protocols)}`);
    assert.deepEqual(Object.keys(protocols), [protocol], `requests went over ${JSON.stringify(protocols)}, want ${protocol} only`);
    assert.ok(g2g.n >= SECONDS * 30 * 0.5, `too few samples: ${g2g.n} in ${SECONDS} s`);
    assert.deepEqual(lateStalls, [], `stalls after start: ${JSON.stringify(report.waiting)}`);
    assert.ok(report.lateMaxFreezeMs <= MAX_FREEZE_MS, `currentTime froze for ${report.lateMaxFreezeMs} ms after start-up`);
    assert.ok(g2g.median <= BOUND_MS, `glass-to-glass median ${g2g.median} ms > ${BOUND_MS} ms`);
  });
}
