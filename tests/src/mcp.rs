//! Real MCP parts for the gateway's tests (`tests/mcp`), independent of the
//! gateway: two agents written with the official SDKs' clients
//! (`agent.mjs`: TypeScript, `agent.py`: Python), an upstream tool server
//! written with the Python SDK (`upstream.py`, which journals every call it
//! receives before running it) and npm's reference `server-filesystem` and
//! `server-everything`. Both transports: stdio and Streamable HTTP.
//!
//! The agents take a script of steps (`{"list":true}`,
//! `{"call":TOOL,"arguments":{..}}`, `{"sleep_ms":N}`) and print one JSON
//! line per step; see the header of `tests/mcp/agent.py` for the format.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use anyhow::{Context as _, bail};

/// How long an HTTP upstream may take to print its ready line (Python
/// imports the SDK in about a second; a busy machine gets a margin).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one agent run may take before it is killed and the test fails.
const AGENT_TIMEOUT: Duration = Duration::from_secs(300);

/// The fixture's scripts and npm packages: `tests/mcp`.
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mcp")
}

/// `tests/mcp/upstream.py`.
pub fn upstream_script() -> PathBuf {
    fixture_dir().join("upstream.py")
}

/// A real MCP client, scripted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agent {
    /// The TypeScript SDK's `Client` (`tests/mcp/agent.mjs`, run by `node`).
    Node,
    /// The Python SDK's `ClientSession` (`tests/mcp/agent.py`, run by [`python`]).
    Python,
}

impl Agent {
    /// The agent's script.
    pub fn script(self) -> PathBuf {
        fixture_dir().join(match self {
            Agent::Node => "agent.mjs",
            Agent::Python => "agent.py",
        })
    }

    /// The program that runs the script.
    fn interpreter(self) -> PathBuf {
        match self {
            Agent::Node => PathBuf::from("node"),
            Agent::Python => python(),
        }
    }
}

/// How an agent reaches its MCP server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// The agent spawns `program args...` and speaks MCP on its stdin/stdout.
    Stdio(String, Vec<String>),
    /// Streamable HTTP at this URL (e.g. `http://127.0.0.1:PORT/mcp`).
    Http(String),
}

impl Transport {
    /// The agent CLI's transport arguments.
    fn args(&self) -> Vec<String> {
        match self {
            Transport::Stdio(program, args) => {
                let mut v = vec!["--stdio".to_owned(), program.clone()];
                v.extend(args.iter().cloned());
                v.push("--".to_owned());
                v
            }
            Transport::Http(url) => vec!["--http".to_owned(), url.clone()],
        }
    }
}

/// The python3 that has the `mcp` SDK: the first `python3` on PATH when it
/// can import `mcp` (under `./run test` that is the tests' virtualenv),
/// else the virtualenv's own (`$XDG_CACHE_HOME` or `~/.cache`, then
/// `causeway-venv/bin/python3`), so a bare `cargo test` finds it too. An
/// absolute path when it can be found, since a gateway spawning the
/// upstream may run with another PATH.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let has_mcp = |p: &Path| {
                Command::new(p)
                    .args(["-c", "import mcp, sys; print(sys.executable)"])
                    .stdin(Stdio::null())
                    .stderr(Stdio::null())
                    .output()
                    .ok()
                    .filter(|o| o.status.success())
                    .and_then(|o| String::from_utf8(o.stdout).ok())
                    .map(|s| PathBuf::from(s.trim()))
            };
            if let Some(p) = has_mcp(Path::new("python3")) {
                return p;
            }
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
            if let Some(venv) = cache.map(|c| c.join("causeway-venv/bin/python3"))
                && let Some(p) = has_mcp(&venv)
            {
                return p;
            }
            // Let the caller's spawn fail with the usual message below.
            PathBuf::from("python3")
        })
        .clone()
}

