//! `causeway-loadgen`: drives a real `causeway-server` over loopback and
//! prints a results table, with the baselines measured in the same run:
//! raw RocksDB synced batch writes of the same bytes (the storage limit)
//! and `rs_merkle` building the same tree in memory and producing the same
//! proofs (the in-memory limit).
//!
//! ```text
//! cargo build --release -p causeway-server -p causeway-bench
//! target/release/causeway-loadgen            # 10^6 entries of 1 KiB
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use causeway_api::v1;
use causeway_api::v1::log_client::LogClient;
use causeway_tlog::merkle::leaf_hash;
use clap::Parser;
use hdrhistogram::Histogram;
use rand::{Rng as _, RngCore as _, SeedableRng as _};
use tonic::transport::Channel;

/// Load generator for causeway-server, with same-run baselines.
#[derive(Parser, Debug, Clone)]
#[command(name = "causeway-loadgen", version, about)]
struct Args {
    /// The causeway-server binary (default: next to this one).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Where to put the benchmark's data directories (default: a temp dir).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Entries appended by the batched phase; the proof phase runs at this size.
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// Bytes per entry.
    #[arg(long, default_value_t = 1024)]
    entry_bytes: usize,
    /// Entries per AddEntries call in the batched phase.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Concurrent clients in the batched phase.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Concurrent clients in the single-entry phase.
    #[arg(long, default_value_t = 64)]
    single_clients: usize,
    /// Entries sent one per call in the single-entry phase.
    #[arg(long, default_value_t = 50_000)]
    single_entries: u64,
    /// Inclusion proofs requested in the proof phase.
    #[arg(long, default_value_t = 50_000)]
    proofs: u64,
    /// Concurrent clients in the proof phase.
    #[arg(long, default_value_t = 8)]
    proof_clients: usize,
    /// After everything else, keep appending until the log holds this many
    /// entries and report the server's RSS (0 = skip).
    #[arg(long, default_value_t = 0)]
    grow_to: u64,
    /// Seconds of tile load (causeway's HTTP API, then nginx serving an
    /// export of the same tiles); 0 skips the tile phase.
    #[arg(long, default_value_t = 10)]
    tile_seconds: u64,
    /// Concurrent HTTP clients in the tile phase.
    #[arg(long, default_value_t = 32)]
    tile_clients: usize,
    /// The nginx binary for the static-file baseline.
    #[arg(long, default_value = "/usr/sbin/nginx")]
    nginx: PathBuf,
    /// Extra flags for causeway-server (repeatable), e.g. --server-arg=--batch-max-delay=2ms
    #[arg(long = "server-arg")]
    server_args: Vec<String>,
}

struct Row {
    what: String,
    ours: String,
    baseline: String,
    ratio: String,
}

