//! MPEG-TS muxer (ISO/IEC 13818-1) for the HLS-TS endpoint and SRT playback: access units in,
//! 188-byte transport stream packets out. Sans-IO: output is appended to a caller's `BytesMut`.
//!
//! One program (number 1): PAT on PID 0, PMT on PID 0x1000, video (H.264 stream_type 0x1B or
//! H.265 0x24) on PID 0x100, AAC in ADTS (0x0F) on PID 0x101. The PCR rides on the video PID,
//! or on the audio PID when there is no video.
//!
//! Two ways to use it, sharing one [`TsMuxer`]:
//!
//! - **Segments** (HLS-TS, [`TsMuxerConfig::SEGMENTS`]): [`TsMuxer::write_segment`] writes a whole
//!   segment — PAT and PMT as its first two packets (RULES TS-04), a PCR before the first PES,
//!   then one PES per access unit (AAC frames grouped up to 100 ms per PES). The same steps are
//!   public as [`TsMuxer::begin_segment`], [`TsMuxer::push`] and [`TsMuxer::flush`] for a
//!   segment produced while its frames arrive.
//! - **Streaming** (SRT playback, [`TsMuxerConfig::STREAMING`]): [`TsMuxer::push`] one access
//!   unit at a time; PAT/PMT go out before the first unit, before every video keyframe and at
//!   least every 100 ms; every AAC frame is its own PES, so nothing waits.
//!
//! Continuity counters, the PCR and the PMT version live in the muxer, so consecutive segments
//! written by one muxer continue each other (RULES TS-06). Use one muxer per output stream.
//!
//! Timestamps: access units carry track-timescale ticks; PTS/DTS are those rescaled to 90 kHz
//! (unchanged for 90 kHz video) and coded modulo 2^33, so a TS rendition keeps the CMAF
//! rendition's timeline. The PCR follows the highest DTS pushed so far minus [`PCR_LEAD`] and
//! the audio PES span (AAC frames wait up to that long before they are written, and must not
//! arrive after their time), never decreasing and never below 0. It is written on every PES
//! start of the PCR PID, and in an adaptation-only packet at the first unit after
//! [`PCR_INTERVAL`] passed without one: PCRs are at most 40 ms plus one frame interval apart by
//! the units' clock (33 ms with 30 fps video; RULES TS-07 asks ≤ 100 ms).
//!
//! Track changes: [`TsMuxer::set_tracks`] swaps the codec configuration in place; when the list
//! of elementary streams (type or PID) changes, the PMT version_number goes up by one ("shall
//! be incremented by 1 modulo 32 whenever the definition of the PMT changes"), and the next
//! segment (or, streaming, the next unit) starts with the new tables. Counters carry on.

mod packet;
mod pes;
mod psi;

use bytes::{BufMut, BytesMut};

use crate::AccessUnit;
use crate::codec::adts::{AdtsError, AdtsHeader};
use crate::codec::annexb::AnnexBError;
use crate::track::{CodecConfig, MediaKind, TrackInfo};
use packet::{Pcr, Pid, StartFlags};
use pes::VideoSyntax;

pub use packet::{PACKET_LEN, SYNC_BYTE};
pub use psi::crc32_mpeg2;

pub const PAT_PID: u16 = 0x0000;
pub const PMT_PID: u16 = 0x1000;
pub const VIDEO_PID: u16 = 0x0100;
pub const AUDIO_PID: u16 = 0x0101;
pub const PROGRAM_NUMBER: u16 = 1;
pub const TRANSPORT_STREAM_ID: u16 = 1;

/// stream_type values (ISO/IEC 13818-1 Table 2-34).
pub const STREAM_TYPE_H264: u8 = 0x1b;
pub const STREAM_TYPE_H265: u8 = 0x24;
pub const STREAM_TYPE_AAC_ADTS: u8 = 0x0f;

