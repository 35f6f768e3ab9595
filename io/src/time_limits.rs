//! Time limits on what a client sends, so that slow or silent clients
//! (slow loris) cannot hold connections, and with them file descriptors
//! and shutdown, forever.
//!
//! `axum::serve` gives hyper no timer, which silently disables hyper's own
//! header-read timeout, and HTTP/2 servers only start their keep-alive
//! pings once the client's preface has arrived. [`Guarded`] therefore
//! enforces [`Limits`] on the bytes themselves: a connection over its
//! limit fails its next read with [`std::io::ErrorKind::TimedOut`], and
//! the HTTP server on top closes it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::accept::Slot;

/// The length of the HTTP/2 connection preface every HTTP/2 client sends
/// first (RFC 9113, section 3.4).
const H2_PREFACE_LEN: u64 = 24;

/// Time limits on what a client sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limits {
    /// HTTP/1-style exchanges: a request, from its first byte (or the
    /// accept) until the answer starts, may take `request`, however the
    /// bytes trickle in; after an answer the connection may stay silent
    /// for `idle`.
    Exchange {
        /// From a request's first byte until the answer starts.
        request: Duration,
        /// From an answer until the next request's first byte.
        idle: Duration,
    },
    /// HTTP/2 only: the connection preface must arrive within `within`;
    /// after that, the server's HTTP/2 keep-alive pings must drop silent
    /// or stuck clients.
    Preface {
        /// From the accept until the preface is complete.
        within: Duration,
    },
}

impl Limits {
    /// The limits of the HTTP APIs (tiles, witness): 30 s per request
    /// (hyper's usual header timeout; both answer in milliseconds) and 2
    /// minutes idle (longer than HTTP clients' usual 90 s pool timeout, so
    /// that clients, not the server, close idle connections).
    pub const HTTP: Limits = Limits::Exchange {
        request: Duration::from_secs(30),
        idle: Duration::from_secs(120),
    };

    /// The gRPC listener's limit: the HTTP/2 preface within 10 s.
    pub const GRPC: Limits = Limits::Preface {
        within: Duration::from_secs(10),
    };

    fn first_deadline(self) -> Duration {
        match self {
            Limits::Exchange { request, .. } => request,
            Limits::Preface { within } => within,
        }
    }
}

/// Where a connection is with respect to its [`Limits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// A request (or the preface) is due before the deadline.
    Request,
    /// Answered; the next request is due before the (idle) deadline.
    Idle,
    /// Past the preface: no deadline here.
    Open,
}

/// A connection held to [`Limits`] (see the module documentation), and
/// to its place under the listener's connection cap, which it gives back
/// when dropped.
#[derive(Debug)]
pub struct Guarded<Io> {
    io: Io,
    limits: Limits,
    phase: Phase,
    received_bytes: u64,
    deadline: Pin<Box<Sleep>>,
    _slot: Slot,
}

impl<Io> Guarded<Io> {
    /// Wraps a just-accepted connection, which holds `slot`: its first
    /// request (or preface) is due within the first of `limits`.
    pub fn new(io: Io, limits: Limits, slot: Slot) -> Self {
        Guarded {
            io,
            limits,
            phase: Phase::Request,
            received_bytes: 0,
            deadline: Box::pin(tokio::time::sleep(limits.first_deadline())),
            _slot: slot,
        }
    }

    /// The connection itself.
    pub fn get_ref(&self) -> &Io {
        &self.io
    }

    fn enter(&mut self, phase: Phase, within: Duration) {
        self.phase = phase;
        self.deadline.as_mut().reset(Instant::now() + within);
    }

    fn received(&mut self, n: usize) {
        self.received_bytes += n as u64;
        match self.limits {
            Limits::Exchange { request, .. } if n > 0 && self.phase == Phase::Idle => {
                self.enter(Phase::Request, request);
            }
            Limits::Preface { .. } if self.received_bytes >= H2_PREFACE_LEN => {
                self.phase = Phase::Open;
            }
            _ => {}
        }
    }

