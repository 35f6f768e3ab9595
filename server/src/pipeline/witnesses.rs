//! The log's side of C2SP tlog-witness: asking one witness to cosign a
//! checkpoint.
//!
//! Each witness remembers the size it last cosigned; the log must send a
//! consistency proof from exactly that size. The log keeps a hint per
//! witness, and a 409 answer with `text/x.tlog.size` corrects it, after
//! which the request is retried once with the right proof. Any other
//! refusal (403, 404, 422, a 409 without a size) is a configuration error
//! or a sign that the witness saw a different history; those are reported,
//! never retried blindly.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use causeway_tlog::note::{Note, NoteSignature, NoteVerifier as _, SignatureType, VerifierKey};
use causeway_tlog::witness::{
    ADD_CHECKPOINT_PATH, AddCheckpointRequest, SIZE_CONTENT_TYPE, parse_size_body,
};

use crate::head::TreeHead;
use crate::storage::Storage;
use crate::storage::proof::consistency_proof;
use crate::telemetry::error_chain;

/// A witness the log asks for cosignatures: `VKEY@URL` on the command line.
#[derive(Clone, Debug)]
pub struct WitnessEndpoint {
    /// The witness's cosignature/v1 verifier key.
    pub key: VerifierKey,
    /// The witness's submission prefix (`add-checkpoint` is appended).
    pub url: String,
}

/// A `--witness` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--witness {value:?}: {reason}")]
pub struct EndpointError {
    value: String,
    reason: String,
}

impl FromStr for WitnessEndpoint {
    type Err = EndpointError;

    fn from_str(value: &str) -> Result<Self, EndpointError> {
        let err = |reason: &str| EndpointError {
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        // A vkey is name+id+base64: base64 has no '@', so the first '@'
        // after the second '+' ends the key.
        let key_end = value
            .match_indices('+')
            .nth(1)
            .and_then(|(plus, _)| value[plus..].find('@').map(|at| plus + at))
            .ok_or_else(|| {
                err("expected VKEY@URL, e.g. witness.example/w1+1234abcd+BA…@http://127.0.0.1:7410")
            })?;
        let key = VerifierKey::parse(&value[..key_end]).map_err(|e| err(&e.to_string()))?;
        if key.kind() != SignatureType::Cosignature {
            return Err(err(
                "the key must be a cosignature/v1 (type 0x04) witness key, as printed by `causeway-witness init`",
            ));
        }
        let url = value[key_end + 1..].trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(err("the URL must start with http:// or https://"));
        }
        Ok(WitnessEndpoint { key, url })
    }
}

/// Why a witness did not cosign.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CosignError {
    /// The request did not complete (connection, timeout, body).
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The witness has cosigned a larger tree than the log has.
    #[error(
        "the witness has cosigned size {witness}, but this log's tree has only {log} leaves: the log lost acknowledged entries or another instance signs with this log's key"
    )]
    WitnessAhead {
        /// The witness's size.
        witness: u64,
        /// The log's size.
        log: u64,
    },
    /// The witness refused the checkpoint as conflicting with its history.
    #[error(
        "refused the checkpoint as inconsistent with what it cosigned before (HTTP {status}: {body}); another instance may be signing with this log's key"
    )]
    Conflict {
        /// The HTTP status.
        status: u16,
        /// The witness's explanation.
        body: String,
    },
    /// The witness does not know or trust this log.
    #[error(
        "does not trust this log (HTTP {status}: {body}); the witness operator must add the log's Ed25519 vkey with `causeway-witness --log VKEY`"
    )]
    Untrusted {
        /// The HTTP status.
        status: u16,
        /// The witness's explanation.
        body: String,
    },
    /// Any other answer.
    #[error("unexpected answer (HTTP {status}: {body})")]
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// The body, shortened.
        body: String,
    },
    /// A 200 without a valid cosignature from the configured key.
    #[error("answered without a valid cosignature from {key}: {reason}")]
    BadCosignature {
        /// The configured key.
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// The proof for the witness could not be built.
    #[error("cannot build the consistency proof: {0}")]
    Proof(String),
    /// The log is backing off from this witness after failures. (The
    /// message leaves out the remaining time so that repeated stall
    /// reports compare equal and are not logged again and again.)
    #[error("retrying shortly after: {last}")]
    BackingOff {
        /// Time until the next attempt.
        retry_in: Duration,
        /// The last failure.
        last: String,
    },
    /// A request to this witness is still running.
    #[error("still busy with an earlier request")]
    Busy,
}

