//! [`Thresholds`]: the numbers behind the judgement red flags (working
//! hours, rates, review speed, clock skew), read from the optional
//! `[audit]` table of the producer policy. The defaults are listed in the
//! [module docs of `audit`](super#thresholds).

use std::fmt;

use causeway_records::ProducerPolicy;
use serde::{Deserialize, Serialize};

/// Why the `[audit]` table of a policy could not be read. Every variant
/// names the key that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ThresholdError {
    /// Keys that are not thresholds (probably misspelt: an unknown key
    /// silently ignored would leave a default in force).
    #[error(
        "unknown key{} {}; the [audit] table takes {}",
        if .keys.len() == 1 { "" } else { "s" },
        .keys.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", "),
        Thresholds::KEYS.join(", ")
    )]
    UnknownKeys {
        /// The unknown keys, in table order.
        keys: Vec<String>,
    },
    /// A known key with a value of the wrong type or out of range.
    #[error("{key}: {message}")]
    Value {
        /// The key.
        key: String,
        /// What is wrong with its value.
        message: String,
    },
    /// A `working_hours` value that is not `HH:MM-HH:MM`.
    #[error(
        "working_hours {text:?}: {reason}; write a window like \"07:00-20:00\" (each human's \
         local time) \
         (\"22:00-06:00\" wraps midnight, \"00:00-24:00\" is the whole day)"
    )]
    WorkingHours {
        /// The value given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// A day of the week, written `mon` … `sun`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    /// Monday to Sunday.
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// The UTC day of the week of a Unix time.
    pub fn of_unix(secs: i64) -> Weekday {
        // 1970-01-01 was a Thursday, index 3 from Monday.
        let day = secs.div_euclid(86_400).saturating_add(3).rem_euclid(7);
        // `day` is in 0..7, so the fallback is never used.
        Weekday::ALL
            .get(usize::try_from(day).unwrap_or(0))
            .copied()
            .unwrap_or(Weekday::Mon)
    }

    /// The name used in the policy file.
    pub const fn as_str(self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A daily window `HH:MM-HH:MM` of wall-clock time (in each human's time
/// zone when the auditor judges it): the start minute is inside, the end
/// minute is not. A start later than the end wraps midnight (a night
/// shift); `00:00-24:00` is the whole day. Valid once built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkingHours {
    start: u16,
    end: u16,
}

impl WorkingHours {
    /// Parses `HH:MM-HH:MM` (24-hour clock; `24:00` only as an end).
    ///
    /// # Errors
    /// [`ThresholdError::WorkingHours`] saying what is wrong.
    pub fn parse(text: &str) -> Result<Self, ThresholdError> {
        let error = |reason| ThresholdError::WorkingHours {
            text: text.to_owned(),
            reason,
        };
        let (start, end) = text
            .split_once('-')
            .ok_or_else(|| error("no '-' between the start and the end"))?;
        let minute = |part: &str| -> Option<u16> {
            let (h, m) = part.split_once(':')?;
            if h.len() != 2
                || m.len() != 2
                || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
            {
                return None;
            }
            let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
            (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
        };
        let start = minute(start).ok_or_else(|| error("the start is not a time HH:MM"))?;
        let end = minute(end).ok_or_else(|| error("the end is not a time HH:MM"))?;
        if start == 24 * 60 {
            return Err(error("24:00 may only end a window"));
        }
        if start == end {
            return Err(error("the window is empty"));
        }
        Ok(WorkingHours { start, end })
    }

    /// Whether a minute of the day (0 ..= 1439) is inside the window.
    pub fn contains(self, minute_of_day: u16) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&minute_of_day)
        } else {
            minute_of_day >= self.start || minute_of_day < self.end
        }
    }
}

impl fmt::Display for WorkingHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", hm(self.start), hm(self.end))
    }
}

impl TryFrom<String> for WorkingHours {
    type Error = ThresholdError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        WorkingHours::parse(&text)
    }
}

impl From<WorkingHours> for String {
    fn from(hours: WorkingHours) -> String {
        hours.to_string()
    }
}

/// The auditor's thresholds (see the [module docs of `audit`](super#thresholds)
/// for what each one judges and its default). Deserializes from the
/// `[audit]` table of a producer policy: every key is optional, unknown
/// keys are rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// The daily window in which approvals and reviews are plausible, on
    /// the wall clock of each human's `tz` (UTC by default). Default
    /// `"07:00-20:00"`.
    pub working_hours: WorkingHours,
    /// The days on which they are plausible, in each human's `tz`. Default
    /// Monday to Friday.
    pub working_days: Vec<Weekday>,
    /// The most authorizations one human plausibly approves in any
    /// 60-minute window. Default 12.
    pub max_approvals_per_hour: u32,
    /// The most reviews one human plausibly signs in any 60-minute window.
    /// Default 12.
    pub max_reviews_per_hour: u32,
    /// The fewest seconds a reviewer plausibly spends per reviewed item.
    /// Default 20.
    pub min_review_seconds_per_item: u32,
    /// The most records a human's key plausibly signs in any 60-second
    /// window; more is agent speed. Default 6.
    pub human_max_records_per_minute: u32,
    /// How far a record's `time` may be later than the TSA anchor that
    /// first covers it, for clock skew between producers and the TSA.
    /// Default 300 (seconds).
    pub max_clock_skew_secs: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            working_hours: WorkingHours {
                start: 7 * 60,
                end: 20 * 60,
            },
            working_days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            max_approvals_per_hour: 12,
            max_reviews_per_hour: 12,
            min_review_seconds_per_item: 20,
            human_max_records_per_minute: 6,
            max_clock_skew_secs: 300,
        }
    }
}

