//! CMAF init segments (ISO/IEC 23000-19 §7.3.2, "CMAF header"): `ftyp` + `moov` with one track,
//! empty sample tables and `mvex`/`trex`, so every sample lives in the fragments that follow.
//!
//! Rendered once per track configuration by the pipeline and served verbatim by egress
//! (`EXT-X-MAP`, DASH initialization).

use bytes::{BufMut, Bytes, BytesMut};

use super::boxes::{put_unity_matrix, write_box, write_full_box};
use crate::codec::aac::AudioSpecificConfig;
use crate::codec::av1::Av1Config;
use crate::codec::h264::AvcConfig;
use crate::codec::h265::HevcConfig;
use crate::codec::opus::{self, OpusConfig};
use crate::codec::vui::{Colour, colr_values};
use crate::track::{CodecConfig, MediaKind, TrackInfo};

/// Movie timescale for `mvhd` (no durations are written, so any value works).
const MOVIE_TIMESCALE: u32 = 1000;
/// ISO-639-2/T "und" packed as three 5-bit letters (`mdhd` language).
const LANGUAGE_UND: u16 =
    ((b'u' - 0x60) as u16) << 10 | ((b'n' - 0x60) as u16) << 5 | (b'd' - 0x60) as u16;
/// `tkhd` flags: "Track_enabled: Flag value is 0x000001 … Track_in_movie: 0x000002".
const TKHD_ENABLED_IN_MOVIE: u32 = 0x000003;
/// `url ` flags: "flag value 0x000001 … the media data is in the same file".
const URL_SELF_CONTAINED: u32 = 0x000001;
/// Colour defaults when the SPS does not signal them: BT.709 primaries, transfer, matrix.
const BT709: Colour = Colour { primaries: 1, transfer: 1, matrix: 1, full_range: false };

/// Renders the init segment (ftyp + moov) for one track.
pub fn init_segment(track: &TrackInfo) -> Bytes {
    let mut buf = BytesMut::with_capacity(1024);
    write_box(&mut buf, b"ftyp", |b| {
        b.put_slice(b"iso6");
        b.put_u32(0);
        for brand in [b"iso6", b"cmfc", b"mp41"] {
            b.put_slice(brand);
        }
    });
    write_box(&mut buf, b"moov", |b| {
        write_mvhd(b, track.id);
        write_box(b, b"trak", |b| {
            write_tkhd(b, track);
            write_box(b, b"mdia", |b| {
                write_full_box(b, b"mdhd", 0, 0, |b| {
                    b.put_u32(0); // creation_time
                    b.put_u32(0); // modification_time
                    b.put_u32(track.timescale);
                    b.put_u32(0); // duration
                    b.put_u16(LANGUAGE_UND);
                    b.put_u16(0); // pre_defined
                });
                let (handler, name): (&[u8; 4], &[u8]) = match track.kind {
                    MediaKind::Video => (b"vide", b"VideoHandler\0"),
                    MediaKind::Audio => (b"soun", b"SoundHandler\0"),
                };
                write_full_box(b, b"hdlr", 0, 0, |b| {
                    b.put_u32(0); // pre_defined
                    b.put_slice(handler);
                    b.put_bytes(0, 12); // reserved
                    b.put_slice(name);
                });
                write_box(b, b"minf", |b| write_minf(b, track));
            });
        });
        write_box(b, b"mvex", |b| {
            write_full_box(b, b"trex", 0, 0, |b| {
                b.put_u32(track.id);
                b.put_u32(1); // default_sample_description_index
                b.put_u32(0); // default_sample_duration
                b.put_u32(0); // default_sample_size
                b.put_u32(0); // default_sample_flags
            });
        });
    });
    buf.freeze()
}

fn write_mvhd(b: &mut BytesMut, track_id: u32) {
    write_full_box(b, b"mvhd", 0, 0, |b| {
        b.put_u32(0); // creation_time
        b.put_u32(0); // modification_time
        b.put_u32(MOVIE_TIMESCALE);
        b.put_u32(0); // duration
        b.put_u32(0x0001_0000); // rate 1.0
        b.put_u16(0x0100); // volume 1.0
        b.put_bytes(0, 2 + 8); // reserved
        put_unity_matrix(b);
        b.put_bytes(0, 24); // pre_defined
        b.put_u32(track_id.saturating_add(1)); // next_track_ID
    });
}