impl CosignError {
    /// A short name for metrics (`causeway.witness.failures`).
    pub fn reason(&self) -> &'static str {
        match self {
            CosignError::Unreachable(_) => "unreachable",
            CosignError::WitnessAhead { .. } => "witness_ahead",
            CosignError::Conflict { .. } => "conflict",
            CosignError::Untrusted { .. } => "untrusted",
            CosignError::Unexpected { .. } => "unexpected",
            CosignError::BadCosignature { .. } => "bad_cosignature",
            CosignError::Proof(_) => "proof",
            CosignError::BackingOff { .. } => "backing_off",
            CosignError::Busy => "busy",
        }
    }
}

/// The shortest and longest pause after a witness failed.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(5));

struct State {
    /// The size we believe the witness last cosigned.
    known_size: Option<u64>,
    busy: bool,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: String,
}

/// A client for one witness, shared by the publisher's rounds.
pub struct WitnessClient {
    endpoint: WitnessEndpoint,
    http: reqwest::Client,
    timeout: Duration,
    state: Mutex<State>,
}

impl WitnessClient {
    /// A client for `endpoint`; each request gives up after `timeout`.
    pub fn new(endpoint: WitnessEndpoint, http: reqwest::Client, timeout: Duration) -> Self {
        WitnessClient {
            endpoint,
            http,
            timeout,
            state: Mutex::new(State {
                known_size: None,
                busy: false,
                failures: 0,
                retry_at: None,
                last_error: String::new(),
            }),
        }
    }

    /// The witness's key name, for messages.
    pub fn name(&self) -> &str {
        self.endpoint.key.name().as_str()
    }

