//! `causeway._native`: the Python SDK's core, the same Rust code the log,
//! the CLI and the auditor run. Records are checked and encoded by
//! `causeway-records` (`Record::from_json`), signed over the PAE as the log
//! verifies them, sent with `causeway-client`'s batching and leader
//! following, and checkpoints and proofs are verified by its verifiers.
//! The Python side (`python/causeway/`) only builds the JSON form and
//! shapes the API.
//!
//! Layout: this file holds the records, signing, the log client and the
//! checkpoint and proof verifiers; [`bundle`] verifies offline proof
//! bundles and [`tiles`] verifies from a log's C2SP tiles alone.

mod bundle;
mod tiles;

use causeway_client::verify::{WitnessPolicy, check_inclusion, verify_checkpoint};
use causeway_client::{ClientError, LeafRef, LogClient, LogTarget, TlsSettings, submit};
use causeway_records::{Envelope, EnvelopeSignature, Kind, ProducerKey, Record, key_id, pae};
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{Hash, leaf_hash};
use causeway_tlog::note::VerifierKey;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;

create_exception!(
    _native,
    LogError,
    PyException,
    "The log refused a request or could not be reached: args are (code, message), code the \
     gRPC status name (\"PERMISSION_DENIED\", ...), \"UNREACHABLE\", or, from a tile \
     endpoint, the HTTP status as \"HTTP_404\" and so on."
);
create_exception!(
    _native,
    VerificationError,
    PyException,
    "A checkpoint, signature or proof does not verify."
);

pub(crate) fn invalid(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn log_error(e: &ClientError) -> PyErr {
    let code = match e.code() {
        Some(c) if !e.is_transport() => format!("{c:?}"),
        _ => "Unreachable".to_owned(),
    };
    // tonic's names are CamelCase (PermissionDenied); gRPC's are
    // SCREAMING_SNAKE (PERMISSION_DENIED), which is what users look up.
    let mut name = String::new();
    for (i, ch) in code.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(ch.to_ascii_uppercase());
    }
    let message = match e {
        ClientError::Status(s) => s.message().to_owned(),
        other => other.to_string(),
    };
    LogError::new_err((name, message))
}

/// An error's message followed by its causes', each once: the Rust
/// message a VerificationError carries.
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        // Many messages already end with their source's ("proof: {0}").
        let more = c.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// A verified checkpoint as Python gets it: `(origin, size, root hex,
/// note)`.
pub(crate) type CheckpointFacts = (String, u64, String, String);

pub(crate) fn checkpoint_facts(cp: &Checkpoint, note: &str) -> CheckpointFacts {
    (
        cp.origin().to_owned(),
        cp.size(),
        cp.root().to_hex(),
        note.to_owned(),
    )
}

fn kind(name: &str) -> PyResult<Kind> {
    name.parse().map_err(invalid)
}

pub(crate) fn hash(hex: &str) -> PyResult<Hash> {
    Hash::from_hex(hex).map_err(|_| invalid(format!("{hex:?} is not 64 hex digits")))
}

/// Checks a record's JSON form and returns its canonical JSON.
#[pyfunction]
fn canonical_json(kind_name: &str, json: &str) -> PyResult<String> {
    let record = Record::from_json(kind(kind_name)?, json).map_err(invalid)?;
    Ok(record.to_json().to_string())
}

/// Signs a record (kind, JSON form) with a PKCS#8 PEM ECDSA P-256 key:
/// returns the protobuf `Envelope` bytes the log takes.
#[pyfunction]
fn sign(kind_name: &str, json: &str, key_pem: &str) -> PyResult<Vec<u8>> {
    let record = Record::from_json(kind(kind_name)?, json).map_err(invalid)?;
    let key = ProducerKey::from_pkcs8_pem(key_pem).map_err(invalid)?;
    Ok(Envelope::sign(&record, &key).encode())
}

/// What an external signer (a KMS, an HSM) signs for a record: returns
/// `(payload_type, payload, pae)`. Sign SHA-256 of `pae` with ECDSA P-256
/// and pass the DER signature to [`assemble`].
#[pyfunction]
fn to_sign(kind_name: &str, json: &str) -> PyResult<(String, Vec<u8>, Vec<u8>)> {
    let record = Record::from_json(kind(kind_name)?, json).map_err(invalid)?;
    let payload = record.to_protobuf();
    let payload_type = causeway_records::PAYLOAD_TYPE.to_owned();
    let message = pae(&payload_type, &payload);
    Ok((payload_type, payload, message))
}

