//! The I/O the Causeway server and witness share.
//!
//! Both binaries accept TCP connections from anybody, hold them to time
//! limits, stop on SIGTERM, write files that must survive a crash and log
//! to stderr. This crate holds that code once. It does not know the log's
//! formats and does not depend on tonic: only on tokio, axum's listener
//! trait and `tracing`, so that the witness stays free of tonic and the
//! format crates.
//!
//! # Layout
//!
//! * [`accept`]: the accept loop, with at most so many connections open at
//!   once (a semaphore); connections beyond wait in the listen backlog.
//! * [`per_ip`]: counting open connections per client address, for a
//!   per-address cap.
//! * [`time_limits`]: time limits on what a client sends (slow loris).
//! * [`shutdown`]: SIGTERM and SIGINT.
//! * [`files`]: atomic replacement, new files with a mode (0600 for keys),
//!   directory fsync.
//! * [`logging`]: the stderr `tracing` layer, text or JSON.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod accept;
pub mod files;
pub mod logging;
pub mod per_ip;
pub mod shutdown;
pub mod time_limits;

pub use accept::{CappedListener, ConnectionCap, DEFAULT_MAX_CONNECTIONS, GuardedListener, Slot};
pub use time_limits::{Guarded, Limits};
