//! The producer policy: which keys may sign which record kinds. The log
//! reads it (`--policy FILE`) to admit entries, and the auditor to judge
//! them.
//!
//! # Format (TOML)
//!
//! ```toml
//! # How far in the future a record's `time` may be; optional, default
//! # "5m". A whole number with an s, m, h or d suffix, or several
//! # ("1h 30m"); whole seconds (the humantime grammar).
//! max_future_skew = "5m"
//! # How far in the past a record's `time` may be when the log admits it,
//! # and how long after its `expires_at` a credential's session key may
//! # still write; optional, default "5m".
//! max_past_skew = "5m"
//!
//! [[principal]]
//! name = "alice@example.com"        # unique, non-empty
//! role = "human"                    # human | issuer | verifier | gate
//! kinds = ["authorization", "review"]  # optional: narrows the role's kinds
//! # Humans only, optional: other names the identity provider gives this
//! # person (an e-mail and a username). A human record's subject must be
//! # the principal's name or one of these.
//! subjects = ["alice", "alice@corp.example"]
//! # Humans only, optional: the IANA time zone the person works in; the
//! # auditor judges their working hours there. Default "UTC".
//! tz = "America/Los_Angeles"
//! # Base64 (standard, padded) DER SubjectPublicKeyInfo of ECDSA P-256
//! # keys: `openssl pkey -in key.pem -pubout -outform DER | base64 -w0`.
//! keys = ["MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEnTrI7D7awnb/YUhk3A7rsObxeI33ICRyBpy+eJf9L2iQt3g50mUSuN3UQAvm+xiBMnzMFqYEcrbMuPbVQI/3ow=="]
//!
//! [[principal]]
//! name = "jit-issuer"
//! role = "issuer"
//! keys = ["MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEOaZSBCnkCJ9xctsb7//V7UXCQ9FuBc/rJrXOIUFoG7aAGRJOJVbXdpsKAzi0N7JIRD9IfM7bQaXhzXtMAfRvUQ=="]
//! ```
//!
//! What each role may sign (and signs when `kinds` is absent), after
//! DESIGN.md §3:
//!
//! | role | kinds |
//! |---|---|
//! | `human` | `authorization`, `review` |
//! | `issuer` | `credential`, `exception`, `closure` |
//! | `verifier` | `preflight` |
//! | `gate` | `exception` |
//!
//! `action` and `outcome` are in no role's list: actions and their
//! outcomes are signed only by the session key of the credential they
//! reference, as are delegated credentials (by the parent's session key)
//! and, optionally, closures. Those session keys
//! come from the log itself, not from the policy.
//!
//! Optional `require_idp` and `[[idp]]` tables pin the identity providers
//! whose ID tokens bind an approval to its approver's login; see
//! [`identity_providers`] for their format.
//! Their JWKS files are read through the caller
//! ([`ProducerPolicy::parse_with_files`]).
//!
//! An optional `[audit]` table holds the auditor's thresholds. The log
//! ignores it and the parser keeps it as raw TOML
//! ([`ProducerPolicy::audit_table`]): its keys belong to the auditor
//! (`causeway_client::audit::Thresholds`), which checks them, so that one
//! file describes both who may sign and how their records are judged.
//!
//! ```toml
//! [audit]
//! working_hours = "07:00-20:00"
//! max_approvals_per_hour = 12
//! ```
//!
//! The parser rejects, naming the line: unknown fields, an unknown role or
//! kind, a kind the role may not sign, an empty or duplicate `kinds` list
//! entry, a principal without keys, a duplicate principal name, a key that
//! is not a canonical P-256 SPKI, a key listed twice (in one principal or
//! two), `subjects` or `tz` on a principal that is not human, an empty
//! subject or one that names another principal (by name or alias), a `tz`
//! that is not an IANA time zone name, and a policy with no principal.
//!
//! Time zones come from the tz database bundled into the binary (`jiff`'s
//! `tzdb-bundle-always`), not from the machine's `/usr/share/zoneinfo`, so
//! that every auditor judges a log the same way.
//!
//! ```
//! # use causeway_records::{Kind, ProducerPolicy, Role};
//! let policy = ProducerPolicy::parse(r#"
//! max_future_skew = "2m"
//! [[principal]]
//! name = "alice@example.com"
//! role = "human"
//! keys = ["MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEnTrI7D7awnb/YUhk3A7rsObxeI33ICRyBpy+eJf9L2iQt3g50mUSuN3UQAvm+xiBMnzMFqYEcrbMuPbVQI/3ow=="]
//! "#)?;
//! assert_eq!(policy.max_future_skew_secs(), 120);
//! let alice = &policy.principals()[0];
//! assert_eq!(alice.role, Role::Human);
//! assert_eq!(alice.kinds, [Kind::Authorization, Kind::Review]);
//! assert!(policy.principal(&alice.key_ids[0]).is_some());
//! # Ok::<(), causeway_records::PolicyError>(())
//! ```

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use toml::Spanned;

