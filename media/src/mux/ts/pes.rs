//! PES packet headers (ISO/IEC 13818-1 §2.4.3.6–§2.4.3.7) and the elementary stream payloads
//! the muxer puts behind them: H.264/H.265 access units in Annex B form with an access unit
//! delimiter (and parameter sets before keyframes), AAC frames behind ADTS headers.

use bytes::{BufMut, Bytes, BytesMut};

use super::packet::wrap33;
use crate::codec::annexb::{self, AnnexBError};
use crate::codec::h264;
use crate::codec::nal::nal_units;

/// stream_id values (Table 2-22): "110x xxxx … audio stream number", "1110 xxxx … video
/// stream number".
pub const STREAM_ID_VIDEO: u8 = 0xe0;
pub const STREAM_ID_AUDIO: u8 = 0xc0;

/// Bytes a PES header takes with PTS and DTS (6 fixed + 3 flags/length + 10 timestamps).
pub const MAX_HEADER_LEN: usize = 19;
/// Bytes a PES header takes with a PTS only.
pub const PTS_ONLY_HEADER_LEN: usize = 14;
/// Largest PES_packet_length ("the number of bytes in the PES packet following the last byte
/// of the field").
const MAX_PES_PACKET_LENGTH: usize = 0xffff;

/// Writes a PES header for a payload of `payload_len` bytes. `dts` is written only when it
/// differs from `pts` ("PTS_DTS_flags … '11' both … fields are present"). A payload too long
/// for the 16-bit PES_packet_length gets 0, which only video may use: "A value of 0
/// indicates that the PES packet length is neither specified nor bounded and is allowed only in
/// PES packets whose payload consists of bytes from a video elementary stream".
pub fn put_header(out: &mut BytesMut, stream_id: u8, pts: i64, dts: i64, payload_len: usize) {
    let with_dts = pts != dts;
    let header_data_len: usize = if with_dts { 10 } else { 5 };
    let after_length = 3 + header_data_len + payload_len;
    out.put_slice(&[0, 0, 1, stream_id]);
    out.put_u16(if after_length <= MAX_PES_PACKET_LENGTH { after_length as u16 } else { 0 });
    // '10', PES_scrambling_control '00', PES_priority 0, data_alignment_indicator 1 ("the PES
    // packet header is immediately followed by the video start code or audio syncword"),
    // copyright 0, original_or_copy 0.
    out.put_u8(0x84);
    // PTS_DTS_flags, ESCR/ES_rate/DSM_trick_mode/additional_copy_info/PES_CRC/extension 0.
    out.put_u8(if with_dts { 0xc0 } else { 0x80 });
    out.put_u8(header_data_len as u8);
    put_timestamp(out, if with_dts { 0b0011 } else { 0b0010 }, pts);
    if with_dts {
        put_timestamp(out, 0b0001, dts);
    }
}

/// A 33-bit timestamp in 5 bytes: 4-bit prefix, TS[32..30], marker, TS[29..15], marker,
/// TS[14..0], marker.
fn put_timestamp(out: &mut BytesMut, prefix: u8, ticks: i64) {
    let t = wrap33(ticks);
    out.put_u8(prefix << 4 | ((t >> 29) as u8 & 0x0e) | 1);
    out.put_u16(((t >> 14) as u16 & 0xfffe) | 1);
    out.put_u16(((t << 1) as u16 & 0xfffe) | 1);
}

/// Largest payload of a PES packet with a PTS only whose length is still coded (the 3 flag and
/// length bytes and 5 PTS bytes count towards PES_packet_length). Audio PES packets stay under it.
pub const MAX_BOUNDED_PTS_PAYLOAD: usize = MAX_PES_PACKET_LENGTH - 8;

/// Video codec facts the payload writer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoSyntax {
    H264 { sps: Vec<Bytes>, pps: Vec<Bytes> },
    H265 { vps: Vec<Bytes>, sps: Vec<Bytes>, pps: Vec<Bytes> },
}

/// H.264 AUD: nal_unit_type 9, primary_pic_type 7 ("I, SI, P, SP, B": any slice type) and the
/// rbsp stop bit.
const H264_AUD: [u8; 2] = [0x09, 0xf0];
/// H.265 AUD: nal_unit_type 35, nuh_layer_id 0, nuh_temporal_id_plus1 1; pic_type 2 ("I, P,
/// B") and the rbsp stop bit.
const H265_AUD: [u8; 3] = [0x46, 0x01, 0x50];