fn write_tkhd(b: &mut BytesMut, track: &TrackInfo) {
    let (width, height) = match &track.codec {
        CodecConfig::H264(c) => display_size(&VisualFacts::avc(c)),
        CodecConfig::H265(c) => display_size(&VisualFacts::hevc(c)),
        CodecConfig::Av1(c) => display_size(&VisualFacts::av1(c)),
        CodecConfig::Aac(_) | CodecConfig::Opus(_) => (0, 0),
    };
    write_full_box(b, b"tkhd", 0, TKHD_ENABLED_IN_MOVIE, |b| {
        b.put_u32(0); // creation_time
        b.put_u32(0); // modification_time
        b.put_u32(track.id);
        b.put_u32(0); // reserved
        b.put_u32(0); // duration
        b.put_bytes(0, 8); // reserved
        b.put_u16(0); // layer
        b.put_u16(0); // alternate_group
        b.put_u16(if track.kind == MediaKind::Audio { 0x0100 } else { 0 }); // volume
        b.put_u16(0); // reserved
        put_unity_matrix(b);
        // "width and height … fixed-point 16.16 values"
        b.put_u32(width << 16);
        b.put_u32(height << 16);
    });
}

/// What a visual sample entry needs from a video codec's parameter sets.
struct VisualFacts {
    width: u32,
    height: u32,
    /// Sample aspect ratio (h, v); (1, 1) when not signalled.
    sar: (u16, u16),
    /// VUI colour description, when signalled.
    colour: Option<Colour>,
}

impl VisualFacts {
    fn avc(c: &AvcConfig) -> Self {
        let sps = c.first_sps().ok();
        Self {
            width: c.width,
            height: c.height,
            sar: sps.as_ref().and_then(|s| s.sample_aspect_ratio).unwrap_or((1, 1)),
            colour: sps.and_then(|s| s.colour),
        }
    }

    /// AV1 signals no sample aspect ratio; the entry's size is the sequence header's maximum
    /// ("width and height … SHALL equal the values of max_frame_width_minus_1 + 1 and
    /// max_frame_height_minus_1 + 1").
    fn av1(c: &Av1Config) -> Self {
        Self { width: c.width, height: c.height, sar: (1, 1), colour: Some(c.colour) }
    }

    fn hevc(c: &HevcConfig) -> Self {
        let sps = c.first_sps().ok();
        Self {
            width: c.width,
            height: c.height,
            sar: sps.as_ref().and_then(|s| s.sample_aspect_ratio).unwrap_or((1, 1)),
            colour: sps.and_then(|s| s.colour),
        }
    }
}

/// Presentation size: the coded size stretched by the sample aspect ratio, clamped to 16 bits.
fn display_size(f: &VisualFacts) -> (u32, u32) {
    let (h, v) = f.sar;
    let w = u64::from(f.width) * u64::from(h) / u64::from(v.max(1));
    (w.min(0xffff) as u32, f.height.min(0xffff))
}

/// The signalled colour with unspecified code points written as BT.709; BT.709 when nothing is
/// signalled.
fn colour(f: &VisualFacts) -> Colour {
    f.colour.map_or(BT709, colr_values)
}

