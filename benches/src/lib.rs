//! What the benchmark binaries share: starting the real binaries and
//! waiting for their `ready` line; measuring a child's run ([`rusage`])
//! and the verification ceiling ([`limit`]); and the MCP ends of
//! `causeway-gate-bench`, its fast upstream ([`echo_mcp`]) and its fast
//! agent ([`mcp_agent`]).

pub mod echo_mcp;
pub mod limit;
pub mod mcp_agent;
pub mod rusage;

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, bail};

/// A started process, stopped with SIGTERM (and waited for) on drop.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        // One already killed and reaped has nothing left to stop.
        if let Ok(None) = self.0.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.0.id().to_string()])
                .status();
            let _ = self.0.wait();
        }
    }
}

/// Spawns `cmd` (with `RUST_LOG=warn`) and waits for its first stdout line
/// starting with `ready`; returns the process and the rest of that line.
/// Later output is drained in the background.
///
/// # Errors
/// If it cannot start or exits before it is ready.
pub fn spawn_ready(mut cmd: Command, ready: &str) -> anyhow::Result<(Process, String)> {
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let stdout = child.stdout.take().context("stdout")?;
    let process = Process(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line?;
        if let Some(rest) = line.strip_prefix(ready) {
            let rest = rest.to_owned();
            std::thread::spawn(move || lines.for_each(drop));
            return Ok((process, rest));
        }
    }
    bail!("{cmd:?} exited before it was ready")
}

/// The value of the `name` field (e.g. `grpc=`) of a space-separated line.
///
/// # Errors
/// If the line has no such field.
pub fn field(line: &str, name: &str) -> anyhow::Result<String> {
    line.split(' ')
        .find_map(|f| f.strip_prefix(name))
        .map(str::to_owned)
        .with_context(|| format!("no {name} in {line:?}"))
}

/// A records-mode `causeway-server` on loopback ports: its gRPC and tile
/// URLs and its note verifier keys; stopped on drop.
pub struct RecordsLog {
    /// The server.
    pub process: Process,
    /// `http://` + its gRPC address.
    pub grpc: String,
    /// `http://` + its tile (HTTP) address.
    pub tiles: String,
    /// The `vkey` lines it printed.
    pub vkeys: Vec<String>,
}

/// Starts `bin/causeway-server` with its data in `dir`, as `origin`, under
/// the producer policy `policy`, and waits for its `ready` line.
///
/// # Errors
/// If it cannot start, or exits before it is ready.
pub fn records_log(
    bin: &Path,
    dir: &Path,
    origin: &str,
    policy: &Path,
) -> anyhow::Result<RecordsLog> {
    let mut child = Command::new(bin.join("causeway-server"))
        .arg("--data-dir")
        .arg(dir)
        .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        .args(["--origin", origin])
        .arg("--policy")
        .arg(policy)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .context("starting causeway-server")?;
    let stdout = child.stdout.take().context("stdout")?;
    let process = Process(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut vkeys = Vec::new();
    for line in lines.by_ref() {
        let line = line?;
        if let Some(v) = line.strip_prefix("vkey ") {
            vkeys.push(v.to_owned());
        } else if let Some(rest) = line.strip_prefix("causeway-server ready ") {
            let grpc = field(rest, "grpc=")?;
            let http = field(rest, "http=")?;
            // Keep draining its stdout so it never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return Ok(RecordsLog {
                process,
                grpc: format!("http://{grpc}"),
                tiles: format!("http://{http}"),
                vkeys,
            });
        }
    }
    bail!("causeway-server exited before it was ready")
}

/// Where the binaries under test are: `flag` (a `--bin-dir`) if given,
/// else the directory of the running benchmark.
///
/// # Errors
/// If the benchmark's own path is unknown.
pub fn bin_dir(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    match flag {
        Some(d) => Ok(d.to_owned()),
        None => Ok(std::env::current_exe()?
            .parent()
            .context("binary directory")?
            .to_path_buf()),
    }
}
