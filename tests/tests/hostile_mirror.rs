//! A hostile tile mirror against the real `causeway` CLI. The mirror serves
//! a real log's tiles (exported from a running server), except for one
//! resource, which it answers with a gzip bomb, a body dripped a byte a
//! second, an endless body or a lying Content-Length. The auditor must
//! refuse each quickly, with a message naming the URL and the limit, and
//! without holding more than the format allows in memory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use causeway_client::LogClient;
use causeway_tests::{Server, binary, cli};
use flate2::{Compress, Compression, Crc, FlushCompress};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// How the mirror answers the poisoned path.
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// `Content-Encoding: gzip`, 1 GiB of zeros compressed to about 1 MiB.
    GzipBomb,
    /// A 4 KiB body, one byte a second.
    Drip,
    /// Zeros until the client hangs up (up to 1 GiB), no Content-Length.
    Endless,
    /// `Content-Length: 1 GiB`, then zeros.
    ClaimedLength,
}

/// One MiB of zeros as raw deflate, flushed so the block ends on a byte
/// boundary and refers to nothing before it: the piece can be repeated.
fn deflated_mib() -> &'static [u8] {
    static PIECE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    PIECE.get_or_init(|| {
        let zeros = vec![0u8; 1 << 20];
        let mut c = Compress::new(Compression::best(), false);
        // Room for far more than the output (about 1 KiB), so one call
        // takes all the input and completes the flush.
        let mut out = Vec::with_capacity(1 << 20);
        c.compress_vec(&zeros, &mut out, FlushCompress::Full)
            .expect("deflate");
        assert_eq!(c.total_in(), zeros.len() as u64);
        assert!(out.len() < out.capacity(), "the flush completed");
        out
    })
}

/// A gzip stream of `mib` MiB of zeros, in pieces: header, the repeated
/// piece `mib` times, trailer (final empty block, CRC-32, length). Built by
/// repetition, because compressing 1 GiB in a debug build takes minutes.
fn gzip_bomb(mib: u32) -> (Vec<u8>, &'static [u8], Vec<u8>) {
    let header = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut one = Crc::new();
    one.update(&vec![0u8; 1 << 20]);
    let mut crc = Crc::new();
    for _ in 0..mib {
        crc.combine(&one);
    }
    let mut trailer = Vec::with_capacity(64);
    Compress::new(Compression::best(), false)
        .compress_vec(&[], &mut trailer, FlushCompress::Finish)
        .expect("deflate");
    trailer.extend_from_slice(&crc.sum().to_le_bytes());
    trailer.extend_from_slice(&crc.amount().to_le_bytes());
    (header, deflated_mib(), trailer)
}

#[test]
fn the_gzip_bomb_is_a_valid_gzip_stream() {
    // The bomb is built by hand; check its construction on a small one, so
    // the bomb test cannot pass because the stream is merely corrupt.
    use std::io::Read as _;
    let (header, piece, trailer) = gzip_bomb(3);
    let mut stream = header;
    for _ in 0..3 {
        stream.extend_from_slice(piece);
    }
    stream.extend_from_slice(&trailer);
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&stream[..])
        .read_to_end(&mut out)
        .expect("a valid gzip stream");
    assert_eq!(out.len(), 3 << 20);
    assert!(out.iter().all(|&b| b == 0));
    // 1 GiB compresses to about 1 MiB.
    let ratio = (1usize << 20) / piece.len();
    assert!(ratio > 500, "ratio {ratio}");
}

/// A mirror on 127.0.0.1 serving the files under `root`, except `poisoned`.
async fn hostile_mirror(root: PathBuf, poisoned: &'static str, answer: Answer) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let root = root.clone();
            // A client hanging up mid-answer is the expected outcome.
            tokio::spawn(async move {
                let _ = answer_one(sock, &root, poisoned, answer).await;
            });
        }
    });
    url
}