fn write_minf(b: &mut BytesMut, track: &TrackInfo) {
    match track.kind {
        // "graphicsmode … 0 copy"; vmhd "flags = 1".
        MediaKind::Video => write_full_box(b, b"vmhd", 0, 1, |b| b.put_bytes(0, 8)),
        MediaKind::Audio => write_full_box(b, b"smhd", 0, 0, |b| b.put_u32(0)),
    }
    write_box(b, b"dinf", |b| {
        write_full_box(b, b"dref", 0, 0, |b| {
            b.put_u32(1); // entry_count
            write_full_box(b, b"url ", 0, URL_SELF_CONTAINED, |_| {});
        });
    });
    write_box(b, b"stbl", |b| {
        write_full_box(b, b"stsd", 0, 0, |b| {
            b.put_u32(1); // entry_count
            match &track.codec {
                CodecConfig::H264(c) => {
                    write_visual_entry(b, b"avc1", b"avcC", &c.record, &VisualFacts::avc(c))
                }
                // ISO/IEC 14496-15 §8.4.1: "When the sample entry name is 'hvc1', … all
                // parameter sets … shall be stored only in the sample entry"; the records
                // built here carry them all (array_completeness = 1).
                CodecConfig::H265(c) => {
                    write_visual_entry(b, b"hvc1", b"hvcC", &c.record, &VisualFacts::hevc(c))
                }
                // AV1-ISOBMFF §2.2: "class AV1SampleEntry extends VisualSampleEntry('av01')
                // { AV1CodecConfigurationBox config; }"; "The sample entry SHOULD contain a
                // 'colr' box with a colour_type set to 'nclx'".
                CodecConfig::Av1(c) => {
                    write_visual_entry(b, b"av01", b"av1C", &c.record, &VisualFacts::av1(c))
                }
                CodecConfig::Aac(c) => write_mp4a(b, c, track.id),
                CodecConfig::Opus(c) => write_opus(b, c),
            }
        });
        write_full_box(b, b"stts", 0, 0, |b| b.put_u32(0));
        write_full_box(b, b"stsc", 0, 0, |b| b.put_u32(0));
        write_full_box(b, b"stsz", 0, 0, |b| {
            b.put_u32(0); // sample_size
            b.put_u32(0); // sample_count
        });
        write_full_box(b, b"stco", 0, 0, |b| b.put_u32(0));
    });
}

/// SampleEntry header: "const unsigned int(8)[6] reserved = 0; unsigned int(16)
/// data_reference_index;".
fn put_sample_entry_header(b: &mut BytesMut) {
    b.put_bytes(0, 6);
    b.put_u16(1);
}

/// A VisualSampleEntry (ISO/IEC 14496-12 §12.1.3) with its decoder configuration box
/// (`avcC`/`hvcC`, the record verbatim), then `pasp` and `colr` (nclx).
fn write_visual_entry(
    b: &mut BytesMut,
    entry: &[u8; 4],
    config_box: &[u8; 4],
    record: &Bytes,
    f: &VisualFacts,
) {
    write_box(b, entry, |b| {
        put_sample_entry_header(b);
        b.put_u16(0); // pre_defined
        b.put_u16(0); // reserved
        b.put_bytes(0, 12); // pre_defined
        b.put_u16(f.width.min(0xffff) as u16);
        b.put_u16(f.height.min(0xffff) as u16);
        b.put_u32(0x0048_0000); // horizresolution 72 dpi
        b.put_u32(0x0048_0000); // vertresolution
        b.put_u32(0); // reserved
        b.put_u16(1); // frame_count
        b.put_bytes(0, 32); // compressorname (empty Pascal string)
        b.put_u16(0x0018); // depth
        b.put_i16(-1); // pre_defined
        write_box(b, config_box, |b| b.put_slice(record));
        let (h, v) = f.sar;
        write_box(b, b"pasp", |b| {
            b.put_u32(u32::from(h));
            b.put_u32(u32::from(v));
        });
        let col = colour(f);
        write_box(b, b"colr", |b| {
            b.put_slice(b"nclx");
            b.put_u16(u16::from(col.primaries));
            b.put_u16(u16::from(col.transfer));
            b.put_u16(u16::from(col.matrix));
            // "unsigned int(1) full_range_flag; unsigned int(7) reserved = 0;"
            b.put_u8(if col.full_range { 0x80 } else { 0 });
        });
    });
}

fn write_mp4a(b: &mut BytesMut, c: &AudioSpecificConfig, track_id: u32) {
    write_box(b, b"mp4a", |b| {
        let channels = if c.channels == 0 { 2 } else { u16::from(c.channels) };
        put_audio_entry_fields(b, channels, c.sample_rate);
        write_full_box(b, b"esds", 0, 0, |b| b.put_slice(&es_descriptor(c, track_id)));
    });
}

