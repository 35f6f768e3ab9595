//! Governance records (DESIGN.md §3): the eight record kinds, their JSON and
//! protobuf forms, the signed envelope that is a log entry, producer keys,
//! the producer policy, and the log's admission checks. Pure: no I/O, no
//! clock, no network.
//!
//! A log entry is a DSSE-style [`Envelope`]: payload type [`PAYLOAD_TYPE`],
//! payload an encoded [`Record`] (`causeway.v1.Record`, see
//! `proto/causeway/v1/records.proto`), and one ECDSA P-256 signature over
//! the DSSE PAE. Records reference earlier entries by RFC 6962 leaf hash
//! ([`causeway_tlog::merkle::leaf_hash`] of the encoded envelope), so records form
//! a DAG rooted at human authorizations:
//!
//! ```text
//! authorization ◄── preflight.subject          (or a credential, at promotion)
//!       ▲
//!       └────────── credential.authorization ◄── credential.parent (delegation)
//!                     ▲   (also .preflight)
//!                     ├── action.credential ◄── exception.action, outcome.action
//!                     ├── outcome.credential
//!                     ├── exception.credential
//!                     └── closure.credential
//! review.subject ──► authorization, credential or closure
//! ```
//!
//! # Layout
//!
//! * [`kinds`]: [`Kind`], [`Record`] and the per-kind structs, with their
//!   JSON form (the CLI's input and output).
//! * [`time`]: [`Time`], RFC 3339 UTC in JSON, seconds + nanos on the wire.
//! * [`digest`]: the `sha256:` digests and error classes an `outcome` and
//!   an `exception` carry about a tool call instead of the call itself.
//! * [`record_ref`]: [`RecordRef`], how a record names an earlier entry
//!   (its leaf hash; 64 lowercase hex digits in JSON).
//! * [`refs`]: [`Reference`], which fields reference which kinds.
//! * [`wire`]: the lossless, strict mapping to and from protobuf.
//! * [`keys`]: [`ProducerKey`], [`PublicKey`], [`key_id`].
//! * [`envelope`]: [`Envelope`], [`pae`], DSSE JSON.
//! * [`policy`]: [`ProducerPolicy`], the TOML file naming who may sign what.
//! * [`id_token`]: [`IdpBinding`], what an authorization's ID token proves.
//! * [`identity_providers`]: its `[[idp]]` tables, the identity providers
//!   whose ID tokens bind an approval to a login.
//! * [`validate`]: [`validate_entry`], what the log checks before it
//!   accepts an entry.
//! * [`lineage`]: credential state in log order: nothing is written under
//!   a revoked or closed credential ([`check_open`]).
//! * [`v1`]: the record messages generated from
//!   `proto/causeway/v1/records.proto` (prost, no gRPC; the gRPC service is
//!   in `causeway-api`).
//!
//! # Example
//!
//! ```
//! use causeway_records::{Envelope, Kind, ProducerKey, Record};
//!
//! let json = r#"{
//!   "credential": "8f2b6c0e4d1a9f3b7e5c2a8d0f6b4e1c3a9d7f5b2e8c0a6d4f1b9e3c7a5d2f80",
//!   "seq": 1, "tool": "git", "target": "github.com/acme/payments",
//!   "summary": "pushed branch fix/ledger-rounding", "digest": "sha256:0f1e",
//!   "result": "ok", "time": "2026-11-22T10:05:00Z"
//! }"#;
//! let record = Record::from_json(Kind::Action, json)?;
//! let session_key = ProducerKey::generate(&mut rand::rngs::OsRng);
//! let envelope = Envelope::sign(&record, &session_key);
//! let entry = envelope.encode(); // what `causeway submit` sends
//! let decoded = Envelope::decode(&entry)?;
//! decoded.verify(&session_key.public_spki_der())?;
//! assert_eq!(decoded.record()?, record);
//! # Ok::<(), causeway_records::RecordError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod digest;
pub mod envelope;
mod error;
pub mod id_token;
pub mod identity_providers;
pub mod keys;
pub mod kinds;
pub mod lineage;
pub mod policy;
pub mod record_ref;
pub mod refs;
pub mod scope_match;
pub mod time;
pub mod validate;
pub mod wire;

#[cfg(test)]
mod tests;

pub use envelope::{Envelope, EnvelopeSignature, pae};
pub use error::RecordError;
pub use id_token::IdpBinding;
pub use keys::{ProducerKey, PublicKey, key_id};
pub use kinds::{
    Action, Agent, Authn, Authorization, Check, Closure, ClosureReason, Credential, Exception,
    Identity, Kind, Outcome, OutcomeStatus, ParseKindError, Plan, Preflight, PreflightVerdict,
    Record, Review, Scope, Stage,
};
pub use lineage::{CredentialEnd, Ended, Ending, Lineage, check_open, first_ended};
pub use policy::{
    DEFAULT_MAX_FUTURE_SKEW_SECS, DEFAULT_MAX_PAST_SKEW_SECS, PolicyError, Principal,
    ProducerPolicy, Role,
};
pub use record_ref::{ParseRefError, RecordRef};
pub use refs::Reference;
pub use scope_match::action_matches;
pub use time::{Time, TimeError};
pub use validate::{
    Admitted, MAX_DELEGATION_DEPTH, Referenced, RejectCode, Rejection, validate_at_record_time,
    validate_entry,
};

/// The record messages of `causeway.v1`, generated from
/// `proto/causeway/v1/records.proto`. `causeway-api` generates the `Log`
/// service in the same protobuf package and refers to these types rather
/// than generating its own.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/causeway.v1.rs"));
}

/// The payload type of a Causeway record envelope.
pub const PAYLOAD_TYPE: &str = "application/vnd.causeway.record.v1+protobuf";