/// Fails with what to do when the fixture's packages are missing.
pub fn check_installed() -> anyhow::Result<()> {
    let dir = fixture_dir();
    if !dir
        .join("node_modules/@modelcontextprotocol/sdk/package.json")
        .exists()
    {
        bail!(
            "{} has no node_modules: run `./run deps` (or `npm ci --prefix tests/mcp`)",
            dir.display()
        );
    }
    let ok = Command::new(python())
        .args(["-c", "import mcp"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        bail!("no python3 with the mcp package: run `./run deps` and the tests with `./run test`");
    }
    Ok(())
}

/// Panics with [`check_installed`]'s advice when something is missing.
fn require_installed() {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(e) = CHECKED.get_or_init(|| check_installed().map_err(|e| format!("{e:#}"))) {
        panic!("{e}");
    }
}

/// The stdio command of `upstream.py` journaling to `journal`: `(program,
/// args)` for a gateway's config or [`Transport::Stdio`]. The journal goes
/// by flag, not `UPSTREAM_JOURNAL`: MCP stdio clients pass their servers
/// only a few safe environment variables.
pub fn upstream_stdio_command(journal: &Path) -> (String, Vec<String>) {
    require_installed();
    (
        python().to_string_lossy().into_owned(),
        vec![
            upstream_script().to_string_lossy().into_owned(),
            "--journal".to_owned(),
            journal.to_string_lossy().into_owned(),
        ],
    )
}

/// The stdio command of npm's `@modelcontextprotocol/server-filesystem`
/// allowed to reach only `root`.
pub fn filesystem_server_command(root: &Path) -> (String, Vec<String>) {
    require_installed();
    (
        "node".to_owned(),
        vec![
            npm_server("server-filesystem"),
            root.to_string_lossy().into_owned(),
        ],
    )
}

/// The stdio command of npm's `@modelcontextprotocol/server-everything`
/// (its `echo` tool answers `Echo: MESSAGE`).
pub fn everything_server_command() -> (String, Vec<String>) {
    require_installed();
    ("node".to_owned(), vec![npm_server("server-everything")])
}

/// The entry point of an npm reference server of the fixture.
fn npm_server(name: &str) -> String {
    fixture_dir()
        .join("node_modules/@modelcontextprotocol")
        .join(name)
        .join("dist/index.js")
        .to_string_lossy()
        .into_owned()
}

/// `upstream.py` serving Streamable HTTP on a free loopback port. Killed
/// (SIGKILL) when dropped.
pub struct Upstream {
    child: Option<Child>,
    /// Its endpoint, `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    /// The journal it appends every received call to.
    pub journal: PathBuf,
    stderr_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Upstream {
    /// Starts it journaling to `journal` and waits until it accepts
    /// connections.
    pub fn start_http(journal: &Path) -> anyhow::Result<Upstream> {
        check_installed()?;
        let dir = tempfile::tempdir().context("temp dir")?;
        let stderr_path = dir.path().join("upstream.stderr");
        let stderr = std::fs::File::create(&stderr_path).context("stderr file")?;
        // Port 0: upstream.py binds a free port itself and prints it, so
        // there is no race between choosing a port and binding it.
        let mut child = Command::new(python())
            .arg(upstream_script())
            .args(["--http", "0", "--journal"])
            .arg(journal)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("starting python3 (./run deps installs it)")?;
        let stdout = child.stdout.take().context("upstream stdout")?;
        // A thread reads the ready line so that waiting for it can time
        // out; it then drains stdout so the server never blocks on a pipe.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            for _ in lines {}
        });
        let mut upstream = Upstream {
            child: Some(child),
            url: String::new(),
            journal: journal.to_owned(),
            stderr_path,
            _dir: dir,
        };
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(Some(Ok(line))) => line,
            Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                bail!("upstream.py exited: {}", upstream.stderr());
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                bail!(
                    "upstream.py did not start in {READY_TIMEOUT:?}: {}",
                    upstream.stderr()
                );
            }
        };
        upstream.url = line
            .strip_prefix("upstream ready url=")
            .with_context(|| format!("upstream.py's ready line {line:?}"))?
            .to_owned();
        Ok(upstream)
    }

    /// [`Transport::Http`] to this upstream.
    pub fn transport(&self) -> Transport {
        Transport::Http(self.url.clone())
    }

    /// What it wrote to stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// SIGKILL, now.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One call `upstream.py` received, as its journal recorded it before the
/// tool ran.
#[derive(Clone, Debug, PartialEq)]
pub struct JournalEntry {
    /// The tool's name as the caller sent it.
    pub tool: String,
    /// The call's arguments as received (`null` when none were sent).
    pub arguments: serde_json::Value,
    /// When it arrived: nanoseconds since the Unix epoch (wall clock).
    pub received_at_ns: u128,
    /// The log's tree size when it arrived, when the upstream was started
    /// with `--log-checkpoint URL`.
    pub log_size: Option<u64>,
}

/// The calls `upstream.py` journaled to `path`, in the order received; none
/// when the file does not exist (no call arrived). Panics on a line it did
/// not write: the journal is the tests' evidence, so a damaged one fails.
pub fn read_journal(path: &Path) -> Vec<JournalEntry> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("reading the journal {}: {e}", path.display()),
    };
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            parse_journal_line(line)
                .unwrap_or_else(|e| panic!("journal {}: {e:#}: {line:?}", path.display()))
        })
        .collect()
}

