//! [`Time`]: a UTC instant with nanosecond precision, written in JSON as
//! RFC 3339 with a `Z` and on the wire as seconds and nanoseconds.
//!
//! The range and the JSON form follow `google.protobuf.Timestamp`: years
//! 0001 to 9999, output with 0, 3, 6 or 9 fractional digits. Input is
//! stricter than RFC 3339 so that JSON and protobuf map onto each other
//! without loss: only `Z` (no other offset, whose information would be
//! lost), uppercase `T` and `Z`, 1 to 9 fractional digits, no leap second.

use causeway_civil::{civil_from_days, days_from_civil, days_in_month};

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant: seconds since the Unix epoch and nanoseconds, within
/// 0001-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999999999Z. Valid once
/// built; ordered by time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Time {
    seconds: i64,
    nanos: u32,
}

/// A time that is malformed or out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a valid time: {reason}; write RFC 3339 UTC like \"2026-11-22T09:30:00Z\"")]
pub struct TimeError {
    text: String,
    reason: &'static str,
}

impl TimeError {
    fn new(text: impl Into<String>, reason: &'static str) -> Self {
        TimeError {
            text: text.into(),
            reason,
        }
    }
}

const NANOS_PER_SECOND: u32 = 1_000_000_000;

impl Time {
    /// The earliest representable second, 0001-01-01T00:00:00Z.
    pub const MIN_SECONDS: i64 = -62_135_596_800;
    /// The latest representable second, 9999-12-31T23:59:59Z.
    pub const MAX_SECONDS: i64 = 253_402_300_799;

    /// Builds a time from Unix seconds and nanoseconds.
    ///
    /// # Errors
    /// [`TimeError`] if `seconds` is outside [`Time::MIN_SECONDS`] ..=
    /// [`Time::MAX_SECONDS`] or `nanos` is 10⁹ or more.
    pub fn new(seconds: i64, nanos: u32) -> Result<Self, TimeError> {
        if !(Self::MIN_SECONDS..=Self::MAX_SECONDS).contains(&seconds) {
            return Err(TimeError::new(
                format!("{seconds}s"),
                "seconds outside years 0001 to 9999",
            ));
        }
        if nanos >= NANOS_PER_SECOND {
            return Err(TimeError::new(
                format!("{seconds}s {nanos}ns"),
                "nanoseconds must be below 1000000000",
            ));
        }
        Ok(Time { seconds, nanos })
    }

    /// Whole Unix seconds (rounded down).
    pub const fn seconds(self) -> i64 {
        self.seconds
    }