/// The PCR runs this far (90 kHz ticks, 100 ms) behind the lowest DTS still to be written, so a
/// decoder that paces itself by the PCR has the data before it is due.
pub const PCR_LEAD: i64 = 9_000;
/// A PCR is due again after this many 90 kHz ticks (40 ms).
pub const PCR_INTERVAL: i64 = 3_600;
/// Audio-only programs carry the PCR on the audio PID and the PCR rides on PES starts, so each
/// AAC frame gets its own PES there (a PCR every frame, 21 ms at 48 kHz).
const AUDIO_ONLY_PES_SPAN: u32 = 0;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TsMuxError {
    #[error("no tracks to mux")]
    NoTracks,
    #[error("more than one {0:?} track")]
    DuplicateKind(MediaKind),
    #[error("track {id} codec {codec} cannot be muxed to ts")]
    UnsupportedCodec { id: u32, codec: String },
    #[error("track {0} is not in the program")]
    UnknownTrack(u32),
    #[error("track {track}: {source}")]
    BadSample { track: u32, source: AnnexBError },
    #[error("track {track}: {source}")]
    Adts { track: u32, source: AdtsError },
}

/// How PES packets and tables are laid out; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsMuxerConfig {
    /// An AAC frame joins the open audio PES while its PTS is less than this many 90 kHz ticks
    /// after the PES's first frame (0: one frame per PES, written at once). Always 0 without
    /// video.
    pub audio_pes_span: u32,
    /// Streaming: write PAT/PMT before the first unit, before each video keyframe and when this
    /// many 90 kHz ticks passed since the last ones. `None`: only [`TsMuxer::begin_segment`]
    /// writes them.
    pub repeat_tables: Option<u32>,
}

impl TsMuxerConfig {
    /// HLS-TS segments: AAC grouped up to 100 ms per PES, tables at segment starts.
    pub const SEGMENTS: Self = Self { audio_pes_span: 9_000, repeat_tables: None };
    /// Live streaming (SRT): one AAC frame per PES, tables every 100 ms and before keyframes.
    pub const STREAMING: Self = Self { audio_pes_span: 0, repeat_tables: Some(9_000) };
}

impl Default for TsMuxerConfig {
    fn default() -> Self {
        Self::SEGMENTS
    }
}

/// What [`TsMuxer::write_segment`] did. Malformed access units are skipped (nothing of them is
/// written) and counted; the rest of the segment is still written.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SegmentReport {
    pub written: usize,
    pub dropped: usize,
    pub first_error: Option<TsMuxError>,
}

#[derive(Debug)]
struct VideoStream {
    track: u32,
    timescale: u32,
    stream_type: u8,
    syntax: VideoSyntax,
}

#[derive(Debug)]
struct AudioStream {
    track: u32,
    timescale: u32,
    adts: AdtsHeader,
}

/// AAC frames waiting to go out as one PES.
#[derive(Debug, Default)]
struct PendingAudio {
    /// PES header room ([`pes::PTS_ONLY_HEADER_LEN`] bytes) followed by ADTS frames.
    buf: BytesMut,
    /// PTS of the first frame (90 kHz), when any frame is pending.
    first_pts: Option<i64>,
}

/// The MPEG-TS muxer. See the module docs.
#[derive(Debug)]
pub struct TsMuxer {
    cfg: TsMuxerConfig,
    video: Option<VideoStream>,
    audio: Option<AudioStream>,
    pmt_version: u8,
    pat_pid: Pid,
    pmt_pid: Pid,
    video_pid: Pid,
    audio_pid: Pid,
    pending: PendingAudio,
    /// Reused buffer for one video PES.
    pes_buf: BytesMut,
    /// Highest DTS pushed so far (90 kHz, not wrapped).
    clock: Option<i64>,
    /// Last PCR written (90 kHz, not wrapped).
    last_pcr: Option<i64>,
    /// A PCR must precede the next PES (segment start).
    pcr_due: bool,
    /// Clock when PAT/PMT were last written; `None` forces them before the next unit when
    /// streaming.
    tables_at: Option<i64>,
}

