"""A scripted WHIP publisher (aiortc): POSTs a sendonly H.264 + Opus offer, sends synthetic media
(aiortc's 640x480 test video, a 440 Hz tone) for a while, then DELETEs its session and prints
what happened, one `key=value` per line, for server/tests/whip_whep.rs to assert on.

usage: whip_publisher.py URL --seconds S [--token T]
exit status: 0 when ICE connected and the session was deleted, 1 otherwise, 2 when the server
refused the offer.

aioice leaves 127.0.0.1 out of its host candidates, so gathering is pinned to loopback, and there
is no STUN server: the test network is loopback only.
"""

import argparse
import asyncio
import fractions
import math
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import aioice.ice
import av
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from aiortc.rtcconfiguration import RTCBundlePolicy

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


class Tone(AudioStreamTrack):
    """20 ms frames of a 440 Hz sine at 48 kHz stereo, paced in real time."""

    def __init__(self):
        super().__init__()
        self.start = None
        self.sent = 0

    async def recv(self):
        if self.start is None:
            self.start = time.monotonic()
        wait = self.start + self.sent / 48000 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        n = 960
        samples = []
        for i in range(self.sent, self.sent + n):
            v = int(0.125 * 32767 * math.sin(2 * math.pi * 440 * i / 48000))
            samples += [v, v]
        frame = av.AudioFrame(format="s16", layout="stereo", samples=n)
        frame.planes[0].update(b"".join(s.to_bytes(2, "little", signed=True) for s in samples))
        frame.sample_rate = 48000
        frame.pts = self.sent
        frame.time_base = fractions.Fraction(1, 48000)
        self.sent += n
        return frame


def http(method, url, body=None, headers=None):
    """One blocking request; returns (status, headers, body) for 2xx and 4xx alike."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--token")
    a = ap.parse_args()
    auth = {"Authorization": "Bearer " + a.token} if a.token else {}

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    video = pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
    video.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType in ("video/H264", "video/rtx")]
    )
    pc.addTransceiver(Tone(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers fully: no trickle
    status, headers, body = await asyncio.to_thread(
        http, "POST", a.url, pc.localDescription.sdp.encode(), {"Content-Type": "application/sdp", **auth}
    )
    print(f"post_status={status}", flush=True)
    if status != 201:
        print(f"post_body={body.decode(errors='replace').strip()}")
        await pc.close()
        return 2
    location = urllib.parse.urljoin(a.url, headers["Location"])
    print(f"location={headers['Location']}", flush=True)
    await pc.setRemoteDescription(RTCSessionDescription(body.decode(), "answer"))

    connected = False
    deadline = time.monotonic() + a.seconds
    while time.monotonic() < deadline:
        connected = connected or pc.iceConnectionState == "completed"
        await asyncio.sleep(0.1)
    print(f"ice_connected={connected}")
    status, _, _ = await asyncio.to_thread(http, "DELETE", location, None, auth)
    print(f"delete_status={status}")
    await pc.close()
    return 0 if connected and status == 200 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
