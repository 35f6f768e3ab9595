//! `causeway monitor`: follows a log and its witnesses, and fails on any
//! checkpoint that does not verify or does not extend the last one; with
//! `--audit`, audits every new checkpoint and reports each new finding
//! once.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context as _, bail};
use causeway_client::audit_state::State;
use causeway_client::demo::rfc3339;
use causeway_client::monitor::{Inconsistency, check_extends, witness_checkpoint_url};
use causeway_client::verify::check_witnesses;
use causeway_client::{LogClient, LogTarget};
use causeway_tlog::checkpoint::Checkpoint;
use serde_json::json;

use crate::args::{Common, TilesArg};
use crate::trust::{Trust, unix_now};

/// `--audit`: what each new checkpoint's audit runs with.
pub(crate) struct ContinuousAudit {
    /// The arguments of `causeway audit` (after the program name).
    pub(crate) args: Vec<OsString>,
    /// The state directory, where the findings are read.
    pub(crate) state: PathBuf,
    /// The shell command run per new finding.
    pub(crate) exec: Option<String>,
}

/// The `causeway audit` arguments of `monitor --audit`: the same log,
/// keys, witness policy and TLS, the state's report under `state/report`.
pub(crate) fn audit_args(
    common: &Common,
    tiles: &TilesArg,
    policy: &Path,
    state: &Path,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["audit".into(), "--json".into()];
    let mut flag = |name: &str, value: OsString| {
        args.push(name.into());
        args.push(value);
    };
    flag("--log", common.log.clone().into());
    flag("--tiles", tiles.url.clone().into());
    flag(
        "--http-timeout",
        format!("{}s", tiles.http_timeout.as_secs().max(1)).into(),
    );
    flag("--policy", policy.into());
    flag("--state", state.into());
    flag("--out", state.join("report").into());
    for v in &common.vkeys {
        flag("--vkey", v.clone().into());
    }
    for w in &common.witness_vkeys {
        flag("--witness-vkey", w.clone().into());
    }
    if let Some(q) = common.quorum {
        flag("--quorum", q.to_string().into());
    }
    for (name, file) in [
        ("--tls-ca", &common.tls.tls_ca),
        ("--tls-cert", &common.tls.tls_cert),
        ("--tls-key", &common.tls.tls_key),
    ] {
        if let Some(f) = file {
            flag(name, f.into());
        }
    }
    args
}

/// Audits the log (`causeway audit --state`) and reports each finding not
/// reported before: one JSON line, then `exec`. The audit runs as its own
/// process, exactly as an auditor would run it: a full audit's memory goes
/// back to the system between rounds, and a failed audit is an event of
/// the monitor, not its end.
async fn audit_round(audit: &ContinuousAudit, size: u64) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding the causeway binary")?;
    let out = tokio::process::Command::new(exe)
        .args(&audit.args)
        .stdin(Stdio::null())
        .output()
        .await
        .context("running causeway audit")?;
    let summary: Option<serde_json::Value> = serde_json::from_slice(&out.stdout).ok();
    // Exit 0 verified, 1 failed (e.g. invalid entries: the findings say
    // which), 3 unverified; anything without a summary is an audit that
    // could not run.
    let Some(summary) = summary else {
        println!(
            "{}",
            json!({"event": "audit_failed", "size": size,
                   "error": String::from_utf8_lossy(&out.stderr).trim()})
        );
        return Ok(());
    };
    let state = State::open_or_create(&audit.state)?;
    let new = state.unreported()?;
    for finding in &new {
        let line = json!({"event": "finding", "size": summary["tree_size"], "finding": finding});
        println!("{line}");
        if let Some(cmd) = &audit.exec
            && !exec(cmd, &line).await
        {
            continue;
        }
        state.mark_reported(finding, &rfc3339(unix_now()))?;
    }
    // Last, so a reader knows the round's findings are all out.
    println!(
        "{}",
        json!({"event": "audited", "size": summary["tree_size"], "status": summary["status"],
               "red_flags": summary["summary"]["red_flags"], "new_findings": new.len()})
    );
    Ok(())
}

