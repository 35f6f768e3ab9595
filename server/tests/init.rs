//! `causeway-server init` and `--help`, run as the real binary.

use std::process::Command;

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_causeway-server"))
}

#[test]
fn init_prints_origin_and_both_vkeys_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let out = server()
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["origin"], "example.com/x");
    let vkeys: Vec<&str> = v["vkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(vkeys.len(), 2);
    let ecdsa = causeway_tlog::note::VerifierKey::parse(vkeys[0]).unwrap();
    let ed25519 = causeway_tlog::note::VerifierKey::parse(vkeys[1]).unwrap();
    assert_eq!(ecdsa.kind(), causeway_tlog::note::SignatureType::Ecdsa);
    assert_eq!(ed25519.kind(), causeway_tlog::note::SignatureType::Ed25519);

    let again = server()
        .args([
            "init",
            "--data-dir",
            d.to_str().unwrap(),
            "--origin",
            "example.com/x",
        ])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already initialized"));

    let bad = server()
        .args([
            "init",
            "--data-dir",
            dir.path().join("e").to_str().unwrap(),
            "--origin",
            "has space",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid key name"));
}

#[test]
fn help_documents_every_flag() {
    let out = server().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--data-dir",
        "--origin",
        "--grpc-addr",
        "--batch-max-entries",
        "--batch-max-delay",
        "--max-pending-entries",
        "--max-request-bytes",
        "--max-request-entries",
        "--cache-mb",
        "--log-format",
        "--witness",
        "--witness-quorum",
        "--witness-timeout",
        "--witness-refresh",
        "--dev",
        "--dev-dir",
        "--accept",
        "--policy",
        "--tsa-url",
        "--tsa-roots",
        "--tsa-interval",
        "--tsa-policy",
        "--tsa-timeout",
        "--config",
        "--producer-rate-limit",
        "--storage",
        "--storage-ca",
        "--ha",
        "--ha-id",
        "--ha-lease",
        "--advertise",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn help_never_shows_the_storage_password() {
    let out = server()
        .arg("--help")
        .env(
            "CAUSEWAY_STORAGE",
            "postgres://causeway:s3cret-pw@db.internal/log",
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("CAUSEWAY_STORAGE"),
        "the variable is documented"
    );
    assert!(!text.contains("s3cret-pw"), "--help printed the password");
}

#[test]
fn config_errors_are_one_line_naming_the_problem_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"").unwrap();
    let cases = [
        (
            "witnes = [\"x\"]\n",
            "unknown key \"witnes\" (did you mean \"witness\"?)",
        ),
        ("grpc-addr = \"nonsense\"\n", "grpc-addr = \"nonsense\""),
        (
            "policy = \"/missing/policy.toml\"\n",
            "/missing/policy.toml",
        ),
        (
            "tsa-url = \"http://x\"\ntsa-roots = \"/missing/roots.pem\"\n",
            "/missing/roots.pem",
        ),
        (
            &format!(
                "data-dir = {:?}\naccept = \"opaque\"\n",
                file.display().to_string()
            ),
            "not a directory",
        ),
        ("dev = \"yes\"\n", "write true or false"),
        ("x = \n", "not valid TOML"),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("c{i}.toml"));
        std::fs::write(&path, text).unwrap();
        for args in [
            vec!["config", "check", path.to_str().unwrap()],
            vec!["--config", path.to_str().unwrap()],
        ] {
            let out = server().args(&args).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{args:?}: one line, got {err}");
            assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
        }
    }
}

#[test]
fn flags_win_over_the_environment_which_wins_over_the_config_file() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("causeway.toml");
    std::fs::write(
        &config,
        format!(
            "data-dir = {:?}\naccept = \"opaque\"\ngrpc-addr = \"127.0.0.1:0\"\nhttp-addr = \"off\"\norigin = \"from.config/log\"\n",
            dir.path().join("log").display().to_string()
        ),
    )
    .unwrap();
    let out = server()
        .args(["config", "check", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The flag turns HTTP back on; the environment overrides the origin.
    let mut child = server()
        .args([
            "--config",
            config.to_str().unwrap(),
            "--http-addr",
            "127.0.0.1:0",
        ])
        .env("CAUSEWAY_ORIGIN", "from.env/log")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let ready = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("causeway-server ready"))
        .expect("ready line");
    let _ = child.kill();
    let _ = child.wait();
    assert!(!ready.contains("http=off"), "{ready}");
    assert!(ready.contains("origin=from.env/log"), "{ready}");
}
