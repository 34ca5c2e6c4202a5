// Test harness for real-client runs: starts `target/release/sluice`, an ffmpeg source and a
// headless Debian Chromium (playwright-core), and stops all of them on success, failure, signal
// or exit. Every child runs in its own process group and is killed as a group: no orphans.
//
//   const h = new Harness();            // one per test; `await h.close()` in t.after()
//   const sluice = await h.startSluice('serve');   // or 'demo'
//   h.startStripSource({ epoch0, targets: [sluice.rtmpUrl('live/g2g')] });  // or srtUrl / whipUrl
//   const browser = await h.launchChromium();   // { extraArgs: WEBRTC_CHROMIUM_ARGS } for WHEP

import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { stripSourceArgs, targetFormat } from './strip.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SLUICE_BIN = process.env.SLUICE_BIN || path.join(ROOT, 'target/release/sluice');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** FFmpeg 9 (the only one with a WHIP muxer) from the project venv that
 *  `scripts/install-deps.sh` creates (imageio-ffmpeg). */
export function ffmpegWithWhip() {
  const venv = process.env.SLUICE_WEBRTC_VENV || path.join(ROOT, '.venv-webrtc');
  return execFileSync(path.join(venv, 'bin/python'),
    ['-c', 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())'], { encoding: 'utf8' }).trim();
}
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
];
// Added for WebRTC (WHEP/WHIP) pages only: Chromium leaves the loopback interface out of ICE
// gathering unless allowed, and hides host candidates behind mDNS names Sluice cannot resolve.
export const WEBRTC_CHROMIUM_ARGS = Object.freeze([
  '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
]);

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Children still alive when the process exits are killed synchronously (their whole group).
const live = new Set();
const tmpDirs = new Set();
function killGroupSync(child, signal) {
  try { process.kill(-child.pid, signal); } catch { /* already gone */ }
}
process.on('exit', () => {
  for (const c of live) killGroupSync(c, 'SIGKILL');
  for (const d of tmpDirs) { try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ } }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    for (const c of live) killGroupSync(c, 'SIGKILL');
    // playwright kills its Chromium on the same signal; let it go before removing its profile.
    setTimeout(() => process.exit(130), 1000);
  });
}

/** A child process in its own process group, keeping the tail of its output for diagnostics. */
export class Child {
  constructor(name, cmd, args, opts = {}) {
    this.name = name;
    this.tail = '';
    this.proc = spawn(cmd, args, { cwd: opts.cwd || ROOT, env: opts.env || process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.pid = this.proc.pid;
    live.add(this.proc);
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => { live.delete(this.proc); this.exitStatus = { code, signal }; resolve(this.exitStatus); });
      this.proc.once('error', (err) => { live.delete(this.proc); this.exitStatus = { error: err.message }; resolve(this.exitStatus); });
    });
    const keep = (chunk) => { this.tail = (this.tail + chunk.toString()).slice(-8000); };
    this.proc.stdout.on('data', keep);
    this.proc.stderr.on('data', keep);
  }

  get running() { return this.exitStatus === undefined; }

  /** SIGTERM the group, SIGKILL it after `graceMs`. Resolves when the leader has exited. */
  async stop(graceMs = 3000) {
    if (!this.running) return this.exitStatus;
    killGroupSync(this.proc, 'SIGTERM');
    const timer = setTimeout(() => killGroupSync(this.proc, 'SIGKILL'), graceMs);
    const status = await Promise.race([this.exited, sleep(graceMs + 2000).then(() => ({ timeout: true }))]);
    clearTimeout(timer);
    killGroupSync(this.proc, 'SIGKILL'); // stragglers in the group
    return status;
  }
}

/** Resolves with the first match of `regex` on the child's stdout, or rejects on exit/timeout. */
/** Base64 SHA-256 of a PEM certificate's SubjectPublicKeyInfo (what Chromium pins). */
export function spkiFingerprint(pemFile) {
  const spki = new crypto.X509Certificate(fs.readFileSync(pemFile)).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(spki).digest('base64');
}

function waitForLine(child, regex, timeoutMs) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => { cleanup(); reject(new Error(`${child.name}: no line matching ${regex} within ${timeoutMs} ms; output:\n${child.tail}`)); }, timeoutMs);
    const onData = (d) => {
      buf += d.toString();
      const m = buf.match(regex);
      if (m) { cleanup(); resolve(m); }
    };
    const onExit = () => { cleanup(); reject(new Error(`${child.name} exited (${JSON.stringify(child.exitStatus)}) before printing ${regex}; output:\n${child.tail}`)); };
    const cleanup = () => { clearTimeout(timer); child.proc.stdout.off('data', onData); child.proc.off('exit', onExit); };
    child.proc.stdout.on('data', onData);
    child.proc.once('exit', onExit);
  });
}

