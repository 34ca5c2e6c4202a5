//! MPEG-TS demuxer (ISO/IEC 13818-1) for SRT ingest.
