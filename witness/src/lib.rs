//! A standalone C2SP tlog-witness (<https://c2sp.org/tlog-witness>).
//!
//! A witness is configured with the verifier keys of the logs it trusts.
//! Logs `POST /add-checkpoint` their new signed checkpoints together with a
//! consistency proof from the last checkpoint this witness cosigned; the
//! witness checks the log's signature and the proof, durably remembers the
//! new checkpoint, and answers with its cosignature (c2sp.org/tlog-cosignature).
//! A checkpoint the witness has cosigned is thereby known to be an
//! append-only extension of every earlier one it cosigned for that log.
//!
//! When a correctly signed checkpoint contradicts what the witness has
//! cosigned, the witness keeps both signed notes on disk so an auditor can
//! check them independently. The same size with another root is proof of
//! a split view: only the log's key can sign two such trees. A consistency
//! proof that does not hold is only suspicious: the proof is unsigned, so
//! anybody can send a bad one with a genuine checkpoint. [`evidence`] keeps
//! such floods from filling the disk.
//!
//! # Layout
//!
//! * [`check`]: the pure accept/reject decision of `add-checkpoint`.
//! * [`evidence`]: which evidence is kept and how much: IDs, kept
//!   signatures, the per-log allowance and rate limit.
//! * [`keys`]: the witness's own cosigning key in the data directory.
//! * [`logs`]: the trusted logs, from their verifier keys.
//! * [`state`]: files: atomic writes, the latest cosigned checkpoint per
//!   log, the evidence store.
//! * [`witness`]: the `add-checkpoint` pipeline over those pieces, with one
//!   lock per log.
//! * [`http`]: the axum router and the one place that maps outcomes to HTTP
//!   statuses.
//!
//! The accept loop with its connection cap, the time limits on client
//! connections (slow loris), signals and durable file writes are
//! `causeway-io`'s, shared with the log server.
//!
//! ```text
//! <data-dir>/witness.pem               Ed25519 PKCS#8 PEM, mode 0600
//! <data-dir>/witness.json              {"name": <key name>}
//! <data-dir>/logs/<sha256(origin)>.note latest cosigned checkpoint per log
//! <data-dir>/evidence/<id>.json        evidence records (conflicts)
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod check;
pub mod evidence;
pub mod http;
pub mod keys;
pub mod logs;
pub mod state;
pub mod witness;

#[cfg(test)]
mod testutil;

use std::future::Future;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

pub use causeway_tlog::witness::EvidenceKind;
pub use check::{RejectReason, Rejection, Stored, Verdict};
pub use evidence::EvidenceLimits;
pub use logs::TrustedLogs;
pub use state::{DataDir, EvidenceRecord};
pub use witness::{AddError, Cosigned, Witness};

/// The key name a new witness gets when none is given.
pub const DEFAULT_NAME: &str = "localhost/causeway-witness";

/// The listen address when none is given.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7410";

/// The lowercase hex SHA-256 of an origin: the file name of its state and
/// the first path segment of its monitoring URL. Hashing keeps arbitrary
/// origin text (slashes, dots) out of paths.
pub fn origin_hash(origin: &str) -> String {
    hex::encode(Sha256::digest(origin.as_bytes()))
}

/// Current POSIX time in seconds, the timestamp of new cosignatures.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How long [`serve`] waits for open connections once shutdown begins.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves the witness on `listener` until `shutdown` completes, then
/// finishes the requests in flight, waiting at most [`SHUTDOWN_GRACE`] for
/// connections to close. The listener's cap bounds the connections open
/// at once, and every connection is held to
/// [`Limits::HTTP`](causeway_io::Limits::HTTP), so a slow or silent client
/// cannot keep one open (or the witness from stopping). A request cut off
/// by the grace period still persists what it decided: see
/// [`Witness::add_checkpoint`].
///
/// # Errors
/// If the server fails to accept connections.
pub async fn serve(
    listener: causeway_io::CappedListener,
    witness: Arc<Witness>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stopping_tx, mut stopping) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        let _ = stopping_tx.send(true);
    };
    let listener = causeway_io::GuardedListener::new(listener, causeway_io::Limits::HTTP);
    let server = axum::serve(listener, http::router(witness)).with_graceful_shutdown(signal);
    let grace = async move {
        if stopping.wait_for(|s| *s).await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result,
        () = grace => {
            tracing::warn!(
                grace_secs = SHUTDOWN_GRACE.as_secs(),
                "connections still open after the shutdown grace period; closing them"
            );
            Ok(())
        }
    }
}
