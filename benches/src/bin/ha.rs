//! `causeway-ha-bench`: the shared PostgreSQL store against embedded
//! RocksDB, read throughput over one and three instances, and failover.
//!
//! Everything runs here, on loopback: a private PostgreSQL server
//! (Debian's binaries, `fsync` on, as in production), `causeway-server`
//! release binaries, and the load generator, all on the same cores. Each
//! figure has its baseline from the same run:
//!
//! 1. durable append throughput and submit → signed-checkpoint latency on
//!    PostgreSQL, against RocksDB;
//! 2. inclusion proofs and hash tiles served by three instances (one
//!    leader, two standbys) sharing the store, against one instance;
//! 3. failover: `kill -9` of the leader → the first write acknowledged
//!    (with a new signed checkpoint) by the next one, against the lease.
//!
//! ```text
//! cargo build --release -p causeway-server -p causeway-bench
//! target/release/causeway-ha-bench
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use causeway_bench::{Process, field, spawn_ready};
use causeway_client::{LeafRef, LogClient};
use causeway_tests::Postgres;
use clap::Parser;
use hdrhistogram::Histogram;

/// RocksDB vs PostgreSQL, 1 vs 3 readers, failover time.
#[derive(Parser, Debug)]
#[command(name = "causeway-ha-bench", version, about)]
struct Args {
    /// Directory of the causeway-server binary (default: next to this one).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Entries appended for the throughput figure (and the read tree).
    #[arg(long, default_value_t = 200_000)]
    entries: u64,
    /// Entries per AddEntries call for the throughput figure.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Concurrent appending clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Bytes per entry.
    #[arg(long, default_value_t = 512)]
    entry_bytes: usize,
    /// Steady rate for the latency figure, records per second (10 per call).
    #[arg(long, default_value_t = 2000)]
    rate: u64,
    /// Seconds of steady load for the latency figure.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Inclusion proofs (and tiles) fetched per read measurement.
    #[arg(long, default_value_t = 30_000)]
    reads: u64,
    /// Concurrent reading clients.
    #[arg(long, default_value_t = 16)]
    read_clients: usize,
    /// Failover trials.
    #[arg(long, default_value_t = 10)]
    trials: usize,
    /// The --ha-lease of the instances.
    #[arg(long, default_value = "3s")]
    lease: String,
}

/// A running server and its endpoints.
struct Instance {
    process: Process,
    url: String,
    tiles: String,
}

fn start(bins: &Path, data: &Path, extra: &[&str]) -> anyhow::Result<Instance> {
    let mut cmd = Command::new(bins.join("causeway-server"));
    cmd.arg("--data-dir")
        .arg(data)
        .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        .args(["--accept", "opaque", "--origin", "bench.causeway/ha"])
        .args(extra);
    let (process, ready) = spawn_ready(cmd, "causeway-server ready ")?;
    Ok(Instance {
        process,
        url: format!("http://{}", field(&ready, "grpc=")?),
        tiles: format!("http://{}", field(&ready, "http=")?),
    })
}

fn entry(tag: &str, i: u64, bytes: usize) -> Vec<u8> {
    let mut e = format!("{tag}-{i}-").into_bytes();
    e.resize(bytes.max(e.len()), b'x');
    e
}

/// Appends `args.entries` entries from `args.clients` clients in batches;
/// returns records per second.
async fn append(url: &str, tag: &str, args: &Args) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (url, next, tag) = (url.to_owned(), next.clone(), tag.to_owned());
        let (total, batch, bytes) = (args.entries, args.batch as u64, args.entry_bytes);
        tasks.push(tokio::spawn(async move {
            let mut c = LogClient::connect(&url).await?;
            loop {
                let from = next.fetch_add(batch, Ordering::Relaxed);
                if from >= total {
                    return anyhow::Ok(());
                }
                let to = (from + batch).min(total);
                let entries = (from..to).map(|i| entry(&tag, i, bytes)).collect();
                c.add_entries(entries).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(args.entries as f64 / started.elapsed().as_secs_f64())
}

/// Steady load at `args.rate` records/s in calls of 10: the latency from
/// sending a call to its acknowledgement, which carries a durable signed
/// checkpoint that includes the records.
async fn latency(url: &str, tag: &str, args: &Args) -> anyhow::Result<Histogram<u64>> {
    let per_call = 10;
    let interval = Duration::from_secs_f64(per_call as f64 / args.rate as f64);
    let calls = args.seconds * args.rate / per_call;
    let client = LogClient::connect(url).await?;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    for call in 0..calls {
        ticker.tick().await;
        let mut c = client.clone();
        let entries: Vec<Vec<u8>> = (0..per_call)
            .map(|i| entry(tag, call * per_call + i, args.entry_bytes))
            .collect();
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            c.add_entries(entries).await?;
            anyhow::Ok(sent.elapsed())
        }));
    }
    let mut h = Histogram::<u64>::new(3)?;
    for t in tasks {
        h.record(t.await??.as_micros() as u64)?;
    }
    Ok(h)
}

