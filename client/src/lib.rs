//! Causeway client library: talk to a log over gRPC and verify what it
//! says before believing it.
//!
//! * [`LogClient`]: a thin gRPC client returning checked types.
//! * [`audit`]: the auditor's analysis of a whole log, pure: records
//!   re-validated, the causal DAG, red flags and the CC8.1 matrix.
//! * [`auditor`]: the auditor's checks of a whole log before analysis:
//!   listed anchors, the tree recomputed from every entry, each anchored
//!   checkpoint on that tree.
//! * [`audit_html`]: the self-contained HTML audit report.
//! * [`audit_state`]: the auditor's own SQLite evidence store
//!   (`causeway audit --state`), its fork check, and the offline queries
//!   of `causeway find`.
//! * [`bundle`]: proof bundles of one record and its causal ancestors,
//!   built from a log and checked offline.
//! * [`evidence`]: checking a witness's split-view evidence offline.
//! * [`clock`]: the time a record made now carries.
//! * [`demo`]: a realistic, signed causal chain of governance records.
//! * [`monitor`]: following a log: each checkpoint extends the last, and
//!   a witness's is on the same tree.
//! * [`submit`]: batches under the server's limits, a standby's refusal
//!   followed to its leader, acknowledgements checked.
//! * [`tiles`]: roots, proofs and whole-tree checks computed from C2SP
//!   tlog-tiles, and incremental static mirrors.
//! * [`verify`]: checkpoint and proof verification against the log's keys,
//!   with no I/O (usable offline on saved data). A
//!   [`verify::VerifiedCheckpoint`] can only come from
//!   [`verify::verify_checkpoint`]; reading a checkpoint without the keys is
//!   the separate, named [`verify::read_unverified`].
//! * [`visible`]: record text with its invisible characters dropped, for
//!   people to read.
//!
//! The `causeway` command line (`src/bin/causeway/`, one module per command
//! group) only reads its arguments, calls these and prints.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod approve;
pub mod audit;
pub mod audit_html;
pub mod audit_state;
pub mod auditor;
pub mod bundle;
pub mod clock;
pub mod demo;
pub mod evidence;
pub mod issuer;
pub mod monitor;
pub mod submit;
pub mod tiles;
pub mod verify;
pub mod visible;

use causeway_api::v1;
use causeway_api::v1::log_client::LogClient as GrpcClient;
use causeway_tlog::merkle::{Hash, HashLengthError};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// The default gRPC endpoint of a local log.
pub const DEFAULT_LOG_URL: &str = "http://127.0.0.1:7400";

/// Client-side TLS settings (PEM bytes, read by the caller).
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    /// The CA certificate(s) to trust for the log's certificate; `None`
    /// trusts the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// The client certificate chain and private key, for mutual TLS.
    pub identity_pem: Option<(Vec<u8>, Vec<u8>)>,
}

/// Where the log is and how to reach it.
#[derive(Clone, Debug)]
pub struct LogTarget {
    /// The gRPC URL, `http://` or `https://`.
    pub url: String,
    /// TLS settings for an `https://` URL.
    pub tls: TlsSettings,
}

impl LogTarget {
    /// A plain target (no TLS settings).
    pub fn plain(url: &str) -> Self {
        LogTarget {
            url: url.to_owned(),
            tls: TlsSettings::default(),
        }
    }

    /// Connects to it.
    ///
    /// # Errors
    /// See [`LogClient::connect_with`].
    pub async fn connect(&self) -> Result<LogClient, ClientError> {
        LogClient::connect_with(&self.url, &self.tls).await
    }
}

/// A client-side failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not a valid endpoint.
    #[error("invalid log URL {0:?}: {1}")]
    BadUrl(String, String),
    /// The connection could not be made.
    #[error("cannot connect to the log at {0}: {1}; is causeway-server running there?")]
    Connect(String, String),
    /// The server answered with a gRPC error.
    #[error("the log answered {code:?}: {message}", code = .0.code(), message = .0.message())]
    Status(tonic::Status),
    /// The server's answer is malformed.
    #[error("malformed answer from the log: {0}")]
    Malformed(String),
}

