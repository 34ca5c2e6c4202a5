#!/usr/bin/env python3
"""Builds ffmpeg-x264-aac-scte35.ts: ffmpeg-x264-aac.ts plus SCTE-35 cues (ffmpeg cannot write them).

The PMT gains a program-level registration descriptor 'CUEI' and an elementary stream of
stream_type 0x86 on PID 0x1F0 (ANSI/SCTE 35 section 8.1); hand-built splice_info_sections are
inserted on that PID just before the first packet of chosen video frames (decode order), each
signalling the presentation time of a later frame:

  before frame 10: splice_insert, event 0x1001, cue-out, break_duration 30 s (auto-return),
                   splice at the PTS of frame 30 (the second IDR)
  before frame 20: time_signal at the PTS of frame 40, written as pts_time = PTS - 90000 with
                   pts_adjustment = 90000, with a segmentation_descriptor (type 0x34, provider
                   placement opportunity start, 60 s, an ADI UPID of 150 bytes so that the
                   section spans two TS packets)
  before frame 40: splice_insert, event 0x1002, cue-in (out_of_network 0), splice_immediate
  before frame 50: splice_null (heartbeat)

Usage: python3 make-scte35-ts.py ffmpeg-x264-aac.ts ffmpeg-x264-aac-scte35.ts
"""
import sys

PMT_PID, VIDEO_PID, SCTE_PID = 0x1000, 0x100, 0x1F0


def crc32(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def with_crc(section):
    return section + crc32(section).to_bytes(4, "big")


def splice_time(pts):
    return bytes([0xFE | (pts >> 32)]) + (pts & 0xFFFFFFFF).to_bytes(4, "big")


def splice_info(command_type, command, descriptors=b"", pts_adjustment=0):
    body = bytes([0])  # protocol_version
    body += bytes([pts_adjustment >> 32]) + (pts_adjustment & 0xFFFFFFFF).to_bytes(4, "big")
    body += bytes([0xFF])  # cw_index
    body += bytes([0xFF, 0xF0 | (len(command) >> 8), len(command) & 0xFF])  # tier, command length
    body += bytes([command_type]) + command
    body += len(descriptors).to_bytes(2, "big") + descriptors
    length = len(body) + 4
    return with_crc(bytes([0xFC, 0x30 | (length >> 8), length & 0xFF]) + body)


def splice_insert(event_id, out_of_network, pts=None, duration=None):
    c = event_id.to_bytes(4, "big") + bytes([0x7F])
    immediate = pts is None
    flags = (out_of_network << 7) | (1 << 6) | ((duration is not None) << 5) | (immediate << 4) | 0x0F
    c += bytes([flags])
    if not immediate:
        c += splice_time(pts)
    if duration is not None:
        c += bytes([0xFE | (duration >> 32)]) + (duration & 0xFFFFFFFF).to_bytes(4, "big")
    return c + (1).to_bytes(2, "big") + bytes([0, 0])


def segmentation_descriptor(event_id, duration, upid_type, upid, type_id):
    d = b"CUEI" + event_id.to_bytes(4, "big") + bytes([0x7F])
    d += bytes([0b11000000 | 0b00111111])  # program segmentation, duration, not restricted
    d += duration.to_bytes(5, "big")
    d += bytes([upid_type, len(upid)]) + upid + bytes([type_id, 1, 1])
    return bytes([0x02, len(d)]) + d


def packetize(section, cc):
    out = []
    data = bytes([0]) + section  # pointer_field
    first = True
    while data:
        chunk, data = data[:184], data[184:]
        chunk += b"\xFF" * (184 - len(chunk))
        header = bytes([0x47, (0x40 if first else 0) | (SCTE_PID >> 8), SCTE_PID & 0xFF, 0x10 | cc])
        out.append(header + chunk)
        cc = (cc + 1) & 0x0F
        first = False
    return out, cc


def rewrite_pmt(packet):
    off = 4 + 1 if (packet[3] & 0x30) == 0x10 else None
    assert off is not None and packet[1] & 0x40 and packet[4] == 0
    length = ((packet[6] & 0x0F) << 8) | packet[7]
    section = packet[5:8 + length]
    assert section[10] & 0x0F == 0 and section[11] == 0, "expected no program descriptors"
    streams = section[12:-4]
    new = bytearray(section[:10]) + bytes([0xF0, 6]) + b"\x05\x04CUEI" + streams
    new += bytes([0x86, 0xE0 | (SCTE_PID >> 8), SCTE_PID & 0xFF, 0xF0, 0x00])
    new[1] = 0xB0 | ((len(new) + 4 - 3) >> 8)
    new[2] = (len(new) + 4 - 3) & 0xFF
    new = with_crc(bytes(new))
    out = packet[:5] + new
    return out + b"\xFF" * (188 - len(out))


def main(src, dst):
    data = open(src, "rb").read()
    packets = [data[i:i + 188] for i in range(0, len(data), 188)]
    # Video PTS per frame in decode order.
    pts = []
    for p in packets:
        pid = ((p[1] & 0x1F) << 8) | p[2]
        if pid == VIDEO_PID and p[1] & 0x40:
            off = 4 if (p[3] & 0x30) == 0x10 else 5 + p[4]
            t = p[off + 9:off + 14]
            pts.append(((t[0] >> 1 & 7) << 30) | (t[1] << 22) | ((t[2] >> 1) << 15) | (t[3] << 7) | (t[4] >> 1))
    upid = b"SIGNAL:" + b"sluice-scte35-test-".ljust(143, b"x")
    cues = {
        10: splice_info(5, splice_insert(0x1001, 1, pts=pts[30], duration=30 * 90000)),
        20: splice_info(6, splice_time(pts[40] - 90000),
                        segmentation_descriptor(0x2001, 60 * 90000, 0x09, upid, 0x34),
                        pts_adjustment=90000),
        40: splice_info(5, splice_insert(0x1002, 0)),
        50: splice_info(0, b""),
    }
    out, frame, cc = [], -1, 0
    for p in packets:
        pid = ((p[1] & 0x1F) << 8) | p[2]
        if pid == PMT_PID:
            p = rewrite_pmt(p)
        if pid == VIDEO_PID and p[1] & 0x40:
            frame += 1
            if frame in cues:
                new, cc = packetize(cues[frame], cc)
                out.extend(new)
        out.append(p)
    open(dst, "wb").write(b"".join(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
