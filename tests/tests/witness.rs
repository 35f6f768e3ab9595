//! A log with real witness processes: quorum publication, witnesses dying
//! and coming back, all witnesses down, restarts, and a split-view attack.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;

use causeway_client::LogClient;
use causeway_client::verify::{
    VerificationError, WitnessPolicy, check_consistency, check_witnesses, verify_checkpoint,
};
use causeway_tests::{Server, Witness, cli, init_log, published_at_least, start_witnesses};
use causeway_tlog::note::VerifierKey;

const ORIGIN: &str = "test.causeway/witnessed";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn policy(witnesses: &[&Witness], quorum: usize) -> WitnessPolicy {
    WitnessPolicy {
        keys: witnesses.iter().map(|w| w.vkey.parse().unwrap()).collect(),
        quorum,
        max_age_secs: Some(300),
    }
}

async fn submit(client: &mut LogClient, tag: &str, n: usize) -> u64 {
    let entries: Vec<Vec<u8>> = (0..n).map(|i| format!("{tag}-{i}").into_bytes()).collect();
    let added = client
        .add_entries(entries)
        .await
        .expect("entries acknowledged");
    added.entries.last().unwrap().index + 1
}

async fn get_json(url: &str) -> serde_json::Value {
    let body = reqwest::get(url).await.unwrap().text().await.unwrap();
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"))
}

