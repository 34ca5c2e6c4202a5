//! Sluice's media layer: everything between "bytes that came off an ingest socket" and
//! "CMAF parts in a ring that egress serves".
//!
//! Data flow: `demux::flv` and `demux::ts` turn container payloads into
//! [`AccessUnit`]s and [`TrackInfo`]s; `cmaf::fragmenter` turns access units into CMAF parts
//! (moof+mdat) and segment boundaries; `ring` keeps the recent parts of one track for egress.
//!
//! Sans-IO: nothing here reads a clock, opens a socket or spawns a task. Wall-clock time is
//! always an argument.

pub mod access_unit;
pub mod cmaf;
pub mod codec;
pub mod demux;
pub mod mux;
pub mod ring;
pub mod time;
pub mod track;

#[cfg(test)]
mod test_support;

pub use access_unit::AccessUnit;
pub use track::{CodecConfig, MediaKind, TrackInfo};
