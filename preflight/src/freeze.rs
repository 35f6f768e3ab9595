//! Change-freeze windows: a TOML calendar of periods in which no change
//! may go ahead.
//!
//! ```toml
//! zone = "Europe/Berlin"            # default for windows without one
//!
//! [[window]]
//! name = "year-end"
//! start = 2026-12-19T18:00:00       # local time in the window's zone
//! end = 2027-01-04T08:00:00         # exclusive
//! reason = "holiday freeze"
//!
//! [[window]]
//! name = "us-election"
//! start = "2026-11-03T00:00"
//! end = "2026-11-05T00:00"
//! zone = "America/New_York"
//! ```
//!
//! Start and end are wall-clock times in an IANA time zone (TOML local
//! date-times or strings), so a freeze "until 08:00 in Berlin" stays at
//! 08:00 across a daylight-saving change. A wall-clock time that a DST
//! change skips or repeats resolves as RFC 9557's "compatible" rule says
//! (jiff's default): a gap moves forward, a fold takes the earlier time.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::Error;
use crate::report::{CheckResult, Outcome};

/// One freeze window, resolved to instants.
#[derive(Clone, Debug, PartialEq)]
pub struct FreezeWindow {
    /// Its name.
    pub name: String,
    /// Why there is a freeze (may be empty).
    pub reason: String,
    /// The IANA zone its times are written in.
    pub zone: String,
    /// Its start as written (local time).
    pub start_local: DateTime,
    /// Its end as written (local time, exclusive).
    pub end_local: DateTime,
    /// Its first instant.
    pub start: Timestamp,
    /// The first instant after it.
    pub end: Timestamp,
}

/// A freeze calendar: windows valid once built (known zones, end after
/// start).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FreezeCalendar {
    windows: Vec<FreezeWindow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    zone: Option<String>,
    #[serde(default)]
    window: Vec<WindowFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowFile {
    name: String,
    start: LocalTime,
    end: LocalTime,
    zone: Option<String>,
    #[serde(default)]
    reason: String,
}

/// A TOML local date-time or a string holding one.
#[derive(Deserialize)]
#[serde(untagged)]
enum LocalTime {
    Toml(toml::value::Datetime),
    Text(String),
}

impl LocalTime {
    fn parse(&self, window: &str, field: &str) -> Result<DateTime, Error> {
        let text = match self {
            LocalTime::Toml(d) => {
                if d.offset.is_some() {
                    return Err(Error::Freeze(format!(
                        "window {window:?}: {field} {d} has an offset; write local time and a zone"
                    )));
                }
                d.to_string()
            }
            LocalTime::Text(t) => t.clone(),
        };
        text.parse::<DateTime>().map_err(|e| {
            Error::Freeze(format!(
                "window {window:?}: {field} {text:?} is not a local date-time: {e}"
            ))
        })
    }
}

impl FreezeCalendar {
    /// Parses a calendar.
    ///
    /// # Errors
    /// [`Error::Freeze`] for malformed TOML, an unknown time zone, a
    /// window without a zone when the calendar has no default, or a window
    /// that does not end after it starts.
    pub fn parse(text: &str) -> Result<FreezeCalendar, Error> {
        let file: CalendarFile = toml::from_str(text).map_err(|e| Error::Freeze(e.to_string()))?;
        let mut windows = Vec::with_capacity(file.window.len());
        for w in file.window {
            let zone = w.zone.or_else(|| file.zone.clone()).ok_or_else(|| {
                Error::Freeze(format!(
                    "window {:?} has no zone and the calendar no default zone",
                    w.name
                ))
            })?;
            let tz = TimeZone::get(&zone)
                .map_err(|e| Error::Freeze(format!("window {:?}: zone {zone:?}: {e}", w.name)))?;
            let start_local = w.start.parse(&w.name, "start")?;
            let end_local = w.end.parse(&w.name, "end")?;
            let instant = |local: DateTime| {
                tz.to_timestamp(local)
                    .map_err(|e| Error::Freeze(format!("window {:?}: {e}", w.name)))
            };
            let (start, end) = (instant(start_local)?, instant(end_local)?);
            if end <= start {
                return Err(Error::Freeze(format!(
                    "window {:?} ends ({end_local}) at or before it starts ({start_local})",
                    w.name
                )));
            }
            windows.push(FreezeWindow {
                name: w.name,
                reason: w.reason,
                zone,
                start_local,
                end_local,
                start,
                end,
            });
        }
        Ok(FreezeCalendar { windows })
    }

