// Debian nginx + libnginx-mod-rtmp as a peer to measure against: a temporary nginx.conf with RTMP
// in, HLS (MPEG-TS, 1 s fragments, 4 s playlist) and optionally DASH (fragmented MP4, 1 s
// fragments, 4 s playlist) into a temp dir, and an HTTP server (CORS *) that serves them plus a
// minimal hls.js player page (the same page plays both servers in the bench).

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT, sleep } from '../../conformance/runners/harness.mjs';

const HLSJS_DIST = path.join(ROOT, 'web/node_modules/hls.js/dist');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

// A minimal player page served by nginx for both streams: same code, same measurement.
const PLAYER_HTML = `<!doctype html><meta charset="utf-8"><title>g2g player</title>
<video id="player" muted autoplay playsinline style="width:640px"></video>
<script src="/hls.min.js"></script>
<script>
  const q = new URLSearchParams(location.search);
  const video = document.getElementById('player');
  const hls = new Hls({ ...(q.get('ll') === '1' ? { lowLatencyMode: true, backBufferLength: 90 } : {}), debug: q.get('debug') === '1' });
  window.player = hls;
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
  hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) { if (d.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError(); else setTimeout(() => hls.startLoad(), 1000); } });
  hls.loadSource(q.get('src'));
  hls.attachMedia(video);
</script>`;

// nginx-rtmp cuts a DASH fragment at the first keyframe after `DASH_FRAGMENT` (like HLS), so
// with the bench's 1 s GOP (x264 zerolatency) every segment is 1 s long (2 s with --variant obs).
export const DASH_FRAGMENT = '1s';
export const DASH_PLAYLIST_LENGTH = '4s';

/** Starts nginx under harness `h`; resolves once its HTTP side answers. With `dash`, nginx-rtmp
 *  also writes DASH (`dashUrl`). */
export async function startNginx(h, stream, { dash = false } = {}) {
  const dir = fs.mkdtempSync(path.join(h.tmp, 'nginx-'));
  const [rtmpPort, httpPort] = [await freePort(), await freePort()];
  for (const d of ['hls', 'dash', 'www', 'tmp']) fs.mkdirSync(path.join(dir, d));
  const dashConf = dash ? `
      dash on;
      dash_path ${dir}/dash;
      dash_fragment ${DASH_FRAGMENT};
      dash_playlist_length ${DASH_PLAYLIST_LENGTH};` : '';
  fs.writeFileSync(path.join(dir, 'www/player.html'), PLAYER_HTML);
  fs.copyFileSync(path.join(HLSJS_DIST, 'hls.min.js'), path.join(dir, 'www/hls.min.js'));
  const conf = `
load_module /usr/share/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
rtmp {
  server {
    listen 127.0.0.1:${rtmpPort};
    chunk_size 4096;
    application live {
      live on;
      record off;
      hls on;
      hls_path ${dir}/hls;
      hls_fragment 1s;
      hls_playlist_length 4s;${dashConf}
    }
  }
}
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  types { text/html html; application/javascript js; application/vnd.apple.mpegurl m3u8; video/mp2t ts;
    application/dash+xml mpd; video/mp4 m4v; audio/mp4 m4a; }
  server {
    listen 127.0.0.1:${httpPort};
    add_header Access-Control-Allow-Origin * always;
    add_header Cache-Control no-cache always;
    location / { root ${dir}/www; }
    location /hls/ { alias ${dir}/hls/; }
    location /dash/ { alias ${dir}/dash/; }
  }
}
`;
  const confPath = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confPath, conf);
  const child = h.spawn('nginx', 'nginx', ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', confPath]);
  const base = `http://127.0.0.1:${httpPort}`;
  const until = Date.now() + 10000;
  while (Date.now() < until) {
    if (!child.running) throw new Error(`nginx exited: ${fs.readFileSync(path.join(dir, 'error.log'), 'utf8')}`);
    try { if ((await fetch(`${base}/player.html`)).ok) break; } catch { /* not yet */ }
    await sleep(100);
  }
  return { child, base, rtmpUrl: `rtmp://127.0.0.1:${rtmpPort}/live/${stream}`, hlsUrl: `${base}/hls/${stream}.m3u8`, dashUrl: `${base}/dash/${stream}.mpd` };
}