fn row(
    what: impl Into<String>,
    ours: impl Into<String>,
    baseline: impl Into<String>,
    ratio: Option<f64>,
) -> Row {
    Row {
        what: what.into(),
        ours: ours.into(),
        baseline: baseline.into(),
        ratio: ratio.map_or_else(|| "—".into(), |r| format!("{r:.2}")),
    }
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn fmt_rate(r: f64) -> String {
    let r = r.round() as u64;
    let s = r.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn us(h: &Histogram<u64>, q: f64) -> String {
    let v = h.value_at_quantile(q);
    if v >= 10_000 {
        format!("{:.1} ms", v as f64 / 1000.0)
    } else {
        format!("{v} µs")
    }
}

/// Unique, incompressible entries: an 8-byte counter then random bytes.
fn entry(n: u64, len: usize, rng: &mut rand::rngs::StdRng) -> Vec<u8> {
    let mut e = vec![0u8; len.max(8)];
    e[..8].copy_from_slice(&n.to_be_bytes());
    rng.fill_bytes(&mut e[8..]);
    e
}

struct ServerProcess {
    child: Child,
    url: String,
    tiles: String,
    killed: bool,
}

impl ServerProcess {
    /// `kill -9`: no flush, no goodbye.
    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.killed = true;
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if !self.killed {
            let pid = self.child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let _ = self.child.wait();
        }
    }
}

fn start_server(bin: &Path, data: &Path, extra: &[String]) -> anyhow::Result<ServerProcess> {
    use std::io::BufRead as _;
    let log_filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    let mut child = Command::new(bin)
        .arg("--data-dir")
        .arg(data)
        .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        .args(["--origin", "bench.causeway/log", "--accept", "opaque"])
        .args(extra)
        .env("RUST_LOG", log_filter)
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line?;
        let Some(rest) = line.strip_prefix("causeway-server ready ") else {
            continue;
        };
        let field = |name: &str| {
            rest.split(' ')
                .find_map(|f| f.strip_prefix(name))
                .map(str::to_owned)
        };
        let grpc = field("grpc=").context("grpc=")?;
        let http = field("http=").context("http=")?;
        // Keep draining so the server never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        return Ok(ServerProcess {
            child,
            url: format!("http://{grpc}"),
            tiles: format!("http://{http}"),
            killed: false,
        });
    }
    bail!("causeway-server exited before it was ready")
}

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Fetches random tiles from `paths` under `prefix` with `clients`
/// keep-alive HTTP clients for `seconds`; returns (requests, elapsed, µs histogram).
async fn tile_load(
    prefix: &str,
    paths: Arc<Vec<String>>,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<(u64, Duration, Histogram<u64>)> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (prefix, paths) = (prefix.to_owned(), paths.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder().tcp_nodelay(true).build()?;
            let mut rng = rand::rngs::StdRng::seed_from_u64(c as u64);
            let mut hist = Histogram::<u64>::new(3)?;
            let mut n = 0u64;
            while Instant::now() < deadline {
                let path = &paths[rng.gen_range(0..paths.len())];
                let t = Instant::now();
                let resp = http.get(format!("{prefix}/{path}")).send().await?;
                if !resp.status().is_success() {
                    bail!("{path}: {}", resp.status());
                }
                let body = resp.bytes().await?;
                std::hint::black_box(&body);
                hist.record(t.elapsed().as_micros() as u64)?;
                n += 1;
            }
            anyhow::Ok((n, hist))
        }));
    }
    let mut hist = Histogram::<u64>::new(3)?;
    let mut total = 0;
    for t in tasks {
        let (n, h) = t.await??;
        total += n;
        hist.add(h)?;
    }
    Ok((total, started.elapsed(), hist))
}

/// nginx serving `root` on a free loopback port, stopped on drop.
struct Nginx {
    child: Child,
    url: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its workers; SIGKILL would orphan them.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
    }
}

fn start_nginx(bin: &Path, work: &Path, root: &Path) -> anyhow::Result<Nginx> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    std::fs::create_dir_all(work.join("logs"))?;
    let conf = work.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nworker_processes 2;\nuser root;\npid {pid};\nerror_log {err} warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{ access_log off; sendfile on; tcp_nodelay on; keepalive_requests 1000000;\n\
             default_type application/octet-stream;\n\
             server {{ listen 127.0.0.1:{port}; root {root};\n\
             location / {{ add_header Cache-Control \"public, max-age=31536000, immutable\"; }} }} }}\n",
            pid = work.join("nginx.pid").display(),
            err = work.join("logs/error.log").display(),
            root = root.display(),
        ),
    )?;
    let child = Command::new(bin)
        .arg("-p")
        .arg(work)
        .arg("-c")
        .arg(&conf)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(Nginx { child, url });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!(
        "nginx did not start; see {}",
        work.join("logs/error.log").display()
    )
}

async fn connect(url: &str) -> anyhow::Result<LogClient<Channel>> {
    Ok(LogClient::connect(url.to_owned())
        .await?
        .max_decoding_message_size(64 << 20))
}

/// Appends `total` entries with `clients` concurrent clients, `batch` per
/// call; returns (elapsed, per-call latency histogram in µs).
async fn append(
    url: &str,
    total: u64,
    first: u64,
    batch: usize,
    clients: usize,
    entry_bytes: usize,
) -> anyhow::Result<(Duration, Histogram<u64>)> {
    let next = Arc::new(AtomicU64::new(first));
    let end = first + total;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (url, next) = (url.to_owned(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = connect(&url).await?;
            let mut rng = rand::rngs::StdRng::seed_from_u64(c as u64 ^ first);
            let mut hist = Histogram::<u64>::new(3)?;
            loop {
                let at = next.fetch_add(batch as u64, Ordering::Relaxed);
                if at >= end {
                    break;
                }
                let n = (end - at).min(batch as u64);
                let entries: Vec<Vec<u8>> = (at..at + n)
                    .map(|i| entry(i, entry_bytes, &mut rng))
                    .collect();
                let t = Instant::now();
                client
                    .add_entries(v1::AddEntriesRequest { entries })
                    .await?;
                hist.record(t.elapsed().as_micros() as u64)?;
            }
            anyhow::Ok(hist)
        }));
    }
    let mut hist = Histogram::<u64>::new(3)?;
    for t in tasks {
        hist.add(t.await??)?;
    }
    Ok((started.elapsed(), hist))
}

