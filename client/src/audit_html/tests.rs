use std::collections::BTreeMap;

use causeway_records::{
    Authn, Check, ClosureReason, Identity, Kind, Plan, PreflightVerdict, Scope, Stage, Time,
};

use super::*;
use crate::audit::{
    ActionReport, AgentReport, AuditStatus, AuthorizedBy, Cc81Matrix, Cc81Row, Cc81Totals,
    ChainReport, ClosureReport, CredentialReport, FlagKind, IdpReport, InvalidEntry,
    PreflightReport, RedFlag, ReviewReport, Summary, Thresholds, WitnessCosignature,
};

fn t(s: &str) -> Time {
    s.parse().unwrap()
}

fn identity(subject: &str, issuer: &str) -> Identity {
    Identity {
        subject: subject.into(),
        issuer: issuer.into(),
    }
}

fn scope(targets: &[&str], actions: &[&str]) -> Scope {
    Scope {
        change_class: "standard".into(),
        targets: targets.iter().map(|s| s.to_string()).collect(),
        actions: actions.iter().map(|s| s.to_string()).collect(),
    }
}

fn credential(index: u64, agent: &str, parent: Option<u64>, depth: usize) -> CredentialReport {
    CredentialReport {
        index,
        leaf_hash: format!("{index:02}").repeat(32),
        serial: format!("S-{index}"),
        agent: AgentReport {
            id: agent.into(),
            model: "m1".into(),
            version: "1".into(),
        },
        parent,
        depth,
        scope: scope(&[], &[]),
        preflight: None,
        issued_at: t("2026-11-22T09:30:00Z"),
        expires_at: t("2026-11-22T10:30:00Z"),
        session_key_id: "ab".repeat(32),
        signer: "issuer".into(),
        actions: 0,
        outcomes_ok: 0,
        outcomes_error: 0,
        closure: None,
        valid: true,
    }
}

fn action(index: u64, target: &str, credential: Option<u64>, path: &[u64]) -> ActionReport {
    let traced = credential.is_some();
    ActionReport {
        index,
        leaf_hash: format!("{index:02}").repeat(32),
        time: t("2026-11-22T09:31:00Z"),
        seq: index,
        tool: "git.push".into(),
        target: target.into(),
        summary: "did it".into(),
        result: "ok".into(),
        credential,
        agent: None,
        delegation_path: path.to_vec(),
        authorization: traced.then_some(0),
        authorized_by: traced.then(|| AuthorizedBy {
            subject: "alice@example.com".into(),
            issuer: "https://login.example.com".into(),
            authn_method: "sso-oidc".into(),
            mfa: true,
            assurance: "aal2".into(),
            authenticated_at: t("2026-11-22T09:12:41Z"),
            idp_verified: None,
        }),
        in_scope: traced,
        within_lifetime: traced,
        preflight: None,
        signer: "session key".into(),
        outcome: None,
        valid: traced,
        red_flags: Vec::new(),
    }
}

fn chain(index: u64, ticket: &str) -> ChainReport {
    ChainReport {
        index,
        leaf_hash: "aa".repeat(32),
        approver: identity("alice@example.com", "https://login.example.com"),
        authn: Authn {
            method: "sso-oidc".into(),
            mfa: true,
            assurance: "aal2".into(),
            authenticated_at: t("2026-11-22T09:12:41Z"),
            id_token: None,
        },
        idp: IdpReport::of(&causeway_records::IdpBinding::Missing),
        plan: Plan {
            objective: "Fix rounding".into(),
            method: "PR on a branch".into(),
            test_approach: "unit tests".into(),
            backout: "revert".into(),
        },
        scope: scope(
            &["github.com/acme/pay"],
            &["git.clone", "git.push:branch/fix/*"],
        ),
        ticket: ticket.into(),
        not_before: t("2026-11-22T09:30:00Z"),
        not_after: t("2026-11-22T17:00:00Z"),
        time: t("2026-11-22T09:14:03Z"),
        signer: "alice@example.com".into(),
        valid: true,
        preflights: Vec::new(),
        credentials: Vec::new(),
        actions: Vec::new(),
        closures: Vec::new(),
        reviews: Vec::new(),
        exceptions: Vec::new(),
        outcomes: Vec::new(),
        red_flags: Vec::new(),
    }
}

