//! `causeway preflight` against a real `causeway-server`: the checks run on
//! the real advisories in `testdata/osv/` and the lockfiles in
//! `testdata/preflight/`, the record is signed with the verifier's key and
//! submitted, and the exit code says pass (0), block (3) or error (1).
//! Then `causeway audit` reads logs built from the command's own records,
//! and the auditor's pre-flight rules (`missing_preflight`,
//! `blocked_preflight_ignored`, `self_preflight`) fire exactly where they
//! should.

use std::path::{Path, PathBuf};
use std::process::Command;

use causeway_client::LogClient;
use causeway_records::{Envelope, Kind, PreflightVerdict, ProducerKey, Record, Stage};
use causeway_tests::audit::{audit_args, with_vkeys};
use causeway_tests::fixtures::{add, credential, env, now, t, ticket_authorization};
use causeway_tests::{Producers, Server, binary, cli};
use causeway_tlog::merkle::Hash;
use serde_json::Value;

/// The OSV advisories and lockfiles of the repository's test data.
fn testdata(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(rel)
        .to_str()
        .expect("a UTF-8 path")
        .to_owned()
}

/// Lockfiles of every format that miss every advisory (the fixed versions).
const MISS: [&str; 5] = [
    "preflight/miss/Cargo.lock",
    "preflight/miss/package-lock.json",
    "preflight/miss/requirements.txt",
    "preflight/miss/poetry.lock",
    "preflight/miss/go.sum",
];

/// A log under the test producers' policy, and its keys on disk.
struct Deployment {
    dir: tempfile::TempDir,
    producers: Producers,
    policy: PathBuf,
    server: Server,
}

impl Deployment {
    /// Starts a log trusting the test producers and, if given, `extra` as
    /// one more verifier principal ("scanner-bot").
    fn start(extra: Option<&ProducerKey>) -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let producers = Producers::new();
        let policy = producers.write(&dir.path().join("producers"));
        if let Some(key) = extra {
            let mut text = std::fs::read_to_string(&policy).unwrap();
            // The [audit] table comes last: principals go before it.
            let at = text.find("\n[audit]").expect("an [audit] table");
            text.insert_str(
                at,
                &format!(
                    "\n[[principal]]\nname = \"scanner-bot\"\nrole = \"verifier\"\nkeys = [\"{}\"]\n",
                    causeway_tests::fixtures::b64(&key.public_spki_der())
                ),
            );
            std::fs::write(&policy, text).unwrap();
            std::fs::write(
                dir.path().join("producers/scanner-bot.pem"),
                key.to_pkcs8_pem().unwrap(),
            )
            .unwrap();
        }
        let server = Server::with_policy(&dir.path().join("log"), &policy);
        Deployment {
            dir,
            producers,
            policy,
            server,
        }
    }

    /// The path of a producer's key file (`verifier`, `approver`, …).
    fn key(&self, stem: &str) -> String {
        self.dir
            .path()
            .join(format!("producers/{stem}.pem"))
            .to_str()
            .expect("a UTF-8 path")
            .to_owned()
    }

    async fn client(&self) -> LogClient {
        LogClient::connect(&self.server.url)
            .await
            .expect("connects")
    }

    /// alice's authorization of `ticket`, made `ago` seconds back; its
    /// index and leaf hash.
    async fn authorize(&self, ticket: &str, ago: i64) -> (u64, Hash) {
        let entry = env(
            Kind::Authorization,
            ticket_authorization(now() - ago, ticket),
            &self.producers.approver,
        );
        let hash = entry.1;
        (add(&mut self.client().await, entry).await, hash)
    }

    /// Runs `causeway preflight` on this log, signing with `key` (a stem),
    /// with the log's keys and `args`; returns the exit code, stdout and
    /// stderr. Trust settings from the environment are cleared.
    fn preflight(&self, key: &str, subject: &str, args: &[&str]) -> Run {
        let mut cmd = Command::new(binary("causeway"));
        cmd.args(["preflight", "--log", &self.server.url]).args([
            "--key",
            &self.key(key),
            "--subject",
            subject,
        ]);
        for v in &self.server.vkeys {
            cmd.args(["--vkey", v]);
        }
        run(cmd.args(args))
    }

    /// The pre-flight record at `index`, and the key ID that signed it.
    async fn preflight_at(&self, index: u64) -> (causeway_records::Preflight, String) {
        let entry = self
            .client()
            .await
            .entries(index, 1)
            .await
            .expect("entries")
            .pop()
            .expect("the entry");
        let envelope = Envelope::decode(&entry).expect("an envelope");
        let signer = envelope.signatures[0].keyid.clone();
        match envelope.record().expect("a record") {
            Record::Preflight(p) => (p, signer),
            other => panic!("entry {index} is a {}", other.kind()),
        }
    }
}

