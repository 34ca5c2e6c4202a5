//! SCTE-35 cue messages: the `splice_info_section` (ANSI/SCTE 35 §9.6) an encoder sends on a
//! PID of stream_type 0x86 to mark ad breaks and program boundaries.
//!
//! The TS demuxer assembles the section and hands it to [`SpliceInfo::parse`]; the result goes
//! out as a `Scte35` event, raw bytes included, so the pipeline can turn it into playlist
//! markers (EXT-X-DATERANGE) or pass it on unchanged. A small parser of our own: the
//! syntax is short and the `scte35` crate brings nothing a `&[u8]` reader does not.

use bytes::Bytes;

use super::psi::crc32;
use crate::codec::bits::{BitReader, Truncated};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Scte35Error {
    #[error("splice_info_section truncated")]
    Truncated,
    #[error("table_id {0:#04x} is not 0xfc")]
    BadTableId(u8),
    #[error("section_length {0} does not match the {1} bytes received")]
    BadLength(usize, usize),
    #[error("splice_info_section crc mismatch")]
    BadCrc,
    #[error("splice_command_length {0} overruns the section")]
    BadCommandLength(usize),
}

impl From<Truncated> for Scte35Error {
    fn from(_: Truncated) -> Self {
        Scte35Error::Truncated
    }
}

/// "splice_info_section … table_id … 0xFC".
pub const TABLE_ID: u8 = 0xfc;
/// 33-bit PTS arithmetic: pts_time + pts_adjustment wraps at 2^33.
const PTS_MASK: u64 = (1 << 33) - 1;

/// One parsed splice_info_section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpliceInfo {
    /// The section as received, table_id through CRC_32.
    pub raw: Bytes,
    pub protocol_version: u8,
    /// "pts_adjustment … A 33-bit unsigned integer that appears in the clear and that shall be
    /// used by a splicing device as an offset to be added to the (sic) pts_time field(s)".
    pub pts_adjustment: u64,
    pub tier: u16,
    /// encrypted_packet: the command and descriptors are encrypted and were not parsed.
    pub encrypted: bool,
    pub command: SpliceCommand,
    pub descriptors: Vec<SpliceDescriptor>,
}

/// splice_command_type and what its command says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpliceCommand {
    /// 0x00 splice_null (heartbeat).
    Null,
    /// 0x04 splice_schedule (not parsed further).
    Schedule,
    /// 0x05 splice_insert.
    Insert(SpliceInsert),
    /// 0x06 time_signal: `pts_time` (None when time_specified_flag is 0).
    TimeSignal { pts_time: Option<u64> },
    /// 0x07 bandwidth_reservation.
    BandwidthReservation,
    /// 0xff private_command with its identifier.
    Private { identifier: u32 },
    /// Encrypted section: the command is not readable.
    Encrypted,
    /// Any other (reserved) command type.
    Other(u8),
}

/// splice_insert() (§9.7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpliceInsert {
    pub splice_event_id: u32,
    /// splice_event_cancel_indicator: a previously sent event is cancelled; nothing else
    /// below is signalled.
    pub cancel: bool,
    /// out_of_network_indicator: true at the start of a break (cue-out), false at its end.
    pub out_of_network: bool,
    /// program_splice_flag: the whole program splices at once (else per component).
    pub program_splice: bool,
    pub splice_immediate: bool,
    /// The program's pts_time (program splice with time_specified_flag set).
    pub pts_time: Option<u64>,
    /// Component splice: (component_tag, pts_time) per component.
    pub components: Vec<(u8, Option<u64>)>,
    pub break_duration: Option<BreakDuration>,
    pub unique_program_id: u16,
    pub avail_num: u8,
    pub avails_expected: u8,
}

/// break_duration() (§9.8.2): 90 kHz ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakDuration {
    pub auto_return: bool,
    pub duration: u64,
}

/// One splice_descriptor() of the descriptor loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpliceDescriptor {
    /// segmentation_descriptor (tag 0x02), the one carrying content identification.
    Segmentation(SegmentationDescriptor),
    /// Any other descriptor: tag, identifier ("CUEI" = 0x43554549) and the bytes after it.
    Other { tag: u8, identifier: u32, data: Bytes },
}

/// segmentation_descriptor() (§10.3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentationDescriptor {
    pub event_id: u32,
    pub cancel: bool,
    /// segmentation_duration, 90 kHz ticks.
    pub duration: Option<u64>,
    pub upid_type: u8,
    pub upid: Bytes,
    /// segmentation_type_id (0x22 break start, 0x23 break end, 0x34/0x35 provider placement
    /// opportunity start/end, …).
    pub type_id: u8,
    pub segment_num: u8,
    pub segments_expected: u8,
}

/// splice_descriptor_tag of segmentation_descriptor().
const SEGMENTATION_DESCRIPTOR: u8 = 0x02;

