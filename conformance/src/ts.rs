//! Just enough MPEG-2 Transport Stream reading (ISO/IEC 13818-1) to judge HLS-TS segments
//! fetched over the wire.
//!
//! [`parse`] summarises one segment into a [`Segment`]: packet framing (sync bytes, length),
//! the PAT and PMT (with their CRCs), continuity counters per PID, every PCR, every PES header
//! (PTS/DTS), and inside the elementary streams the NAL unit types of the first video access
//! unit, the codec string from the first SPS, and the ADTS framing of AAC. It never fails and
//! never panics: anything malformed is recorded in the summary for the rules in
//! `crate::rules::ts` to judge. Independent of `sluice-media` on purpose.

use crate::codecs;

/// Size of a transport packet.
pub const PACKET_LEN: usize = 188;
/// PTS / DTS values wrap at 2^33.
pub const PTS_WRAP: u64 = 1 << 33;
/// The 90 kHz PES clock.
pub const PTS_HZ: u64 = 90_000;
/// The 27 MHz system clock of PCRs.
pub const PCR_HZ: u64 = 27_000_000;
/// PCRs wrap at 2^33 x 300.
pub const PCR_WRAP: u64 = PTS_WRAP * 300;

const SYNC_BYTE: u8 = 0x47;
const NULL_PID: u16 = 0x1fff;
const MAX_NAL_TYPES: usize = 64;

/// What an elementary stream carries, from its PMT stream_type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// stream_type 0x1B (ITU-T H.264 | ISO/IEC 14496-10).
    H264,
    /// stream_type 0x24 (ITU-T H.265 | ISO/IEC 23008-2).
    Hevc,
    /// stream_type 0x0F (ISO/IEC 13818-7 AAC with ADTS framing).
    AacAdts,
    /// Anything else (MPEG audio, AC-3, timed ID3 metadata, private data, …).
    Other,
}

impl StreamKind {
    /// Classifies a PMT stream_type.
    pub fn of(stream_type: u8) -> Self {
        match stream_type {
            0x1b => Self::H264,
            0x24 => Self::Hevc,
            0x0f => Self::AacAdts,
            _ => Self::Other,
        }
    }

    /// True for the video kinds.
    pub fn is_video(self) -> bool {
        matches!(self, Self::H264 | Self::Hevc)
    }

    /// True when `nal_type` starts a random-access picture: IDR (5) for H.264, IRAP (16..=21:
    /// BLA, IDR, CRA) for HEVC.
    pub fn is_key_nal(self, nal_type: u8) -> bool {
        match self {
            Self::H264 => nal_type == 5,
            Self::Hevc => (16..=21).contains(&nal_type),
            _ => false,
        }
    }

    /// True when `nal_type` is a coded slice (VCL NAL unit).
    pub fn is_vcl_nal(self, nal_type: u8) -> bool {
        match self {
            Self::H264 => (1..=5).contains(&nal_type),
            Self::Hevc => nal_type < 32,
            _ => false,
        }
    }

    /// The parameter-set NAL types that must precede the first picture (VPS/SPS/PPS for HEVC,
    /// SPS/PPS for H.264), with their names.
    pub fn parameter_sets(self) -> &'static [(u8, &'static str)] {
        match self {
            Self::H264 => &[(7, "SPS"), (8, "PPS")],
            Self::Hevc => &[(32, "VPS"), (33, "SPS"), (34, "PPS")],
            _ => &[],
        }
    }

    fn nal_type(self, nal: &[u8]) -> Option<u8> {
        match self {
            Self::H264 => codecs::avc_nal_type(nal),
            Self::Hevc => codecs::hevc_nal_type(nal),
            _ => None,
        }
    }
}

/// One elementary stream listed in the PMT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EsEntry {
    /// stream_type.
    pub stream_type: u8,
    /// elementary_PID.
    pub pid: u16,
}

/// The Program Map Table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pmt {
    /// program_number.
    pub program_number: u16,
    /// PCR_PID.
    pub pcr_pid: u16,
    /// The elementary streams.
    pub streams: Vec<EsEntry>,
}

/// Continuity bookkeeping of one PID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PidStats {
    /// The PID.
    pub pid: u16,
    /// Packets seen.
    pub packets: usize,
    /// continuity_counter of the first packet carrying payload.
    pub first_cc: Option<u8>,
    /// That first packet had discontinuity_indicator set.
    pub first_discontinuity: bool,
    /// continuity_counter of the last packet carrying payload.
    pub last_cc: Option<u8>,
    /// Continuity errors inside the segment.
    pub cc_errors: usize,
    /// The first of them, described.
    pub first_cc_error: Option<String>,
    dup_seen: bool,
}

/// One PCR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pcr {
    /// Packet index in the segment.
    pub packet: usize,
    /// PID it was carried on.
    pub pid: u16,
    /// Value in 27 MHz ticks.
    pub value: u64,
    /// discontinuity_indicator of its packet.
    pub discontinuity: bool,
}

