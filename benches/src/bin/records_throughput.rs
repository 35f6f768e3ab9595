//! `causeway-records-throughput`: what record admission costs.
//!
//! Submits the same pre-signed governance records (one authorization,
//! pre-flight and credential, then N actions signed by the credential's
//! session key) to a log in records mode (every entry decoded, its
//! signature verified, its references looked up in storage and its signer
//! checked against the producer policy) and, as the baseline in the same
//! run, the very same bytes to a log with `--accept opaque`. A third run
//! repeats records mode with OpenTelemetry on: every submission traced,
//! spans and metrics exported over OTLP/gRPC to a collector in this
//! process, which counts what it receives. Last, with no log running, the
//! limit: ECDSA P-256 verifications/s on every core, with the
//! implementation records are verified with (`causeway_bench::limit`).
//!
//! ```text
//! cargo build --release -p causeway-server -p causeway-bench
//! target/release/causeway-records-throughput          # --actions 50000 --batch 500 --clients 4
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use causeway_bench::{Process, field, spawn_ready};
use causeway_client::LogClient;
use causeway_client::demo::rfc3339;
use causeway_records::{Envelope, Kind, ProducerKey, Record};
use causeway_tlog::merkle::{Hash, leaf_hash};
use clap::Parser;
use serde_json::json;

/// Record admission throughput against the same bytes in opaque mode.
#[derive(Parser, Debug)]
#[command(name = "causeway-records-throughput", version, about)]
struct Args {
    /// Directory of the causeway-server binary (default: next to this one).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Actions to submit.
    #[arg(long, default_value_t = 50_000)]
    actions: usize,
    /// Records per AddEntries call.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// How long the verification limit is measured, in seconds.
    #[arg(long, default_value_t = 5)]
    limit_secs: u64,
}

/// Starts the server on `data` and returns it with its gRPC URL.
fn start(bin: &Path, data: &Path, extra: &[&str]) -> anyhow::Result<(Process, String)> {
    let mut cmd = Command::new(bin);
    cmd.arg("--data-dir")
        .arg(data)
        .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "off"])
        .args(extra);
    let (process, ready) = spawn_ready(cmd, "causeway-server ready ")?;
    Ok((process, format!("http://{}", field(&ready, "grpc=")?)))
}

