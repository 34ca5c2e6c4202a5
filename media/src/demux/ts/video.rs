//! H.264 / H.265 elementary streams: one PES packet's Annex B payload → one access unit in
//! 4-byte length-prefixed form, and the track its in-band parameter sets describe.
//!
//! MPEG-TS carries parameter sets in-band (usually before every IDR); CMAF wants them in the
//! sample entry. So this handler collects them out of the samples (with access unit
//! delimiters and filler data, which CMAF samples do not need), builds the decoder
//! configuration record from them, and announces a new track only when they change.
//!
//! One PES packet is taken to hold one access unit, which is what ffmpeg, GStreamer, OBS and
//! hardware encoders send; its PTS belongs to the first access unit starting in it
//! (ISO/IEC 13818-1 §2.4.3.7). A PES without a PTS cannot be placed and is dropped.

use bytes::{BufMut, Bytes, BytesMut};

use super::Output;
use crate::AccessUnit;
use crate::codec::annexb;
use crate::codec::h264::{AvcConfig, nal_type};
use crate::codec::h265::HevcConfig;
use crate::time::VIDEO_TIMESCALE;
use crate::track::{CodecConfig, MediaKind, TrackInfo, VIDEO_TRACK};

/// The video codecs the demuxer packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    H264,
    H265,
}

/// H.265 NAL unit types (ISO/IEC 23008-2 Table 7-1).
mod hevc_nal {
    pub const BLA_W_LP: u8 = 16;
    /// IRAP picture: "each VCL NAL unit has nal_unit_type in the range of BLA_W_LP to
    /// RSV_IRAP_VCL23, inclusive".
    pub const RSV_IRAP_VCL23: u8 = 23;
    /// VCL NAL unit types are 0 to 31.
    pub const LAST_VCL: u8 = 31;
    pub const VPS: u8 = 32;
    pub const SPS: u8 = 33;
    pub const PPS: u8 = 34;
    pub const AUD: u8 = 35;
    pub const FD: u8 = 38;
}

/// H.264 filler data NAL unit type.
const H264_FILLER: u8 = 12;

/// What one NAL unit is to this handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NalRole {
    Vps,
    Sps,
    Pps,
    /// Access unit delimiter or filler: dropped from the sample.
    Strip,
    /// A coded slice; `key` for IDR (H.264) / IRAP (H.265).
    Picture {
        key: bool,
    },
    /// SEI and everything else: kept in the sample.
    Other,
}

impl VideoCodec {
    fn role(self, nal: &[u8]) -> NalRole {
        let Some(&first) = nal.first() else { return NalRole::Other };
        match self {
            VideoCodec::H264 => match first & 0x1f {
                nal_type::SPS => NalRole::Sps,
                nal_type::PPS => NalRole::Pps,
                nal_type::AUD | H264_FILLER => NalRole::Strip,
                // "A sync sample in AVC is an IDR access unit" (ISO/IEC 14496-15).
                t @ 1..=5 => NalRole::Picture { key: t == nal_type::IDR_SLICE },
                _ => NalRole::Other,
            },
            VideoCodec::H265 => match (first >> 1) & 0x3f {
                hevc_nal::VPS => NalRole::Vps,
                hevc_nal::SPS => NalRole::Sps,
                hevc_nal::PPS => NalRole::Pps,
                hevc_nal::AUD | hevc_nal::FD => NalRole::Strip,
                t @ 0..=hevc_nal::LAST_VCL => NalRole::Picture {
                    key: (hevc_nal::BLA_W_LP..=hevc_nal::RSV_IRAP_VCL23).contains(&t),
                },
                _ => NalRole::Other,
            },
        }
    }
}

/// Parameter sets as last seen in the stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ParameterSets {
    vps: Vec<Bytes>,
    sps: Vec<Bytes>,
    pps: Vec<Bytes>,
}

