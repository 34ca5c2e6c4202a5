//! What a PMT entry's stream_type (ISO/IEC 13818-1 Table 2-34, plus the ATSC, DVB and
//! Blu-ray assignments met in practice) and descriptors say the stream is, and whether Sluice
//! can package it.

use super::psi::{Descriptor, REGISTRATION_DESCRIPTOR, registration};

/// What the demuxer does with one elementary stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamKind {
    H264,
    H265,
    /// AAC in ADTS frames (stream_type 0x0F).
    AdtsAac,
    /// SCTE-35 splice_info_sections (stream_type 0x86).
    Scte35,
    /// Audio or video Sluice cannot package: reported once with this name, data ignored.
    Unsupported(String),
    /// Not audio or video (subtitles, teletext, ID3/KLV metadata, private data): ignored
    /// silently.
    Ignored,
}

/// DVB descriptor tags (ETSI EN 300 468) that identify a stream_type 0x06 payload.
const DVB_TELETEXT: u8 = 0x56;
const DVB_SUBTITLING: u8 = 0x59;
const DVB_AC3: u8 = 0x6a;
const DVB_ENHANCED_AC3: u8 = 0x7a;
const DVB_DTS: u8 = 0x7b;
const DVB_AAC: u8 = 0x7c;
const DVB_EXTENSION: u8 = 0x7f;
/// extension_descriptor_tag values inside DVB_EXTENSION.
const DVB_EXT_AC4: u8 = 0x15;
const DVB_EXT_DTS_HD: u8 = 0x0e;

/// Classifies one PMT stream from its stream_type, its descriptors and the program-level
/// descriptors.
pub fn classify(
    stream_type: u8,
    descriptors: &[Descriptor],
    program_descriptors: &[Descriptor],
) -> StreamKind {
    let registration = registration(descriptors).or_else(|| registration(program_descriptors));
    // ANSI/SCTE 35 has a program carrying cues announce them with a registration descriptor
    // whose format_identifier is 'CUEI'; with it, 0x86 is SCTE-35 even in a stream otherwise
    // tagged as Blu-ray.
    let cuei =
        has_registration(program_descriptors, b"CUEI") || has_registration(descriptors, b"CUEI");
    let hdmv = !cuei
        && (has_registration(descriptors, b"HDMV")
            || has_registration(program_descriptors, b"HDMV"));
    let unsupported = |name: &str| StreamKind::Unsupported(name.to_string());
    match stream_type {
        0x1b => StreamKind::H264,
        0x24 => StreamKind::H265,
        0x0f => StreamKind::AdtsAac,
        // Blu-ray (HDMV) reuses 0x80–0x86 for its audio formats; elsewhere 0x86 is the
        // stream_type ANSI/SCTE 35 assigns to splice_info_sections.
        0x80 if hdmv => unsupported("LPCM (Blu-ray)"),
        0x81 if hdmv => unsupported("AC-3 (Blu-ray)"),
        0x82 if hdmv => unsupported("DTS (Blu-ray)"),
        0x83 if hdmv => unsupported("Dolby TrueHD (Blu-ray)"),
        0x84 if hdmv => unsupported("E-AC-3 (Blu-ray)"),
        0x85 if hdmv => unsupported("DTS-HD High Resolution (Blu-ray)"),
        0x86 if hdmv => unsupported("DTS-HD Master Audio (Blu-ray)"),
        0x86 => StreamKind::Scte35,
        0x01 => unsupported("MPEG-1 video"),
        0x02 => unsupported("MPEG-2 video"),
        0x03 => unsupported("MPEG-1 audio (MP1/MP2/MP3)"),
        0x04 => unsupported("MPEG-2 audio (MP2/MP3)"),
        0x10 => unsupported("MPEG-4 Part 2 video"),
        0x11 => unsupported("AAC in LATM/LOAS"),
        0x1c => unsupported("MPEG-4 audio without transport syntax"),
        0x1e => unsupported("MPEG-2 auxiliary video"),
        0x20 => unsupported("H.264 MVC sub-bitstream"),
        0x21 => unsupported("JPEG 2000 video"),
        0x25 => unsupported("HEVC temporal sub-bitstream"),
        0x32 => unsupported("JPEG XS video"),
        0x33 => unsupported("VVC (H.266)"),
        0x42 => unsupported("AVS video"),
        0x81 => unsupported("AC-3"),
        0x82 => unsupported("DTS"),
        0x87 => unsupported("E-AC-3"),
        0xd1 => unsupported("Dirac video"),
        0xd2 => unsupported("AVS2 video"),
        0xea => unsupported("VC-1 video"),
        0x06 => classify_private(descriptors, registration),
        // Metadata, DSM-CC, private sections, IPMP, MPEG-2 auxiliary: not audio or video.
        0x05 | 0x08 | 0x0a..=0x0e | 0x12..=0x16 | 0x1a | 0x7f => StreamKind::Ignored,
        other => StreamKind::Unsupported(format!("stream_type {other:#04x}")),
    }
}