    fn sent(&mut self, n: usize) {
        // Answering: the request is complete, and the idle clock starts
        // (again) with every byte sent.
        if let Limits::Exchange { idle, .. } = self.limits
            && n > 0
        {
            self.enter(Phase::Idle, idle);
        }
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for Guarded<Io> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.received(buf.filled().len() - before);
                Poll::Ready(Ok(()))
            }
            Poll::Pending if this.phase != Phase::Open => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    match this.phase {
                        Phase::Idle => "the connection was idle too long",
                        _ => "the request did not arrive in time",
                    },
                ))),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Guarded<Io> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            this.sent(n);
        }
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = written {
            this.sent(n);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    // Short limits in real time: the workspace's tokio has no paused clock
    // for tests.
    const LIMITS: Limits = Limits::Exchange {
        request: Duration::from_millis(300),
        idle: Duration::from_millis(900),
    };
    const REQUEST: Duration = Duration::from_millis(300);
    const IDLE: Duration = Duration::from_millis(900);
    const SLACK: Duration = Duration::from_millis(250);

    fn guarded(io: tokio::io::DuplexStream, limits: Limits) -> Guarded<tokio::io::DuplexStream> {
        Guarded::new(io, limits, Slot::uncapped())
    }

    fn timed_out(r: &io::Result<usize>) -> bool {
        matches!(r, Err(e) if e.kind() == io::ErrorKind::TimedOut)
    }

    fn about(elapsed: Duration, limit: Duration) -> bool {
        elapsed >= limit && elapsed < limit + SLACK
    }

    #[tokio::test]
    async fn a_silent_client_is_dropped_after_the_request_timeout() {
        let (_client, server) = tokio::io::duplex(1024);
        let mut guarded = guarded(server, LIMITS);
        let started = Instant::now();
        let mut buf = [0u8; 16];
        assert!(timed_out(&guarded.read(&mut buf).await));
        assert!(about(started.elapsed(), REQUEST), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn trickling_bytes_do_not_extend_the_request_timeout() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut guarded = guarded(server, LIMITS);
        let started = Instant::now();
        let dribble = tokio::spawn(async move {
            while client.write_all(b"x").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let mut buf = [0u8; 16];
        let outcome = loop {
            match guarded.read(&mut buf).await {
                Ok(n) if n > 0 => continue,
                other => break other,
            }
        };
        assert!(timed_out(&outcome), "{outcome:?}");
        assert!(about(started.elapsed(), REQUEST), "{:?}", started.elapsed());
        dribble.abort();
    }

    #[tokio::test]
    async fn an_answer_starts_the_idle_clock_and_the_next_request_a_new_one() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut guarded = guarded(server, LIMITS);
        let mut buf = [0u8; 16];
        // A request just inside the limit, answered: the connection idles.
        tokio::time::sleep(REQUEST - Duration::from_millis(100)).await;
        client.write_all(b"GET").await.unwrap();
        assert_eq!(guarded.read(&mut buf).await.unwrap(), 3);
        guarded.write_all(b"200").await.unwrap();
        // Idle for longer than the request limit but within the idle one,
        // then the next request starts.
        let reader = tokio::spawn(async move {
            let got = guarded.read(&mut buf).await;
            (guarded, got)
        });
        tokio::time::sleep(IDLE - Duration::from_millis(200)).await;
        client.write_all(b"GET").await.unwrap();
        let (mut guarded, got) = reader.await.unwrap();
        assert_eq!(got.unwrap(), 3);
        // The rest of that request never comes: the request limit applies.
        let started = Instant::now();
        assert!(timed_out(&guarded.read(&mut buf).await));
        assert!(about(started.elapsed(), REQUEST), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn an_idle_connection_is_dropped_after_the_idle_timeout() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut guarded = guarded(server, LIMITS);
        let mut buf = [0u8; 16];
        client.write_all(b"GET").await.unwrap();
        assert_eq!(guarded.read(&mut buf).await.unwrap(), 3);
        guarded.write_all(b"200").await.unwrap();
        let started = Instant::now();
        assert!(timed_out(&guarded.read(&mut buf).await));
        assert!(about(started.elapsed(), IDLE), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_partial_preface_times_out_and_a_complete_one_lifts_the_limit() {
        let limits = Limits::Preface { within: REQUEST };
        let mut buf = [0u8; 64];
        // 23 of the preface's 24 bytes: still due.
        let (mut client, server) = tokio::io::duplex(1024);
        let mut partial = guarded(server, limits);
        let started = Instant::now();
        client.write_all(&[b'P'; 23]).await.unwrap();
        assert_eq!(partial.read(&mut buf).await.unwrap(), 23);
        assert!(timed_out(&partial.read(&mut buf).await));
        assert!(about(started.elapsed(), REQUEST), "{:?}", started.elapsed());
        // All of it: silence afterwards is HTTP/2's business.
        let (mut client, server) = tokio::io::duplex(1024);
        let mut complete = guarded(server, limits);
        client.write_all(&[b'P'; 24]).await.unwrap();
        assert_eq!(complete.read(&mut buf).await.unwrap(), 24);
        let silent = tokio::time::timeout(REQUEST + SLACK, complete.read(&mut buf)).await;
        assert!(silent.is_err(), "{silent:?}");
    }
}
