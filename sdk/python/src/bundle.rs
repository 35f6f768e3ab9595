//! Offline proof bundles (`causeway-proof-bundle/v1`, as `causeway prove
//! bundle` writes them), checked by `causeway_client::bundle` in the order
//! `causeway verify` checks them: the checkpoint with the log's keys and
//! the witness policy, every entry's inclusion, the anchor when TSA roots
//! are given, every record under a producer policy when one is given.

use causeway_client::bundle::{BundleError, ProofBundle};
use causeway_client::verify::{LogKeys, WitnessPolicy};
use causeway_records::{Envelope, ProducerPolicy};
use causeway_rfc3161::TrustedRoots;
use causeway_tlog::merkle::leaf_hash;
use pyo3::prelude::*;

use crate::{CheckpointFacts, VerificationError, checkpoint_facts, invalid, keys, with_causes};

/// One entry of a verified bundle: `(index, leaf hash hex, record kind)`,
/// the kind `None` when the entry is not a record envelope.
type EntryFacts = (u64, String, Option<String>);

/// What a verified bundle proves; the Python side turns it into a
/// `BundleReport`.
#[pyclass(frozen, get_all)]
pub(crate) struct VerifiedBundle {
    /// The record's index.
    index: u64,
    /// The record's leaf hash, hex.
    leaf_hash: String,
    /// The record's kind, `None` when it is not a record envelope.
    kind: Option<String>,
    /// The checkpoint every entry is proved against.
    checkpoint: CheckpointFacts,
    /// Every entry but the record, in index order: its causal ancestors.
    ancestors: Vec<EntryFacts>,
    /// The witnesses whose cosignatures counted towards the quorum.
    cosigned: Vec<String>,
    /// Whether the bundle carries an RFC 3161 anchor (verified or not).
    has_anchor: bool,
    /// The anchor's genTime (RFC 3339), when it was verified.
    anchored_at: Option<String>,
    /// The TSA certificate's subject, when the anchor was verified.
    anchor_signer: Option<String>,
    /// Whether every record was checked under a producer policy.
    records_verified: bool,
}

fn refused(e: BundleError) -> PyErr {
    VerificationError::new_err(with_causes(&e))
}

fn kind_of(entry: &[u8]) -> Option<String> {
    Envelope::decode(entry)
        .and_then(|e| e.record())
        .ok()
        .map(|r| r.kind().to_string())
}

/// Verifies the proof bundle `text`: its checkpoint with `vkeys` and, with
/// `quorum > 0`, that many of `witness_vkeys` (at POSIX time `now`; a
/// bundle is historical, so cosignatures of any age count), every entry's
/// inclusion, the record's leaf hash; with `tsa_roots` (PEM or DER) its
/// anchor, which must then be present; with `policy` (a producer policy's
/// TOML) every record's signature, authorization and references.
// The Python keyword arguments, one by one, as verify_note's.
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (text, vkeys, witness_vkeys = Vec::new(), quorum = 0, now = 0, tsa_roots = None, policy = None))]
pub(crate) fn verify_bundle(
    py: Python<'_>,
    text: &str,
    vkeys: Vec<String>,
    witness_vkeys: Vec<String>,
    quorum: usize,
    now: u64,
    tsa_roots: Option<Vec<u8>>,
    policy: Option<&str>,
) -> PyResult<VerifiedBundle> {
    let log = LogKeys::Verify(keys(&vkeys)?);
    if log.keys().is_empty() {
        return Err(invalid("give the log's verifier keys"));
    }
    let witnesses = WitnessPolicy {
        keys: keys(&witness_vkeys)?,
        quorum,
        max_age_secs: None,
    };
    // The caller's own configuration is a ValueError, checked before the
    // bundle is: only the bundle's faults are VerificationErrors.
    let roots = tsa_roots
        .map(|r| TrustedRoots::from_pem_or_der(&r).map_err(|e| invalid(format!("tsa_roots: {e}"))))
        .transpose()?;
    let policy = policy
        .map(|p| ProducerPolicy::parse(p).map_err(|e| invalid(format!("policy: {e}"))))
        .transpose()?;
    let text = text.to_owned();
    // Pure computation, but ECDSA over a long chain takes a while: let
    // other Python threads run.
    py.detach(move || {
        let bundle = ProofBundle::parse(&text).map_err(refused)?;
        let proved = bundle
            .check_entries(&log, &witnesses, now)
            .map_err(refused)?;
        let token = bundle.anchor_token().map_err(refused)?;
        let anchor = match (&token, &roots) {
            (None, Some(_)) => {
                return Err(VerificationError::new_err(
                    "the bundle has no RFC 3161 anchor, but tsa_roots ask for one to be \
                     verified: nothing proves when its checkpoint existed (verify without \
                     tsa_roots to check the bundle without a time)",
                ));
            }
            (Some(der), Some(roots)) => Some(bundle.check_anchor(der, roots).map_err(refused)?),
            (_, None) => None,
        };
        if let Some(policy) = &policy {
            proved.check_records(policy).map_err(refused)?;
        }
        let subject = proved.entries.get(&proved.record);
        Ok(VerifiedBundle {
            index: proved.record,
            leaf_hash: subject.map(|e| leaf_hash(e).to_hex()).unwrap_or_default(),
            kind: proved.record_kind().map(|k| k.to_string()),
            checkpoint: checkpoint_facts(proved.checkpoint.checkpoint(), proved.checkpoint.note()),
            ancestors: proved
                .entries
                .iter()
                .filter(|(i, _)| **i != proved.record)
                .map(|(i, e)| (*i, leaf_hash(e).to_hex(), kind_of(e)))
                .collect(),
            cosigned: proved.cosigned.iter().map(|c| c.witness.clone()).collect(),
            has_anchor: token.is_some(),
            anchored_at: anchor.as_ref().map(|a| a.gen_time_rfc3339.clone()),
            anchor_signer: anchor.as_ref().map(|a| a.signer_subject.clone()),
            records_verified: policy.is_some(),
        })
    })
}