use super::identity_providers::{self, IdpFile, ReadFile};
use super::keys::PublicKey;
use super::kinds::Kind;
use super::refs::kinds_phrase;

/// The default of `max_future_skew`: five minutes.
pub const DEFAULT_MAX_FUTURE_SKEW_SECS: i64 = 300;

/// The default of `max_past_skew`: five minutes.
pub const DEFAULT_MAX_PAST_SKEW_SECS: i64 = 300;

/// What a principal is; it decides which kinds it may sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A person: approves (authorization) and reviews (review).
    Human,
    /// A credential issuer (PAM/JIT): credential, exception, closure.
    Issuer,
    /// A pre-flight verifier: preflight.
    Verifier,
    /// A gate that records exceptions: exception.
    Gate,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Human, Role::Issuer, Role::Verifier, Role::Gate];

    /// The role's name in the policy file.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Human => "human",
            Role::Issuer => "issuer",
            Role::Verifier => "verifier",
            Role::Gate => "gate",
        }
    }

    /// The kinds the role may sign; also a principal's kinds when the
    /// policy does not list them.
    pub const fn kinds(self) -> &'static [Kind] {
        match self {
            Role::Human => &[Kind::Authorization, Kind::Review],
            Role::Issuer => &[Kind::Credential, Kind::Exception, Kind::Closure],
            Role::Verifier => &[Kind::Preflight],
            Role::Gate => &[Kind::Exception],
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A producer allowed by the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The principal's name, unique in the policy.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The kinds it may sign: a non-empty subset of its role's kinds.
    pub kinds: Vec<Kind>,
    /// Its keys, as canonical DER SPKI of ECDSA P-256 keys.
    pub keys: Vec<Vec<u8>>,
    /// The key IDs of `keys`, in the same order.
    pub key_ids: Vec<String>,
    /// Other names of a human principal (`subjects` in the file), besides
    /// `name`.
    pub subjects: Vec<String>,
    /// The time zone a human principal works in (`tz` in the file); UTC
    /// when the file names none, and for other roles.
    pub tz: jiff::tz::TimeZone,
}

impl Principal {
    /// Whether the principal may sign records of a kind.
    pub fn may_sign(&self, kind: Kind) -> bool {
        self.kinds.contains(&kind)
    }

    /// Whether `subject`, as a human record claims it, names this
    /// principal: its name or one of its `subjects`, compared exactly
    /// (identity providers' subjects are case-sensitive).
    pub fn is_subject(&self, subject: &str) -> bool {
        self.name == subject || self.subjects.iter().any(|s| s == subject)
    }

    /// The IANA name of [`Principal::tz`], such as `America/Los_Angeles`
    /// (`UTC` by default).
    pub fn tz_name(&self) -> &str {
        self.tz.iana_name().unwrap_or("UTC")
    }
}

/// A producer policy that failed to parse or check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    /// The 1-based line of the problem, when it has one.
    pub line: Option<usize>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "producer policy, line {line}: {}", self.message),
            None => write!(f, "producer policy: {}", self.message),
        }
    }
}

