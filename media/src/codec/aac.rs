//! AAC: AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1), the decoder configuration FLV carries
//! in its AAC sequence header and CMAF writes into `esds`.

use bytes::Bytes;

use super::bits::{BitReader, Truncated};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AacError {
    #[error("AudioSpecificConfig truncated")]
    Truncated,
    #[error("reserved sampling frequency index {0}")]
    BadFrequencyIndex(u8),
    #[error("sampling frequency 0")]
    ZeroSampleRate,
}

impl From<Truncated> for AacError {
    fn from(_: Truncated) -> Self {
        AacError::Truncated
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioSpecificConfig {
    /// The config exactly as received; written verbatim into `esds`.
    pub raw: Bytes,
    /// Audio object type (2 = AAC-LC, 5 = HE-AAC/SBR, 29 = HE-AACv2/PS).
    pub object_type: u8,
    pub sample_rate: u32,
    /// Number of channels, or 0 when channelConfiguration is 0 (defined by a program config
    /// element inside the stream).
    pub channels: u8,
}

/// Table 1.18 samplingFrequencyIndex → Hz (indices 0x0 to 0xc; 0xd and 0xe are reserved).
const SAMPLE_RATES: [u32; 13] =
    [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/// samplingFrequencyIndex meaning "escape value": a 24-bit samplingFrequency follows.
const EXPLICIT_FREQUENCY: u8 = 0xf;

/// audioObjectType meaning "escape value": 32 + a 6-bit audioObjectTypeExt follows.
const ESCAPE_OBJECT_TYPE: u8 = 31;

/// Object types whose GASpecificConfig starts with frameLengthFlag (Table 1.15 users of
/// GASpecificConfig).
const GA_OBJECT_TYPES: [u8; 12] = [1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23];

impl AudioSpecificConfig {
    pub fn parse(raw: Bytes) -> Result<Self, AacError> {
        let fields = Fields::parse(&raw)?;
        Ok(Self {
            object_type: fields.object_type,
            sample_rate: fields.sample_rate,
            channels: fields.channels,
            raw,
        })
    }

    /// RFC 6381 codec string, e.g. `mp4a.40.2`.
    pub fn codec_string(&self) -> String {
        format!("mp4a.40.{}", self.object_type)
    }

    /// Samples per AAC frame at [`Self::sample_rate`]: 1024, or 960 when the GASpecificConfig's
    /// frameLengthFlag is set ("frameLengthFlag … 1: 960/120 line IMDCT").
    pub fn samples_per_frame(&self) -> u32 {
        match Fields::parse(&self.raw) {
            Ok(f) if f.frame_length_960 => 960,
            _ => 1024,
        }
    }
}

struct Fields {
    object_type: u8,
    sample_rate: u32,
    channels: u8,
    frame_length_960: bool,
}

impl Fields {
    fn parse(raw: &[u8]) -> Result<Self, AacError> {
        let mut r = BitReader::new(raw);
        let mut object_type = read_object_type(&mut r)?;
        let sample_rate = read_frequency(&mut r)?;
        let channel_configuration = r.read_bits(4)? as u8;
        // "if ( audioObjectType == 5 || audioObjectType == 29 ) { extensionAudioObjectType = 5;
        // … extensionSamplingFrequencyIndex … audioObjectType = GetAudioObjectType(); }"
        // The codec string keeps the signalled type (5/29, HE-AAC); the GASpecificConfig that
        // follows belongs to the core object type.
        let mut core_type = object_type;
        if object_type == 5 || object_type == 29 {
            let _extension_rate = read_frequency(&mut r)?;
            core_type = read_object_type(&mut r)?;
            if core_type == 22 {
                // ER BSAC: extensionChannelConfiguration follows; not needed.
                let _ = r.read_bits(4)?;
            }
        }
        if object_type == 0 {
            object_type = core_type;
        }
        let frame_length_960 =
            GA_OBJECT_TYPES.contains(&core_type) && r.read_flag().unwrap_or(false);
        Ok(Self {
            object_type,
            sample_rate,
            channels: channel_count(channel_configuration),
            frame_length_960,
        })
    }
}

/// GetAudioObjectType(): 5 bits, "if (audioObjectType == 31) audioObjectType = 32 +
/// audioObjectTypeExt" (6 bits).
fn read_object_type(r: &mut BitReader<'_>) -> Result<u8, AacError> {
    let t = r.read_bits(5)? as u8;
    if t == ESCAPE_OBJECT_TYPE {
        return Ok(32 + r.read_bits(6)? as u8);
    }
    Ok(t)
}

/// samplingFrequencyIndex (4 bits), "if ( samplingFrequencyIndex == 0xf ) samplingFrequency;
/// 24 bits".
fn read_frequency(r: &mut BitReader<'_>) -> Result<u32, AacError> {
    let idx = r.read_bits(4)? as u8;
    let rate = if idx == EXPLICIT_FREQUENCY {
        r.read_bits(24)?
    } else {
        *SAMPLE_RATES.get(usize::from(idx)).ok_or(AacError::BadFrequencyIndex(idx))?
    };
    if rate == 0 {
        return Err(AacError::ZeroSampleRate);
    }
    Ok(rate)
}

/// Table 1.19 channelConfiguration → number of channels (0: defined in the AOT-specific config).
fn channel_count(config: u8) -> u8 {
    match config {
        1..=6 => config,
        7 | 12 | 14 => 8,
        11 => 7,
        13 => 24,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &'static [u8]) -> Result<AudioSpecificConfig, AacError> {
        AudioSpecificConfig::parse(Bytes::from_static(b))
    }

    #[test]
    fn aac_lc_48k_stereo() {
        // 00010 0011 0010 0 0 0 → LC, 48 kHz, stereo (ffmpeg's config in testdata).
        let c = parse(&[0x11, 0x90]).unwrap();
        assert_eq!((c.object_type, c.sample_rate, c.channels), (2, 48000, 2));
        assert_eq!(c.codec_string(), "mp4a.40.2");
        assert_eq!(c.samples_per_frame(), 1024);
        assert_eq!(&c.raw[..], &[0x11, 0x90]);
    }

    #[test]
    fn explicit_frequency_and_escaped_object_type() {
        // 11111 000010 (AOT 34) 1111 <24-bit 44100> 0001 …
        // bits: 11111 000010 1111 000000001010110001000100 0001 0000000
        let c =
            parse(&[0b1111_1000, 0b0101_1110, 0b0000_0001, 0b0101_1000, 0b1000_1000, 0b0010_0000])
                .unwrap();
        assert_eq!((c.object_type, c.sample_rate, c.channels), (34, 44100, 1));
    }

    #[test]
    fn he_aac_keeps_signalled_type_and_core_rate() {
        // AOT 5, 24 kHz (idx 6), stereo, extension idx 3 (48 kHz), core AOT 2.
        // 00101 0110 0010 0011 00010 000 → 0x2b 0x11 0x88 0x00
        let c = parse(&[0x2b, 0x11, 0x88, 0x00]).unwrap();
        assert_eq!((c.object_type, c.sample_rate, c.channels), (5, 24000, 2));
        assert_eq!(c.codec_string(), "mp4a.40.5");
    }

    #[test]
    fn frame_length_flag_means_960_samples() {
        // LC, 48 kHz, stereo, frameLengthFlag = 1: 00010 0011 0010 1 00
        let c = parse(&[0x11, 0x94]).unwrap();
        assert_eq!(c.samples_per_frame(), 960);
    }

    #[test]
    fn errors() {
        assert_eq!(parse(&[]), Err(AacError::Truncated));
        assert_eq!(parse(&[0x12]), Err(AacError::Truncated));
        // index 13 is reserved
        assert_eq!(parse(&[0x16, 0x90]), Err(AacError::BadFrequencyIndex(13)));
        // explicit frequency 0
        assert_eq!(parse(&[0x17, 0x80, 0x00, 0x00, 0x10]), Err(AacError::ZeroSampleRate));
    }
}
