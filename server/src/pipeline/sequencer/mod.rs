//! The sequencer: the single writer of the log.
//!
//! Submissions queue on a channel. A dedicated thread takes the first one,
//! keeps collecting until the batch holds `max_batch_entries` or
//! `max_batch_delay` has passed, then, for the whole batch at once:
//!
//! 1. looks up every leaf hash (one batched read) so that duplicates get
//!    their original index instead of a second copy;
//! 2. judges records signed by a session key in log order: a request with
//!    one written under a credential that a stored record, or an earlier
//!    one of the same batch, revoked or closed is refused as a whole
//!    ([`causeway_records::check_open`]);
//! 3. appends the new leaves to the in-memory [`CompactRange`], collecting
//!    every node that completes;
//! 4. signs the checkpoint of the new tree with both log keys;
//! 5. writes entries, nodes, checkpoint, size and the credentials the
//!    batch ended in one synced batch ([`Storage::commit`]);
//! 6. only then announces the new head (to readers, or to the
//!    [`crate::pipeline::publisher`] when witnesses must cosign first) and answers the
//!    submitters.
//!
//! A submission is acknowledged only after step 5 returned, so nothing
//! acknowledged can be lost; a crash before step 5 loses only unacknowledged
//! work. While one batch is being written the next one queues up, which is
//! what makes group commit work without any tuning.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use causeway_records::{Ending, Kind, Lineage};
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{CompactRange, Hash};
use causeway_tlog::note::Note;
use tokio::sync::{oneshot, watch};

mod integrate;

use crate::head::TreeHead;
use crate::keys::LogKeys;
use crate::storage::{Commit, Storage, StorageError};
use crate::telemetry::{TraceLink, metrics};

/// The most submissions a batch's trace span links to.
const MAX_TRACE_LINKS: usize = 32;

/// Batching limits.
#[derive(Clone, Debug)]
pub struct SequencerConfig {
    /// Stop collecting a batch once it holds this many entries. A single
    /// request is never split, so a batch may exceed this by one request.
    pub max_batch_entries: usize,
    /// Stop collecting a batch this long after its first submission.
    pub max_batch_delay: Duration,
    /// Refuse new submissions while this many entries wait to be sequenced.
    pub max_pending_entries: usize,
}

impl Default for SequencerConfig {
    fn default() -> Self {
        SequencerConfig {
            max_batch_entries: 4096,
            max_batch_delay: Duration::ZERO,
            max_pending_entries: 200_000,
        }
    }
}

/// The position of one submitted entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sequenced {
    /// Its index in the log.
    pub index: u64,
    /// Its RFC 6962 leaf hash.
    pub leaf_hash: Hash,
    /// Whether it was already in the log (then `index` is the original).
    pub duplicate: bool,
}

/// The answer to one submission.
#[derive(Debug)]
pub struct Accepted {
    /// One result per submitted entry, in order.
    pub entries: Vec<Sequenced>,
    /// A durable signed checkpoint that includes every entry.
    pub checkpoint: Arc<TreeHead>,
}

/// Why a submission was not sequenced.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SubmitError {
    /// Too many entries are already waiting.
    #[error(
        "the sequencer queue is full ({pending} entries waiting, limit {limit}); retry with backoff"
    )]
    Busy {
        /// Entries waiting.
        pending: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The server is shutting down.
    #[error("the log is shutting down; retry against the restarted server")]
    ShuttingDown,
    /// Storage failed; nothing of this submission was acknowledged.
    #[error("storage failure, nothing was written for this request: {0}; retry later")]
    Storage(String),
    /// A record of the request is written under a credential that was
    /// revoked or closed earlier in log order; nothing of it was written.
    #[error("{0}")]
    Ended(String),
}

/// One entry to append.
#[derive(Clone, Debug)]
pub struct NewEntry {
    /// The entry's bytes.
    pub bytes: Vec<u8>,
    /// Its RFC 6962 leaf hash.
    pub leaf_hash: Hash,
    /// For a record, its submission ID: a record already logged under
    /// another signature counts as a duplicate.
    pub submission_id: Option<Hash>,
    /// For a record, what must be judged in log order.
    pub guard: Option<Guard>,
}

/// What the sequencer judges of a record in log order: whether the
/// credentials it writes under are still open, and which one it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guard {
    /// The record's kind, for messages.
    pub kind: Kind,
    /// The credentials a session-key record writes under (empty for other
    /// signers).
    pub lineage: Lineage,
    /// The credential the record revokes or closes, if any.
    pub ends: Option<(Hash, Ending)>,
}

struct Submission {
    entries: Vec<NewEntry>,
    reply: oneshot::Sender<Result<Accepted, SubmitError>>,
    /// The submitter's span, continued by the batch.
    trace: TraceLink,
    queued: Instant,
}

/// The cloneable front door of the sequencer.
#[derive(Clone)]
pub struct SequencerHandle {
    tx: mpsc::Sender<Submission>,
    pending: Arc<AtomicUsize>,
    max_pending: usize,
}