impl TsMuxer {
    /// A segment muxer ([`TsMuxerConfig::SEGMENTS`]) for at most one video (H.264/H.265) and
    /// one audio (AAC) track.
    pub fn new(tracks: &[TrackInfo]) -> Result<Self, TsMuxError> {
        Self::with_config(tracks, TsMuxerConfig::SEGMENTS)
    }

    pub fn with_config(tracks: &[TrackInfo], cfg: TsMuxerConfig) -> Result<Self, TsMuxError> {
        let (video, audio) = streams(tracks)?;
        Ok(Self {
            cfg,
            video,
            audio,
            pmt_version: 0,
            pat_pid: Pid::new(PAT_PID),
            pmt_pid: Pid::new(PMT_PID),
            video_pid: Pid::new(VIDEO_PID),
            audio_pid: Pid::new(AUDIO_PID),
            pending: PendingAudio::default(),
            pes_buf: BytesMut::new(),
            clock: None,
            last_pcr: None,
            pcr_due: true,
            tables_at: None,
        })
    }

    /// The PMT version_number in use.
    pub fn pmt_version(&self) -> u8 {
        self.pmt_version
    }

    /// Replaces the tracks (new parameter sets, a track added or gone). Pending audio is written
    /// to `out` first. Returns true when the PMT changed (its version went up); new tables are
    /// then written before the next unit when streaming, and by the next
    /// [`Self::begin_segment`] in any case.
    pub fn set_tracks(
        &mut self,
        tracks: &[TrackInfo],
        out: &mut BytesMut,
    ) -> Result<bool, TsMuxError> {
        let (video, audio) = streams(tracks)?;
        self.flush(out);
        let before = self.pmt_streams();
        self.video = video;
        self.audio = audio;
        let changed = before != self.pmt_streams();
        if changed {
            self.pmt_version = (self.pmt_version + 1) % 32;
            self.tables_at = None;
        }
        Ok(changed)
    }