/// A report as the analysis makes one: one chain with a delegation, two
/// red flags, an action outside any chain, an invalid entry.
fn report() -> AuditReport {
    let mut auth = chain(0, "CHG-20481");
    auth.preflights.push(PreflightReport {
        index: 1,
        leaf_hash: "01".repeat(32),
        subject: Some(0),
        stage: Stage::Issuance,
        verdict: PreflightVerdict::Pass,
        checks: vec![
            Check {
                name: "sast".into(),
                result: "pass".into(),
                detail: "clean".into(),
                cves: Vec::new(),
            },
            Check {
                name: "deps".into(),
                result: "warn".into(),
                detail: "old".into(),
                cves: vec!["CVE-2026-0001".into()],
            },
        ],
        time: t("2026-11-22T09:20:00Z"),
        signer: "scanner".into(),
        valid: true,
    });
    let mut root = credential(2, "orchestrator", None, 1);
    root.actions = 2;
    root.closure = Some(8);
    let mut sub = credential(4, "sub-agent", Some(2), 2);
    sub.actions = 1;
    sub.issued_at = t("2026-11-22T09:40:00Z");
    sub.expires_at = t("2026-11-22T10:00:00Z");
    sub.signer = "session key of #2".into();
    auth.credentials = vec![root, sub];
    auth.actions = vec![3, 5, 6];
    auth.closures.push(ClosureReport {
        index: 8,
        leaf_hash: "08".repeat(32),
        credential: Some(2),
        reason: ClosureReason::Voluntary,
        started_at: t("2026-11-22T09:30:00Z"),
        ended_at: t("2026-11-22T09:50:00Z"),
        actions: 2,
        summary: "done".into(),
        signer: "issuer".into(),
        valid: true,
    });
    auth.reviews.push(ReviewReport {
        index: 9,
        leaf_hash: "09".repeat(32),
        subject: Some(0),
        reviewer: identity("bob@example.com", "x"),
        verdict: "approved".into(),
        started_at: t("2026-11-22T11:00:00Z"),
        finished_at: t("2026-11-22T11:00:30Z"),
        items: 3,
        time: t("2026-11-22T11:00:31Z"),
        signer: "bob".into(),
        valid: true,
    });
    auth.red_flags = vec![0, 1];

    let mut pushed = action(5, "<script>alert(1)</script>", Some(4), &[4, 2]);
    pushed.in_scope = false;
    pushed.red_flags = vec![0];
    let actions = vec![
        action(3, "github.com/acme/pay", Some(2), &[2]),
        pushed,
        action(6, "ci", Some(2), &[2]),
        action(12, "prod", None, &[]),
    ];
    let red_flags = vec![
        RedFlag {
            kind: FlagKind::ActionOutOfScope,
            record: 5,
            leaf_hash: "bb".repeat(32),
            authorization: Some(0),
            detail: "target is not among the credential's \"quoted\" & <b>bold</b>".into(),
        },
        RedFlag {
            kind: FlagKind::ReviewTooFast,
            record: 9,
            leaf_hash: "cc".repeat(32),
            authorization: Some(0),
            detail: "30 s for 3 items".into(),
        },
    ];
    let mut by_kind = BTreeMap::new();
    for f in &red_flags {
        *by_kind.entry(f.kind).or_default() += 1;
    }
    AuditReport {
        summary: Summary {
            entries: 14,
            records: 13,
            non_records: 1,
            invalid: 1,
            authorizations: 1,
            preflights: 1,
            credentials: 2,
            actions: 4,
            exceptions: 0,
            closures: 1,
            reviews: 1,
            outcomes: 0,
            red_flags: 2,
            red_flags_by_kind: by_kind,
            actions_with_named_human: 3,
        },
        thresholds: Thresholds::default(),
        authorizations: vec![auth],
        actions,
        red_flags,
        matrix: Cc81Matrix {
            rows: vec![Cc81Row {
                authorization: 0,
                authorized: true,
                documented: true,
                tested: true,
                reviewed: true,
                deviations_addressed: false,
            }],
            totals: Cc81Totals {
                authorizations: 1,
                authorized: 1,
                documented: 1,
                tested: 1,
                reviewed: 1,
                deviations_addressed: 0,
                complete: 0,
            },
        },
        invalid: vec![InvalidEntry {
            index: 13,
            leaf_hash: "dd".repeat(32),
            kind: Some(Kind::Action),
            code: "permission_denied",
            reason: "bad signature <x>".into(),
        }],
    }
}