/// State of the one video stream the demuxer follows.
#[derive(Debug)]
pub struct VideoEs {
    pub codec: VideoCodec,
    params: ParameterSets,
    /// The parameter sets the current track was built from (or last failed to build from).
    built_from: Option<ParameterSets>,
    track: Option<TrackInfo>,
}

impl VideoEs {
    pub fn new(codec: VideoCodec) -> Self {
        Self { codec, params: ParameterSets::default(), built_from: None, track: None }
    }

    pub fn track(&self) -> Option<&TrackInfo> {
        self.track.as_ref()
    }

    /// Handles one PES payload with its unwrapped timestamps (90 kHz).
    pub fn push(&mut self, payload: &[u8], dts: i64, pts: i64, out: &mut Output<'_>) {
        let mut sample = BytesMut::with_capacity(payload.len() + 16);
        let mut seen = ParameterSets::default();
        let mut pictures = 0usize;
        let mut key = false;
        for nal in annexb::nal_units(payload) {
            match self.codec.role(nal) {
                NalRole::Vps => push_unique(&mut seen.vps, nal),
                NalRole::Sps => push_unique(&mut seen.sps, nal),
                NalRole::Pps => push_unique(&mut seen.pps, nal),
                NalRole::Strip => {}
                role @ (NalRole::Picture { .. } | NalRole::Other) => {
                    if let NalRole::Picture { key: k } = role {
                        pictures += 1;
                        key |= k;
                    }
                    let Ok(len) = u32::try_from(nal.len()) else {
                        return out.drop("video NAL unit larger than 4 GiB".to_string());
                    };
                    sample.put_u32(len);
                    sample.put_slice(nal);
                }
            }
        }
        // Parameter sets replace the previous ones of their kind when they appear.
        for (have, new) in [
            (&mut self.params.vps, seen.vps),
            (&mut self.params.sps, seen.sps),
            (&mut self.params.pps, seen.pps),
        ] {
            if !new.is_empty() {
                *have = new;
            }
        }
        self.update_track(out);
        if pictures == 0 {
            if sample.is_empty() {
                // Parameter sets only: nothing to play.
                return;
            }
            return out.drop("video PES without a coded picture".to_string());
        }
        if self.track.is_none() {
            return out.drop("video frame before its parameter sets".to_string());
        }
        out.frame(AccessUnit {
            track: VIDEO_TRACK,
            dts,
            pts,
            keyframe: key,
            data: sample.freeze(),
        });
    }

    /// Builds and announces the track when the parameter sets changed.
    fn update_track(&mut self, out: &mut Output<'_>) {
        let complete = !self.params.sps.is_empty()
            && !self.params.pps.is_empty()
            && (self.codec == VideoCodec::H264 || !self.params.vps.is_empty());
        if !complete || self.built_from.as_ref() == Some(&self.params) {
            return;
        }
        self.built_from = Some(self.params.clone());
        let codec = match self.codec {
            VideoCodec::H264 => AvcConfig::from_parameter_sets(&self.params.sps, &self.params.pps)
                .map(CodecConfig::H264)
                .map_err(|e| format!("bad H.264 parameter sets: {e}")),
            VideoCodec::H265 => HevcConfig::from_parameter_sets(
                &self.params.vps,
                &self.params.sps,
                &self.params.pps,
            )
            .map(CodecConfig::H265)
            .map_err(|e| format!("bad H.265 parameter sets: {e}")),
        };
        match codec {
            Ok(codec) => {
                let info = TrackInfo {
                    id: VIDEO_TRACK,
                    kind: MediaKind::Video,
                    timescale: VIDEO_TIMESCALE,
                    codec,
                };
                if self.track.as_ref() != Some(&info) {
                    self.track = Some(info.clone());
                    out.track(info);
                }
            }
            Err(reason) => out.drop(reason),
        }
    }
}

fn push_unique(list: &mut Vec<Bytes>, nal: &[u8]) {
    if !list.iter().any(|n| n[..] == *nal) {
        list.push(Bytes::copy_from_slice(nal));
    }
}
