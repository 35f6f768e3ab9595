//! One batch, from submissions to a durable signed head: dedup against
//! the log and within the batch, judging records in log order, appending
//! to the compact range, signing and the one commit (steps 1 to 5 of the
//! [sequencer](super)).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use causeway_records::{CredentialEnd, first_ended};
use causeway_tlog::merkle::Hash;
use tokio::sync::oneshot;

use super::{Accepted, Sequenced, Sequencer, Submission, SubmitError, sign};
use crate::head::TreeHead;
use crate::storage::Commit;
use crate::telemetry::{TraceLink, metrics};

impl Sequencer {
    /// Sequences a batch and makes it durable. On failure, hands the reply
    /// channels back so every submitter hears about it.
    #[allow(clippy::type_complexity)]
    pub(super) fn integrate(
        &mut self,
        batch: Vec<Submission>,
        trace: TraceLink,
    ) -> Result<
        (
            Vec<(
                oneshot::Sender<Result<Accepted, SubmitError>>,
                Result<Vec<Sequenced>, SubmitError>,
            )>,
            Arc<TreeHead>,
        ),
        (Vec<oneshot::Sender<Result<Accepted, SubmitError>>>, String),
    > {
        let hashes: Vec<Hash> = batch
            .iter()
            .flat_map(|s| s.entries.iter().map(|e| e.leaf_hash))
            .collect();
        let ids: Vec<Hash> = batch
            .iter()
            .flat_map(|s| s.entries.iter().filter_map(|e| e.submission_id))
            .collect();
        // Every credential the batch writes under or ends: whether each
        // already ended, in the same read as the duplicates.
        let mut credentials: Vec<Hash> = batch
            .iter()
            .flat_map(|s| s.entries.iter().filter_map(|e| e.guard.as_ref()))
            .flat_map(|g| {
                g.lineage
                    .credentials()
                    .iter()
                    .chain(g.ends.as_ref().map(|e| &e.0))
            })
            .copied()
            .collect();
        credentials.sort_unstable();
        credentials.dedup();
        let found = self.storage.leaf_indices(&hashes).and_then(|leaves| {
            Ok((
                leaves,
                self.storage.submissions(&ids)?,
                self.storage.credential_ends(&credentials)?,
            ))
        });
        let (existing, existing_ids, stored_ends) = match found {
            Ok(found) => found,
            Err(e) => return Err((batch.into_iter().map(|s| s.reply).collect(), e.to_string())),
        };
        let mut ended: HashMap<Hash, CredentialEnd> = credentials
            .into_iter()
            .zip(stored_ends)
            .filter_map(|(h, end)| Some((h, end?)))
            .collect();
        let mut existing = existing.into_iter();
        let mut existing_ids = existing_ids.into_iter();
        let mut ids_in_batch: HashMap<Hash, (u64, Hash)> = HashMap::new();
        let before = self.range.clone();
        let mut commit = Commit {
            first_index: before.size(),
            ..Default::default()
        };
        let mut in_batch: HashMap<Hash, u64> = HashMap::new();
        let mut answers = Vec::with_capacity(batch.len());
        for sub in batch {
            // A request is all or nothing: note where it starts, to undo
            // it if one of its records is refused.
            let mark = (
                self.range.clone(),
                commit.entries.len(),
                commit.nodes.len(),
                commit.submissions.len(),
                commit.credential_ends.len(),
            );
            let count = sub.entries.len();
            // Ends made by this request: index → position, for messages.
            let mut own_ends: HashMap<u64, usize> = HashMap::new();
            let mut refused: Option<SubmitError> = None;
            let mut results = Vec::with_capacity(count);
            for (position, entry) in sub.entries.into_iter().enumerate() {
                let hash = entry.leaf_hash;
                // Consume this entry's lookups whatever happens next: they
                // are in batch order.
                let stored_index = existing.next().flatten();
                let stored_id = entry
                    .submission_id
                    .and_then(|_| existing_ids.next().flatten());
                if refused.is_some() {
                    continue;
                }
                let known = stored_index
                    .or_else(|| in_batch.get(&hash).copied())
                    .map(|index| (index, hash))
                    .or(stored_id)
                    .or_else(|| {
                        entry
                            .submission_id
                            .and_then(|id| ids_in_batch.get(&id).copied())
                    });
                if let Some((index, leaf_hash)) = known {
                    results.push(Sequenced {
                        index,
                        leaf_hash,
                        duplicate: true,
                    });
                    continue;
                }
                let index = self.range.size();
                if let Some(guard) = &entry.guard {
                    if let Some(e) = first_ended(&guard.lineage, &mut |h| ended.get(h).copied()) {
                        // Refused with this request, the ending record
                        // gets no index: name its place in the request.
                        let by = own_ends
                            .get(&e.end.index)
                            .map(|p| format!("entry {p} of this request"));
                        let message = e.message(guard.kind, by.as_deref());
                        refused = Some(SubmitError::Ended(if count == 1 {
                            message
                        } else {
                            format!("entry {position}: {message}")
                        }));
                        continue;
                    }
                    if let Some((credential, ending)) = guard.ends
                        && !ended.contains_key(&credential)
                    {
                        let end = CredentialEnd { ending, index };
                        ended.insert(credential, end);
                        own_ends.insert(index, position);
                        commit.credential_ends.push((credential, end));
                    }
                }
                self.range.append(hash, |id, h| commit.nodes.push((id, h)));
                in_batch.insert(hash, index);
                if let Some(id) = entry.submission_id {
                    ids_in_batch.insert(id, (index, hash));
                    commit.submissions.push((id, index, hash));
                }
                commit.entries.push((entry.bytes, hash));
                results.push(Sequenced {
                    index,
                    leaf_hash: hash,
                    duplicate: false,
                });
            }
            if let Some(refused) = refused {
                let (range, entries, nodes, submissions, ends) = mark;
                self.range = range;
                for (_, hash) in commit.entries.drain(entries..) {
                    in_batch.remove(&hash);
                }
                commit.nodes.truncate(nodes);
                for (id, _, _) in commit.submissions.drain(submissions..) {
                    ids_in_batch.remove(&id);
                }
                for (credential, _) in commit.credential_ends.drain(ends..) {
                    ended.remove(&credential);
                }
                answers.push((sub.reply, Err(refused)));
            } else {
                answers.push((sub.reply, Ok(results)));
            }
        }
        if commit.entries.is_empty() {
            // Only duplicates: nothing to write, the current head covers them.
            return Ok((answers, self.head.borrow().clone()));
        }
        let fail = |answers: Vec<(oneshot::Sender<_>, _)>, e: String| {
            Err((answers.into_iter().map(|(r, _)| r).collect(), e))
        };
        let t_sign = Instant::now();
        let signed = tracing::debug_span!("sign").in_scope(|| sign(&self.keys, &self.range));
        let note = match signed {
            Ok(note) => note,
            Err(e) => {
                self.range = before;
                return fail(answers, e.to_string());
            }
        };
        commit.size = self.range.size();
        commit.note = note.clone();
        let t_commit = Instant::now();
        let committed = tracing::debug_span!("commit", entries = commit.entries.len())
            .in_scope(|| self.storage.commit(&commit));
        if let Err(e) = committed {
            self.range = before;
            return fail(answers, e.to_string());
        }
        tracing::debug!(
            entries = commit.entries.len(),
            size = commit.size,
            sign_us = (t_commit - t_sign).as_micros() as u64,
            commit_us = t_commit.elapsed().as_micros() as u64,
            "batch committed"
        );
        let head = Arc::new(TreeHead {
            size: self.range.size(),
            root: self.range.root(),
            note,
            trace,
        });
        metrics()
            .batch_entries
            .record(commit.entries.len() as u64, &[]);
        metrics().tree_size.record(head.size, &[]);
        self.head.send_replace(head.clone());
        Ok((answers, head))
    }
}