    /// The witness's verifier key.
    pub fn key(&self) -> &VerifierKey {
        &self.endpoint.key
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a few plain fields: a panic elsewhere cannot leave
        // it half-updated in a way that matters.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claims the witness for one request, unless one is running or the
    /// witness is in backoff. `hint` seeds the size the first request uses.
    ///
    /// # Errors
    /// [`CosignError::Busy`] or [`CosignError::BackingOff`].
    pub fn begin(&self, hint: u64) -> Result<(), CosignError> {
        let mut s = self.lock();
        if s.busy {
            return Err(CosignError::Busy);
        }
        if let Some(at) = s.retry_at {
            let now = Instant::now();
            if at > now {
                return Err(CosignError::BackingOff {
                    retry_in: at - now,
                    last: s.last_error.clone(),
                });
            }
        }
        s.known_size.get_or_insert(hint);
        s.busy = true;
        Ok(())
    }

    fn finish(&self, result: &Result<NoteSignature, CosignError>) {
        let mut s = self.lock();
        s.busy = false;
        match result {
            Ok(_) => {
                s.failures = 0;
                s.retry_at = None;
            }
            Err(e) => {
                s.failures = s.failures.saturating_add(1);
                let pause = BACKOFF
                    .0
                    .saturating_mul(1 << s.failures.min(5).saturating_sub(1))
                    .min(BACKOFF.1);
                s.retry_at = Some(Instant::now() + pause);
                s.last_error = e.to_string();
            }
        }
    }

    /// Asks the witness to cosign `head`; call after a successful
    /// [`WitnessClient::begin`]. Returns the witness's cosignature.
    ///
    /// # Errors
    /// [`CosignError`] describing why the witness did not cosign.
    pub async fn cosign(
        &self,
        head: &TreeHead,
        storage: &Arc<dyn Storage>,
    ) -> Result<NoteSignature, CosignError> {
        let result = self.try_cosign(head, storage).await;
        self.finish(&result);
        result
    }

    async fn try_cosign(
        &self,
        head: &TreeHead,
        storage: &Arc<dyn Storage>,
    ) -> Result<NoteSignature, CosignError> {
        let mut old = self.lock().known_size.unwrap_or(0);
        // One retry after a 409 that tells us the witness's real size.
        for _ in 0..2 {
            if old > head.size {
                return Err(CosignError::WitnessAhead {
                    witness: old,
                    log: head.size,
                });
            }
            let proof = if old == 0 || old == head.size {
                Vec::new()
            } else {
                let storage = storage.clone();
                let new = head.size;
                tokio::task::spawn_blocking(move || consistency_proof(&*storage, old, new))
                    .await
                    .map_err(|e| CosignError::Proof(e.to_string()))?
                    .map_err(|e| CosignError::Proof(e.to_string()))?
            };
            let body = AddCheckpointRequest {
                old_size: old,
                proof,
                checkpoint: head.note.as_bytes().to_vec(),
            }
            .to_bytes();
            let response = self
                .http
                .post(format!("{}{ADD_CHECKPOINT_PATH}", self.endpoint.url))
                .timeout(self.timeout)
                .body(body)
                .send()
                .await
                .map_err(|e| CosignError::Unreachable(error_chain(&e)))?;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = response
                .bytes()
                .await
                .map_err(|e| CosignError::Unreachable(error_chain(&e)))?;
            match status {
                200 => {
                    let sig = self.check_cosignature(head, &bytes)?;
                    self.lock().known_size = Some(head.size);
                    return Ok(sig);
                }
                409 if content_type.as_deref() == Some(SIZE_CONTENT_TYPE) => {
                    let size = parse_size_body(&bytes).map_err(|e| CosignError::Unexpected {
                        status,
                        body: e.to_string(),
                    })?;
                    tracing::debug!(
                        witness = self.name(),
                        hint = old,
                        size,
                        "witness corrected our size hint"
                    );
                    self.lock().known_size = Some(size);
                    old = size;
                }
                409 | 422 => {
                    return Err(CosignError::Conflict {
                        status,
                        body: short(&bytes),
                    });
                }
                403 | 404 => {
                    return Err(CosignError::Untrusted {
                        status,
                        body: short(&bytes),
                    });
                }
                _ => {
                    return Err(CosignError::Unexpected {
                        status,
                        body: short(&bytes),
                    });
                }
            }
        }
        Err(CosignError::Unexpected {
            status: 409,
            body: "the witness changed its size twice during one request".into(),
        })
    }

    /// Finds this witness's cosignature among the answer's lines and checks
    /// it over the checkpoint: lines from other keys are ignored, as the
    /// spec asks.
    fn check_cosignature(
        &self,
        head: &TreeHead,
        body: &[u8],
    ) -> Result<NoteSignature, CosignError> {
        let bad = |reason: String| CosignError::BadCosignature {
            key: self.endpoint.key.to_string(),
            reason,
        };
        let text = head
            .body()
            .ok_or_else(|| bad("the log's own note has no signatures".into()))?;
        let body = std::str::from_utf8(body).map_err(|_| bad("the answer is not UTF-8".into()))?;
        // The answer is signature lines: parse them as the signature block
        // of a note over our checkpoint text.
        let note = Note::parse(format!("{text}\n{body}").as_bytes())
            .map_err(|e| bad(format!("malformed signature lines: {e}")))?;
        let key = &self.endpoint.key;
        note.signatures()
            .iter()
            .find(|s| s.name() == key.name() && s.key_id() == key.key_id())
            .filter(|s| key.verify(text.as_bytes(), s.signature()))
            .cloned()
            .ok_or_else(|| bad("no line from this key verifies".into()))
    }
}

fn short(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]);
    text.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_tlog::note::{CosignatureSigner, KeyName};

    #[test]
    fn parses_witness_flags() {
        let signer = CosignatureSigner::generate(
            KeyName::new("witness.example/w1").unwrap(),
            &mut rand::thread_rng(),
        );
        let vkey = signer.verifier().to_string();
        let e: WitnessEndpoint = format!("{vkey}@http://127.0.0.1:7410/").parse().unwrap();
        assert_eq!(e.url, "http://127.0.0.1:7410");
        assert_eq!(e.key, signer.verifier());
        // A URL with user info keeps its own '@'.
        let e: WitnessEndpoint = format!("{vkey}@https://u@w.example/prefix")
            .parse()
            .unwrap();
        assert_eq!(e.url, "https://u@w.example/prefix");
        assert!(vkey.parse::<WitnessEndpoint>().is_err());
        assert!(
            format!("{vkey}@ftp://x")
                .parse::<WitnessEndpoint>()
                .is_err()
        );
        // A log key (Ed25519, 0x01) is not a witness key.
        let log = causeway_tlog::note::Ed25519Signer::generate(
            KeyName::new("log.example").unwrap(),
            &mut rand::thread_rng(),
        );
        let err = format!("{}@http://x", log.verifier())
            .parse::<WitnessEndpoint>()
            .unwrap_err();
        assert!(err.to_string().contains("type 0x04"), "{err}");
    }
}