    /// The windows, in file order.
    pub fn windows(&self) -> &[FreezeWindow] {
        &self.windows
    }

    /// The windows that `at` falls inside (start inclusive, end exclusive).
    pub fn active_at(&self, at: Timestamp) -> impl Iterator<Item = &FreezeWindow> {
        self.windows
            .iter()
            .filter(move |w| w.start <= at && at < w.end)
    }

    /// The `freeze` check for a change at `at`: a block inside any window.
    pub fn check(&self, at: Timestamp) -> CheckResult {
        let active: Vec<String> = self
            .active_at(at)
            .map(|w| {
                let reason = if w.reason.is_empty() {
                    String::new()
                } else {
                    format!(": {}", w.reason)
                };
                format!(
                    "inside freeze window {:?} ({} to {} {}){reason}",
                    w.name, w.start_local, w.end_local, w.zone
                )
            })
            .collect();
        let (outcome, detail) = if active.is_empty() {
            (
                Outcome::Pass,
                format!("{at} is in none of {} freeze windows", self.windows.len()),
            )
        } else {
            (Outcome::Block, format!("{at} is {}", active.join("; ")))
        };
        CheckResult {
            name: "freeze".to_owned(),
            outcome,
            detail,
            ids: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALENDAR: &str = r#"
zone = "Europe/Berlin"

[[window]]
name = "year-end"
start = 2026-12-19T18:00:00
end = 2027-01-04T08:00:00
reason = "holiday freeze"

[[window]]
name = "dst-night"
start = "2027-03-28T01:30"
end = "2027-03-28T03:30"

[[window]]
name = "us-election"
start = "2026-11-03T00:00"
end = "2026-11-05T00:00"
zone = "America/New_York"
"#;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn windows_are_judged_in_their_own_zone() {
        let cal = FreezeCalendar::parse(CALENDAR).unwrap();
        // 18:00 in Berlin in December is 17:00 UTC.
        assert_eq!(cal.check(ts("2026-12-19T16:59:59Z")).outcome, Outcome::Pass);
        let inside = cal.check(ts("2026-12-19T17:00:00Z"));
        assert_eq!(inside.outcome, Outcome::Block);
        assert!(inside.detail.contains("year-end"), "{}", inside.detail);
        assert!(
            inside.detail.contains("holiday freeze"),
            "{}",
            inside.detail
        );
        // The end is exclusive: 08:00 Berlin = 07:00 UTC.
        assert_eq!(
            cal.check(ts("2027-01-04T06:59:59Z")).outcome,
            Outcome::Block
        );
        assert_eq!(cal.check(ts("2027-01-04T07:00:00Z")).outcome, Outcome::Pass);
        // Midnight in New York in November (EST) is 05:00 UTC.
        assert_eq!(cal.check(ts("2026-11-03T04:59:59Z")).outcome, Outcome::Pass);
        assert_eq!(
            cal.check(ts("2026-11-03T05:00:00Z")).outcome,
            Outcome::Block
        );
    }

    #[test]
    fn a_window_across_a_dst_change_keeps_its_wall_clock_ends() {
        let cal = FreezeCalendar::parse(CALENDAR).unwrap();
        let w = &cal.windows()[1];
        // 01:30 CET is 00:30 UTC; 03:30 CEST (after the 02:00 jump) is 01:30 UTC.
        assert_eq!(w.start, ts("2027-03-28T00:30:00Z"));
        assert_eq!(w.end, ts("2027-03-28T01:30:00Z"));
    }

    #[test]
    fn bad_calendars_are_refused() {
        for (text, needle) in [
            (
                "[[window]]\nname='a'\nstart='2026-01-01T00:00'\nend='2026-01-02T00:00'\n",
                "no zone",
            ),
            (
                "zone='Mars/Olympus'\n[[window]]\nname='a'\nstart='2026-01-01T00:00'\nend='2026-01-02T00:00'\n",
                "Mars",
            ),
            (
                "zone='UTC'\n[[window]]\nname='a'\nstart='2026-01-02T00:00'\nend='2026-01-01T00:00'\n",
                "ends",
            ),
            (
                "zone='UTC'\n[[window]]\nname='a'\nstart=2026-01-01T00:00:00Z\nend='2026-01-02T00:00'\n",
                "offset",
            ),
            (
                "zone='UTC'\n[[window]]\nname='a'\nstart='soon'\nend='2026-01-02T00:00'\n",
                "soon",
            ),
            ("zone='UTC'\nwindows=[]\n", "unknown field"),
        ] {
            let err = FreezeCalendar::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
