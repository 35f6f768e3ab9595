//! `causeway find`: changes looked up in an audit state, offline; with
//! `--bundle`, their proof bundles, from the log.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use causeway_client::LogTarget;
use causeway_client::audit_state::State;
use causeway_client::audit_state::find::{Change, Key, Query, find as query, render};
use causeway_client::bundle::build;
use causeway_client::verify::LogKeys;
use causeway_client::visible::for_terminal;
use causeway_records::Time;
use causeway_tlog::merkle::Hash;

/// Parses an RFC 3339 bound given as `flag`.
fn bound(flag: &str, text: Option<&str>) -> anyhow::Result<Option<i64>> {
    text.map(|t| {
        Time::parse_rfc3339(t)
            .map(Time::seconds)
            .map_err(|e| anyhow::anyhow!("{flag} {t:?}: not an RFC 3339 time ({e})"))
    })
    .transpose()
}

/// Where `--bundle` writes, and the log it proves against.
pub(crate) struct Bundles {
    /// The directory to write into.
    pub(crate) dir: PathBuf,
    /// The log.
    pub(crate) log: LogTarget,
    /// Its keys.
    pub(crate) keys: LogKeys,
}

/// The records of `change` whose bundles prove its chain, by leaf hash,
/// each once: every record a chain ends in references its way up to the
/// authorization, so their ancestors hold the whole chain but the actions.
fn chain_ends(change: &Change, leaf: Option<&str>) -> Vec<(u64, String, String)> {
    let mut out: Vec<(u64, String, String)> = Vec::new();
    let steps = change
        .preflights
        .iter()
        .chain(&change.exceptions)
        .chain(&change.closures)
        .chain(&change.reviews);
    let credentials = change
        .credentials
        .iter()
        .map(|c| (c.idx, c.leaf_hash.clone(), "credential".to_owned()));
    for item in credentials.chain(steps.map(|s| (s.idx, s.leaf_hash.clone(), s.kind.clone()))) {
        if !out.iter().any(|(_, h, _)| *h == item.1) {
            out.push(item);
        }
    }
    if let Some(h) = leaf
        && !out.iter().any(|(_, x, _)| x == h)
    {
        let idx = change.matched.first().copied().unwrap_or_default();
        out.push((idx, h.to_owned(), "record".to_owned()));
    }
    if out.is_empty()
        && let Some(a) = &change.authorization
    {
        out.push((a.step.idx, a.step.leaf_hash.clone(), a.step.kind.clone()));
    }
    out.sort();
    out
}

/// Writes the bundles of `changes` into `b.dir`; returns their paths.
async fn write_bundles(
    b: &Bundles,
    changes: &[Change],
    leaf: Option<&str>,
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(&b.dir).with_context(|| format!("creating {}", b.dir.display()))?;
    let mut client = b.log.connect().await?;
    let mut written = Vec::new();
    for change in changes {
        for (idx, hex, kind) in chain_ends(change, leaf) {
            let hash = Hash::from_hex(&hex)
                .with_context(|| format!("the state's leaf hash {hex:?} of record {idx}"))?;
            let built = build(&mut client, &b.keys, hash)
                .await
                .with_context(|| format!("bundling record {idx} ({kind})"))?;
            let path = b.dir.join(format!("{idx}-{kind}.bundle.json"));
            std::fs::write(&path, &built.text)
                .with_context(|| format!("writing {}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// `causeway find`; with `bundles`, also the proof bundles of what it found.
pub(crate) async fn find(
    dir: &Path,
    key: Key,
    (since, until): (Option<&str>, Option<&str>),
    bundles: Option<Bundles>,
    json: bool,
) -> anyhow::Result<()> {
    let leaf = match &key {
        Key::LeafHash(h) => Some(h.to_ascii_lowercase()),
        _ => None,
    };
    let q = Query {
        key,
        since: bound("--since", since)?,
        until: bound("--until", until)?,
    };
    let state = State::open_existing(dir)?;
    let changes =
        query(&state, &q).with_context(|| format!("querying {}", state.path().display()))?;
    if let Some(b) = &bundles {
        let written = write_bundles(b, &changes, leaf.as_deref()).await?;
        // On stderr: stdout stays the changes, in the same shape with or
        // without --bundle.
        eprintln!(
            "wrote {} proof bundles into {} (check each with `causeway verify FILE`)",
            written.len(),
            b.dir.display()
        );
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&changes)?);
    } else {
        // Record text (tickets, names, details) with its invisible
        // characters dropped (see visible.rs).
        print!("{}", for_terminal(&render(&changes)));
    }
    Ok(())
}