/// The parsed, checked producer policy.
#[derive(Clone, Debug)]
pub struct ProducerPolicy {
    principals: Vec<Principal>,
    /// Key ID → (principal index, key index).
    by_key_id: HashMap<String, (usize, usize)>,
    max_future_skew_secs: i64,
    max_past_skew_secs: i64,
    /// The `[audit]` table, unparsed: the auditor owns its keys.
    audit: Option<toml::Table>,
    /// The `[[idp]]` tables, pinned.
    identity_providers: Vec<causeway_oidc::IdentityProvider>,
    /// `require_idp`.
    require_idp: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    max_future_skew: Option<Spanned<String>>,
    max_past_skew: Option<Spanned<String>>,
    #[serde(default)]
    principal: Vec<PrincipalFile>,
    audit: Option<toml::Table>,
    require_idp: Option<Spanned<bool>>,
    #[serde(default)]
    idp: Vec<IdpFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalFile {
    name: Spanned<String>,
    role: Spanned<Role>,
    kinds: Option<Spanned<Vec<Spanned<Kind>>>>,
    keys: Spanned<Vec<Spanned<String>>>,
    subjects: Option<Spanned<Vec<Spanned<String>>>>,
    tz: Option<Spanned<String>>,
}

/// Parses a duration in whole seconds with `humantime`, the grammar every
/// Causeway duration uses: `"90s"`, `"5m"`, `"48h"`, and also `"2d"` or
/// `"1h 30m"`. Before `humantime` the policy took `<digits>(s|m|h)`, and
/// every such spelling still means the same. Sub-second durations are
/// refused rather than rounded: a skew of `"1500ms"` would silently be one
/// second.
fn parse_duration(text: &str) -> Option<i64> {
    let duration = humantime::parse_duration(text).ok()?;
    if duration.subsec_nanos() != 0 {
        return None;
    }
    i64::try_from(duration.as_secs()).ok()
}

impl ProducerPolicy {
    /// Parses and checks a policy file (see the [module docs](self)) that
    /// names no file (no `jwks_file`).
    ///
    /// # Errors
    /// [`PolicyError`] naming the line and what to fix.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        Self::parse_with_files(text, &mut |path| {
            Err(format!(
                "cannot read {path:?} here: load the policy from its file, or write the JWKS \
                 inline as jwks = '...'"
            ))
        })
    }

    /// Parses and checks a policy file whose `[[idp]]` tables may name
    /// JWKS files; `read` returns a named file's text (the caller resolves
    /// it relative to the policy file).
    ///
    /// # Errors
    /// [`PolicyError`] naming the line and what to fix.
    pub fn parse_with_files(text: &str, read: &mut ReadFile<'_>) -> Result<Self, PolicyError> {
        let line_of = |offset: usize| -> usize {
            let end = offset.min(text.len());
            text.as_bytes()[..end]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1
        };
        let at = |offset: usize, message: String| PolicyError {
            line: Some(line_of(offset)),
            message,
        };
        let file: PolicyFile = toml::from_str(text).map_err(|e| PolicyError {
            line: e.span().map(|s| line_of(s.start)),
            message: e.message().trim_end().to_owned(),
        })?;

        let skew = |setting: &Option<Spanned<String>>, name: &str, default: i64| match setting {
            None => Ok(default),
            Some(skew) => parse_duration(skew.get_ref()).ok_or_else(|| {
                at(
                    skew.span().start,
                    format!(
                        "{name} {:?} is not a duration: write a whole number with an s, m or h \
                         suffix, like \"5m\" (or d, or combined, like \"1h 30m\"), in whole \
                         seconds",
                        skew.get_ref()
                    ),
                )
            }),
        };
        let max_future_skew_secs = skew(
            &file.max_future_skew,
            "max_future_skew",
            DEFAULT_MAX_FUTURE_SKEW_SECS,
        )?;
        let max_past_skew_secs = skew(
            &file.max_past_skew,
            "max_past_skew",
            DEFAULT_MAX_PAST_SKEW_SECS,
        )?;

        if file.principal.is_empty() {
            return Err(PolicyError {
                line: None,
                message: String::from(
                    "no principal: add a [[principal]] table with name, role and keys",
                ),
            });
        }

        let mut principals: Vec<Principal> = Vec::with_capacity(file.principal.len());
        let mut by_key_id: HashMap<String, (usize, usize)> = HashMap::new();
        let mut name_lines: HashMap<String, usize> = HashMap::new();
        let mut key_lines: HashMap<String, usize> = HashMap::new();
        for (index, p) in file.principal.into_iter().enumerate() {
            let name = p.name.get_ref().clone();
            let name_line = line_of(p.name.span().start);
            if name.trim().is_empty() {
                return Err(at(
                    p.name.span().start,
                    String::from("a principal's name must not be empty"),
                ));
            }
            if let Some(first) = name_lines.insert(name.clone(), name_line) {
                return Err(at(
                    p.name.span().start,
                    format!(
                        "principal name {name:?} is already used on line {first}; names must be \
                         unique"
                    ),
                ));
            }
            let role = *p.role.get_ref();
            let kinds = match &p.kinds {
                None => role.kinds().to_vec(),
                Some(listed) => {
                    if listed.get_ref().is_empty() {
                        return Err(at(
                            listed.span().start,
                            format!(
                                "principal {name:?} lists no kinds: list some of {} or remove \
                                 `kinds` to allow all of them",
                                kinds_phrase(role.kinds()).replace(" or ", ", ")
                            ),
                        ));
                    }
                    let mut kinds = Vec::with_capacity(listed.get_ref().len());
                    for kind in listed.get_ref() {
                        let k = *kind.get_ref();
                        if !role.kinds().contains(&k) {
                            return Err(at(kind.span().start, kind_not_allowed(&name, role, k)));
                        }
                        if kinds.contains(&k) {
                            return Err(at(
                                kind.span().start,
                                format!("principal {name:?} lists kind {k} twice; list it once"),
                            ));
                        }
                        kinds.push(k);
                    }
                    kinds
                }
            };
            if p.keys.get_ref().is_empty() {
                return Err(at(
                    p.keys.span().start,
                    format!(
                        "principal {name:?} has no keys: list at least one base64 DER \
                         SubjectPublicKeyInfo of an ECDSA P-256 key"
                    ),
                ));
            }
            let mut keys = Vec::with_capacity(p.keys.get_ref().len());
            let mut key_ids = Vec::with_capacity(p.keys.get_ref().len());
            for (key_index, key) in p.keys.get_ref().iter().enumerate() {
                let key_line = line_of(key.span().start);
                let public = PublicKey::from_base64(key.get_ref()).map_err(|e| {
                    at(
                        key.span().start,
                        format!(
                            "key {} of principal {name:?}: {e}; only ECDSA P-256 keys are \
                             accepted, as `openssl pkey -in key.pem -pubout -outform DER | \
                             base64 -w0` prints them",
                            key_index + 1
                        ),
                    )
                })?;
                let id = public.key_id();
                if key_ids.contains(&id) {
                    let first = key_lines.get(&id).copied().unwrap_or(key_line);
                    return Err(at(
                        key.span().start,
                        format!(
                            "key {id} of principal {name:?} is already listed on line {first}; \
                             list each key once"
                        ),
                    ));
                }
                if let Some(&(other, _)) = by_key_id.get(&id) {
                    let owner = principals
                        .get(other)
                        .map_or(name.as_str(), |o| o.name.as_str());
                    let first = key_lines.get(&id).copied().unwrap_or(key_line);
                    return Err(at(
                        key.span().start,
                        format!(
                            "key {id} of principal {name:?} is already listed on line {first} \
                             for principal {owner:?}; a key belongs to exactly one principal, \
                             listed once"
                        ),
                    ));
                }
                by_key_id.insert(id.clone(), (index, key_index));
                key_lines.insert(id.clone(), key_line);
                keys.push(public.spki_der().to_vec());
                key_ids.push(id);
            }
            let mut subjects = Vec::new();
            if let Some(listed) = &p.subjects {
                if role != Role::Human {
                    return Err(at(
                        listed.span().start,
                        format!(
                            "principal {name:?} has role {role}; only human principals have \
                             subjects (the names their records claim): remove `subjects`"
                        ),
                    ));
                }
                for subject in listed.get_ref() {
                    let text = subject.get_ref();
                    if text.trim().is_empty() {
                        return Err(at(
                            subject.span().start,
                            format!("principal {name:?} lists an empty subject; remove it"),
                        ));
                    }
                    if *text == name || subjects.contains(text) {
                        return Err(at(
                            subject.span().start,
                            format!(
                                "principal {name:?} lists subject {text:?} twice (the name \
                                 counts); list it once"
                            ),
                        ));
                    }
                    subjects.push(text.clone());
                }
            }
            let tz = match &p.tz {
                None => jiff::tz::TimeZone::UTC,
                Some(tz) if role != Role::Human => {
                    return Err(at(
                        tz.span().start,
                        format!(
                            "principal {name:?} has role {role}; only human principals have a \
                             time zone (where their working hours are judged): remove `tz`"
                        ),
                    ));
                }
                Some(tz) => time_zone(tz.get_ref()).ok_or_else(|| {
                    at(
                        tz.span().start,
                        format!(
                            "principal {name:?}: tz {:?} is not an IANA time zone name; write \
                             one like \"America/Los_Angeles\", \"Europe/Berlin\" or \"UTC\"",
                            tz.get_ref()
                        ),
                    )
                })?,
            };
            principals.push(Principal {
                name,
                role,
                kinds,
                keys,
                key_ids,
                subjects,
                tz,
            });
        }
        // A name claimed by two principals would let either sign as the
        // other: every name and alias belongs to one principal.
        let mut owners: HashMap<&str, &str> = HashMap::new();
        for p in &principals {
            for subject in std::iter::once(&p.name).chain(&p.subjects) {
                if let Some(other) = owners.insert(subject, &p.name)
                    && other != p.name
                {
                    return Err(PolicyError {
                        line: None,
                        message: format!(
                            "subject {subject:?} names both principal {other:?} and principal \
                             {:?}; a name or subject must belong to one principal",
                            p.name
                        ),
                    });
                }
            }
        }
        let require_idp = file.require_idp.as_ref().is_some_and(|r| *r.get_ref());
        if require_idp && file.idp.is_empty() {
            let start = file.require_idp.as_ref().map_or(0, |r| r.span().start);
            return Err(at(
                start,
                String::from(
                    "require_idp is true but no [[idp]] is pinned: add the identity provider \
                     approvals log in with",
                ),
            ));
        }
        let identity_providers = identity_providers::parse(file.idp, read, &at, &parse_duration)?;
        Ok(ProducerPolicy {
            principals,
            by_key_id,
            max_future_skew_secs,
            max_past_skew_secs,
            audit: file.audit,
            identity_providers,
            require_idp,
        })
    }

    /// The principal owning a key ID.
    pub fn principal(&self, key_id: &str) -> Option<&Principal> {
        self.principal_key(key_id).map(|(p, _)| p)
    }

    /// The principal owning a key ID, and that key's DER SPKI.
    pub fn principal_key(&self, key_id: &str) -> Option<(&Principal, &[u8])> {
        let &(p, k) = self.by_key_id.get(key_id)?;
        let principal = self.principals.get(p)?;
        let key = principal.keys.get(k)?;
        Some((principal, key.as_slice()))
    }

    /// How many seconds into the future a record's `time` may be.
    pub fn max_future_skew_secs(&self) -> i64 {
        self.max_future_skew_secs
    }

    /// How many seconds into the past a record's `time` may be when the
    /// log admits it, and how long after its `expires_at` a credential's
    /// session key may still write.
    pub fn max_past_skew_secs(&self) -> i64 {
        self.max_past_skew_secs
    }

    /// Every principal, in file order.
    pub fn principals(&self) -> &[Principal] {
        &self.principals
    }

    /// The pinned identity providers, in file order.
    pub fn identity_providers(&self) -> &[causeway_oidc::IdentityProvider] {
        &self.identity_providers
    }

    /// The pinned provider whose issuer is `issuer`.
    pub fn identity_provider(&self, issuer: &str) -> Option<&causeway_oidc::IdentityProvider> {
        self.identity_providers
            .iter()
            .find(|p| p.issuer() == issuer)
    }

    /// Whether every authorization must carry a verified ID token.
    pub fn require_idp(&self) -> bool {
        self.require_idp
    }

    /// The `[audit]` table as written, if the file has one. The policy
    /// does not check its keys; the auditor does.
    pub fn audit_table(&self) -> Option<&toml::Table> {
        self.audit.as_ref()
    }
}