/// Inclusion proofs of random leaves at `size`, from `args.read_clients`
/// clients spread over `urls`; returns proofs per second and how many.
async fn proofs(urls: &[String], size: u64, args: &Args) -> anyhow::Result<(f64, u64)> {
    let per_client = args.reads / args.read_clients as u64;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..args.read_clients {
        let url = urls[i % urls.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut c = LogClient::connect(&url).await?;
            for _ in 0..per_client {
                let leaf = rand::random::<u64>() % size;
                c.inclusion_proof(LeafRef::Index(leaf), Some(size)).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let n = per_client * args.read_clients as u64;
    Ok((n as f64 / started.elapsed().as_secs_f64(), n))
}

/// Full level-0 hash tiles (8 KiB each) of a tree of `size`, over HTTP,
/// spread over `tiles`; returns tiles per second and how many.
async fn tiles(tiles: &[String], size: u64, args: &Args) -> anyhow::Result<(f64, u64)> {
    let full = size / 256;
    let per_client = args.reads / args.read_clients as u64;
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..args.read_clients {
        let (base, http) = (tiles[i % tiles.len()].clone(), http.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_client {
                let n = rand::random::<u64>() % full;
                let path = causeway_tlog::tiles::TileId::hashes(0, n, 256).path();
                let r = http.get(format!("{base}/{path}")).send().await?;
                if !r.status().is_success() {
                    bail!("{base}/{path}: {}", r.status());
                }
                r.bytes().await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let n = per_client * args.read_clients as u64;
    Ok((n as f64 / started.elapsed().as_secs_f64(), n))
}

/// Waits until `url` publishes a checkpoint of at least `size`.
async fn caught_up(url: &str, size: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut c) = LogClient::connect(url).await
            && let Ok(note) = c.checkpoint(None).await
        {
            let cp = causeway_tlog::checkpoint::Checkpoint::parse(
                causeway_tlog::note::Note::parse(note.as_bytes())?.text(),
            )?;
            if cp.size() >= size {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("{url} did not reach size {size}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes one entry through whichever instance leads (following the
/// standbys' hints) until one is acknowledged; returns when.
async fn first_ack(urls: &[String], tag: &str) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut at = 0;
    loop {
        let url = urls[at % urls.len()].clone();
        if let Ok(mut c) = LogClient::connect(&url).await {
            match c.add_entries(vec![tag.as_bytes().to_vec()]).await {
                Ok(_) => return Ok(Instant::now()),
                Err(e) => match e.leader().and_then(|l| urls.iter().position(|u| *u == l)) {
                    Some(leader) => at = leader,
                    None => at += 1,
                },
            }
        } else {
            at += 1;
        }
        if Instant::now() > deadline {
            bail!("no instance took a write within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// CPU time (user + system) used so far by `pids` and, with `children_of`,
/// by every process whose parent that is (PostgreSQL's backends), in
/// seconds. Linux `/proc`, clock ticks of 1/100 s.
fn cpu_seconds(pids: &[u32], children_of: Option<u32>) -> f64 {
    let stat = |pid: &str| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
    // Fields after the command's closing parenthesis: state ppid … utime stime.
    let fields = |s: &str| -> Option<(u32, u64)> {
        let rest = s.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ppid = f.get(1)?.parse().ok()?;
        let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        Some((ppid, ticks))
    };
    let mut ticks = 0;
    for pid in pids {
        ticks += stat(&pid.to_string())
            .and_then(|s| fields(&s))
            .map_or(0, |f| f.1);
    }
    if let Some(parent) = children_of
        && let Ok(dir) = std::fs::read_dir("/proc")
    {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.bytes().all(|b| b.is_ascii_digit())
                && let Some((ppid, t)) = stat(&name).and_then(|s| fields(&s))
                && ppid == parent
            {
                ticks += t;
            }
        }
    }
    ticks as f64 / 100.0
}

/// Runs `load` and returns its rate with the CPU seconds that the
/// instances and PostgreSQL spent per 1000 requests meanwhile.
async fn with_cpu(
    instances: &[u32],
    postgres: Option<u32>,
    load: impl std::future::Future<Output = anyhow::Result<(f64, u64)>>,
) -> anyhow::Result<(f64, f64, f64)> {
    let pg_pids: Vec<u32> = postgres.into_iter().collect();
    let (i0, p0) = (
        cpu_seconds(instances, None),
        cpu_seconds(&pg_pids, postgres),
    );
    let (rate, requests) = load.await?;
    let (i1, p1) = (
        cpu_seconds(instances, None),
        cpu_seconds(&pg_pids, postgres),
    );
    let per_k = |d: f64| d * 1000.0 * 1000.0 / requests.max(1) as f64;
    Ok((rate, per_k(i1 - i0), per_k(p1 - p0)))
}

fn ms(micros: u64) -> String {
    format!("{:.1} ms", micros as f64 / 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bins = causeway_bench::bin_dir(args.bin_dir.as_deref())?;
    let work = tempfile::tempdir()?;
    let pg = Postgres::start(&work.path().join("pg"));
    eprintln!("PostgreSQL on 127.0.0.1:{}", pg.port);
    println!("| measurement | causeway | baseline (same run) | ratio |\n|---|---|---|---|");

    // 1. One instance, RocksDB then PostgreSQL.
    let rocks = start(&bins, &work.path().join("rocks"), &[])?;
    let rocks_rate = append(&rocks.url, "rocks", &args).await?;
    let rocks_lat = latency(&rocks.url, "rocks-lat", &args).await?;
    drop(rocks);
    let db = pg.create_database("bench");
    let single = start(&bins, &work.path().join("pg-single"), &["--storage", &db])?;
    let pg_rate = append(&single.url, "pg", &args).await?;
    let pg_lat = latency(&single.url, "pg-lat", &args).await?;
    drop(single);
    println!(
        "| durable append, {} clients × {} × {} B, records/s | PostgreSQL: {pg_rate:.0} | RocksDB: {rocks_rate:.0} | {:.2} |",
        args.clients,
        args.batch,
        args.entry_bytes,
        pg_rate / rocks_rate
    );
    for (q, name) in [(0.5, "p50"), (0.99, "p99")] {
        let (p, r) = (pg_lat.value_at_quantile(q), rocks_lat.value_at_quantile(q));
        println!(
            "| submit → signed checkpoint at {}/s, {name} | PostgreSQL: {} | RocksDB: {} | {:.2} |",
            args.rate,
            ms(p),
            ms(r),
            p as f64 / r.max(1) as f64
        );
    }

    // 2. Reads: one instance, then three sharing the store.
    let keys = work.path().join("keys");
    let init = Command::new(bins.join("causeway-server"))
        .arg("init")
        .arg("--data-dir")
        .arg(&keys)
        .args(["--origin", "bench.causeway/ha"])
        .output()?;
    if !init.status.success() {
        bail!("init: {}", String::from_utf8_lossy(&init.stderr));
    }
    let ha_db = pg.create_database("bench_ha");
    let names = ["a", "b", "c"];
    let mut instances = Vec::new();
    for name in names {
        let dir = work.path().join(name);
        let status = Command::new("cp").arg("-a").arg(&keys).arg(&dir).status()?;
        if !status.success() {
            bail!("copying the keys");
        }
        let flags = [
            "--storage",
            &ha_db,
            "--ha",
            "--ha-id",
            name,
            "--ha-lease",
            &args.lease,
        ];
        instances.push(Some(start(&bins, &dir, &flags)?));
    }
    let urls: Vec<String> = instances.iter().flatten().map(|i| i.url.clone()).collect();
    let tile_urls: Vec<String> = instances
        .iter()
        .flatten()
        .map(|i| i.tiles.clone())
        .collect();
    // The read tree: the leader appends it.
    first_ack(&urls, "first").await?;
    let leader_url = pg.sql(
        "bench_ha",
        "SELECT address FROM leader WHERE expires_at > clock_timestamp()",
    );
    append(&leader_url, "ha", &args).await?;
    let size = args.entries + 1;
    for u in &urls {
        caught_up(u, size).await?;
    }
    let standby = urls
        .iter()
        .find(|u| **u != leader_url)
        .context("a standby")?;
    let standby_tiles = &tile_urls[urls.iter().position(|u| u == standby).unwrap_or(0)];
    let pids: Vec<u32> = instances
        .iter()
        .flatten()
        .map(|i| i.process.0.id())
        .collect();
    let standby_pid = pids[urls.iter().position(|u| u == standby).unwrap_or(0)];
    let pg_pid = pg.pid();
    for (what, one, three) in [
        (
            format!(
                "inclusion proofs at {size}, {} clients, proofs/s",
                args.read_clients
            ),
            with_cpu(
                &[standby_pid],
                pg_pid,
                proofs(std::slice::from_ref(standby), size, &args),
            )
            .await?,
            with_cpu(&pids, pg_pid, proofs(&urls, size, &args)).await?,
        ),
        (
            format!(
                "full hash tiles over HTTP, {} clients, tiles/s",
                args.read_clients
            ),
            with_cpu(
                &[standby_pid],
                pg_pid,
                tiles(std::slice::from_ref(standby_tiles), size, &args),
            )
            .await?,
            with_cpu(&pids, pg_pid, tiles(&tile_urls, size, &args)).await?,
        ),
    ] {
        println!(
            "| {what} | 3 instances: {:.0} | 1 standby: {:.0} | {:.2} |",
            three.0,
            one.0,
            three.0 / one.0
        );
        println!(
            "|   CPU ms per 1000: instances / PostgreSQL | {:.0} / {:.0} | {:.0} / {:.0} | — |",
            three.1, three.2, one.1, one.2
        );
    }

    // 3. Failover: kill -9 the leader, time the first acknowledged write.
    let lease = causeway_lease(&args.lease)?;
    let mut times = Vec::new();
    for trial in 0..args.trials {
        let leader = pg.sql(
            "bench_ha",
            "SELECT address FROM leader WHERE expires_at > clock_timestamp()",
        );
        let Some(i) = urls.iter().position(|u| *u == leader) else {
            bail!("the leader {leader:?} is not one of {urls:?}");
        };
        let Some(mut victim) = instances[i].take() else {
            bail!("instance {i} is not running");
        };
        let killed = Instant::now();
        victim.process.0.kill()?;
        let _ = victim.process.0.wait();
        let others: Vec<String> = urls.iter().filter(|u| **u != leader).cloned().collect();
        let acked = first_ack(&others, &format!("failover-{trial}")).await?;
        times.push(acked.duration_since(killed));
        eprintln!("trial {trial}: {:?}", acked.duration_since(killed));
        // Back on the same ports as a standby, so the URLs stay valid.
        let dir = work.path().join(names[i]);
        let grpc = leader.trim_start_matches("http://").to_owned();
        let http = tile_urls[i].trim_start_matches("http://").to_owned();
        let flags = [
            "--storage",
            &ha_db,
            "--ha",
            "--ha-id",
            names[i],
            "--ha-lease",
            &args.lease,
        ];
        let mut cmd = Command::new(bins.join("causeway-server"));
        cmd.arg("--data-dir")
            .arg(&dir)
            .args(["--grpc-addr", &grpc, "--http-addr", &http])
            .args(["--accept", "opaque"])
            .args(flags);
        let (process, _) = spawn_ready(cmd, "causeway-server ready ")?;
        instances[i] = Some(Instance {
            process,
            url: leader.clone(),
            tiles: tile_urls[i].clone(),
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    times.sort();
    let p50 = times[times.len() / 2];
    println!(
        "| failover, kill -9 of the leader → first new checkpoint, p50 of {} (min {:?}, max {:?}) | {p50:.2?} | --ha-lease: {lease:?} | {:.2} |",
        times.len(),
        times[0],
        times[times.len() - 1],
        p50.as_secs_f64() / lease.as_secs_f64()
    );
    Ok(())
}

/// The lease flag as a duration (`1500ms`, `3s`).
fn causeway_lease(text: &str) -> anyhow::Result<Duration> {
    if let Some(ms) = text.strip_suffix("ms") {
        return Ok(Duration::from_millis(ms.parse()?));
    }
    if let Some(s) = text.strip_suffix('s') {
        return Ok(Duration::from_secs(s.parse()?));
    }
    bail!("--lease {text:?}: write it like 1500ms or 3s")
}
