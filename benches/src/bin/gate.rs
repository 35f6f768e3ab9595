//! `causeway-gate-bench`: what putting `causeway-gate` between an agent and
//! its tool server costs (issue 20, "Benchmark").
//!
//! Starts, from release binaries on loopback: a records-mode
//! `causeway-server` whose producer policy trusts a `gate` principal, a
//! `causeway-issuer` behind mutual TLS, then writes an approval and its
//! passing pre-flight. The upstream (`--upstream-server`) is
//! `causeway-echo-mcp` (an `rmcp` server with one `echo` tool, the fast
//! default) or npm's reference `@modelcontextprotocol/server-everything`
//! (its `echo` tool), served over Streamable HTTP for the baseline;
//! `causeway-gate --http 127.0.0.1:0` sits in front of an upstream of its
//! own of the same kind (stdio by default, or the same HTTP process with
//! `--upstream http`), with only `echo` in the session's scope.
//!
//! For each session count S the same agent (`--agent`: the `rmcp`
//! Streamable HTTP client of `causeway_bench::mcp_agent`, in this process,
//! by default; or `tests/mcp/agent.mjs`, the official TypeScript SDK
//! client) makes `--calls` calls with S concurrent sessions, first straight
//! to the upstream (the baseline), then through the gate; then one paced
//! row at `--rate` calls per second from one session. It prints calls/s,
//! p50/p99 of both, the ratio and the latency the gate adds, the CPU each
//! process spent per call, and checks afterwards that the log holds one
//! `action` and one `outcome` for every call that went through the gate.
//!
//! ```text
//! cargo build --release -p causeway-server -p causeway-issuer -p causeway-gate -p causeway-bench
//! target/release/causeway-gate-bench       # --calls 2000 --sessions 1,16,64 --rate 100
//! (cd tests/mcp && npm ci)                 # for the real-SDK row:
//! target/release/causeway-gate-bench --agent node --upstream-server everything
//! ```

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use causeway_bench::{Process, RecordsLog, bin_dir, mcp_agent, records_log, spawn_ready};
use causeway_client::LogClient;
use causeway_client::demo::rfc3339;
use causeway_records::{Envelope, Kind, ProducerKey, Record};
use causeway_tlog::merkle::leaf_hash;
use clap::Parser;
use serde_json::{Value, json};

/// The gate's added latency and throughput against the same agent calling
/// the same upstream directly, in the same run.
#[derive(Parser, Debug)]
#[command(name = "causeway-gate-bench", version, about)]
struct Args {
    /// Directory of the causeway-server, causeway-issuer and causeway-gate
    /// binaries (default: next to this one).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// The MCP fixture directory with `agent.mjs` and its `node_modules`
    /// (`npm ci` done); used by `--agent node` and `--upstream-server
    /// everything`.
    #[arg(long, default_value_os_t = causeway_tests::mcp::fixture_dir())]
    mcp_dir: PathBuf,
    /// Calls per row (each of direct and gate), across all sessions.
    #[arg(long, default_value_t = 2000)]
    calls: usize,
    /// Concurrent sessions of the closed-loop rows.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    sessions: Vec<usize>,
    /// Calls per second of the paced row (one session); 0 skips it.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Calls of the paced row.
    #[arg(long, default_value_t = 1000)]
    paced_calls: usize,
    /// How the gate reaches its upstream: `stdio` (a child of its own of
    /// the same server) or `http` (the baseline's HTTP server).
    #[arg(long, default_value = "stdio", value_parser = ["stdio", "http"])]
    upstream: String,
    /// The agent: `rust` (an `rmcp` client in this process) or `node`
    /// (`tests/mcp/agent.mjs`, the official TypeScript SDK).
    #[arg(long, default_value = "rust", value_parser = ["rust", "node"])]
    agent: String,
    /// The upstream MCP server: `echo` (`causeway-echo-mcp`, next to the
    /// other binaries) or `everything` (npm's server-everything).
    #[arg(long, default_value = "echo", value_parser = ["echo", "everything"])]
    upstream_server: String,
    /// Where the log, the keys and the configs go (default: a temporary
    /// directory, removed at the end).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Print the results as one JSON object instead of tables.
    #[arg(long)]
    json: bool,
}

/// The upstream's tool the agent calls (both servers have it).
const TOOL: &str = "echo";
/// Its arguments.
const MESSAGE: &str = "causeway-gate-bench";
/// The session's agent id.
const AGENT: &str = "agent://bench/gate";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn signed(kind: Kind, value: &Value, key: &ProducerKey) -> anyhow::Result<Vec<u8>> {
    let record = Record::from_json(kind, &value.to_string()).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Envelope::sign(&record, key).encode())
}

