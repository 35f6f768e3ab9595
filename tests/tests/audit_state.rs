//! `causeway audit --state DIR` and `causeway find` against real logs: the
//! state answers the demo's causal chain offline, grows with the log while
//! keeping what it stored, and a state from another history is refused
//! with the fork evidence.

use std::path::{Path, PathBuf};

use causeway_tests::audit::{audit_args, demo, demo_log, last_action, with_vkeys};
use causeway_tests::{Server, cli};
use serde_json::Value;

/// `causeway audit --json --state state` of `server`; returns (ok, stdout
/// JSON if any, stderr).
fn audit(server: &Server, policy: &Path, out: &Path, state: &Path) -> (bool, Value, String) {
    let args = with_vkeys(
        audit_args(
            &server.url,
            &server.tiles_url,
            policy,
            out,
            &["--json", "--state", state.to_str().unwrap()],
        ),
        &server.vkeys,
    );
    let (ok, stdout, err) = cli(&args);
    (
        ok,
        serde_json::from_str(stdout.trim()).unwrap_or(Value::Null),
        err,
    )
}

/// `causeway find --state state ARGS`; panics if it fails.
fn find(state: &Path, args: &[&str]) -> String {
    let mut all = vec!["find", "--state", state.to_str().unwrap()];
    all.extend(args);
    let (ok, stdout, err) = cli(&all);
    assert!(ok, "causeway find {args:?} failed: {err}");
    stdout
}

fn find_json(state: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str::<Value>(&find(state, &all))
        .unwrap()
        .as_array()
        .cloned()
        .unwrap()
}

fn db(state: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(state.join("audit.sqlite")).unwrap()
}

