"""A scripted WHEP viewer (aiortc): POSTs a recvonly H.264 + Opus offer to a WHEP endpoint,
receives media until it has enough decoded frames (or its time runs out), DELETEs the session and
prints what it got, one `key=value` per line, for server/tests/whip_whep.rs to assert on.

usage: whep_viewer.py URL --seconds S --video-frames N --audio-frames M
exit status: 0 when both counts were reached, 1 otherwise, 2 when the server refused the offer.

aioice leaves 127.0.0.1 out of its host candidates, so gathering is pinned to loopback, and there
is no STUN server: the test network is loopback only.
"""

import argparse
import array
import asyncio
import math
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcconfiguration import RTCBundlePolicy

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


def http(method, url, body=None, content_type=None):
    """One blocking request; returns (status, headers, body) for 2xx and 4xx alike."""
    headers = {"Content-Type": content_type} if content_type else {}
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--video-frames", type=int, default=60)
    ap.add_argument("--audio-frames", type=int, default=50)
    a = ap.parse_args()
    deadline = time.monotonic() + a.seconds

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    video = pc.addTransceiver("video", direction="recvonly")
    video.setCodecPreferences(
        [c for c in RTCRtpReceiver.getCapabilities("video").codecs if c.mimeType in ("video/H264", "video/rtx")]
    )
    pc.addTransceiver("audio", direction="recvonly")
    counts = {"video": 0, "audio": 0}
    facts = {}
    energy = {"squares": 0.0, "samples": 0}
    readers = []

    async def read(track):
        try:
            while True:
                frame = await track.recv()
                counts[track.kind] += 1
                if track.kind == "video":
                    facts["width"], facts["height"] = frame.width, frame.height
                else:
                    facts["sample_rate"] = frame.sample_rate
                    facts["channels"] = len(frame.layout.channels)
                    facts["audio_format"] = frame.format.name
                    if frame.format.name == "s16":  # aiortc's Opus decoder: packed s16
                        pcm = array.array("h", bytes(frame.planes[0]))
                        energy["squares"] += sum(x * x for x in pcm)
                        energy["samples"] += len(pcm)
        except MediaStreamError:
            pass

    pc.on("track", lambda t: readers.append(asyncio.ensure_future(read(t))))
    await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers fully: no trickle
    status, headers, body = await asyncio.to_thread(
        http, "POST", a.url, pc.localDescription.sdp.encode(), "application/sdp"
    )
    print(f"post_status={status}")
    if status != 201:
        print(f"post_body={body.decode(errors='replace').strip()}")
        await pc.close()
        return 2
    location = urllib.parse.urljoin(a.url, headers["Location"])
    print(f"location={headers['Location']}")
    print(f"etag={headers.get('ETag')}")
    await pc.setRemoteDescription(RTCSessionDescription(body.decode(), "answer"))

    while time.monotonic() < deadline:
        if counts["video"] >= a.video_frames and counts["audio"] >= a.audio_frames:
            break
        await asyncio.sleep(0.1)
    print(f"ice_state={pc.iceConnectionState}")
    print(f"video_frames={counts['video']}")
    print(f"audio_frames={counts['audio']}")
    if energy["samples"]:
        # RMS relative to full scale: a 440 Hz tone is far from silence (0) and from clipping (1).
        facts["audio_rms"] = "%.4f" % (math.sqrt(energy["squares"] / energy["samples"]) / 32768)
    for k, v in sorted(facts.items()):
        print(f"{k}={v}")
    status, _, _ = await asyncio.to_thread(http, "DELETE", location)
    print(f"delete_status={status}")
    await pc.close()
    for r in readers:
        r.cancel()
    ok = counts["video"] >= a.video_frames and counts["audio"] >= a.audio_frames
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
