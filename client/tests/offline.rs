//! `causeway` errors that need no server: bad keys, bad files, no log.

use std::process::Command;

fn causeway(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_causeway"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn clear_errors_before_any_network() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let (ok, err) = causeway(&[
        "submit",
        "--log",
        "http://127.0.0.1:1",
        empty.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("an entry must have 1 to 65535 bytes"),
        "{err}"
    );
    let (ok, err) = causeway(&["submit", "--log", "http://127.0.0.1:1", "/nonexistent/file"]);
    assert!(!ok && err.contains("reading /nonexistent/file"), "{err}");
    let (ok, err) = causeway(&[
        "checkpoint",
        "--vkey",
        "a+b+c",
        "--log",
        "http://127.0.0.1:1",
    ]);
    assert!(!ok && err.contains("--vkey"), "{err}");
    let (ok, err) = causeway(&[
        "prove",
        "inclusion",
        "--leaf-hash",
        "xyz",
        "--log",
        "http://127.0.0.1:1",
    ]);
    assert!(!ok && err.contains("--leaf-hash"), "{err}");
    let (ok, err) = causeway(&["checkpoint", "--log", "http://127.0.0.1:1"]);
    assert!(
        !ok && err.contains("cannot connect") && err.contains("causeway-server running"),
        "{err}"
    );
    let (ok, err) = causeway(&["checkpoint", "--log", "not a url"]);
    assert!(!ok && err.contains("invalid log URL"), "{err}");
    let (ok, _) = causeway(&["prove", "inclusion", "--log", "http://127.0.0.1:1"]);
    assert!(!ok, "a leaf must be named");
}
