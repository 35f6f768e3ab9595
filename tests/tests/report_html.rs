//! The HTML audit report in a real browser: Debian's headless `chromium`
//! renders it to a PNG, dumps its DOM, and must log no console message
//! (no script error, no Content Security Policy violation).
//!
//! Set `CAUSEWAY_REPORT_OUT=DIR` to keep `report.html` and `report.png` in
//! DIR for a look.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use causeway_client::audit::{
    ActionReport, AgentReport, AuditReport, AuditStatus, AuthorizedBy, Cc81Matrix, Cc81Row,
    Cc81Totals, ChainReport, ClosureReport, CredentialReport, ExceptionReport, FlagKind, IdpReport,
    InvalidEntry, PreflightReport, RedFlag, ReviewReport, Summary, Thresholds, Verification,
    WitnessCosignature,
};
use causeway_client::audit_html::{AnchorSummary, TrustBasis, render};
use causeway_records::{
    Authn, ClosureReason, Identity, Plan, PreflightVerdict, Scope, Stage, Time,
};

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

fn t(s: &str) -> Time {
    s.parse().unwrap()
}

fn scope(class: &str, targets: &[&str], actions: &[&str]) -> Scope {
    Scope {
        change_class: class.into(),
        targets: targets.iter().map(|s| s.to_string()).collect(),
        actions: actions.iter().map(|s| s.to_string()).collect(),
    }
}