/// One PES packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PesInfo {
    /// Index of the packet that started it.
    pub packet: usize,
    /// PTS (90 kHz).
    pub pts: Option<u64>,
    /// DTS (90 kHz).
    pub dts: Option<u64>,
    /// ADTS frames in it (AAC only).
    pub audio_frames: u32,
}

impl PesInfo {
    /// DTS, or PTS when there is no DTS.
    pub fn decode_time(&self) -> Option<u64> {
        self.dts.or(self.pts)
    }
}

/// One elementary stream as seen in the segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// elementary_PID.
    pub pid: u16,
    /// stream_type.
    pub stream_type: u8,
    /// Classified stream_type.
    pub kind: StreamKind,
    /// Every PES, in order.
    pub pes: Vec<PesInfo>,
    /// Payload arrived on this PID before its first PES start (the segment starts inside a PES
    /// begun in the previous segment).
    pub starts_mid_pes: bool,
    /// NAL unit types of the first PES, in order (video only).
    pub first_nal_types: Vec<u8>,
    /// PES that contain an IDR / IRAP picture (video only).
    pub key_pes: usize,
    /// HEVC RASL pictures (NAL types 8, 9) before the second IRAP: leading pictures of an open
    /// GOP that reference pictures before the first IRAP.
    pub leading_rasl: usize,
    /// RFC 6381 codec derived from the first SPS or ADTS header.
    pub codec: Option<String>,
    /// ADTS sampling frequency.
    pub sample_rate: Option<u32>,
    /// Framing problems inside the stream (PES start code, ADTS sync).
    pub issues: Vec<String>,
}

impl Stream {
    fn new(e: EsEntry) -> Self {
        Self {
            pid: e.pid,
            stream_type: e.stream_type,
            kind: StreamKind::of(e.stream_type),
            pes: Vec::new(),
            starts_mid_pes: false,
            first_nal_types: Vec::new(),
            key_pes: 0,
            leading_rasl: 0,
            codec: None,
            sample_rate: None,
            issues: Vec::new(),
        }
    }

    /// The first decode time (DTS or PTS) in the segment.
    pub fn first_time(&self) -> Option<u64> {
        self.pes.iter().find_map(PesInfo::decode_time)
    }

    /// Where the stream's timeline ends: the last decode time plus one frame (video: the median
    /// decode-time step; AAC: the last PES's ADTS frames x 1024 samples). `None` when unknown.
    pub fn end_time(&self) -> Option<u64> {
        let last = self.pes.iter().rev().find(|p| p.decode_time().is_some())?;
        let t = last.decode_time()?;
        let step = if self.kind == StreamKind::AacAdts {
            let sr = u64::from(self.sample_rate?);
            u64::from(last.audio_frames) * 1024 * PTS_HZ / sr.max(1)
        } else {
            self.frame_duration()?
        };
        Some((t + step) % PTS_WRAP)
    }

    /// The typical decode-time step between consecutive PES (median, 90 kHz).
    pub fn frame_duration(&self) -> Option<u64> {
        if self.kind == StreamKind::AacAdts {
            let sr = u64::from(self.sample_rate?);
            return Some(1024 * PTS_HZ / sr.max(1));
        }
        let times: Vec<u64> = self.pes.iter().filter_map(PesInfo::decode_time).collect();
        let mut steps: Vec<u64> = times
            .windows(2)
            .map(|w| (w[1] + PTS_WRAP - w[0]) % PTS_WRAP)
            .filter(|d| *d > 0 && *d < PTS_HZ)
            .collect();
        steps.sort_unstable();
        steps.get(steps.len() / 2).copied()
    }

    /// The span the segment covers on this stream, in seconds (first decode time to end).
    pub fn duration_secs(&self) -> Option<f64> {
        let (a, b) = (self.first_time()?, self.end_time()?);
        Some(((b + PTS_WRAP - a) % PTS_WRAP) as f64 / PTS_HZ as f64)
    }
}

/// Everything the rules need to know about one segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segment {
    /// Bytes.
    pub len: usize,
    /// Whole 188-byte packets.
    pub packets: usize,
    /// Packets whose first byte is not 0x47.
    pub sync_errors: usize,
    /// Index of the first of them.
    pub first_sync_error: Option<usize>,
    /// PIDs of the first three packets.
    pub first_pids: Vec<u16>,
    /// Complete PAT sections seen.
    pub pats: usize,
    /// (program_number, PID) of the first PAT, without the network PID entry (program 0).
    pub programs: Vec<(u16, u16)>,
    /// Complete PMT sections seen.
    pub pmts: usize,
    /// The first PMT.
    pub pmt: Option<Pmt>,
    /// Per-PID continuity bookkeeping, in order of first appearance.
    pub pids: Vec<PidStats>,
    /// Every PCR.
    pub pcrs: Vec<Pcr>,
    /// Every elementary stream of the PMT.
    pub streams: Vec<Stream>,
    /// Structural problems (CRC, reserved adaptation_field_control, changing tables, …).
    pub issues: Vec<String>,
}