/// The envelope of a payload signed elsewhere; the signature is checked
/// against `spki_der` before anything is sent.
#[pyfunction]
fn assemble(
    payload_type: String,
    payload: Vec<u8>,
    spki_der: &[u8],
    sig_der: Vec<u8>,
) -> PyResult<Vec<u8>> {
    let envelope = Envelope {
        payload_type,
        payload,
        signatures: vec![EnvelopeSignature {
            keyid: key_id(spki_der),
            sig: sig_der,
        }],
    };
    envelope
        .verify(spki_der)
        .map_err(|e| VerificationError::new_err(format!("the signer's signature: {e}")))?;
    Ok(envelope.encode())
}

/// A fresh ECDSA P-256 key (PKCS#8 PEM), from the OS's randomness.
#[pyfunction]
fn generate_key() -> PyResult<String> {
    ProducerKey::generate(&mut rand::rngs::OsRng)
        .to_pkcs8_pem()
        .map_err(invalid)
}

/// The DER SubjectPublicKeyInfo of a PKCS#8 PEM key.
#[pyfunction]
fn public_key_der(key_pem: &str) -> PyResult<Vec<u8>> {
    Ok(ProducerKey::from_pkcs8_pem(key_pem)
        .map_err(invalid)?
        .public_spki_der())
}

/// The key ID the log knows a key by: lowercase hex SHA-256 of its DER
/// SPKI.
#[pyfunction(name = "key_id")]
fn key_id_of(spki_der: &[u8]) -> String {
    key_id(spki_der)
}

/// The RFC 6962 leaf hash of an entry, hex.
#[pyfunction(name = "leaf_hash")]
fn leaf_hash_of(entry: &[u8]) -> String {
    leaf_hash(entry).to_hex()
}

/// Decodes an envelope: `(kind, canonical JSON)` of its record.
#[pyfunction]
fn decode(entry: &[u8]) -> PyResult<(String, String)> {
    let record = Envelope::decode(entry)
        .and_then(|e| e.record())
        .map_err(invalid)?;
    Ok((record.kind().to_string(), record.to_json().to_string()))
}

pub(crate) fn keys(texts: &[String]) -> PyResult<Vec<VerifierKey>> {
    texts
        .iter()
        .map(|t| VerifierKey::parse(t).map_err(|e| invalid(format!("verifier key {t:?}: {e}"))))
        .collect()
}

/// Verifies a checkpoint note with the log's verifier keys and, with
/// `quorum > 0`, that many of `witness_vkeys` cosigned it (at POSIX time
/// `now`). Returns `(origin, size, root hex)`.
#[pyfunction]
#[pyo3(signature = (note, vkeys, witness_vkeys = Vec::new(), quorum = 0, now = 0))]
fn verify_note(
    note: &str,
    vkeys: Vec<String>,
    witness_vkeys: Vec<String>,
    quorum: usize,
    now: u64,
) -> PyResult<(String, u64, String)> {
    let verified = verify_checkpoint(note, &keys(&vkeys)?)
        .map_err(|e| VerificationError::new_err(e.to_string()))?;
    let verified = verified
        .with_witnesses(
            &WitnessPolicy {
                keys: keys(&witness_vkeys)?,
                quorum,
                max_age_secs: None,
            },
            now,
        )
        .map_err(|e| VerificationError::new_err(e.to_string()))?;
    let cp = verified.checkpoint();
    Ok((cp.origin().to_owned(), cp.size(), cp.root().to_hex()))
}

