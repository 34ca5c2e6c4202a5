// `sluice demo` works for a new user with no encoder: the dashboard lists live/demo, and
// clicking its Play button plays it (currentTime advances at least 5 s).

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Harness, newPage, waitForChannel } from './harness.mjs';

const h = new Harness();
after(() => h.close());

test('sluice demo: dashboard lists live/demo and its preview plays >= 5 s', { timeout: 120000 }, async () => {
  const sluice = await h.startSluice('demo');
  await waitForChannel(sluice.baseUrl, 'live/demo', 20000);
  const browser = await h.launchChromium();
  const log = [];
  const page = await newPage(browser, log);
  await page.goto(`${sluice.baseUrl}/`);
  const row = page.locator('tr[data-id="live/demo"]');
  await row.waitFor({ timeout: 10000 });
  assert.match(await row.innerText(), /live\/demo/);
  await row.locator('button', { hasText: 'Play' }).click();

  const started = await page.waitForFunction(() => {
    const v = document.getElementById('player');
    return v.currentTime > 0 && !v.paused && v.currentTime;
  }, null, { timeout: 30000 }).then((handle) => handle.jsonValue()).catch((err) => {
    throw new Error(`${err.message}\npage log:\n${log.join('\n')}\nserver:\n${sluice.child.tail}`);
  });
  await page.waitForFunction((t0) => document.getElementById('player').currentTime >= t0 + 5, started, { timeout: 20000 })
    .catch(async (err) => {
      const t = await page.evaluate(() => document.getElementById('player').currentTime);
      throw new Error(`currentTime went from ${started} to ${t} only: ${err.message}\n${log.join('\n')}`);
    });
  const state = await page.evaluate(() => ({
    url: location.search, lowLatencyMode: window.sluicePlayer && window.sluicePlayer.lowLatencyMode,
    status: document.getElementById('stat-status').textContent,
    size: [document.getElementById('player').videoWidth, document.getElementById('player').videoHeight],
  }));
  console.log(`demo played from ${started.toFixed(2)} s for >= 5 s: ${JSON.stringify(state)}`);
  assert.equal(state.url, '?play=live/demo');
  assert.ok(state.size[0] > 0 && state.size[1] > 0, 'video has a size');
});
