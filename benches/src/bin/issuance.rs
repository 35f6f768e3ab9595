//! `causeway-issuance-bench`: what a just-in-time credential costs.
//!
//! Starts `causeway-server --dev` (log, two witnesses, development TSA and
//! development `causeway-issuer` behind mutual TLS), writes one approval
//! and its passing pre-flight, then, one call at a time:
//!
//! 1. the baseline: N credential records signed by the issuer key sent to
//!    the log directly (`AddEntries`, one per call), timing each
//!    acknowledgement;
//! 2. N `IssueCredential` calls to the issuer for N distinct agents, each
//!    checked (the approval's inclusion, its window, the pre-flight and no
//!    later block, scope and lifetime, the agent's other credentials),
//!    signed, acknowledged by the log and proven included before it
//!    answers.
//!
//! It prints p50/p99 latency and calls per second of both, and their ratio.
//!
//! ```text
//! cargo build --release -p causeway-server -p causeway-issuer -p causeway-bench
//! target/release/causeway-issuance-bench          # --credentials 200
//! ```

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use causeway_bench::{Process, bin_dir};
use causeway_client::LogClient;
use causeway_client::TlsSettings;
use causeway_client::demo::rfc3339;
use causeway_client::issuer::{CredentialRequest, IssuerClient};
use causeway_records::{Envelope, Kind, ProducerKey, Record};
use causeway_tlog::merkle::{Hash, leaf_hash};
use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::json;

/// Issuance latency against the log's own acknowledgement latency.
#[derive(Parser, Debug)]
#[command(name = "causeway-issuance-bench", version, about)]
struct Args {
    /// Directory of the causeway-server and causeway-issuer binaries
    /// (default: next to this one).
    #[arg(long)]
    bin_dir: Option<std::path::PathBuf>,
    /// Credentials per run (baseline and issuer each).
    #[arg(long, default_value_t = 200)]
    credentials: usize,
}

