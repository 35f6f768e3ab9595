//! Proof bundles (`causeway-proof-bundle/v1`): one record, its causal
//! ancestors, their inclusion proofs, the checkpoint they are proved
//! against and its RFC 3161 anchor, in one compact JSON file that anyone
//! can check offline.
//!
//! [`build`] asks a log for everything; [`ProofBundle`] checks a bundle
//! step by step ([`ProofBundle::check_entries`], the anchor, then
//! [`ProvedEntries::check_records`] under a producer policy), so that a
//! caller decides which steps its trust asks for and in which words to
//! refuse.
//!
//! The file is read as JSON values, field by field, rather than into a
//! struct: every byte of it is significant (any change must make
//! verification fail), and each missing or malformed field is named.

use std::collections::{BTreeMap, HashMap, HashSet};

use base64::Engine as _;
use causeway_records::{Envelope, Kind, ProducerPolicy, Referenced, validate_at_record_time};
use causeway_rfc3161::{TrustedRoots, VerifiedTimestamp};
use causeway_tlog::merkle::{Hash, leaf_hash};
use serde_json::{Value, json};

use crate::verify::{
    Cosigned, LogKeys, MaybeVerified, VerificationError, WitnessPolicy, check_anchor,
    check_inclusion, check_witnesses, note_body,
};
use crate::{ClientError, LeafRef, LogClient};