export function summarize(values) {
  const v = values.filter(Number.isFinite).slice().sort((a, b) => a - b);
  if (!v.length) return { n: 0, median: NaN, p90: NaN, min: NaN, max: NaN };
  const q = (p) => v[Math.min(v.length - 1, Math.floor(p * (v.length - 1) + 0.5))];
  return { n: v.length, median: q(0.5), p90: q(0.9), min: v[0], max: v[v.length - 1] };
}

/** Writes `obj` as JSON to target/results/NAME.json and returns the path. */
export function writeResults(name, obj) {
  const dir = path.join(ROOT, 'target/results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(obj, null, 2) + '\n');
  return file;
}

/** Polls `GET /api/v1/channels` until channel `id` is live. */
export async function waitForChannel(baseUrl, id, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${baseUrl}/api/v1/channels`, { signal: AbortSignal.timeout(2000) });
      last = `HTTP ${res.status}`;
      if (res.ok) {
        const body = await res.json();
        const ch = (body.channels || []).find((c) => c.id === id);
        last = JSON.stringify(body).slice(0, 500);
        if (ch && ch.live) return ch;
      }
    } catch (err) { last = err.message; }
    await sleep(250);
  }
  throw new Error(`channel ${id} not live within ${timeoutMs} ms (last answer: ${last})`);
}

export class Harness {
  constructor() {
    this.children = [];
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-runner-'));
    tmpDirs.add(this.tmp);
    this.browsers = [];
  }

  spawn(name, cmd, args, opts) {
    const child = new Child(name, cmd, args, opts);
    this.children.push(child);
    return child;
  }

  /** Starts `sluice serve|demo` on random loopback ports; resolves once both listeners are up. */
  /** `tls: true` also listens with TLS (HTTP/1.1, HTTP/2 and HTTP/3 on one port, development
   *  certificate): the result then has `httpsAddr`, `httpsUrl` and `spki` (the certificate's
   *  SPKI fingerprint for `--ignore-certificate-errors-spki-list`). */
  async startSluice(mode = 'serve', extraArgs = [], { tls = false } = {}) {
    if (!fs.existsSync(SLUICE_BIN)) throw new Error(`${SLUICE_BIN} missing: cargo build --release -p sluice-server`);
    const data = fs.mkdtempSync(path.join(this.tmp, 'data-'));
    const args = [mode, '--http', '127.0.0.1:0', '--rtmp', '127.0.0.1:0', '--srt', '127.0.0.1:0',
      '--https', tls ? '127.0.0.1:0' : 'off', '--data', data, '--web', path.join(ROOT, 'web'), ...extraArgs];
    const child = this.spawn(`sluice ${mode}`, SLUICE_BIN, args, { env: { SLUICE_LOG: 'info', ...process.env } });
    const [http, rtmp, srt, https] = await Promise.all([
      waitForLine(child, /listening http (\S+:\d+)/, 20000),
      waitForLine(child, /listening rtmp (\S+:\d+)/, 20000),
      waitForLine(child, /listening srt (\S+:\d+)/, 20000),
      // Printed once the certificate is loaded (and HTTP/3 is up on the same port).
      tls ? waitForLine(child, /listening h3 (\S+:\d+)/, 20000) : null,
    ]);
    const httpAddr = http[1]; const rtmpAddr = rtmp[1]; const srtAddr = srt[1];
    const httpsAddr = https ? https[1] : null;
    return {
      child, data, httpAddr, rtmpAddr, srtAddr, httpsAddr,
      httpsUrl: httpsAddr ? `https://${httpsAddr}` : null,
      spki: httpsAddr ? spkiFingerprint(path.join(data, 'tls/dev-cert.pem')) : null,
      baseUrl: `http://${httpAddr}`,
      rtmpUrl: (id) => `rtmp://${rtmpAddr}/${id}`,
      // ffmpeg's SRT latency option is in microseconds.
      srtUrl: (id, mode = 'publish') =>
        `srt://${srtAddr}?mode=caller&latency=120000&pkt_size=1316&streamid=${mode}:${id}`,
      whipUrl: (id) => `http://${httpAddr}/${id}/whip`,
    };
  }

  /** Starts the clock-strip source (see strip.mjs) pushing to every URL in `targets`: FLV to
   *  `rtmp://` URLs (`sluice.rtmpUrl(id)`), MPEG-TS to `srt://` URLs (`sluice.srtUrl(id)`),
   *  WebRTC to a WHIP URL (`sluice.whipUrl(id)`, FFmpeg 9). */
  startStripSource({ epoch0, targets, variant = 'zerolatency', durationS, audio = true }) {
    const args = stripSourceArgs({ epoch0, targets, variant, durationS, audio });
    const whip = targets.some((t) => targetFormat(t) === 'whip');
    return this.spawn(`ffmpeg strip ${variant}`, whip ? ffmpegWithWhip() : 'ffmpeg', args);
  }

  /** Headless Debian Chromium with a fresh user-data-dir. Returns a playwright BrowserContext.
   *  `extraArgs` go after CHROMIUM_ARGS (e.g. WEBRTC_CHROMIUM_ARGS for WHEP pages). */
  async launchChromium({ extraArgs = [] } = {}) {
    const userDataDir = fs.mkdtempSync(path.join(this.tmp, 'chromium-'));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs], timeout: 30000,
      viewport: { width: 1280, height: 800 },
    });
    this.browsers.push(context);
    return context;
  }

  /** Stops browsers, then children (last started first), then removes the temp dir. Bounded. */
  async close() {
    for (const b of this.browsers.splice(0)) {
      await Promise.race([b.close().catch(() => {}), sleep(10000)]);
    }
    for (const c of this.children.splice(0).reverse()) await c.stop();
    fs.rmSync(this.tmp, { recursive: true, force: true, maxRetries: 3 });
    tmpDirs.delete(this.tmp);
  }
}

