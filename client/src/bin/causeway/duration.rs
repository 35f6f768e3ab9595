//! The durations of the command line (`--max-cosignature-age`, `--wait`,
//! `--http-timeout`), in the one grammar of the whole project: `humantime`
//! (`90s`, `30m`, `1h`, `2d`, `1h 30m`, `500ms`), plus a bare number of
//! seconds and, for ages, `none`.

use std::time::Duration;

/// A duration, or none (no bound, no waiting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Age(pub(crate) Option<Duration>);

impl Age {
    /// Whole seconds (a fraction of a second is dropped), or `None`.
    pub(crate) fn secs(self) -> Option<u64> {
        self.0.map(|d| d.as_secs())
    }
}

/// Parses a duration: a bare number of seconds (`7`), as the client has
/// always taken, or anything `humantime` reads.
fn parse_duration(text: &str) -> Result<Duration, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| format!("{text:?} is too large"));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not an age like 90s, 30m, 1h, 2d or none: {e}"))
}

/// Parses an age: `90s`, `30m`, `1h`, `2d` (see [`parse_duration`]) or
/// `none`.
pub(crate) fn parse_age(text: &str) -> Result<Age, String> {
    if text == "none" {
        return Ok(Age(None));
    }
    parse_duration(text).map(|d| Age(Some(d)))
}

/// Parses a timeout like `30s` or `2m` (see [`parse_age`]); at least 1 s.
pub(crate) fn parse_timeout(text: &str) -> Result<Duration, String> {
    match parse_age(text)? {
        Age(Some(d)) if d >= Duration::from_secs(1) => Ok(d),
        _ => Err(format!(
            "{text:?}: a timeout must be at least 1s, like 30s or 2m"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        let secs = |t| parse_age(t).unwrap().secs();
        // Every spelling the client took before humantime.
        assert_eq!(secs("90s"), Some(90));
        assert_eq!(secs("30m"), Some(1800));
        assert_eq!(secs("1h"), Some(3600));
        assert_eq!(secs("2d"), Some(172_800));
        assert_eq!(secs("7"), Some(7));
        assert_eq!(secs("0"), Some(0));
        assert_eq!(secs("none"), None);
        // And humantime's, as the server and the policy take them.
        assert_eq!(secs("1h 30m"), Some(5400));
        assert_eq!(secs("1w"), Some(604_800));
        assert_eq!(
            parse_age("1500ms").unwrap().0,
            Some(Duration::from_millis(1500))
        );
        for bad in ["h", "", "1x", "-1s", "99999999999999999999", "1.5.h"] {
            assert!(parse_age(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_timeout("1"), Ok(Duration::from_secs(1)));
        for bad in ["0", "0s", "500ms", "none"] {
            assert!(
                parse_timeout(bad).unwrap_err().contains("at least 1s"),
                "{bad:?}"
            );
        }
    }
}
