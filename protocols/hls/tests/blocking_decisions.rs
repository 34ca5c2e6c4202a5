//! The blocking-reload decision table (HLS §6.2.5.2), on a hand-built ring:
//! segments 10 and 11 complete with four parts each, 12 open with parts 0 and 1.

mod common;

use common::{Seg, ring};
use sluice_hls::{Decision, Directives, block_limit_ms, decide};
use sluice_media::ring::{Part, TrackRing};

const TD: u32 = 2;
const PT: f64 = 0.5; // Advance Part Limit 3 / 0.5 = 6 parts

fn live() -> TrackRing {
    ring(
        1000,
        0,
        &[
            Seg::new(10, &[500, 500, 500, 500]),
            Seg::new(11, &[500, 500, 500, 500]),
            Seg::new(12, &[500, 500]).open(),
        ],
    )
}

fn msn(m: u64) -> Directives {
    Directives { msn: Some(m), ..Directives::default() }
}

fn msn_part(m: u64, p: u32) -> Directives {
    Directives { msn: Some(m), part: Some(p), ..Directives::default() }
}

fn now(d: Directives) -> Decision {
    decide(&d, &live(), 0, TD, PT, false)
}

#[test]
fn request_without_directives_is_answered_at_once() {
    assert_eq!(now(Directives::default()), Decision::Ready);
}

#[test]
fn part_without_msn_is_a_bad_request() {
    let d = Directives { part: Some(1), ..Directives::default() };
    assert!(matches!(now(d), Decision::BadRequest(_)));
}

#[test]
fn msn_alone_is_ready_once_that_segment_has_its_first_part() {
    assert_eq!(now(msn(11)), Decision::Ready);
    assert_eq!(now(msn(12)), Decision::Ready, "open segment 12 already lists part 0");
    assert_eq!(now(msn(13)), Decision::Wait);
}

#[test]
fn msn_older_than_the_ring_is_ready_with_the_whole_playlist() {
    assert_eq!(now(msn(3)), Decision::Ready);
    assert_eq!(now(msn_part(3, 99)), Decision::Ready);
}

#[test]
fn part_of_the_open_segment_waits_until_published() {
    assert_eq!(now(msn_part(12, 0)), Decision::Ready);
    assert_eq!(now(msn_part(12, 1)), Decision::Ready);
    assert_eq!(now(msn_part(12, 2)), Decision::Wait);
}

#[test]
fn part_past_the_end_of_a_complete_segment_means_part_zero_of_the_next() {
    // 11 has parts 0–3; (11, 4) is (12, 0), which is published.
    assert_eq!(now(msn_part(11, 3)), Decision::Ready);
    assert_eq!(now(msn_part(11, 4)), Decision::Ready);
    assert_eq!(now(msn_part(11, 1000)), Decision::Ready);

    // Once 12 completes with two parts, (12, 2) is (13, 0): wait for segment 13.
    let mut r = live();
    r.complete_segment();
    assert_eq!(decide(&msn_part(12, 2), &r, 0, TD, PT, false), Decision::Wait);
    assert_eq!(decide(&msn(13), &r, 0, TD, PT, false), Decision::Wait);
    r.begin_segment(13, 3000, 0, false).unwrap();
    assert_eq!(decide(&msn(13), &r, 0, TD, PT, false), Decision::Wait, "no part yet");
    r.push_part(Part { start_dts: 3000, duration: 500, independent: true, data: "x".into() })
        .unwrap();
    assert_eq!(decide(&msn_part(12, 2), &r, 0, TD, PT, false), Decision::Ready);
    assert_eq!(decide(&msn(13), &r, 0, TD, PT, false), Decision::Ready);
}

#[test]
fn msn_more_than_two_ahead_is_refused() {
    assert_eq!(now(msn(14)), Decision::Wait, "last + 2 blocks");
    assert!(matches!(now(msn(15)), Decision::BadRequest(_)));
    assert!(matches!(now(msn_part(15, 0)), Decision::BadRequest(_)));
    assert!(matches!(now(msn(u64::MAX)), Decision::BadRequest(_)));
}

#[test]
fn part_beyond_the_advance_part_limit_is_refused() {
    // Last published part is (12, 1); the limit is 6 parts ahead.
    assert_eq!(now(msn_part(12, 7)), Decision::Wait);
    assert!(matches!(now(msn_part(12, 8)), Decision::BadRequest(_)));
    // In the next segment the request is at least part + 1 parts ahead.
    assert_eq!(now(msn_part(13, 5)), Decision::Wait);
    assert!(matches!(now(msn_part(13, 6)), Decision::BadRequest(_)));
    assert_eq!(now(msn_part(14, 4)), Decision::Wait);
    assert!(matches!(now(msn_part(14, 5)), Decision::BadRequest(_)));
    assert!(matches!(now(msn_part(12, u32::MAX)), Decision::BadRequest(_)));
}

#[test]
fn advance_part_limit_is_three_parts_from_one_second_parts_up() {
    let r = live();
    assert_eq!(decide(&msn_part(12, 4), &r, 0, TD, 1.0, false), Decision::Wait);
    assert!(matches!(decide(&msn_part(12, 5), &r, 0, TD, 1.0, false), Decision::BadRequest(_)));
    // 3 / 0.2 = 15 parts, despite 0.2 not being exact in binary.
    assert_eq!(decide(&msn_part(12, 16), &r, 0, TD, 0.2, false), Decision::Wait);
    assert!(matches!(decide(&msn_part(12, 17), &r, 0, TD, 0.2, false), Decision::BadRequest(_)));
}

#[test]
fn held_longer_than_three_target_durations_is_unavailable() {
    let r = live();
    assert_eq!(block_limit_ms(TD), 6000);
    assert_eq!(decide(&msn(13), &r, 6000, TD, PT, false), Decision::Wait);
    assert_eq!(decide(&msn(13), &r, 6001, TD, PT, false), Decision::Unavailable);
    // Ready wins over the time limit: the playlist is there to send.
    assert_eq!(decide(&msn(12), &r, 60_000, TD, PT, false), Decision::Ready);
}

#[test]
fn ended_playlist_answers_every_request_at_once() {
    let r = live();
    for d in [msn(13), msn(1000), msn_part(12, 500), msn_part(99, 0)] {
        assert_eq!(decide(&d, &r, 0, TD, PT, true), Decision::Ready);
    }
}

#[test]
fn empty_ring_waits_then_gives_up() {
    let r = TrackRing::new(1000, 8);
    assert_eq!(decide(&msn(0), &r, 0, TD, PT, false), Decision::Wait);
    assert_eq!(decide(&msn(0), &r, 6001, TD, PT, false), Decision::Unavailable);
    assert_eq!(decide(&Directives::default(), &r, 0, TD, PT, false), Decision::Ready);
}
