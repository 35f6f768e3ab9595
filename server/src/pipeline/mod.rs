//! The write path, in the order a submission takes it:
//!
//! 1. [`admission`]: each entry decoded once and checked against the
//!    producer policy (or taken as opaque bytes);
//! 2. [`rate_limit`]: per-producer token buckets, charged to the producer
//!    admission named;
//! 3. [`sequencer`]: the single writer: batching, dedup, the compact range,
//!    signing, one durable commit per batch;
//! 4. [`publisher`], asking [`witnesses`]: a signed head is published once a
//!    quorum of witnesses cosigned it (at once without witnesses);
//! 5. [`anchorer`]: published checkpoints timestamped by an RFC 3161 TSA.
//!
//! [`start`] starts stages 3 to 5 together and returns their handle with a
//! [`Reader`] over what they publish (as Tessera's `NewAppender` returns an
//! appender, its shutdown and a reader). A single instance calls it once;
//! under `--ha`, [`crate::election`] calls it for every term it leads, so
//! both run the same stages, the anchorer included. Admission and rate
//! limits run in the API, before a request reaches the sequencer.

pub mod admission;
pub mod anchorer;
pub mod publisher;
pub mod rate_limit;
pub mod sequencer;
pub mod witnesses;

use std::sync::Arc;

use tokio::sync::watch;

use crate::head::{PublishedView, TreeHead};
use crate::keys::LogKeys;
use crate::reader::Reader;
use crate::storage::Storage;
use anchorer::{AnchorConfig, Anchorer};
use publisher::{Publisher, PublisherConfig};
use sequencer::{Sequencer, SequencerConfig, SequencerHandle, StartError};
use witnesses::{WitnessClient, WitnessEndpoint};

/// What the stages after admission need besides storage and keys. Cheap to
/// clone: an elected leader starts a pipeline from the same parts at every
/// term.
#[derive(Clone)]
pub struct Parts {
    /// Batching.
    pub sequencer: SequencerConfig,
    /// Witnesses (empty: every head is published at once).
    pub witnesses: Vec<Arc<WitnessClient>>,
    /// Quorum and timing of witnessing.
    pub publisher: PublisherConfig,
    /// RFC 3161 anchoring, with the HTTP client it uses.
    pub anchor: Option<(AnchorConfig, reqwest::Client)>,
}

impl Parts {
    /// The parts for these settings, with one HTTP client shared by the
    /// witness clients and another for the TSA.
    ///
    /// # Errors
    /// If the HTTP client cannot be built (no TLS roots).
    pub fn new(
        sequencer: SequencerConfig,
        witnesses: &[WitnessEndpoint],
        publisher: PublisherConfig,
        anchor: Option<AnchorConfig>,
    ) -> Result<Self, reqwest::Error> {
        let witnesses = if witnesses.is_empty() {
            Vec::new()
        } else {
            let http = http_client()?;
            witnesses
                .iter()
                .map(|w| {
                    Arc::new(WitnessClient::new(
                        w.clone(),
                        http.clone(),
                        publisher.timeout,
                    ))
                })
                .collect()
        };
        let anchor = match anchor {
            Some(a) => Some((a, http_client()?)),
            None => None,
        };
        Ok(Parts {
            sequencer,
            witnesses,
            publisher,
            anchor,
        })
    }

    /// Whether heads wait for witness cosignatures before they are published.
    pub fn cosigned(&self) -> bool {
        !self.witnesses.is_empty()
    }
}

/// The HTTP client of the witness and TSA requests.
fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(concat!("causeway-server/", env!("CARGO_PKG_VERSION")))
        .tcp_nodelay(true)
        .build()
}

/// A running pipeline: the sequencer's front door and what it publishes.
///
/// The sequencer thread stops once every [`SequencerHandle`] is dropped
/// (after its last batch is durable); the publisher and the anchorer stop
/// when the `shutdown` given to [`start`] turns true. Dropping a `Pipeline`
/// detaches the thread; [`Pipeline::close`] waits for it.
pub struct Pipeline {
    /// Where submissions go.
    pub sequencer: SequencerHandle,
    /// The latest durable signed head (ahead of what is published while
    /// witnesses cosign).
    pub heads: watch::Receiver<Arc<TreeHead>>,
    /// What is published: every head, or the cosigned ones.
    pub published: PublishedView,
    thread: std::thread::JoinHandle<()>,
}

impl Pipeline {
    /// Drops this handle's sequencer and waits until the sequencer thread
    /// stopped (once every other handle is dropped too).
    pub fn close(self) {
        let Pipeline {
            sequencer, thread, ..
        } = self;
        drop(sequencer);
        let _ = thread.join();
    }
}

/// Restores the sequencer from `storage` and starts it on its own thread,
/// then the publisher (with witnesses) and the anchorer (with a TSA) as
/// tasks on the current tokio runtime, which must exist when either is
/// configured. Blocks on storage: call it off the async workers.
///
/// # Errors
/// If storage fails or the stored tree is inconsistent.
pub fn start(
    storage: Arc<dyn Storage>,
    keys: LogKeys,
    parts: &Parts,
    shutdown: watch::Receiver<bool>,
) -> Result<(Pipeline, Reader), StartError> {
    let (sequencer, handle, heads) =
        Sequencer::start(storage.clone(), keys, parts.sequencer.clone())?;
    let published = if parts.cosigned() {
        let (publisher, rx) = Publisher::new(
            storage.clone(),
            parts.witnesses.clone(),
            parts.publisher.clone(),
            heads.clone(),
        )?;
        tokio::spawn(publisher.run(stopped(shutdown.clone())));
        PublishedView::Cosigned(rx)
    } else {
        PublishedView::Heads(heads.clone())
    };
    if let Some((config, http)) = &parts.anchor {
        let anchorer = Anchorer::new(
            storage.clone(),
            published.clone(),
            config.clone(),
            http.clone(),
        );
        tokio::spawn(anchorer.run(stopped(shutdown)));
    }
    let thread = std::thread::Builder::new()
        .name("sequencer".into())
        .spawn(move || sequencer.run())
        .map_err(|e| StartError::Thread(e.to_string()))?;
    let reader = Reader::new(storage, published.clone(), heads.clone());
    Ok((
        Pipeline {
            sequencer: handle,
            heads,
            published,
            thread,
        },
        reader,
    ))
}

/// Resolves once `stop` turns true (or its sender is gone).
pub(crate) async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
