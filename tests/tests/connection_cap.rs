//! `--max-connections` on the real binaries: with the cap's connections
//! open, one more is not served (it waits in the listen backlog, unread),
//! and once one of them closes it is answered, and so are new honest
//! requests. Checked on the log's tile API and gRPC listeners and on the
//! witness's HTTP listener.
//!
//! The connections holding the places send nothing, as a slow-loris
//! client would; the binaries' time limits (30 s per HTTP request, 10 s
//! for the HTTP/2 preface) would close them eventually, far later than
//! this test waits.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use causeway_client::LogClient;
use causeway_tests::{Server, Witness, init_log};

/// The cap the binaries run with here.
const CAP: usize = 4;
/// How long a connection over the cap is watched for an answer that must
/// not come.
const UNANSWERED_FOR: Duration = Duration::from_millis(1500);
/// How long an answer may take once a place is free.
const ANSWERED_WITHIN: Duration = Duration::from_secs(10);

fn addr_of(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

/// Opens `CAP` connections that send nothing, taking every place.
fn take_every_place(addr: &str) -> Vec<TcpStream> {
    (0..CAP)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect()
}

/// Sends `GET path` on a new connection (closed after the answer).
fn send_get(addr: &str, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    stream
}

/// The status line of the answer on `stream`, if one arrives within
/// `limit`.
fn status_within(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(2).any(|w| w == b"\r\n") {
        let left = deadline.checked_duration_since(Instant::now())?;
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("read timeout");
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None;
            }
            Err(e) => panic!("reading the answer: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&got);
    text.lines().next().map(str::to_owned)
}

/// The cap on an HTTP listener at `addr`, whose `path` answers 200.
fn http_cap_holds_one_more_until_a_place_is_free(what: &str, addr: &str, path: &str) {
    // The listener serves while there is room.
    let mut before = send_get(addr, path);
    let status = status_within(&mut before, ANSWERED_WITHIN);
    assert_eq!(status.as_deref(), Some("HTTP/1.1 200 OK"), "{what}");
    drop(before);

    let mut held = take_every_place(addr);
    let mut over = send_get(addr, path);
    assert_eq!(
        status_within(&mut over, UNANSWERED_FOR),
        None,
        "{what}: a connection over --max-connections {CAP} was served"
    );
    // One of them closes: the waiting request is served.
    drop(held.pop());
    let status = status_within(&mut over, ANSWERED_WITHIN);
    assert_eq!(
        status.as_deref(),
        Some("HTTP/1.1 200 OK"),
        "{what}: the waiting request once a place came free"
    );
    drop(over);
    // And honest requests keep being served.
    for _ in 0..3 {
        let mut next = send_get(addr, path);
        let status = status_within(&mut next, ANSWERED_WITHIN);
        assert_eq!(
            status.as_deref(),
            Some("HTTP/1.1 200 OK"),
            "{what}: afterwards"
        );
    }
    drop(held);
}

#[test]
fn the_tile_api_holds_connections_over_the_cap_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("log"),
        &["--max-connections", &CAP.to_string()],
    );
    http_cap_holds_one_more_until_a_place_is_free(
        "tile API",
        &addr_of(&server.tiles_url),
        "/checkpoint",
    );
}

#[test]
fn the_witness_holds_connections_over_the_cap_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let logs = init_log(&dir.path().join("log"), "cap.test/log");
    let witness = Witness::start_with(
        &dir.path().join("witness"),
        "cap.test/witness",
        &logs,
        "127.0.0.1:0",
        &["--max-connections", &CAP.to_string()],
    );
    http_cap_holds_one_more_until_a_place_is_free("witness", &addr_of(&witness.url), "/logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grpc_listener_holds_connections_over_the_cap_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("log"),
        &["--max-connections", &CAP.to_string()],
    );
    let addr = addr_of(&server.url);
    let mut held = take_every_place(&addr);
    let url = server.url.clone();
    let call = tokio::spawn(async move {
        let mut client = LogClient::connect(&url).await?;
        client.checkpoint(None).await
    });
    tokio::time::sleep(UNANSWERED_FOR).await;
    assert!(
        !call.is_finished(),
        "a gRPC connection over --max-connections {CAP} was served: {:?}",
        call.await
    );
    drop(held.pop());
    let answer = tokio::time::timeout(ANSWERED_WITHIN, call)
        .await
        .expect("served once a place came free")
        .expect("the call's task");
    let checkpoint = answer.expect("the checkpoint");
    assert!(
        checkpoint.starts_with("test.causeway/log\n"),
        "{checkpoint}"
    );
    // And new clients keep being served.
    let mut client = LogClient::connect(&server.url).await.expect("connect");
    client.checkpoint(None).await.expect("the checkpoint");
    drop(held);
}
