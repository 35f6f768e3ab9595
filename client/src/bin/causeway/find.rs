//! `causeway find`: changes looked up in an audit state, offline.

use std::path::Path;

use anyhow::Context as _;
use causeway_client::audit_state::State;
use causeway_client::audit_state::find::{Key, Query, find as query, render};
use causeway_client::visible::for_terminal;
use causeway_records::Time;

/// Parses an RFC 3339 bound given as `flag`.
fn bound(flag: &str, text: Option<&str>) -> anyhow::Result<Option<i64>> {
    text.map(|t| {
        Time::parse_rfc3339(t)
            .map(Time::seconds)
            .map_err(|e| anyhow::anyhow!("{flag} {t:?}: not an RFC 3339 time ({e})"))
    })
    .transpose()
}

/// `causeway find`.
pub(crate) fn find(
    dir: &Path,
    key: Key,
    since: Option<&str>,
    until: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let q = Query {
        key,
        since: bound("--since", since)?,
        until: bound("--until", until)?,
    };
    let state = State::open_existing(dir)?;
    let changes =
        query(&state, &q).with_context(|| format!("querying {}", state.path().display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&changes)?);
    } else {
        // Record text (tickets, names, details) with its invisible
        // characters dropped (see visible.rs).
        print!("{}", for_terminal(&render(&changes)));
    }
    Ok(())
}