/// Opus-in-ISOBMFF §4.3.1: "class OpusSampleEntry() extends AudioSampleEntry ('Opus') {
/// OpusSpecificBox(); }" with "channelcount … shall be set to the same value of the
/// OutputChannelCount", "The samplesize field shall be set to 16", "The samplerate field shall
/// be set to 48000<<16". §4.3.2: "Exactly one Opus Specific Box shall be present in each
/// OpusSampleEntry."
///
/// No edit list: PreSkip in `dOps` tells the decoder about the priming samples, and an edit
/// list "is applied to whole movie including all movie fragments. Therefore, it is impossible to
/// tell the actual duration in the case producing movie fragments on the fly such as
/// live-streaming" (§4.4).
fn write_opus(b: &mut BytesMut, c: &OpusConfig) {
    write_box(b, b"Opus", |b| {
        put_audio_entry_fields(b, u16::from(c.channels()), opus::SAMPLE_RATE);
        write_box(b, b"dOps", |b| b.put_slice(c.dops_bytes()));
    });
}

/// SampleEntry header and the AudioSampleEntry fields (ISO/IEC 14496-12 §12.2.3):
/// "const unsigned int(32)[2] reserved = 0; template unsigned int(16) channelcount = 2;
/// template unsigned int(16) samplesize = 16; unsigned int(16) pre_defined = 0; const unsigned
/// int(16) reserved = 0 ; template unsigned int(32) samplerate = { default samplerate of
/// media}<<16;" (16.16; 0 when the rate does not fit).
fn put_audio_entry_fields(b: &mut BytesMut, channels: u16, sample_rate: u32) {
    put_sample_entry_header(b);
    b.put_bytes(0, 8); // reserved
    b.put_u16(channels);
    b.put_u16(16); // samplesize
    b.put_u16(0); // pre_defined
    b.put_u16(0); // reserved
    b.put_u32(if sample_rate <= 0xffff { sample_rate << 16 } else { 0 });
}

/// ES_Descriptor (ISO/IEC 14496-1 §7.2.6.5) carrying the AudioSpecificConfig as
/// DecoderSpecificInfo.
fn es_descriptor(c: &AudioSpecificConfig, track_id: u32) -> BytesMut {
    // DecoderConfigDescriptor: objectTypeIndication 0x40 = "Audio ISO/IEC 14496-3";
    // streamType 0x05 (AudioStream) << 2, upStream 0, reserved 1.
    let mut dcd = BytesMut::new();
    dcd.put_u8(0x40);
    dcd.put_u8(0x05 << 2 | 1);
    dcd.put_bytes(0, 3); // bufferSizeDB
    dcd.put_u32(0); // maxBitrate
    dcd.put_u32(0); // avgBitrate
    put_descriptor(&mut dcd, 0x05, &c.raw); // DecSpecificInfoTag
    let mut es = BytesMut::new();
    es.put_u16(u16::try_from(track_id).unwrap_or(0)); // ES_ID
    es.put_u8(0); // no dependence, URL or OCR stream; priority 0
    put_descriptor(&mut es, 0x04, &dcd); // DecoderConfigDescrTag
    put_descriptor(&mut es, 0x06, &[0x02]); // SLConfigDescrTag, predefined = 2 (MP4)
    let mut out = BytesMut::new();
    put_descriptor(&mut out, 0x03, &es); // ES_DescrTag
    out
}

