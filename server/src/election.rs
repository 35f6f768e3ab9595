//! Leader election among `causeway-server` instances that share one
//! PostgreSQL store (`--storage postgres://… --ha`).
//!
//! Exactly one instance sequences at a time: the holder of the lease row
//! in the store's `leader` table ([`PgStorage::try_acquire`]). It renews
//! the lease every third of its length; the others serve reads from the
//! same store, follow its commits, and refuse writes with `UNAVAILABLE`
//! naming the leader. When the leader stops renewing (killed, stopped,
//! cut off), its lease expires by the database's clock and a standby takes
//! it with the next term.
//!
//! Why a lease row and not a PostgreSQL advisory lock or etcd: an advisory
//! lock lives as long as its session, and a leader frozen by SIGSTOP (or a
//! long GC-like pause, or a hung VM) keeps its TCP session and so its lock
//! for ever, because the kernel still answers keep-alives; a lease expires
//! whatever the holder does. Keeping it in the store itself, rather than
//! in etcd, lets the term be checked in the same transaction as every
//! commit ([`PgStorage::commit`]): that fence, not the clock, is what makes
//! a deposed leader unable to write. One less service to run, too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::head::{Publication, PublishedView, TreeHead};
use crate::keys::LogKeys;
use crate::pipeline::sequencer::SequencerHandle;
use crate::pipeline::{self, Parts};
use crate::storage::postgres::LeaderRecord;
use crate::storage::{PgStorage, Storage, StorageError};
use crate::telemetry::TraceLink;

/// How an instance takes part in the election.
#[derive(Clone, Debug)]
pub struct HaConfig {
    /// This instance's name in the lease (`--ha-id`).
    pub id: String,
    /// The gRPC URL writers should use to reach this instance when it
    /// leads (`--advertise`).
    pub advertise: String,
    /// How long a lease lasts without renewal (`--ha-lease`).
    pub lease: Duration,
}

/// Why this instance does not take writes.
#[derive(Clone, Debug, thiserror::Error)]
pub enum NotLeader {
    /// Another instance leads.
    #[error(
        "this instance ({me}) is a standby serving reads; the leader is {} at {} (term {}); send writes there",
        .leader.holder, .leader.address, .leader.term
    )]
    Standby {
        /// This instance's `--ha-id`.
        me: String,
        /// The lease as last read.
        leader: LeaderRecord,
    },
    /// Nobody holds a live lease right now (a failover is under way).
    #[error(
        "no instance leads right now (the last lease expired; a standby takes over within seconds); retry with backoff"
    )]
    Electing,
}

impl NotLeader {
    /// The leader's advertised gRPC URL, if known.
    pub fn leader_address(&self) -> Option<&str> {
        match self {
            NotLeader::Standby { leader, .. } => Some(&leader.address),
            NotLeader::Electing => None,
        }
    }
}

#[derive(Clone)]
enum Role {
    Leader(SequencerHandle),
    Standby(NotLeader),
}

impl Role {
    fn is_leader(&self) -> bool {
        matches!(self, Role::Leader(_))
    }
}

/// Who takes writes on this instance: its sequencer while it leads, or
/// nobody (with the reason) while it stands by. Cloned into the service.
#[derive(Clone)]
pub struct Leadership(Arc<watch::Sender<Role>>);

impl Leadership {
    /// A log with one writer and no election: always this sequencer.
    pub fn single(sequencer: SequencerHandle) -> Self {
        Leadership(Arc::new(watch::Sender::new(Role::Leader(sequencer))))
    }

    fn standby(why: NotLeader) -> Self {
        Leadership(Arc::new(watch::Sender::new(Role::Standby(why))))
    }

    /// Replaces the role; watchers hear only when leading starts or stops
    /// (a standby refreshes the leader it names every poll).
    fn set(&self, role: Role) {
        self.0.send_if_modified(|current| {
            let was = current.is_leader();
            *current = role;
            was != current.is_leader()
        });
    }

