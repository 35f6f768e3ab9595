//! Helpers for whole-system tests: locate the real binaries, start
//! `causeway-server` on an ephemeral loopback port, stop it politely
//! (SIGTERM) or not (SIGKILL).

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

pub mod audit;
pub mod fixtures;
pub mod gate;
pub mod issuer;
pub mod mcp;
pub mod oidc;
mod pki;
mod postgres;
pub use pki::Pki;
pub use postgres::Postgres;

use base64::Engine as _;
use causeway_records::ProducerKey;

/// The directory holding the workspace's binaries for this test build.
fn bin_dir() -> PathBuf {
    // Test executables live in target/<profile>/deps/.
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

/// The path to a workspace binary. `cargo test --workspace` builds them
/// (the server and client crates have integration tests of their own);
/// when this crate's tests run alone and a binary is missing, they are
/// built once here. After changing the server, run `cargo test --workspace`
/// (or `cargo build --bins`) so these tests do not use a stale binary.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let path = bin_dir().join(name);
    if path.exists() {
        return path;
    }
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--bins",
            "-p",
            "causeway-server",
            "-p",
            "causeway-client",
            "-p",
            "causeway-witness",
            "-p",
            "causeway-issuer",
            "-p",
            "causeway-gate",
        ]);
        if bin_dir().ends_with("release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo build");
        assert!(status.success(), "building the binaries failed");
    });
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// A running `causeway-server` process.
pub struct Server {
    child: Option<Child>,
    /// The gRPC URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The tile API URL, e.g. `http://127.0.0.1:41235`.
    pub tiles_url: String,
    /// The verifier keys it printed (ECDSA, Ed25519).
    pub vkeys: Vec<String>,
    /// The tree size it reported at start.
    pub start_size: u64,
    /// Its data directory.
    pub data_dir: PathBuf,
    stderr_path: PathBuf,
    /// The PostgreSQL server holding its log, when the suite runs against
    /// PostgreSQL (see [`storage_under_test`]).
    _postgres: Option<Arc<Postgres>>,
}

/// Which store servers started by [`Server::start`] use unless the test
/// names one: `postgres` when `CAUSEWAY_TEST_STORAGE=postgres` or in a test
/// binary whose name starts with `postgres_` (such a file includes another
/// suite unchanged, e.g. `tests/postgres_foundation.rs`), else `rocksdb`.
pub fn storage_under_test() -> &'static str {
    static BACKEND: OnceLock<&'static str> = OnceLock::new();
    BACKEND.get_or_init(|| {
        let by_name = std::env::current_exe()
            .ok()
            .and_then(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().starts_with("postgres_"))
            })
            .unwrap_or(false);
        let by_env = std::env::var("CAUSEWAY_TEST_STORAGE").is_ok_and(|v| v == "postgres");
        if by_name || by_env {
            "postgres"
        } else {
            "rocksdb"
        }
    })
}

/// The PostgreSQL server of a data directory, shared by every server
/// started on it and alive while one is (so a restart finds the log again:
/// the cluster stays on disk next to the data directory).
fn postgres_for(data_dir: &Path) -> Arc<Postgres> {
    static RUNNING: OnceLock<Mutex<HashMap<PathBuf, Weak<Postgres>>>> = OnceLock::new();
    let mut running = RUNNING
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(pg) = running.get(data_dir).and_then(Weak::upgrade) {
        return pg;
    }
    let pg = Arc::new(Postgres::start(&data_dir.with_extension("pg")));
    running.insert(data_dir.to_owned(), Arc::downgrade(&pg));
    pg
}

impl Server {
    /// Starts a records log on `data_dir` admitting records under the
    /// producer policy file `policy`.
    pub fn with_policy(data_dir: &Path, policy: &Path) -> Server {
        Server::start(
            data_dir,
            &["--policy", policy.to_str().expect("a UTF-8 path")],
        )
    }

