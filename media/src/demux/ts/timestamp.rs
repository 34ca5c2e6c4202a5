//! 33-bit MPEG timestamps → one continuous `i64` timeline.
//!
//! PTS and DTS are "a 33-bit number coded in three separate fields" of a 90 kHz clock, so they
//! wrap every 2^33 ticks (about 26.5 hours). The demuxer keeps one [`Unwrapper`] for all its
//! streams: each raw value is placed on the 2^33 lap nearest to the last value seen on any
//! stream, so audio, video and SCTE-35 times stay on the same timeline across a wrap.

/// Ticks in one lap of the 33-bit clock.
pub const WRAP: i64 = 1 << 33;

/// Places raw 33-bit timestamps on a continuous timeline.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unwrapper {
    last: Option<i64>,
}

impl Unwrapper {
    /// Unwraps `raw` (only its low 33 bits count) and makes it the new reference.
    pub fn unwrap(&mut self, raw: u64) -> i64 {
        let t = self.peek(raw);
        self.last = Some(t);
        t
    }

    /// Unwraps `raw` against the current reference without moving it (for times that may lie
    /// far ahead, such as a splice time).
    pub fn peek(&self, raw: u64) -> i64 {
        // Masked to 33 bits, so it fits an i64.
        let raw = (raw & (WRAP as u64 - 1)) as i64;
        match self.last {
            None => raw,
            Some(last) => {
                // The lap k that puts raw + k·2^33 nearest to last.
                let k = (last - raw + WRAP / 2).div_euclid(WRAP);
                raw + k * WRAP
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_wrap_continues_past_2_33() {
        let mut u = Unwrapper::default();
        assert_eq!(u.unwrap((1 << 33) - 3000), WRAP - 3000);
        assert_eq!(u.unwrap(0), WRAP);
        assert_eq!(u.unwrap(3000), WRAP + 3000);
        // A stream slightly behind (audio before video) stays before the wrap.
        assert_eq!(u.unwrap((1 << 33) - 1500), WRAP - 1500);
        assert_eq!(u.unwrap(6000), WRAP + 6000);
    }

    #[test]
    fn value_just_before_wrap_after_start_just_past_it_goes_negative() {
        let mut u = Unwrapper::default();
        assert_eq!(u.unwrap(100), 100);
        assert_eq!(u.unwrap((1 << 33) - 100), -100);
        assert_eq!(u.peek(200), 200);
    }

    #[test]
    fn peek_does_not_move_the_reference_and_ignores_high_bits() {
        let mut u = Unwrapper::default();
        u.unwrap(WRAP as u64 - 10);
        assert_eq!(u.peek(90_000 * 60), WRAP + 90_000 * 60);
        assert_eq!(u.peek(WRAP as u64 + 5), WRAP + 5);
        assert_eq!(u.unwrap(WRAP as u64 - 5), WRAP - 5);
    }
}