/// Runs `cmd` with `sh -c`, `finding` as JSON on stdin; whether it
/// succeeded (a failure is printed as an event).
async fn exec(cmd: &str, finding: &serde_json::Value) -> bool {
    use tokio::io::AsyncWriteExt as _;
    let child = tokio::process::Command::new("sh")
        .args(["-c", cmd])
        .stdin(Stdio::piped())
        .spawn();
    let result = async {
        let mut child = child?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(format!("{finding}\n").as_bytes()).await?;
        }
        child.wait().await
    }
    .await;
    match result {
        Ok(status) if status.success() => true,
        Ok(status) => {
            println!(
                "{}",
                json!({"event": "exec_failed", "command": cmd, "status": status.code()})
            );
            false
        }
        Err(e) => {
            println!(
                "{}",
                json!({"event": "exec_failed", "command": cmd, "error": e.to_string()})
            );
            false
        }
    }
}

/// `causeway monitor`: follows the log and its witnesses; one JSON line
/// per event; an error (non-zero exit) on any inconsistency. With
/// `audit`, also audits each new checkpoint and reports new findings.
pub(crate) async fn monitor(
    log: &LogTarget,
    trust: &Trust,
    witnesses: &[String],
    interval: std::time::Duration,
    rounds: Option<u64>,
    audit: Option<&ContinuousAudit>,
) -> anyhow::Result<()> {
    let mut client = log.connect().await?;
    let http = reqwest::Client::new();
    let mut last: Option<Checkpoint> = None;
    let mut round = 0u64;
    loop {
        let note = client.checkpoint(None).await?;
        let cp = trust
            .log
            .read(&note)
            .context("MISBEHAVIOUR: the log's checkpoint does not verify")?
            .into_checkpoint();
        check_witnesses(&note, &trust.witnesses, unix_now() as u64)
            .context("the checkpoint does not satisfy the witness policy")?;
        if let Some(prev) = &last {
            consistent(&mut client, prev, &cp, "the log").await?;
        }
        if last.as_ref().is_none_or(|p| p.size() != cp.size()) {
            println!(
                "{}",
                json!({"event": "checkpoint", "size": cp.size(), "root": cp.root().to_hex()})
            );
            if let Some(a) = audit {
                audit_round(a, cp.size()).await?;
            }
        }
        for url in witnesses {
            let response = http
                .get(witness_checkpoint_url(url, cp.origin()))
                .send()
                .await;
            let Ok(response) = response else {
                println!(
                    "{}",
                    json!({"event": "witness_unreachable", "witness": url})
                );
                continue;
            };
            if !response.status().is_success() {
                println!(
                    "{}",
                    json!({"event": "witness_has_nothing", "witness": url, "status": response.status().as_u16()})
                );
                continue;
            }
            let theirs = response.text().await?;
            let seen = trust.log.read(&theirs)
                .with_context(|| format!("MISBEHAVIOUR: witness {url} holds a checkpoint the log's keys do not verify"))?
                .into_checkpoint();
            let (older, newer) = if seen.size() <= cp.size() {
                (&seen, &cp)
            } else {
                (&cp, &seen)
            };
            consistent(&mut client, older, newer, url).await?;
            println!(
                "{}",
                json!({"event": "witness_consistent", "witness": url, "witness_size": seen.size(), "size": cp.size()})
            );
        }
        last = Some(cp);
        round += 1;
        if rounds.is_some_and(|r| round >= r) {
            return Ok(());
        }
        tokio::time::sleep(interval).await;
    }
}

/// Checks that `old` is a prefix of `new` (see [`check_extends`]); on a
/// split view, prints its event and fails.
async fn consistent(
    client: &mut LogClient,
    old: &Checkpoint,
    new: &Checkpoint,
    whose: &str,
) -> anyhow::Result<()> {
    match check_extends(client, old, new).await {
        Ok(()) => Ok(()),
        Err(Inconsistency::SplitView {
            size,
            old_root,
            new_root,
        }) => {
            println!(
                "{}",
                json!({"event": "split_view", "source": whose, "size": size, "roots": [old_root.to_hex(), new_root.to_hex()]})
            );
            bail!(
                "MISBEHAVIOUR: two signed checkpoints of size {size} with different roots ({whose})"
            );
        }
        Err(Inconsistency::Unproved { old_size, new_size }) => {
            println!(
                "{}",
                json!({"event": "inconsistent", "source": whose, "old_size": old_size, "new_size": new_size})
            );
            bail!(
                "MISBEHAVIOUR: the log cannot prove checkpoint {old_size} consistent with {new_size} ({whose})"
            );
        }
    }
}
