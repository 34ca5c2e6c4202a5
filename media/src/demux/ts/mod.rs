//! MPEG-TS demuxer (ISO/IEC 13818-1) for SRT ingest: transport stream bytes → track
//! descriptions, access units and SCTE-35 cues.
//!
//! Push/pull contract: feed bytes with [`TsDemuxer::push`] in chunks of any size and alignment
//! (SRT delivers 1316-byte payloads, seven packets, but nothing here relies on it), then drain
//! [`TsDemuxer::poll_event`] until it returns `None`. The events do not depend on how the input
//! was chunked. Call [`TsDemuxer::flush`] when the input ends: a video PES of unbounded length
//! only ends when the next one starts, so the last frame waits for it.
//!
//! Sits at the front of the data flow beside `demux::flv`: SRT ingest hands the payloads in;
//! [`Event::Track`] and [`Event::Frame`] go to the pipeline exactly as from the FLV demuxer.
//! Video (H.264, H.265) comes out on [`crate::track::VIDEO_TRACK`] at 90 kHz in 4-byte length-prefixed form
//! with its parameter sets moved into the track; AAC on
//! [`crate::track::AUDIO_TRACK`] at its sample rate, one
//! raw frame per access unit.
//!
//! Stages: [`packet`] finds and reads 188-byte packets, [`psi`] reassembles PAT/PMT sections,
//! [`pes`] reassembles PES packets, `video`/`audio` turn their payloads into access units,
//! [`scte35`] reads cue sections, [`timestamp`] puts the 33-bit clocks on one timeline.
//!
//! Choices worth knowing:
//! - The first program of the PAT is demuxed; in its PMT, the first H.264/H.265 stream is the
//!   video track and the first ADTS AAC stream the audio track. Other programs and streams are
//!   ignored (counted in [`TsStats`]); audio/video codecs Sluice cannot package are reported
//!   once per PID with [`Event::Unsupported`].
//! - Continuity errors: a packet lost on a PID leaves a hole in the PES packet being
//!   reassembled, so that PES packet is dropped rather than passed on damaged (a decoder
//!   shows garbage until the next keyframe on a broken frame; a missing one only skips a
//!   frame). Duplicate packets ("may be sent as two, and only two, consecutive transport stream
//!   packets of the same PID") are ignored; a discontinuity_indicator allows any jump.
//! - Memory is bounded: the input buffer holds less than two packets once drained, a PES
//!   packet at most [`MAX_PES_SIZE`], a section at most 4096 bytes, and only the PIDs the PMT
//!   names are followed.

pub mod packet;
pub mod pes;
pub mod psi;
pub mod scte35;
pub mod stream_type;
pub mod timestamp;

mod audio;
mod video;

use std::collections::{HashMap, HashSet, VecDeque};

use bytes::Bytes;

use crate::AccessUnit;
use crate::track::TrackInfo;
use audio::AudioEs;
use packet::{Framer, NULL_PID, Packet};
use pes::{PesAssembler, PesHeader};
use psi::{Pat, Pmt, PsiError, SectionAssembler};
use scte35::{Scte35Error, SpliceInfo};
use stream_type::StreamKind;
use timestamp::Unwrapper;
use video::{VideoCodec, VideoEs};

/// Largest PES packet reassembled (a 4K intra frame fits comfortably); a larger one is dropped.
pub const MAX_PES_SIZE: usize = 8 << 20;

/// PIDs remembered as reported unsupported or ignored.
const MAX_REPORTED: usize = 1024;

/// The PAT's PID: "Program Association Table … PID 0x0000".
const PAT_PID: u16 = 0x0000;

