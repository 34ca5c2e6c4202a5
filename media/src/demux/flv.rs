//! FLV tag bodies (as carried in RTMP audio/video messages and in .flv files) → access units.
//!
//! Push/pull contract: feed each tag with [`FlvDemuxer::push_tag`]; drain events with
//! [`FlvDemuxer::poll_event`] until it returns `None`. A malformed tag yields an
//! `Event::Dropped` with the reason and never disturbs later tags.
