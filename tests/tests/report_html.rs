//! The HTML audit report in a real browser: Debian's headless `chromium`
//! renders it to a PNG, dumps its DOM, and must log no console message
//! (no script error, no Content Security Policy violation).
//!
//! Set `CAUSEWAY_REPORT_OUT=DIR` to keep `report.html` and `report.png` in
//! DIR for a look.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use causeway_client::audit_html::{AnchorSummary, TrustBasis, render};
use serde_json::{Value, json};

/// Debian's `chromium`, or a failure saying how to get it.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "`chromium` is not installed: this test renders the HTML audit report in a headless \
         browser. .ci/run installs it (apt-get install chromium on Debian)."
    );
}

/// Runs chromium headless on `url`, killing it after two minutes.
fn run_chromium(browser: &Path, work: &Path, profile: &str, args: &[&str], url: &str) -> Output {
    let mut cmd = Command::new(browser);
    cmd.current_dir(work)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.join(profile).to_str().unwrap()
        ))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("starting chromium");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(out) = rx.recv_timeout(Duration::from_millis(200)) {
            return out.expect("waiting for chromium");
        }
        if Instant::now() > deadline {
            // Only the process this test started, by its id.
            let _ = Command::new("kill")
                .args(["-KILL", &id.to_string()])
                .status();
            panic!("chromium did not finish within two minutes: {args:?} {url}");
        }
    }
}

/// Console messages (script errors, CSP violations) in chromium's log.
fn console_lines(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Uncaught")
                || l.contains("Content Security Policy")
                || l.contains("Refused to")
        })
        .map(str::to_owned)
        .collect()
}