fn count(state: &Path, sql: &str) -> i64 {
    db(state).query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_answers_find_offline_and_grows_with_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (server, policy, first) = demo_log(dir.path(), "4");
    let state: PathBuf = dir.path().join("state");
    let out = dir.path().join("report");

    let (ok, summary, err) = audit(&server, &policy, &out, &state);
    assert!(ok, "{err}");
    assert_eq!(summary["state"]["records_added"], first.len() as u64);
    assert_eq!(summary["state"]["records_kept"], 0);
    assert_eq!(count(&state, "PRAGMA user_version"), 1);
    assert_eq!(count(&state, "SELECT count(*) FROM checkpoint"), 1);

    // The demo's one change, human-readable: the whole chain.
    let text = find(&state, &["--ticket", "CHG-4821"]);
    assert!(
        text.contains("change CHG-4821: authorization #0")
            && text.contains("approved by alice@example.com"),
        "{text}"
    );
    assert!(
        text.contains("preflight #") && text.contains("(pass)"),
        "{text}"
    );
    assert!(text.contains("for agent agent://orchestrator-7"), "{text}");
    assert!(text.contains("for agent agent://log-reader-2"), "{text}");
    assert!(
        text.contains("ended at") && text.contains("closure #"),
        "{text}"
    );
    assert!(
        text.contains("review #") && text.contains("by bob@example.com"),
        "{text}"
    );
    assert!(text.contains("findings: none"), "{text}");
    let actions = summary["summary"]["actions"].as_u64().unwrap();
    assert!(text.contains(&format!("  actions: {actions}\n")), "{text}");

    // More records: a second run of the demo (another change with the same
    // ticket, agents and humans), then the same state audited again.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = demo(&server, &dir.path().join("producers"), "3");
    let (ok, summary, err) = audit(&server, &policy, &out, &state);
    assert!(ok, "{err}");
    let total = (first.len() + second.len()) as i64;
    assert_eq!(summary["state"]["records_kept"], first.len() as u64);
    assert_eq!(summary["state"]["records_added"], second.len() as u64);
    assert_eq!(count(&state, "SELECT count(*) FROM records"), total);
    assert_eq!(count(&state, "SELECT count(*) FROM checkpoint"), 2);
    assert_eq!(
        count(
            &state,
            "SELECT size FROM checkpoint ORDER BY rowid DESC LIMIT 1"
        ),
        total
    );
    // Old rows kept, new ones appended, each by its own leaf hash.
    for line in first.iter().chain(&second) {
        let stored: String = db(&state)
            .query_row(
                "SELECT leaf_hash FROM records WHERE idx = ?1",
                [line["index"].as_i64().unwrap()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, line["leaf_hash"].as_str().unwrap());
    }

    // Each key finds both changes, or only the one it names.
    let by_ticket = find_json(&state, &["--ticket", "CHG-4821"]);
    assert_eq!(by_ticket.len(), 2);
    assert_eq!(by_ticket[0]["authorization"]["idx"], 0);
    assert_eq!(by_ticket[1]["authorization"]["idx"], first.len() as u64);
    assert_eq!(
        by_ticket[1]["authorization"]["leaf_hash"],
        second[0]["leaf_hash"]
    );
    for change in &by_ticket {
        assert_eq!(change["authorization"]["approver"], "alice@example.com");
        assert_eq!(change["preflights"][0]["verdict"], "pass");
        assert_eq!(change["reviews"][0]["signer"], "bob@example.com");
        let credentials = change["credentials"].as_array().unwrap();
        assert!(credentials.len() >= 2, "{change}");
        assert!(credentials[0]["first_action"].is_string(), "{change}");
        assert_eq!(credentials[0]["ended_by"]["kind"], "closure", "{change}");
    }
    assert_eq!(
        find_json(&state, &["--approver", "alice@example.com"]).len(),
        2
    );
    assert_eq!(
        find_json(&state, &["--approver", "mallory@example.com"]).len(),
        0
    );
    assert!(find(&state, &["--approver", "mallory@example.com"]).contains("no matching change"));
    let by_agent = find_json(&state, &["--agent", "agent://log-reader-2"]);
    assert_eq!(by_agent.len(), 2);
    for change in &by_agent {
        assert!(
            change["credentials"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["agent_id"] == "agent://log-reader-2"),
            "{change}"
        );
    }
    let last = last_action(&second);
    let by_leaf = find_json(
        &state,
        &["--leaf-hash", last["leaf_hash"].as_str().unwrap()],
    );
    assert_eq!(by_leaf.len(), 1);
    assert_eq!(by_leaf[0]["matched"], serde_json::json!([last["index"]]));
    assert_eq!(by_leaf[0]["authorization"]["idx"], first.len() as u64);
    // A credential by its serial (the demo reuses its serials, so both
    // changes) or by its leaf hash (one), and a time window that holds
    // nothing.
    let (serial, leaf): (String, String) = db(&state)
        .query_row(
            "SELECT serial, leaf_hash FROM credentials ORDER BY idx DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(find_json(&state, &["--credential", &serial]).len(), 2);
    let by_leaf = find_json(&state, &["--credential", &leaf]);
    assert_eq!(by_leaf.len(), 1, "{by_leaf:?}");
    assert_eq!(by_leaf[0]["authorization"]["idx"], first.len() as u64);
    assert_eq!(
        find_json(
            &state,
            &["--target", "*", "--since", "2099-01-01T00:00:00Z"]
        )
        .len(),
        0
    );
    assert!(!find_json(&state, &["--target", "*"]).is_empty());

    // The README's query: actions per human per day. Every action of the
    // demo traces to alice.
    let per_day: Vec<(String, String, i64)> = db(&state)
        .prepare(
            "SELECT approver, substr(time, 1, 10) AS day, count(*) FROM records \
             WHERE kind = 'action' GROUP BY approver, day ORDER BY approver, day",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(per_day.iter().all(|(who, _, _)| who == "alice@example.com"));
    assert_eq!(
        per_day.iter().map(|(_, _, n)| n).sum::<i64>() as u64,
        summary["summary"]["actions"].as_u64().unwrap()
    );
    // Findings by kind: the same counts as the audit's summary.
    let by_kind = summary["summary"]["red_flags_by_kind"].as_object().unwrap();
    for (kind, n) in by_kind {
        let stored: i64 = db(&state)
            .query_row(
                "SELECT count(*) FROM findings WHERE kind = ?1",
                [kind],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored as u64, n.as_u64().unwrap(), "{kind}");
    }

    // A directory with no state: say what to run.
    let empty = dir.path().join("nothing");
    std::fs::create_dir_all(&empty).unwrap();
    let (ok, _, err) = cli(&["find", "--state", empty.to_str().unwrap(), "--ticket", "x"]);
    assert!(!ok);
    assert!(err.contains("causeway audit --state"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_from_another_history_is_refused_with_the_fork_evidence() {
    let dir = tempfile::tempdir().unwrap();
    // Log A, and log B: same origin, its own keys and a longer history.
    let (a, policy_a, _) = demo_log(&dir.path().join("a"), "2");
    let (b, policy_b, _) = demo_log(&dir.path().join("b"), "6");
    let state = dir.path().join("state");
    let (ok, _, err) = audit(&a, &policy_a, &dir.path().join("ra"), &state);
    assert!(ok, "{err}");
    let audited: i64 = count(&state, "SELECT size FROM checkpoint");
    let before = std::fs::read(state.join("audit.sqlite")).unwrap();

    // The same state pointed at B: the consistency proof from A's tree to
    // B's does not verify.
    let (ok, _, err) = audit(&b, &policy_b, &dir.path().join("rb"), &state);
    assert!(!ok, "a forked history must fail the audit");
    assert!(err.contains("FORK"), "{err}");
    assert!(
        err.contains("the consistency proof does not verify"),
        "{err}"
    );
    let evidence: Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("fork-evidence.json")).unwrap())
            .unwrap();
    assert_eq!(evidence["stored"]["size"], audited);
    assert!(
        !evidence["proof"].as_array().unwrap().is_empty(),
        "{evidence}"
    );
    let stored_note = evidence["stored"]["note"].as_str().unwrap();
    let new_note = evidence["new_note"].as_str().unwrap();
    assert!(stored_note.starts_with("test.causeway/log\n"));
    assert!(new_note.starts_with("test.causeway/log\n"));
    assert_ne!(stored_note, new_note);
    // The message prints both notes and the proof.
    assert!(err.contains(stored_note.lines().nth(2).unwrap()), "{err}");
    assert!(err.contains(new_note.lines().nth(2).unwrap()), "{err}");
    assert!(
        err.contains(evidence["proof"][0].as_str().unwrap()),
        "{err}"
    );
    // Nothing was written to the state.
    assert_eq!(std::fs::read(state.join("audit.sqlite")).unwrap(), before);

    // A stored root tampered with: the same log, now at the same size with
    // another root, is refused too.
    std::fs::remove_file(state.join("fork-evidence.json")).unwrap();
    db(&state)
        .execute("UPDATE checkpoint SET root_hex = ?1", [&"ab".repeat(32)])
        .unwrap();
    let (ok, _, err) = audit(&a, &policy_a, &dir.path().join("ra"), &state);
    assert!(!ok);
    assert!(
        err.contains("FORK") && err.contains("same size with different roots"),
        "{err}"
    );
    assert!(state.join("fork-evidence.json").is_file());

    // A state of another schema version is refused with a message.
    db(&state)
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let (ok, _, err) = audit(&a, &policy_a, &dir.path().join("ra"), &state);
    assert!(!ok);
    assert!(err.contains("schema version 99"), "{err}");
}

/// `causeway find --bundle DIR` writes, for the matching change, the proof
/// bundle of each record that ends its chain (its credentials, pre-flight,
/// closures, review), proved against the live log; each verifies offline
/// with the log's keys after the log is gone, and the found changes on
/// stdout are the same as without --bundle. A byte changed in one is
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_bundle_writes_the_changes_proof_bundles_and_they_verify_offline() {
    let dir = tempfile::tempdir().unwrap();
    let (server, policy, _) = demo_log(dir.path(), "3");
    let state = dir.path().join("state");
    let (ok, _, err) = audit(&server, &policy, &dir.path().join("report"), &state);
    assert!(ok, "{err}");

    let bundles = dir.path().join("bundles");
    let plain = find_json(&state, &["--ticket", "CHG-4821"]);
    let mut args = vec![
        "--ticket".to_owned(),
        "CHG-4821".into(),
        "--bundle".into(),
        bundles.to_str().unwrap().into(),
        "--log".into(),
        server.url.clone(),
    ];
    args = with_vkeys(args, &server.vkeys);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(find_json(&state, &refs), plain, "--bundle changed stdout");
    let vkeys = server.vkeys.clone();
    drop(server);

    let change = &plain[0];
    let mut expected: Vec<u64> = ["credentials", "preflights", "closures", "reviews"]
        .iter()
        .flat_map(|k| change[*k].as_array().cloned().unwrap_or_default())
        .map(|s| s["idx"].as_u64().unwrap())
        .collect();
    expected.sort();
    expected.dedup();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&bundles)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut written: Vec<u64> = files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.split('-').next().unwrap().parse().unwrap()
        })
        .collect();
    written.sort();
    assert_eq!(written, expected, "{files:?}");
    assert!(expected.len() >= 5, "{change}");

    let verify = |file: &Path| {
        let args = with_vkeys(
            vec!["verify".to_owned(), file.to_str().unwrap().to_owned()],
            &vkeys,
        );
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&refs)
    };
    for f in &files {
        let (ok, out, err) = verify(f);
        assert!(ok, "{}: {out}{err}", f.display());
    }
    // The first bundle made to name another record (one hex digit of its
    // leaf hash changed).
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let leaf = v["leaf_hash"].as_str().unwrap_or_default().to_owned();
    assert_eq!(leaf.len(), 64, "{text}");
    let flipped = format!(
        "{}{}",
        if leaf.starts_with('0') { "1" } else { "0" },
        &leaf[1..]
    );
    v["leaf_hash"] = flipped.into();
    let forged = dir.path().join("forged.json");
    std::fs::write(&forged, v.to_string()).unwrap();
    let (ok, out, err) = verify(&forged);
    assert!(!ok, "a bundle naming another leaf verified: {out}");
    assert!(!err.is_empty());
}

