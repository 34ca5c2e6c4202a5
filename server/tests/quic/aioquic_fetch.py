"""HTTP/3 GETs with aioquic (an independent QUIC + HTTP/3 stack) for server/tests/http3.rs.

usage: aioquic_fetch.py HOST PORT CAFILE PATH...
Fetches each PATH in turn on one QUIC connection and prints, per path, one line of key=value
pairs: path, status, bytes, headers_ms (request sent -> response headers), done_ms, reads
(DATA arrivals), alpn. A PATH of the form `next-part:/live/x/hls/video.m3u8` fetches that LL-HLS
media playlist, then a blocking reload for the part after its last one (held by the server
until the part exists: this lines the client up with a part that just completed), then a
second one for the part after that (held for about a part duration), then that part: four
lines.
"""

import asyncio
import sys
import time

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.pending = {}

    def quic_event_received(self, event):
        for ev in self.h3.handle_event(event):
            req = self.pending.get(getattr(ev, "stream_id", None))
            if req is None:
                continue
            if isinstance(ev, HeadersReceived):
                req["headers"] = dict(ev.headers)
                req["headers_at"] = time.monotonic()
            elif isinstance(ev, DataReceived):
                req["body"] += ev.data
                req["reads"] += 1
            if getattr(ev, "stream_ended", False) and not req["done"].done():
                req["done"].set_result(None)

    async def get(self, authority, path):
        stream_id = self._quic.get_next_available_stream_id()
        req = {"headers": {}, "headers_at": None, "body": b"", "reads": 0,
               "done": asyncio.get_running_loop().create_future(), "start": time.monotonic()}
        self.pending[stream_id] = req
        self.h3.send_headers(stream_id, [
            (b":method", b"GET"), (b":scheme", b"https"),
            (b":authority", authority.encode()), (b":path", path.encode()),
        ], end_stream=True)
        self.transmit()
        await asyncio.wait_for(req["done"], 15)
        return req


def last_part(playlist):
    """(msn, part index) of the last EXT-X-PART in an LL-HLS media playlist."""
    msn, parts, last = 0, 0, None
    for line in playlist.splitlines():
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            msn = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-PART:"):
            last = (msn, parts)
            parts += 1
        elif line and not line.startswith("#"):
            msn, parts = msn + 1, 0
    return last


async def main(host, port, cafile, paths):
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name="localhost")
    config.load_verify_locations(cafile)
    async with connect(host, port, configuration=config, create_protocol=Client) as client:

        async def fetch(path):
            r = await client.get(f"localhost:{port}", path)
            ms = lambda t: round((t - r["start"]) * 1000)
            print(f"path={path} status={r['headers'].get(b':status', b'?').decode()} "
                  f"bytes={len(r['body'])} headers_ms={ms(r['headers_at'])} "
                  f"done_ms={ms(time.monotonic())} reads={r['reads']} "
                  f"alpn={client._quic.tls.alpn_negotiated}", flush=True)
            return r

        for path in paths:
            if not path.startswith("next-part:"):
                await fetch(path)
                continue
            playlist = path.split(":", 1)[1]
            msn, part = last_part((await fetch(playlist))["body"].decode())
            for _ in range(2):
                r = await fetch(f"{playlist}?_HLS_msn={msn}&_HLS_part={part + 1}")
                msn, part = last_part(r["body"].decode())
            await fetch(f"{playlist.rsplit('/', 1)[0]}/video/{msn}.{part}.m4s")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]))