    /// The nanoseconds within the second, below 10⁹.
    pub const fn nanos(self) -> u32 {
        self.nanos
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.F]Z` with 1 to 9 fractional digits.
    ///
    /// # Errors
    /// [`TimeError`] saying what is wrong: a UTC offset other than `Z`,
    /// lowercase `t`/`z`, an invalid date or clock time, a leap second,
    /// more than 9 fractional digits, or trailing text.
    pub fn parse_rfc3339(text: &str) -> Result<Self, TimeError> {
        let err = |reason| TimeError::new(text, reason);
        let b = text.as_bytes();
        if b.len() < 19 {
            return Err(err("too short"));
        }
        let num = |range: std::ops::Range<usize>| -> Result<u32, TimeError> {
            b[range].iter().try_fold(0u32, |acc, &c| {
                if c.is_ascii_digit() {
                    Ok(acc * 10 + u32::from(c - b'0'))
                } else {
                    Err(err("expected digits in YYYY-MM-DDTHH:MM:SS"))
                }
            })
        };
        let year = num(0..4)?;
        let month = num(5..7)?;
        let day = num(8..10)?;
        let hour = num(11..13)?;
        let minute = num(14..16)?;
        let second = num(17..19)?;
        if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
            return Err(err("expected YYYY-MM-DDTHH:MM:SS"));
        }
        match b[10] {
            b'T' => {}
            b't' => return Err(err("the date and time separator must be an uppercase T")),
            _ => return Err(err("expected a T between date and time")),
        }
        let mut rest = &b[19..];
        let mut nanos = 0u32;
        if let Some((b'.', frac)) = rest.split_first() {
            let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return Err(err("expected digits after the decimal point"));
            }
            if digits > 9 {
                return Err(err("at most 9 fractional digits (nanoseconds)"));
            }
            for &c in &frac[..digits] {
                nanos = nanos * 10 + u32::from(c - b'0');
            }
            nanos *= 10u32.pow(9 - digits as u32);
            rest = &frac[digits..];
        }
        match rest {
            b"Z" => {}
            b"z" => return Err(err("the UTC designator must be an uppercase Z")),
            [b'+' | b'-', ..] => {
                return Err(err(
                    "UTC offsets are not accepted (the offset would be lost); convert to UTC and end with Z",
                ));
            }
            [] => return Err(err("missing the UTC designator Z")),
            _ => return Err(err("unexpected text after the seconds; expected Z")),
        }
        if year == 0 {
            return Err(err("years before 0001 are not representable"));
        }
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(err("no such date"));
        }
        if hour > 23 || minute > 59 {
            return Err(err("no such time of day"));
        }
        if second == 60 {
            return Err(err("leap seconds (:60) are not representable"));
        }
        if second > 59 {
            return Err(err("no such time of day"));
        }
        let days = days_from_civil(i64::from(year), month, day);
        let seconds =
            days * 86_400 + i64::from(hour) * 3_600 + i64::from(minute) * 60 + i64::from(second);
        Time::new(seconds, nanos).map_err(|_| err("out of range"))
    }

    /// The canonical RFC 3339 form: UTC, `Z`, and 0, 3, 6 or 9
    /// fractional digits (as few as represent the value exactly).
    pub fn to_rfc3339(self) -> String {
        let days = self.seconds.div_euclid(86_400);
        let secs = self.seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let mut out = format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            secs / 3_600,
            secs / 60 % 60,
            secs % 60
        );
        let n = self.nanos;
        if n != 0 {
            if n.is_multiple_of(1_000_000) {
                out.push_str(&format!(".{:03}", n / 1_000_000));
            } else if n.is_multiple_of(1_000) {
                out.push_str(&format!(".{:06}", n / 1_000));
            } else {
                out.push_str(&format!(".{n:09}"));
            }
        }
        out.push('Z');
        out
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl FromStr for Time {
    type Err = TimeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Time::parse_rfc3339(text)
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Time::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        let t = Time::parse_rfc3339("2026-11-22T09:30:00Z").unwrap();
        assert_eq!(t.seconds(), 1_795_339_800);
        assert_eq!(
            Time::parse_rfc3339("1970-01-01T00:00:00Z").unwrap(),
            Time::new(0, 0).unwrap()
        );
        assert_eq!(
            Time::parse_rfc3339("0001-01-01T00:00:00Z")
                .unwrap()
                .seconds(),
            Time::MIN_SECONDS
        );
        assert_eq!(
            Time::parse_rfc3339("9999-12-31T23:59:59.999999999Z").unwrap(),
            Time::new(Time::MAX_SECONDS, 999_999_999).unwrap()
        );
        assert_eq!(
            Time::parse_rfc3339("1969-12-31T23:59:59.5Z").unwrap(),
            Time::new(-1, 500_000_000).unwrap()
        );
        assert_eq!(
            Time::parse_rfc3339("2024-02-29T00:00:00Z")
                .unwrap()
                .seconds(),
            1_709_164_800
        );
    }

    #[test]
    fn canonical_fraction_digits() {
        for (input, output) in [
            ("2026-11-22T09:30:00Z", "2026-11-22T09:30:00Z"),
            ("2026-11-22T09:30:00.000Z", "2026-11-22T09:30:00Z"),
            ("2026-11-22T09:30:00.5Z", "2026-11-22T09:30:00.500Z"),
            ("2026-11-22T09:30:00.120Z", "2026-11-22T09:30:00.120Z"),
            ("2026-11-22T09:30:00.000120Z", "2026-11-22T09:30:00.000120Z"),
            (
                "2026-11-22T09:30:00.1234567Z",
                "2026-11-22T09:30:00.123456700Z",
            ),
            (
                "2026-11-22T09:30:00.000000001Z",
                "2026-11-22T09:30:00.000000001Z",
            ),
        ] {
            assert_eq!(Time::parse_rfc3339(input).unwrap().to_rfc3339(), output);
        }
    }

    #[test]
    fn round_trips_across_the_range() {
        let mut s = Time::MIN_SECONDS;
        while s <= Time::MAX_SECONDS {
            let t = Time::new(s, 0).unwrap();
            assert_eq!(Time::parse_rfc3339(&t.to_rfc3339()).unwrap(), t, "{s}");
            s += 86_400 * 37 + 3_601;
        }
        let last = Time::new(Time::MAX_SECONDS, 1).unwrap();
        assert_eq!(Time::parse_rfc3339(&last.to_rfc3339()).unwrap(), last);
    }

    #[test]
    fn rejects() {
        for (bad, why) in [
            ("2026-11-22T09:30:00+01:00", "offsets"),
            ("2026-11-22T09:30:00-00:00", "offsets"),
            ("2026-11-22T09:30:00", "designator"),
            ("2026-11-22 09:30:00Z", "T between"),
            ("2026-11-22t09:30:00Z", "uppercase T"),
            ("2026-11-22T09:30:00z", "uppercase Z"),
            ("2026-11-22T09:30:60Z", "leap"),
            ("2026-02-29T09:30:00Z", "no such date"),
            ("2026-13-01T09:30:00Z", "no such date"),
            ("2026-11-22T24:00:00Z", "time of day"),
            ("2026-11-22T09:30:00.Z", "after the decimal"),
            ("2026-11-22T09:30:00.1234567890Z", "9 fractional"),
            ("0000-01-01T00:00:00Z", "before 0001"),
            ("2026-11-22T09:30:00ZZ", "unexpected text"),
            ("yesterday", "too short"),
            ("2026-1a-22T09:30:00Z", "digits"),
            ("2026-11-22T09:30:00Zé", "unexpected text"),
        ] {
            let e = Time::parse_rfc3339(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(Time::new(Time::MAX_SECONDS + 1, 0).is_err());
        assert!(Time::new(Time::MIN_SECONDS - 1, 0).is_err());
        assert!(Time::new(0, 1_000_000_000).is_err());
    }
}