fn authorized_by(subject: &str) -> AuthorizedBy {
    AuthorizedBy {
        subject: subject.into(),
        issuer: "https://login.example.com".into(),
        authn_method: "sso-oidc".into(),
        mfa: true,
        assurance: "aal2".into(),
        authenticated_at: t("2026-11-22T09:12:41Z"),
        idp_verified: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn action(
    index: u64,
    time: &str,
    tool: &str,
    target: &str,
    credential: Option<u64>,
    path: Vec<u64>,
    authorization: Option<u64>,
    by: Option<AuthorizedBy>,
    ok: bool,
) -> ActionReport {
    ActionReport {
        index,
        leaf_hash: format!("{index:064x}"),
        time: t(time),
        seq: index,
        tool: tool.into(),
        target: target.into(),
        summary: if ok {
            "pushed a commit to the fix branch".into()
        } else {
            String::new()
        },
        result: "ok".into(),
        credential,
        agent: credential.map(|_| AgentReport {
            id: "agent".into(),
            model: "m".into(),
            version: String::new(),
        }),
        delegation_path: path,
        authorization,
        authorized_by: by,
        in_scope: ok,
        within_lifetime: ok,
        preflight: None,
        signer: "session key".into(),
        outcome: None,
        valid: ok,
        red_flags: Vec::new(),
    }
}

fn credential(
    index: u64,
    parent: Option<u64>,
    depth: usize,
    agent: &str,
    actions: usize,
    closure: Option<u64>,
) -> CredentialReport {
    CredentialReport {
        index,
        leaf_hash: format!("{index:064x}"),
        serial: format!("CRED-{index}"),
        agent: AgentReport {
            id: agent.into(),
            model: "claude-sonnet".into(),
            version: "4.5".into(),
        },
        parent,
        depth,
        scope: scope("standard", &[], &[]),
        preflight: None,
        issued_at: t("2026-11-22T09:30:00Z"),
        expires_at: t("2026-11-22T10:30:00Z"),
        session_key_id: format!("{index:064x}"),
        signer: "issuer".into(),
        actions,
        outcomes_ok: 0,
        outcomes_error: 0,
        closure,
        valid: true,
    }
}

fn closure(index: u64, credential: u64, actions: u64) -> ClosureReport {
    ClosureReport {
        index,
        leaf_hash: format!("{index:064x}"),
        credential: Some(credential),
        reason: ClosureReason::Voluntary,
        started_at: t("2026-11-22T09:30:00Z"),
        ended_at: t("2026-11-22T10:05:00Z"),
        actions,
        summary: "work finished".into(),
        signer: "issuer".into(),
        valid: true,
    }
}

/// A report with two changes: one clean with a three-level delegation and
/// many actions, one with red flags and a hostile record field.
fn report() -> AuditReport {
    let mut actions = Vec::new();
    let mut idx = 10;
    for (cred, n, path) in [(3, 12, vec![3]), (5, 6, vec![3, 5]), (7, 3, vec![3, 5, 7])] {
        for i in 0..n {
            actions.push(action(
                idx,
                &format!("2026-11-22T09:{:02}:00Z", 31 + i),
                "git.push",
                &format!("github.com/acme/payments-service@fix/{i}"),
                Some(cred),
                path.clone(),
                Some(0),
                Some(authorized_by("alice@example.com")),
                true,
            ));
            idx += 1;
        }
    }
    let mut hostile = action(
        50,
        "2026-11-22T14:05:00Z",
        "db.migrate",
        "<script>alert(1)</script>",
        Some(42),
        vec![42],
        Some(40),
        Some(authorized_by("mallory@example.com")),
        false,
    );
    hostile.valid = true;
    hostile.red_flags = vec![0];
    actions.push(hostile);
    let mut orphan = action(
        60,
        "2026-11-22T15:00:00Z",
        "kubectl.delete",
        "prod/payments",
        None,
        Vec::new(),
        None,
        None,
        false,
    );
    orphan.red_flags = vec![2];
    actions.push(orphan);

    let clean = ChainReport {
        index: 0,
        leaf_hash: format!("{:064x}", 0),
        approver: Identity {
            subject: "alice@example.com".into(),
            issuer: "https://login.example.com/oauth2/default".into(),
        },
        authn: Authn {
            method: "sso-oidc".into(),
            mfa: true,
            assurance: "aal2".into(),
            authenticated_at: t("2026-11-22T09:12:41Z"),
            id_token: None,
        },
        idp: IdpReport::of(&causeway_records::IdpBinding::Missing),
        plan: Plan {
            objective: "Fix rounding of ledger totals in multi-currency invoices (PAY-3312)".into(),
            method: "Coding agent edits ledger/rounding.rs on a branch and opens a pull request"
                .into(),
            test_approach: "Unit tests for banker's rounding across EUR/JPY/KWD, full CI suite"
                .into(),
            backout: "Close the pull request, or revert the merge commit and redeploy v4.18.2"
                .into(),
        },
        scope: scope(
            "standard",
            &[
                "github.com/acme/payments-service",
                "ci.acme.internal/pipelines/payments-service",
            ],
            &[
                "git.clone",
                "git.push:branch/fix/*",
                "github.pull_request.create",
            ],
        ),
        ticket: "CHG-20481".into(),
        not_before: t("2026-11-22T09:30:00Z"),
        not_after: t("2026-11-22T17:00:00Z"),
        time: t("2026-11-22T09:14:03Z"),
        signer: "alice@example.com".into(),
        valid: true,
        preflights: vec![PreflightReport {
            index: 2,
            leaf_hash: format!("{:064x}", 2),
            subject: Some(0),
            stage: Stage::Issuance,
            verdict: PreflightVerdict::Pass,
            checks: Vec::new(),
            time: t("2026-11-22T09:20:00Z"),
            signer: "scanner@acme".into(),
            valid: true,
        }],
        credentials: vec![
            credential(3, None, 1, "orchestrator", 12, Some(8)),
            credential(5, Some(3), 2, "sub-agent", 6, Some(7)),
            credential(7, Some(5), 3, "test-runner", 3, Some(6)),
        ],
        actions: (10..31).collect(),
        closures: vec![closure(6, 7, 3), closure(7, 5, 6), closure(8, 3, 12)],
        reviews: vec![ReviewReport {
            index: 9,
            leaf_hash: format!("{:064x}", 9),
            subject: Some(0),
            reviewer: Identity {
                subject: "bob@example.com".into(),
                issuer: "https://login.example.com".into(),
            },
            verdict: "approved".into(),
            started_at: t("2026-11-22T11:00:00Z"),
            finished_at: t("2026-11-22T11:24:00Z"),
            items: 21,
            time: t("2026-11-22T11:24:01Z"),
            signer: "bob@example.com".into(),
            valid: true,
        }],
        exceptions: Vec::new(),
        outcomes: Vec::new(),
        red_flags: Vec::new(),
    };
    let flagged = ChainReport {
        index: 40,
        leaf_hash: format!("{:064x}", 40),
        approver: Identity {
            subject: "mallory@example.com".into(),
            issuer: "https://login.example.com".into(),
        },
        authn: Authn {
            method: "password".into(),
            mfa: false,
            assurance: "aal1".into(),
            authenticated_at: t("2026-11-22T13:00:00Z"),
            id_token: None,
        },
        idp: IdpReport::of(&causeway_records::IdpBinding::Missing),
        plan: Plan {
            objective: "Database migration".into(),
            method: "agent runs it".into(),
            test_approach: String::new(),
            backout: String::new(),
        },
        scope: scope("normal", &["db.acme.internal/payments"], &["db.read"]),
        ticket: "CHG-20499".into(),
        not_before: t("2026-11-22T13:00:00Z"),
        not_after: t("2026-11-22T17:00:00Z"),
        time: t("2026-11-22T13:01:00Z"),
        signer: "mallory@example.com".into(),
        valid: true,
        preflights: Vec::new(),
        credentials: vec![credential(42, None, 1, "dba-agent", 1, None)],
        actions: vec![50],
        closures: Vec::new(),
        reviews: Vec::new(),
        exceptions: vec![ExceptionReport {
            index: 45,
            leaf_hash: format!("{:064x}", 45),
            credential: Some(42),
            action: None,
            reason: "emergency".into(),
            revoked: false,
            time: t("2026-11-22T14:10:00Z"),
            call_digest: None,
            signer: "mallory@example.com".into(),
            valid: true,
        }],
        outcomes: Vec::new(),
        red_flags: vec![0, 1],
    };
    let red_flags = vec![
        RedFlag {
            kind: FlagKind::ActionOutOfScope,
            record: 50,
            leaf_hash: format!("{:064x}", 50),
            authorization: Some(40),
            detail: "db.migrate on <script>alert(1)</script> is not among the approved actions"
                .into(),
        },
        RedFlag {
            kind: FlagKind::AuthorizationWithoutMfa,
            record: 40,
            leaf_hash: format!("{:064x}", 40),
            authorization: Some(40),
            detail: "authn.mfa is false".into(),
        },
        RedFlag {
            kind: FlagKind::ActionWithoutCredential,
            record: 60,
            leaf_hash: format!("{:064x}", 60),
            authorization: None,
            detail: "the action names no credential".into(),
        },
    ];
    let row = |authorization, ok| Cc81Row {
        authorization,
        authorized: true,
        documented: ok,
        tested: ok,
        reviewed: ok,
        deviations_addressed: ok,
    };
    AuditReport {
        summary: Summary {
            entries: 64,
            records: 63,
            non_records: 1,
            invalid: 1,
            authorizations: 2,
            preflights: 1,
            credentials: 4,
            actions: 23,
            exceptions: 1,
            closures: 3,
            reviews: 1,
            red_flags: 3,
            red_flags_by_kind: red_flags.iter().map(|f| (f.kind, 1)).collect(),
            actions_with_named_human: 22,
            outcomes: 0,
        },
        thresholds: Thresholds::default(),
        authorizations: vec![clean, flagged],
        actions,
        red_flags,
        matrix: Cc81Matrix {
            rows: vec![row(0, true), row(40, false)],
            totals: Cc81Totals {
                authorizations: 2,
                authorized: 2,
                documented: 1,
                tested: 1,
                reviewed: 1,
                deviations_addressed: 1,
                complete: 1,
            },
        },
        invalid: vec![InvalidEntry {
            index: 63,
            leaf_hash: format!("{:064x}", 63),
            kind: None,
            code: "invalid_argument",
            reason: "not a record envelope".into(),
        }],
    }
}

fn verification() -> Verification {
    Verification {
        status: AuditStatus::Failed,
        tree_size: 64,
        root: "ab".repeat(32),
        log_signature_verified: true,
        log_keys_checked: 1,
        witnesses_checked: true,
        witness_quorum: 2,
        cosignatures: vec![
            WitnessCosignature {
                witness: "witness-1+5e6f7a8b+BAIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=".into(),
                time: 1_795_363_000,
            },
            WitnessCosignature {
                witness: "witness-2+9c0d1e2f+BQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=".into(),
                time: 1_795_363_001,
            },
        ],
        anchors_checked: 1,
        anchors_verified_with_tsa_roots: true,
        checked: Vec::new(),
        not_checked: Vec::new(),
    }
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
    let html = render(&report(), &verification(), &trust());
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