/// The monitor's output lines, read on a thread.
struct MonitorLines {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<Value>,
}

impl MonitorLines {
    /// Starts `causeway monitor --audit` of `server` with `state`, `policy`
    /// and `--exec exec`, polling every second.
    fn start(server: &Server, state: &Path, policy: &Path, exec: &str) -> MonitorLines {
        let mut args = vec![
            "monitor".to_owned(),
            "--audit".into(),
            "--state".into(),
            state.to_str().unwrap().into(),
            "--policy".into(),
            policy.to_str().unwrap().into(),
            "--tiles".into(),
            server.tiles_url.clone(),
            "--log".into(),
            server.url.clone(),
            "--interval".into(),
            "1".into(),
            "--exec".into(),
            exec.into(),
        ];
        args = with_vkeys(args, &server.vkeys);
        let mut child = std::process::Command::new(causeway_tests::binary("causeway"))
            .args(&args)
            .env_remove("CAUSEWAY_VKEYS")
            .env_remove("CAUSEWAY_WITNESS_VKEYS")
            .env_remove("CAUSEWAY_QUORUM")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let v = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        MonitorLines { child, lines }
    }

    /// The lines up to and including the first that `until` accepts
    /// (panics after 60 s).
    fn until(&self, what: &str, until: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    let done = until(&v);
                    seen.push(v);
                    if done {
                        return seen;
                    }
                }
                Err(_) => panic!("no {what} within 60 s; the monitor printed {seen:#?}"),
            }
        }
    }
}