/// A report with two changes: one clean with a three-level delegation and
/// many actions, one with red flags and a hostile record field.
fn report() -> Value {
    let mut actions = Vec::new();
    let mut idx = 10;
    for (cred, n, path) in [(3, 12, vec![3]), (5, 6, vec![3, 5]), (7, 3, vec![3, 5, 7])] {
        for i in 0..n {
            actions.push(json!({
                "index": idx, "leaf_hash": format!("{idx:064x}"),
                "time": format!("2026-11-22T09:{:02}:00Z", 31 + i),
                "tool": "git.push", "target": format!("github.com/acme/payments-service@fix/{i}"),
                "credential": cred, "agent": {"id": "agent", "model": "m"}, "summary": "pushed a commit to the fix branch", "valid": true,
                "delegation_path": path, "authorization": 0,
                "authorized_by": {"subject": "alice@example.com", "issuer": "https://login.example.com",
                                  "authn_method": "sso-oidc", "mfa": true, "assurance": "aal2",
                                  "authenticated_at": "2026-11-22T09:12:41Z"},
                "in_scope": true, "within_lifetime": true, "preflight": {"index": 2, "verdict": "pass"}
            }));
            idx += 1;
        }
    }
    actions.push(json!({
        "index": 50, "time": "2026-11-22T14:05:00Z", "tool": "db.migrate",
        "target": "<script>alert(1)</script>", "credential": 42, "delegation_path": [42],
        "authorization": 40, "authorized_by": {"subject": "mallory@example.com"},
        "in_scope": false, "within_lifetime": false
    }));
    actions.push(json!({
        "index": 60, "time": "2026-11-22T15:00:00Z", "tool": "kubectl.delete",
        "target": "prod/payments", "credential": null, "authorization": null,
        "authorized_by": null, "in_scope": false, "within_lifetime": false
    }));
    let credential =
        |index: u64, parent: Value, depth: u64, agent: &str, acts: u64, closure: Value| {
            json!({"index": index, "serial": format!("CRED-{index}"),
               "agent": {"id": agent, "model": "claude-sonnet", "version": "4.5"},
               "parent": parent, "depth": depth, "issued_at": "2026-11-22T09:30:00Z",
               "expires_at": "2026-11-22T10:30:00Z", "session_key_id": format!("{index:064x}"),
               "actions": acts, "closure": closure})
        };
    let closure = |index: u64, credential: u64, acts: u64| {
        json!({"index": index, "leaf_hash": format!("{index:064x}"), "credential": credential,
               "reason": "voluntary", "started_at": "2026-11-22T09:30:00Z",
               "ended_at": "2026-11-22T10:05:00Z", "actions": acts,
               "summary": "work finished", "signer": "issuer", "valid": true})
    };
    json!({
        "thresholds": {"working_hours": "07:00-20:00", "working_days": ["mon", "tue", "wed", "thu", "fri"],
                       "max_approvals_per_hour": 12, "min_review_seconds_per_item": 20,
                       "human_max_records_per_minute": 6, "max_clock_skew_secs": 300},
        "summary": {"entries": 64, "records": 63, "non_records": 1, "authorizations": 2,
                    "credentials": 4, "actions": 23, "red_flags": 3, "actions_with_named_human": 22},
        "authorizations": [
            {"index": 0, "leaf_hash": format!("{:064x}", 0),
             "approver": {"subject": "alice@example.com", "issuer": "https://login.example.com/oauth2/default"},
             "authn": {"method": "sso-oidc", "mfa": true, "assurance": "aal2", "authenticated_at": "2026-11-22T09:12:41Z"},
             "plan": {"objective": "Fix rounding of ledger totals in multi-currency invoices (PAY-3312)",
                      "method": "Coding agent edits ledger/rounding.rs on a branch and opens a pull request",
                      "test_approach": "Unit tests for banker's rounding across EUR/JPY/KWD, full CI suite",
                      "backout": "Close the pull request, or revert the merge commit and redeploy v4.18.2"},
             "scope": {"change_class": "standard",
                       "targets": ["github.com/acme/payments-service", "ci.acme.internal/pipelines/payments-service"],
                       "actions": ["git.clone", "git.push:branch/fix/*", "github.pull_request.create"]},
             "ticket": "CHG-20481", "time": "2026-11-22T09:14:03Z",
             "preflights": [{"index": 2, "stage": "issuance", "verdict": "pass", "time": "2026-11-22T09:20:00Z", "signer": "scanner@acme"}],
             "credentials": [
                credential(3, Value::Null, 1, "orchestrator", 12, json!(8)),
                credential(5, json!(3), 2, "sub-agent", 6, json!(7)),
                credential(7, json!(5), 3, "test-runner", 3, json!(6))],
             "actions": (10..31).collect::<Vec<u64>>(),
             "closures": [closure(6, 7, 3), closure(7, 5, 6), closure(8, 3, 12)],
             "reviews": [{"index": 9, "reviewer": {"subject": "bob@example.com", "issuer": "https://login.example.com"},
                          "verdict": "approved", "started_at": "2026-11-22T11:00:00Z", "finished_at": "2026-11-22T11:24:00Z", "items": 21}],
             "exceptions": [], "red_flags": []},
            {"index": 40, "leaf_hash": format!("{:064x}", 40),
             "approver": {"subject": "mallory@example.com", "issuer": "https://login.example.com"},
             "authn": {"method": "password", "mfa": false, "assurance": "aal1", "authenticated_at": "2026-11-22T13:00:00Z"},
             "plan": {"objective": "Database migration", "method": "agent runs it", "test_approach": null, "backout": null},
             "scope": {"change_class": "normal", "targets": ["db.acme.internal/payments"], "actions": ["db.read"]},
             "ticket": "CHG-20499", "time": "2026-11-22T13:01:00Z",
             "preflights": [],
             "credentials": [credential(42, Value::Null, 1, "dba-agent", 1, Value::Null)],
             "actions": [50], "closures": [],
             "reviews": [], "exceptions": [{"index": 45, "reason": "emergency", "revoked": false}],
             "red_flags": [0, 1]}
        ],
        "actions": actions,
        "red_flags": [
            {"kind": "action_out_of_scope", "record": 50, "authorization": 40, "leaf_hash": format!("{:064x}", 50),
             "detail": "db.migrate on <script>alert(1)</script> is not among the approved actions"},
            {"kind": "authorization_without_mfa", "record": 40, "authorization": 40, "leaf_hash": format!("{:064x}", 40),
             "detail": "authn.mfa is false"},
            {"kind": "action_without_credential", "record": 60, "authorization": null, "leaf_hash": format!("{:064x}", 60),
             "detail": "the action names no credential"}
        ],
        "matrix": {"rows": [
            {"authorization": 0, "authorized": true, "documented": true, "tested": true, "reviewed": true, "deviations_addressed": true},
            {"authorization": 40, "authorized": true, "documented": false, "tested": false, "reviewed": false, "deviations_addressed": false}],
            "totals": {"authorizations": 2, "authorized": 2, "documented": 1, "tested": 1,
                       "reviewed": 1, "deviations_addressed": 1, "complete": 1}},
        "invalid": [{"index": 63, "leaf_hash": format!("{:064x}", 63), "kind": null,
                     "code": "invalid_argument", "reason": "not a record envelope"}]
    })
}