/// What one run of the CLI did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The `--json` object.
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("{e}: not one JSON object: {}", self.stdout))
    }

    fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd
        .env_remove("CAUSEWAY_VKEYS")
        .env_remove("CAUSEWAY_WITNESS_VKEYS")
        .env_remove("CAUSEWAY_QUORUM")
        .env_remove("CAUSEWAY_LOG")
        .output()
        .expect("running causeway");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `--lockfile F` for each test-data lockfile.
fn lockfiles(files: &[&str]) -> Vec<String> {
    files
        .iter()
        .flat_map(|f| ["--lockfile".to_owned(), testdata(f)])
        .collect()
}

fn with(base: &[&str], more: &[String]) -> Vec<String> {
    base.iter()
        .map(|s| s.to_string())
        .chain(more.iter().cloned())
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A check of the `--json` output by name.
fn check<'a>(out: &'a Value, name: &str) -> &'a Value {
    out["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {out:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn pass_and_block_verdicts_are_signed_submitted_and_exit_0_or_3() {
    let d = Deployment::start(None);
    let (auth_index, auth) = d.authorize("CHG-100", 60).await;
    let subject = auth.to_hex();
    let osv = testdata("osv");
    let freeze = testdata("preflight/freeze.toml");
    let verifier_id = d.producers.verifier.key_id();

    // Pass: every lockfile format misses every advisory, no freeze window
    // holds 1 December 2026, and the custom check exits 0.
    let args = with(
        &[
            "--osv",
            &osv,
            "--freeze",
            &freeze,
            "--at",
            "2026-12-01T12:00:00Z",
            "--check",
            "unit-tests=true",
            "--json",
        ],
        &lockfiles(&MISS),
    );
    let pass = d.preflight("verifier", &subject, &strs(&args));
    pass.assert_code(0);
    let out = pass.json();
    assert_eq!(out["verdict"], "pass", "{out:#}");
    assert_eq!(out["submitted"], true);
    assert_eq!(out["verified"], true);
    assert_eq!(out["index"], auth_index + 1);
    assert_eq!(out["checks"].as_array().unwrap().len(), 7, "{out:#}");
    let (record, signer) = d.preflight_at(auth_index + 1).await;
    assert_eq!(record.verdict, PreflightVerdict::Pass);
    assert_eq!(record.stage, Stage::Issuance);
    assert_eq!(record.subject.to_string(), subject);
    assert_eq!(signer, verifier_id);
    let names: Vec<String> = record.checks.iter().map(|c| c.name.clone()).collect();
    let mut expected: Vec<String> = MISS
        .iter()
        .map(|f| format!("osv:{}", testdata(f)))
        .collect();
    expected.extend(["freeze".to_owned(), "unit-tests".to_owned()]);
    assert_eq!(names, expected);
    assert!(record.checks.iter().all(|c| c.result == "pass"));
    assert!(record.checks.iter().all(|c| c.cves.is_empty()));

    // Block: the lockfiles pin tar 0.4.15 and total.js 3.4.6. The record
    // is written all the same, naming the GHSA and CVE ids.
    let args = with(
        &["--osv", &osv, "--json"],
        &lockfiles(&[
            "preflight/hit/Cargo.lock",
            "preflight/hit/package-lock.json",
        ]),
    );
    let block = d.preflight("verifier", &subject, &strs(&args));
    block.assert_code(3);
    assert!(block.stderr.contains("verdict block"), "{}", block.stderr);
    let out = block.json();
    assert_eq!(out["verdict"], "block");
    let index = out["index"].as_u64().expect("an index");
    assert_eq!(index, auth_index + 2);
    let (record, signer) = d.preflight_at(index).await;
    assert_eq!(record.verdict, PreflightVerdict::Block);
    assert_eq!(signer, verifier_id);
    assert_eq!(record.checks[0].result, "block");
    assert!(
        record.checks[0].detail.contains("tar@0.4.15"),
        "{:?}",
        record.checks[0]
    );
    assert_eq!(
        record.checks[0].cves,
        ["CVE-2018-20990", "GHSA-2367-c296-3mp2"]
    );
    assert_eq!(record.checks[1].result, "block");
    assert!(
        record.checks[1]
            .cves
            .contains(&"GHSA-4449-hg37-77v8".to_owned()),
        "{:?}",
        record.checks[1]
    );
    assert!(record.checks[1].cves.contains(&"CVE-2020-28494".to_owned()));
    let leaf = out["leaf_hash"].as_str().expect("a leaf hash");
    assert!(Hash::from_hex(leaf).is_ok(), "{leaf}");

    // Block: the change falls in the year-end freeze (18:00 Berlin on 19
    // December to 08:00 on 4 January).
    let freeze_block = d.preflight(
        "verifier",
        &subject,
        &[
            "--freeze",
            &freeze,
            "--osv",
            &osv,
            "--at",
            "2026-12-24T09:00:00Z",
            "--json",
        ],
    );
    freeze_block.assert_code(3);
    let out = freeze_block.json();
    let c = check(&out, "freeze");
    assert_eq!(c["result"], "block");
    assert!(c["detail"].as_str().unwrap().contains("year-end"), "{c:#}");
    assert_eq!(out["index"], auth_index + 3);
    assert_eq!(
        d.preflight_at(auth_index + 3).await.0.verdict,
        PreflightVerdict::Block
    );

    // Block: a freeze window that holds now, judged by the clock (no --at).
    let calendar = d.dir.path().join("freeze-now.toml");
    let local = |secs: i64| t(secs).trim_end_matches('Z').to_owned();
    std::fs::write(
        &calendar,
        format!(
            "zone = \"UTC\"\n[[window]]\nname = \"incident\"\nstart = \"{}\"\nend = \"{}\"\nreason = \"incident 42\"\n",
            local(now() - 600),
            local(now() + 600)
        ),
    )
    .unwrap();
    let now_block = d.preflight(
        "verifier",
        &subject,
        &[
            "--freeze",
            calendar.to_str().unwrap(),
            "--osv",
            &osv,
            "--json",
        ],
    );
    now_block.assert_code(3);
    let out = now_block.json();
    assert!(
        check(&out, "freeze")["detail"]
            .as_str()
            .unwrap()
            .contains("incident 42"),
        "{out:#}"
    );

    // Block: a custom check that exits 1; its last line of stderr is the
    // detail. Human-readable output this time.
    let lint = d.preflight(
        "verifier",
        &subject,
        &[
            "--osv",
            &osv,
            "--check",
            "unit-tests=true",
            "--check",
            "lint=echo checking; echo 2 warnings >&2; exit 1",
        ],
    );
    lint.assert_code(3);
    for needle in [
        "pass   unit-tests",
        "block  lint",
        "exit status: 1: 2 warnings",
        "verdict: block",
        &format!("preflight record: index {} leaf ", auth_index + 5),
    ] {
        assert!(
            lint.stdout.contains(needle),
            "{needle:?} in\n{}",
            lint.stdout
        );
    }
    let (record, _) = d.preflight_at(auth_index + 5).await;
    assert_eq!(record.verdict, PreflightVerdict::Block);
    assert_eq!(record.checks[1].name, "lint");
    assert_eq!(record.checks[1].detail, "exit status: 1: 2 warnings");

    // The OSV block in text: the ids are printed.
    let text = d.preflight(
        "verifier",
        &subject,
        &strs(&with(
            &["--osv", &osv, "--stage", "promotion"],
            &lockfiles(&["preflight/hit/Cargo.lock"]),
        )),
    );
    text.assert_code(3);
    assert!(
        text.stdout
            .contains("ids: CVE-2018-20990, GHSA-2367-c296-3mp2"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("at stage promotion"),
        "{}",
        text.stdout
    );
    assert_eq!(
        d.preflight_at(auth_index + 6).await.0.stage,
        Stage::Promotion
    );

    // A dry run prints the signed record and writes nothing: the next
    // record gets the next index.
    let dry = d.preflight(
        "verifier",
        &subject,
        &strs(&with(
            &["--osv", &osv, "--dry-run", "--json"],
            &lockfiles(&["preflight/hit/Cargo.lock"]),
        )),
    );
    dry.assert_code(3);
    let out = dry.json();
    assert_eq!(out["submitted"], false);
    assert_eq!(out["record"]["verdict"], "block");
    assert_eq!(out["record"]["subject"], subject.as_str());
    assert_eq!(out["envelope"]["signatures"][0]["keyid"], verifier_id);
    assert!(out.get("index").is_none());
    let after = d.preflight(
        "verifier",
        &subject,
        &["--osv", &osv, "--check", "ok=true", "--json"],
    );
    after.assert_code(0);
    assert_eq!(after.json()["index"], auth_index + 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_and_refused_records_exit_1_and_say_what_to_do() {
    let d = Deployment::start(None);
    let (auth_index, auth) = d.authorize("CHG-200", 60).await;
    let subject = auth.to_hex();
    let osv = testdata("osv");
    let empty = d.dir.path().join("empty-osv");
    std::fs::create_dir(&empty).unwrap();
    let mars = d.dir.path().join("mars.toml");
    std::fs::write(
        &mars,
        "zone = \"Mars/Olympus\"\n[[window]]\nname = \"dust\"\nstart = \"2026-01-01T00:00\"\nend = \"2026-01-02T00:00\"\n",
    )
    .unwrap();
    let gemfile = d.dir.path().join("Gemfile.lock");
    std::fs::write(&gemfile, "GEM\n").unwrap();
    let missing = d.dir.path().join("nope/Cargo.lock");
    let (empty, mars, gemfile, missing) = (
        empty.to_str().unwrap(),
        mars.to_str().unwrap(),
        gemfile.to_str().unwrap(),
        missing.to_str().unwrap(),
    );
    let cargo_hit = testdata("preflight/hit/Cargo.lock");

    let cases: Vec<(Vec<&str>, &str, Vec<&str>)> = vec![
        (
            vec!["--osv", "/nonexistent/osv", "--lockfile", &cargo_hit],
            &subject,
            vec!["--osv must be a readable directory", "/nonexistent/osv"],
        ),
        (
            vec!["--osv", empty, "--lockfile", &cargo_hit],
            &subject,
            vec!["no OSV advisory", "point --osv at the exported database"],
        ),
        (
            vec!["--osv", &osv, "--lockfile", missing],
            &subject,
            vec!["cannot read", missing, "--lockfile"],
        ),
        (
            vec!["--osv", &osv, "--lockfile", gemfile],
            &subject,
            vec!["unknown lockfile kind", "Cargo.lock, package-lock.json"],
        ),
        (
            vec!["--osv", &osv, "--freeze", mars],
            &subject,
            vec!["Mars/Olympus", "IANA names"],
        ),
        (
            vec!["--osv", &osv, "--check", "two words=true"],
            &subject,
            vec!["two words=true", "--check NAME=CMD"],
        ),
        (
            vec!["--osv", &osv, "--check", "ok=true"],
            "not-a-hash",
            vec!["--subject \"not-a-hash\"", "leaf hash of the authorization"],
        ),
        // A subject the log does not hold: the log refuses the record.
        (
            vec!["--osv", &osv, "--check", "ok=true"],
            "00000000000000000000000000000000000000000000000000000000000000aa",
            vec!["submitting the preflight record", "is not in the log"],
        ),
    ];
    for (args, subject, needles) in cases {
        let r = d.preflight("verifier", subject, &args);
        r.assert_code(1);
        for n in needles {
            assert!(
                r.stderr.contains(n),
                "{n:?} not in {:?} ({args:?})",
                r.stderr
            );
        }
        assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    }

    // The approver signs a pre-flight of her own change: the log refuses
    // it (a human may sign only authorizations and reviews), so it is an
    // error (exit 1), not a verdict.
    let own = d.preflight("approver", &subject, &["--osv", &osv, "--check", "ok=true"]);
    own.assert_code(1);
    assert!(own.stderr.contains("alice@example.com"), "{}", own.stderr);
    assert!(
        own.stderr.to_lowercase().contains("permission"),
        "{}",
        own.stderr
    );

    // None of the above wrote anything.
    let ok = d.preflight(
        "verifier",
        &subject,
        &["--osv", &osv, "--check", "ok=true", "--json"],
    );
    ok.assert_code(0);
    assert_eq!(ok.json()["index"], auth_index + 1);
}

/// The credential of `serial` under `auth`, issued now + 2 s for 20
/// minutes, referencing `pre` (none if `None`) and bound to `session`.
async fn issue(
    d: &Deployment,
    serial: &str,
    auth: &Hash,
    pre: Option<&Hash>,
    session: &ProducerKey,
) -> u64 {
    let issued = now() + 2;
    let placeholder = Hash::from_bytes([0; 32]);
    let mut body = credential(
        serial,
        auth,
        pre.unwrap_or(&placeholder),
        None,
        session,
        issued,
        issued + 1200,
    );
    if pre.is_none()
        && let Some(o) = body.as_object_mut()
    {
        o.remove("preflight");
    }
    let entry = env(Kind::Credential, body, &d.producers.issuer);
    add(&mut d.client().await, entry).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_auditor_judges_the_commands_records() {
    // An agent's session key that the policy also lists as a verifier
    // ("scanner-bot"): the log admits its pre-flights, and only the
    // auditor can tell that the agent vouched for itself.
    let rng = &mut rand::rngs::OsRng;
    let agent_key = ProducerKey::generate(rng);
    let d = Deployment::start(Some(&agent_key));
    let osv = testdata("osv");
    let hit = testdata("preflight/hit/Cargo.lock");
    let miss = testdata("preflight/miss/Cargo.lock");
    let pass_args = ["--osv", &osv, "--lockfile", &miss, "--json"];
    let block_args = ["--osv", &osv, "--lockfile", &hit, "--json"];
    let pre = |key: &str, subject: &Hash, args: &[&str], code: i32| {
        let r = d.preflight(key, &subject.to_hex(), args);
        r.assert_code(code);
        Hash::from_hex(r.json()["leaf_hash"].as_str().expect("a leaf hash")).expect("hex")
    };
    // alice's approvals, 70 s apart (no human-rate flag).
    let mut auths = Vec::new();
    for (i, ticket) in [
        "ok",
        "ref-block",
        "no-ref",
        "retried",
        "self",
        "promo",
        "late",
    ]
    .iter()
    .enumerate()
    {
        auths.push(d.authorize(ticket, 900 - 70 * i as i64).await.1);
    }
    let [ok, ref_block, no_ref, retried, selfie, promo, late] = auths[..] else {
        unreachable!()
    };

    // The scenarios, each a pre-flight made by the command and a credential.
    let p_ok = pre("verifier", &ok, &pass_args, 0);
    let p_block = pre("verifier", &ref_block, &block_args, 3);
    pre("verifier", &no_ref, &block_args, 3);
    pre("verifier", &retried, &block_args, 3);
    let p_retried = pre("verifier", &retried, &pass_args, 0);
    let p_self = pre("scanner-bot", &selfie, &pass_args, 0);
    let promo_args = [
        "--osv",
        &osv,
        "--lockfile",
        &miss,
        "--stage",
        "promotion",
        "--json",
    ];
    let p_promo = pre("verifier", &promo, &promo_args, 0);
    let p_late = pre("verifier", &late, &pass_args, 0);
    pre("verifier", &late, &block_args, 3);

    let key = || ProducerKey::generate(&mut rand::rngs::OsRng);
    let c_ok = issue(&d, "ok", &ok, Some(&p_ok), &key()).await;
    let c_ref_block = issue(&d, "ref-block", &ref_block, Some(&p_block), &key()).await;
    let c_no_ref = issue(&d, "no-ref", &no_ref, None, &key()).await;
    let c_retried = issue(&d, "retried", &retried, Some(&p_retried), &key()).await;
    let c_self = issue(&d, "self", &selfie, Some(&p_self), &agent_key).await;
    let c_promo = issue(&d, "promo", &promo, Some(&p_promo), &key()).await;
    let c_late = issue(&d, "late", &late, Some(&p_late), &key()).await;

    let out = d.dir.path().join("audit");
    let args = with_vkeys(
        audit_args(
            &d.server.url,
            &d.server.tiles_url,
            &d.policy,
            &out,
            &["--json"],
        ),
        &d.server.vkeys,
    );
    let (ok_run, stdout, stderr) = cli(&args);
    assert!(ok_run, "causeway audit failed: {stderr}");
    let summary: Value = serde_json::from_str(stdout.trim()).expect("the --json summary");
    assert_eq!(summary["verified"], true, "{stdout}");
    let mut flags: Vec<(String, u64, String)> = summary["red_flags"]
        .as_array()
        .expect("red_flags")
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap_or_default().to_owned(),
                f["record"].as_u64().unwrap_or(u64::MAX),
                f["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .filter(|(k, _, _)| k.contains("preflight"))
        .collect();
    flags.sort();
    let got: Vec<(&str, u64)> = flags.iter().map(|(k, r, _)| (k.as_str(), *r)).collect();
    let mut expected = vec![
        // It references a block record.
        ("blocked_preflight_ignored", c_ref_block),
        // No reference, and the last issuance pre-flight of its
        // authorization blocked.
        ("missing_preflight", c_no_ref),
        ("blocked_preflight_ignored", c_no_ref),
        // Its own session key signed its pre-flight.
        ("self_preflight", c_self),
        // A promotion pre-flight does not gate issuance.
        ("missing_preflight", c_promo),
        // Issued after a block that came after the pass it references.
        ("blocked_preflight_ignored", c_late),
    ];
    expected.sort();
    assert_eq!(got, expected, "{flags:#?}");
    // A block followed by a pass, and a plain pass, gate their credentials.
    for c in [c_ok, c_retried] {
        assert!(!got.iter().any(|(_, r)| *r == c), "{flags:#?}");
    }
    let detail = |kind: &str, record: u64| {
        flags
            .iter()
            .find(|(k, r, _)| k == kind && *r == record)
            .map(|(_, _, d)| d.as_str())
            .unwrap_or_default()
    };
    assert!(
        detail("self_preflight", c_self).contains("own session key"),
        "{flags:#?}"
    );
    assert!(
        detail("missing_preflight", c_promo).contains("stage promotion"),
        "{flags:#?}"
    );
    assert!(
        detail("blocked_preflight_ignored", c_late).contains(&format!("checks [\"osv:{hit}\"]")),
        "{flags:#?}"
    );
}
