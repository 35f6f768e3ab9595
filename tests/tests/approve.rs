//! `causeway approve` against a real OpenID provider (npm's certified
//! `oidc-provider`, tests/oidc) and a real `causeway-server` whose policy
//! pins that provider: the browser login is played by tests/oidc/login.mjs
//! through the provider's own endpoints, the ID token lands in the
//! authorization, and the log and the auditor both check it. Each forgery
//! the issue names is replayed and refused with PERMISSION_DENIED naming
//! the claim.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use causeway_client::LogClient;
use causeway_records::{Envelope, Record};
use causeway_tests::audit::{audit_args, with_vkeys};
use causeway_tests::issuer::{Caller, Issuer, write_config};
use causeway_tests::oidc::{Provider, claims};
use causeway_tests::{Pki, Producers, Server, binary, cli};
use serde_json::Value;

const PLAN: &str = r#"
ticket = "CHG-4821"
objective = "Fix rounding of ledger totals in multi-currency invoices"
method = "Agent edits ledger/rounding.rs on a branch and opens a pull request"
test_approach = "Unit tests, the full CI suite, a reconciliation diff in staging"
backout = "Close the pull request, or revert the merge and redeploy v4.18.2"
not_before = "{not_before}"
valid_for = "4h"

[scope]
change_class = "standard"
targets = ["github.com/acme/payments-service"]
actions = ["git.clone", "git.push:branch/fix/*", "github.pull_request.create"]
"#;

struct Deployment {
    dir: tempfile::TempDir,
    policy: PathBuf,
    server: Server,
    provider: Provider,
}

impl Deployment {
    /// A provider, and a log whose policy pins it and requires it; `idp`
    /// adds lines to the `[[idp]]` table.
    fn start(idp: impl FnOnce(&Provider) -> String) -> Deployment {
        let provider = Provider::start().expect("the test OpenID provider starts");
        let idp = idp(&provider);
        let dir = tempfile::tempdir().unwrap();
        let producers = Producers::new();
        let policy = producers.write(&dir.path().join("producers"));
        let text = std::fs::read_to_string(&policy).unwrap();
        let at = text.find("\n[audit]").expect("an [audit] table");
        let (head, audit) = text.split_at(at);
        std::fs::copy(
            provider.jwks_path(),
            dir.path().join("producers/idp.jwks.json"),
        )
        .unwrap();
        let pinned = format!(
            "require_idp = true\n{head}\n[[idp]]\nname = \"test-sso\"\nissuer = \"{}\"\n\
             audience = \"causeway-approve\"\njwks_file = \"idp.jwks.json\"\n{idp}\n{audit}",
            provider.issuer()
        );
        std::fs::write(&policy, pinned).unwrap();
        let not_before = causeway_tests::fixtures::t(causeway_tests::fixtures::now() - 60);
        std::fs::write(
            dir.path().join("plan.toml"),
            PLAN.replace("{not_before}", &not_before),
        )
        .unwrap();
        let server = Server::with_policy(&dir.path().join("log"), &policy);
        Deployment {
            dir,
            policy,
            server,
            provider,
        }
    }

    fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).to_str().unwrap().to_owned()
    }

    /// `causeway approve` with the log's URL and keys, the plan and
    /// alice's key, then `args`.
    fn approve(&self, args: &[&str]) -> Command {
        self.approve_as("approver", args)
    }

    /// The same, signed with the key `stem` (`approver` is alice,
    /// `reviewer` bob).
    fn approve_as(&self, stem: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(binary("causeway"));
        cmd.args(["approve", "--log", &self.server.url, "--yes", "--json"])
            .args(["--plan", &self.path("plan.toml")])
            .args(["--key", &self.path(&format!("producers/{stem}.pem"))])
            .env_remove("CAUSEWAY_VKEYS")
            .env_remove("CAUSEWAY_LOG");
        for v in &self.server.vkeys {
            cmd.args(["--vkey", v]);
        }
        cmd.args(args);
        cmd
    }

    /// Runs the OIDC login as `user`, playing the browser; returns the
    /// command's JSON output.
    fn approve_with_login(&self, stem: &str, user: &str) -> Value {
        let mut child = self
            .approve_as(
                stem,
                &[
                    "--oidc-issuer",
                    self.provider.issuer(),
                    "--client-id",
                    "causeway-approve",
                    "--no-browser",
                ],
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        let url = loop {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "approve ended before printing a login URL: {seen}"
            );
            seen.push_str(&line);
            if let Some(url) = line.trim().strip_prefix("Open this URL to log in: ") {
                break url.to_owned();
            }
        };
        self.provider.login(&url, user).expect("the login");
        let out = child.wait_with_output().unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "approve failed: {seen}{rest}");
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }

    /// Runs `cmd`; returns success, stdout, stderr.
    fn run(mut cmd: Command) -> (bool, String, String) {
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// This plan's digest, as the command computes it (dry run).
    fn nonce(&self) -> String {
        let (ok, out, err) =
            Self::run(self.approve(&["--approver", "alice@example.com", "--dry-run"]));
        assert!(ok, "{err}");
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        v["nonce"].as_str().unwrap().to_owned()
    }

    /// A real token for alice from the approval client, for this plan.
    fn alice_token_for_this_plan(&self) -> String {
        self.provider
            .token_for("causeway-approve", "alice@example.com", &self.nonce())
            .expect("a token from the provider")
    }

    /// Submits the authorization with `token` through `--id-token`;
    /// returns success and stderr.
    fn approve_with_token(&self, token: &str) -> (bool, String) {
        let file = self.path("token.jws");
        std::fs::write(&file, token).unwrap();
        let (ok, _, err) = Self::run(self.approve(&["--id-token", &file]));
        (ok, err)
    }

    async fn record(&self, index: u64) -> causeway_records::Authorization {
        let mut client = LogClient::connect(&self.server.url).await.unwrap();
        let entry = client.entries(index, 1).await.unwrap().pop().unwrap();
        match Envelope::decode(&entry).unwrap().record().unwrap() {
            Record::Authorization(a) => a,
            other => panic!("not an authorization: {other:?}"),
        }
    }

    /// `causeway audit` of the log; the summary and report.json.
    fn audit(&self) -> (Value, Value) {
        let out = self.dir.path().join("audit");
        let args = with_vkeys(
            audit_args(
                &self.server.url,
                &self.server.tiles_url,
                &self.policy,
                &out,
                &["--json"],
            ),
            &self.server.vkeys,
        );
        let (ok, stdout, stderr) = cli(&args);
        assert!(ok, "causeway audit failed: {stderr}");
        let report = std::fs::read_to_string(out.join("report.json")).unwrap();
        (
            serde_json::from_str(stdout.trim()).unwrap(),
            serde_json::from_str(&report).unwrap(),
        )
    }
}

