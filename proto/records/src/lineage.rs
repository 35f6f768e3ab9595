//! Credential state in log order: which credentials a session-key record
//! writes under, which records end a credential, and the rule that nothing
//! is written under an ended one.
//!
//! A credential *ends* at the first of:
//! * an `exception` with `revoked: true` that references it (whoever may
//!   sign exceptions: an issuer or a gate);
//! * a `closure` that references it (signed by an issuer or by its own
//!   session key).
//!
//! Revoking or closing a credential ends every credential delegated from
//! it, since each delegated credential's authority is its parent's. So a
//! record signed by a session key (an `action`, a `closure` by the session
//! key, a credential delegated by a parent's session key) is refused when
//! any credential of its [`Lineage`] (the credential it writes under, then
//! each parent up to the root) has ended *earlier in log order*.
//!
//! The log applies [`check_open`] when it sequences a batch, against the
//! ends already stored and those earlier in the same batch, so two records
//! in one batch are judged in log order; the auditor applies the same rule
//! to the whole log. The lookups are the caller's: this module has no I/O.

use std::fmt;

use super::kinds::{Kind, Record};
use super::validate::{RejectCode, Rejection};
use causeway_tlog::merkle::Hash;

/// How a credential ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ending {
    /// A revoking `exception` referenced it.
    Revoked,
    /// A `closure` referenced it.
    Closed,
}

impl Ending {
    /// `revoked` or `closed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Ending::Revoked => "revoked",
            Ending::Closed => "closed",
        }
    }

    /// The kind of record that ends a credential this way.
    pub const fn by_kind(self) -> Kind {
        match self {
            Ending::Revoked => Kind::Exception,
            Ending::Closed => Kind::Closure,
        }
    }

    /// The stored code: 1 revoked, 2 closed.
    pub const fn code(self) -> u8 {
        match self {
            Ending::Revoked => 1,
            Ending::Closed => 2,
        }
    }

    /// The ending with a stored code, if it is one.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Ending::Revoked),
            2 => Some(Ending::Closed),
            _ => None,
        }
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The end of a credential, as stored: how, and the index of the record
/// that ended it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CredentialEnd {
    /// How it ended.
    pub ending: Ending,
    /// The log index of the exception or closure that ended it.
    pub index: u64,
}

/// The credentials a session-key record writes under: the credential it
/// is signed under first, then that credential's parent, and so on up to
/// the root credential (the one an issuer signed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Lineage {
    credentials: Vec<Hash>,
}

impl Lineage {
    /// A lineage from the signing credential up to the root. Empty for a
    /// record not signed by a session key.
    pub fn new(credentials: Vec<Hash>) -> Self {
        Lineage { credentials }
    }

    /// The credentials, signing credential first.
    pub fn credentials(&self) -> &[Hash] {
        &self.credentials
    }

    /// The root credential (issued by an issuer), if the record is signed
    /// by a session key: every session key delegated from it shares its
    /// budget.
    pub fn root(&self) -> Option<&Hash> {
        self.credentials.last()
    }

    /// Whether the record is signed by a session key.
    pub fn is_session_key(&self) -> bool {
        !self.credentials.is_empty()
    }
}

/// The credential a record ends, if it ends one: a revoking exception or
/// a closure. A non-revoking exception ends nothing.
pub fn ends(record: &Record) -> Option<(Hash, Ending)> {
    match record {
        Record::Exception(e) if e.revoked => Some((e.credential.hash(), Ending::Revoked)),
        Record::Closure(c) => Some((c.credential.hash(), Ending::Closed)),
        _ => None,
    }
}

/// A credential of a lineage that had ended: which, how far up, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ended {
    /// The ended credential.
    pub credential: Hash,
    /// 0 for the credential the record is signed under, 1 for its parent…
    pub depth: usize,
    /// How and by which record it ended.
    pub end: CredentialEnd,
}

impl Ended {
    /// Why a `kind` record written under it is refused. `ended_by` names
    /// the ending record when "the exception at index N" would not do
    /// (for one that is part of the same refused request).
    pub fn message(&self, kind: Kind, ended_by: Option<&str>) -> String {
        let credential = self.credential;
        // A delegated credential is signed under its parent's session key.
        let signing = if kind == Kind::Credential {
            "its parent credential"
        } else {
            "its credential"
        };
        let whose = match self.depth {
            0 => format!("{signing} {credential}"),
            1 => format!("{signing}'s ancestor {credential} (1 level up)"),
            n => format!("{signing}'s ancestor {credential} ({n} levels up)"),
        };
        let by = ended_by.map_or_else(
            || {
                format!(
                    "the {} at index {}",
                    self.end.ending.by_kind(),
                    self.end.index
                )
            },
            str::to_owned,
        );
        format!(
            "this {kind} is signed by a session key, and {whose} was {} by {by}; nothing more \
             may be written under it (ask the issuer for a new credential)",
            self.end.ending
        )
    }
}

/// The first credential of `lineage` (signing credential first) that
/// `ended` reports as ended.
pub fn first_ended(
    lineage: &Lineage,
    ended: &mut dyn FnMut(&Hash) -> Option<CredentialEnd>,
) -> Option<Ended> {
    lineage
        .credentials()
        .iter()
        .enumerate()
        .find_map(|(depth, credential)| {
            ended(credential).map(|end| Ended {
                credential: *credential,
                depth,
                end,
            })
        })
}

/// Refuses a session-key record of `kind` whose lineage has a credential
/// that `ended` reports as ended (see the [module docs](self)).
///
/// # Errors
/// [`RejectCode::PermissionDenied`] naming the ended credential, how it
/// ended and the index of the record that ended it.
pub fn check_open(
    kind: Kind,
    lineage: &Lineage,
    ended: &mut dyn FnMut(&Hash) -> Option<CredentialEnd>,
) -> Result<(), Rejection> {
    match first_ended(lineage, ended) {
        None => Ok(()),
        Some(e) => Err(Rejection {
            code: RejectCode::PermissionDenied,
            message: e.message(kind, None),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_tlog::merkle::leaf_hash;

    #[test]
    fn an_ended_ancestor_refuses_and_names_the_ending_record() {
        let (child, parent, root) = (leaf_hash(b"c"), leaf_hash(b"p"), leaf_hash(b"r"));
        let lineage = Lineage::new(vec![child, parent, root]);
        assert_eq!(lineage.root(), Some(&root));
        let mut none = |_: &Hash| None;
        assert!(check_open(Kind::Action, &lineage, &mut none).is_ok());
        let mut revoked_root = |h: &Hash| {
            (*h == root).then_some(CredentialEnd {
                ending: Ending::Revoked,
                index: 41,
            })
        };
        let err = check_open(Kind::Action, &lineage, &mut revoked_root).unwrap_err();
        assert_eq!(err.code, RejectCode::PermissionDenied);
        assert!(err.message.contains("revoked by the exception at index 41"));
        assert!(err.message.contains("its credential's ancestor"));
        assert!(err.message.contains("2 levels up"));
    }

    #[test]
    fn a_record_not_signed_by_a_session_key_is_never_refused() {
        let mut all = |_: &Hash| {
            Some(CredentialEnd {
                ending: Ending::Closed,
                index: 0,
            })
        };
        assert!(check_open(Kind::Closure, &Lineage::default(), &mut all).is_ok());
    }

    #[test]
    fn codes_round_trip() {
        for e in [Ending::Revoked, Ending::Closed] {
            assert_eq!(Ending::from_code(e.code()), Some(e));
        }
        assert_eq!(Ending::from_code(0), None);
    }
}
