//! MPEG-TS muxer (ISO/IEC 13818-1) for the HLS-TS endpoint and SRT playback.
