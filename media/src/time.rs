//! Media time: integer ticks in a track's timescale, and conversions between timescales.

/// Timescale used for video tracks (the MPEG 90 kHz clock).
pub const VIDEO_TIMESCALE: u32 = 90_000;

/// Converts `ticks` from timescale `from` to timescale `to`, rounding to nearest.
pub fn rescale(ticks: i64, from: u32, to: u32) -> i64 {
    if from == to {
        return ticks;
    }
    let num = ticks as i128 * to as i128;
    let den = from as i128;
    let half = den / 2;
    let q = if num >= 0 { (num + half) / den } else { (num - half) / den };
    q as i64
}

/// Seconds as `f64` for display (playlists, logs); never used for arithmetic on the timeline.
pub fn ticks_to_secs(ticks: i64, timescale: u32) -> f64 {
    ticks as f64 / timescale as f64
}

/// Milliseconds to ticks (RTMP/FLV timestamps are milliseconds).
pub fn ms_to_ticks(ms: i64, timescale: u32) -> i64 {
    rescale(ms, 1000, timescale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_rounds_to_nearest() {
        assert_eq!(rescale(33, 1000, 90_000), 2970);
        assert_eq!(rescale(1, 3, 2), 1);
        assert_eq!(rescale(-1, 3, 2), -1);
        assert_eq!(rescale(1000, 1000, 48_000), 48_000);
    }

    #[test]
    fn ms_round_trip_at_90k() {
        for ms in [0i64, 1, 33, 67, 1001, 86_400_000] {
            assert_eq!(rescale(ms_to_ticks(ms, 90_000), 90_000, 1000), ms);
        }
    }
}
