//! Time limits on client connections, so that slow or silent clients
//! (slow loris) cannot hold connections, and with them file descriptors
//! and shutdown, forever.
//!
//! `axum::serve` gives hyper no timer, which silently disables hyper's own
//! header-read timeout. [`GuardedListener`] wraps every accepted
//! connection in [`Guarded`] instead, which enforces two limits on the
//! bytes themselves:
//!
//! * a request, from its first byte (or from the accept) until the server
//!   starts answering, must not take longer than [`Timeouts::request`];
//!   bytes trickling in do not extend it;
//! * a kept-alive connection may stay silent after an answer for
//!   [`Timeouts::idle`].
//!
//! A connection over either limit fails its next read with
//! [`std::io::ErrorKind::TimedOut`], and hyper closes it.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

/// The limits [`Guarded`] enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// From a request's first byte until the answer starts.
    pub request: Duration,
    /// From the end of an answer until the next request's first byte.
    pub idle: Duration,
}

impl Default for Timeouts {
    /// 30 s per request (hyper's default header timeout; a witness request
    /// is at most 1 MiB and is answered in milliseconds) and 2 minutes of
    /// keep-alive, longer than HTTP clients' usual 90 s pool idle timeout
    /// so that clients, not the witness, close idle connections.
    fn default() -> Self {
        Timeouts {
            request: Duration::from_secs(30),
            idle: Duration::from_secs(120),
        }
    }
}

/// Where a connection is in its request/answer cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for (the rest of) a request.
    Request,
    /// Answered; waiting for the next request.
    Idle,
}

/// A connection with [`Timeouts`]: see the module documentation.
#[derive(Debug)]
pub struct Guarded<Io> {
    io: Io,
    timeouts: Timeouts,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
}

impl<Io> Guarded<Io> {
    /// Wraps a just-accepted connection: its first request is due within
    /// `timeouts.request`.
    pub fn new(io: Io, timeouts: Timeouts) -> Self {
        Guarded {
            io,
            timeouts,
            phase: Phase::Request,
            deadline: Box::pin(tokio::time::sleep(timeouts.request)),
        }
    }

    fn enter(&mut self, phase: Phase) {
        let limit = match phase {
            Phase::Request => self.timeouts.request,
            Phase::Idle => self.timeouts.idle,
        };
        self.phase = phase;
        self.deadline.as_mut().reset(Instant::now() + limit);
    }

    fn wrote(&mut self, n: usize) {
        // The server is answering: the request is complete, and the
        // keep-alive clock starts (again) with every byte sent.
        if n > 0 {
            self.enter(Phase::Idle);
        }
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for Guarded<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && this.phase == Phase::Idle {
                    this.enter(Phase::Request);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    match this.phase {
                        Phase::Request => "the request did not arrive in time",
                        Phase::Idle => "the connection was idle too long",
                    },
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Guarded<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            this.wrote(n);
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = written {
            this.wrote(n);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A TCP listener whose connections are [`Guarded`].
#[derive(Debug)]
pub struct GuardedListener {
    inner: TcpListener,
    timeouts: Timeouts,
}

impl GuardedListener {
    /// Guards every connection `inner` accepts with `timeouts`.
    pub fn new(inner: TcpListener, timeouts: Timeouts) -> Self {
        GuardedListener { inner, timeouts }
    }
}

impl axum::serve::Listener for GuardedListener {
    type Io = Guarded<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        (Guarded::new(io, self.timeouts), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    // Short limits in real time: the workspace's tokio has no paused clock
    // for tests.
    const LIMITS: Timeouts = Timeouts {
        request: Duration::from_millis(300),
        idle: Duration::from_millis(900),
    };
    const SLACK: Duration = Duration::from_millis(250);

    fn timed_out(r: &io::Result<usize>) -> bool {
        matches!(r, Err(e) if e.kind() == io::ErrorKind::TimedOut)
    }

    fn about(elapsed: Duration, limit: Duration) -> bool {
        elapsed >= limit && elapsed < limit + SLACK
    }

    #[tokio::test]
    async fn a_silent_client_is_dropped_after_the_request_timeout() {
        let (_client, server) = tokio::io::duplex(1024);
        let mut guarded = Guarded::new(server, LIMITS);
        let started = Instant::now();
        let mut buf = [0u8; 16];
        assert!(timed_out(&guarded.read(&mut buf).await));
        assert!(
            about(started.elapsed(), LIMITS.request),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn trickling_bytes_do_not_extend_the_request_timeout() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut guarded = Guarded::new(server, LIMITS);
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
        assert!(
            about(started.elapsed(), LIMITS.request),
            "{:?}",
            started.elapsed()
        );
        dribble.abort();
    }

    #[tokio::test]
    async fn an_answer_starts_the_idle_clock_and_the_next_request_a_new_one() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut guarded = Guarded::new(server, LIMITS);
        let mut buf = [0u8; 16];
        // A request just inside the limit, answered: the connection idles.
        tokio::time::sleep(LIMITS.request - Duration::from_millis(100)).await;
        client.write_all(b"GET").await.unwrap();
        assert_eq!(guarded.read(&mut buf).await.unwrap(), 3);
        guarded.write_all(b"200").await.unwrap();
        // Idle for longer than the request limit but within the idle one,
        // then the next request starts.
        let reader = tokio::spawn(async move {
            let got = guarded.read(&mut buf).await;
            (guarded, got)
        });
        tokio::time::sleep(LIMITS.idle - Duration::from_millis(200)).await;
        client.write_all(b"GET").await.unwrap();
        let (mut guarded, got) = reader.await.unwrap();
        assert_eq!(got.unwrap(), 3);
        // The rest of that request never comes: the request limit applies.
        let started = Instant::now();
        assert!(timed_out(&guarded.read(&mut buf).await));
        assert!(
            about(started.elapsed(), LIMITS.request),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn an_idle_connection_is_dropped_after_the_idle_timeout() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut guarded = Guarded::new(server, LIMITS);
        let mut buf = [0u8; 16];
        client.write_all(b"GET").await.unwrap();
        assert_eq!(guarded.read(&mut buf).await.unwrap(), 3);
        guarded.write_all(b"200").await.unwrap();
        let started = Instant::now();
        assert!(timed_out(&guarded.read(&mut buf).await));
        assert!(
            about(started.elapsed(), LIMITS.idle),
            "{:?}",
            started.elapsed()
        );
    }
}