impl Segment {
    /// The first video stream.
    pub fn video(&self) -> Option<&Stream> {
        self.streams.iter().find(|s| s.kind.is_video())
    }

    /// PCRs on the PMT's PCR_PID.
    pub fn program_pcrs(&self) -> Vec<Pcr> {
        let Some(pid) = self.pmt.as_ref().map(|p| p.pcr_pid) else { return Vec::new() };
        self.pcrs.iter().copied().filter(|p| p.pid == pid).collect()
    }

    /// The stats of `pid`.
    pub fn pid(&self, pid: u16) -> Option<&PidStats> {
        self.pids.iter().find(|p| p.pid == pid)
    }
}

/// True when the bytes look like a transport stream (0x47 at offsets 0 and 188, or a single
/// packet).
pub fn sniff(data: &[u8]) -> bool {
    data.first() == Some(&SYNC_BYTE)
        && (data.len() <= PACKET_LEN || data.get(PACKET_LEN) == Some(&SYNC_BYTE))
}

struct Packet<'a> {
    index: usize,
    pid: u16,
    pusi: bool,
    cc: u8,
    has_payload: bool,
    discontinuity: bool,
    pcr: Option<u64>,
    payload: &'a [u8],
}

fn packet(index: usize, p: &[u8]) -> Result<Packet<'_>, String> {
    let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
    let afc = (p[3] >> 4) & 3;
    if afc == 0 {
        return Err(format!(
            "packet {index} (PID 0x{pid:x}): reserved adaptation_field_control 00"
        ));
    }
    let mut discontinuity = false;
    let mut pcr = None;
    let mut off = 4;
    if afc & 2 != 0 {
        let len = usize::from(p[4]);
        let af = p.get(5..5 + len).ok_or(format!(
            "packet {index} (PID 0x{pid:x}): adaptation field overruns the packet"
        ))?;
        if let Some(&flags) = af.first() {
            discontinuity = flags & 0x80 != 0;
            if flags & 0x10 != 0 {
                let b = af.get(1..7).ok_or(format!(
                    "packet {index} (PID 0x{pid:x}): PCR_flag set but adaptation field too short"
                ))?;
                let base = (u64::from(b[0]) << 25)
                    | (u64::from(b[1]) << 17)
                    | (u64::from(b[2]) << 9)
                    | (u64::from(b[3]) << 1)
                    | (u64::from(b[4]) >> 7);
                let ext = (u64::from(b[4] & 1) << 8) | u64::from(b[5]);
                pcr = Some(base * 300 + ext);
            }
        }
        off = 5 + len;
    }
    let has_payload = afc & 1 != 0;
    Ok(Packet {
        index,
        pid,
        pusi: p[1] & 0x40 != 0,
        cc: p[3] & 0x0f,
        has_payload,
        discontinuity,
        pcr,
        payload: if has_payload { p.get(off..).unwrap_or_default() } else { &[] },
    })
}

/// CRC-32/MPEG-2 (poly 0x04C11DB7, init all ones, no reflection); 0 over a section with its CRC.
fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04c1_1db7 } else { crc << 1 };
        }
    }
    crc
}

/// Reassembles PSI sections of one PID.
#[derive(Default)]
struct Sections {
    buf: Vec<u8>,
    active: bool,
}

impl Sections {
    /// Feeds one packet's payload; returns the sections it completed.
    fn push(&mut self, pusi: bool, payload: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if pusi {
            let pointer = usize::from(payload.first().copied().unwrap_or(0));
            if self.active {
                self.buf.extend_from_slice(payload.get(1..1 + pointer).unwrap_or_default());
                self.drain(&mut out);
            }
            self.buf.clear();
            self.buf.extend_from_slice(payload.get(1 + pointer..).unwrap_or_default());
            self.active = true;
        } else if self.active {
            self.buf.extend_from_slice(payload);
        }
        self.drain(&mut out);
        out
    }

    fn drain(&mut self, out: &mut Vec<Vec<u8>>) {
        while self.active && self.buf.len() >= 3 {
            if self.buf[0] == 0xff {
                self.active = false;
                self.buf.clear();
                return;
            }
            let total = 3 + ((usize::from(self.buf[1] & 0x0f) << 8) | usize::from(self.buf[2]));
            if self.buf.len() < total {
                return;
            }
            out.push(self.buf.drain(..total).collect());
        }
    }
}

/// Checks a long-form section's CRC; returns its body between the 8-byte header and the CRC.
fn section_body<'a>(s: &'a [u8], what: &str, issues: &mut Vec<String>) -> Option<&'a [u8]> {
    if s.len() < 12 {
        issues.push(format!("{what} section too short ({} bytes)", s.len()));
        return None;
    }
    if crc32_mpeg2(s) != 0 {
        issues.push(format!("{what} section CRC_32 mismatch"));
        return None;
    }
    s.get(8..s.len() - 4)
}