impl From<tonic::Status> for ClientError {
    fn from(s: tonic::Status) -> Self {
        ClientError::Status(s)
    }
}

pub use causeway_api::LEADER_METADATA;

impl ClientError {
    /// The gRPC code, if the server answered with an error status.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            ClientError::Status(s) => Some(s.code()),
            _ => None,
        }
    }

    /// Whether the call failed in transport (the connection could not be
    /// made, or broke mid-call: a server killed or restarting) rather than
    /// being answered by the server. tonic reports a broken connection with
    /// various codes (UNKNOWN, CANCELLED, UNAVAILABLE), but always with the
    /// transport error as the status's source.
    pub fn is_transport(&self) -> bool {
        match self {
            ClientError::Connect(..) => true,
            ClientError::Status(s) => std::error::Error::source(s).is_some(),
            _ => false,
        }
    }

    /// The leader's gRPC URL, when a standby of a replicated log refused
    /// a write (`UNAVAILABLE` with `causeway-leader` metadata).
    pub fn leader(&self) -> Option<String> {
        match self {
            ClientError::Status(s) if s.code() == tonic::Code::Unavailable => s
                .metadata()
                .get(LEADER_METADATA)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            _ => None,
        }
    }
}

impl From<HashLengthError> for ClientError {
    fn from(e: HashLengthError) -> Self {
        ClientError::Malformed(e.to_string())
    }
}

/// One accepted entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Added {
    /// The entry's index.
    pub index: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// Whether it was already in the log.
    pub duplicate: bool,
}

/// What the log returned for an `AddEntries` call.
#[derive(Clone, Debug)]
pub struct AddResult {
    /// One per entry sent, in order.
    pub entries: Vec<Added>,
    /// The signed note of a checkpoint covering every entry.
    pub checkpoint_note: String,
}

/// A proof as fetched, before verification.
#[derive(Clone, Debug)]
pub struct FetchedInclusion {
    /// The leaf index.
    pub leaf_index: u64,
    /// The tree size.
    pub tree_size: u64,
    /// The leaf hash.
    pub leaf_hash: Hash,
    /// The audit path.
    pub proof: Vec<Hash>,
}

/// An RFC 3161 anchor as fetched, before verification.
#[derive(Clone, Debug)]
pub struct FetchedAnchor {
    /// The anchored tree size.
    pub tree_size: u64,
    /// The DER TimeStampResp.
    pub timestamp_response: Vec<u8>,
    /// The signed checkpoint note at that size.
    pub checkpoint_note: String,
    /// The genTime the server read from the token (verify it yourself).
    pub gen_time: i64,
}

/// A gRPC client of `causeway.v1.Log`.
#[derive(Clone)]
pub struct LogClient {
    inner: GrpcClient<Channel>,
}

fn hashes(raw: Vec<Vec<u8>>) -> Result<Vec<Hash>, ClientError> {
    raw.iter()
        .map(|h| Ok(Hash::try_from(h.as_slice())?))
        .collect()
}

/// A gRPC channel to `url` (see [`LogClient::connect_with`] for the TLS
/// settings); the issuer's client uses it too.
pub(crate) async fn channel(url: &str, tls: &TlsSettings) -> Result<Channel, ClientError> {
    let mut endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| ClientError::BadUrl(url.to_owned(), e.to_string()))?;
    if url.starts_with("https://") {
        let mut config = ClientTlsConfig::new();
        config = match &tls.ca_pem {
            Some(pem) => config.ca_certificate(Certificate::from_pem(pem)),
            None => config.with_native_roots(),
        };
        if let Some((cert, key)) = &tls.identity_pem {
            config = config.identity(Identity::from_pem(cert, key));
        }
        endpoint = endpoint
            .tls_config(config)
            .map_err(|e| ClientError::BadUrl(url.to_owned(), e.to_string()))?;
    } else if tls.ca_pem.is_some() || tls.identity_pem.is_some() {
        return Err(ClientError::BadUrl(
            url.to_owned(),
            "TLS options (--tls-ca, --tls-cert) need an https:// log URL".into(),
        ));
    }
    endpoint
        .connect()
        .await
        .map_err(|e| ClientError::Connect(url.to_owned(), e.to_string()))
}

