//! Which record fields reference which kinds of record. A reference itself
//! is a [`RecordRef`].
//!
//! | kind | field | may reference |
//! |---|---|---|
//! | preflight | `subject` | authorization, credential |
//! | credential | `authorization` | authorization |
//! | credential | `preflight` (optional) | preflight |
//! | credential | `parent` (optional) | credential |
//! | action | `credential` | credential |
//! | exception | `credential` | credential |
//! | exception | `action` (optional) | action |
//! | closure | `credential` | credential |
//! | review | `subject` | authorization, credential, closure |
//! | outcome | `action` | action |
//! | outcome | `credential` | credential |

use causeway_tlog::merkle::Hash;

use crate::kinds::{Kind, Record};
use crate::record_ref::RecordRef;

/// One reference a record makes: the field, the leaf hash it names, and
/// the kinds of record it may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The referencing field's JSON name, like `parent` (the record's kind
    /// qualifies it).
    pub field: &'static str,
    /// The leaf hash of the entry referenced.
    pub hash: Hash,
    /// The kinds the referenced record may have.
    pub allowed: &'static [Kind],
}

const AUTHORIZATION: &[Kind] = &[Kind::Authorization];
const PREFLIGHT: &[Kind] = &[Kind::Preflight];
const CREDENTIAL: &[Kind] = &[Kind::Credential];
const ACTION: &[Kind] = &[Kind::Action];
const PREFLIGHT_SUBJECT: &[Kind] = &[Kind::Authorization, Kind::Credential];
const REVIEW_SUBJECT: &[Kind] = &[Kind::Authorization, Kind::Credential, Kind::Closure];

impl Record {
    /// Every reference the record makes (optional ones only when set), in
    /// field order.
    pub fn references(&self) -> Vec<Reference> {
        let r = |field, reference: RecordRef, allowed| Reference {
            field,
            hash: reference.hash(),
            allowed,
        };
        match self {
            Record::Authorization(_) => Vec::new(),
            Record::Preflight(p) => vec![r("subject", p.subject, PREFLIGHT_SUBJECT)],
            Record::Credential(c) => {
                let mut refs = vec![r("authorization", c.authorization, AUTHORIZATION)];
                if let Some(h) = c.preflight {
                    refs.push(r("preflight", h, PREFLIGHT));
                }
                if let Some(h) = c.parent {
                    refs.push(r("parent", h, CREDENTIAL));
                }
                refs
            }
            Record::Action(a) => vec![r("credential", a.credential, CREDENTIAL)],
            Record::Exception(e) => {
                let mut refs = vec![r("credential", e.credential, CREDENTIAL)];
                if let Some(h) = e.action {
                    refs.push(r("action", h, ACTION));
                }
                refs
            }
            Record::Closure(c) => vec![r("credential", c.credential, CREDENTIAL)],
            Record::Review(v) => vec![r("subject", v.subject, REVIEW_SUBJECT)],
            Record::Outcome(o) => vec![
                r("action", o.action, ACTION),
                r("credential", o.credential, CREDENTIAL),
            ],
        }
    }
}

/// Lists kinds for messages: `credential`, `authorization or credential`,
/// `authorization, credential or closure`.
pub(crate) fn kinds_phrase(kinds: &[Kind]) -> String {
    match kinds {
        [] => String::from("nothing"),
        [one] => one.as_str().to_owned(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(|k| k.as_str()).collect();
            format!("{} or {last}", init.join(", "))
        }
    }
}