fn parse_pat(s: &[u8], issues: &mut Vec<String>) -> Option<Vec<(u16, u16)>> {
    if s.first() != Some(&0x00) {
        issues.push(format!("PID 0 carries table_id 0x{:02x}, not a PAT", s.first()?));
        return None;
    }
    let body = section_body(s, "PAT", issues)?;
    Some(
        body.chunks_exact(4)
            .map(|c| {
                (u16::from_be_bytes([c[0], c[1]]), (u16::from(c[2] & 0x1f) << 8) | u16::from(c[3]))
            })
            .filter(|(program, _)| *program != 0)
            .collect(),
    )
}

fn parse_pmt(s: &[u8], issues: &mut Vec<String>) -> Option<Pmt> {
    if s.first() != Some(&0x02) {
        issues.push(format!("PMT PID carries table_id 0x{:02x}, not a PMT", s.first()?));
        return None;
    }
    let program_number = u16::from_be_bytes([*s.get(3)?, *s.get(4)?]);
    let body = section_body(s, "PMT", issues)?;
    let pcr_pid = (u16::from(*body.first()? & 0x1f) << 8) | u16::from(*body.get(1)?);
    let info_len = (usize::from(*body.get(2)? & 0x0f) << 8) | usize::from(*body.get(3)?);
    let mut pos = 4 + info_len;
    let mut streams = Vec::new();
    while pos + 5 <= body.len() {
        let stream_type = body[pos];
        let pid = (u16::from(body[pos + 1] & 0x1f) << 8) | u16::from(body[pos + 2]);
        let es_info = (usize::from(body[pos + 3] & 0x0f) << 8) | usize::from(body[pos + 4]);
        streams.push(EsEntry { stream_type, pid });
        pos += 5 + es_info;
    }
    Some(Pmt { program_number, pcr_pid, streams })
}

fn read_timestamp(b: &[u8]) -> Option<u64> {
    let b = b.get(..5)?;
    Some(
        (u64::from((b[0] >> 1) & 0x07) << 30)
            | (u64::from(b[1]) << 22)
            | (u64::from(b[2] >> 1) << 15)
            | (u64::from(b[3]) << 7)
            | u64::from(b[4] >> 1),
    )
}