    /// The sequencer to submit to.
    ///
    /// # Errors
    /// [`NotLeader`] while this instance stands by.
    pub fn sequencer(&self) -> Result<SequencerHandle, NotLeader> {
        match &*self.0.borrow() {
            Role::Leader(s) => Ok(s.clone()),
            Role::Standby(why) => Err(why.clone()),
        }
    }

    /// Whether this instance sequences now.
    pub fn is_leader(&self) -> bool {
        self.0.borrow().is_leader()
    }

    /// Waits until whether this instance leads is `leading`; returns it.
    pub async fn until_leading_is(&self, leading: bool) -> bool {
        // `self` holds the sender, so the channel cannot close meanwhile.
        let _ = self
            .0
            .subscribe()
            .wait_for(|r| r.is_leader() == leading)
            .await;
        leading
    }
}

/// Everything a term of leadership starts: the [`pipeline`] a
/// single-instance log starts once.
pub struct LeaderParts {
    /// The log's keys are read again at every term (they never change).
    pub keys: Box<dyn Fn() -> Result<LogKeys, crate::keys::KeysError> + Send + Sync>,
    /// The stages every term starts.
    pub pipeline: Parts,
}

/// The election loop of one instance, and the channels its reader watches.
pub struct Election {
    store: Arc<PgStorage>,
    config: HaConfig,
    parts: LeaderParts,
    heads: watch::Sender<Arc<TreeHead>>,
    publication: watch::Sender<Publication>,
    leadership: Leadership,
}

/// How often a standby re-reads the head, the published checkpoint and
/// the lease: what bounds a replica's staleness.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

impl Election {
    /// Prepares an instance that starts as a standby, with the store's
    /// current head and published checkpoint.
    ///
    /// # Errors
    /// On a storage failure.
    pub fn new(
        store: Arc<PgStorage>,
        config: HaConfig,
        parts: LeaderParts,
    ) -> Result<Self, StorageError> {
        let head = stored_head(&*store)?;
        let published = if !parts.pipeline.cosigned() {
            head.clone()
        } else {
            stored_publication(&*store)?
        };
        // A new store has no head until the first leader commits the empty
        // tree; until then proofs are bounded by size 0 and checkpoints
        // answer "not published yet".
        let head = head.unwrap_or_else(|| {
            Arc::new(TreeHead {
                size: 0,
                root: causeway_tlog::merkle::CompactRange::new().root(),
                note: String::new(),
                trace: TraceLink::none(),
            })
        });
        Ok(Election {
            store,
            config,
            parts,
            heads: watch::channel(head).0,
            publication: watch::channel(Publication {
                checkpoint: published,
                stalled: None,
            })
            .0,
            leadership: Leadership::standby(NotLeader::Electing),
        })
    }

    /// The latest durable head: the sequencer's while leading, the
    /// store's otherwise.
    pub fn heads(&self) -> watch::Receiver<Arc<TreeHead>> {
        self.heads.subscribe()
    }

    /// What readers publish: every head, or with witnesses the cosigned
    /// checkpoints, as the leader announces them or the store holds them.
    pub fn view(&self) -> PublishedView {
        let rx = self.publication.subscribe();
        if !self.parts.pipeline.cosigned() {
            PublishedView::Shared(rx)
        } else {
            PublishedView::Cosigned(rx)
        }
    }

    /// Write access for the service: the sequencer while this instance leads.
    pub fn leadership(&self) -> Leadership {
        self.leadership.clone()
    }

