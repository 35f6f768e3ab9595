//! The durations of the command line: `--max-cosignature-age`, `--wait`
//! and `--http-timeout`.

/// A duration in seconds, or none (no bound, no waiting).
#[derive(Clone, Copy, Debug)]
pub struct Age(pub Option<u64>);

/// Parses `90s`, `30m`, `1h`, `2d` or `none` into seconds.
pub fn parse_age(text: &str) -> Result<Age, String> {
    if text == "none" {
        return Ok(Age(None));
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not an age like 90s, 30m, 1h, 2d or none"))?;
    let scale = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: unknown unit {unit:?}; use s, m, h or d")),
    };
    n.checked_mul(scale)
        .map(|s| Age(Some(s)))
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Parses a timeout like `30s` or `2m` (see [`parse_age`]); at least 1 s.
pub fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    match parse_age(text)? {
        Age(Some(secs)) if secs > 0 => Ok(std::time::Duration::from_secs(secs)),
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
        assert_eq!(parse_age("90s").unwrap().0, Some(90));
        assert_eq!(parse_age("30m").unwrap().0, Some(1800));
        assert_eq!(parse_age("2d").unwrap().0, Some(172_800));
        assert_eq!(parse_age("7").unwrap().0, Some(7));
        assert_eq!(parse_age("none").unwrap().0, None);
        assert!(parse_age("1w").is_err());
        assert!(parse_age("h").is_err());
    }
}