fn verification() -> Verification {
    Verification {
        status: AuditStatus::Failed,
        tree_size: 14,
        root: "ee".repeat(32),
        log_signature_verified: true,
        log_keys_checked: 1,
        witnesses_checked: true,
        witness_quorum: 2,
        cosignatures: vec![
            WitnessCosignature {
                witness: "w1+89abcdef+EfGh".into(),
                time: 1_795_340_000,
            },
            WitnessCosignature {
                witness: "w2+0000aaaa+IjKl".into(),
                time: 1_795_340_001,
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
        log_origin: "example.com/log".into(),
        log_vkeys: vec!["example.com/log+01234567+AbCd".into()],
        witness_vkeys: vec!["w1+89abcdef+EfGh".into(), "w2+0000aaaa+IjKl".into()],
        witness_quorum: 2,
        checkpoint_note: "example.com/log\n14\nroot=\n\n— example.com/log AbCd\n".into(),
        tree_size: 14,
        root_hex: "ee".repeat(32),
        anchors: vec![AnchorSummary {
            tree_size: 14,
            gen_time: "2026-11-22T12:01:00Z".into(),
            tsa: "CN=Test TSA".into(),
        }],
        tsa_roots: vec!["CN=Test TSA Root".into()],
        generated_at: "2026-11-22T12:05:00Z".into(),
        log_signatures_verified: true,
        witness_cosignatures: 2,
        anchors_verified: true,
        anchors_unavailable: None,
    }
}

fn page(r: &AuditReport, t: &TrustBasis) -> String {
    render(r, &verification(), t)
}

/// Rough structural check: every non-void element is closed in order.
fn balanced(html: &str) -> Result<(), String> {
    const VOID: [&str; 7] = ["meta", "br", "hr", "img", "input", "link", "wbr"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>').ok_or("unterminated tag")?;
        let tag = &after[..end];
        rest = &after[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() {
            return Err(format!("stray '<' before {tag:?}"));
        }
        if tag.ends_with('/') || VOID.contains(&name.as_str()) {
            continue;
        }
        if name == "style" || name == "script" {
            let close = format!("</{name}>");
            let i = rest.find(&close).ok_or("unclosed raw text")?;
            rest = &rest[i + close.len()..];
            continue;
        }
        stack.push(name);
    }
    if stack.is_empty() {
        Ok(())
    } else {
        Err(format!("unclosed: {stack:?}"))
    }
}

#[test]
fn renders_the_key_content() {
    let html = page(&report(), &trust());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    for s in [
        "CC8.1",
        ">Authorized</th>",
        ">Documented</th>",
        ">Tested</th>",
        ">Reviewed</th>",
        ">Deviations addressed</th>",
        "<tfoot>",
        "id=\"matrix-table\"",
        "id=\"red-flags\"",
        "<code>action_out_of_scope</code>",
        "<code>review_too_fast</code>",
        "An agent action on a target, or with an operation, outside its credential's scope",
        // Every claimed name comes with the verified signer.
        "alice@example.com <small>(signed by alice@example.com)</small>",
        "bob@example.com <small class=\"bad\">(signed by bob)</small>",
        "alice@example.com (signed by alice@example.com) approved",
        "The review was too quick to be a real review",
        "1</b> × The review was too quick",
        "Min review seconds per item",
        "0 of 1</b> change has all five",
        "CVE-2026-0001",
        "Session closures",
        "What was checked when this report was made",
        "w1+89abcdef+EfGh</code> at 2026-11-22 09:33:20 UTC",
        "2026-11-22 09:40–10:00 UTC (20 minutes)",
        "permission_denied",
        "id=\"auth-0\"",
        "id=\"record-0\"",
        "id=\"record-2\"",
        "id=\"record-4\"",
        "id=\"record-5\"",
        "id=\"record-8\"",
        "id=\"record-9\"",
        "id=\"record-12\"",
        "id=\"record-13\"",
        "href=\"#record-5\"",
        "href=\"#record-9\"",
        "<svg class=\"chain\"",
        "AGENT CREDENTIAL #4 · depth 2",
        "SESSION CLOSED #8",
        "✓ reports 2 actions",
        "href=\"#record-4\">#4</a> → <a href=\"#record-2\">#2</a>",
        "⚠ RED FLAG",
        "<details>",
        "2 red flags need attention",
        "CHG-20481",
        "sso-oidc",
        "aal2",
        "causeway verify-tiles",
        "causeway verify-anchor",
        "openssl ts -verify",
        "--witness-vkey w2+0000aaaa+IjKl --quorum 2",
        "<pre>example.com/log\n14\n",
        "id=\"unlinked\"",
        "id=\"invalid\"",
        "bad signature &lt;x&gt;",
        "took 30 seconds",
    ] {
        assert!(html.contains(s), "missing {s:?}");
    }
    // Every record link has its anchor.
    let mut rest = html.as_str();
    while let Some(i) = rest.find("href=\"#") {
        let frag = &rest[i + 7..];
        let id = &frag[..frag.find('"').unwrap()];
        assert!(
            html.contains(&format!("id=\"{id}\"")),
            "no anchor for #{id}"
        );
        rest = frag;
    }
}

#[test]
fn a_record_that_fails_admission_says_so() {
    let mut r = report();
    r.authorizations[0].credentials[1].valid = false;
    let html = page(&r, &trust());
    assert!(html.contains("✗ fails the log's admission checks"));
}

#[test]
fn escapes_record_text() {
    let html = page(&report(), &trust());
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;"));
    assert!(!html.contains("<b>bold</b>"));
    // Only the page's own script.
    assert_eq!(html.matches("<script").count(), 1);
    assert_eq!(text::dash("x\u{202e}y\u{0}"), "xy\u{fffd}");
    assert_eq!(text::dash("a\u{200b}\u{2028}\u{e0041}b"), "ab");
    assert_eq!(text::dash("\u{200b}"), "—");
}

#[test]
fn escapes_everything_in_a_hostile_report() {
    let evil = "<script>alert(1)</script>\"'&\u{202e}";
    let mut r = report();
    // The payload in every string a record controls.
    let a = &mut r.authorizations[0];
    a.ticket = evil.into();
    a.approver = identity(evil, evil);
    a.authn.method = evil.into();
    a.authn.assurance = evil.into();
    a.plan.objective = evil.into();
    a.plan.method = evil.into();
    a.scope = scope(&[evil], &[evil]);
    a.signer = evil.into();
    a.preflights[0].signer = evil.into();
    a.preflights[0].checks[0].name = evil.into();
    a.preflights[0].checks[0].detail = evil.into();
    a.preflights[0].checks[1].cves = vec![evil.into()];
    for c in &mut a.credentials {
        c.agent.id = evil.into();
        c.agent.model = evil.into();
        c.serial = evil.into();
        c.session_key_id = evil.into();
        c.scope = scope(&[evil], &[evil]);
    }
    a.closures[0].summary = evil.into();
    a.reviews[0].reviewer = identity(evil, evil);
    a.reviews[0].verdict = evil.into();
    a.reviews[0].signer = evil.into();
    for x in &mut r.actions {
        x.tool = evil.into();
        x.target = evil.into();
        x.summary = evil.into();
    }
    for f in &mut r.red_flags {
        f.detail = evil.into();
        f.leaf_hash = evil.into();
    }
    r.invalid[0].reason = evil.into();
    let t = TrustBasis {
        log_origin: evil.into(),
        log_vkeys: vec![evil.into()],
        checkpoint_note: evil.into(),
        tsa_roots: vec![evil.into()],
        anchors_unavailable: Some(evil.into()),
        ..trust()
    };
    let html = page(&r, &t);
    assert!(!html.contains("<script>alert"), "unescaped payload");
    assert!(!html.contains("\"'&"), "unescaped quotes");
    assert!(!html.contains('\u{202e}'), "invisible characters kept");
    assert_eq!(html.matches("<script").count(), 1);
    balanced(&html).unwrap();
}

#[test]
fn is_self_contained_and_well_formed() {
    let html = page(&report(), &trust());
    balanced(&html).unwrap();
    let lower = html.to_ascii_lowercase();
    for bad in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "href='http",
        "url(http",
        "url(//",
        "@import",
        "<script src",
        "<link",
        "<img",
        "<iframe",
        "src=\"//",
        "href=\"//",
    ] {
        assert!(!lower.contains(bad), "external reference {bad:?}");
    }
    // Every href is a fragment within the page.
    for (i, _) in lower.match_indices("href=\"") {
        assert!(lower[i + 6..].starts_with('#'), "{}", &lower[i..i + 40]);
    }
    assert!(lower.contains("content-security-policy"));
    assert!(lower.contains("@media print"));
    // The CSP names the one script's hash.
    assert!(html.contains(&format!("'sha256-{}'", style::script_hash())));
}

#[test]
fn renders_an_empty_report() {
    let empty = AuditReport {
        summary: Summary::default(),
        thresholds: Thresholds::default(),
        authorizations: Vec::new(),
        actions: Vec::new(),
        red_flags: Vec::new(),
        matrix: Cc81Matrix::default(),
        invalid: Vec::new(),
    };
    let html = page(&empty, &TrustBasis::default());
    balanced(&html).unwrap();
    assert!(html.contains("No changes."));
    assert!(html.contains("No red flags"));
    assert!(html.contains("0 records, 0 actions: no agent actions and no red flags"));
    // A chain with nothing under it shows what is missing.
    let mut r = empty.clone();
    r.authorizations.push(chain(0, ""));
    let html = page(&r, &trust());
    balanced(&html).unwrap();
    assert!(html.contains("Change —"));
    assert!(html.contains("None recorded for this change"));
    assert!(html.contains("none issued under this approval"));
    assert!(html.contains("No review recorded for this change"));
}

/// The sample report with its red flags and invalid entries removed:
/// every action traces to a human approval.
fn clean_report() -> AuditReport {
    let mut r = report();
    r.red_flags.clear();
    r.authorizations[0].red_flags.clear();
    for a in &mut r.actions {
        a.red_flags.clear();
    }
    r.summary.actions_with_named_human = 4;
    r.summary.red_flags = 0;
    r.invalid.clear();
    r
}

#[test]
fn verdict_when_all_is_well() {
    let html = page(&clean_report(), &trust());
    assert!(html.contains("13 records, 4 actions: every action traces to a human approval"));
}

#[test]
fn an_unverified_audit_is_never_green_and_claims_no_signature() {
    let r = clean_report();
    let t = TrustBasis {
        log_vkeys: Vec::new(),
        log_signatures_verified: false,
        ..trust()
    };
    let html = page(&r, &t);
    assert!(html.contains("class=\"verdict unverified\""), "{html}");
    assert!(!html.contains("class=\"verdict good\""));
    assert!(html.contains("⚠ UNVERIFIED: 13 records, 4 actions"));
    assert!(html.contains("The log's signatures on the checkpoint below were NOT verified"));
    assert!(html.contains("✗ NOT verified</span> (<code>--unverified</code>"));
    assert!(!html.contains("The log's signature on the checkpoint below was verified"));
    assert!(html.contains("--vkey LOG_VKEY"));
    // The same report with the keys checked is green.
    assert!(page(&r, &trust()).contains("class=\"verdict good\""));
    // The default trust basis claims nothing.
    let html = page(&r, &TrustBasis::default());
    assert!(html.contains("class=\"verdict unverified\""));
    assert!(html.contains("No witness was checked"));
}

#[test]
fn the_trust_section_says_what_was_not_checked() {
    let t = TrustBasis {
        witness_vkeys: Vec::new(),
        witness_quorum: 0,
        witness_cosignatures: 0,
        anchors_verified: false,
        tsa_roots: Vec::new(),
        ..trust()
    };
    let html = page(&report(), &t);
    assert!(html.contains("No witness was checked</strong> (no witness keys were given)"));
    assert!(html.contains("none checked (no witness keys given)"));
    assert!(html.contains("✗ not checked</span>: no witness keys were given"));
    assert!(html.contains("The 1 timestamp anchor listed by the log was NOT verified"));
    assert!(html.contains("✗ TSA signatures not verified"));
    assert!(!html.contains("cosigned it"));
    let html = page(&report(), &trust());
    assert!(html.contains("<dt>Tree</dt><dd><span class=\"ok\">✓ recomputed</span>"));
    assert!(html.contains("2 of the 2 witnesses listed cosigned it (2 required)"));
    assert!(html.contains("✓ 1 anchor verified</span>"));
    assert!(html.contains("✓ verified</span> with 1 log key"));
    let t = TrustBasis {
        anchors: Vec::new(),
        anchors_unavailable: Some("the log at http://127.0.0.1:9 is unreachable".into()),
        ..trust()
    };
    let html = page(&report(), &t);
    assert!(html.contains(
        "No timestamp anchor was checked: the log at http://127.0.0.1:9 is unreachable."
    ));
    // A root the report did not recompute is not claimed.
    let t = TrustBasis {
        root_hex: "ff".repeat(32),
        ..trust()
    };
    let html = page(&report(), &t);
    assert!(html.contains("<dt>Tree</dt><dd>— (no recomputed root in this report)</dd>"));
}

#[test]
fn many_chains() {
    let mut r = report();
    r.authorizations.clear();
    r.actions.clear();
    r.red_flags.clear();
    for a in 0..300u64 {
        let base = a * 1000;
        let mut auth = chain(base, &format!("CHG-{a}"));
        let mut cred = credential(base + 1, "agent", None, 1);
        cred.actions = 100;
        auth.credentials.push(cred);
        auth.actions = (0..100).map(|i| base + 2 + i).collect();
        r.authorizations.push(auth);
        for i in 0..100 {
            let mut x = action(base + 2 + i, "t", Some(base + 1), &[base + 1]);
            x.authorization = Some(base);
            r.actions.push(x);
        }
    }
    let html = page(&r, &trust());
    assert!(html.contains("id=\"auth-299000\""));
    assert!(html.contains("id=\"record-299101\""));
    assert!(!html.contains("id=\"unlinked\""));
    balanced(&html).unwrap();
}

#[test]
fn delegations_in_tree_order() {
    let mut auth = chain(0, "CHG-1");
    auth.credentials = vec![
        credential(1, "a", None, 1),
        credential(2, "b", None, 1),
        credential(3, "c", Some(1), 2),
        credential(4, "d", Some(3), 3),
        credential(5, "e", Some(2), 2),
    ];
    let order: Vec<u64> = view::credential_tree(&auth)
        .iter()
        .map(|c| c.index)
        .collect();
    assert_eq!(order, [1, 3, 4, 2, 5]);
}

#[test]
fn times() {
    assert_eq!(
        text::when(t("2026-11-22T09:30:00Z")),
        "2026-11-22 09:30:00 UTC"
    );
    assert_eq!(
        text::when(t("2026-11-22T09:30:00.5Z")),
        "2026-11-22 09:30:00.500 UTC"
    );
    assert_eq!(
        text::when_text("2026-11-22T09:30:00Z"),
        "2026-11-22 09:30:00 UTC"
    );
    // Not RFC 3339 UTC as the records write it: shown as it is.
    assert_eq!(text::when_text("yesterday"), "yesterday");
    assert_eq!(text::when_text(""), "—");
    assert_eq!(text::when_secs(1_795_340_000), "2026-11-22 09:33:20 UTC");
    assert_eq!(
        text::validity(t("2026-11-22T09:30:00Z"), t("2026-11-23T09:30:00Z")),
        "2026-11-22 09:30:00 UTC → 2026-11-23 09:30:00 UTC"
    );
}

#[test]
fn shows_outcomes_and_refused_calls() {
    use crate::audit::{ActionOutcome, ExceptionReport, OutcomeReport};
    use causeway_records::OutcomeStatus;
    let mut r = report();
    let digest = format!("sha256:{}", "5d".repeat(32));
    let auth = &mut r.authorizations[0];
    auth.credentials[0].outcomes_ok = 1;
    auth.credentials[0].outcomes_error = 1;
    auth.outcomes = vec![
        OutcomeReport {
            index: 10,
            leaf_hash: "10".repeat(32),
            action: Some(3),
            credential: Some(2),
            status: OutcomeStatus::Ok,
            error: None,
            result_digest: digest.clone(),
            time: t("2026-11-22T09:31:01Z"),
            signer: "orchestrator (session key of credential 2)".into(),
            valid: true,
        },
        OutcomeReport {
            index: 11,
            leaf_hash: "11".repeat(32),
            action: Some(6),
            credential: Some(2),
            status: OutcomeStatus::Error,
            error: Some("timeout".into()),
            result_digest: digest.clone(),
            time: t("2026-11-22T09:31:02Z"),
            signer: "orchestrator (session key of credential 2)".into(),
            valid: true,
        },
    ];
    auth.exceptions.push(ExceptionReport {
        index: 7,
        leaf_hash: "07".repeat(32),
        credential: Some(2),
        action: None,
        reason: "refused git.push to main".into(),
        revoked: false,
        time: t("2026-11-22T09:35:00Z"),
        call_digest: Some(format!("sha256:{}", "e9".repeat(32))),
        signer: "deploy-gate".into(),
        valid: true,
    });
    r.actions[0].outcome = Some(ActionOutcome {
        index: 10,
        status: OutcomeStatus::Ok,
        error: None,
        result_digest: digest,
        time: t("2026-11-22T09:31:01Z"),
    });
    let html = page(&r, &trust());
    balanced(&html).unwrap();
    assert!(html.contains("Call outcomes"), "the outcome table");
    assert!(html.contains("1 ok"), "the credential's ok count");
    assert!(html.contains("1 error"), "the credential's error count");
    assert!(html.contains("timeout"), "the error class");
    assert!(html.contains("refused call"), "the refused call");
    assert!(
        html.contains(&format!("sha256:{}", "e9".repeat(32))),
        "its digest"
    );
    assert!(html.contains("Returned"), "the actions' outcome column");
}

/// A change with 100,000 actions and 2,000 red flags renders as a page of
/// a few hundred KB: its first and last actions and the flagged ones, a
/// row saying how many were left out and where they are, and the first
/// red flags with the count of the rest.
#[test]
fn a_change_with_many_actions_stays_small() {
    const N: u64 = 100_000;
    let mut r = report();
    r.authorizations.truncate(1);
    r.actions.clear();
    r.red_flags.clear();
    let auth = &mut r.authorizations[0];
    auth.actions = (0..N).map(|i| 10 + i).collect();
    auth.red_flags.clear();
    for i in 0..N {
        let mut a = action(10 + i, "github.com/acme/pay", Some(1), &[1]);
        // Every 50th of the middle thousand is outside the scope.
        if (50_000..51_000).contains(&i) && i % 50 == 0 {
            a.in_scope = false;
            a.red_flags = vec![r.red_flags.len()];
            r.red_flags.push(RedFlag {
                kind: FlagKind::ActionOutOfScope,
                record: 10 + i,
                leaf_hash: a.leaf_hash.clone(),
                authorization: Some(0),
                detail: "out of scope".into(),
            });
        }
        r.actions.push(a);
    }
    for i in 0..2_000u64 {
        r.red_flags.push(RedFlag {
            kind: FlagKind::ActionAfterExpiry,
            record: 10 + i,
            leaf_hash: String::new(),
            authorization: Some(0),
            detail: "late".into(),
        });
    }
    let html = page(&r, &trust());
    assert!(html.len() < 1_000_000, "{} bytes", html.len());
    for shown in [10, 10 + N - 1, 10 + 50_000, 10 + 50_950] {
        assert!(html.contains(&format!("id=\"record-{shown}\"")), "#{shown}");
    }
    assert!(
        !html.contains("id=\"record-30010\""),
        "an unflagged middle action is shown"
    );
    assert!(html.contains("more actions not shown here"));
    assert!(html.contains("href=\"actions.jsonl\""));
    assert!(html.contains("more red flags not shown here"));
    assert!(html.contains("href=\"findings.jsonl\""));
    balanced(&html).unwrap();
}
