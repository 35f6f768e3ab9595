//! The `causeway` and `causeway-server` command lines: JSON shapes from
//! DESIGN §6, verification with --vkey, exit codes.

use causeway_tests::{Server, binary, cli};
use serde_json::Value;

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

#[test]
fn server_runs_on_a_directory_made_by_init() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let out = std::process::Command::new(binary("causeway-server"))
        .args([
            "init",
            "--data-dir",
            d.to_str().unwrap(),
            "--origin",
            "example.com/x",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let vkeys: Vec<String> = v["vkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    let server = Server::start(&d, &["--origin", "example.com/x"]);
    assert_eq!(server.vkeys, vkeys);
    drop(server);
    // A different --origin for the same directory is refused with a hint.
    let out = std::process::Command::new(binary("causeway-server"))
        .args([
            "--data-dir",
            d.to_str().unwrap(),
            "--origin",
            "example.com/y",
            "--grpc-addr",
            "127.0.0.1:0",
            "--accept",
            "opaque",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("drop --origin"));
}

#[test]
fn every_binary_has_help() {
    for (bin, args) in [
        ("causeway-server", vec!["--help"]),
        ("causeway-server", vec!["init", "--help"]),
        ("causeway", vec!["--help"]),
        ("causeway", vec!["submit", "--help"]),
        ("causeway", vec!["checkpoint", "--help"]),
        ("causeway", vec!["prove", "inclusion", "--help"]),
        ("causeway", vec!["prove", "consistency", "--help"]),
    ] {
        let out = std::process::Command::new(binary(bin))
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{bin} {args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage"), "{bin} {args:?}: {text}");
    }
}

#[test]
fn submit_checkpoint_and_prove_with_json_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("log"), &[]);
    let url = server.url.as_str();
    let files: Vec<String> = (0..5)
        .map(|i| {
            let p = dir.path().join(format!("e{i}.json"));
            std::fs::write(&p, format!("{{\"n\": {i}}}")).unwrap();
            p.to_str().unwrap().to_owned()
        })
        .collect();
    let (v1, v2) = (server.vkeys[0].as_str(), server.vkeys[1].as_str());

    let mut args = vec!["submit", "--log", url, "--json", "--vkey", v1, "--vkey", v2];
    args.extend(files.iter().map(String::as_str));
    args.push(&files[0]); // a duplicate
    let (ok, out, err) = cli(&args);
    assert!(ok, "{err}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 6);
    for (i, l) in lines[..5].iter().enumerate() {
        assert_eq!(l["index"], i as u64);
        assert_eq!(l["leaf_hash"].as_str().unwrap().len(), 64);
        assert_eq!(l["verified"], true);
    }
    assert_eq!(lines[5]["index"], 0);
    assert_eq!(lines[5]["duplicate"], true);

    let (ok, out, _) = cli(&[
        "checkpoint",
        "--log",
        url,
        "--json",
        "--vkey",
        v1,
        "--vkey",
        v2,
    ]);
    assert!(ok);
    let cp: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cp["size"], 5);
    assert_eq!(cp["verified"], true);
    assert!(
        cp["note"]
            .as_str()
            .unwrap()
            .starts_with("test.causeway/log\n5\n")
    );
    let root = cp["root"].as_str().unwrap().to_owned();

    let (ok, out, _) = cli(&[
        "prove",
        "inclusion",
        "--log",
        url,
        "--index",
        "3",
        "--json",
        "--vkey",
        v1,
    ]);
    assert!(ok);
    let p: Value = serde_json::from_str(&out).unwrap();
    for field in [
        "leaf_index",
        "tree_size",
        "leaf_hash",
        "root",
        "proof",
        "note",
    ] {
        assert!(!p[field].is_null(), "missing {field}");
    }
    assert_eq!(p["leaf_index"], 3);
    assert_eq!(p["root"], root.as_str());
    assert_eq!(p["leaf_hash"], lines[3]["leaf_hash"]);

    let h = lines[2]["leaf_hash"].as_str().unwrap();
    let (ok, out, _) = cli(&[
        "prove",
        "inclusion",
        "--log",
        url,
        "--leaf-hash",
        h,
        "--json",
        "--vkey",
        v2,
    ]);
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["leaf_index"],
        2
    );
    let (ok, out, _) = cli(&[
        "prove",
        "inclusion",
        "--log",
        url,
        "--file",
        &files[4],
        "--json",
    ]);
    assert!(ok);
    let p: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (p["leaf_index"].as_u64(), p["verified"].as_bool()),
        (Some(4), Some(false))
    );

    let (ok, out, _) = cli(&[
        "prove",
        "consistency",
        "--log",
        url,
        "--old",
        "5",
        "--json",
        "--vkey",
        v1,
        "--vkey",
        v2,
    ]);
    assert!(ok);
    let c: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (c["old_size"].as_u64(), c["new_size"].as_u64()),
        (Some(5), Some(5))
    );
    let more = dir.path().join("more");
    std::fs::write(&more, "more").unwrap();
    assert!(cli(&["submit", "--log", url, more.to_str().unwrap()]).0);
    let (ok, out, _) = cli(&[
        "prove",
        "consistency",
        "--log",
        url,
        "--old",
        "5",
        "--json",
        "--vkey",
        v1,
    ]);
    assert!(ok);
    let c: Value = serde_json::from_str(&out).unwrap();
    for field in ["old_size", "new_size", "old_root", "new_root", "proof"] {
        assert!(!c[field].is_null(), "missing {field}");
    }
    assert_eq!(c["old_root"], root.as_str());
    assert_eq!(c["new_size"], 6);
    assert!(!c["proof"].as_array().unwrap().is_empty());

    // Another log's key: nothing printed as valid, non-zero exit.
    let other = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(binary("causeway-server"))
        .args([
            "init",
            "--data-dir",
            other.path().join("o").to_str().unwrap(),
            "--origin",
            "test.causeway/log",
            "--json",
        ])
        .output()
        .unwrap();
    let foreign: Value = serde_json::from_slice(&out.stdout).unwrap();
    let foreign = foreign["vkeys"][1].as_str().unwrap();
    for args in [
        vec!["checkpoint", "--log", url, "--json", "--vkey", foreign],
        vec![
            "prove",
            "inclusion",
            "--log",
            url,
            "--index",
            "1",
            "--json",
            "--vkey",
            foreign,
        ],
        vec![
            "prove",
            "consistency",
            "--log",
            url,
            "--old",
            "5",
            "--json",
            "--vkey",
            foreign,
        ],
        vec![
            "submit",
            "--log",
            url,
            "--json",
            "--vkey",
            foreign,
            more.to_str().unwrap(),
        ],
    ] {
        let (ok, out, err) = cli(&args);
        assert!(!ok, "{args:?} must fail");
        assert!(out.is_empty(), "{args:?} printed {out}");
        assert!(err.contains("error:"), "{err}");
    }
    // A malformed key and an unreachable log are clear errors.
    let (ok, _, err) = cli(&["checkpoint", "--log", url, "--vkey", "nonsense"]);
    assert!(!ok && err.contains("--vkey"), "{err}");
    let (ok, _, err) = cli(&["checkpoint", "--log", "http://127.0.0.1:1"]);
    assert!(!ok && err.contains("cannot connect"), "{err}");
    // An oversized file is refused before anything is sent.
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'x'; 65_536]).unwrap();
    let (ok, _, err) = cli(&["submit", "--log", url, big.to_str().unwrap()]);
    assert!(!ok && err.contains("65535"), "{err}");
}

