//! `genTime`: RFC 3161's GeneralizedTime, parsed by hand.
//!
//! RFC 3161 §2.4.2 allows fractional seconds (`YYYYMMDDhhmmss[.s...]Z`),
//! which `der` 0.7's `GeneralizedTime` rejects, and real TSAs send them
//! (OpenSSL with `clock_precision_digits`, Microsoft, DigiCert). DER
//! fixes the rest: `Z`, seconds present, `.` as the separator, no trailing
//! zero in the fraction.

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
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3_600,
        secs / 60 % 60,
        secs % 60
    )
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`, exact for every year this module can parse).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // In range by construction: month 1..=12, day 1..=31.
    (year, month as u32, day as u32)
}
