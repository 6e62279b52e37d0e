//! JavaScript-compatible timestamps: `Date.prototype.toISOString()` output and
//! the ISO 8601 / RFC 3339 strings we read back (our own, the TS client's and
//! GCS `updated` values).
//!
//! Why exactness matters: `localMtime` in index entries is compared **as a
//! string** with the formatted mtime of the local file (docs/formats.md#timestamps,
//! docs/sync.md#change-detection). One character of difference (`.5Z` instead of
//! `.500Z`, `+00:00` instead of `Z`) makes every file look modified when a Rust
//! and a TS client share a bucket, so formatting follows `toISOString()` to the
//! letter: UTC, always three fraction digits, `Z`, four-digit years for 0..=9999
//! and `+YYYYYY` / `-YYYYYY` outside that range.
//!
//! Range: JS dates are limited to ±8.64e15 ms around the epoch
//! (±100,000,000 days); `toISOString()` throws a `RangeError` beyond that.
//! We mirror the limit by returning `None` instead of clamping, because a
//! clamped value would silently compare equal to a different instant.
//!
//! The civil-date arithmetic is done here (no date crate): a proleptic
//! Gregorian calendar computed in 400-year eras, which is exact for the whole
//! JS range.

/// Milliseconds in one day.
const MS_PER_DAY: i64 = 86_400_000;

/// Largest absolute time value a JS `Date` can hold (ECMA-262 TimeClip).
pub const MAX_JS_TIME_MS: i64 = 8_640_000_000_000_000;

/// Days in a 400-year Gregorian era (the calendar repeats exactly after it).
const DAYS_PER_ERA: i64 = 146_097;

/// Days from 0000-03-01 (the start of era 0 in the March-based year) to
/// 1970-01-01.
const EPOCH_SHIFT_DAYS: i64 = 719_468;

/// Days since 1970-01-01 of the proleptic Gregorian date `year-month-day`.
///
/// The year is treated as starting in March so the leap day is the last day
/// of the "year"; that makes the day-of-year a simple linear formula.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let march_year = if month <= 2 { year - 1 } else { year };
    let era = march_year.div_euclid(400);
    let year_of_era = march_year - era * 400; // 0..=399
    let march_month = i64::from((month + 9) % 12); // March = 0 … February = 11
    let day_of_year = (153 * march_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * DAYS_PER_ERA + day_of_era - EPOCH_SHIFT_DAYS
}

/// Inverse of [`days_from_civil`]: `(year, month 1..=12, day 1..=31)`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + EPOCH_SHIFT_DAYS;
    let era = shifted.div_euclid(DAYS_PER_ERA);
    let day_of_era = shifted - era * DAYS_PER_ERA; // 0..=146096
                                                   // Remove the leap days accumulated so far (one every 4 years, minus one
                                                   // every 100, plus one every 400) to find the year within the era.
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_month = (5 * day_of_year + 2) / 153; // 0..=11
    let day = day_of_year - (153 * march_month + 2) / 5 + 1;
    let month = if march_month < 10 {
        march_month + 3
    } else {
        march_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // The casts cannot truncate: month is 1..=12 and day 1..=31 by construction.
    (year, month as u32, day as u32)
}

/// Whether `year` is a Gregorian leap year.
fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Number of days in `month` (1..=12) of `year`.
fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Format unix milliseconds exactly like JavaScript `new Date(ms).toISOString()`.
///
/// Returns `None` outside ±[`MAX_JS_TIME_MS`] (where JS throws `RangeError`).
/// Years 0..=9999 use four digits; others use a sign and six digits
/// (`+010000-01-01T00:00:00.000Z`, `-000001-12-31T23:59:59.999Z`).
pub fn format_iso_ms(ms: i64) -> Option<String> {
    if !(-MAX_JS_TIME_MS..=MAX_JS_TIME_MS).contains(&ms) {
        return None;
    }
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let hour = in_day / 3_600_000;
    let minute = in_day / 60_000 % 60;
    let second = in_day / 1000 % 60;
    let milli = in_day % 1000;
    let year_text = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else if year < 0 {
        format!("-{:06}", year.unsigned_abs())
    } else {
        format!("+{year:06}")
    };
    Some(format!(
        "{year_text}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z"
    ))
}

/// Unix milliseconds of a file mtime given as `(secs, nanos)` since the epoch,
/// floored to whole milliseconds the way a JS `Date` built from the stat result
/// truncates sub-millisecond precision.
///
/// `nanos` is the non-negative offset added to `secs` (the WASI and `std`
/// convention), so `(-2, 500_000_000)` is −1.5 s → −1500 ms and floor
/// division of `nanos` is a true floor even for pre-1970 times. Values of
/// `nanos` ≥ 1e9 are accepted and carried into seconds. `None` on overflow.
pub fn mtime_ms(secs: i64, nanos: u32) -> Option<i64> {
    secs.checked_mul(1000)?
        .checked_add(i64::from(nanos / 1_000_000))
}

#[cfg(test)]
/// Format a file mtime `(secs, nanos)` as the `localMtime` string stored in
/// index entries: [`mtime_ms`] then [`format_iso_ms`].
pub fn format_mtime(secs: i64, nanos: u32) -> Option<String> {
    format_iso_ms(mtime_ms(secs, nanos)?)
}

