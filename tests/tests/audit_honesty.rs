//! "The auditor never says verified about what it did not verify" (issue
//! 16 §3), against the real `causeway` binary and real logs: an audit
//! without log keys refuses to run, and with `--unverified` says so in
//! every output and exits 3; no witness checked is said, not implied;
//! `--tsa-roots` with no anchor verified fails; entries that are not valid
//! records (an operator's own bytes, a malleated copy of a record) fail
//! the audit and count nothing twice; a proof bundle stripped of its
//! anchor fails under `--tsa-roots`; invisible characters in record text
//! never reach the report or the terminal.

use std::path::Path;
use std::process::Command;

use causeway_client::LogClient;
use causeway_records::{Envelope, Kind, ProducerKey};
use causeway_tests::audit::{
    anchored_demo, audit_args, demo, demo_log, last_action, prove_bundle, vkeys_of, with_vkeys,
};
use causeway_tests::fixtures::{add, b64, env, malleate, now, t};
use causeway_tests::{Producers, Server, Witness, binary, init_log, start_witnesses};
use causeway_tlog::merkle::leaf_hash;
use causeway_tlog::note::{KeyName, Note, NoteSignature};
use serde_json::{Value, json};

/// What one `causeway` run gave: its exit code and output.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `causeway` with none of its trust settings from the environment,
/// so only the arguments decide what is checked.
fn causeway(args: &[&str]) -> Run {
    let out = Command::new(binary("causeway"))
        .args(args)
        .env_remove("CAUSEWAY_VKEYS")
        .env_remove("CAUSEWAY_WITNESS_VKEYS")
        .env_remove("CAUSEWAY_TSA_ROOTS")
        .env_remove("CAUSEWAY_QUORUM")
        .output()
        .expect("running causeway");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn run(args: &[String]) -> Run {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    causeway(&refs)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Asserts the `--json` summary `v` lists `what` among what it did not
/// check.
fn assert_not_checked(v: &Value, what: &str) {
    assert!(
        v["not_checked"]
            .as_array()
            .expect("not_checked")
            .contains(&json!(what)),
        "{v}"
    );
}

/// The first line of the text output: the verdict.
fn verdict(r: &Run) -> &str {
    r.stdout.lines().next().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_without_log_keys_refuses_and_unverified_says_so_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let (server, policy, written) = demo_log(dir.path(), "2");

    // A copy of the log whose checkpoint carries a dummy signature: what
    // anyone can serve, since without the log's keys nothing tells them
    // apart.
    let copy = dir.path().join("copy");
    let r = run(&with_vkeys(
        owned(&[
            "export-tiles",
            "--tiles",
            &server.tiles_url,
            "--out",
            copy.to_str().unwrap(),
        ]),
        &server.vkeys,
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let note = std::fs::read_to_string(copy.join("checkpoint")).unwrap();
    let genuine = Note::parse(note.as_bytes()).unwrap();
    let mut fabricated = Note::new(genuine.text().to_owned()).unwrap();
    fabricated.push_signature(NoteSignature::new(
        KeyName::new("test.causeway/log").unwrap(),
        0x0bad_f00d,
        vec![0u8; 64],
    ));
    std::fs::write(copy.join("checkpoint"), fabricated.to_string()).unwrap();
    drop(server);

    let out = dir.path().join("report");
    let audit = |extra: &[&str]| {
        run(&audit_args(
            "http://127.0.0.1:9",
            copy.to_str().unwrap(),
            &policy,
            &out,
            extra,
        ))
    };

    // No keys, no --unverified: refused before anything is fetched.
    let r = audit(&[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "no log keys: pass the log's verifier keys with --vkey (repeatable, or CAUSEWAY_VKEYS)"
        ) && r.stderr.contains("or --unverified to audit anyway"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(!out.exists(), "no report is written");

    // --unverified: the text verdict, the exit code, the report.
    let r = audit(&["--unverified"]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    let line = verdict(&r);
    assert!(
        line.starts_with(&format!(
            "audited {} entries of test.causeway/log (root ",
            written.len()
        )) && line.contains("): UNVERIFIED: checked tree (")
            && line.contains("NOT checked: log signatures (--unverified: no --vkey)"),
        "{line}"
    );
    let (checked, _) = line.split_once("; NOT checked: ").unwrap();
    assert!(
        !line.contains(": VERIFIED") && !checked.contains("log signatures"),
        "{line}"
    );
    assert!(
        r.stderr
            .contains("UNVERIFIED: the audit ran with --unverified: the tree was recomputed"),
        "{}",
        r.stderr
    );
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["verification"]["status"], "unverified");
    assert_eq!(report["verification"]["log_signature_verified"], false);
    assert_eq!(report["verification"]["log_keys_checked"], 0);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("class=\"verdict unverified\""), "not marked");
    assert!(!html.contains("class=\"verdict good\""), "green verdict");
    assert!(html.contains("⚠ UNVERIFIED: "));
    assert!(html.contains("The log's signatures on the checkpoint below were NOT verified"));
    assert!(
        !html.contains("was verified with the"),
        "claims a signature"
    );
    assert!(html.contains("No witness was checked"), "claims witnesses");

    // --unverified --json.
    let r = audit(&["--unverified", "--json"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["verified"], false);
    assert_eq!(v["status"], "unverified");
    assert_not_checked(&v, "log signatures (--unverified: no --vkey)");

    // With the log's real keys the dummy signature fails, and
    // --unverified cannot be combined with them.
    let vkeys = vkeys_of(&dir.path().join("log"));
    let r = run(&with_vkeys(
        audit_args(
            "http://127.0.0.1:9",
            copy.to_str().unwrap(),
            &policy,
            &out,
            &[],
        ),
        &vkeys,
    ));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("AUDIT FAILED: the log's checkpoint does not verify"),
        "{}",
        r.stderr
    );
    let mut args = with_vkeys(owned(&["audit", "--unverified"]), &vkeys);
    args.extend(owned(&[
        "--tiles",
        copy.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    let r = run(&args);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("--unverified contradicts the --vkey keys"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_says_which_witnesses_were_checked_and_never_more() {
    let dir = tempfile::tempdir().unwrap();
    let policy = Producers::new().write(&dir.path().join("producers"));
    let log_dir = dir.path().join("log");
    let log_vkeys = init_log(&log_dir, "test.causeway/log");
    let witnesses = start_witnesses(dir.path(), "witness.test/w", &log_vkeys, 2);
    let flags: Vec<String> = witnesses.iter().map(Witness::flag).collect();
    let mut args = vec!["--policy", policy.to_str().unwrap()];
    for f in &flags {
        args.extend(["--witness", f]);
    }
    let server = Server::start(&log_dir, &args);
    let written = demo(&server, &dir.path().join("producers"), "2");
    let mut client = LogClient::connect(&server.url).await.unwrap();
    causeway_tests::published_at_least(&mut client, written.len() as u64, &server).await;

    let audit = |out: &Path, extra: &[String]| {
        let mut args = with_vkeys(
            audit_args(&server.url, &server.tiles_url, &policy, out, &[]),
            &server.vkeys,
        );
        args.extend(extra.iter().cloned());
        run(&args)
    };

    // No --witness-vkey: the checkpoint is cosigned, but nothing checked it.
    let out = dir.path().join("plain");
    let r = audit(&out, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = verdict(&r);
    assert!(
        line.contains("): VERIFIED: checked tree (")
            && line.contains("log signatures (2 keys)")
            && line.contains("NOT checked: witness cosignatures (no --witness-vkey)"),
        "{line}"
    );
    assert!(!line.contains("witness quorum"), "{line}");
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["verification"]["witnesses_checked"], false);
    assert_eq!(report["verification"]["cosignatures"], json!([]));
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("No witness was checked</strong> (no witness keys were given)"));
    assert!(html.contains("✗ not checked</span>: no witness keys were given"));
    assert!(!html.contains("cosigned it"), "claims a cosignature");
    assert!(html.contains("✓ verified</span> with 2 log keys"));
    let r = audit(&out, &["--json".to_owned()]);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["witnesses_checked"], false);
    assert_not_checked(&v, "witness cosignatures (no --witness-vkey)");

    // With the witnesses' keys: checked, and said with its counts.
    let out = dir.path().join("witnessed");
    let mut extra = Vec::new();
    for w in &witnesses {
        extra.extend(["--witness-vkey".to_owned(), w.vkey.clone()]);
    }
    let r = audit(&out, &extra);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = verdict(&r);
    assert!(
        line.contains("witness quorum (2 of 2 cosigned, 2 required)"),
        "{line}"
    );
    assert!(!line.contains("witness cosignatures (no"), "{line}");
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["verification"]["witnesses_checked"], true);
    assert_eq!(
        report["verification"]["cosignatures"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("2 of the 2 witnesses listed cosigned it (2 required)"));
    assert!(!html.contains("No witness was checked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tsa_roots_with_no_anchor_verified_fails_the_audit() {
    let dir = tempfile::tempdir().unwrap();
    let (tsa, server, policy, _) = anchored_demo(dir.path(), "ec", "2").await;
    let roots = tsa.roots.to_str().unwrap().to_owned();
    let out = dir.path().join("report");
    let audit = |log: &str, tiles: &str, policy: &Path| {
        run(&with_vkeys(
            audit_args(log, tiles, policy, &out, &["--tsa-roots", &roots]),
            &server.vkeys,
        ))
    };

    // Reachable and anchored: the anchors are verified and said to be.
    let r = audit(&server.url, &server.tiles_url, &policy);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        verdict(&r).contains("anchor") && verdict(&r).contains("(TSA signatures with --tsa-roots)"),
        "{}",
        verdict(&r)
    );
    assert_eq!(
        read_json(&out.join("report.json"))["verification"]["anchors_verified_with_tsa_roots"],
        true
    );
    std::fs::remove_dir_all(&out).unwrap();

    // --log unreachable: nothing could be verified with the roots.
    let r = audit("http://127.0.0.1:9", &server.tiles_url, &policy);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("AUDIT FAILED: NO ANCHOR VERIFIED: --tsa-roots asks for the log's RFC 3161 anchors to be verified, but the log at --log http://127.0.0.1:9 is unreachable"),
        "{}",
        r.stderr
    );
    assert!(!out.join("report.json").exists(), "a report was written");

    // --log pointing at something that is no log API (the tile server):
    // ListAnchors fails, or the connection does.
    let r = audit(&server.tiles_url, &server.tiles_url, &policy);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("AUDIT FAILED: NO ANCHOR VERIFIED: --tsa-roots asks for")
            && (r.stderr.contains("ListAnchors on the log at --log")
                || r.stderr.contains("is unreachable")),
        "{}",
        r.stderr
    );

    // A log that anchors nothing: ListAnchors answers, with no anchor.
    let other = dir.path().join("other");
    let (plain, policy2, _) = demo_log(&other, "2");
    let r = run(&with_vkeys(
        audit_args(
            &plain.url,
            &plain.tiles_url,
            &policy2,
            &out,
            &["--tsa-roots", &roots],
        ),
        &plain.vkeys,
    ));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains(&format!(
            "AUDIT FAILED: NO ANCHOR VERIFIED: --tsa-roots asks for the log's RFC 3161 anchors to be verified, but the log at --log {} lists no anchor of a tree of at most",
            plain.url
        )),
        "{}",
        r.stderr
    );
    assert!(!out.join("report.json").exists(), "a report was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_bytes_or_a_malleated_duplicate_fail_the_audit_and_count_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (server, policy, written) = demo_log(dir.path(), "2");
    let log_dir = dir.path().join("log");
    let out = dir.path().join("report");
    let audit = |server: &Server| {
        run(&with_vkeys(
            audit_args(&server.url, &server.tiles_url, &policy, &out, &["--json"]),
            &server.vkeys,
        ))
    };
    let clean = audit(&server);
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    let before: Value = serde_json::from_str(clean.stdout.trim()).unwrap();
    let actions = before["summary"]["actions"].as_u64().unwrap();

    // The first action, re-signed by malleation: the same submission.
    let action = written.iter().find(|l| l["kind"] == "action").unwrap();
    let original = action["index"].as_u64().unwrap();
    let mut client = LogClient::connect(&server.url).await.unwrap();
    let bytes = client.entries(original, 1).await.unwrap().remove(0);
    let mut copy = Envelope::decode(&bytes).unwrap();
    copy.signatures[0].sig = malleate(&copy.signatures[0].sig);
    let copy = copy.encode();
    assert_ne!(copy, bytes);
    assert_eq!(
        Envelope::decode(&copy).unwrap().submission_id().unwrap(),
        Envelope::decode(&bytes).unwrap().submission_id().unwrap()
    );
    // The records log itself refuses it as a duplicate ...
    let again = client.add_entries(vec![copy.clone()]).await.unwrap();
    assert_eq!(
        (again.entries[0].index, again.entries[0].duplicate),
        (original, true)
    );
    drop(client);
    assert!(server.terminate().success());

    // ... so the operator restarts it on the same keys accepting anything,
    // and appends the copy and bytes of its own.
    let opaque = Server::start(&log_dir, &["--accept", "opaque"]);
    let mut client = LogClient::connect(&opaque.url).await.unwrap();
    let added = client
        .add_entries(vec![copy, b"the operator's own bytes".to_vec()])
        .await
        .unwrap();
    let (dup, junk) = (added.entries[0].index, added.entries[1].index);
    assert_eq!(dup, written.len() as u64);
    causeway_tests::published_at_least(&mut client, junk + 1, &opaque).await;

    let r = audit(&opaque);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "AUDIT FAILED: INVALID ENTRIES: 2 of the log's {} entries are not valid records",
            junk + 1
        )) && r.stderr.contains(&format!(
            "#{dup} duplicate: a second copy of entry {original} (same signer and signed bytes, another signature encoding"
        )) && r.stderr.contains(&format!("#{junk} not_a_record: not a Causeway record envelope")),
        "{}",
        r.stderr
    );
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["status"], "failed");
    assert_eq!(
        v["summary"]["actions"].as_u64(),
        Some(actions),
        "counted twice"
    );
    assert_eq!(v["summary"]["invalid"], 2);
    let codes: Vec<(u64, &str)> = v["invalid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["index"].as_u64().unwrap(), i["code"].as_str().unwrap()))
        .collect();
    assert_eq!(codes, [(dup, "duplicate"), (junk, "not_a_record")]);
    let report = read_json(&out.join("report.json"));
    assert_eq!(
        causeway_tests::audit::report_actions(&out).len() as u64,
        actions
    );
    assert_eq!(report["verification"]["status"], "failed");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("id=\"invalid\"") && html.contains("not_a_record"));
    assert!(!html.contains("class=\"verdict good\""));

    // The text output lists them too.
    let args = with_vkeys(
        audit_args(&opaque.url, &opaque.tiles_url, &policy, &out, &[]),
        &opaque.vkeys,
    );
    let r = run(&args);
    assert_eq!(r.code, 1);
    assert!(
        verdict(&r).contains("): FAILED: 2 entries are not valid records; checked tree ("),
        "{}",
        verdict(&r)
    );
    assert!(
        r.stdout
            .contains(&format!("INVALID ENTRY #{junk} not_a_record")),
        "{}",
        r.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_without_its_anchor_fails_verification_under_tsa_roots() {
    let dir = tempfile::tempdir().unwrap();
    let (tsa, server, policy, written) = anchored_demo(dir.path(), "ec", "2").await;
    let bundle = dir.path().join("bundle.json");
    prove_bundle(&server, last_action(&written), &bundle);
    let verify = |file: &Path, roots: bool| {
        let mut args = with_vkeys(
            owned(&[
                "verify",
                file.to_str().unwrap(),
                "--policy",
                policy.to_str().unwrap(),
                "--json",
            ]),
            &server.vkeys,
        );
        if roots {
            args.extend(owned(&["--tsa-roots", tsa.roots.to_str().unwrap()]));
        }
        run(&args)
    };
    let r = verify(&bundle, true);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert!(
        v["anchored_at"].is_string() && v["anchor_verified"] == true,
        "{v}"
    );

    // The anchor removed (set to null, or the field dropped).
    let mut b = read_json(&bundle);
    assert!(b["anchor"].is_object(), "the demo bundle is anchored");
    let stripped = dir.path().join("stripped.json");
    for edit in ["null", "removed"] {
        if edit == "null" {
            b["anchor"] = Value::Null;
        } else {
            b.as_object_mut().unwrap().remove("anchor");
        }
        std::fs::write(&stripped, serde_json::to_string(&b).unwrap()).unwrap();
        let r = verify(&stripped, true);
        assert_eq!(r.code, 1, "{edit}: {}", r.stdout);
        assert!(
            r.stderr.contains(&format!(
                "the bundle has no RFC 3161 anchor, but --tsa-roots {} asks for one to be verified",
                tsa.roots.display()
            )),
            "{edit}: {}",
            r.stderr
        );
        // Without --tsa-roots nothing asked for a time: it verifies, and
        // says there is no verified anchor.
        let r = verify(&stripped, false);
        assert_eq!(r.code, 0, "{edit}: {}", r.stderr);
        let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
        assert_eq!(v["anchor_verified"], false);
        assert!(v["anchored_at"].is_null());
    }
}

// ---------------------------------------------------------------------------
// Invisible characters in record text.

/// Every format character (Unicode general category Cf) the brief names,
/// a few others, the whole tag block, and the line and paragraph
/// separators.
fn invisible() -> Vec<char> {
    let mut v: Vec<char> = "\u{ad}\u{61c}\u{180e}\u{200b}\u{200c}\u{200d}\u{200e}\u{200f}\
        \u{202a}\u{202b}\u{202c}\u{202d}\u{202e}\u{2060}\u{2061}\u{2062}\u{2063}\u{2064}\
        \u{2066}\u{2067}\u{2068}\u{2069}\u{feff}\u{fff9}\u{fffa}\u{fffb}\u{110bd}\u{e0001}\
        \u{2028}\u{2029}"
        .chars()
        .collect();
    v.extend(('\u{e0020}'..='\u{e007f}').collect::<Vec<_>>());
    v
}

fn hidden(text: &str) -> String {
    // Interleave the invisible characters with visible text.
    let mut s = String::new();
    for (i, c) in invisible().into_iter().enumerate() {
        if i % 8 == 0 {
            s.push_str(text);
        }
        s.push(c);
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invisible_characters_in_record_text_reach_neither_the_report_nor_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let p = Producers::new();
    let policy = p.write(&dir.path().join("producers"));
    let server = Server::with_policy(&dir.path().join("log"), &policy);
    let mut c = LogClient::connect(&server.url).await.unwrap();
    let t0 = now() - 600;
    let scope = json!({"change_class": "standard", "targets": ["prod/api"], "actions": ["deploy"]});
    let auth = env(
        Kind::Authorization,
        json!({
            "approver": {"subject": "alice@example.com", "issuer": "https://sso.example.com"},
            "authn": {"method": hidden("oidc"), "mfa": true, "assurance": "aal2", "authenticated_at": t(t0 - 30)},
            "plan": {"objective": hidden("deploy api v2"), "method": hidden("pipeline"),
                     "test_approach": "canary", "backout": "rollback"},
            "scope": scope,
            "ticket": hidden("CHG-7"),
            "not_before": t(t0),
            "not_after": t(t0 + 3600),
            "time": t(t0),
        }),
        &p.approver,
    );
    add(&mut c, auth.clone()).await;
    let pre = env(
        Kind::Preflight,
        json!({
            "subject": auth.1.to_hex(),
            "stage": "issuance",
            "checks": [{"name": hidden("sast"), "result": "pass", "detail": hidden("0 findings"), "cves": []}],
            "verdict": "pass",
            "time": t(t0 + 10),
        }),
        &p.verifier,
    );
    add(&mut c, pre.clone()).await;
    let session = ProducerKey::generate(&mut rand::rngs::OsRng);
    let cred = env(
        Kind::Credential,
        json!({
            "serial": hidden("S-1"),
            "agent": {"id": hidden("agent://deployer"), "model": hidden("m"), "version": "1"},
            "authorization": auth.1.to_hex(),
            "preflight": pre.1.to_hex(),
            "scope": scope,
            "session_key": b64(&session.public_spki_der()),
            "issued_at": t(t0 + 20),
            "expires_at": t(t0 + 3000),
            "time": t(t0 + 20),
        }),
        &p.issuer,
    );
    add(&mut c, cred.clone()).await;
    // Out of scope, so a red flag quotes its target on the terminal.
    add(
        &mut c,
        env(
            Kind::Action,
            json!({
                "credential": cred.1.to_hex(),
                "seq": 1,
                "tool": hidden("kubectl"),
                "target": hidden("prod/db"),
                "summary": hidden("rotated the keys"),
                "digest": format!("sha256:{}", leaf_hash(b"1").to_hex()),
                "result": hidden("ok"),
                "time": t(t0 + 30),
            }),
            &session,
        ),
    )
    .await;
    let mut client = LogClient::connect(&server.url).await.unwrap();
    causeway_tests::published_at_least(&mut client, 4, &server).await;

    let out = dir.path().join("report");
    let r = run(&with_vkeys(
        audit_args(&server.url, &server.tiles_url, &policy, &out, &[]),
        &server.vkeys,
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("RED FLAG \"action_out_of_scope\""),
        "{}",
        r.stdout
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    // The visible text is there, every invisible character is gone.
    for visible in [
        "deploy api v2",
        "CHG-7",
        "agent://deployer",
        "rotated the keys",
        "prod/db",
    ] {
        assert!(html.contains(visible), "{visible:?} not rendered");
    }
    for ch in invisible() {
        assert!(!html.contains(ch), "U+{:04X} in the HTML report", ch as u32);
        assert!(!r.stdout.contains(ch), "U+{:04X} on stdout", ch as u32);
        assert!(!r.stderr.contains(ch), "U+{:04X} on stderr", ch as u32);
    }
    // The evidence itself keeps the bytes as logged.
    for file in ["report.json", causeway_client::audit::ACTIONS_FILE] {
        let json = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(json.contains('\u{202e}'), "{file} is the record as logged");
    }
}