impl SequencerHandle {
    /// Submits entries (with their leaf hashes) and waits until they are
    /// durable.
    ///
    /// # Errors
    /// [`SubmitError`] if the queue is full, the log is stopping, or storage
    /// failed.
    pub async fn submit(&self, entries: Vec<(Vec<u8>, Hash)>) -> Result<Accepted, SubmitError> {
        let entries = entries
            .into_iter()
            .map(|(bytes, leaf_hash)| NewEntry {
                bytes,
                leaf_hash,
                submission_id: None,
                guard: None,
            })
            .collect();
        self.submit_entries(entries).await
    }

    /// Like [`SequencerHandle::submit`], with submission IDs for records.
    ///
    /// # Errors
    /// As for [`SequencerHandle::submit`].
    pub async fn submit_entries(&self, entries: Vec<NewEntry>) -> Result<Accepted, SubmitError> {
        let n = entries.len();
        let before = self.pending.fetch_add(n, Ordering::AcqRel);
        if before + n > self.max_pending && before > 0 {
            self.pending.fetch_sub(n, Ordering::AcqRel);
            return Err(SubmitError::Busy {
                pending: before,
                limit: self.max_pending,
            });
        }
        let (reply, answer) = oneshot::channel();
        let submission = Submission {
            entries,
            reply,
            trace: TraceLink::of(&tracing::Span::current()),
            queued: Instant::now(),
        };
        if self.tx.send(submission).is_err() {
            self.pending.fetch_sub(n, Ordering::AcqRel);
            return Err(SubmitError::ShuttingDown);
        }
        answer.await.map_err(|_| SubmitError::ShuttingDown)?
    }
}

/// The single writer. Owns the compact range; runs on its own thread.
pub struct Sequencer {
    rx: mpsc::Receiver<Submission>,
    storage: Arc<dyn Storage>,
    keys: LogKeys,
    range: CompactRange,
    config: SequencerConfig,
    head: watch::Sender<Arc<TreeHead>>,
    pending: Arc<AtomicUsize>,
    /// A write failed: storage must be reopened before the next one.
    failed: bool,
}

/// Why the log could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The stored checkpoint does not match the stored tree or keys.
    #[error("the data directory is inconsistent: {0}")]
    Inconsistent(String),
    /// Signing the first checkpoint failed.
    #[error("signing failed: {0}")]
    Signing(String),
    /// The sequencer thread could not be started.
    #[error("cannot start the sequencer thread: {0}")]
    Thread(String),
}

impl Sequencer {
    /// Restores the sequencer from storage: reads the head checkpoint and
    /// the `popcount(size)` nodes of its compact range, whatever the log's
    /// size. A new log commits a signed checkpoint of the empty tree first.
    ///
    /// # Errors
    /// If storage fails or its head does not match its nodes.
    pub fn start(
        storage: Arc<dyn Storage>,
        keys: LogKeys,
        config: SequencerConfig,
    ) -> Result<(Self, SequencerHandle, watch::Receiver<Arc<TreeHead>>), StartError> {
        let (range, head) = match storage.head()? {
            Some(head) => {
                let range = storage.compact_range(head.size)?;
                let note = Note::parse(head.note.as_bytes())
                    .map_err(|e| StartError::Inconsistent(format!("head checkpoint: {e}")))?;
                let cp = Checkpoint::parse(note.text())
                    .map_err(|e| StartError::Inconsistent(format!("head checkpoint: {e}")))?;
                if cp.size() != head.size || *cp.root() != range.root() {
                    return Err(StartError::Inconsistent(format!(
                        "head checkpoint (size {}, root {}) does not match the stored tree (size {}, root {})",
                        cp.size(),
                        cp.root(),
                        head.size,
                        range.root()
                    )));
                }
                if cp.origin() != keys.origin.as_str() {
                    return Err(StartError::Inconsistent(format!(
                        "stored checkpoints are for origin {:?} but the keys are for {:?}",
                        cp.origin(),
                        keys.origin.as_str()
                    )));
                }
                let head = TreeHead {
                    size: head.size,
                    root: range.root(),
                    note: head.note,
                    trace: TraceLink::none(),
                };
                (range, head)
            }
            None => {
                let range = CompactRange::new();
                let note = sign(&keys, &range)?;
                storage.commit(&Commit {
                    size: 0,
                    note: note.clone(),
                    ..Default::default()
                })?;
                let root = range.root();
                (
                    range,
                    TreeHead {
                        size: 0,
                        root,
                        note,
                        trace: TraceLink::none(),
                    },
                )
            }
        };
        let (tx, rx) = mpsc::channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let (head_tx, head_rx) = watch::channel(Arc::new(head));
        let handle = SequencerHandle {
            tx,
            pending: pending.clone(),
            max_pending: config.max_pending_entries,
        };
        let seq = Sequencer {
            rx,
            storage,
            keys,
            range,
            config,
            head: head_tx,
            pending,
            failed: false,
        };
        Ok((seq, handle, head_rx))
    }

    /// Sequences batches until every [`SequencerHandle`] is dropped, then
    /// returns after the last queued batch is durable.
    pub fn run(mut self) {
        while let Ok(first) = self.rx.recv() {
            let batch = self.collect(first);
            self.process(batch);
        }
        tracing::info!(size = self.range.size(), "sequencer stopped");
    }