/// The IANA time zone `name`, from the bundled tz database. Only names
/// (`Area/City`, `UTC`): jiff would also take a POSIX TZ string such as
/// `EST5EDT` through other calls, but this one reads the database alone.
fn time_zone(name: &str) -> Option<jiff::tz::TimeZone> {
    if name.trim().is_empty() {
        return None;
    }
    jiff::tz::TimeZone::get(name).ok()
}

/// Why a role may not sign a kind, and what to do instead.
fn kind_not_allowed(name: &str, role: Role, kind: Kind) -> String {
    let allowed = kinds_phrase(role.kinds()).replace(" or ", ", ");
    match kind {
        Kind::Action | Kind::Outcome => format!(
            "principal {name:?} lists kind {kind}, which no principal may sign: {kind}s are \
             signed only by the session key of the credential they reference; remove it \
             (role {role} may sign {allowed})"
        ),
        _ => {
            let roles: Vec<&str> = Role::ALL
                .into_iter()
                .filter(|r| r.kinds().contains(&kind))
                .map(Role::as_str)
                .collect();
            format!(
                "principal {name:?} (role {role}) may not sign {kind}: role {role} may sign \
                 {allowed}, and only {} sign {kind}; remove it from kinds or change the role",
                roles
                    .iter()
                    .map(|r| format!("{r}s"))
                    .collect::<Vec<_>>()
                    .join(" and "),
            )
        }
    }
}