/// The producers: their keys and the policy trusting them.
struct Producers {
    approver: ProducerKey,
    verifier: ProducerKey,
    policy: PathBuf,
    issuer_key: PathBuf,
    gate_key: PathBuf,
}

/// Writes fresh keys for an approver, a verifier, an issuer and a gate,
/// and a producer policy trusting them, into `dir`.
fn producers(dir: &Path) -> anyhow::Result<Producers> {
    std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    let mut rng = rand::rngs::OsRng;
    let approver = ProducerKey::generate(&mut rng);
    let verifier = ProducerKey::generate(&mut rng);
    let issuer = ProducerKey::generate(&mut rng);
    let gate = ProducerKey::generate(&mut rng);
    let mut policy = String::from("max_future_skew = \"5m\"\n");
    for (stem, name, role, key) in [
        ("approver", "alice@example.com", "human", &approver),
        ("verifier", "preflight.example.com", "verifier", &verifier),
        ("issuer", "jit-issuer.example.com", "issuer", &issuer),
        ("gate", "causeway-gate", "gate", &gate),
    ] {
        let pem = key.to_pkcs8_pem().map_err(|e| anyhow::anyhow!("{e}"))?;
        let path = dir.join(format!("{stem}.pem"));
        std::fs::write(&path, pem).with_context(|| path.display().to_string())?;
        policy.push_str(&format!(
            "\n[[principal]]\nname = \"{name}\"\nrole = \"{role}\"\nkeys = [\"{}\"]\n",
            base64::engine::general_purpose::STANDARD.encode(key.public_spki_der())
        ));
    }
    // The bench may run at any hour.
    policy.push_str(
        "\n[audit]\nworking_hours = \"00:00-24:00\"\nworking_days = [\"mon\", \"tue\", \"wed\", \
         \"thu\", \"fri\", \"sat\", \"sun\"]\n",
    );
    let path = dir.join("policy.toml");
    std::fs::write(&path, policy).with_context(|| path.display().to_string())?;
    Ok(Producers {
        approver,
        verifier,
        policy: path,
        issuer_key: dir.join("issuer.pem"),
        gate_key: dir.join("gate.pem"),
    })
}

/// Starts `causeway-issuer` for `log_url` behind mutual TLS; the gate's
/// client certificate (CN `gate`) may ask for `agent://bench/*`. Returns
/// it, its URL and the PKI (CA, gate certificate and key).
fn start_issuer(
    bin: &Path,
    dir: &Path,
    (log_url, vkeys): (&str, &[String]),
    p: &Producers,
) -> anyhow::Result<(Process, String, causeway_tests::Pki, (PathBuf, PathBuf))> {
    let pki = causeway_tests::Pki::new(dir, "issuer-ca");
    let (cert, key) = pki.issue("issuer", true);
    let gate_cert = pki.issue("gate", false);
    let vkeys: Vec<String> = vkeys.iter().map(|v| format!("{v:?}")).collect();
    let config = dir.join("issuer.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\nlog_url = {log_url:?}\nlog_vkeys = [{}]\npolicy = {:?}\n\
         issuer_key = {:?}\nmax_ttl = \"1h\"\nstate_dir = \"issuer-state\"\n\n\
         [tls]\ncert = {cert:?}\nkey = {key:?}\nclient_ca = {:?}\n\n\
         [[caller]]\nsubject = \"gate\"\nagents = [\"agent://bench/*\"]\n",
        vkeys.join(", "),
        p.policy,
        p.issuer_key,
        pki.ca(),
    );
    std::fs::write(&config, text).with_context(|| config.display().to_string())?;
    let mut cmd = Command::new(bin.join("causeway-issuer"));
    cmd.arg("--config").arg(&config);
    let (process, addr) = spawn_ready(cmd, "causeway-issuer ready grpc=")?;
    Ok((process, format!("https://{}", addr.trim()), pki, gate_cert))
}

