//! The publisher: turns signed tree heads into published checkpoints by
//! collecting a quorum of witness cosignatures.
//!
//! The sequencer keeps making heads durable whatever the witnesses do. The
//! publisher runs rounds: take the latest head, ask every witness at once,
//! and as soon as `quorum` valid cosignatures are in, append them to the
//! log's note, store it ([`Storage::publish`]) and announce it. Witnesses
//! still answering after the quorum finish in the background so their size
//! stays current; one that is down is retried with backoff and never holds
//! up a round. When no quorum is reached the published checkpoint simply
//! stays where it is, and [`Publication::stalled`] says why.
//!
//! With nothing new to publish, the same checkpoint is re-cosigned every
//! `refresh` so that cosignature timestamps stay fresh for clients that
//! bound their age.

use std::sync::Arc;
use std::time::{Duration, Instant};

use causeway_tlog::note::NoteSignature;
use tokio::sync::{mpsc, watch};

use opentelemetry::KeyValue;
use tracing::Instrument as _;

use super::witnesses::{CosignError, WitnessClient};
use crate::head::{Publication, TreeHead};
use crate::storage::Storage;
use crate::telemetry::{TraceLink, metrics};

/// Witness settings.
#[derive(Clone, Debug)]
pub struct PublisherConfig {
    /// How many witness cosignatures a published checkpoint needs.
    pub quorum: usize,
    /// How long one witness request may take.
    pub timeout: Duration,
    /// Re-cosign an unchanged checkpoint this often.
    pub refresh: Duration,
}

/// Collects cosignatures and publishes checkpoints.
pub struct Publisher {
    storage: Arc<dyn Storage>,
    witnesses: Vec<Arc<WitnessClient>>,
    config: PublisherConfig,
    heads: watch::Receiver<Arc<TreeHead>>,
    publication: watch::Sender<Publication>,
}

/// The pause between rounds that failed to reach a quorum.
const RETRY: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));
/// How often an unchanged stall reason is logged again.
const STALL_LOG_EVERY: Duration = Duration::from_secs(30);

impl Publisher {
    /// A publisher over the sequencer's `heads`; its announcements go to
    /// the returned receiver. Restores the last published checkpoint.
    ///
    /// # Errors
    /// On a storage failure.
    pub fn new(
        storage: Arc<dyn Storage>,
        witnesses: Vec<Arc<WitnessClient>>,
        config: PublisherConfig,
        heads: watch::Receiver<Arc<TreeHead>>,
    ) -> Result<(Self, watch::Receiver<Publication>), crate::storage::StorageError> {
        let checkpoint = match storage.latest_published()? {
            Some((size, note)) => Some(Arc::new(TreeHead::stored(&*storage, size, note)?)),
            None => None,
        };
        let (tx, rx) = watch::channel(Publication {
            checkpoint,
            stalled: None,
        });
        Ok((
            Publisher {
                storage,
                witnesses,
                config,
                heads,
                publication: tx,
            },
            rx,
        ))
    }

