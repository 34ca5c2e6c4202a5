//! Transport stream packets (ISO/IEC 13818-1 §2.4.3.2): finding the 188-byte packets in an
//! arbitrary byte stream ([`Framer`]) and reading one packet's header and adaptation field
//! ([`Packet::parse`]).
//!
//! First stage of the TS demuxer: bytes in, packets out. Everything after it works on whole
//! packets.

use bytes::{Buf, BytesMut};

/// Transport stream packets are 188 bytes long (§2.4.3.2).
pub const PACKET_LEN: usize = 188;
/// "sync_byte – The sync_byte is a fixed 8-bit field whose value is '0100 0111' (0x47)."
pub const SYNC_BYTE: u8 = 0x47;
/// PID 0x1FFF: "Null packets".
pub const NULL_PID: u16 = 0x1fff;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PacketError {
    #[error("packet does not start with the sync byte")]
    NoSync,
    #[error("packet shorter than 188 bytes")]
    Short,
    #[error("adaptation_field_length {0} overruns the packet")]
    BadAdaptationLength(usize),
}

/// The header fields of one transport packet plus what its adaptation field says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// transport_error_indicator: "at least 1 uncorrectable bit error exists in the associated
    /// Transport Stream packet".
    pub transport_error: bool,
    /// payload_unit_start_indicator.
    pub unit_start: bool,
    pub pid: u16,
    /// transport_scrambling_control (0: not scrambled).
    pub scrambling: u8,
    /// adaptation_field_control bit 0: the packet carries a payload.
    pub has_payload: bool,
    pub continuity_counter: u8,
    /// discontinuity_indicator of the adaptation field.
    pub discontinuity: bool,
    /// random_access_indicator of the adaptation field.
    pub random_access: bool,
    /// PCR in 27 MHz units: program_clock_reference_base × 300 + extension (§2.4.2.2).
    pub pcr: Option<u64>,
    /// The payload bytes (empty when there is none).
    pub payload: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Parses one 188-byte packet.
    pub fn parse(data: &'a [u8]) -> Result<Self, PacketError> {
        let data = data.get(..PACKET_LEN).ok_or(PacketError::Short)?;
        if data[0] != SYNC_BYTE {
            return Err(PacketError::NoSync);
        }
        let transport_error = data[1] & 0x80 != 0;
        let unit_start = data[1] & 0x40 != 0;
        let pid = u16::from(data[1] & 0x1f) << 8 | u16::from(data[2]);
        let scrambling = data[3] >> 6;
        // adaptation_field_control: "01 no adaptation_field, payload only; 10 adaptation_field
        // only, no payload; 11 adaptation_field followed by payload; 00 reserved".
        let afc = (data[3] >> 4) & 0x03;
        let continuity_counter = data[3] & 0x0f;
        let has_adaptation = afc & 0x02 != 0;
        let has_payload = afc & 0x01 != 0;
        let mut packet = Packet {
            transport_error,
            unit_start,
            pid,
            scrambling,
            has_payload,
            continuity_counter,
            discontinuity: false,
            random_access: false,
            pcr: None,
            payload: &[],
        };
        let mut start = 4;
        if has_adaptation {
            let len = usize::from(data[4]);
            // §2.4.3.5: at most 182 bytes of adaptation field before a payload, 183 without.
            let max = if has_payload { 182 } else { 183 };
            if len > max {
                return Err(PacketError::BadAdaptationLength(len));
            }
            packet.read_adaptation_field(&data[5..5 + len]);
            start = 5 + len;
        }
        if has_payload {
            packet.payload = &data[start..];
        }
        Ok(packet)
    }

    /// adaptation_field() (§2.4.3.4) up to the PCR; the rest (splicing point, private data,
    /// extensions) is not needed.
    fn read_adaptation_field(&mut self, field: &[u8]) {
        let Some((&flags, rest)) = field.split_first() else {
            return;
        };
        self.discontinuity = flags & 0x80 != 0;
        self.random_access = flags & 0x40 != 0;
        // PCR_flag, then "program_clock_reference_base 33, reserved 6,
        // program_clock_reference_extension 9".
        if flags & 0x10 != 0
            && let Some(p) = rest.get(..6)
        {
            let base = u64::from(p[0]) << 25
                | u64::from(p[1]) << 17
                | u64::from(p[2]) << 9
                | u64::from(p[3]) << 1
                | u64::from(p[4] >> 7);
            let ext = u64::from(p[4] & 0x01) << 8 | u64::from(p[5]);
            // (2-1) "PCR(i) = PCR_base(i) × 300 + PCR_ext(i)"
            self.pcr = Some(base * 300 + ext);
        }
    }
}

/// Finds packet boundaries in a byte stream cut anywhere (SRT payloads of 1316 bytes, files,
/// one byte at a time).
///
/// Sync is acquired where a sync byte is followed by another one 188 bytes later (a single 0x47
/// is too common inside payloads to trust); once in sync, every packet must start with 0x47 or
/// sync is lost and re-acquired. Decisions never depend on how the input was chunked: when the
/// bytes needed to decide have not arrived yet, the framer waits for them.
#[derive(Debug, Default)]
pub struct Framer {
    buf: BytesMut,
    in_sync: bool,
    /// Times sync was lost after having been acquired.
    pub sync_losses: u64,
    /// Bytes skipped while looking for sync.
    pub skipped_bytes: u64,
}