    /// Writes a whole segment: [`Self::begin_segment`], every unit ([`Self::push`], already
    /// interleaved by DTS; a video segment should start with a keyframe), [`Self::flush`].
    pub fn write_segment<'a>(
        &mut self,
        frames: impl IntoIterator<Item = &'a AccessUnit>,
        out: &mut BytesMut,
    ) -> SegmentReport {
        let mut report = SegmentReport::default();
        self.begin_segment(out);
        for au in frames {
            match self.push(au, out) {
                Ok(()) => report.written += 1,
                Err(e) => {
                    report.dropped += 1;
                    report.first_error.get_or_insert(e);
                }
            }
        }
        self.flush(out);
        report
    }

    /// Starts a segment: pending audio is written, then PAT and PMT (the segment's first two
    /// packets when nothing was pending), and a PCR is due before the next PES.
    pub fn begin_segment(&mut self, out: &mut BytesMut) {
        self.flush(out);
        self.write_tables(out);
        self.pcr_due = true;
    }

    /// Writes PAT and PMT.
    pub fn write_tables(&mut self, out: &mut BytesMut) {
        let pat = psi::pat(TRANSPORT_STREAM_ID, PROGRAM_NUMBER, PMT_PID, 0);
        packet::write_section(out, &mut self.pat_pid, &pat);
        let pcr_pid = if self.video.is_some() { VIDEO_PID } else { AUDIO_PID };
        let pmt = psi::pmt(PROGRAM_NUMBER, self.pmt_version, pcr_pid, &self.pmt_streams());
        packet::write_section(out, &mut self.pmt_pid, &pmt);
        self.tables_at = Some(self.clock.unwrap_or(0));
    }

    /// Muxes one access unit. Video is written at once; AAC frames may wait for more to share
    /// their PES (see [`TsMuxerConfig::audio_pes_span`]) until [`Self::flush`]. A malformed unit
    /// is an error and writes nothing.
    pub fn push(&mut self, au: &AccessUnit, out: &mut BytesMut) -> Result<(), TsMuxError> {
        if self.video.as_ref().is_some_and(|v| v.track == au.track) {
            self.push_video(au, out)
        } else if self.audio.as_ref().is_some_and(|a| a.track == au.track) {
            self.push_audio(au, out)
        } else {
            Err(TsMuxError::UnknownTrack(au.track))
        }
    }

    /// Writes the pending AAC frames, if any, as one PES.
    pub fn flush(&mut self, out: &mut BytesMut) {
        let Some(pts) = self.pending.first_pts else {
            return;
        };
        // The PCR is taken while the pending frames still count as not yet written.
        let pcr = self.pcr_for(AUDIO_PID, out);
        self.pending.first_pts = None;
        let mut buf = std::mem::take(&mut self.pending.buf);
        let payload_len = buf.len() - pes::PTS_ONLY_HEADER_LEN;
        let mut header = BytesMut::with_capacity(pes::PTS_ONLY_HEADER_LEN);
        pes::put_header(&mut header, pes::STREAM_ID_AUDIO, pts, pts, payload_len);
        buf[..pes::PTS_ONLY_HEADER_LEN].copy_from_slice(&header);
        packet::write_unit(out, &mut self.audio_pid, &buf, StartFlags { pcr, random_access: true });
        buf.clear();
        self.pending.buf = buf;
    }

    fn push_video(&mut self, au: &AccessUnit, out: &mut BytesMut) -> Result<(), TsMuxError> {
        let Some(v) = self.video.as_ref() else {
            return Err(TsMuxError::UnknownTrack(au.track));
        };
        let dts = to_90k(au.dts, v.timescale);
        let pts = to_90k(au.pts, v.timescale);
        let mut buf = std::mem::take(&mut self.pes_buf);
        buf.clear();
        buf.put_bytes(0, pes::MAX_HEADER_LEN);
        if let Err(source) = pes::put_video_payload(&mut buf, &v.syntax, &au.data, au.keyframe) {
            self.pes_buf = buf;
            return Err(TsMuxError::BadSample { track: au.track, source });
        }
        self.advance_clock(dts);
        // Audio that has waited a whole span behind the video goes out first.
        if self.pending.first_pts.is_some_and(|p| dts - p >= i64::from(self.audio_span())) {
            self.flush(out);
        }
        if self.tables_due(au.keyframe) {
            self.write_tables(out);
        }
        let payload_len = buf.len() - pes::MAX_HEADER_LEN;
        let mut header = BytesMut::with_capacity(pes::MAX_HEADER_LEN);
        pes::put_header(&mut header, pes::STREAM_ID_VIDEO, pts, dts, payload_len);
        let start = pes::MAX_HEADER_LEN - header.len();
        buf[start..pes::MAX_HEADER_LEN].copy_from_slice(&header);
        let pcr = self.pcr_for(VIDEO_PID, out);
        let flags = StartFlags { pcr, random_access: au.keyframe };
        packet::write_unit(out, &mut self.video_pid, &buf[start..], flags);
        self.pes_buf = buf;
        Ok(())
    }

    fn push_audio(&mut self, au: &AccessUnit, out: &mut BytesMut) -> Result<(), TsMuxError> {
        let Some(a) = self.audio.as_ref() else {
            return Err(TsMuxError::UnknownTrack(au.track));
        };
        let pts = to_90k(au.pts, a.timescale);
        let dts = to_90k(au.dts, a.timescale);
        let adts = a.adts;
        let mut header = [0u8; AdtsHeader::LEN];
        adts.write(au.data.len(), &mut &mut header[..])
            .map_err(|source| TsMuxError::Adts { track: au.track, source })?;
        self.advance_clock(dts);
        let frame_len = AdtsHeader::LEN + au.data.len();
        let span = i64::from(self.audio_span());
        if let Some(first) = self.pending.first_pts {
            let too_long = pts - first >= span;
            let too_big = self.pending.buf.len() - pes::PTS_ONLY_HEADER_LEN + frame_len
                > pes::MAX_BOUNDED_PTS_PAYLOAD;
            if too_long || too_big {
                self.flush(out);
            }
        }
        if self.tables_due(false) {
            self.flush(out);
            self.write_tables(out);
        }
        if self.pending.first_pts.is_none() {
            self.pending.buf.clear();
            self.pending.buf.put_bytes(0, pes::PTS_ONLY_HEADER_LEN);
            self.pending.first_pts = Some(pts);
        }
        self.pending.buf.put_slice(&header);
        self.pending.buf.put_slice(&au.data);
        if span == 0 {
            self.flush(out);
        }
        self.pcr_tick(out);
        Ok(())
    }

    fn audio_span(&self) -> u32 {
        if self.video.is_some() { self.cfg.audio_pes_span } else { AUDIO_ONLY_PES_SPAN }
    }

    fn advance_clock(&mut self, dts: i64) {
        self.clock = Some(self.clock.map_or(dts, |c| c.max(dts)));
    }

    /// Streaming only: tables before the first unit, before keyframes, and every interval.
    fn tables_due(&self, keyframe: bool) -> bool {
        let Some(interval) = self.cfg.repeat_tables else {
            return false;
        };
        match (self.tables_at, self.clock) {
            (Some(at), Some(now)) => keyframe || now - at >= i64::from(interval),
            _ => true,
        }
    }

    /// The PCR for a PES about to start on `pid`: returned to ride in its first packet when
    /// `pid` carries the PCR; otherwise written to `out` in an adaptation-only packet on the PCR
    /// PID when one is due (segment start or [`PCR_INTERVAL`] passed), and `None` returned.
    fn pcr_for(&mut self, pid: u16, out: &mut BytesMut) -> Option<Pcr> {
        let pcr_pid = if self.video.is_some() { VIDEO_PID } else { AUDIO_PID };
        let now = self.pcr_now();
        if pid != pcr_pid {
            let due = self.pcr_due || self.last_pcr.is_none_or(|last| now - last >= PCR_INTERVAL);
            if !due {
                return None;
            }
            let state = if pcr_pid == VIDEO_PID { &self.video_pid } else { &self.audio_pid };
            packet::write_pcr_only(out, state, Pcr::from_90k(now));
        }
        self.last_pcr = Some(now);
        self.pcr_due = false;
        (pid == pcr_pid).then(|| Pcr::from_90k(now))
    }

    /// An adaptation-only PCR packet when [`PCR_INTERVAL`] passed since the last PCR.
    fn pcr_tick(&mut self, out: &mut BytesMut) {
        let now = self.pcr_now();
        if self.last_pcr.is_some_and(|last| now - last >= PCR_INTERVAL) {
            let state = if self.video.is_some() { &self.video_pid } else { &self.audio_pid };
            packet::write_pcr_only(out, state, Pcr::from_90k(now));
            self.last_pcr = Some(now);
        }
    }

    /// [`PCR_LEAD`] plus the audio PES span before the clock, and never after the pending
    /// audio's first PTS minus [`PCR_LEAD`]; not below the last PCR nor 0.
    fn pcr_now(&self) -> i64 {
        let clock = self.clock.unwrap_or(0);
        let mut pcr = clock - PCR_LEAD - i64::from(self.audio_span());
        if let Some(p) = self.pending.first_pts {
            pcr = pcr.min(p - PCR_LEAD);
        }
        let pcr = pcr.max(0);
        self.last_pcr.map_or(pcr, |last| last.max(pcr))
    }

    fn pmt_streams(&self) -> Vec<psi::PmtStream> {
        let mut s = Vec::with_capacity(2);
        if let Some(v) = &self.video {
            s.push(psi::PmtStream { stream_type: v.stream_type, pid: VIDEO_PID });
        }
        if self.audio.is_some() {
            s.push(psi::PmtStream { stream_type: STREAM_TYPE_AAC_ADTS, pid: AUDIO_PID });
        }
        s
    }
}