/// Answers one request (HTTP/1.1, then closes).
async fn answer_one(
    mut sock: TcpStream,
    root: &Path,
    poisoned: &str,
    answer: Answer,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut buf).await?;
        if n == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_owned();
    let zeros = vec![0u8; 64 * 1024];
    if path == poisoned {
        match answer {
            Answer::GzipBomb => {
                sock.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n",
                )
                .await?;
                let (header, piece, trailer) = gzip_bomb(1024);
                sock.write_all(&header).await?;
                for _ in 0..1024 {
                    sock.write_all(piece).await?;
                }
                sock.write_all(&trailer).await?;
            }
            Answer::Drip => {
                sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n")
                    .await?;
                for _ in 0..4096 {
                    sock.write_all(b"x").await?;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            Answer::Endless | Answer::ClaimedLength => {
                let length = if matches!(answer, Answer::ClaimedLength) {
                    format!("Content-Length: {}\r\n", 1u64 << 30)
                } else {
                    String::new()
                };
                sock.write_all(
                    format!("HTTP/1.1 200 OK\r\n{length}Connection: close\r\n\r\n").as_bytes(),
                )
                .await?;
                for _ in 0..(1 << 30) / zeros.len() {
                    sock.write_all(&zeros).await?;
                }
            }
        }
        return Ok(());
    }
    let file = if path.contains("..") {
        None
    } else {
        std::fs::read(root.join(&path)).ok()
    };
    match file {
        Some(body) => {
            sock.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            )
            .await?;
            sock.write_all(&body).await?;
        }
        None => {
            sock.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n",
            )
            .await?;
        }
    }
    sock.shutdown().await
}

/// A real log of 300 entries (a full tile and bundle, partial ones after
/// them), exported to a directory: the honest part of the mirror.
async fn real_log_copy(dir: &Path) -> (PathBuf, Vec<String>) {
    let server = Server::start(&dir.join("log"), &[]);
    let mut client = LogClient::connect(&server.url).await.expect("connect");
    let entries = (0..300)
        .map(|i| format!("{{\"entry\": {i}}}").into_bytes())
        .collect();
    client.add_entries(entries).await.expect("add_entries");
    let copy = dir.join("copy");
    let (ok, _, err) = cli(&[
        "export-tiles",
        "--tiles",
        &server.tiles_url,
        "--out",
        copy.to_str().expect("utf-8 path"),
        "--vkey",
        &server.vkeys[0],
        "--vkey",
        &server.vkeys[1],
    ]);
    assert!(ok, "exporting the honest copy: {err}");
    (copy, server.vkeys.clone())
}

/// What a run of the CLI did.
#[derive(Debug)]
struct Run {
    success: bool,
    stderr: String,
    elapsed: Duration,
    /// The child's peak resident set, KiB, as the kernel counted it.
    peak_rss_kib: i64,
}

/// What the CLI says of a mirror whose first hash tile is over its size.
fn hash_tile_too_big(url: &str) -> String {
    format!(
        "{url}/tile/0/000: the response is over 8192 bytes, the most a hash tile of width 256 (256 hashes of 32 bytes) can be"
    )
}

impl Run {
    /// Asserts the command failed and its stderr says `message`.
    fn assert_refused(&self, message: &str) {
        assert!(!self.success, "succeeded: {}", self.stderr);
        assert!(self.stderr.contains(message), "{}", self.stderr);
    }

    /// Asserts the command gave up within 30 s: the hostile answer did
    /// not hold it until the harness's limit.
    fn assert_prompt(&self) {
        assert!(self.elapsed < Duration::from_secs(30), "{:?}", self.elapsed);
    }
}

/// Reaps `pid` if it has exited: its exit status and peak RSS (KiB).
/// wait4, not Child::try_wait, because only it reports the child's own
/// peak memory (ru_maxrss); polling /proc misses short runs.
fn reap(pid: u32) -> Option<(std::process::ExitStatus, i64)> {
    use std::os::unix::process::ExitStatusExt as _;
    let pid = libc::pid_t::try_from(pid).expect("a pid fits pid_t");
    let mut status = 0;
    // SAFETY: rusage is plain old data, for which zeroes are valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 writes only into the two locals it is given.
    let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
    (reaped == pid).then(|| (std::process::ExitStatus::from_raw(status), usage.ru_maxrss))
}

