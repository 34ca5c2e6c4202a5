//! Parsing of `_HLS_msn`, `_HLS_part` and `_HLS_skip` (HLS §6.2.5).

use sluice_hls::{DirectiveError, Directives, Skip};

#[test]
fn empty_query_has_no_directives() {
    assert_eq!(Directives::parse(""), Ok(Directives::default()));
    assert_eq!(Directives::parse("?"), Ok(Directives::default()));
    assert!(!Directives::default().is_blocking());
}

#[test]
fn all_three_directives_parse() {
    let d = Directives::parse("?_HLS_msn=12&_HLS_part=3&_HLS_skip=YES").unwrap();
    assert_eq!(d, Directives { msn: Some(12), part: Some(3), skip: Some(Skip::Yes) });
    assert!(d.is_blocking());
    assert!(d.wants_delta(false));
    assert!(!d.wants_delta(true), "_HLS_skip is ignored once the playlist has ENDLIST");
    assert_eq!(Directives::parse("_HLS_skip=v2").unwrap().skip, Some(Skip::V2));
    assert_eq!(Directives::parse("_HLS_msn=18446744073709551615").unwrap().msn, Some(u64::MAX));
}

#[test]
fn unrelated_parameters_are_ignored() {
    let d = Directives::parse("token=abc&_HLS_msn=5&flag&x=_HLS_part=1&_HLS_other=9").unwrap();
    assert_eq!(d, Directives { msn: Some(5), ..Directives::default() });
}

#[test]
fn part_without_msn_is_rejected() {
    assert_eq!(Directives::parse("_HLS_part=1"), Err(DirectiveError::PartWithoutMsn));
    assert_eq!(Directives::parse("_HLS_part=1&_HLS_skip=YES"), Err(DirectiveError::PartWithoutMsn));
}

#[test]
fn garbage_numbers_are_rejected() {
    for q in [
        "_HLS_msn",
        "_HLS_msn=",
        "_HLS_msn=abc",
        "_HLS_msn=-1",
        "_HLS_msn=+1",
        "_HLS_msn=1.0",
        "_HLS_msn= 1",
        "_HLS_msn=0x10",
        "_HLS_msn=18446744073709551616",
        "_HLS_msn=%31",
    ] {
        assert_eq!(Directives::parse(q), Err(DirectiveError::BadNumber("_HLS_msn")), "{q}");
    }
    assert_eq!(
        Directives::parse("_HLS_msn=1&_HLS_part=4294967296"),
        Err(DirectiveError::BadNumber("_HLS_part"))
    );
    assert_eq!(
        Directives::parse("_HLS_msn=1&_HLS_part=x"),
        Err(DirectiveError::BadNumber("_HLS_part"))
    );
}

#[test]
fn bad_skip_values_and_duplicates_are_rejected() {
    for q in ["_HLS_skip=yes", "_HLS_skip=", "_HLS_skip=V2", "_HLS_skip=NO"] {
        assert_eq!(Directives::parse(q), Err(DirectiveError::BadSkip), "{q}");
    }
    assert_eq!(
        Directives::parse("_HLS_msn=1&_HLS_msn=2"),
        Err(DirectiveError::Duplicate("_HLS_msn"))
    );
    assert_eq!(
        Directives::parse("_HLS_skip=YES&_HLS_skip=v2"),
        Err(DirectiveError::Duplicate("_HLS_skip"))
    );
}