    /// Gathers more submissions after `first`, up to the size and delay limits.
    fn collect(&self, first: Submission) -> Vec<Submission> {
        let deadline = Instant::now() + self.config.max_batch_delay;
        let mut count = first.entries.len();
        let mut batch = vec![first];
        while count < self.config.max_batch_entries {
            let next = match self.rx.try_recv() {
                Ok(s) => s,
                Err(mpsc::TryRecvError::Disconnected) => break,
                Err(mpsc::TryRecvError::Empty) => {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        break;
                    };
                    match self.rx.recv_timeout(left) {
                        Ok(s) => s,
                        Err(_) => break,
                    }
                }
            };
            count += next.entries.len();
            batch.push(next);
        }
        batch
    }

    fn process(&mut self, batch: Vec<Submission>) {
        let count: usize = batch.iter().map(|s| s.entries.len()).sum();
        if self.failed
            && let Err(why) = self.recover()
        {
            self.pending.fetch_sub(count, Ordering::AcqRel);
            for s in batch {
                let _ = s.reply.send(Err(SubmitError::Storage(why.clone())));
            }
            return;
        }
        let span = tracing::debug_span!("integrate", entries = count, requests = batch.len());
        // The batch continues its first submission's trace and links the
        // others (bounded: a batch can carry thousands of requests).
        if let Some((first, rest)) = batch.split_first() {
            first.trace.parent_of(&span);
            for s in rest.iter().take(MAX_TRACE_LINKS) {
                s.trace.link_from(&span);
            }
        }
        let queued: Vec<Instant> = batch.iter().map(|s| s.queued).collect();
        let result = span.in_scope(|| self.integrate(batch, TraceLink::of(&span)));
        self.pending.fetch_sub(count, Ordering::AcqRel);
        let (answers, checkpoint) = match result {
            Ok(done) => done,
            Err((replies, e)) => {
                tracing::error!(error = %e, "batch failed; storage will be reopened before the next write");
                let msg = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(SubmitError::Storage(msg.clone())));
                }
                self.failed = true;
                self.reload();
                return;
            }
        };
        let m = metrics();
        for ((reply, answer), queued) in answers.into_iter().zip(queued) {
            m.integration.record(queued.elapsed().as_secs_f64(), &[]);
            let entries = match answer {
                Ok(entries) => entries,
                Err(refused) => {
                    let _ = reply.send(Err(refused));
                    continue;
                }
            };
            let new = entries.iter().filter(|e| !e.duplicate).count() as u64;
            m.submissions
                .add(new, &[opentelemetry::KeyValue::new("outcome", "new")]);
            m.submissions.add(
                entries.len() as u64 - new,
                &[opentelemetry::KeyValue::new("outcome", "duplicate")],
            );
            let _ = reply.send(Ok(Accepted {
                entries,
                checkpoint: checkpoint.clone(),
            }));
        }
    }

    /// After a failed write, reopens storage (RocksDB refuses writes until
    /// then) once there is room, and re-reads the head.
    fn recover(&mut self) -> Result<(), String> {
        match self.storage.recover() {
            Ok(true) => {
                self.failed = false;
                self.reload();
                tracing::info!(size = self.range.size(), "storage reopened after a failed write; accepting writes again");
                Ok(())
            }
            Ok(false) => Err(
                "the file system of the data directory has too little free space to reopen storage after a failed write (disk full?); free space and writes resume by themselves".into(),
            ),
            Err(e) => {
                tracing::error!(error = %e, "reopening storage failed");
                Err(format!("reopening storage after a failed write: {e}"))
            }
        }
    }

    /// After a failed write, re-reads the head from storage: the write may
    /// or may not have reached the disk, and storage is the truth.
    fn reload(&mut self) {
        let restored = self.storage.head().and_then(|head| {
            let head = head.ok_or_else(|| StorageError::Corrupt("the head vanished".into()))?;
            let range = self.storage.compact_range(head.size)?;
            Ok((head, range))
        });
        match restored {
            Ok((head, range)) => {
                let head = TreeHead {
                    size: head.size,
                    root: range.root(),
                    note: head.note,
                    trace: TraceLink::none(),
                };
                self.range = range;
                self.head.send_replace(Arc::new(head));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot reload the log state; keeping the last known state")
            }
        }
    }
}

/// Signs the checkpoint of `range` with the ECDSA key, then the Ed25519 key.
fn sign(keys: &LogKeys, range: &CompactRange) -> Result<String, StartError> {
    let cp = Checkpoint::new(keys.origin.as_str(), range.size(), range.root())
        .map_err(|e| StartError::Signing(e.to_string()))?;
    let mut note = Note::new(cp.to_text()).map_err(|e| StartError::Signing(e.to_string()))?;
    note.sign(&keys.ecdsa)
        .map_err(|e| StartError::Signing(e.to_string()))?;
    note.sign(&keys.ed25519)
        .map_err(|e| StartError::Signing(e.to_string()))?;
    Ok(note.to_string())
}