fn signed(
    kind: Kind,
    value: serde_json::Value,
    key: &ProducerKey,
) -> anyhow::Result<(Vec<u8>, Hash)> {
    let record = Record::from_json(kind, &value.to_string()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let bytes = Envelope::sign(&record, key).encode();
    let hash = leaf_hash(&bytes);
    Ok((bytes, hash))
}

/// Entry bytes.
type Entries = Vec<Vec<u8>>;

/// The chain's three parents and `n` actions, all signed.
fn records(n: usize, keys: &[ProducerKey; 4]) -> anyhow::Result<(Entries, Entries)> {
    let [approver, verifier, issuer, session] = keys;
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64
        - 7200;
    let scope = json!({"change_class": "standard", "targets": ["prod/api"], "actions": ["deploy"]});
    let auth = signed(
        Kind::Authorization,
        json!({
            "approver": {"subject": "alice@example.com", "issuer": "https://sso.example.com"},
            "authn": {"method": "oidc", "mfa": true, "assurance": "aal2", "authenticated_at": rfc3339(t0)},
            "plan": {"objective": "bench", "method": "pipeline", "test_approach": "canary", "backout": "rollback"},
            "scope": scope, "ticket": "CHG-1", "not_before": rfc3339(t0), "not_after": rfc3339(t0 + 86_400), "time": rfc3339(t0),
        }),
        approver,
    )?;
    let pre = signed(
        Kind::Preflight,
        json!({
            "subject": auth.1.to_hex(), "stage": "issuance",
            "checks": [{"name": "sast", "result": "pass", "detail": "", "cves": []}],
            "verdict": "pass", "time": rfc3339(t0 + 1),
        }),
        verifier,
    )?;
    let cred = signed(
        Kind::Credential,
        json!({
            "serial": "bench", "agent": {"id": "agent://bench", "model": "m", "version": "1"},
            "authorization": auth.1.to_hex(), "preflight": pre.1.to_hex(), "scope": scope,
            "session_key": base64::engine::general_purpose::STANDARD.encode(session.public_spki_der()),
            "issued_at": rfc3339(t0 + 2), "expires_at": rfc3339(t0 + 86_400), "time": rfc3339(t0 + 2),
        }),
        issuer,
    )?;
    let mut actions = Vec::with_capacity(n);
    for i in 0..n {
        actions.push(
            signed(Kind::Action, json!({
                "credential": cred.1.to_hex(), "seq": i as u64, "tool": "kubectl", "target": "prod/api",
                "summary": format!("step {i}"), "digest": format!("sha256:{}", leaf_hash(&i.to_be_bytes()).to_hex()),
                "result": "ok", "time": rfc3339(t0 + 10 + (i as i64 % 3600)),
            }), session)?
            .0,
        );
    }
    Ok((vec![auth.0, pre.0, cred.0], actions))
}

/// An OTLP/gRPC collector that counts spans and metric batches.
#[derive(Clone, Default)]
struct Collector {
    spans: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    metric_exports: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService
    for Collector
{
    async fn export(
        &self,
        request: tonic::Request<
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
        >,
    ) -> Result<
        tonic::Response<
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse,
        >,
        tonic::Status,
    > {
        let n: usize = request
            .into_inner()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.spans
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        Ok(tonic::Response::new(Default::default()))
    }
}

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsService
    for Collector
{
    async fn export(
        &self,
        _request: tonic::Request<
            opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest,
        >,
    ) -> Result<
        tonic::Response<
            opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse,
        >,
        tonic::Status,
    > {
        self.metric_exports
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(tonic::Response::new(Default::default()))
    }
}

/// Starts the collector on a free loopback port; returns its URL.
async fn collector(c: &Collector) -> anyhow::Result<String> {
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsServiceServer;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(c.clone()))
            .add_service(MetricsServiceServer::new(c.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    Ok(url)
}

async fn load(
    url: &str,
    parents: &[Vec<u8>],
    actions: &[Vec<u8>],
    batch: usize,
    clients: usize,
) -> anyhow::Result<Duration> {
    let mut c = LogClient::connect(url).await?;
    for p in parents {
        c.add_entries(vec![p.clone()]).await?;
    }
    let chunks: Vec<Vec<Vec<u8>>> = actions.chunks(batch).map(<[Vec<u8>]>::to_vec).collect();
    let per_client = chunks.len().div_ceil(clients.max(1));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for part in chunks
        .chunks(per_client.max(1))
        .map(<[Vec<Vec<u8>>]>::to_vec)
    {
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut c = LogClient::connect(&url).await?;
            for chunk in part {
                c.add_entries(chunk).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(started.elapsed())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bins = causeway_bench::bin_dir(args.bin_dir.as_deref())?;
    let server = bins.join("causeway-server");
    let work = tempfile::tempdir()?;
    let mut rng = rand::rngs::OsRng;
    let keys = [
        ProducerKey::generate(&mut rng),
        ProducerKey::generate(&mut rng),
        ProducerKey::generate(&mut rng),
        ProducerKey::generate(&mut rng),
    ];
    let t = Instant::now();
    let (parents, actions) = records(args.actions, &keys)?;
    let bytes: usize = actions.iter().map(Vec::len).sum();
    eprintln!(
        "signed {} actions ({} bytes each on average) in {:.1} s",
        actions.len(),
        bytes / actions.len().max(1),
        t.elapsed().as_secs_f64()
    );
    let b64 =
        |k: &ProducerKey| base64::engine::general_purpose::STANDARD.encode(k.public_spki_der());
    let policy = work.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "max_past_skew = \"3h\"\n\n[[principal]]\nname = \"alice@example.com\"\nrole = \"human\"\nkeys = [\"{}\"]\n\n\
             [[principal]]\nname = \"verifier\"\nrole = \"verifier\"\nkeys = [\"{}\"]\n\n\
             [[principal]]\nname = \"issuer\"\nrole = \"issuer\"\nkeys = [\"{}\"]\n",
            b64(&keys[0]),
            b64(&keys[1]),
            b64(&keys[2])
        ),
    )?;

    let (opaque, url) = start(
        &server,
        &work.path().join("opaque"),
        &["--accept", "opaque"],
    )?;
    let baseline = load(&url, &parents, &actions, args.batch, args.clients).await?;
    drop(opaque);
    let (records_log, url) = start(
        &server,
        &work.path().join("records"),
        &["--policy", policy.to_str().unwrap_or_default()],
    )?;
    let admitted = load(&url, &parents, &actions, args.batch, args.clients).await?;
    drop(records_log);
    let sink = Collector::default();
    let endpoint = collector(&sink).await?;
    let (traced_log, url) = start(
        &server,
        &work.path().join("traced"),
        &[
            "--policy",
            policy.to_str().unwrap_or_default(),
            "--otlp-endpoint",
            &endpoint,
            "--otlp-interval",
            "1s",
            "--trace-ratio",
            "1",
        ],
    )?;
    let traced = load(&url, &parents, &actions, args.batch, args.clients).await?;
    drop(traced_log);
    let spans = sink.spans.load(std::sync::atomic::Ordering::Relaxed);
    // Measured with no log running, so it is the machine's ceiling.
    let limit = causeway_bench::limit::verify_limit(
        causeway_bench::limit::Implementation::Ring,
        Duration::from_secs(args.limit_secs),
    )?;

    let rate = |d: Duration| actions.len() as f64 / d.as_secs_f64();
    println!(
        "| mode | records/s ({} actions, {} per call, {} clients) | ratio |",
        actions.len(),
        args.batch,
        args.clients
    );
    println!("|---|---|---|");
    println!(
        "| opaque: the same bytes, no checks (baseline) | {:.0} | 1.00 |",
        rate(baseline)
    );
    println!(
        "| records: decode, signature, references, policy | {:.0} | {:.2} |",
        rate(admitted),
        rate(admitted) / rate(baseline)
    );
    println!(
        "| records + OpenTelemetry: every call traced, OTLP export ({spans} spans received) | {:.0} | {:.2} |",
        rate(traced),
        rate(traced) / rate(baseline)
    );
    println!("\n| limit | per second |");
    println!("|---|---|");
    println!("{}", limit.row());
    println!(
        "| records mode, records/s ({:.2}x the limit) | {:.0} |",
        rate(admitted) / limit.per_second,
        rate(admitted)
    );
    Ok(())
}