/// Writes alice's approval of the bench change (only `<server>.echo` on
/// target `<server>`, the gate's name of the upstream) and its passing
/// pre-flight; their leaf hashes.
async fn approve(log_url: &str, p: &Producers, server: &str) -> anyhow::Result<(String, String)> {
    let mut log = LogClient::connect(log_url).await?;
    let t0 = now();
    let auth = signed(
        Kind::Authorization,
        &json!({
            "approver": {"subject": "alice@example.com", "issuer": "https://login.example.com"},
            "authn": {"method": "webauthn", "mfa": true, "assurance": "aal2",
                      "authenticated_at": rfc3339(t0 - 60)},
            "plan": {"objective": "gate bench", "method": "bench", "test_approach": "bench",
                     "backout": "none"},
            "scope": {"change_class": "standard", "targets": [server],
                      "actions": [format!("{server}.{TOOL}")]},
            "ticket": "CHG-GATE-BENCH",
            "not_before": rfc3339(t0 - 60), "not_after": rfc3339(t0 + 7200),
            "time": rfc3339(t0),
        }),
        &p.approver,
    )?;
    let auth_hash = leaf_hash(&auth);
    log.add_entries(vec![auth]).await?;
    let pre = signed(
        Kind::Preflight,
        &json!({"subject": auth_hash.to_hex(), "stage": "issuance",
               "checks": [{"name": "bench", "result": "pass", "detail": "", "cves": []}],
               "verdict": "pass", "time": rfc3339(t0)}),
        &p.verifier,
    )?;
    let pre_hash = leaf_hash(&pre);
    log.add_entries(vec![pre]).await?;
    Ok((auth_hash.to_hex(), pre_hash.to_hex()))
}

/// A free loopback port (server-everything takes its port from `PORT`
/// and cannot report one the kernel picked).
fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Spawns `cmd` with stderr piped and waits for a stderr line containing
/// `ready`; returns the process and that line. Later stderr is drained.
fn spawn_stderr_ready(mut cmd: Command, ready: &str) -> anyhow::Result<(Process, String)> {
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let stderr = child.stderr.take().context("stderr")?;
    let process = Process(child);
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line?;
        if line.contains(ready) {
            std::thread::spawn(move || lines.for_each(drop));
            return Ok((process, line));
        }
        seen.push_str(&line);
        seen.push('\n');
    }
    bail!("{cmd:?} exited before it was ready:\n{seen}")
}

/// Process CPU time (user + system), ms, from `/proc/<pid>/stat`.
fn cpu_ms(pid: u32, tick_ms: f64) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised command name: state is the first,
    // utime and stime the 12th and 13th.
    let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) * tick_ms
}

/// The children of `pid` (the gate's stdio upstream).
fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = s.rsplit_once(") ")?.1.to_owned();
                    rest.split(' ').nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

fn tick_ms() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .map_or(10.0, |t| 1000.0 / t)
}

/// One agent run's figures.
#[derive(Clone, Debug, Default)]
struct Run {
    calls: u64,
    errors: u64,
    calls_per_s: f64,
    p50: f64,
    p99: f64,
    /// CPU ms per call: the agent, the upstream, the gate, the log.
    cpu: [f64; 4],
}

impl Run {
    fn json(&self) -> Value {
        json!({
            "calls": self.calls, "errors": self.errors, "calls_per_s": self.calls_per_s,
            "p50_ms": self.p50, "p99_ms": self.p99,
            "cpu_ms_per_call": {"agent": self.cpu[0], "upstream": self.cpu[1],
                                "gate": self.cpu[2], "log": self.cpu[3]},
        })
    }
}

/// What is measured: the processes whose CPU is sampled around a run.
struct Watched {
    upstream: u32,
    gate: Option<u32>,
    log: u32,
    tick_ms: f64,
}

impl Watched {
    fn sample(&self) -> [f64; 3] {
        let t = |p: Option<u32>| p.map_or(0.0, |p| cpu_ms(p, self.tick_ms));
        [t(Some(self.upstream)), t(self.gate), t(Some(self.log))]
    }
}

/// Who makes the calls.
enum Agent {
    /// `causeway_bench::mcp_agent`, in this process.
    Rust,
    /// `agent.mjs` of this fixture directory, a process per run.
    Node(PathBuf),
}

impl Agent {
    fn describe(&self) -> &'static str {
        match self {
            Agent::Rust => "the rmcp client of causeway_bench::mcp_agent (in the bench process)",
            Agent::Node(_) => "tests/mcp/agent.mjs (the official TypeScript SDK)",
        }
    }
}

