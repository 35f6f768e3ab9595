//! The accept loop: TCP connections, at most so many open at once.
//!
//! A [`ConnectionCap`] is a semaphore with one permit per open connection.
//! [`CappedListener::accept`] takes a permit *before* it accepts, so while
//! the cap is reached new connections are not accepted at all: they wait
//! in the kernel's listen backlog (their TCP handshake completes, nothing
//! they send is read yet), and the next one is accepted as soon as an open
//! connection closes. Accepting and closing them at once instead would
//! spend the server's time on a flood and tell honest clients nothing
//! better. The [`time_limits`](crate::time_limits) make sure that open
//! connections do close.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::time_limits::{Guarded, Limits};

/// The connection cap of both binaries when `--max-connections` is not
/// given: many times what producers, readers, logs and monitors need, and
/// far fewer than the file descriptors a process usually has.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How long to pause after a failed accept (e.g. `EMFILE`, out of file
/// descriptors) instead of spinning on it.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// At most one warning per this long that the cap is reached.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The most connections a listener keeps open at once.
#[derive(Clone, Debug)]
pub struct ConnectionCap {
    /// One permit per connection; `None` without a limit.
    permits: Option<Arc<Semaphore>>,
    max: usize,
}

impl ConnectionCap {
    /// At most `max` connections at once; 0 sets no limit.
    pub fn new(max: usize) -> Self {
        ConnectionCap {
            permits: (max > 0).then(|| Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS)))),
            max,
        }
    }

    /// The limit (0: none).
    pub fn max(&self) -> usize {
        self.max
    }

    /// A place for one more connection, unless all are taken.
    pub fn try_take(&self) -> Option<Slot> {
        match &self.permits {
            None => Some(Slot::uncapped()),
            Some(permits) => permits.clone().try_acquire_owned().ok().map(Slot::held),
        }
    }

    /// Waits for a place for one more connection. Cancel-safe.
    pub async fn take(&self) -> Slot {
        match &self.permits {
            None => Slot::uncapped(),
            // The semaphore is never closed, so acquiring cannot fail.
            Some(permits) => Slot {
                _permit: permits.clone().acquire_owned().await.ok(),
            },
        }
    }
}

/// One connection's place under a [`ConnectionCap`], given back when
/// dropped.
#[derive(Debug)]
pub struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Slot {
    /// A place under no cap (for listeners without a limit, and tests).
    pub fn uncapped() -> Self {
        Slot { _permit: None }
    }

    fn held(permit: OwnedSemaphorePermit) -> Self {
        Slot {
            _permit: Some(permit),
        }
    }
}

/// A TCP listener with at most [`ConnectionCap::max`] connections open at
/// once (see the module documentation).
#[derive(Debug)]
pub struct CappedListener {
    inner: TcpListener,
    cap: ConnectionCap,
    warned: Option<Instant>,
}

impl CappedListener {
    /// Caps `inner` at `max_connections` open at once (0: no limit).
    pub fn new(inner: TcpListener, max_connections: usize) -> Self {
        CappedListener {
            inner,
            cap: ConnectionCap::new(max_connections),
            warned: None,
        }
    }

    /// Waits until fewer than the cap are open, then for the next
    /// connection, with `TCP_NODELAY` set (small request/answer exchanges
    /// stall for tens of milliseconds under Nagle's algorithm plus delayed
    /// ACKs). A failed accept is logged and retried after a pause.
    /// Cancel-safe: a connection is never lost, and a place taken for a
    /// connection not yet accepted is given back.
    pub async fn accept(&mut self) -> (TcpStream, SocketAddr, Slot) {
        let slot = match self.cap.try_take() {
            Some(slot) => slot,
            None => {
                if self.warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                    self.warned = Some(Instant::now());
                    tracing::warn!(
                        max = self.cap.max(),
                        addr = ?self.inner.local_addr().ok(),
                        "at the connection limit; new connections wait until one closes"
                    );
                }
                self.cap.take().await
            }
        };
        loop {
            match self.inner.accept().await {
                Ok((tcp, addr)) => {
                    let _ = tcp.set_nodelay(true);
                    return (tcp, addr, slot);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    /// As [`TcpListener::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A [`CappedListener`] whose connections are [`Guarded`] by time limits,
/// for `axum::serve`.
#[derive(Debug)]
pub struct GuardedListener {
    inner: CappedListener,
    limits: Limits,
}

impl GuardedListener {
    /// Holds every connection `inner` accepts to `limits`.
    pub fn new(inner: CappedListener, limits: Limits) -> Self {
        GuardedListener { inner, limits }
    }
}

impl axum::serve::Listener for GuardedListener {
    type Io = Guarded<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (tcp, addr, slot) = self.inner.accept().await;
        (Guarded::new(tcp, self.limits, slot), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn listener(max: usize) -> (CappedListener, SocketAddr) {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        (CappedListener::new(tcp, max), addr)
    }

    const WAIT: Duration = Duration::from_millis(300);

    #[tokio::test]
    async fn past_the_cap_the_next_connection_waits_until_one_closes() {
        let (mut listener, addr) = listener(2).await;
        let _c1 = TcpStream::connect(addr).await.unwrap();
        let _c2 = TcpStream::connect(addr).await.unwrap();
        let _c3 = TcpStream::connect(addr).await.unwrap();
        let (_, _, first) = listener.accept().await;
        let (_, _, second) = listener.accept().await;
        // The third is connected (the kernel's backlog) but not accepted.
        assert!(tokio::time::timeout(WAIT, listener.accept()).await.is_err());
        drop(first);
        let third = tokio::time::timeout(WAIT, listener.accept()).await;
        assert!(third.is_ok(), "a closed connection frees a place");
        drop(second);
    }

    #[tokio::test]
    async fn zero_sets_no_limit() {
        let (mut listener, addr) = listener(0).await;
        let mut held = Vec::new();
        let mut clients = Vec::new();
        for _ in 0..20 {
            clients.push(TcpStream::connect(addr).await.unwrap());
            held.push(listener.accept().await);
        }
        assert_eq!(held.len(), 20);
    }

    #[test]
    fn slots_are_given_back_when_dropped() {
        let cap = ConnectionCap::new(1);
        let slot = cap.try_take().expect("one place");
        assert!(cap.try_take().is_none());
        drop(slot);
        assert!(cap.try_take().is_some());
    }
}