    /// Starts a server on `data_dir` with extra flags, on a free port, and
    /// waits until it is ready.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let stderr_path = data_dir.with_extension(format!("stderr-{}", rand::random::<u32>()));
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let postgres = (storage_under_test() == "postgres"
            && !extra.iter().any(|a| a.starts_with("--storage")))
        .then(|| postgres_for(data_dir));
        let mut cmd = Command::new(binary("causeway-server"));
        if let Some(pg) = &postgres {
            cmd.arg("--storage").arg(pg.url("postgres"));
        }
        cmd.arg("--data-dir").arg(data_dir).args([
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ]);
        if !extra.contains(&"--origin") {
            cmd.args(["--origin", "test.causeway/log"]);
        }
        // Most tests log arbitrary bytes; record tests pass --policy.
        if !extra.contains(&"--policy") && !extra.contains(&"--accept") {
            cmd.args(["--accept", "opaque"]);
        }
        let mut child = cmd
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawning causeway-server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut url = None;
        let mut tiles_url = String::new();
        let mut start_size = 0;
        let mut vkeys = Vec::new();
        while url.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                    let _ = child.kill();
                    panic!("causeway-server did not become ready; stderr:\n{log}");
                }
            };
            if let Some(rest) = line.strip_prefix("causeway-server ready ") {
                let scheme = if rest.split(' ').any(|f| f == "tls=on") {
                    "https"
                } else {
                    "http"
                };
                for field in rest.split(' ') {
                    if let Some(a) = field.strip_prefix("grpc=") {
                        url = Some(format!("{scheme}://{a}"));
                    }
                    if let Some(a) = field.strip_prefix("http=") {
                        tiles_url = format!("{scheme}://{a}");
                    }
                    if let Some(s) = field.strip_prefix("size=") {
                        start_size = s.parse().expect("size");
                    }
                }
            } else if let Some(v) = line.strip_prefix("vkey ") {
                vkeys.push(v.to_owned());
            }
        }
        Server {
            child: Some(child),
            url: url.expect("ready line"),
            tiles_url,
            vkeys,
            start_size,
            data_dir: data_dir.to_owned(),
            stderr_path,
            _postgres: postgres,
        }
    }

    /// The verifier keys, parsed.
    pub fn keys(&self) -> Vec<causeway_tlog::note::VerifierKey> {
        self.vkeys
            .iter()
            .map(|v| v.parse().expect("the server prints valid vkeys"))
            .collect()
    }

    /// The server's stderr so far, for failure messages.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        wait_timeout(&mut child, Duration::from_secs(60))
            .expect("server did not exit after SIGTERM")
    }

    /// The server's process id (e.g. to read its memory use in /proc).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends a signal by name (e.g. "HUP").
    pub fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name} {pid}");
    }

    /// SIGKILL, like `kill -9`: no chance to flush anything.
    pub fn kill9(mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("kill -9");
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}

/// A running `causeway-witness` process.
pub struct Witness {
    child: Option<Child>,
    /// Its HTTP URL, e.g. `http://127.0.0.1:41236`.
    pub url: String,
    /// Its listen address, to restart it on the same port.
    pub addr: String,
    /// Its cosignature/v1 verifier key.
    pub vkey: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    stderr_path: PathBuf,
}

impl Witness {
    /// Starts a witness named `name` on `data_dir` (created if needed)
    /// trusting the log keys `logs`, on `addr` (`127.0.0.1:0` for any).
    pub fn start(data_dir: &Path, name: &str, logs: &[String], addr: &str) -> Witness {
        Witness::start_with(data_dir, name, logs, addr, &[])
    }