/// NAL unit types (H.265 Table 7-1) the payload writer looks at.
const H265_VPS: u8 = 32;
const H265_SPS: u8 = 33;
const H265_PPS: u8 = 34;
const H265_AUD_TYPE: u8 = 35;

impl VideoSyntax {
    fn nal_type(&self, nal: &[u8]) -> u8 {
        match self {
            VideoSyntax::H264 { .. } => h264::nal_unit_type(nal).unwrap_or(0),
            VideoSyntax::H265 { .. } => nal.first().map_or(0, |b| (b >> 1) & 0x3f),
        }
    }

    fn is_aud(&self, t: u8) -> bool {
        match self {
            VideoSyntax::H264 { .. } => t == h264::nal_type::AUD,
            VideoSyntax::H265 { .. } => t == H265_AUD_TYPE,
        }
    }

    /// Parameter set NAL unit types, in the order they go before a keyframe.
    fn parameter_set_types(&self) -> &'static [u8] {
        match self {
            VideoSyntax::H264 { .. } => &[h264::nal_type::SPS, h264::nal_type::PPS],
            VideoSyntax::H265 { .. } => &[H265_VPS, H265_SPS, H265_PPS],
        }
    }

    fn parameter_sets(&self) -> impl Iterator<Item = &Bytes> {
        let (a, b, c): (&[Bytes], &[Bytes], &[Bytes]) = match self {
            VideoSyntax::H264 { sps, pps } => (&[], sps, pps),
            VideoSyntax::H265 { vps, sps, pps } => (vps, sps, pps),
        };
        a.iter().chain(b).chain(c)
    }

    fn aud(&self) -> &'static [u8] {
        match self {
            VideoSyntax::H264 { .. } => &H264_AUD,
            VideoSyntax::H265 { .. } => &H265_AUD,
        }
    }
}