/// A descriptor: tag, then sizeOfInstance in the expandable form "nextByte (1 bit),
/// sizeOfInstance (7 bits)" most significant group first.
fn put_descriptor(b: &mut BytesMut, tag: u8, payload: &[u8]) {
    b.put_u8(tag);
    let len = payload.len();
    let groups = (1..4).take_while(|i| len >> (7 * i) != 0).count() + 1;
    for i in (0..groups).rev() {
        let more = if i > 0 { 0x80 } else { 0 };
        b.put_u8(more | ((len >> (7 * i)) & 0x7f) as u8);
    }
    b.put_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::super::boxes::reader::*;
    use super::*;
    use crate::test_support::{AVCC, audio_track, video_track, video_track_with};
    use crate::track::VIDEO_TRACK;

    /// The init segment of a video track with `codec`, checked to have the `width`×`height` in
    /// tkhd and in its one sample entry (named `entry`); returns the boxes after the
    /// VisualSampleEntry fields.
    fn visual_entry_boxes(codec: CodecConfig, entry: &[u8; 4], width: u32, height: u32) -> Bytes {
        let init = init_segment(&video_track_with(codec));
        let tkhd = path(&init, &[b"moov", b"trak", b"tkhd"]);
        assert_eq!((u32_at(tkhd, 76), u32_at(tkhd, 80)), (width << 16, height << 16));
        let stsd = path(&init, &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"]);
        assert_eq!(u32_at(stsd, 4), 1);
        let e = child(&stsd[8..], entry);
        assert_eq!((u32::from(u16_at(e, 24)), u32::from(u16_at(e, 26))), (width, height));
        Bytes::copy_from_slice(&e[78..])
    }

    #[test]
    fn ftyp_declares_cmaf_brands() {
        let init = init_segment(&video_track());
        let ftyp = child(&init, b"ftyp");
        assert_eq!(ftyp, b"iso6\0\0\0\0iso6cmfcmp41");
    }

    #[test]
    fn video_init_carries_avcc_verbatim_and_geometry() {
        let init = init_segment(&video_track());
        let tkhd = path(&init, &[b"moov", b"trak", b"tkhd"]);
        assert_eq!(u32_at(tkhd, 0) & 0xff_ffff, 3, "enabled + in_movie");
        assert_eq!(u32_at(tkhd, 12), VIDEO_TRACK);
        assert_eq!((u32_at(tkhd, 76), u32_at(tkhd, 80)), (640 << 16, 360 << 16));
        let mdhd = path(&init, &[b"moov", b"trak", b"mdia", b"mdhd"]);
        assert_eq!(u32_at(mdhd, 12), 90_000);
        assert_eq!(u16_at(mdhd, 20), 0x55c4, "und");
        let hdlr = path(&init, &[b"moov", b"trak", b"mdia", b"hdlr"]);
        assert_eq!(&hdlr[8..12], b"vide");
        let minf = path(&init, &[b"moov", b"trak", b"mdia", b"minf"]);
        child(minf, b"vmhd");
        let dref = path(minf, &[b"dinf", b"dref"]);
        assert_eq!(u32_at(dref, 4), 1);
        assert_eq!(u32_at(child(&dref[8..], b"url "), 0), 1, "self-contained");
        let stbl = child(minf, b"stbl");
        for empty in [b"stts", b"stsc", b"stco"] {
            assert_eq!(u32_at(child(stbl, empty), 4), 0);
        }
        let stsd = child(stbl, b"stsd");
        assert_eq!(u32_at(stsd, 4), 1);
        let avc1 = child(&stsd[8..], b"avc1");
        assert_eq!((u16_at(avc1, 24), u16_at(avc1, 26)), (640, 360));
        let entries = &avc1[78..];
        assert_eq!(child(entries, b"avcC"), AVCC);
        assert_eq!(child(entries, b"pasp"), &[0, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(child(entries, b"colr"), b"nclx\0\x01\0\x01\0\x01\0");
        let trex = path(&init, &[b"moov", b"mvex", b"trex"]);
        assert_eq!((u32_at(trex, 4), u32_at(trex, 8)), (VIDEO_TRACK, 1));
        let mvhd = path(&init, &[b"moov", b"mvhd"]);
        assert_eq!(u32_at(mvhd, 96), VIDEO_TRACK + 1, "next_track_ID");
        assert!(boxes(path(&init, &[b"moov", b"trak"])).iter().all(|b| &b.kind != b"edts"));
    }

    #[test]
    fn hevc_init_has_hvc1_entry_with_hvcc_verbatim() {
        let config = HevcConfig::parse(Bytes::from(crate::codec::h265::fixtures::ffmpeg_hvcc()))
            .expect("valid hvcC");
        let entries = visual_entry_boxes(CodecConfig::H265(config.clone()), b"hvc1", 320, 240);
        assert_eq!(child(&entries, b"hvcC"), &config.record[..]);
        assert_eq!(child(&entries, b"pasp"), &[0, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(child(&entries, b"colr"), b"nclx\0\x01\0\x01\0\x01\0");
    }

    #[test]
    fn av1_init_has_av01_entry_with_av1c_verbatim() {
        let config = Av1Config::parse(Bytes::from_static(crate::codec::av1::fixtures::SVT_AV1C))
            .expect("valid av1C");
        let entries = visual_entry_boxes(CodecConfig::Av1(config.clone()), b"av01", 320, 240);
        assert_eq!(child(&entries, b"av1C"), &config.record[..]);
        // Unspecified colour in the sequence header: BT.709 in colr, limited range.
        assert_eq!(child(&entries, b"colr"), b"nclx\0\x01\0\x01\0\x01\0");
    }

    #[test]
    fn audio_init_carries_esds_with_audio_specific_config() {
        let init = init_segment(&audio_track());
        let mdia = path(&init, &[b"moov", b"trak", b"mdia"]);
        assert_eq!(u32_at(child(mdia, b"mdhd"), 12), 48_000);
        assert_eq!(&child(mdia, b"hdlr")[8..12], b"soun");
        let minf = child(mdia, b"minf");
        child(minf, b"smhd");
        let stsd = path(minf, &[b"stbl", b"stsd"]);
        let mp4a = child(&stsd[8..], b"mp4a");
        assert_eq!(u16_at(mp4a, 16), 2, "channelcount");
        assert_eq!(u16_at(mp4a, 18), 16, "samplesize");
        assert_eq!(u32_at(mp4a, 24), 48_000 << 16);
        let esds = child(&mp4a[28..], b"esds");
        assert_eq!(
            &esds[4..],
            &[
                0x03, 25, 0, 2, 0, // ES_Descriptor, ES_ID 2
                0x04, 17, 0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // DecoderConfig
                0x05, 2, 0x11, 0x90, // AudioSpecificConfig
                0x06, 1, 2, // SLConfig
            ]
        );
    }

    #[test]
    fn opus_init_has_opus_entry_with_dops_that_parses_back() {
        let config = OpusConfig::from_channels(2).expect("stereo");
        let track = TrackInfo {
            id: crate::track::AUDIO_TRACK,
            kind: MediaKind::Audio,
            timescale: opus::SAMPLE_RATE,
            codec: CodecConfig::Opus(config.clone()),
        };
        let init = init_segment(&track);
        assert_eq!(child(&init, b"ftyp"), b"iso6\0\0\0\0iso6cmfcmp41");
        let mdia = path(&init, &[b"moov", b"trak", b"mdia"]);
        assert_eq!(u32_at(child(mdia, b"mdhd"), 12), 48_000);
        assert_eq!(&child(mdia, b"hdlr")[8..12], b"soun");
        let minf = child(mdia, b"minf");
        child(minf, b"smhd");
        let stsd = path(minf, &[b"stbl", b"stsd"]);
        assert_eq!(u32_at(stsd, 4), 1);
        let entry = child(&stsd[8..], b"Opus");
        assert_eq!(u16_at(entry, 6), 1, "data_reference_index");
        assert_eq!(u16_at(entry, 16), 2, "channelcount");
        assert_eq!(u16_at(entry, 18), 16, "samplesize");
        assert_eq!(u32_at(entry, 24), 48_000 << 16, "samplerate");
        let dops = child(&entry[28..], b"dOps");
        assert_eq!(dops, &config.dops_bytes()[..]);
        assert_eq!(OpusConfig::parse_dops(dops), Ok(config));
        assert!(boxes(path(&init, &[b"moov", b"trak"])).iter().all(|b| &b.kind != b"edts"));
    }

    #[test]
    fn descriptor_sizes_use_the_expandable_form() {
        let mut b = BytesMut::new();
        put_descriptor(&mut b, 5, &[0u8; 200]);
        assert_eq!(&b[..3], &[5, 0x81, 0x48]);
        assert_eq!(b.len(), 203);
    }
}