impl Thresholds {
    /// The keys of the `[audit]` table.
    pub const KEYS: [&'static str; 7] = [
        "working_hours",
        "working_days",
        "max_approvals_per_hour",
        "max_reviews_per_hour",
        "min_review_seconds_per_item",
        "human_max_records_per_minute",
        "max_clock_skew_secs",
    ];

    /// The thresholds of a producer policy: its `[audit]` table over the
    /// defaults, or the defaults when it has none.
    ///
    /// # Errors
    /// [`ThresholdError::UnknownKeys`] naming every unknown key, or the
    /// first key whose value is wrong.
    pub fn from_policy(policy: &ProducerPolicy) -> Result<Thresholds, ThresholdError> {
        let mut thresholds = Thresholds::default();
        let Some(table) = policy.audit_table() else {
            return Ok(thresholds);
        };
        let unknown: Vec<String> = table
            .keys()
            .filter(|k| !Thresholds::KEYS.contains(&k.as_str()))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(ThresholdError::UnknownKeys { keys: unknown });
        }
        // Key by key, so that an error names the key (a whole-table
        // deserialization error does not).
        for (key, value) in table {
            let value_error = |e: &dyn fmt::Display| ThresholdError::Value {
                key: key.clone(),
                message: e.to_string(),
            };
            let t = &mut thresholds;
            match key.as_str() {
                "working_hours" => {
                    let text: String = value.clone().try_into().map_err(|e| value_error(&e))?;
                    t.working_hours = WorkingHours::parse(&text)?;
                }
                "working_days" => {
                    t.working_days = value.clone().try_into().map_err(|e| value_error(&e))?;
                }
                "max_approvals_per_hour" => {
                    t.max_approvals_per_hour =
                        value.clone().try_into().map_err(|e| value_error(&e))?;
                }
                "max_reviews_per_hour" => {
                    t.max_reviews_per_hour =
                        value.clone().try_into().map_err(|e| value_error(&e))?;
                }
                "min_review_seconds_per_item" => {
                    t.min_review_seconds_per_item =
                        value.clone().try_into().map_err(|e| value_error(&e))?;
                }
                "human_max_records_per_minute" => {
                    t.human_max_records_per_minute =
                        value.clone().try_into().map_err(|e| value_error(&e))?;
                }
                "max_clock_skew_secs" => {
                    t.max_clock_skew_secs =
                        value.clone().try_into().map_err(|e| value_error(&e))?;
                }
                _ => {}
            }
        }
        Ok(thresholds)
    }

    /// Whether a Unix time falls on a working day, within working hours
    /// (both UTC).
    pub fn is_working_time(&self, secs: i64) -> bool {
        self.is_working_time_in(secs, &jiff::tz::TimeZone::UTC)
    }

    /// Whether a Unix time falls on a working day, within working hours,
    /// both read on the wall clock of the time zone `tz` (a human's `tz`
    /// in the policy).
    pub fn is_working_time_in(&self, secs: i64, tz: &jiff::tz::TimeZone) -> bool {
        let (day, minute) = local_day_minute(secs, tz);
        self.working_days.contains(&day) && self.working_hours.contains(minute)
    }
}

/// The day of the week and minute of the day (0 ..= 1439) of a Unix time
/// on the wall clock of `tz`.
pub fn local_day_minute(secs: i64, tz: &jiff::tz::TimeZone) -> (Weekday, u16) {
    // Out of jiff's range (years beyond ±9999) only for absurd times;
    // those are judged as UTC.
    let Ok(ts) = jiff::Timestamp::from_second(secs) else {
        let minute = u16::try_from(secs.rem_euclid(86_400) / 60).unwrap_or(0);
        return (Weekday::of_unix(secs), minute);
    };
    let local = tz.to_datetime(ts);
    let day = match local.weekday() {
        jiff::civil::Weekday::Monday => Weekday::Mon,
        jiff::civil::Weekday::Tuesday => Weekday::Tue,
        jiff::civil::Weekday::Wednesday => Weekday::Wed,
        jiff::civil::Weekday::Thursday => Weekday::Thu,
        jiff::civil::Weekday::Friday => Weekday::Fri,
        jiff::civil::Weekday::Saturday => Weekday::Sat,
        jiff::civil::Weekday::Sunday => Weekday::Sun,
    };
    let minute =
        u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).unwrap_or(0);
    (day, minute)
}
