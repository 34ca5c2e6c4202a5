//! Transport stream packets (ISO/IEC 13818-1 §2.4.3.2–§2.4.3.5): the 4-byte header, the
//! adaptation field (PCR, random_access_indicator, stuffing) and splitting one PES packet or PSI
//! section into 188-byte packets with a per-PID continuity counter.

use bytes::{BufMut, BytesMut};

/// The packet size and sync byte, defined once with the demuxer's packet reader.
pub use crate::demux::ts::packet::{PACKET_LEN, SYNC_BYTE};
/// Bytes after the 4-byte header: adaptation field plus payload.
const BODY_LEN: usize = PACKET_LEN - 4;

/// adaptation_field_control values (Table 2-5).
const AFC_PAYLOAD_ONLY: u8 = 0b01;
const AFC_ADAPTATION_ONLY: u8 = 0b10;
const AFC_BOTH: u8 = 0b11;

/// Adaptation field flag bits (§2.4.3.4).
const AF_RANDOM_ACCESS: u8 = 0x40;
const AF_PCR: u8 = 0x10;

/// One PID's continuity counter.
///
/// "The continuity_counter is a 4-bit field incrementing with each Transport Stream packet with
/// the same PID. … The continuity_counter shall not be incremented when the
/// adaptation_field_control of the packet equals '00' or '10'."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pid {
    pub pid: u16,
    /// Counter for the next packet with payload.
    next_cc: u8,
}

impl Pid {
    pub fn new(pid: u16) -> Self {
        Self { pid, next_cc: 0 }
    }

    fn take_cc(&mut self) -> u8 {
        let cc = self.next_cc;
        self.next_cc = (self.next_cc + 1) & 0x0f;
        cc
    }

    /// The counter of the last packet with payload (what an adaptation-only packet repeats).
    fn last_cc(&self) -> u8 {
        self.next_cc.wrapping_sub(1) & 0x0f
    }
}

/// What the first packet of a payload unit carries in its adaptation field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StartFlags {
    /// Program clock reference in 27 MHz units (already wrapped to 33+9 bits by the caller).
    pub pcr: Option<Pcr>,
    /// "random_access_indicator … the next PES packet of the same PID shall contain … the
    /// first byte of a video sequence header [or] an audio frame" (set on keyframe PES starts).
    pub random_access: bool,
}

/// A PCR split as it is coded: 33-bit base at 90 kHz and a 9-bit extension at 27 MHz.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pcr {
    pub base: u64,
    pub ext: u16,
}

impl Pcr {
    /// PCR for a 90 kHz time (the extension is 0), wrapped modulo 2^33.
    pub fn from_90k(ticks: i64) -> Self {
        Self { base: wrap33(ticks), ext: 0 }
    }
}

/// A 90 kHz time modulo 2^33, as PTS, DTS and PCR base are coded.
pub fn wrap33(ticks: i64) -> u64 {
    // rem_euclid of a positive modulus is in 0..2^33, which fits u64.
    ticks.rem_euclid(1 << 33) as u64
}

/// Writes `unit` (a whole PES packet, or a pointer_field + PSI section) as packets on `pid`:
/// payload_unit_start_indicator on the first, `flags` in the first packet's adaptation field,
/// and the last packet padded to 188 bytes with adaptation-field stuffing ("stuffing bytes …
/// within the adaptation field", §2.4.3.5) so the payload ends exactly with the unit.
pub fn write_unit(out: &mut BytesMut, pid: &mut Pid, unit: &[u8], flags: StartFlags) {
    out.reserve((unit.len() / BODY_LEN + 1) * PACKET_LEN);
    let mut rest = unit;
    let mut first = true;
    loop {
        let (af_flags, pcr) = if first {
            let rai = if flags.random_access { AF_RANDOM_ACCESS } else { 0 };
            (rai | if flags.pcr.is_some() { AF_PCR } else { 0 }, flags.pcr)
        } else {
            (0, None)
        };
        // The adaptation field needs its length and flags bytes plus 6 bytes of PCR.
        let af_min = if af_flags != 0 { 2 + if pcr.is_some() { 6 } else { 0 } } else { 0 };
        let room = BODY_LEN - af_min;
        let take = rest.len().min(room);
        let af_len = BODY_LEN - take;
        let afc = if af_len > 0 { AFC_BOTH } else { AFC_PAYLOAD_ONLY };
        let cc = pid.take_cc();
        put_header(out, pid.pid, first, afc, cc);
        if af_len > 0 {
            put_adaptation_field(out, af_len, af_flags, pcr);
        }
        let (now, later) = rest.split_at(take);
        out.put_slice(now);
        rest = later;
        first = false;
        if rest.is_empty() {
            return;
        }
    }
}

/// Writes a packet with only an adaptation field carrying a PCR (no payload, so the continuity
/// counter repeats the PID's last value).
pub fn write_pcr_only(out: &mut BytesMut, pid: &Pid, pcr: Pcr) {
    put_header(out, pid.pid, false, AFC_ADAPTATION_ONLY, pid.last_cc());
    put_adaptation_field(out, BODY_LEN, AF_PCR, Some(pcr));
}

/// A PSI section in one packet: pointer_field 0, the section, then 0xFF: "stuffing bytes may
/// occur … after the last section", and a decoder discards them. Sections longer than one
/// packet fall back to [`write_unit`].
pub fn write_section(out: &mut BytesMut, pid: &mut Pid, section: &[u8]) {
    if section.len() + 1 > BODY_LEN {
        let mut unit = Vec::with_capacity(section.len() + 1);
        unit.push(0);
        unit.extend_from_slice(section);
        write_unit(out, pid, &unit, StartFlags::default());
        return;
    }
    let cc = pid.take_cc();
    put_header(out, pid.pid, true, AFC_PAYLOAD_ONLY, cc);
    out.put_u8(0);
    out.put_slice(section);
    out.put_bytes(0xff, BODY_LEN - 1 - section.len());
}

