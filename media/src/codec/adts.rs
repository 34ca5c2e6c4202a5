//! ADTS, the self-describing AAC frame header MPEG-TS carries AAC in (ISO/IEC 14496-3
//! §1.A.2.2.1 `adts_fixed_header` + `adts_variable_header`; ISO/IEC 13818-7 §6.2).
//!
//! The TS demuxer reads headers with [`AdtsHeader::parse`] / [`frames`] and turns the first one
//! into an [`AudioSpecificConfig`]; the TS muxer builds a header once per track with
//! [`AdtsHeader::from_config`] and writes it before every raw frame with
//! [`AdtsHeader::write`].
//!
//! ADTS has a 2-bit profile (audioObjectType − 1), so only AAC Main, LC, SSR and LTP (object
//! types 1–4) fit. HE-AAC (5) and HE-AACv2 (29) are written as their core object type at the
//! core (half) sample rate, as [`AudioSpecificConfig::sample_rate`] reports it: decoders find the
//! SBR/PS data in the stream ("implicit signalling", §1.6.5.2) and play it at the full rate.
//! ADTS implies 1024-sample frames, so 960-sample configurations are refused.

use bytes::{BufMut, Bytes};

use super::aac::{AacError, AudioSpecificConfig};
use super::bits::{BitReader, Truncated};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdtsError {
    #[error("adts header truncated")]
    Truncated,
    #[error("no adts syncword")]
    NoSync,
    #[error("adts layer {0} is not 0")]
    BadLayer(u8),
    #[error("reserved sampling frequency index {0}")]
    BadFrequencyIndex(u8),
    #[error("adts frame_length {0} is shorter than its header")]
    BadFrameLength(u16),
    #[error("adts frame of {0} bytes exceeds the 13-bit frame_length")]
    FrameTooLong(usize),
    #[error("audio object type {0} does not fit adts")]
    UnsupportedObjectType(u8),
    #[error("sample rate {0} has no adts frequency index")]
    UnsupportedSampleRate(u32),
    #[error("channel configuration {0} does not fit adts")]
    UnsupportedChannels(u8),
    #[error("960-sample frames do not fit adts")]
    FrameLength960,
    #[error("audio specific config: {0}")]
    Config(#[from] AacError),
}

impl From<Truncated> for AdtsError {
    fn from(_: Truncated) -> Self {
        AdtsError::Truncated
    }
}

/// Table 1.18 samplingFrequencyIndex → Hz (0x0 to 0xc; 0xd and 0xe reserved, 0xf is an
/// escape that ADTS cannot carry).
const SAMPLE_RATES: [u32; 13] =
    [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/// `syncword`: "The bit string '1111 1111 1111'".
const SYNCWORD: u32 = 0xfff;
/// `adts_buffer_fullness` 0x7FF: "indicates that the bitstream is a variable rate bitstream".
const VBR_FULLNESS: u16 = 0x7ff;
/// Largest `aac_frame_length` (13 bits).
const MAX_FRAME_LENGTH: usize = 0x1fff;

/// One ADTS header (fixed + variable part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdtsHeader {
    /// `ID`: false = MPEG-4, true = MPEG-2 AAC. Both carry the same fields.
    pub mpeg2: bool,
    /// `protection_absent`: true when no CRC follows the header.
    pub protection_absent: bool,
    /// Audio object type, `profile_ObjectType` + 1 (1 Main, 2 LC, 3 SSR, 4 LTP).
    pub object_type: u8,
    pub sampling_frequency_index: u8,
    /// `channel_configuration` (0: a program_config_element in the stream says).
    pub channel_configuration: u8,
    /// `aac_frame_length`: "Length of the frame including headers and error_check in bytes."
    pub frame_length: u16,
    pub buffer_fullness: u16,
    /// `number_of_raw_data_blocks_in_frame`: raw data blocks − 1.
    pub number_of_raw_data_blocks: u8,
}

impl AdtsHeader {
    /// Bytes of a header without CRC.
    pub const LEN: usize = 7;

    /// Parses the header at the start of `data` (CRC fields, when present, are skipped, not
    /// checked).
    pub fn parse(data: &[u8]) -> Result<Self, AdtsError> {
        let fixed = data.get(..Self::LEN).ok_or(AdtsError::Truncated)?;
        let mut r = BitReader::new(fixed);
        if r.read_bits(12)? != SYNCWORD {
            return Err(AdtsError::NoSync);
        }
        let mpeg2 = r.read_flag()?;
        // layer: "Indicates which layer is used. Set to '00'."
        let layer = r.read_bits(2)? as u8;
        if layer != 0 {
            return Err(AdtsError::BadLayer(layer));
        }
        let protection_absent = r.read_flag()?;
        let object_type = r.read_bits(2)? as u8 + 1;
        let sampling_frequency_index = r.read_bits(4)? as u8;
        if usize::from(sampling_frequency_index) >= SAMPLE_RATES.len() {
            return Err(AdtsError::BadFrequencyIndex(sampling_frequency_index));
        }
        let _private_bit = r.read_flag()?;
        let channel_configuration = r.read_bits(3)? as u8;
        // original_copy, home, copyright_identification_bit, copyright_identification_start
        r.skip_bits(4)?;
        let frame_length = r.read_bits(13)? as u16;
        let buffer_fullness = r.read_bits(11)? as u16;
        let number_of_raw_data_blocks = r.read_bits(2)? as u8;
        let header = Self {
            mpeg2,
            protection_absent,
            object_type,
            sampling_frequency_index,
            channel_configuration,
            frame_length,
            buffer_fullness,
            number_of_raw_data_blocks,
        };
        if usize::from(frame_length) < header.header_len() {
            return Err(AdtsError::BadFrameLength(frame_length));
        }
        Ok(header)
    }

    /// Header bytes before the first raw data block: 7, plus `adts_header_error_check` when
    /// protected (raw_data_block_position per extra block and crc_check, 16 bits each).
    pub fn header_len(&self) -> usize {
        if self.protection_absent {
            Self::LEN
        } else {
            Self::LEN + 2 + 2 * usize::from(self.number_of_raw_data_blocks)
        }
    }

    /// Bytes after the header up to the end of the frame (raw data blocks, and their CRCs when
    /// protected with more than one block).
    pub fn payload_len(&self) -> usize {
        usize::from(self.frame_length).saturating_sub(self.header_len())
    }

    /// Sampling frequency in Hz.
    pub fn sample_rate(&self) -> u32 {
        // parse() and from_config() only build headers with an index inside the table.
        SAMPLE_RATES.get(usize::from(self.sampling_frequency_index)).copied().unwrap_or(0)
    }

    /// Samples per channel in the frame: 1024 per raw data block.
    pub fn samples(&self) -> u32 {
        1024 * (u32::from(self.number_of_raw_data_blocks) + 1)
    }

    /// The AudioSpecificConfig equivalent to this header: audioObjectType, the frequency index
    /// and channelConfiguration, then a GASpecificConfig of three zero bits (1024-sample
    /// frames, no core coder, no extension).
    pub fn audio_specific_config(&self) -> Result<AudioSpecificConfig, AdtsError> {
        let aot = u16::from(self.object_type);
        let sfi = u16::from(self.sampling_frequency_index);
        let ch = u16::from(self.channel_configuration);
        let asc = aot << 11 | sfi << 7 | ch << 3;
        Ok(AudioSpecificConfig::parse(Bytes::copy_from_slice(&asc.to_be_bytes()))?)
    }

    /// The header for frames of `config`'s stream (MPEG-4, no CRC, VBR fullness, one raw data
    /// block); [`Self::write`] fills in each frame's length. See the module docs for HE-AAC.
    pub fn from_config(config: &AudioSpecificConfig) -> Result<Self, AdtsError> {
        let fields = ConfigFields::parse(&config.raw)?;
        if !(1..=4).contains(&fields.core_object_type) {
            return Err(AdtsError::UnsupportedObjectType(config.object_type));
        }
        if config.samples_per_frame() != 1024 {
            return Err(AdtsError::FrameLength960);
        }
        if fields.channel_configuration > 7 {
            return Err(AdtsError::UnsupportedChannels(fields.channel_configuration));
        }
        let index = SAMPLE_RATES
            .iter()
            .position(|&r| r == config.sample_rate)
            .ok_or(AdtsError::UnsupportedSampleRate(config.sample_rate))?;
        Ok(Self {
            mpeg2: false,
            protection_absent: true,
            object_type: fields.core_object_type,
            // index < 13
            sampling_frequency_index: index as u8,
            channel_configuration: fields.channel_configuration,
            frame_length: Self::LEN as u16,
            buffer_fullness: VBR_FULLNESS,
            number_of_raw_data_blocks: 0,
        })
    }

    /// Writes this header as a 7-byte, unprotected header for a frame whose raw data is
    /// `payload_len` bytes (`frame_length` and `protection_absent` are set accordingly).
    pub fn write(&self, payload_len: usize, out: &mut impl BufMut) -> Result<(), AdtsError> {
        let frame_length = payload_len
            .checked_add(Self::LEN)
            .filter(|&l| l <= MAX_FRAME_LENGTH)
            .ok_or(AdtsError::FrameTooLong(payload_len.saturating_add(Self::LEN)))?;
        // 56 bits, MSB first: syncword 12, ID 1, layer 2, protection_absent 1, profile 2,
        // sfi 4, private 1, channel_configuration 3, original_copy/home/copyright 4,
        // aac_frame_length 13, adts_buffer_fullness 11, number_of_raw_data_blocks_in_frame 2.
        let mut v: u64 = u64::from(SYNCWORD);
        v = v << 1 | u64::from(self.mpeg2);
        v <<= 2;
        v = v << 1 | 1;
        v = v << 2 | u64::from(self.object_type.saturating_sub(1) & 0x3);
        v = v << 4 | u64::from(self.sampling_frequency_index & 0xf);
        v <<= 1;
        v = v << 3 | u64::from(self.channel_configuration & 0x7);
        v <<= 4;
        v = v << 13 | frame_length as u64;
        v = v << 11 | u64::from(self.buffer_fullness & 0x7ff);
        v = v << 2 | u64::from(self.number_of_raw_data_blocks & 0x3);
        out.put_slice(&v.to_be_bytes()[1..]);
        Ok(())
    }
}

/// The AudioSpecificConfig fields ADTS needs that [`AudioSpecificConfig`] does not keep.
struct ConfigFields {
    /// The object type the GASpecificConfig belongs to (the core type for HE-AAC).
    core_object_type: u8,
    channel_configuration: u8,
}

impl ConfigFields {
    fn parse(raw: &[u8]) -> Result<Self, AdtsError> {
        let mut r = BitReader::new(raw);
        let object_type = read_object_type(&mut r)?;
        skip_frequency(&mut r)?;
        let channel_configuration = r.read_bits(4)? as u8;
        let mut core_object_type = object_type;
        // "if ( audioObjectType == 5 || audioObjectType == 29 ) { … extensionSamplingFrequencyIndex;
        // audioObjectType = GetAudioObjectType(); }"
        if object_type == 5 || object_type == 29 {
            skip_frequency(&mut r)?;
            core_object_type = read_object_type(&mut r)?;
        }
        Ok(Self { core_object_type, channel_configuration })
    }
}

fn read_object_type(r: &mut BitReader<'_>) -> Result<u8, Truncated> {
    let t = r.read_bits(5)? as u8;
    if t == 31 {
        return Ok(32 + r.read_bits(6)? as u8);
    }
    Ok(t)
}

fn skip_frequency(r: &mut BitReader<'_>) -> Result<(), Truncated> {
    if r.read_bits(4)? == 0xf {
        r.skip_bits(24)?;
    }
    Ok(())
}

/// One ADTS frame found by [`frames`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdtsFrame<'a> {
    pub header: AdtsHeader,
    /// The bytes after the header (raw data blocks).
    pub payload: &'a [u8],
}

