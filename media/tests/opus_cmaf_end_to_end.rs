//! Opus into CMAF, end to end, from real libopus packets: the `testdata/ffmpeg-libopus-*.opus`
//! captures (Ogg Opus from Debian's ffmpeg 5.1, see testdata/README.md) are split into packets
//! by a small Ogg page reader of the test's own, timed by `packet_duration_48k` alone (as WHIP
//! ingest will time RTP payloads), fragmented, and the CMAF output is decoded by ffprobe and
//! ffmpeg. Ogg's granule positions are the independent measure of the TOC durations.
//! Set SLUICE_SKIP_FFPROBE=1 to skip the ffprobe/ffmpeg half on a machine without them.

mod common;

use bytes::Bytes;
use common::tools::{assert_listed, probe_streams, run_on, skip_tools};
use common::{Seg, boxes, child, collect, default_config, fragmented_mp4};
use sluice_media::AccessUnit;
use sluice_media::cmaf::fragmenter::{Fragmenter, SegmentPolicy};
use sluice_media::cmaf::init::init_segment;
use sluice_media::codec::opus::{OpusConfig, packet_duration_48k};
use sluice_media::mux::ts::{TsMuxError, TsMuxer};
use sluice_media::track::{AUDIO_TRACK, CodecConfig, MediaKind, TrackInfo};

const STEREO_96K: &[u8] = include_bytes!("../../testdata/ffmpeg-libopus-stereo-96k.opus");
const MONO_60MS: &[u8] = include_bytes!("../../testdata/ffmpeg-libopus-mono-16k-60ms.opus");
const MONO_120MS: &[u8] = include_bytes!("../../testdata/ffmpeg-libopus-mono-16k-120ms-noise.opus");
const LOWDELAY_2_5MS: &[u8] = include_bytes!("../../testdata/ffmpeg-libopus-lowdelay-2.5ms.opus");

/// One capture and what ffprobe says about it.
struct Capture {
    name: &'static str,
    file: &'static [u8],
    channels: u8,
    pre_skip: u16,
    /// Audio packets (after OpusHead and OpusTags).
    packets: usize,
    /// Frames ffmpeg's decoder outputs, on the Ogg file as on the CMAF one: a packet lying
    /// wholly inside the pre-skip outputs none.
    decoded: usize,
    /// Seconds of input.
    seconds: f64,
}

const CAPTURES: [Capture; 4] = [
    Capture {
        name: "stereo-96k",
        file: STEREO_96K,
        channels: 2,
        pre_skip: 312,
        packets: 151,
        decoded: 151,
        seconds: 3.0,
    },
    Capture {
        name: "mono-60ms",
        file: MONO_60MS,
        channels: 1,
        pre_skip: 312,
        packets: 34,
        decoded: 34,
        seconds: 2.0,
    },
    Capture {
        name: "mono-120ms",
        file: MONO_120MS,
        channels: 1,
        pre_skip: 312,
        packets: 17,
        decoded: 17,
        seconds: 2.0,
    },
    // Pre-skip 120 = the first 2.5 ms packet.
    Capture {
        name: "lowdelay-2.5ms",
        file: LOWDELAY_2_5MS,
        channels: 2,
        pre_skip: 120,
        packets: 401,
        decoded: 400,
        seconds: 1.0,
    },
];

/// An Ogg Opus stream (RFC 7845): its packets, and per page the granule position and how many
/// packets had completed by that page's end.
struct Ogg {
    packets: Vec<Bytes>,
    pages: Vec<(i64, usize)>,
}

/// Reads Ogg pages (RFC 3533 §6: "OggS", version, header type, granule position, serial, page
/// sequence, CRC, segment count, lacing values) and joins lacing segments into packets: a
/// segment shorter than 255 bytes ends a packet. Panics on anything unexpected (test code).
fn read_ogg(file: &[u8]) -> Ogg {
    let (mut packets, mut pages) = (Vec::new(), Vec::new());
    let mut partial = Vec::new();
    let mut at = 0;
    while at < file.len() {
        let header = &file[at..at + 27];
        assert_eq!(&header[..4], b"OggS", "capture pattern at {at}");
        assert_eq!(header[4], 0, "stream_structure_version");
        let granule = i64::from_le_bytes(header[6..14].try_into().unwrap());
        let lacing = &file[at + 27..at + 27 + usize::from(header[26])];
        let mut body = at + 27 + lacing.len();
        for &len in lacing {
            partial.extend_from_slice(&file[body..body + usize::from(len)]);
            body += usize::from(len);
            if len < 255 {
                packets.push(Bytes::from(std::mem::take(&mut partial)));
            }
        }
        pages.push((granule, packets.len()));
        at = body;
    }
    assert!(partial.is_empty(), "stream ends inside a packet");
    Ogg { packets, pages }
}