/// Appends one video access unit (4-byte length-prefixed NAL units) as Annex B: an access unit
/// delimiter first (13818-1 §2.14.1: "Each AVC access unit shall contain an access unit
/// delimiter NAL Unit"; §2.17.1 says the same of HEVC), then, for a keyframe that does not
/// carry every kind of parameter set itself, the track's parameter sets, then the unit's own
/// NAL units minus any AUD it had. On a malformed sample `out` is left as it was.
pub fn put_video_payload(
    out: &mut BytesMut,
    syntax: &VideoSyntax,
    data: &[u8],
    keyframe: bool,
) -> Result<(), AnnexBError> {
    let mut present = 0u8;
    let kinds = syntax.parameter_set_types();
    for nal in nal_units(data, 4) {
        let t = syntax.nal_type(nal?);
        if let Some(i) = kinds.iter().position(|&k| k == t) {
            present |= 1 << i;
        }
    }
    annexb::put_nal(out, syntax.aud());
    if keyframe && present != (1u8 << kinds.len()) - 1 {
        for ps in syntax.parameter_sets() {
            annexb::put_nal(out, ps);
        }
    }
    // The scan above proved every length in `data` is sound.
    for nal in nal_units(data, 4).flatten() {
        if !syntax.is_aud(syntax.nal_type(nal)) {
            annexb::put_nal(out, nal);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts_at(b: &[u8]) -> u64 {
        (u64::from(b[0] >> 1) & 0x07) << 30
            | u64::from(b[1]) << 22
            | u64::from(b[2] >> 1) << 15
            | u64::from(b[3]) << 7
            | u64::from(b[4] >> 1)
    }

    #[test]
    fn header_with_pts_only_and_with_dts() {
        let mut out = BytesMut::new();
        put_header(&mut out, STREAM_ID_AUDIO, 0x1_8000_0001, 0x1_8000_0001, 100);
        assert_eq!(&out[..9], &[0, 0, 1, 0xc0, 0, 108, 0x84, 0x80, 5]);
        assert_eq!(out[9] >> 4, 0b0010);
        assert_eq!(ts_at(&out[9..14]), 0x1_8000_0001);
        assert_eq!(out.len(), 14);
        let mut out = BytesMut::new();
        put_header(&mut out, STREAM_ID_VIDEO, 6006, 3003, 70_000);
        assert_eq!(&out[..9], &[0, 0, 1, 0xe0, 0, 0, 0x84, 0xc0, 10]);
        assert_eq!((out[9] >> 4, out[14] >> 4), (0b0011, 0b0001));
        assert_eq!((ts_at(&out[9..14]), ts_at(&out[14..19])), (6006, 3003));
        assert_eq!(out.len(), MAX_HEADER_LEN);
    }

    #[test]
    fn timestamps_wrap_modulo_2_pow_33() {
        let mut out = BytesMut::new();
        put_header(&mut out, STREAM_ID_AUDIO, (1 << 33) + 5, (1 << 33) + 5, 0);
        assert_eq!(ts_at(&out[9..14]), 5);
        let mut out = BytesMut::new();
        put_header(&mut out, STREAM_ID_AUDIO, -90_000, -90_000, 0);
        assert_eq!(ts_at(&out[9..14]), (1 << 33) - 90_000);
    }

    fn prefixed(nals: &[&[u8]]) -> Vec<u8> {
        nals.iter().flat_map(|n| [&(n.len() as u32).to_be_bytes()[..], n].concat()).collect()
    }

    fn h264() -> VideoSyntax {
        VideoSyntax::H264 {
            sps: vec![Bytes::from_static(&[0x67, 0x42])],
            pps: vec![Bytes::from_static(&[0x68, 0xce])],
        }
    }

    #[test]
    fn keyframes_get_aud_and_parameter_sets_and_old_auds_go() {
        let mut out = BytesMut::new();
        let data = prefixed(&[&[0x09, 0x10], &[0x06, 0x05], &[0x65, 0x88]]);
        put_video_payload(&mut out, &h264(), &data, true).unwrap();
        let nals: Vec<&[u8]> = annexb::nal_units(&out).collect();
        assert_eq!(
            nals,
            vec![&[0x09, 0xf0][..], &[0x67, 0x42], &[0x68, 0xce], &[0x06, 0x05], &[0x65, 0x88]]
        );
        let mut out = BytesMut::new();
        put_video_payload(&mut out, &h264(), &prefixed(&[&[0x41, 0x9a]]), false).unwrap();
        let nals: Vec<&[u8]> = annexb::nal_units(&out).collect();
        assert_eq!(nals, vec![&[0x09, 0xf0][..], &[0x41, 0x9a]]);
    }

    #[test]
    fn keyframes_with_in_band_parameter_sets_keep_theirs() {
        let mut out = BytesMut::new();
        let data = prefixed(&[&[0x67, 0x64], &[0x68, 0xeb], &[0x65, 0x88]]);
        put_video_payload(&mut out, &h264(), &data, true).unwrap();
        let nals: Vec<&[u8]> = annexb::nal_units(&out).collect();
        assert_eq!(nals, vec![&[0x09, 0xf0][..], &[0x67, 0x64], &[0x68, 0xeb], &[0x65, 0x88]]);
    }

    #[test]
    fn hevc_irap_gets_vps_sps_pps() {
        let syntax = VideoSyntax::H265 {
            vps: vec![Bytes::from_static(&[0x40, 0x01])],
            sps: vec![Bytes::from_static(&[0x42, 0x01])],
            pps: vec![Bytes::from_static(&[0x44, 0x01])],
        };
        let mut out = BytesMut::new();
        // IDR_W_RADL (19) and an old AUD (35)
        put_video_payload(
            &mut out,
            &syntax,
            &prefixed(&[&[0x46, 0x01, 0x10], &[0x26, 0x01, 0xaf]]),
            true,
        )
        .unwrap();
        let nals: Vec<&[u8]> = annexb::nal_units(&out).collect();
        assert_eq!(
            nals,
            vec![
                &[0x46, 0x01, 0x50][..],
                &[0x40, 0x01],
                &[0x42, 0x01],
                &[0x44, 0x01],
                &[0x26, 0x01, 0xaf]
            ]
        );
    }

    #[test]
    fn malformed_samples_write_nothing() {
        let mut out = BytesMut::new();
        assert!(put_video_payload(&mut out, &h264(), &[0, 0, 0, 9, 0x65], true).is_err());
        assert!(out.is_empty());
    }
}