/// Runs `causeway args…` and measures it; kills it after `limit`.
#[expect(
    clippy::zombie_processes,
    reason = "reap() waits for the child, with wait4"
)]
fn run_watched(args: Vec<String>, limit: Duration) -> Run {
    let err_file = tempfile::NamedTempFile::new().expect("temp file");
    let start = Instant::now();
    let mut child = Command::new(binary("causeway"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(err_file.reopen().expect("reopen"))
        .spawn()
        .expect("running causeway");
    let (status, peak_rss_kib) = loop {
        if let Some(done) = reap(child.id()) {
            break done;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("causeway {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let run = Run {
        success: status.success(),
        stderr: std::fs::read_to_string(err_file.path()).unwrap_or_default(),
        elapsed: start.elapsed(),
        peak_rss_kib,
    };
    eprintln!(
        "causeway {}: {:?}, peak RSS {} KiB, {}",
        args[0], run.elapsed, run.peak_rss_kib, run.stderr
    );
    run
}

/// Starts a mirror over a real log's copy with `poisoned` answered by
/// `answer`, and runs `causeway command --tiles <mirror> --vkey… extra…`.
async fn against_mirror(
    poisoned: &'static str,
    answer: Answer,
    command: &str,
    extra: &[&str],
    limit: Duration,
) -> (Run, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (copy, vkeys) = real_log_copy(dir.path()).await;
    let url = hostile_mirror(copy, poisoned, answer).await;
    let mut args: Vec<String> = vec![command.into(), "--tiles".into(), url.clone()];
    for v in &vkeys {
        args.extend(["--vkey".into(), v.clone()]);
    }
    args.extend(
        extra
            .iter()
            .map(|s| s.replace("{dir}", dir.path().to_str().expect("utf-8"))),
    );
    let run = tokio::task::spawn_blocking(move || run_watched(args, limit))
        .await
        .expect("the watcher thread");
    (run, url, dir)
}

/// The honest copy passes through the same mirror: the failures below are
/// the poisoned resource's doing, not the mirror's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_mirror_verifies() {
    let (run, _, _dir) = against_mirror(
        "nothing-is-poisoned",
        Answer::Endless,
        "verify-tiles",
        &["--entries"],
        Duration::from_secs(60),
    )
    .await;
    assert!(run.success, "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bomb_entry_bundle_is_cut_off_at_the_size_limit() {
    let (run, url, _dir) = against_mirror(
        "tile/entries/000",
        Answer::GzipBomb,
        "verify-tiles",
        &["--entries"],
        Duration::from_secs(120),
    )
    .await;
    run.assert_refused(&format!(
        "{url}/tile/entries/000: the response is over 16777472 bytes, the most an entry bundle of width 256 (256 entries of at most 65537 bytes with their length) can be; stopped reading: the server is broken or hostile, fetch the tiles from another --tiles source"
    ));
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    // Inflating all of it would take 1 GiB; the limit is 16 MiB.
    assert!(
        run.peak_rss_kib < 128 * 1024,
        "peak RSS {} KiB",
        run.peak_rss_kib
    );
    run.assert_prompt();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dripping_checkpoint_times_out_at_the_deadline() {
    let (run, url, _dir) = against_mirror(
        "checkpoint",
        Answer::Drip,
        "verify-tiles",
        &["--http-timeout", "2s"],
        Duration::from_secs(60),
    )
    .await;
    run.assert_refused(&format!(
        "fetching {url}/checkpoint: no complete response within 2 s; the server is too slow or stalls: retry, fetch from another --tiles source, or allow more time with --http-timeout"
    ));
    assert!(
        run.elapsed >= Duration::from_secs(2) && run.elapsed < Duration::from_secs(8),
        "{:?}",
        run.elapsed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_plain_tile_is_refused_at_the_size_limit() {
    let (run, url, dir) = against_mirror(
        "tile/0/000",
        Answer::Endless,
        "export-tiles",
        &["--out", "{dir}/export"],
        Duration::from_secs(60),
    )
    .await;
    run.assert_refused(&hash_tile_too_big(&url));
    assert!(run.peak_rss_kib < 128 * 1024, "{run:?}");
    run.assert_prompt();
    // Nothing half-fetched is published as a mirror.
    assert!(!dir.path().join("export/checkpoint").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_content_length_is_refused_before_the_body() {
    let (run, url, _dir) = against_mirror(
        "tile/0/000",
        Answer::ClaimedLength,
        "verify-tiles",
        &[],
        Duration::from_secs(60),
    )
    .await;
    run.assert_refused(&hash_tile_too_big(&url));
    run.assert_prompt();
}