impl Drop for MonitorLines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn findings(lines: &[Value]) -> Vec<(String, u64)> {
    lines
        .iter()
        .filter(|l| l["event"] == "finding")
        .map(|l| {
            (
                l["finding"]["kind"].as_str().unwrap().to_owned(),
                l["finding"]["record"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// `causeway monitor --audit` follows a log being written: the clean demo
/// raises nothing; an out-of-scope action planted while it runs is
/// reported within seconds, as one JSON line and once through --exec; and
/// after a restart of the monitor it is not reported again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_reports_a_planted_violation_once_across_restarts() {
    use causeway_records::{Kind, ProducerKey};
    use causeway_tests::fixtures::{action, add, approved, credential, env, now};

    let dir = tempfile::tempdir().unwrap();
    let producers = causeway_tests::Producers::new();
    let policy = producers.write(&dir.path().join("producers"));
    let server = Server::with_policy(&dir.path().join("log"), &policy);
    demo(&server, &dir.path().join("producers"), "2");
    let state = dir.path().join("state");
    let paged = dir.path().join("paged.jsonl");
    let exec = format!("cat >> '{}'", paged.display());

    let monitor = MonitorLines::start(&server, &state, &policy, &exec);
    let first = monitor.until("first audit", |l| l["event"] == "audited");
    assert_eq!(findings(&first), [], "the clean demo raised {first:#?}");

    // A credential for prod/api, and an action on prod/db under it.
    let mut log = causeway_client::LogClient::connect(&server.url)
        .await
        .unwrap();
    let (auth, pre) = approved(&mut log, &producers, "CHG-PLANTED", |_| {}).await;
    let session = ProducerKey::generate(&mut rand::rngs::OsRng);
    let at = now();
    let cred = env(
        Kind::Credential,
        credential("planted", &auth, &pre, None, &session, at, at + 3600),
        &producers.issuer,
    );
    let cred_hash = cred.1;
    add(&mut log, cred).await;
    let mut a = action(&cred_hash, 1, at);
    a["target"] = "prod/db".into();
    let planted = add(&mut log, env(Kind::Action, a, &session)).await;

    let mut lines = monitor.until("the planted finding", |l| {
        l["event"] == "finding" && l["finding"]["record"] == planted
    });
    // The round ends (--exec run, the finding marked) with its summary.
    lines.extend(monitor.until("the end of that round", |l| l["event"] == "audited"));
    let reported = findings(&lines);
    assert_eq!(
        reported,
        [("action_out_of_scope".to_owned(), planted)],
        "{lines:#?}"
    );
    drop(monitor);
    let paged_lines = std::fs::read_to_string(&paged).unwrap();
    assert_eq!(paged_lines.lines().count(), 1, "{paged_lines}");
    let page: Value = serde_json::from_str(paged_lines.trim()).unwrap();
    assert_eq!(page["finding"]["record"], planted);
    assert_eq!(page["finding"]["kind"], "action_out_of_scope");

    // Restarted: it audits again and reports nothing it reported before.
    let again = MonitorLines::start(&server, &state, &policy, &exec);
    let lines = again.until("the audit after the restart", |l| l["event"] == "audited");
    assert_eq!(
        findings(&lines),
        [],
        "reported again after a restart: {lines:#?}"
    );
    assert_eq!(lines.last().unwrap()["new_findings"], 0);
    assert!(
        lines.last().unwrap()["red_flags"].as_u64() >= Some(1),
        "{lines:#?}"
    );
    drop(again);
    assert_eq!(std::fs::read_to_string(&paged).unwrap(), paged_lines);
}