/// What the demuxer produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A track appeared or its decoder configuration changed (in-band parameter sets or ADTS
    /// header differ from the last announced ones).
    Track(TrackInfo),
    /// One access unit of a track previously announced with [`Event::Track`].
    Frame(AccessUnit),
    /// An SCTE-35 splice_info_section. `pts` is the splice time (pts_time + pts_adjustment) on
    /// the same 90 kHz timeline as video timestamps, when the command carries one.
    Scte35 { pts: Option<i64>, splice: SpliceInfo },
    /// A stream Sluice cannot package (MPEG audio, AC-3, …), reported once per PID; its data is
    /// ignored.
    Unsupported { pid: u16, stream_type: u8, codec: String },
    /// Something malformed was discarded (the reason says what).
    Dropped { reason: String },
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TsStats {
    /// Transport packets read.
    pub packets: u64,
    /// Times packet sync was lost and had to be searched for again.
    pub sync_losses: u64,
    /// Bytes skipped while searching for sync.
    pub skipped_bytes: u64,
    /// Packets with transport_error_indicator set (discarded).
    pub transport_errors: u64,
    /// Continuity counter jumps on followed PIDs.
    pub cc_errors: u64,
    /// Duplicate packets ignored.
    pub duplicate_packets: u64,
    /// PSI or SCTE-35 sections whose CRC_32 did not match.
    pub crc_errors: u64,
    /// Scrambled packets on followed PIDs (discarded).
    pub scrambled_packets: u64,
    /// Access units emitted.
    pub frames: u64,
    /// [`Event::Dropped`] events emitted.
    pub dropped: u64,
    /// Packets on PIDs the demuxer does not follow (null packets, unsupported or extra streams).
    pub ignored_packets: u64,
    /// Programs past the first in the PAT.
    pub ignored_programs: u64,
    /// Video or audio streams past the first of each kind in the PMT.
    pub ignored_streams: u64,
    /// Streams reported with [`Event::Unsupported`].
    pub unsupported_streams: u64,
    /// SCTE-35 sections emitted.
    pub scte35: u64,
    /// AAC timestamps re-anchored to a PES timestamp (gaps and jumps).
    pub audio_reanchors: u64,
}

/// Where the handlers put their results.
#[derive(Debug)]
struct Output<'a> {
    events: &'a mut VecDeque<Event>,
    stats: &'a mut TsStats,
}

impl Output<'_> {
    fn drop(&mut self, reason: String) {
        self.stats.dropped += 1;
        self.events.push_back(Event::Dropped { reason });
    }

    fn frame(&mut self, au: AccessUnit) {
        self.stats.frames += 1;
        self.events.push_back(Event::Frame(au));
    }

    fn track(&mut self, info: TrackInfo) {
        self.events.push_back(Event::Track(info));
    }
}

/// What a followed PID carries.
#[derive(Debug)]
enum Role {
    Pat(SectionAssembler),
    Pmt(SectionAssembler),
    Scte35(SectionAssembler),
    Video(PesAssembler),
    Audio(PesAssembler),
}

#[derive(Debug)]
struct PidState {
    role: Role,
    last_cc: Option<u8>,
    scrambled_reported: bool,
}

impl PidState {
    fn new(role: Role) -> Self {
        Self { role, last_cc: None, scrambled_reported: false }
    }

    /// Forgets the unit in progress; true when a PES packet was lost with it.
    fn reset(&mut self) -> bool {
        match &mut self.role {
            Role::Pat(a) | Role::Pmt(a) | Role::Scte35(a) => {
                a.reset();
                false
            }
            Role::Video(a) | Role::Audio(a) => a.reset(),
        }
    }
}

/// The continuity check's verdict on one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Continuity {
    Ok,
    Duplicate,
    Lost,
}

/// §2.4.3.3: "The continuity_counter shall not be incremented when the adaptation_field_control
/// of the packet equals '00' or '10'"; duplicate packets repeat the counter; and with the
/// discontinuity_indicator set "the continuity_counter in that same transport stream packet may
/// be discontinuous".
fn check_continuity(last: &mut Option<u8>, packet: &Packet<'_>) -> Continuity {
    if !packet.has_payload {
        return Continuity::Ok;
    }
    let cc = packet.continuity_counter;
    let previous = last.replace(cc);
    if packet.discontinuity {
        return Continuity::Ok;
    }
    match previous {
        None => Continuity::Ok,
        Some(p) if p == cc => Continuity::Duplicate,
        Some(p) if (p + 1) & 0x0f == cc => Continuity::Ok,
        Some(_) => Continuity::Lost,
    }
}

/// Sans-IO MPEG-TS demuxer. See the module docs for the push/pull contract.
#[derive(Debug)]
pub struct TsDemuxer {
    framer: Framer,
    pids: HashMap<u16, PidState>,
    /// The PAT section last acted on (repeats are skipped).
    pat_section: Option<Bytes>,
    /// (program_number, PMT PID) of the program followed.
    program: Option<(u16, u16)>,
    pmt_section: Option<Bytes>,
    pcr_pid: Option<u16>,
    last_pcr: Option<u64>,
    video_pid: Option<u16>,
    video: Option<VideoEs>,
    audio_pid: Option<u16>,
    audio: AudioEs,
    /// PIDs already reported unsupported or counted as ignored, with their stream_type.
    reported: HashSet<(u16, u8)>,
    clock: Unwrapper,
    events: VecDeque<Event>,
    stats: TsStats,
}

impl Default for TsDemuxer {
    fn default() -> Self {
        Self::new()
    }
}

