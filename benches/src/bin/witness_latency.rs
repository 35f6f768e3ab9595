//! `causeway-witness-latency`: submit → published latency with real
//! witness processes.
//!
//! For each witness count and each steady rate, starts a fresh log with
//! that many `causeway-witness` processes (quorum: all of them), submits
//! records at the rate for a while, and measures for every record the
//! time from sending its `AddEntries` call to the first published
//! (quorum-cosigned) checkpoint that includes it, seen on the
//! `WatchCheckpoints` stream. The baseline, measured in the same run, is
//! the same load on a log without witnesses, where a checkpoint is
//! published as soon as it is durable.
//!
//! ```text
//! cargo build --release -p causeway-server -p causeway-witness -p causeway-bench
//! target/release/causeway-witness-latency
//! ```

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use causeway_bench::{field, spawn_ready};
use causeway_client::LogClient;
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::note::Note;
use clap::Parser;
use futures::StreamExt as _;
use hdrhistogram::Histogram;

/// Submit → published latency with 0, 2 and 5 local witnesses.
#[derive(Parser, Debug)]
#[command(name = "causeway-witness-latency", version, about)]
struct Args {
    /// Directory of the causeway-server and causeway-witness binaries
    /// (default: next to this one).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Steady submission rates, records per second.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    rates: Vec<u64>,
    /// Witness counts to measure (0 is the no-witness baseline, always run).
    #[arg(long, value_delimiter = ',', default_value = "2,5")]
    witnesses: Vec<usize>,
    /// Seconds of load per configuration.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Bytes per record.
    #[arg(long, default_value_t = 512)]
    entry_bytes: usize,
    /// Submission calls per second (records per call = rate / this).
    #[arg(long, default_value_t = 100)]
    calls_per_second: u64,
}

/// Records acknowledged but not yet seen in a published checkpoint.
#[derive(Default)]
struct Pending {
    /// `(index after the call's last record, sent at, records)`, by index.
    waiting: VecDeque<(u64, Instant, u64)>,
    /// The largest published size seen so far.
    published: u64,
}

