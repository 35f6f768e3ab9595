//! `causeway … | head`: when the reader of its output goes away, the CLI
//! ends quietly, as Unix tools do, instead of panicking with a backtrace.

use std::os::unix::process::ExitStatusExt as _;
use std::process::{Command, Stdio};

use causeway_tests::binary;

#[test]
fn output_into_a_closed_pipe_ends_quietly_by_sigpipe() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.pem");
    let mut child = Command::new(binary("causeway"))
        .args(["keygen", "--json", "--out", key.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before the child prints (it first generates
    // and writes a key), as `head -c0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        key.exists(),
        "keygen did its work before printing: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "nothing on stderr: {stderr}");
    // Killed by SIGPIPE at the write: 141 in a shell.
    assert_eq!(out.status.signal(), Some(13), "{:?}", out.status);
}