/// The capture's OpusHead as a config, and its audio packets (after OpusHead and OpusTags).
fn opus_stream(file: &[u8]) -> (OpusConfig, Vec<Bytes>) {
    let ogg = read_ogg(file);
    let config = OpusConfig::from_opus_head(&ogg.packets[0]).expect("OpusHead");
    assert!(ogg.packets[1].starts_with(b"OpusTags"));
    (config, ogg.packets[2..].to_vec())
}

fn opus_track(config: OpusConfig) -> TrackInfo {
    TrackInfo {
        id: AUDIO_TRACK,
        kind: MediaKind::Audio,
        timescale: 48_000,
        codec: CodecConfig::Opus(config),
    }
}

/// Access units as WHIP ingest will make them: one packet each, dts from the summed TOC
/// durations.
fn access_units(packets: &[Bytes]) -> Vec<AccessUnit> {
    let mut dts = 0i64;
    packets
        .iter()
        .map(|p| {
            let au =
                AccessUnit { track: AUDIO_TRACK, dts, pts: dts, keyframe: true, data: p.clone() };
            dts += i64::from(packet_duration_48k(p).expect("valid packet"));
            au
        })
        .collect()
}

/// Audio-only fragmenting (segments cut on duration), 200 ms parts, 1 s segments.
fn fragment(track: &TrackInfo, aus: Vec<AccessUnit>) -> Vec<Seg> {
    let mut f = Fragmenter::new(track, default_config(track), SegmentPolicy::Duration);
    let mut segs = Vec::new();
    for au in aus {
        f.push(au);
        collect(&mut f, &mut segs);
    }
    f.flush();
    collect(&mut f, &mut segs);
    segs
}

/// (duration, size, flags) of each sample in a part's trun (data offset, duration, size and
/// flags present; audio has no composition offsets).
fn trun_samples(part: &[u8]) -> Vec<(u32, u32, u32)> {
    let trun = child(child(child(part, b"moof"), b"traf"), b"trun");
    let flags = u32::from_be_bytes(trun[..4].try_into().unwrap()) & 0xff_ffff;
    assert_eq!(flags, 0x000701, "data offset, duration, size, flags");
    let count = u32::from_be_bytes(trun[4..8].try_into().unwrap()) as usize;
    let word = |at: usize| u32::from_be_bytes(trun[at..at + 4].try_into().unwrap());
    (0..count).map(|i| (word(12 + i * 12), word(16 + i * 12), word(20 + i * 12))).collect()
}

#[test]
fn toc_durations_add_up_to_the_ogg_granule_positions() {
    for Capture { name, file, channels, pre_skip, packets: count, .. } in CAPTURES {
        let ogg = read_ogg(file);
        let config = OpusConfig::from_opus_head(&ogg.packets[0]).expect("OpusHead");
        assert_eq!((config.channels(), config.pre_skip()), (channels, pre_skip), "{name}");
        assert_eq!(ogg.packets.len() - 2, count, "{name}");
        // RFC 7845 §4: a page's granule position is the PCM sample count (48 kHz, pre-skip
        // included) at the end of the last packet completed on it; the last page may be less
        // (end trimming).
        // ends[n]: PCM samples at the end of the first n packets (the two headers have none).
        let mut ends = vec![0i64; 3];
        for p in &ogg.packets[2..] {
            let d = packet_duration_48k(p).unwrap_or_else(|| panic!("{name}: malformed {p:?}"));
            ends.push(ends.last().unwrap() + i64::from(d));
        }
        let (last_page, pages) = ogg.pages.split_last().unwrap();
        for &(granule, completed) in pages.iter().filter(|(_, c)| *c > 2) {
            assert_eq!(granule, ends[completed], "{name}: page ending at packet {completed}");
        }
        let total = *ends.last().unwrap();
        let last = i64::from(packet_duration_48k(ogg.packets.last().unwrap()).unwrap());
        assert!(last_page.0 <= total && total - last_page.0 < last, "{name}: end trim");
    }
}

#[test]
fn libopus_opus_head_is_what_an_sdp_stereo_source_implies() {
    // The default PreSkip (312) is libopus's: ffmpeg's stereo capture says exactly that.
    let (config, _) = opus_stream(STEREO_96K);
    assert_eq!(config, OpusConfig::from_channels(2).unwrap());
    assert_eq!(opus_track(config).codec_string(), "opus");
}