    /// Takes part in the election until `stop` resolves; a leader then
    /// releases its lease so a standby takes over at once.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        loop {
            let Some(term) = self.stand_by(&mut stop).await else {
                return;
            };
            let released = self.lead(term, &mut stop).await;
            if released {
                return;
            }
        }
    }

    /// Follows the store until this instance wins the lease (its term), or
    /// `None` once stopped.
    async fn stand_by(&mut self, stop: &mut watch::Receiver<bool>) -> Option<u64> {
        let mut tick = tokio::time::interval(FOLLOW_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_error: Option<String> = None;
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return None,
                _ = tick.tick() => {}
            }
            let store = self.store.clone();
            let (id, address, lease) = (
                self.config.id.clone(),
                self.config.advertise.clone(),
                self.config.lease,
            );
            // Before the first commit the head is a placeholder with no note.
            let known_head = {
                let h = self.heads.borrow();
                (!h.note.is_empty()).then_some(h.size)
            };
            let known = self.publication.borrow().checkpoint.clone();
            let cosigned = self.parts.pipeline.cosigned();
            let attempt = tokio::task::spawn_blocking(move || {
                let leader = store.leader()?;
                if leader.as_ref().is_none_or(|l| !l.live)
                    && let Some(term) = store.try_acquire(&id, &address, lease)?
                {
                    return Ok(Err(term));
                }
                // Small reads first; the notes and roots only when they moved.
                let head = match store.head_size()? {
                    Some(size) if Some(size) != known_head => stored_head(&*store)?,
                    _ => None,
                };
                let published = if cosigned {
                    // The note too: an unchanged tree is re-cosigned every
                    // --witness-refresh, and clients bound cosignature age.
                    match (store.latest_published()?, known) {
                        (Some((size, note)), Some(k)) if size == k.size => {
                            (note != k.note).then(|| {
                                Arc::new(TreeHead {
                                    note,
                                    trace: TraceLink::none(),
                                    ..(*k).clone()
                                })
                            })
                        }
                        (Some((size, note)), _) => {
                            Some(Arc::new(TreeHead::stored(&*store, size, note)?))
                        }
                        (None, _) => None,
                    }
                } else {
                    head.clone()
                };
                Ok(Ok((leader, head, published)))
            })
            .await;
            let outcome: Result<_, StorageError> = attempt.unwrap_or_else(|e| {
                Err(StorageError::Postgres(format!("election task failed: {e}")))
            });
            match outcome {
                Ok(Err(term)) => return Some(term),
                Ok(Ok((leader, head, published))) => {
                    last_error = None;
                    let why = match leader.filter(|l| l.live) {
                        Some(leader) => NotLeader::Standby {
                            me: self.config.id.clone(),
                            leader,
                        },
                        None => NotLeader::Electing,
                    };
                    self.leadership.set(Role::Standby(why));
                    if let Some(head) = head {
                        self.heads.send_replace(head);
                    }
                    if let Some(p) = published {
                        self.publication.send_replace(Publication {
                            checkpoint: Some(p),
                            stalled: None,
                        });
                    }
                }
                Err(e) => {
                    let e = e.to_string();
                    if last_error.as_ref() != Some(&e) {
                        tracing::warn!(error = %e, "standby cannot read the shared store; retrying");
                        last_error = Some(e);
                    }
                }
            }
        }
    }

    /// Leads under `term` until the lease is lost (`false`) or `stop`
    /// resolves (`true`, lease released).
    async fn lead(&mut self, term: u64, stop: &mut watch::Receiver<bool>) -> bool {
        // Renewals are sent before the local clock says the lease ends:
        // `valid_until` counts from when the last successful one was sent.
        let mut valid_until = Instant::now() + self.config.lease;
        self.store.set_fence(Some(term));
        let (term_stop_tx, term_stop) = watch::channel(false);
        let sequencer = match self.start_term(term_stop).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(term, error = %e, "won the lease but cannot start sequencing; giving it up");
                let store = self.store.clone();
                let _ = tokio::task::spawn_blocking(move || store.release(term)).await;
                tokio::time::sleep(self.config.lease).await;
                return false;
            }
        };
        tracing::info!(term, id = %self.config.id, size = self.heads.borrow().size, "leading: this instance sequences now");
        self.leadership.set(Role::Leader(sequencer));
        let renew_every = self.config.lease / 3;
        let released = loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break true,
                _ = tokio::time::sleep(renew_every) => {}
            }
            let (store, lease, sent) = (self.store.clone(), self.config.lease, Instant::now());
            // A renewal that hangs (the database is cut off) counts as failed
            // once the lease would have run out.
            let left = valid_until.saturating_duration_since(sent);
            if left.is_zero() {
                tracing::warn!(
                    term,
                    "the lease ran out while this instance was not running (paused, frozen or starved of CPU); standing by"
                );
                break false;
            }
            let renewed = match tokio::time::timeout(
                left,
                tokio::task::spawn_blocking(move || store.renew(term, lease)),
            )
            .await
            {
                Ok(joined) => joined,
                Err(_) => Ok(Err(StorageError::Postgres(format!(
                    "renewing the lease took longer than the {left:?} it had left"
                )))),
            };
            match renewed {
                Ok(Ok(true)) => valid_until = sent + self.config.lease,
                Ok(Ok(false)) => {
                    tracing::warn!(
                        term,
                        "the lease was taken over by another instance; standing by"
                    );
                    break false;
                }
                Ok(Err(e)) => {
                    if Instant::now() + renew_every >= valid_until {
                        tracing::error!(term, error = %e, "cannot renew the lease before it expires; standing by");
                        break false;
                    }
                    tracing::warn!(term, error = %e, "renewing the lease failed; retrying");
                }
                Err(e) => {
                    tracing::error!(term, error = %e, "lease renewal task failed; standing by");
                    break false;
                }
            }
        };
        // Writes stop here; the fence stays at the old term, so a batch
        // still in flight cannot commit once another instance leads.
        self.leadership.set(Role::Standby(NotLeader::Electing));
        let _ = term_stop_tx.send(true);
        if released {
            let store = self.store.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || store.release(term)).await {
                tracing::warn!(term, error = %e, "cannot release the lease; it expires by itself");
            } else {
                tracing::info!(term, "released the lease");
            }
        }
        released
    }

    /// Starts the [`pipeline`] for one term (the sequencer from the
    /// store's head, read after the lease was won, so every earlier commit
    /// is in it; the publisher; the anchorer) and forwards what it
    /// announces to this instance's reader; they stop when `stop` turns
    /// true.
    async fn start_term(&self, stop: watch::Receiver<bool>) -> Result<SequencerHandle, String> {
        let keys = (self.parts.keys)().map_err(|e| e.to_string())?;
        let store: Arc<dyn Storage> = self.store.clone();
        let parts = self.parts.pipeline.clone();
        // This instance's reader follows the election's channels (the
        // store's while standing by), so the term's own reader is unused.
        let (pipeline, _reader) =
            tokio::task::spawn_blocking(move || pipeline::start(store, keys, &parts, stop))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
        tokio::spawn(forward(
            pipeline.heads.clone(),
            self.heads.clone(),
            Clone::clone,
        ));
        if let PublishedView::Cosigned(rx) = &pipeline.published {
            tokio::spawn(forward(rx.clone(), self.publication.clone(), Clone::clone));
        } else {
            tokio::spawn(forward(
                pipeline.heads.clone(),
                self.publication.clone(),
                |h| Publication {
                    checkpoint: Some(h.clone()),
                    stalled: None,
                },
            ));
        }
        // Dropping the pipeline detaches the sequencer thread: it ends once
        // the role's handle, the last one, is dropped.
        Ok(pipeline.sequencer.clone())
    }
}

/// Copies every value of `from` into `to` until `from`'s sender is gone.
async fn forward<T, U>(mut from: watch::Receiver<T>, to: watch::Sender<U>, map: impl Fn(&T) -> U) {
    loop {
        let value = map(&from.borrow_and_update());
        to.send_replace(value);
        if from.changed().await.is_err() {
            return;
        }
    }
}

/// The store's head as a tree head.
fn stored_head(store: &dyn Storage) -> Result<Option<Arc<TreeHead>>, StorageError> {
    match store.head()? {
        Some(head) => Ok(Some(Arc::new(TreeHead::stored(
            store, head.size, head.note,
        )?))),
        None => Ok(None),
    }
}

/// The store's latest cosigned checkpoint as a tree head.
fn stored_publication(store: &dyn Storage) -> Result<Option<Arc<TreeHead>>, StorageError> {
    match store.latest_published()? {
        Some((size, note)) => Ok(Some(Arc::new(TreeHead::stored(store, size, note)?))),
        None => Ok(None),
    }
}