/// Iterator over back-to-back ADTS frames; see [`frames`].
#[derive(Debug, Clone)]
pub struct AdtsFrames<'a> {
    rest: &'a [u8],
}

/// Splits a buffer of back-to-back ADTS frames (a TS audio PES payload). A bad header or a
/// frame longer than the data left yields one error and ends the iteration.
pub fn frames(data: &[u8]) -> AdtsFrames<'_> {
    AdtsFrames { rest: data }
}

impl<'a> Iterator for AdtsFrames<'a> {
    type Item = Result<AdtsFrame<'a>, AdtsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let result = AdtsHeader::parse(self.rest).and_then(|header| {
            let frame =
                self.rest.get(..usize::from(header.frame_length)).ok_or(AdtsError::Truncated)?;
            let payload = frame.get(header.header_len()..).ok_or(AdtsError::Truncated)?;
            Ok((AdtsFrame { header, payload }, usize::from(header.frame_length)))
        });
        match result {
            Ok((frame, len)) => {
                self.rest = self.rest.get(len..).unwrap_or_default();
                Some(Ok(frame))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asc(b: &'static [u8]) -> AudioSpecificConfig {
        AudioSpecificConfig::parse(Bytes::from_static(b)).unwrap()
    }

    /// ffmpeg's header for a 371-byte LC 48 kHz stereo frame: FF F1 4C 80 2E 7F FC.
    const FFMPEG_HEADER: [u8; 7] = [0xff, 0xf1, 0x4c, 0x80, 0x2e, 0x7f, 0xfc];

    #[test]
    fn parses_a_real_header() {
        let h = AdtsHeader::parse(&FFMPEG_HEADER).unwrap();
        assert_eq!(
            h,
            AdtsHeader {
                mpeg2: false,
                protection_absent: true,
                object_type: 2,
                sampling_frequency_index: 3,
                channel_configuration: 2,
                frame_length: 371,
                buffer_fullness: 0x7ff,
                number_of_raw_data_blocks: 0,
            }
        );
        assert_eq!(
            (h.header_len(), h.payload_len(), h.sample_rate(), h.samples()),
            (7, 364, 48000, 1024)
        );
        let c = h.audio_specific_config().unwrap();
        assert_eq!(&c.raw[..], &[0x11, 0x90]);
        assert_eq!((c.object_type, c.sample_rate, c.channels), (2, 48000, 2));
    }

    #[test]
    fn header_from_config_round_trips_through_parse() {
        let config = asc(&[0x11, 0x90]);
        let h = AdtsHeader::from_config(&config).unwrap();
        let mut out = Vec::new();
        h.write(364, &mut out).unwrap();
        assert_eq!(out, FFMPEG_HEADER);
        let back = AdtsHeader::parse(&out).unwrap();
        assert_eq!(back, AdtsHeader { frame_length: 371, ..h });
        assert_eq!(back.audio_specific_config().unwrap(), config);
    }

    #[test]
    fn every_rate_and_channel_layout_round_trips() {
        for sfi in 0u8..13 {
            for ch in 1u8..=7 {
                let raw = (2u16 << 11 | u16::from(sfi) << 7 | u16::from(ch) << 3).to_be_bytes();
                let config = AudioSpecificConfig::parse(Bytes::copy_from_slice(&raw)).unwrap();
                let mut out = Vec::new();
                AdtsHeader::from_config(&config).unwrap().write(10, &mut out).unwrap();
                let back = AdtsHeader::parse(&out).unwrap();
                assert_eq!(back.audio_specific_config().unwrap(), config, "sfi {sfi} ch {ch}");
            }
        }
    }

    #[test]
    fn he_aac_is_written_as_its_core_lc_at_the_base_rate() {
        // AOT 5, 24 kHz core, stereo, extension 48 kHz, core AOT 2.
        let he = asc(&[0x2b, 0x11, 0x88, 0x00]);
        let h = AdtsHeader::from_config(&he).unwrap();
        assert_eq!((h.object_type, h.sample_rate(), h.channel_configuration), (2, 24000, 2));
    }

    #[test]
    fn configs_adts_cannot_carry_are_refused() {
        // AOT 34 (escaped), explicit 44100 Hz.
        let escaped =
            asc(&[0b1111_1000, 0b0101_1110, 0b0000_0001, 0b0101_1000, 0b1000_1000, 0b0010_0000]);
        assert_eq!(AdtsHeader::from_config(&escaped), Err(AdtsError::UnsupportedObjectType(34)));
        // LC with frameLengthFlag (960 samples).
        assert_eq!(AdtsHeader::from_config(&asc(&[0x11, 0x94])), Err(AdtsError::FrameLength960));
        // LC, explicit 44 kHz (not in the table): 00010 1111 <24 bits 44000> 0010 000
        let odd = asc(&[0x17, 0x80, 0x55, 0xf0, 0x10]);
        assert_eq!(AdtsHeader::from_config(&odd), Err(AdtsError::UnsupportedSampleRate(44000)));
        // channelConfiguration 11 (7 channels) does not fit 3 bits.
        let wide = asc(&[0x11, 0xd8]);
        assert_eq!(AdtsHeader::from_config(&wide), Err(AdtsError::UnsupportedChannels(11)));
        let h = AdtsHeader::from_config(&asc(&[0x11, 0x90])).unwrap();
        assert_eq!(h.write(8185, &mut Vec::new()), Err(AdtsError::FrameTooLong(8192)));
        assert!(h.write(8184, &mut Vec::new()).is_ok());
    }

    #[test]
    fn bad_headers_are_errors_not_panics() {
        assert_eq!(AdtsHeader::parse(&FFMPEG_HEADER[..6]), Err(AdtsError::Truncated));
        assert_eq!(
            AdtsHeader::parse(&[0xff, 0xe1, 0x4c, 0x80, 0x2e, 0x7f, 0xfc]),
            Err(AdtsError::NoSync)
        );
        assert_eq!(
            AdtsHeader::parse(&[0xff, 0xf3, 0x4c, 0x80, 0x2e, 0x7f, 0xfc]),
            Err(AdtsError::BadLayer(1))
        );
        assert_eq!(
            AdtsHeader::parse(&[0xff, 0xf1, 0x74, 0x80, 0x2e, 0x7f, 0xfc]),
            Err(AdtsError::BadFrequencyIndex(13))
        );
        // frame_length 5 < 7
        assert_eq!(
            AdtsHeader::parse(&[0xff, 0xf1, 0x4c, 0x80, 0x00, 0xbf, 0xfc]),
            Err(AdtsError::BadFrameLength(5))
        );
        for len in 0..FFMPEG_HEADER.len() {
            let _ = AdtsHeader::parse(&FFMPEG_HEADER[..len]);
        }
    }

    #[test]
    fn protected_headers_skip_the_crc() {
        // protection_absent 0: header 9 bytes, frame_length 12 → 3 payload bytes.
        let mut data = vec![0xff, 0xf0, 0x4c, 0x80, 0x01, 0x9f, 0xfc, 0xab, 0xcd, 1, 2, 3];
        let h = AdtsHeader::parse(&data).unwrap();
        assert_eq!((h.protection_absent, h.header_len(), h.payload_len()), (false, 9, 3));
        data.extend_from_slice(&[0xff, 0xf1]);
        let mut it = frames(&data);
        assert_eq!(it.next().unwrap().unwrap().payload, &[1, 2, 3]);
        assert_eq!(it.next(), Some(Err(AdtsError::Truncated)));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn splits_back_to_back_frames() {
        let h = AdtsHeader::from_config(&asc(&[0x11, 0x90])).unwrap();
        let mut data = Vec::new();
        h.write(3, &mut data).unwrap();
        data.extend_from_slice(&[1, 2, 3]);
        h.write(0, &mut data).unwrap();
        h.write(1, &mut data).unwrap();
        data.push(9);
        let payloads: Vec<&[u8]> = frames(&data).map(|f| f.unwrap().payload).collect();
        assert_eq!(payloads, vec![&[1u8, 2, 3][..], &[][..], &[9][..]]);
        // Cut short inside the last frame.
        let cut = &data[..data.len() - 1];
        assert_eq!(frames(cut).last(), Some(Err(AdtsError::Truncated)));
    }
}