impl SpliceInfo {
    /// Parses a whole section (table_id through CRC_32), checking its CRC_32.
    pub fn parse(raw: Bytes) -> Result<Self, Scte35Error> {
        let data = &raw[..];
        let head = data.get(..3).ok_or(Scte35Error::Truncated)?;
        if head[0] != TABLE_ID {
            return Err(Scte35Error::BadTableId(head[0]));
        }
        let section_length = usize::from(head[1] & 0x0f) << 8 | usize::from(head[2]);
        if 3 + section_length != data.len() {
            return Err(Scte35Error::BadLength(section_length, data.len()));
        }
        // "CRC_32 … gives a zero output of the registers in the decoder defined in Annex A
        // [of ISO/IEC 13818-1] after processing the entire splice_info_section".
        if section_length < 4 || crc32(data) != 0 {
            return Err(Scte35Error::BadCrc);
        }
        let body = &data[3..data.len() - 4];
        let mut r = BitReader::new(body);
        let protocol_version = r.read_bits(8)? as u8;
        let encrypted = r.read_flag()?;
        let _encryption_algorithm = r.read_bits(6)?;
        let pts_adjustment = read_33(&mut r)?;
        let _cw_index = r.read_bits(8)?;
        let tier = r.read_bits(12)? as u16;
        let command_length = r.read_bits(12)? as usize;
        let command_type = r.read_bits(8)? as u8;
        // Fixed header: 11 bytes before the command (the command type byte included).
        let command_start = 11;
        let mut info = SpliceInfo {
            raw: raw.clone(),
            protocol_version,
            pts_adjustment,
            tier,
            encrypted,
            command: SpliceCommand::Encrypted,
            descriptors: Vec::new(),
        };
        if encrypted {
            return Ok(info);
        }
        // "splice_command_length … 0xFFF provides backwards compatibility": the length is then
        // unknown and the command's own syntax says where it ends.
        let command_end = if command_length == 0xfff {
            None
        } else {
            let end = command_start + command_length;
            if end > body.len() {
                return Err(Scte35Error::BadCommandLength(command_length));
            }
            Some(end)
        };
        let mut cr = BitReader::new(&body[command_start..command_end.unwrap_or(body.len())]);
        info.command = match command_type {
            0x00 => SpliceCommand::Null,
            0x04 => SpliceCommand::Schedule,
            0x05 => SpliceCommand::Insert(read_splice_insert(&mut cr)?),
            0x06 => SpliceCommand::TimeSignal { pts_time: read_splice_time(&mut cr)? },
            0x07 => SpliceCommand::BandwidthReservation,
            0xff => SpliceCommand::Private { identifier: cr.read_bits(32)? },
            other => SpliceCommand::Other(other),
        };
        let loop_start = match command_end {
            Some(end) => end,
            // Unknown length: only the parsed commands say where they end.
            None if matches!(command_type, 0x00 | 0x05 | 0x06) => {
                command_start + (body.len() - command_start) - cr.remaining() / 8
            }
            None => return Ok(info),
        };
        info.descriptors = read_descriptors(&raw, 3 + loop_start, 3 + body.len())?;
        Ok(info)
    }

    /// The splice time the command signals, with pts_adjustment applied (added modulo 2^33), in
    /// the 33-bit 90 kHz PTS space: for a program splice_insert with a time, or a time_signal
    /// with a time. None for immediate, cancelled, component-level and time-less commands.
    pub fn splice_pts(&self) -> Option<u64> {
        let t = match &self.command {
            SpliceCommand::Insert(i) if !i.cancel => i.pts_time,
            SpliceCommand::TimeSignal { pts_time } => *pts_time,
            _ => None,
        }?;
        Some((t + self.pts_adjustment) & PTS_MASK)
    }
}

/// A 33-bit field (pts_time, pts_adjustment, duration).
fn read_33(r: &mut BitReader<'_>) -> Result<u64, Truncated> {
    let high = u64::from(r.read_bits(1)?);
    Ok(high << 32 | u64::from(r.read_bits(32)?))
}

/// splice_time(): "time_specified_flag … if (time_specified_flag == 1) { reserved 6;
/// pts_time 33 } else reserved 7".
fn read_splice_time(r: &mut BitReader<'_>) -> Result<Option<u64>, Truncated> {
    if r.read_flag()? {
        r.skip_bits(6)?;
        Ok(Some(read_33(r)?))
    } else {
        r.skip_bits(7)?;
        Ok(None)
    }
}

fn read_break_duration(r: &mut BitReader<'_>) -> Result<BreakDuration, Truncated> {
    let auto_return = r.read_flag()?;
    r.skip_bits(6)?;
    Ok(BreakDuration { auto_return, duration: read_33(r)? })
}