fn has_registration(descriptors: &[Descriptor], id: &[u8; 4]) -> bool {
    descriptors.iter().any(|d| d.tag == REGISTRATION_DESCRIPTOR && d.data.get(..4) == Some(id))
}

/// stream_type 0x06 ("PES packets containing private data"): the descriptors say what it is.
fn classify_private(descriptors: &[Descriptor], registration: Option<[u8; 4]>) -> StreamKind {
    let unsupported = |name: &str| StreamKind::Unsupported(name.to_string());
    match registration.as_ref() {
        Some(b"HEVC") => return StreamKind::H265,
        Some(b"Opus") => return unsupported("Opus"),
        Some(b"AC-3") => return unsupported("AC-3"),
        Some(b"EAC3") => return unsupported("E-AC-3"),
        Some(b"AC-4") => return unsupported("AC-4"),
        Some(b"AV01") => return unsupported("AV1"),
        Some(b"VC-1") => return unsupported("VC-1 video"),
        Some(b"BSSD") => return unsupported("SMPTE 302M LPCM"),
        Some(b"drac") => return unsupported("Dirac video"),
        Some(b"DTS1" | b"DTS2" | b"DTS3") => return unsupported("DTS"),
        _ => {}
    }
    for d in descriptors {
        match d.tag {
            DVB_AC3 => return unsupported("AC-3"),
            DVB_ENHANCED_AC3 => return unsupported("E-AC-3"),
            DVB_DTS => return unsupported("DTS"),
            DVB_AAC => return unsupported("AAC in private data"),
            DVB_EXTENSION => match d.data.first() {
                Some(&DVB_EXT_AC4) => return unsupported("AC-4"),
                Some(&DVB_EXT_DTS_HD) => return unsupported("DTS-HD"),
                _ => {}
            },
            DVB_TELETEXT | DVB_SUBTITLING => return StreamKind::Ignored,
            _ => {}
        }
    }
    StreamKind::Ignored
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn reg(id: &'static [u8; 4]) -> Vec<Descriptor> {
        vec![Descriptor { tag: 0x05, data: Bytes::from_static(id) }]
    }

    #[test]
    fn common_types_are_named() {
        assert_eq!(classify(0x1b, &[], &[]), StreamKind::H264);
        assert_eq!(classify(0x24, &[], &[]), StreamKind::H265);
        assert_eq!(classify(0x0f, &[], &[]), StreamKind::AdtsAac);
        assert_eq!(classify(0x86, &[], &[]), StreamKind::Scte35);
        assert_eq!(
            classify(0x03, &[], &[]),
            StreamKind::Unsupported("MPEG-1 audio (MP1/MP2/MP3)".into())
        );
        assert_eq!(classify(0x81, &[], &[]), StreamKind::Unsupported("AC-3".into()));
        assert_eq!(classify(0x15, &[], &[]), StreamKind::Ignored);
        assert_eq!(classify(0x99, &[], &[]), StreamKind::Unsupported("stream_type 0x99".into()));
    }

    #[test]
    fn private_data_is_named_by_its_descriptors() {
        assert_eq!(classify(0x06, &reg(b"Opus"), &[]), StreamKind::Unsupported("Opus".into()));
        let ac3 = vec![Descriptor { tag: 0x6a, data: Bytes::from_static(&[0]) }];
        assert_eq!(classify(0x06, &ac3, &[]), StreamKind::Unsupported("AC-3".into()));
        let subs = vec![Descriptor { tag: 0x59, data: Bytes::new() }];
        assert_eq!(classify(0x06, &subs, &[]), StreamKind::Ignored);
        assert_eq!(classify(0x06, &[], &[]), StreamKind::Ignored);
    }

    #[test]
    fn blu_ray_registration_changes_the_meaning_of_0x86() {
        assert_eq!(
            classify(0x86, &[], &reg(b"HDMV")),
            StreamKind::Unsupported("DTS-HD Master Audio (Blu-ray)".into())
        );
        let mut both = reg(b"HDMV");
        both.extend(reg(b"CUEI"));
        assert_eq!(classify(0x86, &[], &both), StreamKind::Scte35);
        // GStreamer tags H.264 with an HDMV registration too; it stays H.264.
        assert_eq!(classify(0x1b, &reg(b"HDMV"), &[]), StreamKind::H264);
    }
}
