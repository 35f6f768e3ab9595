//! Slow loris: connections that dribble a request byte by byte, or send
//! nothing, must not keep anyone else from being served.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use causeway_client::LogClient;
use causeway_tests::{Server, Witness, init_log};

use crate::raw_http::addr_of;
use crate::witness::FakeLog;
use crate::{Deployment, FAKE_ORIGIN, LOG_ORIGIN, Ledger, Tally, WITNESS_NAME};

/// Opens `n` connections to `addr`: half send `request` one byte every
/// 200 ms, half send nothing. Returns the stop flag and how many the
/// server closed.
pub(crate) fn slow_loris(
    addr: &str,
    request: &'static [u8],
    n: usize,
) -> (
    Arc<AtomicBool>,
    Arc<AtomicUsize>,
    Vec<std::thread::JoinHandle<()>>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let closed = Arc::new(AtomicUsize::new(0));
    let threads = (0..n)
        .map(|i| {
            let (addr, stop, closed) = (addr.to_owned(), stop.clone(), closed.clone());
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(200)))
                    .unwrap();
                let mut at = 0;
                let mut buf = [0u8; 1024];
                while !stop.load(Ordering::Relaxed) {
                    if i % 2 == 0 && at < request.len() {
                        if s.write_all(&request[at..=at]).is_err() {
                            closed.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        at += 1;
                    }
                    match s.read(&mut buf) {
                        Ok(0) => {
                            closed.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        Ok(_) => {}
                        Err(e)
                            if e.kind() == std::io::ErrorKind::WouldBlock
                                || e.kind() == std::io::ErrorKind::TimedOut => {}
                        Err(_) => {
                            closed.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    }
                }
            })
        })
        .collect();
    (stop, closed, threads)
}

pub(crate) const SLOW_H1: &[u8] = b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
pub(crate) const SLOW_H2: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x40\x01\x04\x00\x00\x00\x01";

pub(crate) async fn slow_loris_cases(d: &Deployment, tally: &mut Tally, ledger: &mut Ledger) {
    let grpc = slow_loris(&addr_of(&d.log.url), SLOW_H2, 16);
    let tiles = slow_loris(&addr_of(&d.log.tiles_url), SLOW_H1, 16);
    let witness = slow_loris(&d.witness.addr, SLOW_H1, 16);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let http = reqwest::Client::new();
    for round in 0..8 {
        let t = Instant::now();
        let mut c = LogClient::connect(&d.log.url).await.unwrap();
        let e = format!("during slow loris {round}").into_bytes();
        let r = c.add_entries(vec![e.clone()]).await.unwrap();
        ledger.ack_all(std::slice::from_ref(&e), &r);
        c.entries(0, 10).await.unwrap();
        let grpc_time = t.elapsed();
        let t = Instant::now();
        let cp = http
            .get(format!("{}/checkpoint", d.log.tiles_url))
            .send()
            .await
            .unwrap();
        assert_eq!(cp.status(), 200);
        let tile = http
            .get(format!("{}/tile/0/000", d.log.tiles_url))
            .send()
            .await
            .unwrap();
        assert_eq!(tile.status(), 200);
        let tiles_time = t.elapsed();
        let t = Instant::now();
        let logs = http
            .get(format!("{}/logs", d.witness.url))
            .send()
            .await
            .unwrap();
        assert_eq!(logs.status(), 200);
        let witness_time = t.elapsed();
        for (what, took) in [
            ("gRPC", grpc_time),
            ("tiles", tiles_time),
            ("witness", witness_time),
        ] {
            assert!(
                took < Duration::from_secs(3),
                "{what} took {took:?} with slow-loris connections open"
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for (name, (stop, _closed, threads)) in [
        (
            "slow loris: gRPC keeps serving beside 16 slow HTTP/2 connections",
            grpc,
        ),
        (
            "slow loris: tiles keep serving beside 16 slow HTTP/1.1 connections",
            tiles,
        ),
        (
            "slow loris: witness keeps serving beside 16 slow HTTP/1.1 connections",
            witness,
        ),
    ] {
        stop.store(true, Ordering::Relaxed);
        for th in threads {
            th.join().unwrap();
        }
        tally.pass(name);
    }
}

/// Connections that never finish their request head are dropped within a
/// minute, so an attacker cannot hold file descriptors and tasks forever:
/// the gRPC server wants the HTTP/2 preface within 10 s and closes
/// connections that do not answer keep-alive pings (a stalled HEADERS
/// frame); the tile server and the witness give a request 30 s from its
/// first byte (server/src/tls.rs `Limits`, witness/src/conn.rs).
#[test]
fn slow_loris_connections_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let vkeys = init_log(&log_dir, LOG_ORIGIN);
    let witness = Witness::start(&dir.path().join("w"), WITNESS_NAME, &vkeys, "127.0.0.1:0");
    let server = Server::start(&log_dir, &["--origin", LOG_ORIGIN]);
    let grpc = slow_loris(&addr_of(&server.url), SLOW_H2, 2);
    let tiles = slow_loris(&addr_of(&server.tiles_url), SLOW_H1, 2);
    let wit = slow_loris(&witness.addr, SLOW_H1, 2);
    std::thread::sleep(Duration::from_secs(60));
    let mut open = Vec::new();
    for (what, (stop, closed, threads)) in [("gRPC", grpc), ("tiles", tiles), ("witness", wit)] {
        let dropped = closed.load(Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        if dropped < 2 {
            open.push(format!(
                "{what}: {} of 2 still open after 60 s",
                2 - dropped
            ));
        }
    }
    assert!(open.is_empty(), "{open:?}");
}

/// A client that holds a half-sent request (or never answers the HTTP/2
/// GOAWAY ping) cannot keep the log server from exiting: shutdown gives
/// connections `SHUTDOWN_GRACE` (10 s), as the witness does (see
/// `witness_sigterm_is_not_held_hostage_by_slow_loris`).
#[test]
fn sigterm_is_not_held_hostage_by_slow_loris() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("log"), &[]);
    let grpc = slow_loris(&addr_of(&server.url), SLOW_H2, 2);
    let tiles = slow_loris(&addr_of(&server.tiles_url), SLOW_H1, 2);
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let stopping = std::thread::spawn(move || server.terminate());
    while !stopping.is_finished() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = started.elapsed();
    // Let the server go in any case: close the slow connections.
    for (stop, _, threads) in [grpc, tiles] {
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
    }
    let status = stopping
        .join()
        .expect("the server exits once the connections close");
    assert!(
        took < Duration::from_secs(20),
        "SIGTERM took {took:?} with slow-loris connections open (exit {status:?})"
    );
}

/// The witness gives open connections `SHUTDOWN_GRACE`
/// (10 s) after SIGTERM, then exits: a slow-loris client cannot keep it
/// running.
#[test]
fn witness_sigterm_is_not_held_hostage_by_slow_loris() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeLog::new(FAKE_ORIGIN, 1);
    let witness = Witness::start(
        &dir.path().join("w"),
        WITNESS_NAME,
        &[fake.vkey()],
        "127.0.0.1:0",
    );
    let slow = slow_loris(&witness.addr, SLOW_H1, 4);
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let stopping = std::thread::spawn(move || witness.terminate());
    while !stopping.is_finished() && started.elapsed() < Duration::from_secs(25) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = started.elapsed();
    let (stop, _, threads) = slow;
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let status = stopping.join().expect("the witness exits");
    assert!(status.success(), "{status:?}");
    assert!(
        took < Duration::from_secs(15),
        "SIGTERM took {took:?} with slow-loris connections open"
    );
}