impl LogClient {
    /// Connects to a log, e.g. `http://127.0.0.1:7400`.
    ///
    /// # Errors
    /// If the URL is invalid or the log is unreachable.
    pub async fn connect(url: &str) -> Result<Self, ClientError> {
        Self::connect_with(url, &TlsSettings::default()).await
    }

    /// Connects to `url` with TLS settings: an `https://` URL is checked
    /// against `tls.ca_pem` (or the system's roots) and presents
    /// `tls.identity_pem` as the client certificate for mutual TLS.
    ///
    /// # Errors
    /// If the URL is invalid, the TLS settings do not fit it, or the
    /// connection fails.
    pub async fn connect_with(url: &str, tls: &TlsSettings) -> Result<Self, ClientError> {
        let channel = channel(url, tls).await?;
        let inner = GrpcClient::new(channel)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        Ok(LogClient { inner })
    }
    /// Appends entries; returns once they are durable.
    ///
    /// # Errors
    /// On a gRPC error or a malformed answer.
    pub async fn add_entries(&mut self, entries: Vec<Vec<u8>>) -> Result<AddResult, ClientError> {
        let sent = entries.len();
        let resp = self
            .inner
            .add_entries(v1::AddEntriesRequest { entries })
            .await?
            .into_inner();
        if resp.entries.len() != sent {
            return Err(ClientError::Malformed(format!(
                "sent {sent} entries, got {} results",
                resp.entries.len()
            )));
        }
        let entries = resp
            .entries
            .into_iter()
            .map(|e| {
                Ok(Added {
                    index: e.index,
                    leaf_hash: Hash::try_from(e.leaf_hash.as_slice())?,
                    duplicate: e.duplicate,
                })
            })
            .collect::<Result<_, ClientError>>()?;
        let checkpoint_note = resp
            .checkpoint
            .map(|c| c.note)
            .ok_or_else(|| ClientError::Malformed("no checkpoint in the answer".into()))?;
        Ok(AddResult {
            entries,
            checkpoint_note,
        })
    }

    /// The signed note of the latest checkpoint, or of the one at `size`.
    ///
    /// # Errors
    /// On a gRPC error.
    pub async fn checkpoint(&mut self, size: Option<u64>) -> Result<String, ClientError> {
        let resp = self
            .inner
            .get_checkpoint(v1::GetCheckpointRequest { tree_size: size })
            .await?;
        Ok(resp.into_inner().note)
    }

    /// The inclusion proof of a leaf (by index or hash) at `size`.
    ///
    /// # Errors
    /// On a gRPC error or a malformed answer.
    pub async fn inclusion_proof(
        &mut self,
        leaf: LeafRef,
        size: Option<u64>,
    ) -> Result<FetchedInclusion, ClientError> {
        use v1::get_inclusion_proof_request::Leaf;
        let leaf = match leaf {
            LeafRef::Index(i) => Leaf::LeafIndex(i),
            LeafRef::Hash(h) => Leaf::LeafHash(h.as_bytes().to_vec()),
        };
        let p = self
            .inner
            .get_inclusion_proof(v1::GetInclusionProofRequest {
                leaf: Some(leaf),
                tree_size: size,
            })
            .await?
            .into_inner();
        Ok(FetchedInclusion {
            leaf_index: p.leaf_index,
            tree_size: p.tree_size,
            leaf_hash: Hash::try_from(p.leaf_hash.as_slice())?,
            proof: hashes(p.hashes)?,
        })
    }

    /// The consistency proof from `old` to `new` (latest when `None`);
    /// returns the new size and the proof.
    ///
    /// # Errors
    /// On a gRPC error or a malformed answer.
    pub async fn consistency_proof(
        &mut self,
        old: u64,
        new: Option<u64>,
    ) -> Result<(u64, Vec<Hash>), ClientError> {
        let p = self
            .inner
            .get_consistency_proof(v1::GetConsistencyProofRequest {
                old_size: old,
                new_size: new,
            })
            .await?
            .into_inner();
        Ok((p.new_size, hashes(p.hashes)?))
    }