/// Raw RocksDB: the same bytes in synced batches of the same size.
fn rocksdb_baseline(
    dir: &Path,
    total: u64,
    batch: usize,
    entry_bytes: usize,
    threads: usize,
) -> anyhow::Result<Duration> {
    let mut opts = rocksdb::Options::default();
    opts.create_if_missing(true);
    let db = Arc::new(rocksdb::DB::open(&opts, dir)?);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (db, next) = (db.clone(), next.clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                let mut rng = rand::rngs::StdRng::seed_from_u64(t as u64);
                let mut sync = rocksdb::WriteOptions::default();
                sync.set_sync(true);
                loop {
                    let at = next.fetch_add(batch as u64, Ordering::Relaxed);
                    if at >= total {
                        return Ok(());
                    }
                    let mut wb = rocksdb::WriteBatch::default();
                    for i in at..(at + batch as u64).min(total) {
                        wb.put(i.to_be_bytes(), entry(i, entry_bytes, &mut rng));
                    }
                    db.write_opt(wb, &sync)?;
                }
            })
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("baseline thread panicked"))??;
    }
    Ok(started.elapsed())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin = match &args.server_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()?.with_file_name("causeway-server"),
    };
    let tmp = tempfile::tempdir_in(args.work_dir.clone().unwrap_or_else(std::env::temp_dir))?;
    let mut rows = Vec::new();
    let kib = args.entry_bytes as f64 / 1024.0;
    eprintln!(
        "causeway-loadgen: {} entries of {} bytes; server {}",
        args.entries,
        args.entry_bytes,
        bin.display()
    );

    // 1. Raw RocksDB, the storage limit.
    eprintln!("[1/6] raw RocksDB synced batches ...");
    let raw_batched = rocksdb_baseline(
        &tmp.path().join("raw1"),
        args.entries,
        args.batch,
        args.entry_bytes,
        args.clients,
    )?;
    let raw_batched_rate = rate(args.entries, raw_batched);
    eprintln!("[2/6] raw RocksDB synced single writes ...");
    let raw_single = rocksdb_baseline(
        &tmp.path().join("raw2"),
        args.single_entries,
        1,
        args.entry_bytes,
        args.single_clients,
    )?;
    let raw_single_rate = rate(args.single_entries, raw_single);

    // 2. The server, batched.
    let server = start_server(&bin, &tmp.path().join("log"), &args.server_args)?;
    eprintln!(
        "[3/6] batched append: {} clients × {} entries per call ...",
        args.clients, args.batch
    );
    let (took, hist) = append(
        &server.url,
        args.entries,
        0,
        args.batch,
        args.clients,
        args.entry_bytes,
    )
    .await?;
    let ours = rate(args.entries, took);
    rows.push(row(
        format!(
            "durable append, batched ({} clients × {} × {kib:.0} KiB), records/s",
            args.clients, args.batch
        ),
        fmt_rate(ours),
        format!("raw RocksDB synced batches: {}", fmt_rate(raw_batched_rate)),
        Some(ours / raw_batched_rate),
    ));
    rows.push(row(
        "  ack latency per call p50 / p99",
        format!("{} / {}", us(&hist, 0.5), us(&hist, 0.99)),
        "",
        None,
    ));
    let rss_at_entries = rss_mib(server.child.id());

    // 3. Proofs at this size.
    let size = args.entries;
    eprintln!(
        "[4/6] {} inclusion proofs at size {size} over gRPC ...",
        args.proofs
    );
    let indices: Vec<u64> = {
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        (0..args.proofs).map(|_| rng.gen_range(0..size)).collect()
    };
    let started = Instant::now();
    let chunk = indices.len().div_ceil(args.proof_clients);
    let mut tasks = Vec::new();
    for part in indices.chunks(chunk).map(<[u64]>::to_vec) {
        let url = server.url.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = connect(&url).await?;
            let mut server_side = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut end_to_end = Histogram::<u64>::new(3)?;
            for index in part {
                use v1::get_inclusion_proof_request::Leaf;
                let t = Instant::now();
                let resp = client
                    .get_inclusion_proof(v1::GetInclusionProofRequest {
                        leaf: Some(Leaf::LeafIndex(index)),
                        tree_size: Some(size),
                    })
                    .await?;
                end_to_end.record(t.elapsed().as_micros() as u64)?;
                let timing = resp
                    .metadata()
                    .get("server-timing")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let ms: f64 = timing
                    .split("dur=")
                    .nth(1)
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(0.0);
                server_side.record(((ms * 1000.0).round() as u64).max(1))?;
            }
            anyhow::Ok((server_side, end_to_end))
        }));
    }
    let mut server_side = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut end_to_end = Histogram::<u64>::new(3)?;
    for t in tasks {
        let (s, e) = t.await??;
        server_side.add(s)?;
        end_to_end.add(e)?;
    }
    let proof_rate = rate(args.proofs, started.elapsed());

    // rs_merkle over the same leaves, producing proofs for the same indices.
    eprintln!("[5/6] rs_merkle: same tree in memory, same proofs ...");
    let leaves: Vec<[u8; 32]> = {
        let mut client = connect(&server.url).await?;
        let mut leaves = Vec::with_capacity(size as usize);
        while (leaves.len() as u64) < size {
            let start = leaves.len() as u64;
            let page = client
                .get_entries(v1::GetEntriesRequest { start, count: 1000 })
                .await?
                .into_inner();
            leaves.extend(page.entries.iter().map(|e| *leaf_hash(&e.data).as_bytes()));
        }
        leaves
    };
    let t = Instant::now();
    let tree = rs_merkle::MerkleTree::<rs_merkle::algorithms::Sha256>::from_leaves(&leaves);
    let build = t.elapsed();
    let mut rs_hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let t = Instant::now();
    for &i in &indices {
        let t1 = Instant::now();
        let p = tree.proof(&[i as usize]);
        std::hint::black_box(&p);
        rs_hist.record((t1.elapsed().as_nanos() as u64 / 1000).max(1))?;
    }
    let rs_rate = rate(args.proofs, t.elapsed());
    drop(tree);
    rows.push(row(
        format!("inclusion proof at {size}, server-side median / p99"),
        format!("{} / {}", us(&server_side, 0.5), us(&server_side, 0.99)),
        format!(
            "rs_merkle in memory: {} / {}",
            us(&rs_hist, 0.5),
            us(&rs_hist, 0.99)
        ),
        Some(
            server_side.value_at_quantile(0.5) as f64
                / rs_hist.value_at_quantile(0.5).max(1) as f64,
        ),
    ));
    rows.push(row(
        format!(
            "inclusion proofs over gRPC ({} clients), proofs/s",
            args.proof_clients
        ),
        fmt_rate(proof_rate),
        format!("rs_merkle, one thread: {}", fmt_rate(rs_rate)),
        Some(proof_rate / rs_rate),
    ));
    rows.push(row(
        "  end-to-end latency p50 / p99",
        format!("{} / {}", us(&end_to_end, 0.5), us(&end_to_end, 0.99)),
        "",
        None,
    ));
    rows.push(row(
        format!("tree of {size} leaves"),
        format!("durable, incremental: {} leaves/s (row 1)", fmt_rate(ours)),
        format!(
            "rs_merkle from_leaves: {} leaves/s",
            fmt_rate(rate(size, build))
        ),
        Some(ours / rate(size, build)),
    ));

    // 4. Single-entry calls.
    eprintln!(
        "[6/6] single-entry calls from {} clients ...",
        args.single_clients
    );
    let (took, hist) = append(
        &server.url,
        args.single_entries,
        size,
        1,
        args.single_clients,
        args.entry_bytes,
    )
    .await?;
    let single = rate(args.single_entries, took);
    rows.push(row(
        format!(
            "durable append, single-entry calls ({} clients), records/s",
            args.single_clients
        ),
        fmt_rate(single),
        format!(
            "raw RocksDB synced single writes, {} threads: {}",
            args.single_clients,
            fmt_rate(raw_single_rate)
        ),
        Some(single / raw_single_rate),
    ));
    rows.push(row(
        "  ack latency p50 / p99",
        format!("{} / {}", us(&hist, 0.5), us(&hist, 0.99)),
        "",
        None,
    ));
    if let Some(rss) = rss_at_entries {
        rows.push(row(
            format!("server RSS at {size} entries"),
            format!("{rss:.0} MiB"),
            "",
            None,
        ));
    }

    // 5. Tiles: causeway's HTTP API, then nginx serving an export of it.
    if args.tile_seconds > 0 {
        eprintln!(
            "[tiles] exporting the tiles of {size}+ entries, then {} s of load on each server ...",
            args.tile_seconds
        );
        let export = tmp.path().join("export");
        let source = causeway_client::tiles::HttpTiles::new(&server.tiles)?;
        causeway_client::tiles::mirror(
            &source,
            &export,
            &causeway_client::verify::LogKeys::Unverified,
            true,
            |_, _, _| {},
        )
        .await?;
        let exported = std::fs::read_to_string(export.join("checkpoint"))?;
        let exported_size: u64 = exported
            .lines()
            .nth(1)
            .context("checkpoint size")?
            .parse()?;
        let paths: Arc<Vec<String>> = Arc::new(
            causeway_tlog::tiles::hash_tiles(exported_size)
                .filter(|t| t.is_full())
                .map(|t| t.path())
                .collect(),
        );
        let (n, took, hist) = tile_load(
            &server.tiles,
            paths.clone(),
            args.tile_clients,
            args.tile_seconds,
        )
        .await?;
        let ours = rate(n, took);
        let nginx = start_nginx(&args.nginx, &tmp.path().join("nginx"), &export)?;
        let (n2, took2, hist2) = tile_load(
            &nginx.url,
            paths.clone(),
            args.tile_clients,
            args.tile_seconds,
        )
        .await?;
        drop(nginx);
        let theirs = rate(n2, took2);
        rows.push(row(
            format!(
                "full hash tiles (8 KiB) over HTTP, {} clients, requests/s",
                args.tile_clients
            ),
            fmt_rate(ours),
            format!("nginx serving the exported tiles: {}", fmt_rate(theirs)),
            Some(ours / theirs),
        ));
        rows.push(row(
            "  tile latency p50 / p99",
            format!("{} / {}", us(&hist, 0.5), us(&hist, 0.99)),
            format!("nginx: {} / {}", us(&hist2, 0.5), us(&hist2, 0.99)),
            None,
        ));
    }

    // 5. Restart after kill -9: start-up must not depend on the log size.
    let pid_size = size + args.single_entries;
    server.kill9();
    let t = Instant::now();
    let server = start_server(&bin, &tmp.path().join("log"), &args.server_args)?;
    let restart_big = t.elapsed();
    let empty_dir = tmp.path().join("empty");
    let empty = start_server(&bin, &empty_dir, &args.server_args)?;
    empty.kill9();
    let t = Instant::now();
    let empty = start_server(&bin, &empty_dir, &args.server_args)?;
    let restart_empty = t.elapsed();
    drop(empty);
    rows.push(row(
        format!("restart after kill -9 at {pid_size} entries, until serving"),
        format!("{} ms", restart_big.as_millis()),
        format!("same for an empty log: {} ms", restart_empty.as_millis()),
        Some(restart_big.as_secs_f64() / restart_empty.as_secs_f64()),
    ));

    if args.grow_to > 0 {
        let have = size + args.single_entries;
        if args.grow_to > have {
            eprintln!("growing the log to {} entries ...", args.grow_to);
            let (took, _) = append(
                &server.url,
                args.grow_to - have,
                have,
                args.batch,
                args.clients,
                args.entry_bytes,
            )
            .await?;
            rows.push(row(
                format!(
                    "durable append while growing to {}, records/s",
                    args.grow_to
                ),
                fmt_rate(rate(args.grow_to - have, took)),
                "",
                None,
            ));
        }
        if let Some(rss) = rss_mib(server.child.id()) {
            rows.push(row(
                format!("server RSS at {} entries", args.grow_to.max(have)),
                format!("{rss:.0} MiB"),
                "",
                None,
            ));
        }
    }

    println!("| measurement | causeway | baseline (same run) | ratio |");
    println!("|---|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} | {} |", r.what, r.ours, r.baseline, r.ratio);
    }
    Ok(())
}
