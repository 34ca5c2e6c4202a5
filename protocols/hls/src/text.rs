//! Playlist value formatting: decimal seconds from timeline ticks, attribute seconds, quoted
//! strings and `EXT-X-PROGRAM-DATE-TIME` dates.
//!
//! Everything is integer arithmetic so the same input always prints the same text (a value that
//! changes by a float rounding between reloads would break HLS §6.2.1's "MUST NOT change").

/// `ticks / timescale` seconds with exactly `places` decimals, rounded half up
/// (`secs_fixed(180_000, 90_000, 5)` → `"2.00000"`). A zero timescale is treated as 1.
pub fn secs_fixed(ticks: u64, timescale: u32, places: u32) -> String {
    let scale = 10u128.pow(places);
    let ts = u128::from(timescale.max(1));
    let q = (u128::from(ticks) * scale + ts / 2) / ts;
    let int = q / scale;
    if places == 0 {
        return int.to_string();
    }
    let frac = q % scale;
    format!("{int}.{frac:0width$}", width = places as usize)
}

/// Hundred-thousandths of a second (the 5-decimal resolution playlist attributes use), rounded
/// to nearest; negative, NaN and infinite inputs give 0.
pub fn secs_to_units(secs: f64) -> u64 {
    let u = (secs * 100_000.0).round();
    if u.is_finite() && u > 0.0 {
        // `as` saturates at u64::MAX for huge values, which is the bound we want.
        u as u64
    } else {
        0
    }
}

/// A decimal-floating-point from 1e-5 s units, trailing zeros trimmed but at least one decimal
/// (`units_trimmed(20_000)` → `"0.2"`, `units_trimmed(1_200_000)` → `"12.0"`).
pub fn units_trimmed(units: u64) -> String {
    let int = units / 100_000;
    let frac = format!("{:05}", units % 100_000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() { format!("{int}.0") } else { format!("{int}.{frac}") }
}

/// The inside of a quoted-string: HLS §4.2 "MUST NOT include a double quote (0x22), carriage
/// return (0xD), or line feed (0xA)", so those are dropped.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    out.extend(s.chars().filter(|c| !matches!(c, '"' | '\r' | '\n')));
    out.push('"');
    out
}

/// Unix milliseconds as an ISO 8601 UTC date with millisecond precision
/// (`0` → `1970-01-01T00:00:00.000Z`).
///
/// HLS §4.4.4.6: the date "SHOULD indicate a time zone and fractional parts of seconds, to at
/// least millisecond accuracy".
pub fn format_program_date_time(unix_ms: i64) -> String {
    const MS_PER_DAY: i64 = 86_400_000;
    let days = unix_ms.div_euclid(MS_PER_DAY);
    let ms_of_day = unix_ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let secs = ms_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        ms_of_day % 1000
    )
}

/// Proleptic Gregorian (year, month, day) for a count of days since 1970-01-01.
///
/// Works in 400-year eras (146 097 days each) counted from 0000-03-01, so that the leap day is
/// the last day of each shifted year and month lengths follow a fixed 153-days-per-5-months
/// pattern.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Days from 0000-03-01 to 1970-01-01.
    const EPOCH_SHIFT: i64 = 719_468;
    const DAYS_PER_ERA: i64 = 146_097;
    let z = days + EPOCH_SHIFT;
    let era = z.div_euclid(DAYS_PER_ERA);
    let day_of_era = z.rem_euclid(DAYS_PER_ERA); // 0..=146_096
    // Year of era: remove the leap days accumulated so far (every 4 years, except every 100,
    // except every 400), then divide by 365.
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Month index counted from March (0 = March … 11 = February).
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // day is 1..=31 and month 1..=12 by construction.
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_decimals_round_half_up() {
        assert_eq!(secs_fixed(180_000, 90_000, 5), "2.00000");
        assert_eq!(secs_fixed(3003, 90_000, 5), "0.03337");
        assert_eq!(secs_fixed(1, 200_000, 5), "0.00001"); // 0.000005 rounds up
        assert_eq!(secs_fixed(1024, 48_000, 5), "0.02133");
        assert_eq!(secs_fixed(7, 0, 2), "7.00");
        assert_eq!(secs_fixed(u64::MAX, 1, 5), format!("{}.00000", u64::MAX));
    }

    #[test]
    fn trimmed_units_keep_one_decimal() {
        assert_eq!(units_trimmed(20_000), "0.2");
        assert_eq!(units_trimmed(60_000), "0.6");
        assert_eq!(units_trimmed(1_200_000), "12.0");
        assert_eq!(units_trimmed(100_002), "1.00002");
        assert_eq!(secs_to_units(0.2), 20_000);
        assert_eq!(secs_to_units(-1.0), 0);
        assert_eq!(secs_to_units(f64::NAN), 0);
    }

    #[test]
    fn quoted_strings_drop_forbidden_characters() {
        assert_eq!(quoted("a\"b\r\nc"), "\"abc\"");
    }

    #[test]
    fn program_date_time_epoch_and_leap_days() {
        assert_eq!(format_program_date_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_program_date_time(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_program_date_time(1_709_210_096_789), "2024-02-29T12:34:56.789Z");
        assert_eq!(format_program_date_time(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
        assert_eq!(format_program_date_time(-1), "1969-12-31T23:59:59.999Z");
        // 1900 is not a leap year: 1900-02-28 is followed by 1900-03-01.
        assert_eq!(format_program_date_time(-2_203_977_600_000), "1900-02-28T00:00:00.000Z");
        assert_eq!(format_program_date_time(-2_203_891_200_000), "1900-03-01T00:00:00.000Z");
    }

    #[test]
    fn program_date_time_matches_day_count_for_every_day_of_four_centuries() {
        // Walk day by day from 1900-01-01 and check the calendar advances one day at a time.
        let mut expected = (1900i64, 1u32, 1u32);
        let start_days = -25_567i64; // 1900-01-01
        for d in start_days..start_days + 146_097 {
            assert_eq!(civil_from_days(d), expected, "day {d}");
            let (y, m, day) = expected;
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            expected = if day < len {
                (y, m, day + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    #[test]
    fn program_date_time_never_panics_at_extremes() {
        for ms in [i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1] {
            assert!(format_program_date_time(ms).ends_with('Z'));
        }
    }
}