/// Checks the track list and builds the per-stream state.
fn streams(tracks: &[TrackInfo]) -> Result<(Option<VideoStream>, Option<AudioStream>), TsMuxError> {
    let (mut video, mut audio) = (None, None);
    for t in tracks {
        let unsupported = || TsMuxError::UnsupportedCodec { id: t.id, codec: t.codec_string() };
        match (&t.kind, &t.codec) {
            (MediaKind::Video, CodecConfig::H264(c)) => {
                let syntax = VideoSyntax::H264 { sps: c.sps.clone(), pps: c.pps.clone() };
                let s = VideoStream {
                    track: t.id,
                    timescale: t.timescale,
                    stream_type: STREAM_TYPE_H264,
                    syntax,
                };
                if video.replace(s).is_some() {
                    return Err(TsMuxError::DuplicateKind(MediaKind::Video));
                }
            }
            (MediaKind::Video, CodecConfig::H265(c)) => {
                let syntax = VideoSyntax::H265 {
                    vps: c.vps.clone(),
                    sps: c.sps.clone(),
                    pps: c.pps.clone(),
                };
                let s = VideoStream {
                    track: t.id,
                    timescale: t.timescale,
                    stream_type: STREAM_TYPE_H265,
                    syntax,
                };
                if video.replace(s).is_some() {
                    return Err(TsMuxError::DuplicateKind(MediaKind::Video));
                }
            }
            (MediaKind::Audio, CodecConfig::Aac(c)) => {
                let adts = AdtsHeader::from_config(c)
                    .map_err(|source| TsMuxError::Adts { track: t.id, source })?;
                let s = AudioStream { track: t.id, timescale: t.timescale, adts };
                if audio.replace(s).is_some() {
                    return Err(TsMuxError::DuplicateKind(MediaKind::Audio));
                }
            }
            // No Opus in TS: HLS-TS players (hls.js's TS demuxer, Safari) read AAC, not Opus
            // private streams, so an Opus track is refused (UnsupportedCodec, codec "opus")
            // rather than muxed into segments they cannot decode. The HLS-TS endpoint of an Opus
            // source needs the audio bridge (Opus → AAC) or goes without audio.
            (MediaKind::Audio, CodecConfig::Opus(_)) => return Err(unsupported()),
            #[allow(unreachable_patterns)]
            _ => return Err(unsupported()),
        }
    }
    if video.is_none() && audio.is_none() {
        return Err(TsMuxError::NoTracks);
    }
    Ok((video, audio))
}