fn trust() -> TrustBasis {
    TrustBasis {
        log_origin: "causeway.example/log".into(),
        log_vkeys: vec![
            "causeway.example/log+1a2b3c4d+AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=".into(),
        ],
        witness_vkeys: vec![
            "witness-1+5e6f7a8b+BAIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=".into(),
            "witness-2+9c0d1e2f+BQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=".into(),
        ],
        witness_quorum: 2,
        checkpoint_note:
            "causeway.example/log\n64\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n\n\
                          — causeway.example/log GisvPQ...\n"
                .into(),
        tree_size: 64,
        root_hex: "ab".repeat(32),
        anchors: vec![AnchorSummary {
            tree_size: 64,
            gen_time: "2026-11-22T16:00:00Z".into(),
            tsa: "CN=Example TSA".into(),
        }],
        tsa_roots: vec!["CN=Example TSA Root".into()],
        generated_at: "2026-11-22T16:05:00Z".into(),
        log_signatures_verified: true,
        witness_cosignatures: 2,
        anchors_verified: true,
        anchors_unavailable: None,
    }
}

#[test]
fn the_report_renders_in_a_headless_browser_without_errors() {
    let browser = chromium();
    let tmp = tempfile::tempdir().unwrap();
    let dir = match std::env::var_os("CAUSEWAY_REPORT_OUT") {
        Some(d) => {
            let d = PathBuf::from(d);
            std::fs::create_dir_all(&d).unwrap();
            d
        }
        None => tmp.path().to_path_buf(),
    };
    let dir = dir.canonicalize().unwrap();
    let html_path = dir.join("report.html");
    let png = dir.join("report.png");
    let _ = std::fs::remove_file(&png);
    let html = render(&report(), &trust());
    std::fs::write(&html_path, &html).unwrap();
    let url = format!("file://{}", html_path.to_str().unwrap());
    let work = tmp.path();

    // A screenshot.
    let shot_arg = format!("--screenshot={}", png.to_str().unwrap());
    let out = run_chromium(
        &browser,
        work,
        "profile-shot",
        &[
            &shot_arg,
            "--window-size=1280,2000",
            "--enable-logging=stderr",
            "--v=0",
            "--log-level=0",
        ],
        &url,
    );
    assert!(
        out.status.success(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = console_lines(&out.stderr);
    assert!(console.is_empty(), "console messages: {console:#?}");
    let bytes = std::fs::read(&png).expect("chromium wrote no screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        bytes.len() > 20_000,
        "screenshot is only {} bytes",
        bytes.len()
    );

    // The DOM after scripts ran, opened at a record inside a collapsed list.
    let out = run_chromium(
        &browser,
        work,
        "profile-dom",
        &[
            "--dump-dom",
            "--enable-logging=stderr",
            "--v=0",
            "--log-level=0",
        ],
        &format!("{url}#record-12"),
    );
    assert!(out.status.success(), "chromium --dump-dom failed");
    let console = console_lines(&out.stderr);
    assert!(console.is_empty(), "console messages: {console:#?}");
    let dom = String::from_utf8_lossy(&out.stdout);
    for s in [
        "id=\"matrix-table\"",
        "CC8.1",
        "Deviations addressed",
        "id=\"red-flags\"",
        "<code>action_out_of_scope</code>",
        "id=\"auth-0\"",
        "id=\"auth-40\"",
        "<svg class=\"chain\"",
        "AGENT CREDENTIAL #7 · depth 3",
        "id=\"record-12\"",
        "id=\"trust\"",
        "openssl ts -verify",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
    ] {
        assert!(dom.contains(s), "the DOM lacks {s:?}");
    }
    // A link into a collapsed list of actions opens it (the browser or the
    // page's script does; had the script's CSP hash been wrong, the console
    // check above would have caught the refusal).
    let at = dom.find("id=\"record-12\"").unwrap();
    let details = dom[..at].rfind("<details").unwrap();
    assert!(
        dom[details..at].starts_with("<details open"),
        "the list holding #record-12 is closed: {}",
        dom[details..].chars().take(60).collect::<String>()
    );
    // The hostile field stayed text: the page's own script is the only one.
    assert_eq!(dom.matches("<script").count(), 1, "an injected script");
}