/// Runs the agent against `url`: `calls` calls from `sessions` sessions,
/// paced at `rate` if given.
async fn run_agent(
    agent: &Agent,
    url: &str,
    (calls, sessions, rate): (usize, usize, Option<f64>),
    watched: &Watched,
) -> anyhow::Result<Run> {
    let before = watched.sample();
    let (figures, agent_cpu_ms) = match agent {
        Agent::Rust => {
            let mut arguments = serde_json::Map::new();
            arguments.insert("message".into(), MESSAGE.into());
            let load = mcp_agent::Load {
                calls,
                sessions,
                rate,
            };
            let own = std::process::id();
            let cpu0 = cpu_ms(own, watched.tick_ms);
            let figures = mcp_agent::run(url, TOOL, arguments, &load)
                .await
                .with_context(|| format!("the rmcp agent against {url}"))?;
            (figures, cpu_ms(own, watched.tick_ms) - cpu0)
        }
        Agent::Node(mcp_dir) => run_node_agent(mcp_dir, url, (calls, sessions, rate))?,
    };
    let after = watched.sample();
    let per = |ms: f64| {
        if figures.calls > 0 {
            ms / figures.calls as f64
        } else {
            0.0
        }
    };
    Ok(Run {
        calls: figures.calls,
        errors: figures.errors,
        calls_per_s: figures.calls_per_s,
        p50: figures.p50_ms,
        p99: figures.p99_ms,
        cpu: [
            per(agent_cpu_ms),
            per(after[0] - before[0]),
            per(after[1] - before[1]),
            per(after[2] - before[2]),
        ],
    })
}