/// One configuration: a log with `witnesses` witnesses, loaded at `rate`.
async fn measure(
    bins: &Path,
    work: &Path,
    witnesses: usize,
    rate: u64,
    args: &Args,
) -> anyhow::Result<Histogram<u64>> {
    let log_dir = work.join(format!("log-{witnesses}-{rate}"));
    let init = Command::new(bins.join("causeway-server"))
        .arg("init")
        .arg("--data-dir")
        .arg(&log_dir)
        .args(["--origin", "bench.causeway/witnessed", "--json"])
        .output()?;
    if !init.status.success() {
        bail!("init: {}", String::from_utf8_lossy(&init.stderr));
    }
    let vkeys: serde_json::Value = serde_json::from_slice(&init.stdout)?;
    let mut processes = Vec::new();
    let mut flags = Vec::new();
    for i in 0..witnesses {
        let mut cmd = Command::new(bins.join("causeway-witness"));
        cmd.arg("--data-dir")
            .arg(work.join(format!("w{i}-{witnesses}-{rate}")))
            .args([
                "--addr",
                "127.0.0.1:0",
                "--name",
                &format!("bench.witness/w{i}"),
            ]);
        for v in vkeys["vkeys"].as_array().context("vkeys")? {
            cmd.args(["--log", v.as_str().context("vkey")?]);
        }
        let (p, ready) = spawn_ready(cmd, "causeway-witness ready ")?;
        flags.push(format!(
            "{}@http://{}",
            field(&ready, "vkey=")?,
            field(&ready, "addr=")?
        ));
        processes.push(p);
    }
    let mut cmd = Command::new(bins.join("causeway-server"));
    cmd.arg("--data-dir")
        .arg(&log_dir)
        .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "off"])
        .args(["--accept", "opaque"]);
    for f in &flags {
        cmd.args(["--witness", f]);
    }
    let (server, ready) = spawn_ready(cmd, "causeway-server ready ")?;
    let url = format!("http://{}", field(&ready, "grpc=")?);

    // Records waiting for publication, and the latest published size.
    let pending: Arc<Mutex<Pending>> = Arc::default();
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let mut watcher = LogClient::connect(&url).await?;
    let mut stream = watcher.watch_checkpoints().await?;
    let (p, h) = (pending.clone(), hist.clone());
    let watch = tokio::spawn(async move {
        while let Some(Ok(note)) = stream.next().await {
            let now = Instant::now();
            let Some(size) = Note::parse(note.as_bytes())
                .ok()
                .and_then(|n| Checkpoint::parse(n.text()).ok())
                .map(|c| c.size())
            else {
                continue;
            };
            let mut p = p.lock().unwrap_or_else(|e| e.into_inner());
            let mut h = h.lock().unwrap_or_else(|e| e.into_inner());
            p.published = p.published.max(size);
            while let Some(&(end, sent, records)) = p.waiting.front() {
                if end > size {
                    break;
                }
                let _ = h.record_n(now.duration_since(sent).as_micros() as u64, records);
                p.waiting.pop_front();
            }
        }
    });

    let per_call = (rate / args.calls_per_second).max(1);
    let interval = Duration::from_secs_f64(per_call as f64 / rate as f64);
    let calls = args.seconds * rate / per_call;
    let client = LogClient::connect(&url).await?;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    for call in 0..calls {
        ticker.tick().await;
        let mut client = client.clone();
        let (pending, hist) = (pending.clone(), hist.clone());
        let entries: Vec<Vec<u8>> = (0..per_call)
            .map(|i| {
                let mut e = format!("{rate}-{witnesses}-{call}-{i}-").into_bytes();
                e.resize(args.entry_bytes.max(e.len()), b'x');
                e
            })
            .collect();
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let added = client.add_entries(entries).await?;
            let end = added.entries.iter().map(|e| e.index + 1).max().unwrap_or(0);
            let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
            if end <= p.published {
                // Published before the acknowledgement arrived.
                let mut h = hist.lock().unwrap_or_else(|e| e.into_inner());
                let _ = h.record_n(sent.elapsed().as_micros() as u64, per_call);
                return anyhow::Ok(());
            }
            // Keep the queue ordered by end index: acks can overtake.
            let at = p.waiting.partition_point(|(e, _, _)| *e <= end);
            p.waiting.insert(at, (end, sent, per_call));
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    // Let the last records be published.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .waiting
        .is_empty()
    {
        if Instant::now() > deadline {
            bail!("records were not published within 30 s after the load");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    watch.abort();
    drop(server);
    drop(processes);
    let h = hist.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(h)
}

fn ms(h: &Histogram<u64>, q: f64) -> String {
    format!("{:.1} ms", h.value_at_quantile(q) as f64 / 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bins = causeway_bench::bin_dir(args.bin_dir.as_deref())?;
    let work = tempfile::tempdir()?;
    println!(
        "| witnesses (quorum) | rate | records | p50 | p99 | max | p50 / baseline p50 |\n|---|---|---|---|---|---|---|"
    );
    for &rate in &args.rates {
        let baseline = measure(&bins, work.path(), 0, rate, &args).await?;
        println!(
            "| 0 (baseline: published when durable) | {rate}/s | {} | {} | {} | {} | 1.00 |",
            baseline.len(),
            ms(&baseline, 0.5),
            ms(&baseline, 0.99),
            ms(&baseline, 1.0)
        );
        for &w in &args.witnesses {
            let h = measure(&bins, work.path(), w, rate, &args).await?;
            let ratio =
                h.value_at_quantile(0.5) as f64 / baseline.value_at_quantile(0.5).max(1) as f64;
            println!(
                "| {w} ({w}) | {rate}/s | {} | {} | {} | {} | {ratio:.2} |",
                h.len(),
                ms(&h, 0.5),
                ms(&h, 0.99),
                ms(&h, 1.0)
            );
        }
    }
    Ok(())
}