/// Track ticks → 90 kHz (floor), saturating far outside any real timeline.
fn to_90k(ticks: i64, timescale: u32) -> i64 {
    if timescale == 90_000 || timescale == 0 {
        return ticks;
    }
    let v = (i128::from(ticks) * 90_000).div_euclid(i128::from(timescale));
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::codec::aac::AudioSpecificConfig;
    use crate::test_support::{audio_track, video_track};
    use crate::track::{AUDIO_TRACK, VIDEO_TRACK};

    fn video(dts: i64, keyframe: bool) -> AccessUnit {
        let nal: &[u8] = if keyframe { &[0x65, 0x88, 0x84] } else { &[0x41, 0x9a] };
        let mut data = (nal.len() as u32).to_be_bytes().to_vec();
        data.extend_from_slice(nal);
        AccessUnit { track: VIDEO_TRACK, dts, pts: dts, keyframe, data: Bytes::from(data) }
    }

    fn audio(dts: i64) -> AccessUnit {
        AccessUnit {
            track: AUDIO_TRACK,
            dts,
            pts: dts,
            keyframe: true,
            data: Bytes::from_static(&[0x21, 0x10, 0x04]),
        }
    }

    fn pids(ts: &[u8]) -> Vec<u16> {
        assert_eq!(ts.len() % PACKET_LEN, 0);
        ts.chunks(PACKET_LEN).map(|p| u16::from(p[1] & 0x1f) << 8 | u16::from(p[2])).collect()
    }

    /// version_number of the PMT packet(s) in `ts`.
    fn pmt_versions(ts: &[u8]) -> Vec<u8> {
        ts.chunks(PACKET_LEN)
            .filter(|p| pids(p)[0] == PMT_PID)
            .map(|p| (p[10] >> 1) & 0x1f)
            .collect()
    }

    #[test]
    fn track_lists_are_checked() {
        assert_eq!(TsMuxer::new(&[]).unwrap_err(), TsMuxError::NoTracks);
        assert_eq!(
            TsMuxer::new(&[video_track(), video_track()]).unwrap_err(),
            TsMuxError::DuplicateKind(MediaKind::Video)
        );
        let mut lc_960 = audio_track();
        lc_960.codec = CodecConfig::Aac(
            AudioSpecificConfig::parse(Bytes::from_static(&[0x11, 0x94])).unwrap(),
        );
        assert_eq!(
            TsMuxer::new(&[lc_960]).unwrap_err(),
            TsMuxError::Adts { track: AUDIO_TRACK, source: AdtsError::FrameLength960 }
        );
        let mut m = TsMuxer::new(&[video_track()]).unwrap();
        assert_eq!(m.push(&audio(0), &mut BytesMut::new()), Err(TsMuxError::UnknownTrack(2)));
    }

    #[test]
    fn a_segment_starts_with_pat_pmt_then_pcr_and_keyframe() {
        let mut m = TsMuxer::new(&[video_track(), audio_track()]).unwrap();
        let mut out = BytesMut::new();
        let frames = [video(0, true), audio(0), video(3000, false), audio(1024)];
        let report = m.write_segment(&frames, &mut out);
        assert_eq!(report, SegmentReport { written: 4, dropped: 0, first_error: None });
        let p = pids(&out);
        assert_eq!(&p[..3], &[PAT_PID, PMT_PID, VIDEO_PID]);
        // The keyframe's first packet: adaptation field with random_access and PCR.
        let first = &out[2 * PACKET_LEN..3 * PACKET_LEN];
        assert_eq!(first[5] & 0x50, 0x50);
        // Both audio frames share one PES, written at the end of the segment.
        assert_eq!(p.iter().filter(|&&x| x == AUDIO_PID).count(), 1);
        assert_eq!(*p.last().unwrap(), AUDIO_PID);
    }

    #[test]
    fn malformed_units_are_skipped_and_counted() {
        let mut m = TsMuxer::new(&[video_track()]).unwrap();
        let mut out = BytesMut::new();
        let mut bad = video(3000, false);
        bad.data = Bytes::from_static(&[0, 0, 0, 99, 0x41]);
        let report = m.write_segment(&[video(0, true), bad, video(6000, false)], &mut out);
        assert_eq!(report.written, 2);
        assert_eq!(report.dropped, 1);
        assert!(matches!(report.first_error, Some(TsMuxError::BadSample { track: 1, .. })));
        let oversized = AccessUnit { data: Bytes::from(vec![0u8; 8200]), ..audio(0) };
        let mut m = TsMuxer::new(&[audio_track()]).unwrap();
        let before = out.len();
        assert!(matches!(m.push(&oversized, &mut out), Err(TsMuxError::Adts { .. })));
        assert_eq!(out.len(), before);
    }

    #[test]
    fn changing_the_stream_list_bumps_the_pmt_version() {
        let mut m = TsMuxer::new(&[video_track()]).unwrap();
        let mut out = BytesMut::new();
        m.write_segment(&[video(0, true)], &mut out);
        assert_eq!(pmt_versions(&out), vec![0]);
        // Same streams, new parameter sets: no change.
        assert!(!m.set_tracks(&[video_track()], &mut out).unwrap());
        assert!(m.set_tracks(&[video_track(), audio_track()], &mut out).unwrap());
        assert_eq!(m.pmt_version(), 1);
        let mut seg = BytesMut::new();
        m.write_segment(&[video(3000, true), audio(1600)], &mut seg);
        assert_eq!(pmt_versions(&seg), vec![1]);
        // Continuity counters carry on across the change: PAT was 0, now 1.
        assert_eq!(seg[3] & 0x0f, 1);
    }

    #[test]
    fn streaming_writes_everything_at_once_and_repeats_tables() {
        let mut m = TsMuxer::with_config(&[video_track(), audio_track()], TsMuxerConfig::STREAMING)
            .unwrap();
        let mut out = BytesMut::new();
        m.push(&video(0, true), &mut out).unwrap();
        assert_eq!(&pids(&out)[..3], &[PAT_PID, PMT_PID, VIDEO_PID]);
        let n = out.len();
        m.push(&audio(0), &mut out).unwrap();
        assert!(out.len() > n, "audio goes out at once");
        let mut tables = 1;
        for i in 1..60 {
            let before = out.len();
            m.push(&video(i * 3000, i % 30 == 0), &mut out).unwrap();
            if pids(&out[before..])[0] == PAT_PID {
                tables += 1;
            }
        }
        // 59 frames of 1/30 s: tables every 100 ms (every 3rd frame) and at the keyframe.
        assert!(tables >= 19, "{tables}");
    }

    #[test]
    fn timestamps_are_rescaled_and_wrap() {
        assert_eq!(to_90k(44_100, 44_100), 90_000);
        assert_eq!(to_90k(1024, 44_100), 2089);
        assert_eq!(to_90k(-1, 48_000), -2);
        assert_eq!(to_90k(i64::MAX, 1), i64::MAX);
        let mut m = TsMuxer::new(&[video_track()]).unwrap();
        let mut out = BytesMut::new();
        let late = (1i64 << 33) + 90_000;
        m.write_segment(&[video(late, true)], &mut out);
        // PTS in the PES header (after the 4+8 byte header and adaptation field) is 90 000.
        let pkt = &out[2 * PACKET_LEN..3 * PACKET_LEN];
        let pes = &pkt[5 + usize::from(pkt[4])..];
        assert_eq!(&pes[..4], &[0, 0, 1, 0xe0]);
        let b = &pes[9..14];
        let pts = (u64::from(b[0] >> 1) & 7) << 30
            | u64::from(b[1]) << 22
            | u64::from(b[2] >> 1) << 15
            | u64::from(b[3]) << 7
            | u64::from(b[4] >> 1);
        assert_eq!(pts, 90_000);
    }

    #[test]
    fn arbitrary_units_never_panic() {
        let mut m = TsMuxer::new(&[video_track(), audio_track()]).unwrap();
        let mut out = BytesMut::new();
        let mut x = 0x9e37_79b9_u32;
        for i in 0..2000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let len = (x % 700) as usize;
            let data: Vec<u8> = (0..len).map(|j| (x >> (j % 24)) as u8).collect();
            let au = AccessUnit {
                track: 1 + x % 3,
                dts: i64::from(x % 1_000_000) - 500_000,
                pts: i64::from(x % 999_999) - 400_000,
                keyframe: x.is_multiple_of(5),
                data: Bytes::from(data),
            };
            let _ = m.push(&au, &mut out);
            if i.is_multiple_of(100) {
                m.begin_segment(&mut out);
            }
        }
        m.flush(&mut out);
        assert_eq!(out.len() % PACKET_LEN, 0);
        assert!(out.chunks(PACKET_LEN).all(|p| p[0] == SYNC_BYTE));
    }
}
