//! The gRPC listener's memory budget (issue 16 §4): unfinished requests
//! must not grow the server without bound.
//!
//! The attack: unauthenticated (client certificates are checked only once
//! a request is decoded), HTTP/2 streams that each announce a 15 MB
//! `AddEntries` in the gRPC length prefix, send all of it but the last
//! byte, and keep the connection alive by answering pings. Before the
//! budget, 80 such streams grew the server from 25 MB to 1.2 GB and held
//! it there. Each test replays it with a raw HTTP/2 client (the `h2`
//! crate; tonic's client always finishes its requests) against the real
//! server and reads the server's memory use from /proc.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use causeway_client::LogClient;
use causeway_tests::Server;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

const ADD: &str = "/causeway.v1.Log/AddEntries";
/// What each attacking stream announces: under the default
/// --max-request-bytes (16 MiB), so tonic does not refuse it up front.
const ANNOUNCED: usize = 15_000_000;
const MIB: u64 = 1 << 20;

/// `VmRSS` and `VmHWM` (peak) of a process, in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn addr_of(url: &str) -> String {
    url.trim_start_matches("http://").to_owned()
}

/// An HTTP/2 connection; its task answers pings (and everything else the
/// server sends) for as long as the connection lives.
async fn connect(addr: &str) -> Result<h2::client::SendRequest<Bytes>, h2::Error> {
    let tcp = TcpStream::connect(addr).await.expect("TCP connect");
    let (send, connection) = h2::client::handshake(tcp).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    send.ready().await
}

/// How a stream ended, as far as the client saw.
#[derive(Debug)]
enum Outcome {
    /// The server answered: grpc-status and grpc-message.
    Status(u32, String),
    /// The server reset the stream or the connection without an answer.
    Reset(String),
}