    /// Publishes until `stop` resolves.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut last_published = Instant::now();
        let mut retry = RETRY.0;
        let mut last_stall: Option<(String, Instant)> = None;
        loop {
            let head = self.heads.borrow_and_update().clone();
            let published = self.publication.borrow().checkpoint.clone();
            let behind = published.as_ref().is_none_or(|p| p.size < head.size);
            let refresh_at = last_published + self.config.refresh;
            if !behind && Instant::now() < refresh_at {
                tokio::select! {
                    _ = &mut stop => return,
                    changed = self.heads.changed() => if changed.is_err() { return },
                    _ = tokio::time::sleep_until(refresh_at.into()) => {}
                }
                continue;
            }
            let hint = published.as_ref().map_or(0, |p| p.size);
            let span =
                tracing::debug_span!("cosign", size = head.size, quorum = self.config.quorum);
            head.trace.parent_of(&span);
            let round = tokio::select! {
                _ = &mut stop => return,
                r = self.round(&head, hint).instrument(span.clone()) => r,
            };
            match round {
                Ok(cosignatures) => {
                    let mut note = head.note.clone();
                    for sig in &cosignatures {
                        note.push_str(&sig.to_line());
                    }
                    let storage = self.storage.clone();
                    let (size, stored) = (head.size, note.clone());
                    let write =
                        tokio::task::spawn_blocking(move || storage.publish(size, &stored)).await;
                    if let Err(e) = write
                        .map_err(|e| e.to_string())
                        .and_then(|r| r.map_err(|e| e.to_string()))
                    {
                        tracing::error!(error = %e, size, "cannot store the cosigned checkpoint; retrying");
                        tokio::time::sleep(retry).await;
                        continue;
                    }
                    if last_stall.take().is_some() {
                        tracing::info!(size, "publication resumed");
                    }
                    tracing::debug!(size, cosignatures = cosignatures.len(), "published");
                    self.publication.send_replace(Publication {
                        checkpoint: Some(Arc::new(TreeHead {
                            size: head.size,
                            root: head.root,
                            note,
                            trace: TraceLink::of(&span),
                        })),
                        stalled: None,
                    });
                    metrics().published_size.record(head.size, &[]);
                    last_published = Instant::now();
                    retry = RETRY.0;
                }
                Err(why) => {
                    let reason = format!(
                        "publication is stalled at size {hint} while the log has {} leaves: {why}",
                        head.size
                    );
                    let repeat = last_stall
                        .as_ref()
                        .is_some_and(|(r, at)| *r == why && at.elapsed() < STALL_LOG_EVERY);
                    if !repeat {
                        tracing::warn!("{reason}");
                        last_stall = Some((why, Instant::now()));
                    }
                    self.publication
                        .send_modify(|p| p.stalled = Some(reason.clone()));
                    tokio::select! {
                        _ = &mut stop => return,
                        _ = tokio::time::sleep(retry) => {}
                    }
                    retry = (retry * 2).min(RETRY.1);
                }
            }
        }
    }

    /// Asks every available witness to cosign `head`; returns the
    /// cosignatures (in configuration order) once `quorum` are in.
    async fn round(&self, head: &Arc<TreeHead>, hint: u64) -> Result<Vec<NoteSignature>, String> {
        let (tx, mut rx) = mpsc::channel(self.witnesses.len().max(1));
        let mut failures = Vec::new();
        for (i, witness) in self.witnesses.iter().enumerate() {
            if let Err(e) = witness.begin(hint) {
                failures.push(format!("{}: {e}", witness.name()));
                continue;
            }
            let (witness, head, storage, tx, heads) = (
                witness.clone(),
                head.clone(),
                self.storage.clone(),
                tx.clone(),
                self.heads.clone(),
            );
            let span = tracing::debug_span!("add-checkpoint", witness = witness.name());
            // Detached: a witness slower than the quorum still finishes and
            // keeps its size current for the next round.
            tokio::spawn(
                async move {
                    let result = witness.cosign(&head, &storage).await;
                    let name = KeyValue::new("witness", witness.name().to_owned());
                    match &result {
                        Ok(_) => {
                            let lag = heads.borrow().size.saturating_sub(head.size);
                            metrics().witness_lag.record(lag, &[name]);
                        }
                        Err(e) => {
                            log_failure(&witness, head.size, e);
                            if !matches!(e, CosignError::BackingOff { .. } | CosignError::Busy) {
                                metrics()
                                    .witness_failures
                                    .add(1, &[name, KeyValue::new("reason", e.reason())]);
                            }
                        }
                    }
                    let _ = tx.send((i, result)).await;
                }
                .instrument(span),
            );
        }
        drop(tx);
        let mut cosignatures = Vec::new();
        while cosignatures.len() < self.config.quorum {
            let Some((i, result)) = rx.recv().await else {
                break;
            };
            match result {
                Ok(sig) => cosignatures.push((i, sig)),
                Err(e) => failures.push(format!("{}: {e}", self.witnesses[i].name())),
            }
        }
        if cosignatures.len() < self.config.quorum {
            return Err(format!(
                "{} of the {} cosignatures needed ({}); {}",
                cosignatures.len(),
                self.config.quorum,
                self.witnesses.len(),
                failures.join("; ")
            ));
        }
        cosignatures.sort_by_key(|(i, _)| *i);
        Ok(cosignatures.into_iter().map(|(_, s)| s).collect())
    }
}

fn log_failure(witness: &WitnessClient, size: u64, e: &CosignError) {
    match e {
        CosignError::Conflict { .. } | CosignError::WitnessAhead { .. } => {
            tracing::error!(
                witness = witness.name(),
                size,
                "SPLIT VIEW OR DATA LOSS: witness {}: {e}",
                witness.name()
            );
        }
        CosignError::Untrusted { .. } | CosignError::BadCosignature { .. } => {
            tracing::error!(
                witness = witness.name(),
                size,
                "witness {}: {e}",
                witness.name()
            );
        }
        _ => tracing::debug!(
            witness = witness.name(),
            size,
            "witness {}: {e}",
            witness.name()
        ),
    }
}
