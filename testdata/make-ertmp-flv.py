#!/usr/bin/env python3
"""Builds an enhanced-RTMP FLV (Veovera E-RTMP v2 ExVideoTagHeader with a FourCC) from an MP4.

Debian 12's ffmpeg 5.1 cannot write HEVC or AV1 into FLV, so the tags are written here from
what ffprobe reads out of an MP4 that ffmpeg muxed: the decoder configuration record
(hvcC/av1C, ffprobe's `extradata`), each packet's bytes, dts, pts and key flag. Audio (AAC)
goes into legacy FLV audio tags (SoundFormat 10).

Usage: make-ertmp-flv.py SOURCE.mp4 FOURCC OUT.flv [--temporal-delimiters]
  FOURCC: hvc1 or av01. --temporal-delimiters (av01 only) puts a Temporal Delimiter OBU
  (0x12 0x00) in front of every temporal unit, as encoders emit them in the low-overhead
  bitstream format (MP4 samples carry none).

Video tags:
  sequence start: 0x80 | KeyFrame<<4 | PacketType 0 (SequenceStart), FourCC, record
  coded frames:   0x80 | FrameType<<4 | PacketType 1 (CodedFrames), FourCC, SI24 cts, data
                  or, when cts is 0 (and always for av01, which has no cts field),
                  PacketType 3 (CodedFramesX) for hvc1 / 1 (CodedFrames) for av01
  end:            0x80 | KeyFrame<<4 | PacketType 2 (SequenceEnd), FourCC
Timestamps are shifted so the earliest dts of any stream is 0, then rounded to milliseconds.
"""

import json
import subprocess
import sys


def probe(path, what, stream):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", stream, what, "-show_data", "-of", "json", path],
        check=True,
        capture_output=True,
    ).stdout
    return json.loads(out)


def hexdump_bytes(dump):
    """ffprobe's `data`/`extradata` hexdump ("00000000: 0101 6000 ...  text") to bytes."""
    out = bytearray()
    for line in dump.strip().splitlines():
        hexpart = line.split(":", 1)[1][:41]
        out += bytes.fromhex(hexpart.replace(" ", ""))
    return bytes(out)


def tag(kind, ts_ms, body):
    """FLV tag: TagType, DataSize UI24, Timestamp UI24 + TimestampExtended, StreamID 0."""
    h = bytes([kind]) + len(body).to_bytes(3, "big")
    h += (ts_ms & 0xFFFFFF).to_bytes(3, "big") + bytes([(ts_ms >> 24) & 0xFF]) + b"\0\0\0"
    return h + body + (11 + len(body)).to_bytes(4, "big")


def main():
    src, fourcc, dst = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
    delimiters = "--temporal-delimiters" in sys.argv[4:]
    assert fourcc in (b"hvc1", b"av01")
    assert not delimiters or fourcc == b"av01"
    vstream = probe(src, "-show_streams", "v:0")["streams"][0]
    astreams = probe(src, "-show_streams", "a:0")["streams"]
    record = hexdump_bytes(vstream["extradata"])
    vpk = probe(src, "-show_packets", "v:0")["packets"]
    apk = probe(src, "-show_packets", "a:0")["packets"] if astreams else []

    def secs(p, key):
        return float(p[key + "_time"])

    start = min(secs(p, "dts") for p in vpk + apk)
    ms = lambda t: int(round((t - start) * 1000))

    events = []  # (dts_ms, order, tag bytes)
    first_ms = ms(secs(vpk[0], "dts"))
    events.append((first_ms, 0, tag(9, first_ms, bytes([0x80 | 1 << 4 | 0]) + fourcc + record)))
    for p in vpk:
        dts = ms(secs(p, "dts"))
        cts = ms(secs(p, "pts")) - dts
        data = hexdump_bytes(p["data"])
        if delimiters:
            data = b"\x12\x00" + data
        frame_type = 1 if "K" in p["flags"] else 2
        if fourcc == b"av01":
            body = bytes([0x80 | frame_type << 4 | 1]) + fourcc + data
        elif cts == 0:
            body = bytes([0x80 | frame_type << 4 | 3]) + fourcc + data
        else:
            body = bytes([0x80 | frame_type << 4 | 1]) + fourcc + (cts & 0xFFFFFF).to_bytes(3, "big") + data
        events.append((dts, 1, tag(9, dts, body)))
    last_ms = ms(secs(vpk[-1], "dts"))
    events.append((last_ms, 3, tag(9, last_ms, bytes([0x80 | 1 << 4 | 2]) + fourcc)))
    if astreams:
        asc = hexdump_bytes(astreams[0]["extradata"])
        a0 = ms(secs(apk[0], "dts"))
        events.append((a0, 0, tag(8, a0, b"\xaf\x00" + asc)))
        for p in apk:
            dts = ms(secs(p, "dts"))
            events.append((dts, 2, tag(8, dts, b"\xaf\x01" + hexdump_bytes(p["data"]))))
    events.sort(key=lambda e: (e[0], e[1]))

    flags = 0x01 | (0x04 if astreams else 0)
    out = b"FLV\x01" + bytes([flags]) + (9).to_bytes(4, "big") + b"\0\0\0\0"
    out += b"".join(e[2] for e in events)
    with open(dst, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