/// The dev deployment's log URL, issuer URL and log vkeys, from its banner.
fn start(bin: &Path, dev_dir: &Path) -> anyhow::Result<(Process, String, String)> {
    let mut child = Command::new(bin.join("causeway-server"))
        .arg("--dev")
        .arg("--dev-dir")
        .arg(dev_dir)
        .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "off"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .context("starting causeway-server --dev")?;
    let stdout = child.stdout.take().context("stdout")?;
    let process = Process(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut issuer = None;
    for line in lines.by_ref() {
        let line = line?;
        if let Some(rest) = line.trim().strip_prefix("export CAUSEWAY_ISSUER=") {
            issuer = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(rest) = line.strip_prefix("causeway-server ready ") {
            let grpc = causeway_bench::field(rest, "grpc=")?;
            std::thread::spawn(move || lines.for_each(drop));
            let issuer = issuer.context("the dev deployment started no issuer")?;
            return Ok((process, format!("http://{grpc}"), issuer));
        }
    }
    anyhow::bail!("causeway-server --dev exited before it was ready")
}

fn signed(kind: Kind, value: serde_json::Value, key: &ProducerKey) -> anyhow::Result<Vec<u8>> {
    let record = Record::from_json(kind, &value.to_string()).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Envelope::sign(&record, key).encode())
}

fn key(path: &Path) -> anyhow::Result<ProducerKey> {
    let pem = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    ProducerKey::from_pkcs8_pem(&pem).map_err(|e| anyhow::anyhow!("{e}"))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn scope() -> serde_json::Value {
    json!({"change_class": "standard", "targets": ["repo:bench"], "actions": ["git.push:*"]})
}

struct Row {
    name: &'static str,
    latency: Histogram<u64>,
    elapsed: Duration,
}

impl Row {
    fn new(name: &'static str) -> anyhow::Result<Row> {
        Ok(Row {
            name,
            latency: Histogram::new(3)?,
            elapsed: Duration::ZERO,
        })
    }

    fn per_second(&self) -> f64 {
        self.latency.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn print(&self) {
        let ms = |q: f64| self.latency.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "| {} | {} | {:.2} ms | {:.2} ms | {:.0}/s |",
            self.name,
            self.latency.len(),
            ms(0.5),
            ms(0.99),
            self.per_second()
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin = bin_dir(args.bin_dir.as_deref())?;
    let dir = tempfile::tempdir()?;
    let dev = dir.path().join("dev");
    let (_server, log_url, issuer_url) = start(&bin, &dev)?;
    let producers = dev.join("producers");
    let (approver, verifier, issuer_key) = (
        key(&producers.join("approver.pem"))?,
        key(&producers.join("verifier.pem"))?,
        key(&producers.join("issuer.pem"))?,
    );
    let mut log = LogClient::connect(&log_url).await?;
    let t0 = now();
    let auth = signed(
        Kind::Authorization,
        json!({
            "approver": {"subject": "alice@example.com", "issuer": "https://login.example.com"},
            "authn": {"method": "webauthn", "mfa": true, "assurance": "aal2",
                      "authenticated_at": rfc3339(t0 - 60)},
            "plan": {"objective": "bench", "method": "bench", "test_approach": "bench",
                     "backout": "bench"},
            "scope": scope(), "ticket": "CHG-BENCH",
            "not_before": rfc3339(t0 - 60), "not_after": rfc3339(t0 + 7200),
            "time": rfc3339(t0),
        }),
        &approver,
    )?;
    let auth_hash = leaf_hash(&auth);
    log.add_entries(vec![auth]).await?;
    let pre = signed(
        Kind::Preflight,
        json!({"subject": auth_hash.to_hex(), "stage": "issuance",
               "checks": [{"name": "bench", "result": "pass", "detail": "", "cves": []}],
               "verdict": "pass", "time": rfc3339(t0)}),
        &verifier,
    )?;
    let pre_hash = leaf_hash(&pre);
    log.add_entries(vec![pre]).await?;

    // 1. The log's own acknowledgement of one credential record a call.
    let mut baseline = Row::new("log: AddEntries of one issuer-signed credential")?;
    let started = Instant::now();
    for i in 0..args.credentials {
        let session = ProducerKey::generate(&mut rand::rngs::OsRng);
        use base64::Engine as _;
        let entry = signed(
            Kind::Credential,
            json!({
                "serial": format!("base-{i}"),
                "agent": {"id": format!("agent://baseline/{i}"), "model": "m", "version": "1"},
                "authorization": auth_hash.to_hex(), "preflight": pre_hash.to_hex(),
                "scope": scope(),
                "session_key": base64::engine::general_purpose::STANDARD
                    .encode(session.public_spki_der()),
                "issued_at": rfc3339(now()), "expires_at": rfc3339(now() + 600),
                "time": rfc3339(now()),
            }),
            &issuer_key,
        )?;
        let t = Instant::now();
        log.add_entries(vec![entry]).await?;
        baseline.latency.record(t.elapsed().as_micros() as u64)?;
    }
    baseline.elapsed = started.elapsed();

    // 2. The issuer: checks, signs, waits for the log, proves inclusion.
    let pki = dev.join("issuer");
    let read = |f: &str| std::fs::read(pki.join(f)).with_context(|| f.to_owned());
    let tls = TlsSettings {
        ca_pem: Some(read("ca.pem")?),
        identity_pem: Some((read("caller.pem")?, read("caller.key")?)),
    };
    let mut issuer = IssuerClient::connect(&issuer_url, &tls).await?;
    let mut issued = Row::new("issuer: IssueCredential, checked and acknowledged")?;
    let started = Instant::now();
    for i in 0..args.credentials {
        let request = CredentialRequest {
            request_id: format!("bench-{i}"),
            authorization: auth_hash,
            preflight: pre_hash,
            parent: None::<Hash>,
            agent: (format!("agent://bench/{i}"), "m".into(), "1".into()),
            scope: (
                "standard".into(),
                vec!["repo:bench".into()],
                vec!["git.push:*".into()],
            ),
            ttl_seconds: 600,
        };
        let t = Instant::now();
        issuer.issue(&request).await?;
        issued.latency.record(t.elapsed().as_micros() as u64)?;
    }
    issued.elapsed = started.elapsed();

    println!("| what | calls | p50 | p99 | per second |");
    println!("|---|---|---|---|---|");
    baseline.print();
    issued.print();
    println!(
        "issuance / log ack: p50 {:.1}x, throughput {:.2}x",
        issued.latency.value_at_quantile(0.5) as f64
            / baseline.latency.value_at_quantile(0.5).max(1) as f64,
        issued.per_second() / baseline.per_second()
    );
    Ok(())
}