impl TsDemuxer {
    pub fn new() -> Self {
        let mut pids = HashMap::new();
        pids.insert(PAT_PID, PidState::new(Role::Pat(SectionAssembler::default())));
        Self {
            framer: Framer::default(),
            pids,
            pat_section: None,
            program: None,
            pmt_section: None,
            pcr_pid: None,
            last_pcr: None,
            video_pid: None,
            video: None,
            audio_pid: None,
            audio: AudioEs::default(),
            reported: HashSet::new(),
            clock: Unwrapper::default(),
            events: VecDeque::new(),
            stats: TsStats::default(),
        }
    }

    /// Feeds transport stream bytes, cut anywhere.
    pub fn push(&mut self, data: &[u8]) {
        self.framer.push(data);
        while let Some(p) = self.framer.next_packet() {
            self.packet(&p);
        }
    }

    /// The input ended: completes the PES packets still open (the last video frame of a stream
    /// whose PES packets have no length).
    pub fn flush(&mut self) {
        for pid in [self.video_pid, self.audio_pid].into_iter().flatten() {
            self.finish_pes(pid);
        }
    }

    /// Ends the PES packet in progress on `pid` and handles it.
    fn finish_pes(&mut self, pid: u16) {
        let done = match self.pids.get_mut(&pid).map(|s| &mut s.role) {
            Some(Role::Video(a) | Role::Audio(a)) => a.finish(),
            _ => None,
        };
        if let Some(done) = done {
            self.pes_done(pid, done);
        }
    }

