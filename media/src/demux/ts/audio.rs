//! AAC elementary streams in ADTS (stream_type 0x0F): PES payloads → one raw AAC frame per
//! access unit, with sample-exact timestamps, and the track the ADTS header describes.
//!
//! A PES packet usually holds several ADTS frames and only one PTS, which belongs to the first
//! frame starting in it (ISO/IEC 13818-1 §2.4.3.7). Frame k of the packet is placed at
//! PTS + k × 1024 samples in the sample-rate timescale. Consecutive frames then follow the
//! running sample count as long as the PES timestamps agree with it to within half a frame
//! (90 kHz PTS rounding at 44.1 kHz is ±1 sample); a larger disagreement (lost packets, an
//! encoder jump) re-anchors to the PES timestamp and is counted. A frame split across PES
//! packets is carried over and completed by the next one.

use bytes::{Bytes, BytesMut};

use super::Output;
use crate::AccessUnit;
use crate::codec::aac::AudioSpecificConfig;
use crate::codec::adts::{AdtsError, AdtsHeader};
use crate::time::{VIDEO_TIMESCALE, rescale};
use crate::track::{AUDIO_TRACK, CodecConfig, MediaKind, TrackInfo};

/// Largest ADTS frame (13-bit aac_frame_length): the most a carried-over partial frame holds.
const MAX_CARRY: usize = 0x1fff;

/// State of the one audio stream the demuxer follows.
#[derive(Debug, Default)]
pub struct AudioEs {
    /// The start of a frame whose end is in the next PES packet.
    carry: BytesMut,
    track: Option<TrackInfo>,
    config: Option<AudioSpecificConfig>,
    /// Expected dts of the next frame, in the sample-rate timescale.
    next_dts: Option<i64>,
    /// Re-anchors of the running sample count to a PES timestamp.
    pub reanchors: u64,
}

impl AudioEs {
    pub fn track(&self) -> Option<&TrackInfo> {
        self.track.as_ref()
    }

    /// Bytes were lost on the PID: a carried-over partial frame can no longer be completed.
    pub fn discontinuity(&mut self) {
        self.carry.clear();
    }

    /// Handles one PES payload; `pts` is the PES's unwrapped PTS (90 kHz), if it had one.
    pub fn push(&mut self, payload: Bytes, pts: Option<i64>, out: &mut Output<'_>) {
        // Frames starting at or after `fresh` began in this PES packet and are timed from its
        // PTS; one that began in the carry-over continues the running count.
        let fresh = self.carry.len();
        let data = if self.carry.is_empty() {
            payload
        } else {
            self.carry.extend_from_slice(&payload);
            std::mem::take(&mut self.carry).freeze()
        };
        let mut pos = 0;
        let mut index_in_pes = 0i64;
        let mut skipped = 0usize;
        while pos < data.len() {
            let rest = &data[pos..];
            let header = match AdtsHeader::parse(rest) {
                Ok(h) => h,
                Err(AdtsError::Truncated) => break,
                Err(_) => {
                    // Lost sync: look for the next syncword.
                    let next = rest[1..]
                        .windows(2)
                        .position(|w| w[0] == 0xff && w[1] & 0xf0 == 0xf0)
                        .map_or(rest.len(), |p| p + 1);
                    skipped += next;
                    pos += next;
                    continue;
                }
            };
            let frame_len = usize::from(header.frame_length);
            if rest.len() < frame_len {
                break;
            }
            let starts_fresh = pos >= fresh;
            let payload = data.slice(pos + header.header_len()..pos + frame_len);
            pos += frame_len;
            let pes_time = match (starts_fresh, pts) {
                (true, Some(p)) => Some((p, index_in_pes)),
                _ => None,
            };
            if starts_fresh {
                index_in_pes += 1;
            }
            self.frame(header, payload, pes_time, out);
        }
        if skipped > 0 {
            out.drop(format!("ADTS sync lost: {skipped} bytes skipped"));
        }
        let rest = &data[pos.min(data.len())..];
        if rest.len() <= MAX_CARRY {
            self.carry.extend_from_slice(rest);
        } else {
            out.drop("ADTS frame longer than its length field allows".to_string());
        }
    }

    /// One complete ADTS frame. `pes_time` is (PES PTS at 90 kHz, index of the frame among
    /// those starting in that PES).
    fn frame(
        &mut self,
        header: AdtsHeader,
        payload: Bytes,
        pes_time: Option<(i64, i64)>,
        out: &mut Output<'_>,
    ) {
        let config = match header.audio_specific_config() {
            Ok(c) => c,
            Err(e) => return out.drop(format!("bad ADTS header: {e}")),
        };
        if self.config.as_ref().map(|c| &c.raw) != Some(&config.raw) {
            let info = TrackInfo {
                id: AUDIO_TRACK,
                kind: MediaKind::Audio,
                timescale: config.sample_rate,
                codec: CodecConfig::Aac(config.clone()),
            };
            self.config = Some(config);
            self.next_dts = None;
            self.track = Some(info.clone());
            out.track(info);
        }
        let rate = header.sample_rate();
        let samples = i64::from(header.samples());
        let from_pes = pes_time.map(|(pts, k)| rescale(pts, VIDEO_TIMESCALE, rate) + k * 1024);
        let dts = match (self.next_dts, from_pes) {
            (Some(next), Some(p)) if (p - next).abs() <= 512 => next,
            (Some(_), Some(p)) => {
                self.reanchors += 1;
                p
            }
            (Some(next), None) => next,
            (None, Some(p)) => p,
            (None, None) => return out.drop("AAC frame without a timestamp".to_string()),
        };
        self.next_dts = Some(dts + samples);
        // An MP4 AAC sample is one raw_data_block of 1024 samples; several blocks behind one
        // ADTS header would need splitting at raw_data_block_position, which no live encoder
        // needs.
        if header.number_of_raw_data_blocks > 0 {
            return out.drop(format!(
                "ADTS frame with {} raw data blocks not supported",
                header.number_of_raw_data_blocks + 1
            ));
        }
        if payload.is_empty() {
            return out.drop("empty AAC frame".to_string());
        }
        out.frame(AccessUnit { track: AUDIO_TRACK, dts, pts: dts, keyframe: true, data: payload });
    }
}