    /// The anchor at `size` (the latest when `None`).
    ///
    /// # Errors
    /// On a gRPC error.
    pub async fn anchor(&mut self, size: Option<u64>) -> Result<FetchedAnchor, ClientError> {
        let a = self
            .inner
            .get_anchor(v1::GetAnchorRequest { tree_size: size })
            .await?
            .into_inner();
        Ok(FetchedAnchor {
            tree_size: a.tree_size,
            timestamp_response: a.timestamp_response,
            checkpoint_note: a.checkpoint_note,
            gen_time: a.gen_time,
        })
    }

    /// Anchored sizes and TSA times from `start` (at most `limit`; 0 for
    /// the server's maximum page).
    ///
    /// # Errors
    /// On a gRPC error.
    pub async fn anchors(
        &mut self,
        start: u64,
        limit: u32,
    ) -> Result<Vec<(u64, i64)>, ClientError> {
        let r = self
            .inner
            .list_anchors(v1::ListAnchorsRequest {
                start_size: start,
                limit,
            })
            .await?
            .into_inner();
        Ok(r.anchors
            .into_iter()
            .map(|a| (a.tree_size, a.gen_time))
            .collect())
    }

    /// Streams published checkpoint notes: the latest at once, then each
    /// newly published one, until the server shuts down.
    ///
    /// # Errors
    /// On a gRPC error opening the stream; the stream yields later errors.
    pub async fn watch_checkpoints(
        &mut self,
    ) -> Result<impl futures::Stream<Item = Result<String, ClientError>> + use<>, ClientError> {
        use futures::StreamExt as _;
        let stream = self
            .inner
            .watch_checkpoints(v1::WatchCheckpointsRequest {})
            .await?
            .into_inner();
        Ok(stream.map(|r| r.map(|c| c.note).map_err(ClientError::from)))
    }

    /// Up to `count` entries from `start` (the server may return fewer).
    ///
    /// # Errors
    /// On a gRPC error or an answer out of order.
    pub async fn entries(&mut self, start: u64, count: u64) -> Result<Vec<Vec<u8>>, ClientError> {
        let resp = self
            .inner
            .get_entries(v1::GetEntriesRequest { start, count })
            .await?
            .into_inner();
        let mut out = Vec::with_capacity(resp.entries.len());
        for (expected, e) in (start..).zip(resp.entries) {
            if e.index != expected {
                return Err(ClientError::Malformed(format!(
                    "entry {} where {expected} was due",
                    e.index
                )));
            }
            out.push(e.data);
        }
        Ok(out)
    }
}

/// A leaf, by index or by leaf hash.
#[derive(Clone, Copy, Debug)]
pub enum LeafRef {
    /// By index.
    Index(u64),
    /// By RFC 6962 leaf hash.
    Hash(Hash),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_failures_and_leader_hints_are_told_apart_from_answers() {
        let answered = ClientError::Status(tonic::Status::unavailable("a standby"));
        assert!(!answered.is_transport());
        assert_eq!(answered.leader(), None);
        let broken = ClientError::Status(tonic::Status::from_error(Box::new(
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        )));
        assert!(broken.is_transport(), "{broken}");
        assert!(ClientError::Connect("http://x".into(), "refused".into()).is_transport());
        let mut hint = tonic::Status::unavailable("a standby");
        hint.metadata_mut()
            .insert(LEADER_METADATA, "http://127.0.0.1:7400".parse().unwrap());
        assert_eq!(
            ClientError::Status(hint).leader().as_deref(),
            Some("http://127.0.0.1:7400")
        );
        let mut not_unavailable = tonic::Status::internal("x");
        not_unavailable
            .metadata_mut()
            .insert(LEADER_METADATA, "http://127.0.0.1:7400".parse().unwrap());
        assert_eq!(ClientError::Status(not_unavailable).leader(), None);
    }
}
