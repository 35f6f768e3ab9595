//! Whether one version is affected, as the OSV schema defines it.
//!
//! An `affected` entry lists explicit `versions` and `ranges`. A range of
//! type `SEMVER` or `ECOSYSTEM` is a timeline of events; sorted by version
//! (with `introduced: "0"` first), a walk sets "affected" at each
//! `introduced` at or below the version and clears it at each `fixed` at or
//! below it and each `last_affected` strictly below it. `limit` events cap
//! the range: the version must be below one of them. `GIT` ranges name
//! commits, which no lockfile here pins, and are skipped.
//! (<https://ossf.github.io/osv-schema/#evaluation>)

use std::cmp::Ordering;

use osv::schema::{Affected, Event, Range, RangeType};

use crate::ecosystem::{Ecosystem, Version};

/// Whether `version` is in `affected`'s explicit `versions` or any of its
/// `SEMVER`/`ECOSYSTEM` ranges.
///
/// # Errors
/// A message if an event's version does not parse in `ecosystem`'s order:
/// the advisory cannot be judged, which the caller must not read as
/// "unaffected".
pub fn is_affected(
    ecosystem: Ecosystem,
    affected: &Affected,
    version: &Version,
) -> Result<bool, String> {
    for listed in affected.versions.iter().flatten() {
        // A listed version that does not parse (a tag, a typo) can equal no
        // parsed lockfile version; it is not a reason to stop.
        if let Ok(v) = ecosystem.parse_version(listed)
            && v.compare(version) == Some(Ordering::Equal)
        {
            return Ok(true);
        }
    }
    for range in affected.ranges.iter().flatten() {
        if matches!(range.range_type, RangeType::Semver | RangeType::Ecosystem)
            && in_range(ecosystem, range, version)?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One event with its version parsed; `introduced: "0"` has none.
struct Point {
    at: Option<Version>,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Introduced,
    Fixed,
    LastAffected,
    Limit,
}

fn in_range(ecosystem: Ecosystem, range: &Range, version: &Version) -> Result<bool, String> {
    let mut points = Vec::with_capacity(range.events.len());
    for event in &range.events {
        let (kind, text) = match event {
            Event::Introduced(t) => (Kind::Introduced, t),
            Event::Fixed(t) => (Kind::Fixed, t),
            Event::LastAffected(t) => (Kind::LastAffected, t),
            Event::Limit(t) => (Kind::Limit, t),
            // The schema's event list is non-exhaustive; an event this
            // code does not know could narrow or widen the range.
            _ => return Err(format!("unknown range event {event:?}")),
        };
        let at = match (kind, text.as_str()) {
            (Kind::Introduced, "0") => None,
            // `limit: "*"` is the schema's "no limit".
            (Kind::Limit, "*") => continue,
            _ => Some(ecosystem.parse_version(text)?),
        };
        points.push(Point { at, kind });
    }
    // Stable sort: at one version, `introduced` stays before the `fixed`
    // the advisory lists after it, so a range introduced and fixed at the
    // same version is empty, as the schema's reference walk makes it.
    points.sort_by(|a, b| match (&a.at, &b.at) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.compare(y).unwrap_or(Ordering::Equal),
    });

    let at_or_below = |at: &Option<Version>| match at {
        None => true,
        Some(at) => matches!(at.compare(version), Some(Ordering::Less | Ordering::Equal)),
    };
    let below = |at: &Option<Version>| match at {
        None => false,
        Some(at) => at.compare(version) == Some(Ordering::Less),
    };

    let mut affected = false;
    for point in points.iter().filter(|p| p.kind != Kind::Limit) {
        match point.kind {
            Kind::Introduced if at_or_below(&point.at) => affected = true,
            Kind::Fixed if at_or_below(&point.at) => affected = false,
            Kind::LastAffected if below(&point.at) => affected = false,
            _ => {}
        }
    }
    let mut limits = points.iter().filter(|p| p.kind == Kind::Limit).peekable();
    if affected && limits.peek().is_some() {
        affected = limits.any(|l| !at_or_below(&l.at));
    }
    Ok(affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn affected(json: &str) -> Affected {
        serde_json::from_str(json).unwrap()
    }

    fn hit(e: Ecosystem, a: &Affected, v: &str) -> bool {
        is_affected(e, a, &e.parse_version(v).unwrap()).unwrap()
    }

    #[test]
    fn introduced_fixed_and_last_affected_bound_a_range() {
        let a = affected(
            r#"{"ranges":[{"type":"SEMVER","events":[
                {"introduced":"1.2.0"},{"fixed":"1.4.0"},
                {"introduced":"2.0.0"},{"last_affected":"2.1.3"}]}]}"#,
        );
        let e = Ecosystem::CratesIo;
        assert!(!hit(e, &a, "1.1.9"));
        assert!(hit(e, &a, "1.2.0"));
        assert!(hit(e, &a, "1.3.99"));
        assert!(!hit(e, &a, "1.4.0"));
        assert!(!hit(e, &a, "1.9.0"));
        assert!(hit(e, &a, "2.0.0"));
        assert!(hit(e, &a, "2.1.3"));
        assert!(!hit(e, &a, "2.1.4"));
        // Pre-releases of the fix are still before it.
        assert!(hit(e, &a, "1.4.0-rc.1"));
    }

    #[test]
    fn events_are_sorted_before_the_walk() {
        let a = affected(
            r#"{"ranges":[{"type":"ECOSYSTEM","events":[
                {"fixed":"3.3.2"},{"introduced":"3.1"}]}]}"#,
        );
        let e = Ecosystem::PyPI;
        assert!(!hit(e, &a, "3.0.9"));
        assert!(hit(e, &a, "3.1.0"));
        assert!(!hit(e, &a, "3.3.2"));
    }

    #[test]
    fn limits_cap_and_versions_list_and_git_ranges() {
        let a = affected(
            r#"{"ranges":[{"type":"SEMVER","events":[
                {"introduced":"0"},{"limit":"1.5.0"}]},
              {"type":"GIT","repo":"https://example.invalid/x","events":[
                {"introduced":"0"}]}],
              "versions":["9.9.9"]}"#,
        );
        let e = Ecosystem::Npm;
        assert!(hit(e, &a, "0.0.1"));
        assert!(hit(e, &a, "1.4.9"));
        assert!(!hit(e, &a, "1.5.0"));
        assert!(hit(e, &a, "9.9.9"));
        assert!(!hit(e, &a, "9.9.8"));
    }

    #[test]
    fn an_unparseable_event_is_an_error_not_a_miss() {
        let a = affected(r#"{"ranges":[{"type":"SEMVER","events":[{"introduced":"one"}]}]}"#);
        let e = Ecosystem::CratesIo;
        assert!(is_affected(e, &a, &e.parse_version("1.0.0").unwrap()).is_err());
    }
}