fn flags(summary: &Value, kind: &str) -> Vec<u64> {
    summary["red_flags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .map(|f| f["record"].as_u64().unwrap())
        .collect()
}

fn assert_refused(outcome: (bool, String), claim: &str) {
    let (ok, stderr) = outcome;
    assert!(!ok, "the log accepted it");
    assert!(
        stderr.contains("PermissionDenied") || stderr.contains("permission"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("claim {claim}")),
        "{claim}: {stderr}"
    );
}

#[tokio::test]
async fn an_approval_after_a_real_idp_login_is_bound_to_the_plan_and_audited() {
    let d = Deployment::start(|_| String::new());
    let alice = d.approve_with_login("approver", "alice@example.com");
    let bob = d.approve_with_login("reviewer", "bob@example.com");

    let a = d.record(alice["index"].as_u64().unwrap()).await;
    assert_eq!(a.approver.subject, "alice@example.com");
    assert_eq!(a.approver.issuer, d.provider.issuer());
    assert_eq!(a.authn.method, "oidc");
    assert!(a.authn.mfa, "alice logs in with pwd+otp");
    let token = a
        .authn
        .id_token
        .clone()
        .expect("the ID token is in the record");
    let c = claims(&token).unwrap();
    assert_eq!(c["nonce"], alice["nonce"]);
    assert_eq!(
        c["auth_time"].as_i64(),
        Some(a.authn.authenticated_at.seconds())
    );
    assert_eq!(c["acr"].as_str(), Some(a.authn.assurance.as_str()));
    let b = d.record(bob["index"].as_u64().unwrap()).await;
    assert!(!b.authn.mfa, "bob logs in with a password only");

    let (summary, report) = d.audit();
    assert_eq!(
        flags(&summary, "authorization_not_idp_bound"),
        Vec::<u64>::new()
    );
    assert_eq!(
        flags(&summary, "authorization_without_mfa"),
        [bob["index"].as_u64().unwrap()]
    );
    let chains = report["authorizations"].as_array().unwrap();
    assert_eq!(chains.len(), 2);
    for chain in chains {
        assert_eq!(chain["idp"]["status"], "verified", "{chain}");
        let text = chain["idp"]["summary"].as_str().unwrap();
        assert!(text.contains("authenticated by test-sso"), "{text}");
        assert!(text.contains("bound to this plan"), "{text}");
    }
}

#[tokio::test]
async fn an_approval_without_a_login_is_refused_when_the_policy_requires_one() {
    let d = Deployment::start(|_| String::new());
    let (ok, _, err) = Deployment::run(d.approve(&["--approver", "alice@example.com"]));
    assert!(!ok);
    assert!(err.contains("require_idp"), "{err}");
}

#[tokio::test]
async fn a_token_for_another_plan_is_refused_by_the_command_and_by_the_log() {
    let d = Deployment::start(|_| String::new());
    let other = d
        .provider
        .token_for(
            "causeway-approve",
            "alice@example.com",
            "digest-of-another-plan",
        )
        .unwrap();
    let (ok, err) = d.approve_with_token(&other);
    assert!(!ok);
    assert!(err.contains("not this plan's digest"), "{err}");

    // A producer that skips the command's check: sign this plan's record
    // with the real token, then change the ticket. The log recomputes the
    // nonce from the record it is given.
    let token = d.alice_token_for_this_plan();
    let file = d.path("token.jws");
    std::fs::write(&file, &token).unwrap();
    let (ok, out, err) = Deployment::run(d.approve(&["--id-token", &file, "--dry-run"]));
    assert!(ok, "{err}");
    let mut record = serde_json::from_str::<Value>(out.trim()).unwrap()["record"].clone();
    record["ticket"] = Value::from("CHG-9999");
    let json = d.path("moved.json");
    std::fs::write(&json, record.to_string()).unwrap();
    let (ok, _, err) = cli(&[
        "submit",
        "--log",
        &d.server.url,
        "--key",
        &d.path("producers/approver.pem"),
        "--kind",
        "authorization",
        &json,
    ]);
    assert_refused((ok, err), "nonce");
}

#[tokio::test]
async fn a_token_issued_to_another_application_is_refused() {
    let d = Deployment::start(|_| String::new());
    let token = d
        .provider
        .token_for("other-app", "alice@example.com", &d.nonce())
        .unwrap();
    assert_refused(d.approve_with_token(&token), "aud");
}

#[tokio::test]
async fn a_token_signed_by_a_retired_key_is_refused() {
    // The policy says the provider's key stopped being trusted an hour
    // ago: a new token it signs is refused.
    let d = Deployment::start(|provider| {
        let jwks: Value =
            serde_json::from_str(&std::fs::read_to_string(provider.jwks_path()).unwrap()).unwrap();
        let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
        format!(
            "retired = [{{ kid = \"{kid}\", not_after = \"{}\" }}]",
            causeway_tests::fixtures::t(causeway_tests::fixtures::now() - 3600)
        )
    });
    let token = d.alice_token_for_this_plan();
    assert_refused(d.approve_with_token(&token), "kid");
}

#[tokio::test]
async fn an_unsigned_token_is_refused() {
    let d = Deployment::start(|_| String::new());
    let real = d.alice_token_for_this_plan();
    let body = real.split('.').nth(1).unwrap();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    assert_refused(d.approve_with_token(&format!("{header}.{body}.")), "alg");
}

#[tokio::test]
async fn a_token_macd_with_the_providers_public_key_is_refused() {
    let d = Deployment::start(|_| String::new());
    let real = d.alice_token_for_this_plan();
    let body = real.split('.').nth(1).unwrap();
    let kid = claims_header_kid(&real);
    let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#));
    let input = format!("{header}.{body}");
    // The secret an attacker would try: the public JWKS the log pins.
    let secret = std::fs::read(d.provider.jwks_path()).unwrap();
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret),
        input.as_bytes(),
    );
    let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
    assert_refused(d.approve_with_token(&forged), "alg");
}

fn claims_header_kid(jws: &str) -> String {
    let header = URL_SAFE_NO_PAD
        .decode(jws.split('.').next().unwrap())
        .unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap_or_default().to_owned()
}

/// Runs `causeway` with `args` (trust settings from the environment
/// cleared); returns success, stdout, stderr.
fn causeway(args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(binary("causeway"));
    cmd.args(args)
        .env_remove("CAUSEWAY_VKEYS")
        .env_remove("CAUSEWAY_LOG")
        .env_remove("CAUSEWAY_ISSUER");
    Deployment::run(cmd)
}