/// A small cursor over ASCII bytes for the hand-written ISO parser.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, wanted: u8) -> bool {
        if self.peek() == Some(wanted) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Exactly `count` ASCII digits as a number.
    fn digits(&mut self, count: usize) -> Option<u32> {
        let mut value: u32 = 0;
        for _ in 0..count {
            let b = self.peek()?;
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(b - b'0');
            self.pos += 1;
        }
        Some(value)
    }

    fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// Parse an ISO 8601 / RFC 3339 timestamp into unix milliseconds.
///
/// Accepted (a superset of what `toISOString()` and GCS produce, a subset of
/// what JS `Date.parse` takes, chosen so nothing ambiguous gets through):
/// * `YYYY-MM-DD` (UTC midnight, as in JS) or `±YYYYYY-MM-DD` (`-000000` rejected as in JS);
/// * then optionally `T` (or `t` / space) `HH:MM[:SS[.fraction]]` followed by a
///   required zone `Z` / `z` / `±HH:MM` — a date-time without a zone is local
///   time in JS, which a sandboxed component cannot know, so it is rejected;
/// * any number of fraction digits (`.` or `,`), truncated to milliseconds
///   like V8 does (`.123456Z` → 123 ms).
///
/// Fields are range-checked (no Feb 30, no hour 24, no leap second 60).
/// Returns `None` on anything else or beyond ±[`MAX_JS_TIME_MS`].
pub fn parse_iso_ms(text: &str) -> Option<i64> {
    let mut c = Cursor {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let year: i64 = match c.peek()? {
        sign @ (b'+' | b'-') => {
            c.pos += 1;
            let magnitude = i64::from(c.digits(6)?);
            if sign == b'-' {
                if magnitude == 0 {
                    return None;
                }
                -magnitude
            } else {
                magnitude
            }
        }
        _ => i64::from(c.digits(4)?),
    };
    if !c.eat(b'-') {
        return None;
    }
    let month = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let day = c.digits(2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if c.at_end() {
        return within_js_range(days.checked_mul(MS_PER_DAY)?);
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let hour = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let minute = c.digits(2)?;
    let mut second = 0;
    let mut milli: u32 = 0;
    if c.eat(b':') {
        second = c.digits(2)?;
        if c.eat(b'.') || c.eat(b',') {
            let mut digits = 0usize;
            while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
                if digits < 3 {
                    milli = milli * 10 + u32::from(b - b'0');
                }
                digits += 1;
                c.pos += 1;
            }
            if digits == 0 {
                return None;
            }
            // Pad to milliseconds when fewer than three digits were given.
            for _ in digits..3 {
                milli *= 10;
            }
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let offset_minutes: i64 = match c.peek()? {
        b'Z' | b'z' => {
            c.pos += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            c.pos += 1;
            let oh = c.digits(2)?;
            if !c.eat(b':') {
                return None;
            }
            let om = c.digits(2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let total = i64::from(oh * 60 + om);
            if sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    if !c.at_end() {
        return None;
    }
    let in_day = i64::from(hour) * 3_600_000
        + i64::from(minute) * 60_000
        + i64::from(second) * 1000
        + i64::from(milli);
    let utc = days
        .checked_mul(MS_PER_DAY)?
        .checked_add(in_day)?
        .checked_sub(offset_minutes * 60_000)?;
    within_js_range(utc)
}

fn within_js_range(ms: i64) -> Option<i64> {
    (-MAX_JS_TIME_MS..=MAX_JS_TIME_MS)
        .contains(&ms)
        .then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_to_iso_string() {
        // Values checked against `new Date(ms).toISOString()` semantics.
        let rows: &[(i64, &str)] = &[
            (0, "1970-01-01T00:00:00.000Z"),
            (1, "1970-01-01T00:00:00.001Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (1_779_656_843_123, "2026-05-24T21:07:23.123Z"),
            (1_785_578_398_512, "2026-08-01T09:59:58.512Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),
            (-62_167_219_200_000, "0000-01-01T00:00:00.000Z"),
            (-62_167_219_200_001, "-000001-12-31T23:59:59.999Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
            (253_402_300_800_000, "+010000-01-01T00:00:00.000Z"),
            (MAX_JS_TIME_MS, "+275760-09-13T00:00:00.000Z"),
            (-MAX_JS_TIME_MS, "-271821-04-20T00:00:00.000Z"),
        ];
        for (ms, want) in rows {
            assert_eq!(format_iso_ms(*ms).as_deref(), Some(*want), "ms={ms}");
        }
    }

    #[test]
    fn rejects_out_of_js_range() {
        assert_eq!(format_iso_ms(MAX_JS_TIME_MS + 1), None);
        assert_eq!(format_iso_ms(-MAX_JS_TIME_MS - 1), None);
        assert_eq!(format_iso_ms(i64::MAX), None);
        assert_eq!(format_iso_ms(i64::MIN), None);
    }

    #[test]
    fn parse_round_trips_every_formatted_value() {
        // A spread of instants, including negative years and leap days.
        let mut ms = -MAX_JS_TIME_MS;
        let step = 7_777_777_777_777; // odd step so fields vary
        while ms <= MAX_JS_TIME_MS {
            let text = format_iso_ms(ms).unwrap();
            assert_eq!(parse_iso_ms(&text), Some(ms), "{text}");
            ms += step;
        }
        for ms in [0, -1, 1, 951_782_400_000, -62_167_219_200_001] {
            let text = format_iso_ms(ms).unwrap();
            assert_eq!(parse_iso_ms(&text), Some(ms), "{text}");
        }
    }

    #[test]
    fn civil_conversion_agrees_day_by_day() {
        // Walk across several era boundaries and check the two directions agree.
        let mut expected = (1599, 12, 31);
        for days in days_from_civil(1599, 12, 31)..days_from_civil(2401, 3, 2) {
            let got = civil_from_days(days);
            assert_eq!(got, expected, "days={days}");
            assert_eq!(days_from_civil(got.0, got.1, got.2), days);
            let (y, m, d) = expected;
            expected = if d < days_in_month(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    #[test]
    fn parses_rfc3339_variants() {
        let base = 1_785_578_400_000; // 2026-08-01T10:00:00.000Z
        let rows: &[(&str, Option<i64>)] = &[
            ("2026-08-01T10:00:00.000Z", Some(base)),
            ("2026-08-01T10:00:00Z", Some(base)),
            ("2026-08-01T10:00Z", Some(base)),
            ("2026-08-01t10:00:00z", Some(base)),
            ("2026-08-01 10:00:00Z", Some(base)),
            ("2026-08-01T10:00:00.123456Z", Some(base + 123)),
            ("2026-08-01T10:00:00.123999999Z", Some(base + 123)),
            ("2026-08-01T10:00:00.1Z", Some(base + 100)),
            ("2026-08-01T10:00:00.12Z", Some(base + 120)),
            ("2026-08-01T10:00:00,5Z", Some(base + 500)),
            ("2026-08-01T12:00:00+02:00", Some(base)),
            ("2026-08-01T05:30:00-04:30", Some(base)),
            ("2026-08-01T10:00:00.000+00:00", Some(base)),
            ("2026-08-01", Some(base - 10 * 3_600_000)),
            ("+002026-08-01T10:00:00.000Z", Some(base)),
            // Rejections.
            ("", None),
            ("2026-08-01T10:00:00", None),
            ("2026-08-01T10:00:00.Z", None),
            ("2026-02-29T00:00:00Z", None),
            ("2026-13-01T00:00:00Z", None),
            ("2026-00-01T00:00:00Z", None),
            ("2026-08-00T00:00:00Z", None),
            ("2026-08-01T24:00:00Z", None),
            ("2026-08-01T10:60:00Z", None),
            ("2026-08-01T10:00:60Z", None),
            ("2026-08-01T10:00:00+24:00", None),
            ("2026-08-01T10:00:00+0200", None),
            ("2026-08-01T10:00:00Zjunk", None),
            ("-000000-01-01T00:00:00.000Z", None),
            ("26-08-01", None),
            ("2026-8-1", None),
            ("2026-08-01T10:00:00.000Z\n", None),
            ("+275760-09-13T00:00:00.001Z", None),
            ("１９７０-01-01", None),
        ];
        for (text, want) in rows {
            assert_eq!(parse_iso_ms(text), *want, "{text:?}");
        }
        assert_eq!(
            parse_iso_ms("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000)
        );
    }

    #[test]
    fn truncations_and_garbage_never_panic() {
        let text = "+275760-09-13T00:00:00.000+23:59";
        for cut in 0..=text.len() {
            let _ = parse_iso_ms(&text[..cut]);
        }
        for junk in [
            "-",
            "+",
            "T",
            "2026-08-01T",
            "2026-08-01T10:",
            "9999-99-99",
            "ÿ",
            "2026-08-01T10:00:00.5é",
        ] {
            assert_eq!(parse_iso_ms(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn mtime_truncates_towards_negative_infinity() {
        let rows: &[((i64, u32), Option<&str>)] = &[
            ((0, 0), Some("1970-01-01T00:00:00.000Z")),
            (
                (1_785_578_398, 512_999_999),
                Some("2026-08-01T09:59:58.512Z"),
            ),
            ((1_785_578_398, 999_999), Some("2026-08-01T09:59:58.000Z")),
            ((-2, 500_000_000), Some("1969-12-31T23:59:58.500Z")),
            ((-1, 999_999), Some("1969-12-31T23:59:59.000Z")),
            ((-1, 999_999_999), Some("1969-12-31T23:59:59.999Z")),
            ((0, 1_500_000_000), Some("1970-01-01T00:00:01.500Z")),
            ((i64::MAX, 0), None),
            ((i64::MIN, 0), None),
        ];
        for ((secs, nanos), want) in rows {
            assert_eq!(
                format_mtime(*secs, *nanos).as_deref(),
                *want,
                "({secs},{nanos})"
            );
        }
        assert_eq!(mtime_ms(-2, 500_000_000), Some(-1500));
    }
}