const ADTS_RATES: [u32; 13] =
    [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/// One ADTS header: (frame_length, audio object type, sampling frequency).
pub fn adts_header(b: &[u8]) -> Option<(usize, u8, Option<u32>)> {
    let h = b.get(..7)?;
    if h[0] != 0xff || h[1] & 0xf0 != 0xf0 {
        return None;
    }
    let aot = (h[2] >> 6) + 1;
    let rate = ADTS_RATES.get(usize::from((h[2] >> 2) & 0x0f)).copied();
    let len = (usize::from(h[3] & 0x03) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
    Some((len, aot, rate))
}

fn finish_pes(stream: &mut Stream, start: usize, buf: &[u8]) {
    if buf.len() < 9 || buf[..3] != [0, 0, 1] {
        stream
            .issues
            .push(format!("PES starting at packet {start} has no packet_start_code_prefix"));
        return;
    }
    let pes_len = usize::from(u16::from_be_bytes([buf[4], buf[5]]));
    let flags = buf[7] >> 6;
    let header_len = usize::from(buf[8]);
    if flags == 1 {
        stream.issues.push(format!("PES at packet {start}: forbidden PTS_DTS_flags '01'"));
    }
    let pts = if flags & 2 != 0 { buf.get(9..14).and_then(read_timestamp) } else { None };
    let dts = if flags == 3 { buf.get(14..19).and_then(read_timestamp) } else { None };
    let end = if pes_len == 0 { buf.len() } else { (6 + pes_len).min(buf.len()) };
    if pes_len != 0 && 6 + pes_len > buf.len() {
        stream.issues.push(format!(
            "PES at packet {start}: PES_packet_length {pes_len} but only {} bytes present",
            buf.len() - 6
        ));
    }
    let payload = buf.get(9 + header_len..end).unwrap_or_default();
    let first = stream.pes.is_empty();
    let mut audio_frames = 0u32;
    match stream.kind {
        StreamKind::H264 | StreamKind::Hevc => {
            let nals = codecs::annexb_nals(payload);
            let types: Vec<u8> = nals.iter().filter_map(|n| stream.kind.nal_type(n)).collect();
            if first {
                stream.first_nal_types = types.iter().copied().take(MAX_NAL_TYPES).collect();
            }
            let key = types.iter().any(|t| stream.kind.is_key_nal(*t));
            if key {
                stream.key_pes += 1;
            }
            if stream.kind == StreamKind::Hevc
                && stream.key_pes == 1
                && !key
                && types.iter().any(|t| matches!(t, 8 | 9))
            {
                stream.leading_rasl += 1;
            }
            if stream.codec.is_none() {
                stream.codec = nals.iter().find_map(|n| match stream.kind {
                    StreamKind::H264 => codecs::avc_from_sps(n),
                    _ => codecs::hevc_from_sps(n),
                });
            }
        }
        StreamKind::AacAdts => {
            let mut pos = 0;
            while pos < payload.len() {
                let Some((len, aot, rate)) = payload.get(pos..).and_then(adts_header) else {
                    stream.issues.push(format!(
                        "PES at packet {start}: ADTS syncword missing at payload byte {pos}"
                    ));
                    break;
                };
                if len < 7 {
                    stream.issues.push(format!(
                        "PES at packet {start}: ADTS frame_length {len} at payload byte {pos}"
                    ));
                    break;
                }
                if stream.codec.is_none() {
                    stream.codec = Some(codecs::aac(aot));
                    stream.sample_rate = rate;
                }
                if pos + len > payload.len() {
                    stream.issues.push(format!(
                        "PES at packet {start}: ADTS frame at payload byte {pos} overruns the PES"
                    ));
                    break;
                }
                audio_frames += 1;
                pos += len;
            }
        }
        StreamKind::Other => {}
    }
    stream.pes.push(PesInfo { packet: start, pts, dts, audio_frames });
}

/// Summarises one segment. Never fails; see [`Segment`] for what it records.
pub fn parse(data: &[u8]) -> Segment {
    let mut seg =
        Segment { len: data.len(), packets: data.len() / PACKET_LEN, ..Segment::default() };
    let mut packets = Vec::with_capacity(seg.packets);
    for (i, p) in data.chunks_exact(PACKET_LEN).enumerate() {
        if p[0] != SYNC_BYTE {
            seg.sync_errors += 1;
            seg.first_sync_error.get_or_insert(i);
            continue;
        }
        match packet(i, p) {
            Ok(pk) => packets.push(pk),
            Err(e) => seg.issues.push(e),
        }
    }
    seg.first_pids = packets.iter().take_while(|p| p.index < 3).map(|p| p.pid).collect();

    // Pass 1: the PAT.
    let mut pat = Sections::default();
    for p in packets.iter().filter(|p| p.pid == 0 && p.has_payload) {
        for s in pat.push(p.pusi, p.payload) {
            if let Some(programs) = parse_pat(&s, &mut seg.issues) {
                seg.pats += 1;
                if seg.pats == 1 {
                    seg.programs = programs;
                } else if programs != seg.programs {
                    seg.issues.push(format!("PAT changes inside the segment (packet {})", p.index));
                }
            }
        }
    }
    // Pass 2: the PMT of the first program.
    if let Some(&(_, pmt_pid)) = seg.programs.first() {
        let mut pmt = Sections::default();
        for p in packets.iter().filter(|p| p.pid == pmt_pid && p.has_payload) {
            for s in pmt.push(p.pusi, p.payload) {
                if let Some(t) = parse_pmt(&s, &mut seg.issues) {
                    seg.pmts += 1;
                    match &seg.pmt {
                        None => seg.pmt = Some(t),
                        Some(first) if *first != t => seg
                            .issues
                            .push(format!("PMT changes inside the segment (packet {})", p.index)),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    // Pass 3: continuity, PCRs, elementary streams.
    let entries = seg.pmt.as_ref().map(|p| p.streams.clone()).unwrap_or_default();
    seg.streams = entries.iter().map(|e| Stream::new(*e)).collect();
    let mut pending: Vec<Option<(usize, Vec<u8>)>> = vec![None; seg.streams.len()];
    for p in &packets {
        if let Some(v) = p.pcr {
            seg.pcrs.push(Pcr {
                packet: p.index,
                pid: p.pid,
                value: v,
                discontinuity: p.discontinuity,
            });
        }
        if p.pid == NULL_PID {
            continue;
        }
        let at = match seg.pids.iter().position(|s| s.pid == p.pid) {
            Some(i) => i,
            None => {
                seg.pids.push(PidStats { pid: p.pid, ..PidStats::default() });
                seg.pids.len() - 1
            }
        };
        let st = &mut seg.pids[at];
        st.packets += 1;
        if p.has_payload {
            match st.last_cc {
                None => {
                    st.first_cc = Some(p.cc);
                    st.first_discontinuity = p.discontinuity;
                }
                // "duplicate packets may be sent as two, and only two, consecutive Transport
                // Stream packets of the same PID" (ISO/IEC 13818-1 §2.4.3.3)
                Some(last) if p.cc == last && !st.dup_seen => st.dup_seen = true,
                Some(last) if p.cc != (last + 1) & 0x0f && !p.discontinuity => {
                    st.cc_errors += 1;
                    st.first_cc_error.get_or_insert(format!(
                        "PID 0x{:x}: continuity_counter {last} -> {} at packet {}",
                        p.pid, p.cc, p.index
                    ));
                    st.dup_seen = false;
                }
                Some(_) => st.dup_seen = false,
            }
            st.last_cc = Some(p.cc);
        }
        let Some(k) = seg.streams.iter().position(|s| s.pid == p.pid) else { continue };
        if !p.has_payload {
            continue;
        }
        if p.pusi {
            if let Some((start, buf)) = pending[k].take() {
                finish_pes(&mut seg.streams[k], start, &buf);
            }
            pending[k] = Some((p.index, p.payload.to_vec()));
        } else if let Some((_, buf)) = pending[k].as_mut() {
            buf.extend_from_slice(p.payload);
        } else if seg.streams[k].pes.is_empty() {
            seg.streams[k].starts_mid_pes = true;
        }
    }
    for (k, slot) in pending.into_iter().enumerate() {
        if let Some((start, buf)) = slot {
            finish_pes(&mut seg.streams[k], start, &buf);
        }
    }
    seg
}

/// Signed difference `b - a` of two 90 kHz timestamps, taking the 33-bit wrap into account.
pub fn pts_delta(a: u64, b: u64) -> i64 {
    let d = ((b % PTS_WRAP) + PTS_WRAP - (a % PTS_WRAP)) % PTS_WRAP;
    if d >= PTS_WRAP / 2 { d as i64 - PTS_WRAP as i64 } else { d as i64 }
}

/// Signed difference `b - a` of two PCRs (27 MHz), taking the wrap into account.
pub fn pcr_delta(a: u64, b: u64) -> i64 {
    let d = ((b % PCR_WRAP) + PCR_WRAP - (a % PCR_WRAP)) % PCR_WRAP;
    if d >= PCR_WRAP / 2 { d as i64 - PCR_WRAP as i64 } else { d as i64 }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A tiny TS writer for tests: PAT, PMT, and PES packets of one H.264 (or HEVC) stream on
    //! PID 0x100 (the PCR PID) and one AAC stream on PID 0x101.

    use super::*;

    /// Appends a CRC-32/MPEG-2 to a section.
    pub fn with_crc(mut s: Vec<u8>) -> Vec<u8> {
        let crc = crc32_mpeg2(&s);
        s.extend_from_slice(&crc.to_be_bytes());
        s
    }

    fn psi_packet(pid: u16, cc: u8, section: &[u8]) -> Vec<u8> {
        let mut p = vec![0x47, 0x40 | (pid >> 8) as u8, pid as u8, 0x10 | cc, 0];
        p.extend_from_slice(section);
        p.resize(PACKET_LEN, 0xff);
        p
    }

    /// A PAT listing `programs` (program_number, PMT PID).
    pub fn pat(cc: u8, programs: &[(u16, u16)]) -> Vec<u8> {
        let len = 5 + 4 * programs.len() + 4;
        let mut s = vec![0x00, 0xb0, len as u8, 0, 1, 0xc1, 0, 0];
        for (n, pid) in programs {
            s.extend_from_slice(&n.to_be_bytes());
            s.extend_from_slice(&[0xe0 | (pid >> 8) as u8, *pid as u8]);
        }
        psi_packet(0, cc, &with_crc(s))
    }

    /// A PMT on PID 0x1000: PCR on 0x100, streams (stream_type, pid).
    pub fn pmt(cc: u8, streams: &[(u8, u16)]) -> Vec<u8> {
        let len = 9 + 5 * streams.len() + 4;
        let mut s = vec![0x02, 0xb0, len as u8, 0, 1, 0xc1, 0, 0, 0xe1, 0x00, 0xf0, 0];
        for (t, pid) in streams {
            s.extend_from_slice(&[*t, 0xe0 | (pid >> 8) as u8, *pid as u8, 0xf0, 0]);
        }
        psi_packet(0x1000, cc, &with_crc(s))
    }

    fn timestamp(prefix: u8, t: u64) -> [u8; 5] {
        [
            (prefix << 4) | (((t >> 30) as u8 & 7) << 1) | 1,
            (t >> 22) as u8,
            (((t >> 15) as u8) << 1) | 1,
            (t >> 7) as u8,
            ((t as u8) << 1) | 1,
        ]
    }

    /// A PES with PTS (and DTS when given) around `payload`.
    pub fn pes(stream_id: u8, pts: u64, dts: Option<u64>, payload: &[u8]) -> Vec<u8> {
        let mut h = vec![0, 0, 1, stream_id, 0, 0, 0x80];
        match dts {
            Some(d) => {
                h.extend_from_slice(&[0xc0, 10]);
                h.extend_from_slice(&timestamp(3, pts));
                h.extend_from_slice(&timestamp(1, d));
            }
            None => {
                h.extend_from_slice(&[0x80, 5]);
                h.extend_from_slice(&timestamp(2, pts));
            }
        }
        h.extend_from_slice(payload);
        if stream_id != 0xe0 {
            let len = (h.len() - 6) as u16;
            h[4..6].copy_from_slice(&len.to_be_bytes());
        }
        h
    }

    /// Splits a PES into packets of `pid` starting at continuity counter `cc`; the first packet
    /// carries `pcr` (27 MHz) in an adaptation field when given. Returns packets and next cc.
    pub fn packetize(pid: u16, mut cc: u8, pcr: Option<u64>, pes: &[u8]) -> (Vec<u8>, u8) {
        let mut out = Vec::new();
        let mut rest = pes;
        let mut first = true;
        while !rest.is_empty() || first {
            let mut p = vec![0x47, (pid >> 8) as u8 | if first { 0x40 } else { 0 }, pid as u8];
            let mut af: Option<Vec<u8>> = match (first, pcr) {
                (true, Some(v)) => {
                    let (base, ext) = (v / 300, v % 300);
                    Some(vec![
                        0x10,
                        (base >> 25) as u8,
                        (base >> 17) as u8,
                        (base >> 9) as u8,
                        (base >> 1) as u8,
                        ((base as u8 & 1) << 7) | 0x7e | (ext >> 8) as u8,
                        ext as u8,
                    ])
                }
                _ => None,
            };
            let cap = |af: &Option<Vec<u8>>| 184 - af.as_ref().map_or(0, |a| 1 + a.len());
            if rest.len() < cap(&af) {
                // Stuff the adaptation field so that the payload ends the packet.
                let af_len = 183 - rest.len();
                let mut a = af.unwrap_or_default();
                if a.is_empty() && af_len > 0 {
                    a.push(0x00);
                }
                a.resize(af_len, 0xff);
                af = Some(a);
            }
            let n = cap(&af).min(rest.len());
            p.push(if af.is_some() { 0x30 } else { 0x10 } | cc);
            if let Some(a) = &af {
                p.push(a.len() as u8);
                p.extend_from_slice(a);
            }
            p.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            debug_assert_eq!(p.len(), PACKET_LEN);
            out.extend(p);
            cc = (cc + 1) & 0x0f;
            first = false;
        }
        (out, cc)
    }

    /// An H.264 access unit: AUD, then SPS (High 3.1) + PPS + IDR when `key`, else a P slice.
    pub fn avc_au(key: bool) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 1, 0x09, 0xf0];
        if key {
            v.extend_from_slice(&[0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9]);
            v.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xeb, 0xe3, 0xcb]);
            v.extend_from_slice(&[0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x33]);
        } else {
            v.extend_from_slice(&[0, 0, 1, 0x41, 0x9a, 0x02, 0x04]);
        }
        v.resize(v.len() + 300, 0x5a);
        v
    }

    /// `frames` ADTS frames of AAC-LC 48 kHz stereo (20 bytes each).
    pub fn adts(frames: usize) -> Vec<u8> {
        let len = 20usize;
        let h = [
            0xff,
            0xf1,
            0x4c,
            0x80 | (len >> 11) as u8,
            (len >> 3) as u8,
            ((len as u8 & 7) << 5) | 0x1f,
            0xfc,
        ];
        let mut v = Vec::new();
        for _ in 0..frames {
            v.extend_from_slice(&h);
            v.resize(v.len() + len - 7, 0x21);
        }
        v
    }

    /// Continuity counters a segment writer carries from one segment to the next.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Ccs {
        /// PAT.
        pub pat: u8,
        /// PMT.
        pub pmt: u8,
        /// Video.
        pub video: u8,
        /// Audio.
        pub audio: u8,
        /// Where the audio left off (90 kHz), so that audio runs on across segments.
        pub next_audio: Option<u64>,
    }

    /// A one-second segment starting at `t0` (90 kHz): PAT, PMT, then 30 frames of video (the
    /// first a key frame when `key_first`) each with a PCR, and audio PES of 6 ADTS frames
    /// every 128 ms.
    pub fn segment(t0: u64, ccs: &mut Ccs, key_first: bool) -> Vec<u8> {
        segment_frames(t0, ccs, key_first, 30)
    }

    /// Like [`segment`], with `frames` frames of video at 30 fps.
    pub fn segment_frames(t0: u64, ccs: &mut Ccs, key_first: bool, frames: u64) -> Vec<u8> {
        let mut out = pat(ccs.pat, &[(1, 0x1000)]);
        ccs.pat = (ccs.pat + 1) & 15;
        out.extend(pmt(ccs.pmt, &[(0x1b, 0x100), (0x0f, 0x101)]));
        ccs.pmt = (ccs.pmt + 1) & 15;
        let frame = 3000u64;
        let audio_pes = 6 * 1024 * 90_000 / 48_000; // 11520
        let mut next_audio = ccs.next_audio.unwrap_or(t0);
        let end = t0 + frames * frame;
        for i in 0..frames {
            let dts = t0 + i * frame;
            let es = pes(0xe0, dts + frame, Some(dts), &avc_au(i == 0 && key_first));
            let (pk, cc) = packetize(0x100, ccs.video, Some(dts * 300), &es);
            ccs.video = cc;
            out.extend(pk);
            while next_audio < dts + frame && next_audio < end {
                let (pk, cc) =
                    packetize(0x101, ccs.audio, None, &pes(0xc0, next_audio, None, &adts(6)));
                ccs.audio = cc;
                out.extend(pk);
                next_audio += audio_pes;
            }
        }
        ccs.next_audio = Some(next_audio);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn reads_tables_streams_timestamps_and_codecs() {
        let mut ccs = Ccs::default();
        let data = segment(900_000, &mut ccs, true);
        let s = parse(&data);
        assert_eq!(s.len % PACKET_LEN, 0);
        assert_eq!(s.sync_errors, 0);
        assert_eq!(s.first_pids, vec![0, 0x1000, 0x100]);
        assert_eq!(s.programs, vec![(1, 0x1000)]);
        assert_eq!(s.pats, 1);
        assert_eq!(s.pmts, 1);
        let pmt = s.pmt.as_ref().unwrap();
        assert_eq!(pmt.pcr_pid, 0x100);
        assert_eq!(pmt.streams.len(), 2);
        assert!(s.issues.is_empty(), "{:?}", s.issues);
        let v = s.video().unwrap();
        assert_eq!(v.pes.len(), 30);
        assert_eq!(v.first_nal_types, vec![9, 7, 8, 5]);
        assert_eq!(v.key_pes, 1);
        assert_eq!(v.codec.as_deref(), Some("avc1.64001f"));
        assert_eq!(v.first_time(), Some(900_000));
        assert_eq!(v.frame_duration(), Some(3000));
        assert_eq!(v.end_time(), Some(990_000));
        let a = &s.streams[1];
        assert_eq!(a.codec.as_deref(), Some("mp4a.40.2"));
        assert_eq!(a.sample_rate, Some(48_000));
        assert!(a.pes.iter().all(|p| p.audio_frames == 6));
        assert!(a.issues.is_empty() && v.issues.is_empty(), "{:?} {:?}", a.issues, v.issues);
        assert_eq!(s.program_pcrs().len(), 30);
        assert_eq!(s.program_pcrs()[1].value - s.program_pcrs()[0].value, 3000 * 300);
        assert!(s.pids.iter().all(|p| p.cc_errors == 0));
        assert_eq!(s.pid(0x100).unwrap().first_cc, Some(0));
    }

    #[test]
    fn counts_sync_errors_and_continuity_errors() {
        let mut ccs = Ccs::default();
        let clean = segment(0, &mut ccs, true);
        let mut data = clean.clone();
        data[PACKET_LEN * 5] = 0x48;
        let s = parse(&data);
        assert_eq!(s.sync_errors, 1);
        assert_eq!(s.first_sync_error, Some(5));
        // The unreadable packet is missing from its PID's count too.
        assert_eq!(s.pids.iter().map(|p| p.cc_errors).sum::<usize>(), 1);

        // Skip one continuity count on the video PID from its 10th packet on.
        let mut data = clean;
        let mut seen = 0;
        for p in data.chunks_exact_mut(PACKET_LEN) {
            if p[1] & 0x1f == 0x01 && p[2] == 0x00 {
                seen += 1;
                if seen >= 10 {
                    p[3] = (p[3] & 0xf0) | ((p[3] + 1) & 0x0f);
                }
            }
        }
        let s = parse(&data);
        let v = s.pid(0x100).unwrap();
        assert_eq!(v.cc_errors, 1, "{:?}", v.first_cc_error);
    }

    #[test]
    fn detects_a_segment_that_starts_inside_a_pes() {
        let mut ccs = Ccs::default();
        let data = segment(0, &mut ccs, true);
        // Drop the PAT, PMT and the first video packet: the next video packet continues a PES.
        let mut cut = data[..2 * PACKET_LEN].to_vec();
        cut.extend_from_slice(&data[3 * PACKET_LEN..]);
        let s = parse(&cut);
        assert!(s.video().unwrap().starts_mid_pes);
    }

    #[test]
    fn garbage_and_truncation_never_panic() {
        let mut ccs = Ccs::default();
        let data = segment(0, &mut ccs, true);
        for n in (0..data.len()).step_by(61) {
            let _ = parse(&data[..n]);
        }
        let mut noise = vec![0x47u8; 188 * 4];
        for (i, b) in noise.iter_mut().enumerate() {
            if i % 188 != 0 {
                *b = (i * 7919 % 251) as u8;
            }
        }
        let _ = parse(&noise);
        assert!(!sniff(b"ID3\x04"));
        assert!(sniff(&data));
    }

    #[test]
    fn wrapped_deltas() {
        assert_eq!(pts_delta(PTS_WRAP - 100, 50), 150);
        assert_eq!(pts_delta(50, PTS_WRAP - 100), -150);
        assert_eq!(pcr_delta(10, 20), 10);
    }
}