fn put_header(out: &mut BytesMut, pid: u16, unit_start: bool, afc: u8, cc: u8) {
    out.put_u8(SYNC_BYTE);
    // transport_error_indicator 0, payload_unit_start_indicator, transport_priority 0, PID(13)
    out.put_u16(u16::from(unit_start) << 14 | (pid & 0x1fff));
    // transport_scrambling_control '00', adaptation_field_control, continuity_counter
    out.put_u8(afc << 4 | (cc & 0x0f));
}

/// Writes an adaptation field of exactly `total` bytes (≥ 1, counting adaptation_field_length).
/// "When the adaptation_field_control value is '11', the value of the adaptation_field_length
/// shall be in the range 0 to 182" — a single 0 byte is the one-byte stuffing case.
fn put_adaptation_field(out: &mut BytesMut, total: usize, flags: u8, pcr: Option<Pcr>) {
    // total ≤ 184, so total − 1 fits a byte.
    out.put_u8((total - 1) as u8);
    if total == 1 {
        return;
    }
    out.put_u8(flags);
    let mut used = 2;
    if let Some(pcr) = pcr {
        // program_clock_reference_base(33) reserved(6) program_clock_reference_extension(9)
        let v = (pcr.base & ((1 << 33) - 1)) << 15 | 0x3f << 9 | u64::from(pcr.ext & 0x1ff);
        out.put_slice(&v.to_be_bytes()[2..]);
        used += 6;
    }
    out.put_bytes(0xff, total.saturating_sub(used));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packets(out: &[u8]) -> Vec<&[u8]> {
        assert_eq!(out.len() % PACKET_LEN, 0);
        out.chunks(PACKET_LEN).collect()
    }

    #[test]
    fn a_unit_fills_packets_and_stuffs_the_last_one() {
        let mut out = BytesMut::new();
        let mut pid = Pid::new(0x100);
        let unit: Vec<u8> = (0..400u32).map(|i| i as u8).collect();
        write_unit(&mut out, &mut pid, &unit, StartFlags::default());
        let p = packets(&out);
        assert_eq!(p.len(), 3);
        assert_eq!(&p[0][..4], &[0x47, 0x41, 0x00, 0x10]);
        assert_eq!(&p[1][..4], &[0x47, 0x01, 0x00, 0x11]);
        // 400 − 2·184 = 32 bytes left: adaptation field of 152 bytes (length 151, flags 0).
        assert_eq!(&p[2][..6], &[0x47, 0x01, 0x00, 0x32, 151, 0x00]);
        assert_eq!(&p[2][156..], &unit[368..]);
        let payload: Vec<u8> = [&p[0][4..], &p[1][4..], &p[2][156..]].concat();
        assert_eq!(payload, unit);
    }

    #[test]
    fn one_byte_short_uses_the_single_stuffing_byte() {
        let mut out = BytesMut::new();
        let mut pid = Pid::new(0x101);
        write_unit(&mut out, &mut pid, &[7u8; 183], StartFlags::default());
        assert_eq!(&out[..5], &[0x47, 0x41, 0x01, 0x30, 0]);
        assert_eq!(&out[5..], &[7u8; 183][..]);
    }

    #[test]
    fn first_packet_carries_pcr_and_random_access() {
        let mut out = BytesMut::new();
        let mut pid = Pid::new(0x100);
        let pcr = Pcr::from_90k(0x1_2345_6789);
        write_unit(
            &mut out,
            &mut pid,
            &[1u8; 200],
            StartFlags { pcr: Some(pcr), random_access: true },
        );
        let p = packets(&out);
        assert_eq!(p[0][3] >> 4, 0b11);
        assert_eq!(p[0][4], 7);
        assert_eq!(p[0][5], 0x50);
        let base = (u64::from(p[0][6]) << 25)
            | (u64::from(p[0][7]) << 17)
            | (u64::from(p[0][8]) << 9)
            | (u64::from(p[0][9]) << 1)
            | (u64::from(p[0][10]) >> 7);
        assert_eq!(base, 0x1_2345_6789);
        assert_eq!(p[0][10] & 0x7e, 0x7e);
        // 176 payload bytes in the first packet, 24 in the second.
        assert_eq!(p.len(), 2);
        assert_eq!(p[1][4], 184 - 24 - 1);
    }

    #[test]
    fn counters_wrap_and_pcr_only_packets_do_not_count() {
        let mut out = BytesMut::new();
        let mut pid = Pid::new(0x100);
        for _ in 0..17 {
            write_unit(&mut out, &mut pid, &[0u8; 10], StartFlags::default());
        }
        write_pcr_only(&mut out, &pid, Pcr::from_90k(-1));
        let p = packets(&out);
        let cc: Vec<u8> = p.iter().map(|p| p[3] & 0x0f).collect();
        assert_eq!(&cc[14..], &[14, 15, 0, 0]);
        assert_eq!(p[17][3] >> 4, 0b10);
        assert_eq!(p[17][4], 183);
        // −1 wraps to 2^33 − 1
        assert_eq!(Pcr::from_90k(-1).base, (1 << 33) - 1);
    }

    #[test]
    fn sections_are_padded_with_ff() {
        let mut out = BytesMut::new();
        let mut pid = Pid::new(0);
        write_section(&mut out, &mut pid, &[0, 0xb0, 0x0d]);
        assert_eq!(&out[..8], &[0x47, 0x40, 0x00, 0x10, 0, 0, 0xb0, 0x0d]);
        assert!(out[8..].iter().all(|&b| b == 0xff));
        assert_eq!(out.len(), PACKET_LEN);
    }
}