fn read_splice_insert(r: &mut BitReader<'_>) -> Result<SpliceInsert, Truncated> {
    let mut insert = SpliceInsert {
        splice_event_id: r.read_bits(32)?,
        cancel: r.read_flag()?,
        out_of_network: false,
        program_splice: false,
        splice_immediate: false,
        pts_time: None,
        components: Vec::new(),
        break_duration: None,
        unique_program_id: 0,
        avail_num: 0,
        avails_expected: 0,
    };
    // event_id_compliance_flag + reserved
    r.skip_bits(7)?;
    if insert.cancel {
        return Ok(insert);
    }
    insert.out_of_network = r.read_flag()?;
    insert.program_splice = r.read_flag()?;
    let duration_flag = r.read_flag()?;
    insert.splice_immediate = r.read_flag()?;
    // event_id_compliance_flag (2020+) / reserved
    r.skip_bits(4)?;
    if insert.program_splice && !insert.splice_immediate {
        insert.pts_time = read_splice_time(r)?;
    }
    if !insert.program_splice {
        let count = r.read_bits(8)?;
        for _ in 0..count {
            let tag = r.read_bits(8)? as u8;
            let time = if insert.splice_immediate { None } else { read_splice_time(r)? };
            insert.components.push((tag, time));
        }
    }
    if duration_flag {
        insert.break_duration = Some(read_break_duration(r)?);
    }
    insert.unique_program_id = r.read_bits(16)? as u16;
    insert.avail_num = r.read_bits(8)? as u8;
    insert.avails_expected = r.read_bits(8)? as u8;
    Ok(insert)
}

/// "descriptor_loop_length … splice_descriptor()": `start..end` covers the loop length field,
/// the descriptors and any alignment stuffing (positions in `raw`).
fn read_descriptors(
    raw: &Bytes,
    start: usize,
    end: usize,
) -> Result<Vec<SpliceDescriptor>, Scte35Error> {
    let len_bytes = raw.get(start..start + 2).ok_or(Scte35Error::Truncated)?;
    let loop_len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
    let mut pos = start + 2;
    let loop_end = pos + loop_len;
    if loop_end > end {
        return Err(Scte35Error::Truncated);
    }
    let mut out = Vec::new();
    while pos + 2 <= loop_end {
        let tag = raw[pos];
        let len = usize::from(raw[pos + 1]);
        let body_start = pos + 2;
        let body_end = body_start + len;
        if body_end > loop_end || len < 4 {
            return Err(Scte35Error::Truncated);
        }
        let identifier = u32::from_be_bytes([
            raw[body_start],
            raw[body_start + 1],
            raw[body_start + 2],
            raw[body_start + 3],
        ]);
        let data = raw.slice(body_start + 4..body_end);
        out.push(if tag == SEGMENTATION_DESCRIPTOR {
            SpliceDescriptor::Segmentation(read_segmentation(&data)?)
        } else {
            SpliceDescriptor::Other { tag, identifier, data }
        });
        pos = body_end;
    }
    Ok(out)
}

