//! The Python SDK (`sdk/python`), built from this checkout with maturin
//! into the tests' virtualenv, then its pytest suite against a real
//! `causeway-server` it starts on 127.0.0.1: the producer vectors byte for
//! byte, every record kind, verified receipts, refusals, duplicates, an
//! external signer, sessions, the README's ten-line producer as written,
//! and the verifiers of proof bundles (written by the real `causeway prove
//! bundle`, anchored by a real OpenSSL TSA, cosigned by a real witness)
//! and of entries read from the log's tiles alone (and through a mirror
//! that changes them).

use std::path::{Path, PathBuf};
use std::process::Command;

use causeway_tests::binary;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

#[test]
fn the_python_sdk_suite_passes_against_a_real_log() {
    let python = causeway_tests::mcp::python();
    let venv = python
        .parent()
        .and_then(Path::parent)
        .expect("python in a virtualenv's bin/")
        .to_path_buf();
    let maturin = venv.join("bin/maturin");
    assert!(
        maturin.exists(),
        "{} is missing: run ./run deps (it installs maturin into the tests' virtualenv)",
        maturin.display()
    );
    // Its own target dir: the test runs while cargo holds this build's.
    let server = binary("causeway-server");
    let target = server
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .join("python-sdk");
    let built = Command::new(&maturin)
        .args(["develop", "--quiet", "-m", "sdk/python/Cargo.toml"])
        .current_dir(workspace())
        .env("VIRTUAL_ENV", &venv)
        .env("CARGO_TARGET_DIR", &target)
        .env("PYO3_PYTHON", &python)
        .output()
        .expect("running maturin");
    assert!(
        built.status.success(),
        "maturin develop failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let out = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "sdk/python/tests",
        ])
        .current_dir(workspace())
        .env("CAUSEWAY_SERVER", &server)
        .env("CAUSEWAY_CLI", binary("causeway"))
        .env("CAUSEWAY_WITNESS", binary("causeway-witness"))
        .output()
        .expect("running pytest");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the SDK's tests failed:\n{report}");
    // The suite ran, not an empty collection.
    assert!(report.contains(" passed"), "{report}");
    assert!(!report.contains(" skipped"), "{report}");
}