/// Verifies a C2SP signed note with the verifier keys given (Ed25519,
/// ECDSA P-256, RFC 6962 tree-head keys): returns `name+hexid` of each
/// signature that verified. Raises VerificationError when a known key's
/// signature fails or no known key signed.
#[pyfunction]
fn verify_signed_note(note: &str, vkeys: Vec<String>) -> PyResult<Vec<String>> {
    use causeway_tlog::note::{Note, NoteVerifier};
    let keys = keys(&vkeys)?;
    let known: Vec<&dyn NoteVerifier> = keys.iter().map(|k| k as &dyn NoteVerifier).collect();
    let parsed =
        Note::parse(note.as_bytes()).map_err(|e| VerificationError::new_err(e.to_string()))?;
    let verified = parsed
        .verify(&known)
        .map_err(|e| VerificationError::new_err(e.to_string()))?;
    Ok(verified
        .verified
        .iter()
        .map(|s| format!("{}+{:08x}", s.name(), s.key_id()))
        .collect())
}

/// Verifies that `leaf` (hex) is at `index` in the tree the verified
/// checkpoint `note` commits to, by `proof` (hex hashes).
#[pyfunction]
fn verify_inclusion(
    note: &str,
    vkeys: Vec<String>,
    index: u64,
    leaf: &str,
    proof: Vec<String>,
) -> PyResult<()> {
    let verified = verify_checkpoint(note, &keys(&vkeys)?)
        .map_err(|e| VerificationError::new_err(e.to_string()))?;
    let proof: Vec<Hash> = proof.iter().map(|h| hash(h)).collect::<PyResult<_>>()?;
    check_inclusion(verified.checkpoint(), index, &hash(leaf)?, &proof)
        .map_err(|e| VerificationError::new_err(e.to_string()))
}

/// One acknowledged entry: index, leaf hash hex, whether a duplicate.
type Added = (u64, String, bool);

/// A connection to a log's gRPC API, blocking (each call runs on the
/// object's own runtime, with the GIL released).
#[pyclass]
struct Log {
    runtime: tokio::runtime::Runtime,
    target: LogTarget,
    // Async: the guard is held while a call is in flight.
    client: tokio::sync::Mutex<Option<LogClient>>,
}

impl Log {
    fn with_client<T>(
        &self,
        py: Python<'_>,
        f: impl AsyncFnOnce(&mut LogClient) -> Result<T, ClientError> + Send,
    ) -> PyResult<T>
    where
        T: Send,
    {
        py.detach(|| {
            self.runtime.block_on(async {
                let mut slot = self.client.lock().await;
                if slot.is_none() {
                    *slot = Some(self.target.connect().await.map_err(|e| log_error(&e))?);
                }
                let Some(client) = slot.as_mut() else {
                    return Err(LogError::new_err((
                        "UNREACHABLE",
                        "no connection".to_owned(),
                    )));
                };
                let out = f(client).await;
                if out.as_ref().is_err_and(ClientError::is_transport) {
                    // Reconnect on the next call.
                    *slot = None;
                }
                out.map_err(|e| log_error(&e))
            })
        })
    }
}

#[pymethods]
impl Log {
    /// A log at `url` (`http://` or `https://`); for TLS, the CA to trust
    /// and, for mutual TLS, a client certificate and key (PEM bytes).
    #[new]
    #[pyo3(signature = (url, ca_pem = None, cert_pem = None, key_pem = None))]
    fn new(
        url: String,
        ca_pem: Option<Vec<u8>>,
        cert_pem: Option<Vec<u8>>,
        key_pem: Option<Vec<u8>>,
    ) -> PyResult<Log> {
        let identity_pem = match (cert_pem, key_pem) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err(invalid("cert_pem and key_pem go together")),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(invalid)?;
        Ok(Log {
            runtime,
            target: LogTarget {
                url,
                tls: TlsSettings {
                    ca_pem,
                    identity_pem,
                },
            },
            client: tokio::sync::Mutex::new(None),
        })
    }

    /// Appends entries, split into requests under the server's default
    /// limits, following a standby's refusal to its leader. Returns
    /// `[(index, leaf hash hex, duplicate)]` in order and the checkpoint
    /// note of the last request (which covers every entry).
    fn add_entries(&self, py: Python<'_>, entries: Vec<Vec<u8>>) -> PyResult<(Vec<Added>, String)> {
        let target = self.target.clone();
        self.with_client(py, async move |client| {
            let mut added = Vec::new();
            let mut note = String::new();
            for batch in submit::batches(entries) {
                let result =
                    submit::add_following_leader(client, &target, batch, |_, _| {}).await?;
                added.extend(
                    result
                        .entries
                        .into_iter()
                        .map(|a| (a.index, a.leaf_hash.to_hex(), a.duplicate)),
                );
                note = result.checkpoint_note;
            }
            Ok((added, note))
        })
    }

