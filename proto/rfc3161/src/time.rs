//! `genTime`: RFC 3161's GeneralizedTime, parsed by hand.
//!
//! RFC 3161 §2.4.2 allows fractional seconds (`YYYYMMDDhhmmss[.s...]Z`),
//! which `der` 0.7's `GeneralizedTime` rejects, and real TSAs send them
//! (OpenSSL with `clock_precision_digits`, Microsoft, DigiCert). DER
//! fixes the rest: `Z`, seconds present, `.` as the separator, no trailing
//! zero in the fraction.

use causeway_civil::{days_from_civil, days_in_month};

/// A parsed `genTime`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GenTime {
    /// Whole seconds since the Unix epoch (negative before 1970).
    pub unix: i64,
    /// The fractional-second digits as sent, without the dot (may be empty).
    pub fraction: String,
}

impl GenTime {
    /// Whether the instant lies strictly after the whole second `unix`.
    pub(crate) fn has_fraction(&self) -> bool {
        !self.fraction.is_empty()
    }

    /// RFC 3339 text, fraction included: `2024-10-08T15:40:32.25Z`.
    pub(crate) fn rfc3339(&self) -> String {
        let whole = rfc3339(self.unix);
        if self.fraction.is_empty() {
            whole
        } else {
            // `whole` ends in "Z"; put the fraction before it.
            format!("{}.{}Z", &whole[..whole.len() - 1], self.fraction)
        }
    }
}

/// Parses the contents of a GeneralizedTime as RFC 3161 requires.
pub(crate) fn parse_generalized_time(bytes: &[u8]) -> Result<GenTime, &'static str> {
    let text = std::str::from_utf8(bytes).map_err(|_| "it is not ASCII")?;
    let body = text
        .strip_suffix('Z')
        .ok_or("it must end in Z (UTC); local times and offsets are not allowed")?;
    let (whole, fraction) = match body.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (body, None),
    };
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the date and time must be the 14 digits YYYYMMDDhhmmss");
    }
    let fraction = match fraction {
        None => String::new(),
        Some("") => return Err("a '.' must be followed by digits"),
        Some(f) if !f.bytes().all(|b| b.is_ascii_digit()) => {
            return Err("fractional seconds must be digits");
        }
        Some(f) if f.ends_with('0') => {
            return Err("fractional seconds must not end in 0 in DER");
        }
        Some(f) => f.to_owned(),
    };
    let number = |range: std::ops::Range<usize>| -> u32 {
        whole[range]
            .bytes()
            .fold(0, |n, b| n * 10 + u32::from(b - b'0'))
    };
    let (year, month, day) = (number(0..4), number(4..6), number(6..8));
    let (hour, minute, second) = (number(8..10), number(10..12), number(12..14));
    if !(1..=12).contains(&month) {
        return Err("the month is not 01-12");
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err("the day does not exist in that month");
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("the time of day is out of range (leap seconds are not accepted)");
    }
    let days = days_from_civil(i64::from(year), month, day);
    let unix = days * 86_400 + i64::from(hour) * 3_600 + i64::from(minute) * 60 + i64::from(second);
    Ok(GenTime { unix, fraction })
}

/// RFC 3339 text of whole Unix seconds: `2024-10-08T15:40:32Z`.
pub(crate) fn rfc3339(unix: i64) -> String {
    causeway_civil::rfc3339_utc(unix)
}