#[test]
fn opus_packets_fragment_into_parts_timed_by_their_tocs() {
    for Capture { name, file, packets: count, .. } in CAPTURES {
        let (config, packets) = opus_stream(file);
        let track = opus_track(config);
        let durations: Vec<u32> = packets.iter().map(|p| packet_duration_48k(p).unwrap()).collect();
        let segs = fragment(&track, access_units(&packets));
        let samples: Vec<(u32, u32, u32)> =
            segs.iter().flat_map(|s| &s.parts).flat_map(|p| trun_samples(&p.data)).collect();
        assert_eq!(samples.len(), count, "{name}");
        // Every sample lasts what its TOC says, the last one included (flush reads its TOC).
        let trun_durations: Vec<u32> = samples.iter().map(|s| s.0).collect();
        assert_eq!(trun_durations, durations, "{name}");
        let sizes: Vec<u32> = samples.iter().map(|s| s.1).collect();
        assert_eq!(sizes, packets.iter().map(|p| p.len() as u32).collect::<Vec<_>>(), "{name}");
        // Opus-in-ISOBMFF §4.3.6.1: "the sample_is_non_sync_sample field for Opus samples shall
        // be set to 0".
        assert!(samples.iter().all(|s| s.2 & 0x0001_0000 == 0), "{name}");
        // Parts stay within the 200 ms target (+1 %) unless one packet is longer.
        for p in segs.iter().flat_map(|s| &s.parts) {
            assert!(p.independent);
            let longest = trun_samples(&p.data).iter().map(|s| s.0).max().unwrap();
            assert!(p.duration <= 9_696 || trun_samples(&p.data).len() == 1, "{name}: {p:?}");
            assert!(u64::from(longest) <= p.duration);
        }
        // Segments start every ~1 s, each at the summed durations before it.
        assert!(segs.iter().all(|s| s.independent));
        let mut t = 0i64;
        for s in &segs {
            assert_eq!(s.start_dts, t, "{name}");
            t += s.parts.iter().map(|p| p.duration as i64).sum::<i64>();
        }
        assert_eq!(t, durations.iter().map(|&d| i64::from(d)).sum::<i64>(), "{name}");
    }
}

#[test]
fn a_lone_long_last_packet_lasts_what_its_toc_says() {
    // Three 20 ms CELT packets then one 60 ms (code 3, three CBR frames): flushed, the last
    // sample must be 2880 ticks, not the 960 of the sample before it.
    let packets: Vec<Bytes> =
        [&[31 << 3, 1, 2][..], &[31 << 3, 3], &[31 << 3, 4], &[31 << 3 | 3, 3, 7, 7, 7]]
            .iter()
            .map(|p| Bytes::copy_from_slice(p))
            .collect();
    let track = opus_track(OpusConfig::from_channels(2).unwrap());
    let segs = fragment(&track, access_units(&packets));
    let durations: Vec<u32> = segs
        .iter()
        .flat_map(|s| &s.parts)
        .flat_map(|p| trun_samples(&p.data))
        .map(|s| s.0)
        .collect();
    assert_eq!(durations, vec![960, 960, 960, 2_880]);
}

#[test]
fn opus_init_segment_has_the_opus_entry_with_dops_parsing_back() {
    let (config, _) = opus_stream(MONO_60MS);
    let init = init_segment(&opus_track(config.clone()));
    let minf = child(child(child(child(&init, b"moov"), b"trak"), b"mdia"), b"minf");
    let stbl = child(minf, b"stbl");
    let stsd = child(stbl, b"stsd");
    let entries = boxes(&stsd[8..]);
    assert_eq!(entries.len(), 1);
    let (kind, entry) = entries[0];
    assert_eq!(&kind, b"Opus");
    assert_eq!(u16::from_be_bytes([entry[16], entry[17]]), 1, "channelcount");
    let dops = child(&entry[28..], b"dOps");
    assert_eq!(dops, &[0, 1, 0x01, 0x38, 0, 0, 0xbb, 0x80, 0, 0, 0]);
    assert_eq!(OpusConfig::parse_dops(dops), Ok(config));
}

#[test]
fn ts_muxer_refuses_opus_with_unsupported_codec() {
    let track = opus_track(OpusConfig::from_channels(2).unwrap());
    let err = TsMuxer::new(&[track]).expect_err("no Opus in TS");
    assert_eq!(err, TsMuxError::UnsupportedCodec { id: AUDIO_TRACK, codec: "opus".to_owned() });
    assert_eq!(err.to_string(), "track 2 codec opus cannot be muxed to ts");
}

#[test]
fn ffprobe_and_ffmpeg_decode_the_opus_cmaf_output() {
    if skip_tools() {
        return;
    }
    for Capture { name, file, channels, decoded, seconds, .. } in CAPTURES {
        let (config, packets) = opus_stream(file);
        let track = opus_track(config);
        let segs = fragment(&track, access_units(&packets));
        let mp4 = fragmented_mp4(&track, &segs);
        let file_name = format!("opus-{name}.mp4");
        assert_listed(
            name,
            &probe_streams(&file_name, &mp4),
            &[
                "codec_name=opus",
                "codec_tag_string=Opus",
                "sample_rate=48000",
                &format!("channels={channels}"),
                &format!("nb_read_frames={decoded}"),
            ],
        );
        // Decodes with nothing on stderr at -v error.
        run_on("ffmpeg", &["-v", "error", "-i"], &["-f", "null", "-"], &file_name, &mp4);
        let duration = run_on(
            "ffprobe",
            &["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"],
            &[],
            &file_name,
            &mp4,
        );
        let duration: f64 = duration.trim().parse().expect("a duration");
        // The input's length plus the encoder's padding (pre-skip and the last packet's tail).
        assert!((seconds..seconds + 0.13).contains(&duration), "{name}: {duration} s");
    }
}