/** Opens a page that logs console errors and page errors into `log` (array of strings). */
export async function newPage(context, log = []) {
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') log.push(`console.${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  return page;
}

/** Records every request `page` makes as { atMs, path, status, headersMs, doneMs, failure }
 *  (times relative to `t0`, a Date.now() value; `headersMs` − `atMs` is time to response
 *  headers, `doneMs` when the body ended: a chunked segment ends long after its headers).
 *  Returns the live array (bounded to the last `max` entries). */
export function recordNetwork(page, t0 = Date.now(), max = 4000) {
  const entries = [];
  const byRequest = new Map();
  const rel = () => Date.now() - t0;
  page.on('request', (req) => {
    let p = req.url();
    try { const u = new URL(p); p = u.pathname + u.search; } catch { /* keep as is */ }
    const e = { atMs: rel(), method: req.method(), path: p, status: null, headersMs: null, doneMs: null, failure: null };
    byRequest.set(req, e);
    entries.push(e);
    if (entries.length > max) entries.shift();
  });
  page.on('response', (res) => {
    const e = byRequest.get(res.request());
    if (e) { e.status = res.status(); e.headersMs = rel(); }
  });
  page.on('requestfinished', (req) => {
    const e = byRequest.get(req);
    if (e) { e.doneMs = rel(); byRequest.delete(req); }
  });
  page.on('requestfailed', (req) => {
    const e = byRequest.get(req);
    if (e) { e.doneMs = rel(); e.failure = req.failure()?.errorText || 'failed'; byRequest.delete(req); }
  });
  return entries;
}

/** The entries of `recordNetwork` whose path matches `pathRegex`, counted by status, and the
 *  bad ones: not 2xx, or failed without a response. A 200 that playwright reports as failed
 *  with net::ERR_ABORTED is not bad: Chromium reports every response body read through
 *  fetch's ReadableStream reader that way, even one read to its end (checked on a complete
 *  chunked body with its terminating zero-length chunk), and DASH players read segments in
 *  progress like that. */
export function summarizeRequests(net, pathRegex) {
  const matching = net.filter((e) => pathRegex.test(e.path));
  const byStatus = {};
  for (const e of matching) {
    const k = e.status ?? (e.failure || 'pending');
    byStatus[k] = (byStatus[k] || 0) + 1;
  }
  const bad = matching.filter((e) => (e.status !== null && (e.status < 200 || e.status >= 300)) || (e.status === null && e.failure));
  return { requests: matching.length, byStatus, bad };
}

/** Every console message of `page` (all levels) with its wall-clock time, bounded. */
export function recordConsole(page, max = 3000) {
  const lines = [];
  page.on('console', (m) => {
    lines.push(`${new Date().toISOString()} ${m.type()}: ${m.text()}`);
    if (lines.length > max) lines.shift();
  });
  return lines;
}