    /// [`Witness::start`] with `extra` flags for `causeway-witness run`.
    pub fn start_with(
        data_dir: &Path,
        name: &str,
        logs: &[String],
        addr: &str,
        extra: &[&str],
    ) -> Witness {
        let stderr_path = data_dir.with_extension(format!("stderr-{}", rand::random::<u32>()));
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut cmd = Command::new(binary("causeway-witness"));
        cmd.arg("--data-dir")
            .arg(data_dir)
            .args(["--addr", addr, "--name", name]);
        for log in logs {
            cmd.args(["--log", log]);
        }
        cmd.args(extra);
        let mut child = cmd
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawning causeway-witness");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = lines
            .find_map(|l| {
                l.ok()
                    .and_then(|l| l.strip_prefix("causeway-witness ready ").map(str::to_owned))
            })
            .unwrap_or_else(|| {
                let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                panic!("causeway-witness did not become ready; stderr:\n{log}")
            });
        // Keep draining stdout so the witness never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let field = |key: &str| {
            ready
                .split(' ')
                .find_map(|f| f.strip_prefix(key))
                .unwrap_or_else(|| panic!("no {key} in {ready:?}"))
                .to_owned()
        };
        let addr = field("addr=");
        Witness {
            child: Some(child),
            url: format!("http://{addr}"),
            addr,
            vkey: field("vkey="),
            data_dir: data_dir.to_owned(),
            stderr_path,
        }
    }

    /// The `--witness` flag value for a log server: `VKEY@URL`.
    pub fn flag(&self) -> String {
        format!("{}@{}", self.vkey, self.url)
    }

    /// The witness's stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// SIGKILL: the witness gets no chance to flush anything.
    pub fn kill9(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        wait_timeout(&mut child, Duration::from_secs(30)).expect("witness did not exit")
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A real RFC 3161 TSA: `openssl ts -reply` behind `interop/tsa_server.py`.
pub struct Tsa {
    child: Option<Child>,
    /// Its URL, e.g. `http://127.0.0.1:41237/`.
    pub url: String,
    /// Its port, to restart it on the same one.
    pub port: u16,
    /// The PEM file of its root certificate (for `--tsa-roots`).
    pub roots: PathBuf,
    dir: PathBuf,
    key_type: String,
}

impl Tsa {
    /// Starts a TSA with an `ec` (P-256) or `rsa` (2048) key, keeping its
    /// keys and certificates in `dir` (created, or reused on restart), on
    /// `port` (0 for any).
    pub fn start(dir: &Path, key_type: &str, port: u16) -> Tsa {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/tsa_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir)
            .arg(key_type)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 (installed by .ci/run) runs the TSA fixture");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = lines
            .find_map(|l| {
                l.ok()
                    .and_then(|l| l.strip_prefix("ready ").map(str::to_owned))
            })
            .expect("the TSA fixture did not start (is openssl installed?)");
        std::thread::spawn(move || for _ in lines {});
        let field = |key: &str| {
            ready
                .split(' ')
                .find_map(|f| f.strip_prefix(key))
                .unwrap_or_else(|| panic!("no {key} in {ready:?}"))
                .to_owned()
        };
        let port: u16 = field("port=").parse().expect("port");
        Tsa {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}/"),
            port,
            roots: PathBuf::from(field("roots=")),
            dir: dir.to_owned(),
            key_type: key_type.to_owned(),
        }
    }

    /// How the TSA answers from now on: `ok`, `garbage`, `wrong-nonce`,
    /// `no-nonce`, `rejection`, `slow` or `error`.
    pub fn set_mode(&self, mode: &str) {
        use std::io::{Read as _, Write as _};
        let mut stream =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connecting to the TSA");
        let request = format!(
            "POST /mode HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{mode}",
            mode.len()
        );
        stream
            .write_all(request.as_bytes())
            .expect("writing to the TSA");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(
            answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
            "setting TSA mode {mode}: {answer}"
        );
    }

    /// Stops it (SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port with the same keys.
    pub fn restart(&mut self) {
        self.stop();
        let again = Tsa::start(&self.dir, &self.key_type, self.port);
        *self = again;
    }
}

impl Drop for Tsa {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The long-lived producer keys of a test deployment: two humans, a JIT
/// issuer and a pre-flight verifier (what `causeway demo` signs with).
pub struct Producers {
    /// alice@example.com, human.
    pub approver: ProducerKey,
    /// bob@example.com, human.
    pub reviewer: ProducerKey,
    /// jit-issuer.example.com, issuer.
    pub issuer: ProducerKey,
    /// preflight.example.com, verifier.
    pub verifier: ProducerKey,
}

impl Default for Producers {
    fn default() -> Self {
        Self::new()
    }
}

impl Producers {
    /// Fresh keys.
    pub fn new() -> Self {
        let mut rng = rand::rngs::OsRng;
        Producers {
            approver: ProducerKey::generate(&mut rng),
            reviewer: ProducerKey::generate(&mut rng),
            issuer: ProducerKey::generate(&mut rng),
            verifier: ProducerKey::generate(&mut rng),
        }
    }

    /// Writes the keys (as `causeway demo` expects them: approver.pem, …)
    /// and `policy.toml` trusting them into `dir`; returns the policy path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        // The records suites date their chains up to an hour back, as if
        // replaying a session: wider than the default past skew (5m).
        let mut policy = String::from("max_future_skew = \"5m\"\nmax_past_skew = \"2h\"\n");
        for (stem, name, role, key) in [
            ("approver", "alice@example.com", "human", &self.approver),
            ("reviewer", "bob@example.com", "human", &self.reviewer),
            ("issuer", "jit-issuer.example.com", "issuer", &self.issuer),
            (
                "verifier",
                "preflight.example.com",
                "verifier",
                &self.verifier,
            ),
        ] {
            std::fs::write(dir.join(format!("{stem}.pem")), key.to_pkcs8_pem().unwrap()).unwrap();
            policy.push_str(&format!(
                "\n[[principal]]\nname = \"{name}\"\nrole = \"{role}\"\nkeys = [\"{}\"]\n",
                base64::engine::general_purpose::STANDARD.encode(key.public_spki_der())
            ));
        }
        // Tests run at any hour: no working-hours flags.
        policy.push_str(
            "\n[audit]\nworking_hours = \"00:00-24:00\"\nworking_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n",
        );
        let path = dir.join("policy.toml");
        std::fs::write(&path, policy).unwrap();
        path
    }
}