/// The `format` of a bundle.
pub const FORMAT: &str = "causeway-proof-bundle/v1";

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why a bundle could not be built or does not verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The log could not find the record.
    #[error("finding the record in the log")]
    FindRecord(#[source] ClientError),
    /// The log could not prove an entry of the chain.
    #[error("proving {0}")]
    Prove(Hash, #[source] ClientError),
    /// The log did not return an entry it proved.
    #[error("entry {0} is missing")]
    MissingEntry(u64),
    /// Another failure of the log.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// What the log returned does not verify.
    #[error(transparent)]
    Verification(#[from] VerificationError),
    /// The file is not JSON.
    #[error("not JSON")]
    NotJson(#[source] serde_json::Error),
    /// The file is JSON, but not a bundle of this [`FORMAT`].
    #[error("not a {FORMAT}")]
    NotABundle,
    /// A field is missing or malformed; says which.
    #[error("bundle: {0}")]
    Malformed(&'static str),
    /// An entry's or the anchor's bytes are not base64.
    #[error("bundle: {what} is not base64")]
    NotBase64 {
        /// `entry` or `anchor`.
        what: &'static str,
        /// The decoding error.
        #[source]
        source: base64::DecodeError,
    },
    /// The checkpoint does not verify with the log's keys.
    #[error("the bundle's checkpoint does not verify")]
    Checkpoint(#[source] VerificationError),
    /// The checkpoint does not satisfy the witness policy.
    #[error("the bundle's checkpoint does not satisfy the witness policy")]
    Witnesses(#[source] VerificationError),
    /// An entry's proof does not lead to the checkpoint's root.
    #[error("entry {0} is not in the checkpoint's tree")]
    NotIncluded(u64, #[source] VerificationError),
    /// The bundle's record is not among its entries.
    #[error("the bundle does not contain its record {0}")]
    NoSubject(u64),
    /// The bundle's record is not the leaf it names.
    #[error("the bundle's record {0} does not have the leaf hash the bundle names")]
    WrongLeafHash(u64),
    /// The anchor does not verify against the TSA roots.
    #[error("the bundle's anchor does not verify")]
    Anchor(#[source] VerificationError),
    /// A record is not valid under the producer policy.
    #[error("record {index} does not verify: {message}")]
    Record {
        /// The record's index.
        index: u64,
        /// Why.
        message: String,
    },
}

/// A bundle as [`build`] made it.
#[derive(Clone, Debug)]
pub struct BuiltBundle {
    /// The file's text: compact JSON, since every byte is significant.
    pub text: String,
    /// The record's index.
    pub record: u64,
    /// How many entries it holds (the record and its ancestors).
    pub entries: usize,
    /// The size of the checkpoint they are proved against.
    pub tree_size: u64,
    /// Whether that checkpoint's RFC 3161 anchor is included.
    pub anchored: bool,
}

/// Builds the bundle of the record with leaf hash `leaf`: proved against
/// the latest anchored checkpoint that covers it (so the bundle also says
/// when it existed), else the latest checkpoint, read with `keys`.
///
/// # Errors
/// If the log cannot find or prove an entry, or what it returns does not
/// verify.
pub async fn build(
    client: &mut LogClient,
    keys: &LogKeys,
    leaf: Hash,
) -> Result<BuiltBundle, BundleError> {
    let subject = client
        .inclusion_proof(LeafRef::Hash(leaf), None)
        .await
        .map_err(BundleError::FindRecord)?
        .leaf_index;
    let (note, anchor) = match client.anchor(None).await {
        Ok(a) if a.tree_size > subject => (a.checkpoint_note.clone(), Some(a)),
        _ => (client.checkpoint(None).await?, None),
    };
    let cp = keys.read(&note)?.into_checkpoint();
    let mut seen: HashSet<Hash> = HashSet::new();
    let mut queue = vec![leaf];
    let mut items = Vec::new();
    while let Some(h) = queue.pop() {
        if !seen.insert(h) {
            continue;
        }
        let p = client
            .inclusion_proof(LeafRef::Hash(h), Some(cp.size()))
            .await
            .map_err(|e| BundleError::Prove(h, e))?;
        let entry = client
            .entries(p.leaf_index, 1)
            .await?
            .pop()
            .ok_or(BundleError::MissingEntry(p.leaf_index))?;
        check_inclusion(&cp, p.leaf_index, &leaf_hash(&entry), &p.proof)?;
        if let Ok(record) = Envelope::decode(&entry).and_then(|e| e.record()) {
            queue.extend(record.references().iter().map(|r| r.hash));
        }
        items.push(json!({
            "index": p.leaf_index,
            "entry": BASE64.encode(&entry),
            "proof": p.proof.iter().map(Hash::to_hex).collect::<Vec<_>>(),
        }));
    }
    items.sort_by_key(|i| i["index"].as_u64());
    let entries = items.len();
    let bundle = json!({
        "format": FORMAT,
        "record": subject,
        "leaf_hash": leaf.to_hex(),
        "checkpoint": note,
        "anchor": anchor.as_ref().map(|a| json!({"tree_size": a.tree_size, "timestamp_response": BASE64.encode(&a.timestamp_response)})),
        "entries": items,
    });
    Ok(BuiltBundle {
        text: bundle.to_string(),
        record: subject,
        entries,
        tree_size: cp.size(),
        anchored: anchor.is_some(),
    })
}

/// A bundle file, read (its format checked) but not yet verified.
#[derive(Clone, Debug)]
pub struct ProofBundle {
    value: Value,
}

/// A bundle's entries, each proved to be in its checkpoint's tree.
#[derive(Clone, Debug)]
pub struct ProvedEntries {
    /// The checkpoint, as read with the caller's keys.
    pub checkpoint: MaybeVerified,
    /// The witness cosignatures that counted.
    pub cosigned: Vec<Cosigned>,
    /// The entries by index.
    pub entries: BTreeMap<u64, Vec<u8>>,
    /// The bundle's record (one of `entries`).
    pub record: u64,
}

impl ProofBundle {
    /// Reads a bundle file's text.
    ///
    /// # Errors
    /// [`BundleError::NotJson`] or [`BundleError::NotABundle`].
    pub fn parse(text: &str) -> Result<Self, BundleError> {
        let value: Value = serde_json::from_str(text).map_err(BundleError::NotJson)?;
        if value["format"] != FORMAT {
            return Err(BundleError::NotABundle);
        }
        Ok(ProofBundle { value })
    }

    /// The signed checkpoint note the entries are proved against.
    ///
    /// # Errors
    /// If the bundle has none.
    pub fn note(&self) -> Result<&str, BundleError> {
        self.value["checkpoint"]
            .as_str()
            .ok_or(BundleError::Malformed("no checkpoint"))
    }

    /// Checks the checkpoint (the log's `keys`, then the witness policy at
    /// POSIX time `now`), every entry's inclusion in it, and that the
    /// record is the leaf the bundle names.
    ///
    /// # Errors
    /// The first check that fails.
    pub fn check_entries(
        &self,
        keys: &LogKeys,
        witnesses: &WitnessPolicy,
        now: u64,
    ) -> Result<ProvedEntries, BundleError> {
        let b = &self.value;
        let note = self.note()?;
        let checkpoint = keys.read(note).map_err(BundleError::Checkpoint)?;
        let cosigned = check_witnesses(note, witnesses, now).map_err(BundleError::Witnesses)?;
        let cp = checkpoint.checkpoint();
        let mut entries: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        let items = b["entries"]
            .as_array()
            .ok_or(BundleError::Malformed("no entries"))?;
        for item in items {
            let index = item["index"]
                .as_u64()
                .ok_or(BundleError::Malformed("entry without index"))?;
            let entry = BASE64
                .decode(
                    item["entry"]
                        .as_str()
                        .ok_or(BundleError::Malformed("entry without bytes"))?,
                )
                .map_err(|source| BundleError::NotBase64 {
                    what: "entry",
                    source,
                })?;
            let proof: Vec<Hash> = item["proof"]
                .as_array()
                .ok_or(BundleError::Malformed("entry without proof"))?
                .iter()
                .map(|h| {
                    h.as_str()
                        .and_then(|s| Hash::from_hex(s).ok())
                        .ok_or(BundleError::Malformed("bad proof hash"))
                })
                .collect::<Result<_, _>>()?;
            check_inclusion(cp, index, &leaf_hash(&entry), &proof)
                .map_err(|e| BundleError::NotIncluded(index, e))?;
            entries.insert(index, entry);
        }
        let record = b["record"]
            .as_u64()
            .ok_or(BundleError::Malformed("no record index"))?;
        let Some(subject) = entries.get(&record) else {
            return Err(BundleError::NoSubject(record));
        };
        if b["leaf_hash"].as_str() != Some(leaf_hash(subject).to_hex().as_str()) {
            return Err(BundleError::WrongLeafHash(record));
        }
        Ok(ProvedEntries {
            checkpoint,
            cosigned,
            entries,
            record,
        })
    }

    /// The anchor's DER `TimeStampResp`, if the bundle has an anchor.
    ///
    /// # Errors
    /// If the anchor holds no token, or not a base64 one.
    pub fn anchor_token(&self) -> Result<Option<Vec<u8>>, BundleError> {
        let anchor = &self.value["anchor"];
        if anchor.is_null() {
            return Ok(None);
        }
        let token = anchor["timestamp_response"]
            .as_str()
            .ok_or(BundleError::Malformed("anchor without token"))?;
        BASE64
            .decode(token)
            .map(Some)
            .map_err(|source| BundleError::NotBase64 {
                what: "anchor",
                source,
            })
    }

    /// Verifies an anchor token (from [`Self::anchor_token`]) against the
    /// TSA's `roots`: it must timestamp this bundle's checkpoint.
    ///
    /// # Errors
    /// [`BundleError::Anchor`] naming the rule that failed.
    pub fn check_anchor(
        &self,
        token: &[u8],
        roots: &TrustedRoots,
    ) -> Result<VerifiedTimestamp, BundleError> {
        check_anchor(token, note_body(self.note()?), roots, None).map_err(BundleError::Anchor)
    }
}

impl ProvedEntries {
    /// Checks every record under `policy`, as of the record's own time
    /// (the bundle proves what was signed, not the log's clock at
    /// admission): signed and authorized, every reference resolved within
    /// the bundle to an earlier entry. Returns each record's index and kind.
    ///
    /// # Errors
    /// [`BundleError::Record`] for the first record that does not verify.
    pub fn check_records(&self, policy: &ProducerPolicy) -> Result<Vec<(u64, Kind)>, BundleError> {
        let by_hash: HashMap<Hash, (u64, &Vec<u8>)> = self
            .entries
            .iter()
            .map(|(i, e)| (leaf_hash(e), (*i, e)))
            .collect();
        let mut chain = Vec::new();
        for (index, entry) in &self.entries {
            let mut lookup = |h: &Hash| {
                let (i, e) = by_hash.get(h)?;
                if i >= index {
                    return None;
                }
                let record = Envelope::decode(e).ok()?.record().ok()?;
                Some(Referenced { index: *i, record })
            };
            let record = validate_at_record_time(entry, policy, &mut lookup)
                .map_err(|r| BundleError::Record {
                    index: *index,
                    message: r.message,
                })?
                .record;
            chain.push((*index, record.kind()));
        }
        Ok(chain)
    }

    /// The kind of the bundle's record, if it is a record.
    pub fn record_kind(&self) -> Option<Kind> {
        self.entries
            .get(&self.record)
            .and_then(|e| Envelope::decode(e).ok())
            .and_then(|e| e.record().ok())
            .map(|r| r.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_tlog::checkpoint::Checkpoint;
    use causeway_tlog::note::{Ed25519Signer, KeyName, Note};

    #[test]
    fn refuses_what_is_not_a_bundle() {
        assert!(matches!(
            ProofBundle::parse("{"),
            Err(BundleError::NotJson(_))
        ));
        assert!(matches!(
            ProofBundle::parse(r#"{"format":"other"}"#),
            Err(BundleError::NotABundle)
        ));
        let empty = ProofBundle::parse(r#"{"format":"causeway-proof-bundle/v1"}"#).unwrap();
        assert!(matches!(
            empty.note(),
            Err(BundleError::Malformed("no checkpoint"))
        ));
        assert!(empty.anchor_token().unwrap().is_none());
        let bad_anchor = ProofBundle::parse(
            r#"{"format":"causeway-proof-bundle/v1","anchor":{"timestamp_response":"!"}}"#,
        )
        .unwrap();
        assert!(matches!(
            bad_anchor.anchor_token(),
            Err(BundleError::NotBase64 { what: "anchor", .. })
        ));
    }

    #[test]
    fn a_one_entry_bundle_verifies_with_the_keys_and_not_once_changed() {
        let signer = Ed25519Signer::generate(
            KeyName::new("log.example/a").unwrap(),
            &mut rand::rngs::OsRng,
        );
        let entry = b"an entry".to_vec();
        let leaf = leaf_hash(&entry);
        let cp = Checkpoint::new("log.example/a", 1, leaf).unwrap();
        let mut note = Note::new(cp.to_text()).unwrap();
        note.sign(&signer).unwrap();
        let bundle = json!({
            "format": FORMAT,
            "record": 0,
            "leaf_hash": leaf.to_hex(),
            "checkpoint": note.to_string(),
            "anchor": null,
            "entries": [{"index": 0, "entry": BASE64.encode(&entry), "proof": []}],
        })
        .to_string();
        let keys = LogKeys::Verify(vec![signer.verifier()]);
        let none = WitnessPolicy::default();
        let proved = ProofBundle::parse(&bundle)
            .unwrap()
            .check_entries(&keys, &none, 0)
            .unwrap();
        assert!(proved.checkpoint.is_verified());
        assert_eq!((proved.record, proved.entries.len()), (0, 1));
        assert_eq!(proved.record_kind(), None, "not a record envelope");
        // Without keys it is read, and says so.
        let unverified = ProofBundle::parse(&bundle)
            .unwrap()
            .check_entries(&LogKeys::Unverified, &none, 0)
            .unwrap();
        assert!(!unverified.checkpoint.is_verified());
        // Another entry under the same proof is not in the tree.
        let other = bundle.replace(&BASE64.encode(&entry), &BASE64.encode(b"another"));
        assert!(matches!(
            ProofBundle::parse(&other)
                .unwrap()
                .check_entries(&keys, &none, 0),
            Err(BundleError::NotIncluded(0, _))
        ));
        // A record index the bundle does not hold.
        let elsewhere = bundle.replace(r#""record":0"#, r#""record":1"#);
        assert!(matches!(
            ProofBundle::parse(&elsewhere)
                .unwrap()
                .check_entries(&keys, &none, 0),
            Err(BundleError::NoSubject(1))
        ));
    }
}