    /// Next event, in input order.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn stats(&self) -> TsStats {
        TsStats {
            sync_losses: self.framer.sync_losses,
            skipped_bytes: self.framer.skipped_bytes,
            audio_reanchors: self.audio.reanchors,
            ..self.stats
        }
    }

    /// Whether the followed program's PMT lists a video stream Sluice can package (its track
    /// is announced only with the first parameter sets, which may come after audio).
    pub fn expects_video(&self) -> bool {
        self.video_pid.is_some()
    }

    /// Whether the followed program's PMT lists an AAC stream.
    pub fn expects_audio(&self) -> bool {
        self.audio_pid.is_some()
    }

    /// The current video track, once its parameter sets have been seen.
    pub fn video_track(&self) -> Option<&TrackInfo> {
        self.video.as_ref().and_then(VideoEs::track)
    }

    /// The current audio track, once an ADTS header has been seen.
    pub fn audio_track(&self) -> Option<&TrackInfo> {
        self.audio.track()
    }

    /// The last program clock reference of the followed program, 27 MHz units (wraps at
    /// 2^33 × 300).
    pub fn last_pcr(&self) -> Option<u64> {
        self.last_pcr
    }

    fn out(&mut self) -> Output<'_> {
        Output { events: &mut self.events, stats: &mut self.stats }
    }

    fn packet(&mut self, raw: &[u8]) {
        self.stats.packets += 1;
        let packet = match Packet::parse(raw) {
            Ok(p) => p,
            Err(e) => return self.out().drop(format!("bad transport packet: {e}")),
        };
        // "transport_error_indicator … at least 1 uncorrectable bit error exists": nothing in
        // the packet, PID included, can be trusted. The next packet's continuity check notices
        // the hole.
        if packet.transport_error {
            self.stats.transport_errors += 1;
            return;
        }
        if packet.pid == NULL_PID {
            self.stats.ignored_packets += 1;
            return;
        }
        if Some(packet.pid) == self.pcr_pid
            && let Some(pcr) = packet.pcr
        {
            self.last_pcr = Some(pcr);
        }
        let Some(state) = self.pids.get_mut(&packet.pid) else {
            self.stats.ignored_packets += 1;
            return;
        };
        match check_continuity(&mut state.last_cc, &packet) {
            Continuity::Ok => {}
            Continuity::Duplicate => {
                self.stats.duplicate_packets += 1;
                return;
            }
            Continuity::Lost => {
                self.stats.cc_errors += 1;
                let lost_pes = state.reset();
                let pid = packet.pid;
                if Some(pid) == self.audio_pid {
                    self.audio.discontinuity();
                }
                if lost_pes {
                    self.out().drop(format!(
                        "continuity error on PID {pid:#x}: PES packet in progress dropped"
                    ));
                }
            }
        }
        self.packet_payload(&packet);
    }

    /// Routes a packet that passed the continuity check to its PID's assembler.
    fn packet_payload(&mut self, packet: &Packet<'_>) {
        if !packet.has_payload || packet.payload.is_empty() {
            return;
        }
        let Some(state) = self.pids.get_mut(&packet.pid) else { return };
        if packet.scrambling != 0 {
            self.stats.scrambled_packets += 1;
            state.reset();
            if !std::mem::replace(&mut state.scrambled_reported, true) {
                let pid = packet.pid;
                self.out().drop(format!("scrambled packets on PID {pid:#x} cannot be demuxed"));
            }
            return;
        }
        let mut sections = Vec::new();
        let mut pes = Vec::new();
        match &mut state.role {
            Role::Pat(a) | Role::Pmt(a) | Role::Scte35(a) => {
                a.push(packet.unit_start, packet.payload, &mut sections)
            }
            Role::Video(a) | Role::Audio(a) => a.push(packet.unit_start, packet.payload, &mut pes),
        }
        for section in sections {
            self.section_done(packet.pid, section);
        }
        for done in pes {
            self.pes_done(packet.pid, done);
        }
    }

    fn section_done(&mut self, pid: u16, section: Result<Bytes, PsiError>) {
        let section = match section {
            Ok(s) => s,
            Err(e) => return self.out().drop(format!("section on PID {pid:#x}: {e}")),
        };
        match self.pids.get(&pid).map(|s| &s.role) {
            Some(Role::Pat(_)) => self.pat(section),
            Some(Role::Pmt(_)) => self.pmt(section),
            Some(Role::Scte35(_)) => self.scte35(pid, section),
            _ => {}
        }
    }

    fn psi_error(&mut self, what: &str, e: PsiError) {
        if e == PsiError::BadCrc {
            self.stats.crc_errors += 1;
        }
        self.out().drop(format!("{what}: {e}"));
    }

    fn pat(&mut self, section: Bytes) {
        if self.pat_section.as_ref() == Some(&section) {
            return;
        }
        let pat = match Pat::parse(&section) {
            Ok(p) => p,
            Err(e) => return self.psi_error("PAT", e),
        };
        // current_next_indicator: "When the bit is set to '0', it indicates that the table sent is
        // not yet applicable".
        if !pat.current {
            return;
        }
        self.pat_section = Some(section);
        self.stats.ignored_programs += pat.programs.len().saturating_sub(1) as u64;
        // A PMT on the PAT's own PID or the null PID cannot be followed.
        let usable = pat.programs.iter().filter(|p| !matches!(p.1, PAT_PID | NULL_PID));
        // Keep following the same program when it is still there.
        let chosen = self
            .program
            .and_then(|(number, _)| usable.clone().find(|p| p.0 == number))
            .or_else(|| usable.clone().next())
            .copied();
        if chosen == self.program {
            return;
        }
        if let Some((_, old_pid)) = self.program {
            self.pids.remove(&old_pid);
        }
        self.program = chosen;
        self.pmt_section = None;
        if let Some((_, pmt_pid)) = chosen {
            self.pids.insert(pmt_pid, PidState::new(Role::Pmt(SectionAssembler::default())));
        }
    }

    fn pmt(&mut self, section: Bytes) {
        if self.pmt_section.as_ref() == Some(&section) {
            return;
        }
        let pmt = match Pmt::parse(&section) {
            Ok(p) => p,
            Err(e) => return self.psi_error("PMT", e),
        };
        if !pmt.current || Some(pmt.program_number) != self.program.map(|p| p.0) {
            return;
        }
        self.pmt_section = Some(section);
        self.pcr_pid = Some(pmt.pcr_pid);

        let mut video: Option<(u16, VideoCodec)> = None;
        let mut audio: Option<u16> = None;
        let mut scte35 = Vec::new();
        // Bounded: a stream whose PMTs keep naming new PIDs may see old ones reported again.
        if self.reported.len() > MAX_REPORTED {
            self.reported.clear();
        }
        for s in &pmt.streams {
            // A stream on a PSI PID would clobber it; such a PMT is broken.
            if matches!(s.pid, PAT_PID | NULL_PID) || Some(s.pid) == self.program.map(|p| p.1) {
                continue;
            }
            let kind = stream_type::classify(s.stream_type, &s.descriptors, &pmt.descriptors);
            let first_sighting = self.reported.insert((s.pid, s.stream_type));
            match kind {
                StreamKind::H264 | StreamKind::H265 if video.is_none() => {
                    let codec =
                        if kind == StreamKind::H264 { VideoCodec::H264 } else { VideoCodec::H265 };
                    video = Some((s.pid, codec));
                }
                StreamKind::AdtsAac if audio.is_none() => audio = Some(s.pid),
                StreamKind::Scte35 => scte35.push(s.pid),
                StreamKind::H264 | StreamKind::H265 | StreamKind::AdtsAac => {
                    if first_sighting {
                        self.stats.ignored_streams += 1;
                    }
                }
                StreamKind::Unsupported(codec) => {
                    if first_sighting {
                        self.stats.unsupported_streams += 1;
                        self.events.push_back(Event::Unsupported {
                            pid: s.pid,
                            stream_type: s.stream_type,
                            codec,
                        });
                    }
                }
                StreamKind::Ignored => {}
            }
        }
        self.follow_streams(video, audio, &scte35);
    }

    /// Points the PID table at the streams of a new PMT, keeping the state of the streams that
    /// did not change.
    fn follow_streams(
        &mut self,
        video: Option<(u16, VideoCodec)>,
        audio: Option<u16>,
        scte35: &[u16],
    ) {
        let keep: HashSet<u16> =
            [Some(PAT_PID), self.program.map(|p| p.1), video.map(|v| v.0), audio]
                .into_iter()
                .flatten()
                .chain(scte35.iter().copied())
                .collect();
        self.pids.retain(|pid, state| {
            keep.contains(pid)
                && match &state.role {
                    Role::Video(_) => Some(*pid) == video.map(|v| v.0),
                    Role::Audio(_) => Some(*pid) == audio,
                    Role::Scte35(_) => scte35.contains(pid),
                    Role::Pat(_) | Role::Pmt(_) => true,
                }
        });
        if let Some((pid, codec)) = video {
            // A codec change starts from scratch; the old stream's last (unbounded) PES packet
            // ends here. A moved PID keeps the parameter sets.
            if self.video.as_ref().map(|v| v.codec) != Some(codec) {
                if let Some(old) = self.video_pid {
                    self.finish_pes(old);
                }
                self.video = Some(VideoEs::new(codec));
                self.pids.remove(&pid);
            }
            self.pids
                .entry(pid)
                .or_insert_with(|| PidState::new(Role::Video(PesAssembler::new(MAX_PES_SIZE))));
        }
        self.video_pid = video.map(|v| v.0);
        if audio != self.audio_pid {
            self.audio.discontinuity();
        }
        if let Some(pid) = audio {
            self.pids
                .entry(pid)
                .or_insert_with(|| PidState::new(Role::Audio(PesAssembler::new(MAX_PES_SIZE))));
        }
        self.audio_pid = audio;
        for &pid in scte35 {
            self.pids
                .entry(pid)
                .or_insert_with(|| PidState::new(Role::Scte35(SectionAssembler::default())));
        }
    }

    fn scte35(&mut self, pid: u16, section: Bytes) {
        match SpliceInfo::parse(section) {
            Ok(splice) => {
                let pts = splice.splice_pts().map(|t| self.clock.peek(t));
                self.stats.scte35 += 1;
                self.events.push_back(Event::Scte35 { pts, splice });
            }
            Err(e) => {
                if e == Scte35Error::BadCrc {
                    self.stats.crc_errors += 1;
                }
                self.out().drop(format!("SCTE-35 section on PID {pid:#x}: {e}"));
            }
        }
    }

    fn pes_done(&mut self, pid: u16, pes: Result<Bytes, pes::PesError>) {
        let is_video = Some(pid) == self.video_pid;
        let kind = if is_video { "video" } else { "audio" };
        let pes = match pes {
            Ok(p) => p,
            Err(e) => {
                if !is_video {
                    self.audio.discontinuity();
                }
                return self.out().drop(format!("{kind} PES on PID {pid:#x}: {e}"));
            }
        };
        let header = match PesHeader::parse(&pes) {
            Ok(h) => h,
            Err(e) => {
                if !is_video {
                    self.audio.discontinuity();
                }
                return self.out().drop(format!("{kind} PES on PID {pid:#x}: {e}"));
            }
        };
        let payload = pes.slice(header.payload_start..);
        if is_video {
            let Some(raw_pts) = header.pts else {
                return self.out().drop(format!("video PES on PID {pid:#x} without PTS"));
            };
            // Without a DTS, decoding time equals presentation time (§2.4.3.7).
            let dts = self.clock.unwrap(header.dts.unwrap_or(raw_pts));
            let pts = self.clock.peek(raw_pts);
            let mut out = Output { events: &mut self.events, stats: &mut self.stats };
            if let Some(v) = self.video.as_mut() {
                v.push(&payload, dts, pts, &mut out);
            }
        } else {
            let pts = header.pts.map(|p| self.clock.unwrap(p));
            let mut out = Output { events: &mut self.events, stats: &mut self.stats };
            self.audio.push(payload, pts, &mut out);
        }
    }
}
