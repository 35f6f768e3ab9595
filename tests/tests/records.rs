//! Governance records on a real log with a producer policy: a full causal
//! chain with two levels of delegation, every rejection with its gRPC
//! status and a message naming the problem, concurrent producers, the CLI
//! (keygen, record sign/show, submit --key, demo) and an independent check
//! of CLI-signed envelopes with Python's `cryptography`.

use std::path::Path;
use std::process::Command;

use causeway_client::LogClient;
use causeway_records::{Envelope, Kind, ProducerKey};
use causeway_tests::fixtures::{
    action, add, authorization, closure, credential, env, now, preflight, refused, t,
};
use causeway_tests::{Producers, Server, cli, run_checker};
use causeway_tlog::merkle::leaf_hash;
use serde_json::{Value, json};
use tonic::Code;

fn start(dir: &Path, producers: &Producers) -> Server {
    let policy = producers.write(&dir.join("producers"));
    Server::start(&dir.join("log"), &["--policy", policy.to_str().unwrap()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_with_two_levels_of_delegation_and_every_rejection() {
    let dir = tempfile::tempdir().unwrap();
    let p = Producers::new();
    let server = start(dir.path(), &p);
    let mut c = LogClient::connect(&server.url).await.unwrap();
    let t0 = now() - 1800;
    let mut rng = rand::rngs::OsRng;

    let auth = env(Kind::Authorization, authorization(t0), &p.approver);
    let auth_hash = auth.1;
    add(&mut c, auth.clone()).await;
    let pre = env(Kind::Preflight, preflight(&auth_hash, t0 + 10), &p.verifier);
    let pre_hash = pre.1;
    add(&mut c, pre).await;
    let s1 = ProducerKey::generate(&mut rng);
    let cred1 = env(
        Kind::Credential,
        credential("c1", &auth_hash, &pre_hash, None, &s1, t0 + 20, t0 + 1200),
        &p.issuer,
    );
    let c1 = cred1.1;
    add(&mut c, cred1).await;
    add(&mut c, env(Kind::Action, action(&c1, 1, t0 + 30), &s1)).await;
    // Delegation, level 1: signed by the parent's session key.
    let s2 = ProducerKey::generate(&mut rng);
    let cred2 = env(
        Kind::Credential,
        credential(
            "c2",
            &auth_hash,
            &pre_hash,
            Some(&c1),
            &s2,
            t0 + 40,
            t0 + 900,
        ),
        &s1,
    );
    let c2 = cred2.1;
    add(&mut c, cred2).await;
    // Level 2.
    let s3 = ProducerKey::generate(&mut rng);
    let cred3 = env(
        Kind::Credential,
        credential(
            "c3",
            &auth_hash,
            &pre_hash,
            Some(&c2),
            &s3,
            t0 + 50,
            t0 + 600,
        ),
        &s2,
    );
    let c3 = cred3.1;
    add(&mut c, cred3).await;
    let a3 = env(Kind::Action, action(&c3, 1, t0 + 60), &s3);
    let a3_index = add(&mut c, a3.clone()).await;
    add(
        &mut c,
        env(Kind::Closure, closure(&c3, t0 + 50, t0 + 70, 1), &s3),
    )
    .await;
    add(
        &mut c,
        env(Kind::Closure, closure(&c1, t0 + 20, t0 + 80, 1), &p.issuer),
    )
    .await;
    add(
        &mut c,
        env(
            Kind::Review,
            json!({
                "subject": auth_hash.to_hex(),
                "reviewer": {"subject": "bob@example.com", "issuer": "https://sso.example.com"},
                "verdict": "approved",
                "started_at": t(t0 + 100),
                "finished_at": t(t0 + 400),
                "items": 2,
                "time": t(t0 + 400),
            }),
            &p.reviewer,
        ),
    )
    .await;

    // A duplicate returns the original index.
    let again = c.add_entries(vec![a3.0.clone()]).await.unwrap();
    assert_eq!(
        (again.entries[0].index, again.entries[0].duplicate),
        (a3_index, true)
    );

    // Malformed: not an envelope.
    refused(
        &mut c,
        b"{\"kind\":\"action\"}".to_vec(),
        Code::InvalidArgument,
        &[],
    )
    .await;
    // Oversize.
    refused(&mut c, vec![7u8; 70_000], Code::InvalidArgument, &["65535"]).await;
    // A bad signature: the signature bytes of a valid envelope altered.
    let mut forged = Envelope::decode(&auth.0).unwrap();
    let last = forged.signatures[0].sig.len() - 2;
    forged.signatures[0].sig[last] ^= 1;
    refused(
        &mut c,
        forged.encode(),
        Code::InvalidArgument,
        &[&p.approver.key_id()[..16]],
    )
    .await;
    // A key the policy does not know.
    let stranger = ProducerKey::generate(&mut rng);
    refused(
        &mut c,
        env(Kind::Authorization, authorization(t0 + 1), &stranger).0,
        Code::PermissionDenied,
        &[&stranger.key_id()[..16]],
    )
    .await;
    // A known principal signing a kind it may not sign.
    refused(
        &mut c,
        env(Kind::Authorization, authorization(t0 + 2), &p.verifier).0,
        Code::PermissionDenied,
        &["preflight.example.com"],
    )
    .await;
    // A dangling reference: a credential for an authorization not in the log.
    let ghost = leaf_hash(b"no such entry");
    refused(
        &mut c,
        env(
            Kind::Credential,
            credential("c9", &ghost, &pre_hash, None, &s1, t0 + 20, t0 + 60),
            &p.issuer,
        )
        .0,
        Code::FailedPrecondition,
        &[&ghost.to_hex()[..16]],
    )
    .await;
    // A reference of the wrong kind: the preflight given as the authorization.
    refused(
        &mut c,
        env(
            Kind::Credential,
            credential("c8", &pre_hash, &pre_hash, None, &s1, t0 + 20, t0 + 60),
            &p.issuer,
        )
        .0,
        Code::FailedPrecondition,
        &["preflight"],
    )
    .await;
    // An action signed by another credential's session key.
    refused(
        &mut c,
        env(Kind::Action, action(&c3, 2, t0 + 61), &s2).0,
        Code::PermissionDenied,
        &[],
    )
    .await;
    // An action after its credential expired (c3 expires at t0 + 600).
    refused(
        &mut c,
        env(Kind::Action, action(&c3, 3, t0 + 700), &s3).0,
        Code::PermissionDenied,
        &[],
    )
    .await;
    // A delegated credential signed by the issuer instead of the parent's session key.
    refused(
        &mut c,
        env(
            Kind::Credential,
            credential(
                "c7",
                &auth_hash,
                &pre_hash,
                Some(&c1),
                &s3,
                t0 + 40,
                t0 + 90,
            ),
            &p.issuer,
        )
        .0,
        Code::PermissionDenied,
        &[],
    )
    .await;
    // A closure for an unknown credential.
    refused(
        &mut c,
        env(Kind::Closure, closure(&ghost, t0, t0 + 5, 0), &p.issuer).0,
        Code::FailedPrecondition,
        &[&ghost.to_hex()[..16]],
    )
    .await;
    // A record dated an hour in the future.
    refused(
        &mut c,
        env(
            Kind::Authorization,
            authorization(now() + 3600),
            &p.approver,
        )
        .0,
        Code::InvalidArgument,
        &["future"],
    )
    .await;
    // In a batch, the refusal names the entry.
    let ok = env(Kind::Action, action(&c1, 9, t0 + 90), &s1).0;
    let err = c.add_entries(vec![ok, b"junk".to_vec()]).await.unwrap_err();
    assert!(err.to_string().contains("entry 1"), "{err}");
}

/// A large request is checked on every core at once (admission's cost is
/// its signature checks), and answered as if checked in order: refused at
/// its first bad entry, with nothing written; admitted in its order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batch_is_checked_on_every_core_and_answered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let p = Producers::new();
    let server = start(dir.path(), &p);
    let mut c = LogClient::connect(&server.url).await.unwrap();
    let (auth, pre) = causeway_tests::fixtures::approved(&mut c, &p, "CHG-BATCH", |_| {}).await;
    let session = ProducerKey::generate(&mut rand::rngs::OsRng);
    let t0 = now();
    let cred = env(
        Kind::Credential,
        credential("batch", &auth, &pre, None, &session, t0, t0 + 3600),
        &p.issuer,
    );
    let cred_hash = cred.1;
    let cred_index = add(&mut c, cred).await;
    let batch = |seqs: std::ops::Range<u64>| -> Vec<Vec<u8>> {
        seqs.map(|seq| env(Kind::Action, action(&cred_hash, seq, t0), &session).0)
            .collect()
    };
    let mut bad = batch(0..300);
    // One bad entry in each core's half: the first by position is named.
    bad[120] = b"junk".to_vec();
    bad[170] = b"junk".to_vec();
    let err = c.add_entries(bad).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::InvalidArgument), "{err}");
    assert!(err.to_string().contains("entry 120:"), "{err}");
    let good = batch(0..300);
    let leaves: Vec<_> = good.iter().map(|e| leaf_hash(e)).collect();
    let admitted = c.add_entries(good).await.unwrap().entries;
    assert_eq!(admitted.len(), 300);
    // Nothing of the refused request was written: the batch follows the
    // credential directly.
    for (i, (a, leaf)) in admitted.iter().zip(&leaves).enumerate() {
        assert_eq!((a.index, &a.leaf_hash), (cred_index + 1 + i as u64, leaf));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_producers_interleave_chains_and_parents_always_come_first() {
    let dir = tempfile::tempdir().unwrap();
    let p = std::sync::Arc::new(Producers::new());
    let server = start(dir.path(), &p);
    let t0 = now() - 1800;
    let mut tasks = Vec::new();
    for producer in 0..6 {
        let (url, p) = (server.url.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = LogClient::connect(&url).await.unwrap();
            let mut auth_json = authorization(t0 + producer);
            auth_json["ticket"] = json!(format!("CHG-{producer}"));
            let auth = env(Kind::Authorization, auth_json, &p.approver);
            let ah = auth.1;
            add(&mut c, auth).await;
            let pre = env(Kind::Preflight, preflight(&ah, t0 + 10), &p.verifier);
            let ph = pre.1;
            add(&mut c, pre).await;
            let session = ProducerKey::generate(&mut rand::rngs::OsRng);
            let cred = env(
                Kind::Credential,
                credential(
                    &format!("p{producer}"),
                    &ah,
                    &ph,
                    None,
                    &session,
                    t0 + 20,
                    t0 + 1200,
                ),
                &p.issuer,
            );
            let ch = cred.1;
            add(&mut c, cred).await;
            for seq in 1..=8 {
                add(
                    &mut c,
                    env(
                        Kind::Action,
                        action(&ch, seq, t0 + 30 + seq as i64),
                        &session,
                    ),
                )
                .await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Read the whole log back: every reference points to an earlier index.
    let mut c = LogClient::connect(&server.url).await.unwrap();
    let mut index_of = std::collections::HashMap::new();
    let mut start_at = 0;
    let mut all = Vec::new();
    loop {
        let page = match c.entries(start_at, 1000).await {
            Ok(p) if !p.is_empty() => p,
            _ => break,
        };
        start_at += page.len() as u64;
        all.extend(page);
    }
    assert_eq!(all.len(), 6 * 11);
    for (i, entry) in all.iter().enumerate() {
        index_of.insert(leaf_hash(entry), i);
        let record = Envelope::decode(entry).unwrap().record().unwrap();
        for r in record.references() {
            let parent = index_of
                .get(&r.hash)
                .unwrap_or_else(|| panic!("entry {i}: {} not before it", r.field));
            assert!(*parent < i);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_signs_submits_shows_and_runs_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let p = Producers::new();
    let server = start(dir.path(), &p);
    let producers = dir.path().join("producers");

    // The demo: a complete chain, parents first, all accepted.
    let (ok, out, err) = cli(&[
        "demo",
        "--log",
        &server.url,
        "--producers",
        producers.to_str().unwrap(),
        "--actions",
        "12",
        "--json",
    ]);
    assert!(ok, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: std::collections::BTreeSet<&str> =
        lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    for k in Kind::ALL {
        // The demo's agent is no gateway: it records no call outcomes.
        if !matches!(k, Kind::Exception | Kind::Outcome) {
            assert!(kinds.contains(k.as_str()), "the demo wrote no {k}");
        }
    }
    assert!(lines.len() >= 12 + 6 + 6, "{}", lines.len());

    // record show decodes an entry of the log.
    let (ok, out, err) = cli(&[
        "record",
        "show",
        "--log",
        &server.url,
        "--index",
        "0",
        "--json",
    ]);
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["kind"], "authorization");
    assert_eq!(shown["record"]["approver"]["subject"], "alice@example.com");
    assert_eq!(shown["signed_by"][0], p.approver.key_id());

    // keygen + record sign: a DSSE envelope that Python's `cryptography`
    // verifies over PAE with the public key keygen printed.
    let key = dir.path().join("alice2.pem");
    let (ok, out, err) = cli(&["keygen", "--out", key.to_str().unwrap(), "--json"]);
    assert!(ok, "{err}");
    let generated: Value = serde_json::from_str(&out).unwrap();
    let record = dir.path().join("auth.json");
    std::fs::write(&record, authorization(now() - 100).to_string()).unwrap();
    let (ok, envelope, err) = cli(&[
        "record",
        "sign",
        "--kind",
        "authorization",
        "--key",
        key.to_str().unwrap(),
        record.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let mut python = Command::new("python3");
    python.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/dsse_py.py"));
    let job = json!({"envelope": serde_json::from_str::<Value>(&envelope).unwrap(), "public_key": generated["public_key"]});
    let (ok, out) = run_checker(python, &job.to_string());
    assert!(ok && out.starts_with("ok"), "{out}");

    // That key is not in the policy: submitting the envelope is refused...
    let env_file = dir.path().join("auth.dsse.json");
    std::fs::write(&env_file, &envelope).unwrap();
    let (ok, _, err) = cli(&[
        "submit",
        "--log",
        &server.url,
        "--envelope",
        env_file.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("PermissionDenied") || err.contains("permission"),
        "{err}"
    );
    // ...while the approver's key signs and submits the same JSON.
    let approver = producers.join("approver.pem");
    let (ok, out, err) = cli(&[
        "submit",
        "--log",
        &server.url,
        "--key",
        approver.to_str().unwrap(),
        "--kind",
        "authorization",
        record.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{err}");
    let added: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(added["duplicate"], false);
    // Record JSON with a typo is refused locally, naming the field.
    std::fs::write(
        &record,
        authorization(now())
            .to_string()
            .replace("\"ticket\"", "\"tikcet\""),
    )
    .unwrap();
    let (ok, _, err) = cli(&[
        "submit",
        "--log",
        &server.url,
        "--key",
        approver.to_str().unwrap(),
        "--kind",
        "authorization",
        record.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("tikcet"), "{err}");
}

#[test]
fn records_mode_needs_a_policy_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(causeway_tests::binary("causeway-server"))
        .arg("--data-dir")
        .arg(dir.path().join("log"))
        .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "off"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--policy") && err.contains("--accept opaque"),
        "{err}"
    );
    // A policy with a typo is refused with the field named.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[principal]]\nname = \"x\"\nrole = \"humann\"\nkeys = []\n",
    )
    .unwrap();
    let out = Command::new(causeway_tests::binary("causeway-server"))
        .arg("--data-dir")
        .arg(dir.path().join("log"))
        .args([
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "off",
            "--policy",
        ])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("humann"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_over_its_rate_limit_gets_resource_exhausted_and_keeps_what_was_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let p = Producers::new();
    let policy = p.write(&dir.path().join("producers"));
    let server = Server::start(
        &dir.path().join("log"),
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--producer-rate-limit",
            "5",
        ],
    );
    let mut c = LogClient::connect(&server.url).await.unwrap();
    let t0 = now() - 600;
    let mut accepted = Vec::new();
    let mut refusal = None;
    let started = std::time::Instant::now();
    for i in 0..30 {
        let mut a = authorization(t0 + i);
        a["ticket"] = json!(format!("CHG-{i}"));
        let (bytes, hash) = env(Kind::Authorization, a, &p.approver);
        match c.add_entries(vec![bytes]).await {
            Ok(r) => accepted.push((r.entries[0].index, hash)),
            Err(e) => {
                refusal = Some(e);
                break;
            }
        }
    }
    let refusal = refusal.expect("a producer going faster than 5 records/s must be refused");
    assert_eq!(refusal.code(), Some(Code::ResourceExhausted), "{refusal}");
    let text = refusal.to_string();
    assert!(
        text.contains(&p.approver.key_id()) && text.contains("retry in"),
        "{text}"
    );
    // The burst is 5; on a loaded machine the calls take long enough for
    // the bucket to refill a token (5 per second) before the refusal.
    let refilled = (started.elapsed().as_secs_f64() * 5.0).ceil() as usize;
    assert!(
        (5..=5 + refilled).contains(&accepted.len()),
        "{} accepted in {:?}",
        accepted.len(),
        started.elapsed()
    );
    // Everything accepted is in the log.
    for (index, hash) in &accepted {
        let entry = c.entries(*index, 1).await.unwrap().pop().unwrap();
        assert_eq!(leaf_hash(&entry), *hash);
    }
    // Another producer has its own budget.
    let pre = env(
        Kind::Preflight,
        preflight(&accepted[0].1, t0 + 20),
        &p.verifier,
    );
    add(&mut c, pre).await;
    // And the limited one may continue after a pause.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let mut a = authorization(t0 + 30);
    a["ticket"] = json!("CHG-later");
    add(&mut c, env(Kind::Authorization, a, &p.approver)).await;
}

/// A gateway's records on a real log: an outcome signed by the session key
/// (through `causeway submit --kind outcome`), every refusal of one with
/// its status and message, an exception naming a refused call by its
/// digest, and an outcome refused once the credential is revoked, as an
/// action is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_reference_their_action_and_stop_at_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let p = Producers::new();
    let server = start(dir.path(), &p);
    let mut c = LogClient::connect(&server.url).await.unwrap();
    let t0 = now() - 1800;
    let mut rng = rand::rngs::OsRng;

    let auth = env(Kind::Authorization, authorization(t0), &p.approver);
    let auth_hash = auth.1;
    add(&mut c, auth).await;
    let pre = env(Kind::Preflight, preflight(&auth_hash, t0 + 10), &p.verifier);
    let pre_hash = pre.1;
    add(&mut c, pre).await;
    let s1 = ProducerKey::generate(&mut rng);
    let cred1 = env(
        Kind::Credential,
        credential("g1", &auth_hash, &pre_hash, None, &s1, t0 + 20, t0 + 3000),
        &p.issuer,
    );
    let c1 = cred1.1;
    add(&mut c, cred1).await;
    let s2 = ProducerKey::generate(&mut rng);
    let cred2 = env(
        Kind::Credential,
        credential("g2", &auth_hash, &pre_hash, None, &s2, t0 + 20, t0 + 3000),
        &p.issuer,
    );
    let c2 = cred2.1;
    add(&mut c, cred2).await;
    let a1 = env(Kind::Action, action(&c1, 1, t0 + 30), &s1);
    let a1_hash = a1.1;
    add(&mut c, a1).await;

    let outcome = |action: &str, credential: &str, status: &str, at: i64| {
        let mut v = json!({
            "action": action,
            "credential": credential,
            "status": status,
            "result_digest": format!("sha256:{}", leaf_hash(&at.to_be_bytes()).to_hex()),
            "time": t(at),
        });
        if status == "error" {
            v["error"] = json!("timeout");
        }
        v
    };

    // The CLI signs and submits an outcome with the session key.
    let key = dir.path().join("session.pem");
    std::fs::write(&key, s1.to_pkcs8_pem().unwrap()).unwrap();
    let file = dir.path().join("outcome.json");
    std::fs::write(
        &file,
        outcome(&a1_hash.to_hex(), &c1.to_hex(), "ok", t0 + 31).to_string(),
    )
    .unwrap();
    let (ok, out, err) = cli(&[
        "submit",
        "--log",
        &server.url,
        "--key",
        key.to_str().unwrap(),
        "--kind",
        "outcome",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{err}");
    let added: Value = serde_json::from_str(out.trim()).unwrap();
    let index = added["index"].as_u64().expect("an index");
    let (ok, out, err) = cli(&[
        "record",
        "show",
        "--log",
        &server.url,
        "--index",
        &index.to_string(),
        "--json",
    ]);
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["kind"], "outcome");
    assert_eq!(shown["record"]["action"], json!(a1_hash.to_hex()));
    assert_eq!(shown["signed_by"][0], s1.key_id());

    // The action is not in the log.
    let ghost = leaf_hash(b"never logged").to_hex();
    refused(
        &mut c,
        env(
            Kind::Outcome,
            outcome(&ghost, &c1.to_hex(), "ok", t0 + 32),
            &s1,
        )
        .0,
        Code::FailedPrecondition,
        &["outcome.action", "submit the referenced action first"],
    )
    .await;
    // `action` names a credential.
    refused(
        &mut c,
        env(
            Kind::Outcome,
            outcome(&c1.to_hex(), &c1.to_hex(), "ok", t0 + 32),
            &s1,
        )
        .0,
        Code::FailedPrecondition,
        &["it must reference an entry of kind action"],
    )
    .await;
    // Another credential's key writes an outcome of a1 under its own.
    refused(
        &mut c,
        env(
            Kind::Outcome,
            outcome(&a1_hash.to_hex(), &c2.to_hex(), "ok", t0 + 32),
            &s2,
        )
        .0,
        Code::InvalidArgument,
        &[&format!("set credential to {}", c1.to_hex())],
    )
    .await;
    // Dated before its action.
    refused(
        &mut c,
        env(
            Kind::Outcome,
            outcome(&a1_hash.to_hex(), &c1.to_hex(), "ok", t0 + 29),
            &s1,
        )
        .0,
        Code::InvalidArgument,
        &["is before the time", "of its action"],
    )
    .await;
    // Signed by the issuer, not the session key.
    refused(
        &mut c,
        env(
            Kind::Outcome,
            outcome(&a1_hash.to_hex(), &c1.to_hex(), "ok", t0 + 32),
            &p.issuer,
        )
        .0,
        Code::PermissionDenied,
        &["an outcome must be signed by the session key"],
    )
    .await;

    // A refused call, named by its digest: no action to reference.
    let call_digest = format!("sha256:{}", leaf_hash(b"{\"name\":\"x\"}").to_hex());
    add(
        &mut c,
        env(
            Kind::Exception,
            json!({
                "credential": c1.to_hex(),
                "reason": "refused call git.push: out of scope",
                "revoked": false,
                "time": t(t0 + 40),
                "call_digest": call_digest,
            }),
            &p.issuer,
        ),
    )
    .await;

    // A second action, then the credential is revoked while its call runs:
    // the outcome that comes back after is refused, like an action.
    let a2 = env(Kind::Action, action(&c1, 2, t0 + 50), &s1);
    let a2_hash = a2.1;
    add(&mut c, a2).await;
    let revoke = add(
        &mut c,
        env(
            Kind::Exception,
            json!({
                "credential": c1.to_hex(),
                "reason": "revoked mid-call",
                "revoked": true,
                "time": t(t0 + 55),
            }),
            &p.issuer,
        ),
    )
    .await;
    refused(
        &mut c,
        env(
            Kind::Outcome,
            outcome(&a2_hash.to_hex(), &c1.to_hex(), "error", t0 + 60),
            &s1,
        )
        .0,
        Code::PermissionDenied,
        &[
            "this outcome is signed by a session key",
            &format!("revoked by the exception at index {revoke}"),
        ],
    )
    .await;
}