impl Framer {
    /// Appends input. Once [`Self::next_packet`] has been drained the buffer holds at most one
    /// packet's worth of bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// True when the framer currently has sync.
    pub fn in_sync(&self) -> bool {
        self.in_sync
    }

    /// Bytes waiting for the rest of their packet.
    pub fn held(&self) -> usize {
        self.buf.len()
    }

    /// The next complete packet, or `None` when more input is needed.
    pub fn next_packet(&mut self) -> Option<[u8; PACKET_LEN]> {
        loop {
            if self.in_sync {
                if self.buf.len() < PACKET_LEN {
                    return None;
                }
                if self.buf[0] == SYNC_BYTE {
                    return Some(self.take_packet());
                }
                self.in_sync = false;
                self.sync_losses += 1;
            }
            // Hunting: skip to the next sync byte that has another one a packet later.
            let mut skip = 0;
            let mut found = false;
            while skip < self.buf.len() {
                if self.buf[skip] != SYNC_BYTE {
                    skip += 1;
                    continue;
                }
                match self.buf.get(skip + PACKET_LEN) {
                    Some(&SYNC_BYTE) => {
                        found = true;
                        break;
                    }
                    Some(_) => skip += 1,
                    // Cannot decide yet: keep this candidate and wait for more bytes.
                    None => break,
                }
            }
            self.skipped_bytes += skip as u64;
            self.buf.advance(skip);
            if !found {
                return None;
            }
            self.in_sync = true;
        }
    }

    fn take_packet(&mut self) -> [u8; PACKET_LEN] {
        let mut p = [0u8; PACKET_LEN];
        self.buf.copy_to_slice(&mut p);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(pid: u16, cc: u8, fill: u8) -> Vec<u8> {
        let mut p = vec![fill; PACKET_LEN];
        p[0] = SYNC_BYTE;
        p[1] = (pid >> 8) as u8;
        p[2] = pid as u8;
        p[3] = 0x10 | cc;
        p
    }

    #[test]
    fn parses_header_and_pcr() {
        let mut p = packet(0x100, 7, 0xaa);
        p[1] |= 0x40;
        p[3] = 0x30 | 7; // adaptation + payload
        p[4] = 7;
        p[5] = 0x50; // random access + PCR
        // base = 0x1_0000_0001, ext = 0x101
        p[6..12].copy_from_slice(&[0x80, 0x00, 0x00, 0x00, 0xff, 0x01]);
        let pk = Packet::parse(&p).unwrap();
        assert!(pk.unit_start && pk.random_access && !pk.discontinuity && pk.has_payload);
        assert_eq!((pk.pid, pk.continuity_counter), (0x100, 7));
        assert_eq!(pk.pcr, Some(0x1_0000_0001 * 300 + 0x101));
        assert_eq!(pk.payload.len(), 188 - 12);
    }

    #[test]
    fn adaptation_field_overrunning_the_packet_is_an_error() {
        let mut p = packet(0x100, 0, 0);
        p[3] = 0x30;
        p[4] = 183;
        assert_eq!(Packet::parse(&p), Err(PacketError::BadAdaptationLength(183)));
        p[3] = 0x20;
        assert!(Packet::parse(&p).is_ok());
        p[4] = 184;
        assert_eq!(Packet::parse(&p), Err(PacketError::BadAdaptationLength(184)));
    }

    #[test]
    fn framer_skips_garbage_and_false_sync_bytes() {
        let mut data = vec![0x47, 1, 2, 3, 0x47, 9];
        let mut first = packet(0x100, 0, 0x00);
        first[100] = 0x47;
        data.extend(first);
        data.extend(packet(0x100, 1, 0x00));
        data.extend(packet(0x100, 2, 0x00));
        let mut f = Framer::default();
        f.push(&data);
        let mut ccs = Vec::new();
        while let Some(p) = f.next_packet() {
            ccs.push(p[3] & 0x0f);
        }
        // The last packet is in sync, so it does not wait for a following one.
        assert_eq!(ccs, vec![0, 1, 2]);
        assert_eq!(f.skipped_bytes, 6);
        assert_eq!(f.sync_losses, 0);
    }

    #[test]
    fn framer_recovers_after_lost_bytes() {
        let mut data = packet(0x100, 0, 0);
        data.extend(packet(0x100, 1, 0));
        let mut cut = packet(0x100, 2, 0);
        cut.drain(..50);
        data.extend(cut);
        data.extend(packet(0x100, 3, 0));
        data.extend(packet(0x100, 4, 0));
        let mut f = Framer::default();
        let mut ccs = Vec::new();
        for b in data.chunks(1) {
            f.push(b);
            while let Some(p) = f.next_packet() {
                ccs.push(p[3] & 0x0f);
            }
        }
        assert_eq!(ccs, vec![0, 1, 3, 4]);
        assert_eq!(f.sync_losses, 1);
        assert_eq!(f.skipped_bytes, 138);
        assert!(f.held() < PACKET_LEN);
        assert!(f.in_sync());
    }
}