/// Creates a log's keys in `data_dir` with `causeway-server init` and
/// returns its verifier keys (ECDSA, Ed25519), so witnesses can be
/// configured before the log starts.
pub fn init_log(data_dir: &Path, origin: &str) -> Vec<String> {
    let out = Command::new(binary("causeway-server"))
        .arg("init")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--origin", origin, "--json"])
        .output()
        .expect("causeway-server init");
    assert!(
        out.status.success(),
        "init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("init --json");
    v["vkeys"]
        .as_array()
        .expect("vkeys")
        .iter()
        .map(|k| k.as_str().expect("vkey").to_owned())
        .collect()
}

/// The RFC 6962 consistency proof from the tree of the first `old` of
/// `leaves` (leaf hashes) to that of the first `new`, computed from the
/// leaves themselves: what an honest log would serve, for tests that play
/// a log.
pub fn consistency_proof(
    leaves: &[causeway_tlog::merkle::Hash],
    old: u64,
    new: u64,
) -> Vec<causeway_tlog::merkle::Hash> {
    use causeway_tlog::merkle::{ProofPlan, root_of};
    let plan = ProofPlan::consistency(old, new).expect("old <= new, both within the leaves");
    let hashes: Vec<_> = plan
        .node_ids()
        .iter()
        .map(|n| {
            let r = n.coverage();
            root_of(&leaves[r.start as usize..r.end as usize])
        })
        .collect();
    plan.assemble(&hashes)
        .expect("a hash for every node of the plan")
}

/// Runs the `causeway` CLI and returns (success, stdout, stderr). The
/// arguments may be borrowed or owned strings.
pub fn cli<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (bool, String, String) {
    let out = Command::new(binary("causeway"))
        .args(args)
        .output()
        .expect("running causeway");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `go run tests/interop/<script>` in GOPATH mode against Debian's Go
/// packages (golang-golang-x-mod-dev, golang-google-protobuf-dev,
/// golang-google-grpc-dev), with its build cache under `cache`.
pub fn go_command(script: &str, cache: &Path) -> Command {
    let mut cmd = Command::new("go");
    cmd.arg("run")
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("interop")
                .join(script),
        )
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", cache)
        .env("GOFLAGS", "");
    cmd
}

/// Runs an independent checker with `input` on stdin; returns whether it
/// succeeded and everything it printed.
pub fn run_checker(mut cmd: Command, input: &str) -> (bool, String) {
    use std::io::Write as _;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (.ci/run installs the checkers)"));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child.wait_with_output().expect("checker output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Polls GetCheckpoint until the published checkpoint (its log signatures
/// checked) reaches `size`; returns its note. Fails after 30 s with the
/// server's stderr.
pub async fn published_at_least(
    client: &mut causeway_client::LogClient,
    size: u64,
    server: &Server,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(note) = client.checkpoint(None).await {
            let cp = causeway_client::verify::verify_checkpoint(&note, &server.keys())
                .expect("the log's checkpoint verifies")
                .into_checkpoint();
            if cp.size() >= size {
                return note;
            }
        }
        assert!(
            Instant::now() < deadline,
            "size {size} was not published within 30 s; server stderr:\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts `n` witnesses trusting `logs`, on free ports: witness `i` (from
/// 1) is named `{name_prefix}{i}` and keeps its state in `dir/w{i}`.
pub fn start_witnesses(dir: &Path, name_prefix: &str, logs: &[String], n: usize) -> Vec<Witness> {
    (1..=n)
        .map(|i| {
            Witness::start(
                &dir.join(format!("w{i}")),
                &format!("{name_prefix}{i}"),
                logs,
                "127.0.0.1:0",
            )
        })
        .collect()
}

/// Asserts that no witness recorded evidence of a split view (two
/// conflicting checkpoints, or a failed consistency proof).
pub async fn assert_no_split_view(witnesses: &[Witness]) {
    for w in witnesses {
        let evidence = reqwest::get(format!("{}/evidence", w.url))
            .await
            .expect("GET /evidence")
            .text()
            .await
            .expect("evidence body");
        assert_eq!(
            evidence.trim(),
            "[]",
            "witness {} recorded a split view: {}",
            w.url,
            w.stderr()
        );
    }
}