fn size_of(note: &str, keys: &[VerifierKey]) -> u64 {
    verify_checkpoint(note, keys).unwrap().checkpoint().size()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_publication_through_witness_failures_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let log_vkeys = init_log(&log_dir, ORIGIN);
    let mut witnesses = start_witnesses(dir.path(), "witness.test/w", &log_vkeys, 3);
    let flags: Vec<String> = witnesses.iter().map(Witness::flag).collect();
    let mut args: Vec<&str> = vec!["--origin", ORIGIN, "--witness-quorum", "2"];
    for f in &flags {
        args.extend(["--witness", f]);
    }
    let server = Server::start(&log_dir, &args);
    let keys = server.keys();
    let mut client = LogClient::connect(&server.url).await.unwrap();
    let witness_vkeys: Vec<String> = witnesses.iter().map(|w| w.vkey.clone()).collect();

    // Throughout the test, a watcher records every published checkpoint and
    // a writer keeps submitting, whatever happens to the witnesses.
    let mut watch_client = LogClient::connect(&server.url).await.unwrap();
    let mut stream = watch_client.watch_checkpoints().await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let watcher = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some(Ok(note)) = stream.next().await {
                seen.lock().unwrap().push(note);
            }
        })
    };
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (url, stop) = (server.url.clone(), stop.clone());
        tokio::spawn(async move {
            let mut c = LogClient::connect(&url).await.unwrap();
            let mut acked = Vec::new();
            for i in 0u64.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let entry = format!("stream-{i}").into_bytes();
                let r = c
                    .add_entries(vec![entry.clone()])
                    .await
                    .expect("writes are acknowledged whatever the witnesses do");
                acked.push((r.entries[0].index, entry));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            acked
        })
    };

    // Every published checkpoint carries the log's signatures and at least
    // two valid cosignatures from the configured witnesses.
    let size = submit(&mut client, "a", 20).await;
    let note = published_at_least(&mut client, size, &server).await;
    let all: Vec<&Witness> = witnesses.iter().collect();
    let cosigned = check_witnesses(&note, &policy(&all, 2), now()).unwrap();
    assert!(cosigned.len() >= 2, "{note}");
    // A quorum of three is not met by a note with two cosignatures, and
    // a witness outside the policy never counts.
    let outsider = Witness::start(
        &dir.path().join("w9"),
        "witness.test/w9",
        &log_vkeys,
        "127.0.0.1:0",
    );
    assert!(matches!(
        check_witnesses(&note, &policy(&[&outsider], 1), now()),
        Err(VerificationError::NoQuorum { got: 0, .. })
    ));
    drop(outsider);

    // The CLI applies the same policy.
    let wv: Vec<String> = witnesses.iter().map(|w| w.vkey.clone()).collect();
    let mut cli_args = vec![
        "checkpoint",
        "--log",
        &server.url,
        "--json",
        "--quorum",
        "2",
    ];
    for v in &log_vkeys {
        cli_args.extend(["--vkey", v]);
    }
    for v in &wv {
        cli_args.extend(["--witness-vkey", v]);
    }
    let (ok, out, err) = cli(&cli_args);
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(json["cosignatures"].as_array().unwrap().len() >= 2, "{out}");
    // Demanding a witness that is not in the note fails with a clear reason.
    let mut strict = cli_args.clone();
    strict.extend([
        "--witness-vkey",
        "witness.test/none+00000000+BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ]);
    let (ok, _, err) = cli(&strict);
    assert!(!ok);
    assert!(
        err.contains("--witness-vkey") || err.contains("witness"),
        "{err}"
    );

    // One witness killed: publication continues with the other two.
    let w1 = witnesses.remove(0);
    let (w1_dir, w1_addr) = (w1.data_dir.clone(), w1.addr.clone());
    let monitored_before = get_json(&format!("{}/logs", w1.url)).await[0]["size"]
        .as_u64()
        .unwrap();
    w1.kill9();
    let size = submit(&mut client, "b", 10).await;
    let note = published_at_least(&mut client, size, &server).await;
    let remaining: Vec<&Witness> = witnesses.iter().collect();
    assert_eq!(
        check_witnesses(&note, &policy(&remaining, 2), now())
            .unwrap()
            .len(),
        2
    );

    // Restarted on the same port with the same state: it remembers the
    // size it cosigned, and cosigns again from there (the log follows its
    // 409 to the right consistency proof).
    let w1 = Witness::start(&w1_dir, "witness.test/w1", &log_vkeys, &w1_addr);
    let monitored_after = get_json(&format!("{}/logs", w1.url)).await[0]["size"]
        .as_u64()
        .unwrap();
    // The writer may have got a cosignature in just before the kill, but
    // never one the witness did not persist.
    assert!(
        monitored_after >= monitored_before,
        "witness state went back from {monitored_before} to {monitored_after} after kill -9"
    );
    witnesses.insert(0, w1);
    // The log publishes as soon as two cosigned, so the restarted witness's
    // progress shows in its own state: it catches up with the log's head.
    let size = submit(&mut client, "c", 5).await;
    published_at_least(&mut client, size, &server).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = get_json(&format!("{}/logs", witnesses[0].url)).await;
        if logs[0]["size"].as_u64().is_some_and(|s| s >= size) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted witness never cosigned again: {logs}\n{}",
            server.stderr()
        );
        submit(&mut client, &format!("c-{}", rand::random::<u64>()), 1).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // All witnesses down: writes are still acknowledged and durable, the
    // published checkpoint stays where it was and the server says why.
    let dirs: Vec<(std::path::PathBuf, String, String)> = witnesses
        .iter()
        .enumerate()
        .map(|(i, w)| {
            (
                w.data_dir.clone(),
                w.addr.clone(),
                format!("witness.test/w{}", i + 1),
            )
        })
        .collect();
    for w in witnesses.drain(..) {
        w.kill9();
    }
    // A round that was in flight when they died has finished by now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let published_before = client.checkpoint(None).await.unwrap();
    let size = submit(&mut client, "d", 25).await;
    let entries = client.entries(size - 25, 25).await.unwrap();
    assert_eq!(
        entries.len(),
        25,
        "acknowledged entries are readable at once"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(client.checkpoint(None).await.unwrap(), published_before);
    assert!(
        server.stderr().contains("publication is stalled"),
        "{}",
        server.stderr()
    );
    // The producer can still check inclusion against the log-signed
    // checkpoint AddEntries returned.
    let (ok, out, err) = cli(&[
        "prove",
        "inclusion",
        "--log",
        &server.url,
        "--index",
        &(size - 1).to_string(),
        "--wait",
        "none",
        "--json",
    ]);
    assert!(
        !ok,
        "the entry cannot be in a published checkpoint yet: {out}"
    );
    assert!(err.contains("published") || err.contains("beyond"), "{err}");

    // The witnesses return: publication catches up with the head.
    for (d, addr, name) in &dirs {
        witnesses.push(Witness::start(d, name, &log_vkeys, addr));
    }
    let note = published_at_least(&mut client, size, &server).await;
    let all: Vec<&Witness> = witnesses.iter().collect();
    check_witnesses(&note, &policy(&all, 2), now()).unwrap();
    let (ok, out, err) = cli(&[
        "prove",
        "inclusion",
        "--log",
        &server.url,
        "--index",
        &(size - 1).to_string(),
        "--json",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("\"leaf_index\""), "{out}");
    // A monitor following the log and its witnesses finds them consistent.
    let mut monitor = vec![
        "monitor",
        "--log",
        &server.url,
        "--rounds",
        "2",
        "--interval",
        "0",
    ];
    let urls: Vec<String> = witnesses.iter().map(|w| w.url.clone()).collect();
    for u in &urls {
        monitor.extend(["--witness-url", u]);
    }
    for v in &log_vkeys {
        monitor.extend(["--vkey", v]);
    }
    let (ok, events, err) = cli(&monitor);
    assert!(ok, "{err}");
    assert_eq!(events.matches("witness_consistent").count(), 6, "{events}");

    // Every entry the writer got acknowledged is in the log at its index,
    // and every checkpoint published along the way was cosigned by two of
    // the three witnesses and is consistent with the next one.
    stop.store(true, Ordering::SeqCst);
    let acked = writer.await.unwrap();
    assert!(acked.len() > 20, "the writer made little progress");
    for (index, entry) in &acked {
        let got = client.entries(*index, 1).await.unwrap();
        assert_eq!(&got[0], entry, "acknowledged entry {index} lost or changed");
    }
    let published_at_least_now =
        published_at_least(&mut client, acked.last().unwrap().0 + 1, &server).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.len() > 5,
        "few checkpoints were published: {}",
        seen.len()
    );
    assert!(size_of(seen.last().unwrap(), &keys) >= size_of(&published_at_least_now, &keys));
    let any_two = WitnessPolicy {
        keys: witness_vkeys.iter().map(|v| v.parse().unwrap()).collect(),
        quorum: 2,
        max_age_secs: None,
    };
    let mut previous: Option<causeway_tlog::checkpoint::Checkpoint> = None;
    for note in &seen {
        let cp = verify_checkpoint(note, &keys).unwrap().into_checkpoint();
        check_witnesses(note, &any_two, now()).unwrap();
        if let Some(prev) = &previous {
            assert!(cp.size() >= prev.size(), "published size went back");
            if cp.size() > prev.size() && prev.size() > 0 {
                let (_, proof) = client
                    .consistency_proof(prev.size(), Some(cp.size()))
                    .await
                    .unwrap();
                check_consistency(prev, &cp, &proof).unwrap();
            }
        }
        previous = Some(cp);
    }
    watcher.abort();

    // The published checkpoints before and after are consistent.
    let old = verify_checkpoint(&published_before, &keys)
        .unwrap()
        .into_checkpoint();
    let new = verify_checkpoint(&note, &keys).unwrap().into_checkpoint();
    let (_, proof) = client
        .consistency_proof(old.size(), Some(new.size()))
        .await
        .unwrap();
    check_consistency(&old, &new, &proof).unwrap();

    // A restart with every witness down serves the last cosigned
    // checkpoint at once instead of waiting for witnesses.
    let published = client.checkpoint(None).await.unwrap();
    assert!(server.terminate().success());
    for w in witnesses.drain(..) {
        w.kill9();
    }
    let server = Server::start(&log_dir, &args);
    let mut client = LogClient::connect(&server.url).await.unwrap();
    assert_eq!(client.checkpoint(None).await.unwrap(), published);
    assert!(size_of(&published, &keys) >= size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_checkpoint_is_published_before_a_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let log_vkeys = init_log(&log_dir, ORIGIN);
    // A witness that is not running: nothing can be cosigned.
    let w = Witness::start(
        &dir.path().join("w1"),
        "witness.test/w1",
        &log_vkeys,
        "127.0.0.1:0",
    );
    let flag = w.flag();
    w.kill9();
    let server = Server::start(&log_dir, &["--origin", ORIGIN, "--witness", &flag]);
    let mut client = LogClient::connect(&server.url).await.unwrap();
    submit(&mut client, "x", 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let err = client.checkpoint(None).await.unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::Unavailable), "{err}");
    assert!(err.to_string().contains("witness.test/w1"), "{err}");
    let http = reqwest::get(format!("{}/checkpoint", server.tiles_url))
        .await
        .unwrap();
    assert_eq!(http.status(), 503);
    assert!(http.headers().contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_view_is_refused_and_kept_as_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let a_dir = dir.path().join("a");
    let b_dir = dir.path().join("b");
    let log_vkeys = init_log(&a_dir, ORIGIN);
    let witness = Witness::start(
        &dir.path().join("w"),
        "witness.test/w",
        &log_vkeys,
        "127.0.0.1:0",
    );
    let flag = witness.flag();
    let args = ["--origin", ORIGIN, "--witness", &flag];

    // A common history of 3 entries, then the data dir is copied: two log
    // instances now hold the same key and the same tree.
    let a = Server::start(&a_dir, &args);
    let keys = a.keys();
    let mut client = LogClient::connect(&a.url).await.unwrap();
    let common = submit(&mut client, "common", 3).await;
    published_at_least(&mut client, common, &a).await;
    assert!(a.terminate().success());
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(&a_dir)
        .arg(&b_dir)
        .status()
        .unwrap();
    assert!(status.success());

    // Branch A grows by 5 entries and gets cosigned.
    let a = Server::start(&a_dir, &args);
    let mut client = LogClient::connect(&a.url).await.unwrap();
    let size = submit(&mut client, "branch-a", 5).await;
    let a_note = published_at_least(&mut client, size, &a).await;
    assert!(a.terminate().success());

    // Branch B writes 5 different entries: same size, different root.
    let b = Server::start(&b_dir, &args);
    let mut client = LogClient::connect(&b.url).await.unwrap();
    assert_eq!(submit(&mut client, "branch-b", 5).await, size);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !b.stderr().contains("SPLIT VIEW") {
        assert!(
            Instant::now() < deadline,
            "no split-view error logged:\n{}",
            b.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // B never publishes its branch.
    let b_published = client.checkpoint(None).await.unwrap();
    assert_eq!(size_of(&b_published, &keys), common);

    // The witness kept both log-signed notes; they verify with the log's
    // keys and cannot both be true.
    let listed = get_json(&format!("{}/evidence", witness.url)).await;
    let records = listed.as_array().unwrap();
    assert_eq!(records.len(), 1, "{listed}");
    let record = &records[0];
    assert_eq!(record["kind"], "same_size_different_root");
    let cosigned = verify_checkpoint(record["cosigned"].as_str().unwrap(), &keys).unwrap();
    let presented = verify_checkpoint(record["presented"].as_str().unwrap(), &keys).unwrap();
    assert_eq!(cosigned.checkpoint().size(), presented.checkpoint().size());
    assert_ne!(cosigned.checkpoint().root(), presented.checkpoint().root());
    assert_eq!(
        cosigned.checkpoint().root(),
        verify_checkpoint(&a_note, &keys)
            .unwrap()
            .checkpoint()
            .root()
    );
    assert!(
        witness.stderr().to_lowercase().contains("split"),
        "{}",
        witness.stderr()
    );

    // The same evidence from the witness's CLI, and by id over HTTP.
    let id = record["id"].as_str().unwrap();
    let one = get_json(&format!("{}/evidence/{id}", witness.url)).await;
    assert_eq!(&one, record);
    let out = std::process::Command::new(causeway_tests::binary("causeway-witness"))
        .arg("evidence")
        .arg("--data-dir")
        .arg(&witness.data_dir)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        from_cli.as_array().unwrap()[0]["presented"],
        record["presented"]
    );

    // An auditor takes the evidence away and checks it with the log's
    // public keys alone: conclusive proof of a split view.
    let saved = dir.path().join("evidence.json");
    std::fs::write(&saved, &out.stdout).unwrap();
    let mut args = vec!["verify-evidence", saved.to_str().unwrap(), "--json"];
    for v in &log_vkeys {
        args.extend(["--vkey", v]);
    }
    let (ok, out, err) = cli(&args);
    assert!(ok, "{err}");
    let finding: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(finding["conclusive"], true, "{out}");
    assert_eq!(finding["cosigned_size"], finding["presented_size"]);
    let (ok, out, _) = cli(&[
        "verify-evidence",
        "--witness",
        &witness.url,
        "--vkey",
        &log_vkeys[1],
    ]);
    assert!(ok && out.contains("PROOF OF A SPLIT VIEW"), "{out}");
    // A monitor following branch B and the witness sees that the
    // witness's checkpoint (branch A) cannot be proved consistent with B.
    let mut args = vec![
        "monitor",
        "--log",
        &b.url,
        "--witness-url",
        &witness.url,
        "--rounds",
        "1",
    ];
    for v in &log_vkeys {
        args.extend(["--vkey", v]);
    }
    let (ok, out, err) = cli(&args);
    assert!(!ok, "the monitor must fail on a split view: {out}");
    assert!(
        out.contains("\"inconsistent\"") || out.contains("\"split_view\""),
        "{out}\n{err}"
    );
    assert!(err.contains("MISBEHAVIOUR"), "{err}");

    // With another log's key the notes prove nothing, and the exit code says so.
    let other = init_log(&dir.path().join("other"), ORIGIN);
    let (ok, out, _) = cli(&[
        "verify-evidence",
        saved.to_str().unwrap(),
        "--vkey",
        &other[1],
    ]);
    assert!(!ok && out.contains("DOES NOT VERIFY"), "{out}");
}

/// Starts `causeway-server --dev` in `dir`; returns the process, the gRPC
/// URL, the log's vkeys and the two witnesses' vkeys from what it prints.
fn start_dev(dir: &Path) -> (std::process::Child, String, Vec<String>, Vec<String>) {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(causeway_tests::binary("causeway-server"))
        .args([
            "--dev",
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ])
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let (mut vkeys, mut witness_vkeys) = (Vec::new(), Vec::new());
    let url = loop {
        let line = lines.next().expect("--dev exited early").unwrap();
        if let Some(v) = line.strip_prefix("vkey ") {
            vkeys.push(v.to_owned());
        } else if let Some(rest) = line.trim_start().strip_prefix("witness ") {
            witness_vkeys.push(rest.split_whitespace().nth(2).unwrap().to_owned());
        } else if let Some(rest) = line.strip_prefix("causeway-server ready ") {
            let grpc = rest
                .split(' ')
                .find_map(|f| f.strip_prefix("grpc="))
                .unwrap();
            break format!("http://{grpc}");
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, url, vkeys, witness_vkeys)
}

#[test]
fn dev_mode_is_a_complete_witnessed_deployment_that_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (child, url, vkeys, witness_vkeys) = start_dev(dir.path());
    assert_eq!((vkeys.len(), witness_vkeys.len()), (2, 2));
    let env_cli = |args: &[&str]| {
        let out = std::process::Command::new(causeway_tests::binary("causeway"))
            .args(args)
            .env("CAUSEWAY_LOG", &url)
            .env("CAUSEWAY_VKEYS", vkeys.join(","))
            .env("CAUSEWAY_WITNESS_VKEYS", witness_vkeys.join(","))
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    };
    // The demo writes a signed causal chain with the producer keys --dev
    // created and trusts.
    let producers = dir.path().join("causeway-dev/producers");
    let (ok, out, err) = env_cli(&[
        "demo",
        "--producers",
        producers.to_str().unwrap(),
        "--actions",
        "4",
        "--json",
    ]);
    assert!(ok, "{err}");
    let written = out.lines().count() as u64;
    assert!(written >= 10, "{out}");
    // Published only with both witnesses' cosignatures (the default quorum
    // is every --witness-vkey given).
    let last = (written - 1).to_string();
    let (ok, out, err) = env_cli(&["prove", "inclusion", "--index", &last, "--json"]);
    assert!(ok, "{err}");
    let proof: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(proof["cosignatures"].as_array().unwrap().len(), 2, "{out}");
    let (ok, out, err) = env_cli(&["record", "show", "--index", "0", "--json"]);
    assert!(ok, "{err}");
    assert!(out.contains("\"kind\":\"authorization\""), "{out}");
    // The development TSA (openssl) anchors the published checkpoints.
    let roots = dir.path().join("causeway-dev/tsa/ca.pem");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (ok, out, err) = env_cli(&[
            "verify-anchor",
            "--tsa-roots",
            roots.to_str().unwrap(),
            "--json",
        ]);
        if ok {
            let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
            assert_eq!(v["anchor_verified"], true);
            if v["tree_size"].as_u64() == Some(written) {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no anchor of size {written}: {err}"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let tree_size = proof["tree_size"].as_u64().unwrap();

    let pid = child.id().to_string();
    let mut child = child;
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        child.wait().unwrap().success(),
        "--dev must exit 0 on SIGTERM"
    );

    // Same directory again: same keys, same witnesses, nothing lost.
    let (mut child, url2, vkeys2, witness_vkeys2) = start_dev(dir.path());
    assert_eq!(
        (vkeys2, witness_vkeys2),
        (vkeys.clone(), witness_vkeys.clone())
    );
    let out = std::process::Command::new(causeway_tests::binary("causeway"))
        .args(["checkpoint", "--json", "--log", &url2])
        .env("CAUSEWAY_VKEYS", vkeys.join(","))
        .env("CAUSEWAY_WITNESS_VKEYS", witness_vkeys.join(","))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cp: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cp["size"].as_u64(), Some(tree_size));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
}