fn parse_journal_line(line: &str) -> anyhow::Result<JournalEntry> {
    let v: serde_json::Value = serde_json::from_str(line).context("not JSON")?;
    Ok(JournalEntry {
        tool: v["tool"].as_str().context("no tool")?.to_owned(),
        arguments: v["arguments"].clone(),
        // Nanoseconds since 1970 pass 2^64 only in 2554, but serde_json
        // reads them as u64 and a u128 costs nothing.
        received_at_ns: u128::from(v["received_at_ns"].as_u64().context("no received_at_ns")?),
        log_size: v["log_size"].as_u64(),
    })
}

/// Everything one agent run printed.
#[derive(Debug)]
pub struct AgentRun {
    /// Its exit status: success after the whole script, 2 when it could not
    /// connect, 3 when the connection broke mid-script.
    pub status: ExitStatus,
    /// Its stdout, one JSON value per line (one per step answered).
    pub lines: Vec<serde_json::Value>,
    /// Its stderr (and the stdio server's, which inherits it).
    pub stderr: String,
}

/// The command that runs `agent` on `transport` with extra CLI arguments
/// (`--script FILE`, or bench flags), for tests that drive it themselves
/// (e.g. kill the gateway while it runs).
pub fn agent_command(agent: Agent, transport: &Transport, extra: &[String]) -> Command {
    require_installed();
    let mut cmd = Command::new(agent.interpreter());
    cmd.arg(agent.script())
        .args(transport.args())
        .args(extra)
        .current_dir(fixture_dir());
    cmd
}

/// Runs `agent` on `transport` through the script `steps` (a JSON list of
/// steps) and returns everything it printed, whatever its exit status.
/// Panics if it is still running after five minutes.
pub fn run_agent_output(
    agent: Agent,
    transport: &Transport,
    steps: &serde_json::Value,
) -> AgentRun {
    let mut child = agent_command(agent, transport, &["--script".to_owned(), "-".to_owned()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting the {agent:?} agent: {e}"));
    let script = steps.to_string();
    let mut stdin = child.stdin.take().expect("piped stdin");
    // Written from a thread: a long script must not deadlock against an
    // agent blocked on a full stdout pipe.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(script.as_bytes());
    });
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let status = crate::wait_timeout(&mut child, AGENT_TIMEOUT);
    let _ = writer.join();
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let Some(status) = status else {
        let _ = child.wait();
        panic!(
            "the {agent:?} agent ran over {AGENT_TIMEOUT:?}; stdout:\n{stdout}\nstderr:\n{stderr}"
        );
    };
    let lines = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                panic!("the {agent:?} agent printed a line that is not JSON ({e}): {l:?}\nstderr:\n{stderr}")
            })
        })
        .collect();
    AgentRun {
        status,
        lines,
        stderr,
    }
}

/// [`run_agent_output`] for a script that must run to the end: panics
/// with the agent's stderr unless it exited successfully; returns one JSON
/// value per step.
pub fn run_agent(
    agent: Agent,
    transport: &Transport,
    steps: &serde_json::Value,
) -> Vec<serde_json::Value> {
    let run = run_agent_output(agent, transport, steps);
    assert!(
        run.status.success(),
        "the {agent:?} agent failed ({}): {:?}\nstderr:\n{}",
        run.status,
        run.lines,
        run.stderr
    );
    run.lines
}

/// The agent's bench mode: `concurrency` sessions (each its own
/// connection) making `calls` calls of `tool` with `arguments` in total.
/// Returns its line: `{"calls","seconds","p50_ms","p99_ms","calls_per_s","errors"}`.
pub fn run_bench(
    agent: Agent,
    transport: &Transport,
    calls: usize,
    concurrency: usize,
    tool: &str,
    arguments: &serde_json::Value,
) -> serde_json::Value {
    let extra = [
        "--bench".to_owned(),
        calls.to_string(),
        "--concurrency".to_owned(),
        concurrency.to_string(),
        "--call".to_owned(),
        tool.to_owned(),
        "--arguments".to_owned(),
        arguments.to_string(),
    ];
    let out = agent_command(agent, transport, &extra)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("starting the {agent:?} agent: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the {agent:?} bench failed ({}): {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("the {agent:?} bench printed {stdout:?}: {e}"))
}

/// Reads a pipe to its end on a thread.
fn drain<R: std::io::Read + Send + 'static>(mut pipe: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