#[test]
fn record_show_drops_invisible_characters_for_people_and_keeps_them_in_json() {
    use causeway_records::{Kind, ProducerKey};
    use causeway_tests::fixtures::{action, env, now};
    let dir = tempfile::tempdir().unwrap();
    let key = ProducerKey::generate(&mut rand::rngs::OsRng);
    // A right-to-left override (U+202E) makes a target read as another.
    let mut record = action(&causeway_tlog::merkle::leaf_hash(b"c"), 1, now());
    record["target"] = serde_json::json!("prod/api\u{202e}ipa/gats\u{200b}");
    let (entry, _) = env(Kind::Action, record, &key);
    let file = dir.path().join("action.pb");
    std::fs::write(&file, entry).unwrap();
    let path = file.to_str().unwrap();

    let (ok, out, err) = cli(&["record", "show", path]);
    assert!(ok, "{err}");
    assert!(out.contains("prod/apiipa/gats"), "{out}");
    assert!(
        !out.contains('\u{202e}') && !out.contains('\u{200b}'),
        "{out:?}"
    );
    let (ok, out, err) = cli(&["record", "show", path, "--json"]);
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        shown["record"]["target"],
        "prod/api\u{202e}ipa/gats\u{200b}"
    );
}

/// Issue 21: `causeway demo --actions N` with N over the server's
/// `--max-request-entries` used to send one request and be refused with
/// RESOURCE_EXHAUSTED; it now sends each step in batches, in log order.
#[test]
fn demo_splits_a_step_larger_than_the_servers_request_limit() {
    let dir = tempfile::tempdir().unwrap();
    let producers = dir.path().join("producers");
    let policy = causeway_tests::Producers::new().write(&producers);
    let server = Server::start(
        &dir.path().join("log"),
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--max-request-entries",
            "1000",
        ],
    );
    let written = causeway_tests::audit::demo(&server, &producers, "1500");
    let actions = written.iter().filter(|r| r["kind"] == "action").count();
    // The orchestrator's 1500 actions and the sub-agent's 750.
    assert_eq!(actions, 1500 + 750);
    let indices: Vec<u64> = written
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert!(
        indices.windows(2).all(|w| w[0] < w[1]),
        "records are in log order"
    );
}