/// Decodes a grpc-message (percent-encoded, gRPC's convention).
fn grpc_message(raw: &[u8]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%'
            && let Some(b) = raw
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(headers: &http::HeaderMap) -> Option<(u32, String)> {
    let code = headers.get("grpc-status")?.to_str().ok()?.parse().ok()?;
    let message = headers
        .get("grpc-message")
        .map(|m| grpc_message(m.as_bytes()))
        .unwrap_or_default();
    Some((code, message))
}

/// Opens an `AddEntries` stream announcing `announced` bytes and sends the
/// first `send` bytes of the message (prefix included), then keeps it
/// open. The task ends with what the server answered.
async fn partial_request(
    send: &mut h2::client::SendRequest<Bytes>,
    announced: usize,
    send_bytes: usize,
) -> JoinHandle<Outcome> {
    let mut ready = send.clone().ready().await.expect("stream capacity");
    let request = http::Request::post(format!("http://causeway{ADD}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("request");
    let (response, mut stream) = ready.send_request(request, false).expect("send_request");
    let mut body = Vec::with_capacity(send_bytes);
    body.push(0);
    body.extend_from_slice(&u32::try_from(announced).expect("u32").to_be_bytes());
    body.resize(send_bytes, 0);
    let mut rest = Bytes::from(body);
    tokio::spawn(async move {
        // Send as fast as flow control lets us; a refusal resets the stream
        // and ends this loop. The stream stays open afterwards (dropping a
        // SendStream does not end it).
        let sending = async {
            while !rest.is_empty() {
                stream.reserve_capacity(rest.len());
                match std::future::poll_fn(|cx| stream.poll_capacity(cx)).await {
                    Some(Ok(n)) if n > 0 => {
                        let chunk = rest.split_to(n.min(rest.len()));
                        if stream.send_data(chunk, false).is_err() {
                            break;
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                }
            }
            std::future::pending::<()>().await
        };
        let answered = async {
            match response.await {
                Ok(r) => match status_of(r.headers()) {
                    Some((code, message)) => Outcome::Status(code, message),
                    None => {
                        let mut body = r.into_body();
                        while let Some(Ok(_)) = body.data().await {}
                        match body.trailers().await {
                            Ok(Some(t)) => status_of(&t)
                                .map(|(c, m)| Outcome::Status(c, m))
                                .unwrap_or(Outcome::Reset("no grpc-status".into())),
                            other => Outcome::Reset(format!("{other:?}")),
                        }
                    }
                },
                Err(e) => Outcome::Reset(e.to_string()),
            }
        };
        tokio::select! {
            () = sending => unreachable!(),
            outcome = answered => outcome,
        }
    })
}

/// `n` attacking streams spread over `connections` connections; returns
/// the connections (keep them to keep the attack alive) and the streams.
async fn attack(
    addr: &str,
    connections: usize,
    n: usize,
) -> (
    Vec<h2::client::SendRequest<Bytes>>,
    Vec<JoinHandle<Outcome>>,
) {
    let mut conns = Vec::new();
    for _ in 0..connections {
        conns.push(connect(addr).await.expect("h2 handshake"));
    }
    let mut streams = Vec::new();
    for i in 0..n {
        let c = &mut conns[i % connections];
        streams.push(partial_request(c, ANNOUNCED, ANNOUNCED + 5 - 1).await);
    }
    (conns, streams)
}

/// The server's peak memory while `during` runs: the largest `VmRSS`
/// sampled every 100 ms, or `VmHWM` (the kernel's own peak) if larger.
async fn peak_while<T>(pid: u32, during: impl std::future::Future<Output = T>) -> (T, u64) {
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(memory(pid).0, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let out = during.await;
    sampler.abort();
    let (rss, hwm) = memory(pid);
    (out, peak.load(Ordering::Relaxed).max(rss).max(hwm))
}

async fn honest_writes(url: &str, tag: &str, n: usize) -> Vec<Duration> {
    let mut client = LogClient::connect(url).await.expect("honest connect");
    let mut took = Vec::new();
    for i in 0..n {
        let started = Instant::now();
        client
            .add_entries(vec![format!("honest {tag} {i}").into_bytes()])
            .await
            .unwrap_or_else(|e| panic!("an honest write failed during the attack: {e}"));
        took.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    took
}

/// The attack of issue 16 §4, against a server with a 64 MiB budget
/// (16 MiB per connection, the default --max-request-bytes plus framing):
/// 80 streams over three connections, each announcing 15 MB and sending
/// all but the last byte. The server's peak memory stays under the budget
/// plus 100 MiB; streams past a connection's share get RESOURCE_EXHAUSTED
/// naming --max-inflight-bytes; honest writers on their own connection
/// are served throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grpc_partial_bodies_stay_within_the_memory_budget() {
    const BUDGET: u64 = 64 * MIB;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("log"),
        &["--max-inflight-bytes", &BUDGET.to_string()],
    );
    let pid = server.pid();
    let addr = addr_of(&server.url);
    let (before, _) = memory(pid);

    let ((conns, streams, took), peak) = peak_while(pid, async {
        let (conns, streams) = attack(&addr, 3, 80).await;
        // Let the attack's data arrive, then write honestly beside it.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let took = honest_writes(&server.url, "beside the attack", 10).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        (conns, streams, took)
    })
    .await;
    eprintln!(
        "server memory: {} MiB before the attack, peak {} MiB during it (budget {} MiB)",
        before / MIB,
        peak / MIB,
        BUDGET / MIB
    );
    assert!(
        peak < BUDGET + 100 * MIB,
        "the server grew to {} MiB under the attack (budget {} MiB)",
        peak / MIB,
        BUDGET / MIB
    );
    let slowest = took.iter().max().copied().unwrap_or_default();
    assert!(
        slowest < Duration::from_secs(3),
        "an honest write took {slowest:?} during the attack"
    );

    // Every attacking stream was refused for the budget, or is still
    // waiting (the few that fit in their connection's share, until
    // --request-body-timeout).
    let (mut refused, mut waiting) = (0, 0);
    for s in streams {
        if !s.is_finished() {
            waiting += 1;
            s.abort();
            continue;
        }
        match s.await.expect("stream task") {
            Outcome::Status(8, message) => {
                assert!(
                    message.starts_with("this connection's unfinished requests already hold ")
                        && message.ends_with(&format!(
                            "its share of the server's memory budget for requests in flight \
                             (--max-inflight-bytes {BUDGET}); wait for answers before sending \
                             more on one connection"
                        )),
                    "{message}"
                );
                refused += 1;
            }
            Outcome::Reset(e) => panic!("an attacking stream was reset without an answer: {e}"),
            other => panic!("an attacking stream ended with {other:?}"),
        }
    }
    eprintln!("{refused} attacking streams refused, {waiting} still waiting");
    // A connection's share (16 MiB) holds one complete 15 MB body, never
    // two: the last stream standing on each connection keeps its share.
    assert_eq!(
        (refused, waiting),
        (77, 3),
        "one stream per connection fits in its share"
    );
    drop(conns);
}

/// Stalled request bodies: over the server-wide budget a new one is
/// refused with RESOURCE_EXHAUSTED naming --max-inflight-bytes; after
/// --request-body-timeout each stalled one is answered DEADLINE_EXCEEDED
/// naming that flag, and its bytes are free again for the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grpc_stalled_request_bodies_are_cut_off_and_release_their_bytes() {
    // 4 MiB: shares of 1 MiB + 5 bytes (a --max-request-bytes request).
    const BUDGET: usize = 4 << 20;
    const REQUEST: usize = 1 << 20;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("log"),
        &[
            "--max-inflight-bytes",
            &BUDGET.to_string(),
            "--max-request-bytes",
            &REQUEST.to_string(),
            "--request-body-timeout",
            "4s",
        ],
    );
    let addr = addr_of(&server.url);
    let started = Instant::now();
    // Four connections, each holding 1 MiB of a request it never finishes:
    // the budget is used up.
    let mut conns = Vec::new();
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let mut c = connect(&addr).await.expect("h2 handshake");
        stalled.push(partial_request(&mut c, REQUEST, REQUEST).await);
        conns.push(c);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        stalled.iter().all(|s| !s.is_finished()),
        "the stalled requests fit in the budget"
    );
    let mut fifth = connect(&addr).await.expect("h2 handshake");
    let over = partial_request(&mut fifth, 1000, 1000).await;
    match tokio::time::timeout(Duration::from_secs(2), over).await {
        Ok(Ok(Outcome::Status(8, message))) => assert_eq!(
            message,
            format!(
                "the server's memory budget for requests in flight is used up \
                 (--max-inflight-bytes {BUDGET}); retry shortly"
            )
        ),
        other => panic!("a request over the used-up budget got {other:?}"),
    }

    for s in stalled {
        let outcome = tokio::time::timeout(Duration::from_secs(10), s)
            .await
            .expect("the stalled request is answered");
        match outcome.expect("stream task") {
            Outcome::Status(4, message) => assert_eq!(
                message,
                "the request did not arrive completely within 4s (--request-body-timeout); \
                 send each request without pausing"
            ),
            other => panic!("a stalled request got {other:?}"),
        }
    }
    let cut_off = started.elapsed();
    assert!(
        cut_off >= Duration::from_secs(4) && cut_off < Duration::from_secs(9),
        "stalled requests cut off after {cut_off:?} (--request-body-timeout 4s)"
    );
    // The bytes are released: a complete request of the largest size is
    // accepted on one of the same connections.
    let mut client = LogClient::connect(&server.url).await.expect("connect");
    client
        .add_entries(vec![vec![7u8; 60_000]; 16])
        .await
        .expect("after the deadline the budget is free again");
    drop(conns);
}

/// Connections per client address: past --max-connections-per-ip a new
/// one gets an HTTP/2 GOAWAY (ENHANCE_YOUR_CALM) saying why, and closing
/// one lets the next in. Accepted connections advertise
/// --max-concurrent-streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_connections_per_ip_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("log"),
        &[
            "--max-connections-per-ip",
            "4",
            "--max-concurrent-streams",
            "16",
        ],
    );
    let addr = addr_of(&server.url);
    let mut open = Vec::new();
    for _ in 0..4 {
        let c = connect(&addr).await.expect("under the cap");
        open.push(c);
    }
    // The server's SETTINGS have arrived by now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for c in &open {
        assert_eq!(
            c.current_max_send_streams(),
            16,
            "SETTINGS_MAX_CONCURRENT_STREAMS"
        );
    }
    let tcp = TcpStream::connect(&addr).await.expect("TCP connect");
    let (_send, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    let refused = tokio::time::timeout(Duration::from_secs(5), connection)
        .await
        .expect("the server closes the fifth connection")
        .expect_err("the fifth connection is refused");
    assert_eq!(
        refused.reason(),
        Some(h2::Reason::ENHANCE_YOUR_CALM),
        "{refused}"
    );
    assert!(refused.is_go_away() && refused.is_remote(), "{refused}");
    assert!(
        refused.to_string().contains(
            "too many connections from 127.0.0.1: at most 4 at once \
             (--max-connections-per-ip); reuse an open connection"
        ),
        "{refused}"
    );
    // An honest client over the cap is refused too; it gets in once a
    // connection closes.
    let over = match LogClient::connect(&server.url).await {
        Ok(mut c) => c
            .add_entries(vec![b"over the cap".to_vec()])
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    eprintln!("an honest client over the cap: {over:?}");
    assert!(over.is_err(), "a fifth connection was served");
    drop(open.pop());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut c = LogClient::connect(&server.url).await.expect("connect");
    c.add_entries(vec![b"one connection closed".to_vec()])
        .await
        .expect("under the cap again");
}

/// By hand, to see the attack's effect on any build (e.g. one from before
/// the budget, copied to target/debug/causeway-server): the full attack
/// against a server with default flags, printing its memory.
/// `cargo test -p causeway-tests --test memory_budget -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement, not a check"]
async fn measure_the_attack_on_default_flags() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("log"), &[]);
    let pid = server.pid();
    let (before, _) = memory(pid);
    let ((_conns, streams), peak) = peak_while(pid, async {
        let attacked = attack(&addr_of(&server.url), 3, 80).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        attacked
    })
    .await;
    let (rss, _) = memory(pid);
    let answered = streams.iter().filter(|s| s.is_finished()).count();
    eprintln!(
        "VmRSS before {} MiB; peak {} MiB; after 10 s {} MiB; {answered} of 80 streams answered",
        before / MIB,
        peak / MIB,
        rss / MIB
    );
}

/// Over TLS the cap counts connections before their handshake, and a
/// refused one is closed after it (with the same GOAWAY): a second client
/// over --max-connections-per-ip 1 fails, and gets in once the first is
/// gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_connections_per_ip_are_capped_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = causeway_tests::Pki::new(dir.path(), "server-ca");
    let (cert, key) = pki.issue("server", true);
    let server = Server::start(
        &dir.path().join("log"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--max-connections-per-ip",
            "1",
        ],
    );
    let mut first = LogClient::connect_with(&server.url, &pki.settings(None))
        .await
        .expect("the first connection");
    first
        .add_entries(vec![b"first".to_vec()])
        .await
        .expect("under the cap");
    let second = match LogClient::connect_with(&server.url, &pki.settings(None)).await {
        Ok(mut c) => c.add_entries(vec![b"second".to_vec()]).await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(
        second.is_err(),
        "a second connection over the cap was served"
    );
    drop(first);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut again = LogClient::connect_with(&server.url, &pki.settings(None))
        .await
        .expect("connect after the first closed");
    again
        .add_entries(vec![b"after".to_vec()])
        .await
        .expect("under the cap again");
}