/// segmentation_descriptor() after its identifier.
fn read_segmentation(data: &Bytes) -> Result<SegmentationDescriptor, Scte35Error> {
    let mut r = BitReader::new(data);
    let event_id = r.read_bits(32)?;
    let cancel = r.read_flag()?;
    // segmentation_event_id_compliance_indicator + reserved
    r.skip_bits(7)?;
    let mut d = SegmentationDescriptor {
        event_id,
        cancel,
        duration: None,
        upid_type: 0,
        upid: Bytes::new(),
        type_id: 0,
        segment_num: 0,
        segments_expected: 0,
    };
    if cancel {
        return Ok(d);
    }
    let program_segmentation = r.read_flag()?;
    let duration_flag = r.read_flag()?;
    // delivery_not_restricted_flag and either the four restriction fields or reserved: 6 bits.
    r.skip_bits(6)?;
    if !program_segmentation {
        // "component_tag 8, reserved 7, pts_offset 33" per component.
        let count = r.read_bits(8)? as usize;
        r.skip_bits(count * 48)?;
    }
    if duration_flag {
        let high = u64::from(r.read_bits(8)?);
        d.duration = Some(high << 32 | u64::from(r.read_bits(32)?));
    }
    d.upid_type = r.read_bits(8)? as u8;
    let upid_len = r.read_bits(8)? as usize;
    let upid_start = data.len() - r.remaining() / 8;
    let upid_end = upid_start + upid_len;
    if upid_end > data.len() {
        return Err(Scte35Error::Truncated);
    }
    d.upid = data.slice(upid_start..upid_end);
    r.skip_bits(upid_len * 8)?;
    d.type_id = r.read_bits(8)? as u8;
    d.segment_num = r.read_bits(8)? as u8;
    d.segments_expected = r.read_bits(8)? as u8;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The splice_insert example widely used as a reference vector (SCTE 35 examples:
    /// event 0x4800008F, cue-out with auto-return break of 60.293567 s).
    const SPLICE_INSERT: &[u8] = &[
        0xfc, 0x30, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xf0, 0x14, 0x05, 0x48,
        0x00, 0x00, 0x8f, 0x7f, 0xef, 0xfe, 0x73, 0x69, 0xc0, 0x2e, 0xfe, 0x00, 0x52, 0xcc, 0xf5,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x08, 0x43, 0x55, 0x45, 0x49, 0x00, 0x00, 0x01,
        0x35, 0x62, 0xdb, 0xa3, 0x0a,
    ];

    /// The time_signal example with a segmentation_descriptor (provider placement opportunity
    /// start, TI UPID, 307 s).
    const TIME_SIGNAL: &[u8] = &[
        0xfc, 0x30, 0x34, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xf0, 0x05, 0x06, 0xfe,
        0x72, 0xbd, 0x00, 0x50, 0x00, 0x1e, 0x02, 0x1c, 0x43, 0x55, 0x45, 0x49, 0x48, 0x00, 0x00,
        0x8e, 0x7f, 0xcf, 0x00, 0x01, 0xa5, 0x99, 0xb0, 0x08, 0x08, 0x00, 0x00, 0x00, 0x00, 0x2c,
        0xa0, 0xa1, 0x8a, 0x34, 0x02, 0x00, 0x9a, 0xc9, 0xd1, 0x7e,
    ];

    #[test]
    fn splice_insert_reference_vector() {
        let s = SpliceInfo::parse(Bytes::from_static(SPLICE_INSERT)).unwrap();
        assert_eq!(
            (s.protocol_version, s.pts_adjustment, s.tier, s.encrypted),
            (0, 0, 0xfff, false)
        );
        let SpliceCommand::Insert(i) = &s.command else { panic!("{:?}", s.command) };
        assert_eq!(i.splice_event_id, 0x4800_008f);
        assert!(i.out_of_network && i.program_splice && !i.splice_immediate && !i.cancel);
        assert_eq!(i.pts_time, Some(0x7369_c02e));
        assert_eq!(
            i.break_duration,
            Some(BreakDuration { auto_return: true, duration: 5_426_421 })
        );
        assert_eq!(s.splice_pts(), Some(0x7369_c02e));
        assert_eq!(
            s.descriptors,
            vec![SpliceDescriptor::Other {
                tag: 0,
                identifier: 0x4355_4549,
                data: Bytes::from_static(&[0, 0, 1, 0x35])
            }]
        );
        assert_eq!(&s.raw[..], SPLICE_INSERT);
    }

    #[test]
    fn time_signal_with_segmentation_descriptor() {
        let s = SpliceInfo::parse(Bytes::from_static(TIME_SIGNAL)).unwrap();
        assert_eq!(s.command, SpliceCommand::TimeSignal { pts_time: Some(0x0_72bd_0050) });
        let [SpliceDescriptor::Segmentation(d)] = &s.descriptors[..] else {
            panic!("{:?}", s.descriptors)
        };
        assert_eq!(d.event_id, 0x4800_008e);
        assert_eq!(d.duration, Some(27_630_000));
        assert_eq!((d.upid_type, &d.upid[..]), (0x08, &[0, 0, 0, 0, 0x2c, 0xa0, 0xa1, 0x8a][..]));
        assert_eq!((d.type_id, d.segment_num, d.segments_expected), (0x34, 2, 0));
    }

    #[test]
    fn pts_adjustment_is_added_modulo_2_33() {
        let mut s = SpliceInfo::parse(Bytes::from_static(TIME_SIGNAL)).unwrap();
        s.pts_adjustment = (1 << 33) - 0x10;
        assert_eq!(s.splice_pts(), Some(0x0_72bd_0050 - 0x10));
    }

    #[test]
    fn bad_crc_length_and_table_id_are_errors() {
        let mut b = SPLICE_INSERT.to_vec();
        b[20] ^= 1;
        assert_eq!(SpliceInfo::parse(Bytes::from(b)), Err(Scte35Error::BadCrc));
        assert_eq!(
            SpliceInfo::parse(Bytes::copy_from_slice(&SPLICE_INSERT[..40])),
            Err(Scte35Error::BadLength(47, 40))
        );
        let mut b = SPLICE_INSERT.to_vec();
        b[0] = 0x02;
        assert_eq!(SpliceInfo::parse(Bytes::from(b)), Err(Scte35Error::BadTableId(2)));
        for n in 0..SPLICE_INSERT.len() {
            assert!(SpliceInfo::parse(Bytes::copy_from_slice(&SPLICE_INSERT[..n])).is_err());
        }
    }
}
