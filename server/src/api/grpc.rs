//! The `causeway.v1.Log` gRPC service. Handlers only translate between
//! protobuf and the [`Reader`] / [`Leadership`]'s sequencer; errors become
//! gRPC statuses in [`super::status`] (and the request limits here). Every
//! read runs off the async workers ([`Reader::off_worker`]), as the tile
//! API's do.

use causeway_api::v1::log_server::Log;
use causeway_api::v1::{
    AddEntriesRequest, AddEntriesResponse, AddedEntry, Anchor, AnchorInfo, Checkpoint,
    ConsistencyProof, Entry, GetAnchorRequest, GetCheckpointRequest, GetConsistencyProofRequest,
    GetEntriesRequest, GetEntriesResponse, GetInclusionProofRequest, InclusionProof,
    ListAnchorsRequest, ListAnchorsResponse, WatchCheckpointsRequest,
    get_inclusion_proof_request::Leaf,
};
use causeway_tlog::merkle::{Hash, leaf_hash};
use causeway_tlog::tiles::MAX_ENTRY_SIZE;
use std::time::Instant;

use tonic::{Request, Response, Status};

use std::sync::Arc;

use tokio::sync::watch;

use super::status;
use super::tls::Peer;
use crate::election::Leadership;
use crate::head::{PublishedView, TreeHead};
use crate::pipeline::admission::{Admission, Checked};
use crate::pipeline::rate_limit::RateLimiter;
use crate::pipeline::sequencer::{NewEntry, SubmitError};
use crate::reader::Reader;
use crate::telemetry::{metrics, reason};
use tracing::Instrument as _;

/// Request limits enforced by the service.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The most entries one `AddEntries` call may carry.
    pub max_request_entries: usize,
    /// Governance records under a policy, or opaque bytes.
    pub admission: Admission,
    /// Records per second per producer, if limited.
    pub rate_limit: Option<Arc<RateLimiter>>,
    /// Whether submitting needs a verified client certificate (mutual
    /// TLS); the certificate then names the producer for rate limits.
    pub client_certificates: bool,
}

/// The gRPC service.
pub struct LogService {
    reader: Reader,
    writes: Leadership,
    limits: Limits,
    stop: watch::Receiver<bool>,
}

impl LogService {
    /// A service over a reader and the write access. Streams end once
    /// `stop` turns true, so that shutdown does not wait for watchers.
    pub fn new(
        reader: Reader,
        writes: Leadership,
        limits: Limits,
        stop: watch::Receiver<bool>,
    ) -> Self {
        LogService {
            reader,
            writes,
            limits,
            stop,
        }
    }
}

/// The stream behind `WatchCheckpoints`.
pub type CheckpointStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<Checkpoint, Status>> + Send>>;

/// Yields the published checkpoint whenever it changes, until `stop`.
fn watch_checkpoints(view: PublishedView, stop: watch::Receiver<bool>) -> CheckpointStream {
    struct State {
        view: PublishedView,
        stop: watch::Receiver<bool>,
        last: Option<Arc<TreeHead>>,
    }
    let state = State {
        view,
        stop,
        last: None,
    };
    Box::pin(futures::stream::unfold(state, |mut s| async move {
        loop {
            if *s.stop.borrow() {
                return None;
            }
            if let Some(current) = s.view.current()
                && s.last.as_ref().is_none_or(|l| !Arc::ptr_eq(l, &current))
            {
                s.last = Some(current.clone());
                return Some((Ok(checkpoint_message(&current)), s));
            }
            tokio::select! {
                changed = s.view.changed() => if !changed { return None },
                _ = s.stop.changed() => {}
            }
        }
    }))
}

fn checkpoint_message(p: &TreeHead) -> Checkpoint {
    Checkpoint {
        note: p.note.clone(),
        tree_size: p.size,
        root_hash: p.root.as_bytes().to_vec(),
    }
}

/// Wraps a reply with a `server-timing` header (the HTTP Server-Timing
/// format, milliseconds) so clients and load generators can tell server
/// work from network time.
fn timed<T>(message: T, name: &str, started: Instant) -> Response<T> {
    let mut response = Response::new(message);
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = format!("{name};dur={ms:.3}").parse() {
        response.metadata_mut().insert("server-timing", v);
    }
    response
}

fn hashes(hs: Vec<Hash>) -> Vec<Vec<u8>> {
    hs.into_iter().map(|h| h.as_bytes().to_vec()).collect()
}

