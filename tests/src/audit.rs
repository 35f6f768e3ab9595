//! Helpers for the auditor's suites: a log that anchors at a real TSA,
//! the demo chain written to it, and the arguments `causeway audit` takes
//! for a log.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use causeway_client::LogClient;
use causeway_tlog::note::{EcdsaSigner, Ed25519Signer, KeyName};
use serde_json::Value;

use crate::{Producers, Server, Tsa, binary};

/// The actions an audit wrote to `out/actions.jsonl`, one per line, in log
/// order (`report.json` is only the summary).
pub fn report_actions(out: &Path) -> Vec<Value> {
    let path = out.join(causeway_client::audit::ACTIONS_FILE);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// Starts a log at `dir` admitting records under `policy` and anchoring
/// every checkpoint at `tsa` at once (`--tsa-interval 0ms`), so a test
/// need only wait for the anchor of the size it wrote.
pub fn anchoring_log(dir: &Path, policy: &Path, tsa: &Tsa) -> Server {
    let roots = tsa.roots.to_str().expect("a UTF-8 path").to_owned();
    Server::start(
        dir,
        &[
            "--policy",
            policy.to_str().expect("a UTF-8 path"),
            "--tsa-url",
            &tsa.url,
            "--tsa-roots",
            &roots,
            "--tsa-interval",
            "0ms",
        ],
    )
}

/// Waits until the log's latest anchor covers `size`; fails after 30 s.
pub async fn anchored(url: &str, size: u64) {
    let mut client = LogClient::connect(url).await.expect("connects");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(a) = client.anchor(None).await
            && a.tree_size >= size
        {
            return;
        }
        assert!(Instant::now() < deadline, "not anchored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes the demo chain (`actions` orchestrator actions) to the log with
/// `causeway demo --json`, as the producers whose keys are in
/// `producers`; returns one JSON line a record written. The trust
/// settings are cleared from the environment so only the arguments count.
pub fn demo(server: &Server, producers: &Path, actions: &str) -> Vec<Value> {
    let out = Command::new(binary("causeway"))
        .args([
            "demo",
            "--log",
            &server.url,
            "--producers",
            producers.to_str().expect("a UTF-8 path"),
            "--actions",
            actions,
            "--json",
        ])
        .env_remove("CAUSEWAY_VKEYS")
        .env_remove("CAUSEWAY_WITNESS_VKEYS")
        .env_remove("CAUSEWAY_TSA_ROOTS")
        .env_remove("CAUSEWAY_QUORUM")
        .output()
        .expect("running causeway demo");
    assert!(
        out.status.success(),
        "causeway demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line per record"))
        .collect()
}

/// Starts a log at `dir/log` under the test producers' policy (written to
/// `dir/producers`) and writes the demo with `actions` actions to it:
/// returns the log, the policy file and the demo's JSON lines.
pub fn demo_log(dir: &Path, actions: &str) -> (Server, PathBuf, Vec<Value>) {
    let policy = Producers::new().write(&dir.join("producers"));
    let server = Server::with_policy(&dir.join("log"), &policy);
    let written = demo(&server, &dir.join("producers"), actions);
    (server, policy, written)
}

/// The last action the demo wrote: the one with the most ancestors.
pub fn last_action(written: &[Value]) -> &Value {
    written
        .iter()
        .rev()
        .find(|l| l["kind"] == "action")
        .expect("the demo writes actions")
}

/// Writes the proof bundle of `action` (a demo JSON line) from `server`
/// to `out` with `causeway prove bundle`.
pub fn prove_bundle(server: &Server, action: &Value, out: &Path) {
    let mut args = vec![
        "prove",
        "bundle",
        "--log",
        &server.url,
        "--leaf-hash",
        action["leaf_hash"].as_str().expect("a leaf hash"),
        "--out",
        out.to_str().expect("a UTF-8 path"),
    ];
    for v in &server.vkeys {
        args.extend(["--vkey", v]);
    }
    let (ok, _, err) = crate::cli(&args);
    assert!(ok, "causeway prove bundle failed: {err}");
}

/// Starts a log under the test producers' policy anchoring at a real TSA
/// (`key_type` "ec" or "rsa"), writes the demo with `actions` actions to
/// it and waits until its anchor covers them all: returns the TSA (its
/// roots verify the anchors), the log, the policy file and the demo's JSON
/// lines.
pub async fn anchored_demo(
    dir: &Path,
    key_type: &str,
    actions: &str,
) -> (Tsa, Server, PathBuf, Vec<Value>) {
    let policy = Producers::new().write(&dir.join("producers"));
    let tsa = Tsa::start(&dir.join("tsa"), key_type, 0);
    let server = anchoring_log(&dir.join("log"), &policy, &tsa);
    let written = demo(&server, &dir.join("producers"), actions);
    anchored(&server.url, written.len() as u64).await;
    (tsa, server, policy, written)
}

/// The arguments of `causeway audit` of the log at `log` (gRPC) and
/// `tiles` (a tile URL or directory) under `policy`, writing its report
/// to `out`, then `extra`; the caller adds the keys.
pub fn audit_args(
    log: &str,
    tiles: &str,
    policy: &Path,
    out: &Path,
    extra: &[&str],
) -> Vec<String> {
    [
        "audit",
        "--log",
        log,
        "--tiles",
        tiles,
        "--policy",
        policy.to_str().expect("a UTF-8 path"),
        "--out",
        out.to_str().expect("a UTF-8 path"),
    ]
    .iter()
    .chain(extra)
    .map(|s| s.to_string())
    .collect()
}

/// `args` followed by a `--vkey` for each of `vkeys`.
pub fn with_vkeys(mut args: Vec<String>, vkeys: &[String]) -> Vec<String> {
    for v in vkeys {
        args.extend(["--vkey".to_owned(), v.clone()]);
    }
    args
}

/// The verifier keys of a log directory (ECDSA, Ed25519), derived from
/// its own key files, for a log that is no longer running.
pub fn vkeys_of(log_dir: &Path) -> Vec<String> {
    let origin = std::fs::read_to_string(log_dir.join("origin")).expect("the log's origin file");
    let name = KeyName::new(origin.trim()).expect("a key name");
    let pem = |file: &str| std::fs::read_to_string(log_dir.join("keys").join(file)).expect(file);
    let ecdsa = EcdsaSigner::from_pkcs8_pem(name.clone(), &pem("ecdsa.pem")).expect("ECDSA key");
    let ed25519 = Ed25519Signer::from_pkcs8_pem(name, &pem("ed25519.pem")).expect("Ed25519 key");
    vec![ecdsa.verifier().to_string(), ed25519.verifier().to_string()]
}
