//! Publisher diagnostics: things about the incoming stream a streamer can fix in the encoder,
//! said in words they can act on. Observed from the access units the pipeline keeps.

use sluice_media::track::VIDEO_TRACK;
use sluice_media::{AccessUnit, CodecConfig, TrackInfo};

/// Video seen before "no audio" is reported (seconds of media).
const NO_AUDIO_AFTER_S: f64 = 5.0;

/// One finding, with a stable code for metrics and the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Diagnostics {
    b_frames: bool,
    /// Decode time of the last keyframe and the interval before it (90 kHz).
    last_keyframe: Option<i64>,
    keyframe_interval: Option<i64>,
    first_video_dts: Option<i64>,
    last_video_dts: Option<i64>,
    profile: Option<(u8, String)>,
    has_audio: bool,
    codec_note: Option<String>,
}

impl Diagnostics {
    pub fn set_tracks(&mut self, tracks: &[TrackInfo]) {
        self.has_audio = tracks.iter().any(|t| t.id != VIDEO_TRACK);
        self.profile = None;
        self.codec_note = None;
        for t in tracks.iter().filter(|t| t.id == VIDEO_TRACK) {
            match &t.codec {
                CodecConfig::H264(c) => self.profile = Some((c.profile_idc, t.codec_string())),
                CodecConfig::H265(_) | CodecConfig::Av1(_) => {
                    self.codec_note = Some(format!(
                        "video is {}: LL-HLS plays it in browsers that decode it, WHEP viewers get no video (WHEP sends H.264)",
                        t.codec_string()
                    ));
                }
                _ => {}
            }
        }
    }

    /// A video access unit on the channel timeline (90 kHz).
    pub fn video(&mut self, au: &AccessUnit) {
        if au.pts != au.dts {
            self.b_frames = true;
        }
        self.first_video_dts.get_or_insert(au.dts);
        self.last_video_dts = Some(au.dts);
        if au.keyframe {
            if let Some(prev) = self.last_keyframe
                && au.dts > prev
            {
                self.keyframe_interval = Some(au.dts - prev);
            }
            self.last_keyframe = Some(au.dts);
        }
    }

    /// Current findings for segment and part targets in milliseconds.
    pub fn findings(&self, segment_target_ms: u64, part_target_ms: u64) -> Vec<Finding> {
        let mut out = Vec::new();
        if self.b_frames {
            out.push(Finding {
                code: "b_frames",
                message: "the video has B-frames: WebRTC (WHEP) viewers get only the other frames, a lower frame rate; set bframes=0 (OBS: x264 options \"bframes=0\")".into(),
            });
        }
        if let Some(interval) = self.keyframe_interval {
            let ms = interval as f64 / 90.0;
            let segment = segment_target_ms as f64;
            // Segments close on the first keyframe after the target: a GOP longer than the target,
            // or one that does not divide it, makes segments longer or uneven.
            let off_grid =
                (ms - segment).abs() > 1.0 && (segment / ms - (segment / ms).round()).abs() > 0.05;
            if ms > segment * 1.25 || off_grid {
                out.push(Finding {
                    code: "keyframe_interval",
                    message: format!(
                        "keyframes come every {:.2} s but segments target {:.2} s (parts {:.2} s): set the keyframe interval to {:.0} s for even segments and faster start",
                        ms / 1000.0,
                        segment / 1000.0,
                        part_target_ms as f64 / 1000.0,
                        (segment / 1000.0).max(1.0)
                    ),
                });
            }
        }
        if let Some((profile_idc, codec)) = &self.profile
            && *profile_idc >= 100
        {
            out.push(Finding {
                code: "profile_high",
                message: format!(
                    "H.264 High profile ({codec}): browsers do not offer it for WebRTC; most still decode it, some devices will not. Main or Baseline is the safe choice for WHEP viewers"
                ),
            });
        }
        if let Some(note) = &self.codec_note {
            out.push(Finding { code: "video_codec", message: note.clone() });
        }
        let seen_s = match (self.first_video_dts, self.last_video_dts) {
            (Some(a), Some(b)) => (b - a) as f64 / 90_000.0,
            _ => 0.0,
        };
        if !self.has_audio && seen_s > NO_AUDIO_AFTER_S {
            out.push(Finding {
                code: "no_audio",
                message: "the stream has no audio track: check the encoder's audio source and that it sends AAC (or Opus over WHIP)".into(),
            });
        }
        out
    }
}