/// Checks each entry and computes its leaf hash.
fn validate_entries(
    entries: Vec<Vec<u8>>,
    limits: &Limits,
) -> Result<Vec<(Vec<u8>, Hash)>, Status> {
    if entries.is_empty() {
        return Err(Status::invalid_argument("the request has no entries"));
    }
    if entries.len() > limits.max_request_entries {
        return Err(Status::resource_exhausted(format!(
            "the request has {} entries; the limit is {} per request (--max-request-entries): split it",
            entries.len(),
            limits.max_request_entries
        )));
    }
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            if e.is_empty() {
                return Err(Status::invalid_argument(format!("entry {i} is empty; entries must have 1 to {MAX_ENTRY_SIZE} bytes")));
            }
            if e.len() > MAX_ENTRY_SIZE {
                return Err(Status::invalid_argument(format!(
                    "entry {i} is {} bytes; the limit is {MAX_ENTRY_SIZE} bytes (C2SP tlog-tiles entry bundles carry a 16-bit length)",
                    e.len()
                )));
            }
            let h = leaf_hash(&e);
            Ok((e, h))
        })
        .collect()
}

/// Who produced each entry, for rate limits: what admission named (the
/// root credential of a session-key record, else the signing key), or the
/// client's address for opaque entries.
fn producers(checked: &[Checked], peer: Option<&str>) -> std::collections::HashMap<String, usize> {
    let mut counts = std::collections::HashMap::new();
    for c in checked {
        let producer = c
            .producer
            .clone()
            .unwrap_or_else(|| format!("address {}", peer.unwrap_or("unknown")));
        *counts.entry(producer).or_insert(0) += 1;
    }
    counts
}

/// A refused `AddEntries`: its status and a short reason for the
/// `causeway.rejections` metric.
struct Rejected {
    status: Status,
    reason: &'static str,
}

impl From<Status> for Rejected {
    fn from(status: Status) -> Self {
        let reason = match status.code() {
            tonic::Code::InvalidArgument => "invalid_argument",
            tonic::Code::PermissionDenied => "permission_denied",
            tonic::Code::FailedPrecondition => "failed_precondition",
            tonic::Code::ResourceExhausted => "too_large",
            tonic::Code::Unavailable => "unavailable",
            tonic::Code::Unauthenticated => "unauthenticated",
            _ => "internal",
        };
        Rejected { status, reason }
    }
}

impl LogService {
    /// `AddEntries`: check, rate-limit, sequence; answers once durable.
    async fn submit(
        &self,
        request: Request<AddEntriesRequest>,
    ) -> Result<Response<AddEntriesResponse>, Rejected> {
        let started = Instant::now();
        // A standby refuses before doing any work, naming the leader.
        let sequencer = self.writes.sequencer().map_err(|not| Rejected {
            status: status::not_leader(&not),
            reason: "not_leader",
        })?;
        let peer = request
            .extensions()
            .get::<Peer>()
            .cloned()
            .unwrap_or_default();
        let identity = peer.certificate_identity();
        if self.limits.client_certificates && identity.is_none() {
            return Err(Rejected {
                status: Status::unauthenticated(
                    "this log accepts entries only from producers with a client certificate \
                     (mutual TLS): connect with --tls-cert and --tls-key, a certificate issued \
                     by the CA of the server's --tls-client-ca",
                ),
                reason: "unauthenticated",
            });
        }
        let span = tracing::debug_span!("validate");
        let mut entries =
            span.in_scope(|| validate_entries(request.into_inner().entries, &self.limits))?;
        let mut checked = vec![Checked::default(); entries.len()];
        if let Admission::Records(_) = &self.limits.admission {
            // Reference lookups read storage: keep them off the async workers.
            let (admission, reader) = (self.limits.admission.clone(), self.reader.clone());
            let span = span.clone();
            (entries, checked) = tokio::task::spawn_blocking(move || {
                span.in_scope(|| {
                    admission
                        .check(reader.storage(), reader.head_size(), &entries)
                        .map(|checked| (entries, checked))
                })
            })
            .await
            .map_err(|e| Status::internal(format!("validation task failed: {e}")))?
            .map_err(status::admission)?;
        }
        drop(span);
        if let Some(limiter) = &self.limits.rate_limit {
            let counts = match &identity {
                Some(certificate) => [(certificate.clone(), entries.len())].into(),
                None => producers(&checked, peer.addr.map(|a| a.ip().to_string()).as_deref()),
            };
            limiter
                .take(&counts, Instant::now())
                .map_err(|limited| Rejected {
                    status: Status::resource_exhausted(limited.to_string()),
                    reason: "rate_limited",
                })?;
        }
        let entries = entries
            .into_iter()
            .zip(checked)
            .map(|((bytes, leaf_hash), checked)| NewEntry {
                bytes,
                leaf_hash,
                submission_id: checked.submission_id,
                guard: checked.guard,
            })
            .collect();
        let accepted = sequencer
            .submit_entries(entries)
            .instrument(tracing::debug_span!("sequence"))
            .await
            .map_err(|e| Rejected {
                reason: match e {
                    SubmitError::Busy { .. } => "queue_full",
                    SubmitError::ShuttingDown => "shutting_down",
                    SubmitError::Storage(_) => "storage",
                    SubmitError::Ended(_) => "permission_denied",
                },
                status: status::submit(e),
            })?;
        let reply = AddEntriesResponse {
            entries: accepted
                .entries
                .into_iter()
                .map(|s| AddedEntry {
                    index: s.index,
                    leaf_hash: s.leaf_hash.as_bytes().to_vec(),
                    duplicate: s.duplicate,
                })
                .collect(),
            checkpoint: Some(checkpoint_message(&accepted.checkpoint)),
        };
        Ok(timed(reply, "sequence", started))
    }
}