fn json_of(out: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The framework's first four parts with real producers: alice approves
/// after a real identity-provider login, `causeway preflight` passes the
/// change, `causeway-issuer` hands an agent a credential bound to both
/// over mutual TLS, the agent acts under its own session key, the issuer
/// revokes it and the log refuses the next action. The audit finds no red
/// flag and names the IdP-proven human behind every action.
#[tokio::test]
async fn the_whole_chain_from_an_idp_login_to_a_revoked_credential_audits_clean() {
    let d = Deployment::start(|_| String::new());
    let approval = d.approve_with_login("approver", "alice@example.com");
    let authorization = approval["leaf_hash"].as_str().unwrap().to_owned();

    let testdata = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let (osv, lockfile) = (
        testdata.join("osv").display().to_string(),
        testdata
            .join("preflight/miss/Cargo.lock")
            .display()
            .to_string(),
    );
    let log = d.server.url.clone();
    let with_log = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--log", log.as_str()]);
        for v in &d.server.vkeys {
            all.extend(["--vkey", v.as_str()]);
        }
        causeway(&all)
    };
    let (ok, out, err) = with_log(&[
        "preflight",
        "--json",
        "--subject",
        &authorization,
        "--key",
        &d.path("producers/verifier.pem"),
        "--osv",
        &osv,
        "--lockfile",
        &lockfile,
    ]);
    assert!(ok, "preflight: {err}");
    let preflight = json_of(&out)["leaf_hash"].as_str().unwrap().to_owned();

    let pki = Pki::new(d.dir.path(), "issuer-ca");
    let (cert, key) = pki.issue("issuer", true);
    let (caller_cert, caller_key) = pki.issue("agent-runtime", false);
    let config = d.dir.path().join("issuer.toml");
    write_config(
        &config,
        &d.server,
        &d.policy,
        &d.dir.path().join("producers/issuer.pem"),
        (&cert, &key, &pki.ca()),
        &[Caller {
            subject: "agent-runtime",
            agents: &["agent://demo/*"],
        }],
        "",
    );
    let issuer = Issuer::start(&config, false);
    let ca = pki.ca().display().to_string();
    let (caller_cert, caller_key) = (
        caller_cert.display().to_string(),
        caller_key.display().to_string(),
    );
    let issuer_args = [
        "--issuer",
        issuer.url.as_str(),
        "--issuer-ca",
        ca.as_str(),
        "--issuer-cert",
        caller_cert.as_str(),
        "--issuer-key",
        caller_key.as_str(),
        "--json",
    ];
    let session = d.path("session.pem");
    let mut issue = vec!["credential", "issue"];
    issue.extend(issuer_args);
    issue.extend([
        "--authorization",
        &authorization,
        "--preflight",
        &preflight,
        "--agent-id",
        "agent://demo/coder",
        "--agent-model",
        "example-model",
        "--target",
        "github.com/acme/payments-service",
        "--action",
        "git.push:branch/fix/*",
        "--ttl",
        "30m",
        "--key-out",
        &session,
    ]);
    let (ok, out, err) = causeway(&issue);
    assert!(ok, "credential issue: {err}");
    let credential = json_of(&out)["credential"].as_str().unwrap().to_owned();

    let act = |seq: u64| -> (bool, String, String) {
        let file = d.path(&format!("action-{seq}.json"));
        let action = serde_json::json!({
            "credential": credential, "seq": seq, "tool": "git",
            "target": "github.com/acme/payments-service",
            "operation": "git.push:branch/fix/rounding",
            "summary": "pushed branch fix/rounding", "digest": "sha256:0f1e", "result": "ok",
            "time": causeway_tests::fixtures::now_ms(),
        });
        std::fs::write(&file, action.to_string()).unwrap();
        causeway(&[
            "submit",
            "--log",
            &d.server.url,
            "--key",
            &session,
            "--kind",
            "action",
            &file,
        ])
    };
    for seq in [1, 2] {
        let (ok, _, err) = act(seq);
        assert!(ok, "action {seq}: {err}");
    }
    let mut revoke = vec!["credential", "revoke"];
    revoke.extend(issuer_args);
    revoke.extend(["--credential", &credential, "--reason", "change done"]);
    let (ok, _, err) = causeway(&revoke);
    assert!(ok, "revoke: {err}");
    let (ok, _, err) = act(3);
    assert!(!ok, "an action after revocation was accepted");
    assert!(err.contains("revoked"), "{err}");

    let (summary, report) = d.audit();
    assert_eq!(summary["red_flags"], serde_json::json!([]), "{summary}");
    assert_eq!(
        summary["summary"]["actions_with_named_human"]
            .as_u64()
            .or(summary["actions_with_named_human"].as_u64()),
        Some(2),
        "{summary}"
    );
    assert_eq!(report["summary"]["actions"], 2);
    let actions = causeway_tests::audit::report_actions(&d.dir.path().join("audit"));
    assert_eq!(actions.len(), 2);
    for a in &actions {
        assert_eq!(a["authorized_by"]["subject"], "alice@example.com", "{a}");
        assert_eq!(a["authorized_by"]["idp_verified"], "test-sso", "{a}");
    }
}