    /// The inclusion proof of the leaf at `index` in the tree of `size`:
    /// `(leaf index, tree size, leaf hash hex, [hash hex])`.
    fn inclusion_proof(
        &self,
        py: Python<'_>,
        index: u64,
        size: u64,
    ) -> PyResult<(u64, u64, String, Vec<String>)> {
        self.with_client(py, async move |client| {
            let p = client
                .inclusion_proof(LeafRef::Index(index), Some(size))
                .await?;
            Ok((
                p.leaf_index,
                p.tree_size,
                p.leaf_hash.to_hex(),
                p.proof.iter().map(Hash::to_hex).collect(),
            ))
        })
    }

    /// Verifies the checkpoint `note` once with `vkeys`, then that each
    /// `(index, leaf hash hex)` is in its tree, fetching the proofs 16 at
    /// a time. Raises VerificationError naming the first that fails.
    fn verify_included(
        &self,
        py: Python<'_>,
        note: &str,
        vkeys: Vec<String>,
        leaves: Vec<(u64, String)>,
    ) -> PyResult<()> {
        use futures::StreamExt as _;
        let verified = verify_checkpoint(note, &keys(&vkeys)?)
            .map_err(|e| VerificationError::new_err(e.to_string()))?;
        let checkpoint = verified.checkpoint().clone();
        let leaves: Vec<(u64, Hash)> = leaves
            .iter()
            .map(|(i, h)| Ok((*i, hash(h)?)))
            .collect::<PyResult<_>>()?;
        let size = checkpoint.size();
        let proofs = self.with_client(py, async move |client| {
            let fetches = leaves.into_iter().map(|(index, leaf)| {
                let mut client = client.clone();
                async move {
                    let p = client
                        .inclusion_proof(LeafRef::Index(index), Some(size))
                        .await?;
                    Ok::<_, ClientError>((index, leaf, p.proof))
                }
            });
            futures::stream::iter(fetches)
                .buffer_unordered(16)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
        })?;
        for (index, leaf, proof) in proofs {
            check_inclusion(&checkpoint, index, &leaf, &proof)
                .map_err(|e| VerificationError::new_err(format!("entry {index} ({leaf}): {e}")))?;
        }
        Ok(())
    }

    /// The latest checkpoint note.
    fn checkpoint(&self, py: Python<'_>) -> PyResult<String> {
        self.with_client(py, async move |client| client.checkpoint(None).await)
    }

    /// `count` entries from `start`, as the log stores them.
    fn entries(&self, py: Python<'_>, start: u64, count: u64) -> PyResult<Vec<Vec<u8>>> {
        self.with_client(py, async move |client| client.entries(start, count).await)
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(canonical_json, m)?)?;
    m.add_function(wrap_pyfunction!(sign, m)?)?;
    m.add_function(wrap_pyfunction!(to_sign, m)?)?;
    m.add_function(wrap_pyfunction!(assemble, m)?)?;
    m.add_function(wrap_pyfunction!(generate_key, m)?)?;
    m.add_function(wrap_pyfunction!(public_key_der, m)?)?;
    m.add_function(wrap_pyfunction!(key_id_of, m)?)?;
    m.add_function(wrap_pyfunction!(leaf_hash_of, m)?)?;
    m.add_function(wrap_pyfunction!(decode, m)?)?;
    m.add_function(wrap_pyfunction!(verify_note, m)?)?;
    m.add_function(wrap_pyfunction!(verify_inclusion, m)?)?;
    m.add_function(wrap_pyfunction!(verify_signed_note, m)?)?;
    m.add_function(wrap_pyfunction!(bundle::verify_bundle, m)?)?;
    m.add_class::<Log>()?;
    m.add_class::<tiles::Tiles>()?;
    m.add_class::<bundle::VerifiedBundle>()?;
    m.add("LogError", m.py().get_type::<LogError>())?;
    m.add("VerificationError", m.py().get_type::<VerificationError>())?;
    Ok(())
}