/// The most anchors one `ListAnchors` page returns.
pub const MAX_ANCHORS_PAGE: usize = 1000;

#[tonic::async_trait]
impl Log for LogService {
    type WatchCheckpointsStream = CheckpointStream;

    async fn get_anchor(
        &self,
        request: Request<GetAnchorRequest>,
    ) -> Result<Response<Anchor>, Status> {
        let size = request.into_inner().tree_size;
        let (anchor, note) = self
            .reader
            .off_worker(move |r| r.anchor(size))
            .await
            .map_err(status::read)?;
        Ok(Response::new(Anchor {
            tree_size: anchor.size,
            timestamp_response: anchor.der,
            checkpoint_note: note,
            gen_time: anchor.gen_time,
        }))
    }

    async fn list_anchors(
        &self,
        request: Request<ListAnchorsRequest>,
    ) -> Result<Response<ListAnchorsResponse>, Status> {
        let req = request.into_inner();
        let limit = match req.limit {
            0 => MAX_ANCHORS_PAGE,
            n => (n as usize).min(MAX_ANCHORS_PAGE),
        };
        let start = req.start_size;
        let anchors = self
            .reader
            .off_worker(move |r| Ok(r.storage().anchors(start, limit)?))
            .await
            .map_err(status::read)?;
        Ok(Response::new(ListAnchorsResponse {
            anchors: anchors
                .into_iter()
                .map(|(tree_size, gen_time)| AnchorInfo {
                    tree_size,
                    gen_time,
                })
                .collect(),
        }))
    }

    async fn watch_checkpoints(
        &self,
        _request: Request<WatchCheckpointsRequest>,
    ) -> Result<Response<CheckpointStream>, Status> {
        Ok(Response::new(watch_checkpoints(
            self.reader.subscribe(),
            self.stop.clone(),
        )))
    }

    async fn add_entries(
        &self,
        request: Request<AddEntriesRequest>,
    ) -> Result<Response<AddEntriesResponse>, Status> {
        let span = tracing::debug_span!("submit", entries = request.get_ref().entries.len());
        self.submit(request)
            .instrument(span)
            .await
            .map_err(|rejected| {
                metrics().rejections.add(1, &reason(rejected.reason));
                rejected.status
            })
    }

    async fn get_checkpoint(
        &self,
        request: Request<GetCheckpointRequest>,
    ) -> Result<Response<Checkpoint>, Status> {
        let size = request.into_inner().tree_size;
        let p = self
            .reader
            .off_worker(move |r| r.checkpoint(size))
            .await
            .map_err(status::read)?;
        Ok(Response::new(checkpoint_message(&p)))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<GetInclusionProofRequest>,
    ) -> Result<Response<InclusionProof>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        let leaf = match req.leaf {
            Some(Leaf::LeafIndex(i)) => Ok(i),
            Some(Leaf::LeafHash(h)) => Err(Hash::try_from(h.as_slice())
                .map_err(|e| Status::invalid_argument(format!("leaf_hash: {e}")))?),
            None => return Err(Status::invalid_argument("set leaf_index or leaf_hash")),
        };
        let size = req.tree_size;
        let p = self
            .reader
            .off_worker(move |r| {
                let index = match leaf {
                    Ok(index) => index,
                    Err(hash) => r.leaf_index(&hash)?,
                };
                r.inclusion_proof(index, size)
            })
            .await
            .map_err(status::read)?;
        let reply = InclusionProof {
            leaf_index: p.leaf_index,
            tree_size: p.tree_size,
            leaf_hash: p.leaf_hash.as_bytes().to_vec(),
            hashes: hashes(p.hashes),
        };
        Ok(timed(reply, "proof", started))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<GetConsistencyProofRequest>,
    ) -> Result<Response<ConsistencyProof>, Status> {
        let req = request.into_inner();
        let (old, new) = (req.old_size, req.new_size);
        let (new_size, proof) = self
            .reader
            .off_worker(move |r| r.consistency_proof(old, new))
            .await
            .map_err(status::read)?;
        Ok(Response::new(ConsistencyProof {
            old_size: req.old_size,
            new_size,
            hashes: hashes(proof),
        }))
    }

    async fn get_entries(
        &self,
        request: Request<GetEntriesRequest>,
    ) -> Result<Response<GetEntriesResponse>, Status> {
        let req = request.into_inner();
        let (start, count) = (req.start, req.count);
        let entries = self
            .reader
            .off_worker(move |r| r.entries(start, count))
            .await
            .map_err(status::read)?;
        Ok(Response::new(GetEntriesResponse {
            entries: (req.start..)
                .zip(entries)
                .map(|(index, data)| Entry { index, data })
                .collect(),
        }))
    }
}