/// Runs `agent.mjs --bench` against `url`; its figures and the CPU ms it
/// reports for itself.
fn run_node_agent(
    mcp_dir: &Path,
    url: &str,
    (calls, sessions, rate): (usize, usize, Option<f64>),
) -> anyhow::Result<(mcp_agent::Figures, f64)> {
    let mut cmd = Command::new("node");
    cmd.arg(mcp_dir.join("agent.mjs"))
        .args(["--http", url])
        .args(["--bench", &calls.to_string()])
        .args(["--concurrency", &sessions.to_string()])
        .args(["--call", TOOL])
        .args(["--arguments", &json!({ "message": MESSAGE }).to_string()]);
    if let Some(r) = rate {
        cmd.args(["--rate", &r.to_string()]);
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .context("starting node tests/mcp/agent.mjs")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "agent.mjs against {url} failed ({}): {stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: Value = serde_json::from_str(stdout.trim())
        .with_context(|| format!("agent.mjs printed {stdout:?}"))?;
    let num = |k: &str| v[k].as_f64().with_context(|| format!("no {k} in {v}"));
    Ok((
        mcp_agent::Figures {
            calls: num("calls")? as u64,
            errors: num("errors")? as u64,
            seconds: num("seconds")?,
            p50_ms: num("p50_ms")?,
            p99_ms: num("p99_ms")?,
            calls_per_s: num("calls_per_s")?,
        },
        num("cpu_ms")?,
    ))
}

/// A row: the same load straight to the upstream and through the gate.
struct Row {
    label: String,
    direct: Run,
    gate: Run,
}

/// Counts the `action` and `outcome` records in the log.
async fn count_records(log_url: &str) -> anyhow::Result<(u64, u64, u64)> {
    let mut log = LogClient::connect(log_url).await?;
    let (mut actions, mut outcomes, mut total) = (0, 0, 0);
    loop {
        // Past the end the log answers OutOfRange, not an empty list.
        let batch = match log.entries(total, 10_000).await {
            Ok(b) if !b.is_empty() => b,
            Ok(_) => break,
            Err(e) if e.code() == Some(tonic::Code::OutOfRange) => break,
            Err(e) => return Err(e.into()),
        };
        for e in &batch {
            match Envelope::decode(e)
                .and_then(|env| env.record())
                .map(|r| r.kind())
            {
                Ok(Kind::Action) => actions += 1,
                Ok(Kind::Outcome) => outcomes += 1,
                _ => {}
            }
        }
        total += batch.len() as u64;
    }
    Ok((actions, outcomes, total))
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

fn print_tables(rows: &[Row], records: &Value) {
    println!(
        "| sessions | calls | direct calls/s | gate calls/s | ratio | direct p50 / p99 | \
         gate p50 / p99 | added p50 / p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        let errors = r.direct.errors + r.gate.errors;
        println!(
            "| {} | {}{} | {:.0} | {:.0} | {:.2} | {:.2} / {:.2} ms | {:.2} / {:.2} ms | \
             {:+.2} / {:+.2} ms |",
            r.label,
            r.gate.calls,
            if errors > 0 {
                format!(" ({errors} errors)")
            } else {
                String::new()
            },
            r.direct.calls_per_s,
            r.gate.calls_per_s,
            ratio(r.gate.calls_per_s, r.direct.calls_per_s),
            r.direct.p50,
            r.direct.p99,
            r.gate.p50,
            r.gate.p99,
            r.gate.p50 - r.direct.p50,
            r.gate.p99 - r.direct.p99,
        );
    }
    println!();
    println!(
        "CPU ms per call (user + system; the Node agent's from its process.cpuUsage, the rest \
         from /proc/<pid>/stat, the Rust agent's being the whole bench process):"
    );
    println!();
    println!("| sessions | direct: agent / upstream | gate: agent / upstream / gate / log |");
    println!("|---|---|---|");
    for r in rows {
        let (d, g) = (r.direct.cpu, r.gate.cpu);
        println!(
            "| {} | {:.3} / {:.3} | {:.3} / {:.3} / {:.3} / {:.3} |",
            r.label, d[0], d[1], g[0], g[1], g[2], g[3]
        );
    }
    println!();
    println!(
        "records: {} gate calls, {} actions and {} outcomes in the log ({} entries in all): \
         {:.2} records per call; {}",
        records["gate_calls"],
        records["actions"],
        records["outcomes"],
        records["log_entries"],
        records["records_per_call"].as_f64().unwrap_or(0.0),
        if records["ok"].as_bool() == Some(true) {
            "one action and one outcome per call"
        } else {
            "MISMATCH: not one action and one outcome per call"
        }
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin = bin_dir(args.bin_dir.as_deref())?;
    let fixture = |rel: &str| -> anyhow::Result<PathBuf> {
        let path = args.mcp_dir.join(rel);
        if !path.exists() {
            bail!(
                "{} is missing: run `npm ci` in {}",
                path.display(),
                args.mcp_dir.display()
            );
        }
        Ok(path)
    };
    let agent = if args.agent == "node" {
        fixture("node_modules/@modelcontextprotocol/sdk")?;
        Agent::Node(args.mcp_dir.clone())
    } else {
        Agent::Rust
    };
    // The gate's name of the upstream: also the scope's target, and the
    // prefix of its action.
    let server = args.upstream_server.as_str();
    let temp;
    let dir = match &args.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| d.display().to_string())?;
            d.clone()
        }
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_owned()
        }
    };
    let p = producers(&dir.join("producers"))?;
    let RecordsLog {
        process: log,
        grpc: log_url,
        vkeys,
        ..
    } = records_log(&bin, &dir.join("log"), "bench.causeway/gate", &p.policy)?;
    let (_issuer, issuer_url, pki, gate_cert) = start_issuer(&bin, &dir, (&log_url, &vkeys), &p)?;
    let (auth, pre) = approve(&log_url, &p, server).await?;

    // The baseline's upstream, over Streamable HTTP, and the command that
    // starts the gate's own on stdio.
    let (upstream, upstream_url, stdio_command) = if server == "echo" {
        let echo = bin.join("causeway-echo-mcp");
        let mut cmd = Command::new(&echo);
        cmd.args(["--http", "127.0.0.1:0"]);
        let (process, line) = spawn_stderr_ready(cmd, "causeway-echo-mcp: listening on ")?;
        let url = line
            .split_once("listening on ")
            .map(|(_, u)| u.trim().to_owned())
            .context("causeway-echo-mcp's listening line")?;
        (process, url, vec![echo.display().to_string()])
    } else {
        let everything =
            fixture("node_modules/@modelcontextprotocol/server-everything/dist/index.js")?;
        // Its stdout (a line per request) goes nowhere.
        let port = free_port()?;
        let mut cmd = Command::new("node");
        cmd.arg(&everything)
            .arg("streamableHttp")
            .env("PORT", port.to_string())
            .stdout(Stdio::null());
        let (process, _) = spawn_stderr_ready(cmd, "listening on port")?;
        let command = ["node", &everything.display().to_string(), "stdio"].map(str::to_owned);
        (
            process,
            format!("http://127.0.0.1:{port}/mcp"),
            command.to_vec(),
        )
    };

    let upstream_table = if args.upstream == "http" {
        format!("url = {upstream_url:?}")
    } else {
        let quoted: Vec<String> = stdio_command.iter().map(|c| format!("{c:?}")).collect();
        format!("command = [{}]", quoted.join(", "))
    };
    let config = dir.join("gate.toml");
    let text = format!(
        "gate_key = {:?}\n\n[log]\nurl = {log_url:?}\n\n[issuer]\nurl = {issuer_url:?}\n\
         ca = {:?}\ncert = {:?}\nkey = {:?}\n\n[session]\nauthorization = \"{auth}\"\n\
         preflight = \"{pre}\"\nagent = \"{AGENT}\"\nmodel = \"bench\"\nversion = \"1\"\n\
         change_class = \"standard\"\ntargets = [\"{server}\"]\n\
         actions = [\"{server}.{TOOL}\"]\nttl = \"30m\"\n\n\
         [[upstream]]\nname = \"{server}\"\n{upstream_table}\n",
        p.gate_key,
        pki.ca(),
        gate_cert.0,
        gate_cert.1,
    );
    std::fs::write(&config, text).with_context(|| config.display().to_string())?;
    let mut cmd = Command::new(bin.join("causeway-gate"));
    cmd.arg("--config")
        .arg(&config)
        .args(["--http", "127.0.0.1:0"])
        .stdout(Stdio::null());
    let (gate, line) = spawn_stderr_ready(cmd, "causeway-gate: listening on ")?;
    let gate_url = line
        .split_once("listening on ")
        .map(|(_, u)| u.trim().to_owned())
        .context("the gate's listening line")?;
    let gate_pid = gate.0.id();
    let upstream_pid = upstream.0.id();
    let mut watched = Watched {
        upstream: upstream_pid,
        gate: None,
        log: log.0.id(),
        tick_ms: tick_ms(),
    };
    let gate_upstream = if args.upstream == "http" {
        upstream_pid
    } else {
        *children(gate_pid)
            .first()
            .context("the gate's stdio upstream process")?
    };

    let mut gate_calls = 0u64;
    // Warm-up of both paths (JIT of the Node processes, connections); its
    // gate calls count in the records check.
    for url in [&upstream_url, &gate_url] {
        let is_gate = url == &gate_url;
        let r = run_agent(&agent, url, (200, 4, None), &watched).await?;
        if is_gate {
            gate_calls += r.calls - r.errors;
        }
    }

    let mut rows = Vec::new();
    let mut plan: Vec<(String, usize, usize, Option<f64>)> = args
        .sessions
        .iter()
        .map(|&s| (s.to_string(), args.calls, s, None))
        .collect();
    if args.rate > 0.0 {
        plan.push((
            format!("1, paced at {}/s", args.rate),
            args.paced_calls,
            1,
            Some(args.rate),
        ));
    }
    for (label, calls, sessions, rate) in plan {
        if !args.json {
            eprintln!(
                "causeway-gate-bench: {sessions} session(s), {calls} calls, direct then gate"
            );
        }
        watched.upstream = upstream_pid;
        watched.gate = None;
        let load = (calls, sessions, rate);
        let direct = run_agent(&agent, &upstream_url, load, &watched).await?;
        watched.upstream = gate_upstream;
        watched.gate = Some(gate_pid);
        let through = run_agent(&agent, &gate_url, load, &watched).await?;
        gate_calls += through.calls - through.errors;
        rows.push(Row {
            label,
            direct,
            gate: through,
        });
    }

    // SIGTERM: the gate writes the outcomes still queued and its closure.
    drop(gate);
    let (actions, outcomes, entries) = count_records(&log_url).await?;
    let records = json!({
        "gate_calls": gate_calls, "actions": actions, "outcomes": outcomes,
        "log_entries": entries,
        "records_per_call": ratio((actions + outcomes) as f64, gate_calls as f64),
        "ok": actions == gate_calls && outcomes == gate_calls,
    });
    if args.json {
        let rows: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "sessions": r.label, "direct": r.direct.json(), "gate": r.gate.json(),
                    "ratio": ratio(r.gate.calls_per_s, r.direct.calls_per_s),
                    "added_p50_ms": r.gate.p50 - r.direct.p50,
                    "added_p99_ms": r.gate.p99 - r.direct.p99,
                })
            })
            .collect();
        println!(
            "{}",
            json!({"upstream": args.upstream, "upstream_server": server, "agent": args.agent,
                   "rows": rows, "records": records})
        );
    } else {
        println!(
            "gate upstream: {} over {}; agent: {} over Streamable HTTP\n",
            if server == "echo" {
                "causeway-echo-mcp (rmcp)"
            } else {
                "server-everything (Node)"
            },
            args.upstream,
            agent.describe(),
        );
        print_tables(&rows, &records);
    }
    if records["ok"].as_bool() != Some(true) {
        bail!("the log does not hold one action and one outcome per gate call: {records}");
    }
    Ok(())
}
