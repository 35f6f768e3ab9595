//! What can be wrong with a pinned identity provider, a token, or a login.

/// Why an identity provider's settings cannot be pinned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdpError {
    /// The issuer is not an absolute `https` URL (or `http` on loopback).
    #[error(
        "issuer {0:?} is not an https URL: write the identity provider's issuer exactly as its \
         discovery document's \"issuer\" (http is accepted only for 127.0.0.1 and localhost)"
    )]
    Issuer(String),
    /// The audience is empty.
    #[error("audience is empty: write the OAuth client ID the approval tool logs in with")]
    Audience,
    /// The JWKS is not a JSON Web Key Set.
    #[error("the JWKS is not a JSON Web Key Set ({0}): save the provider's jwks_uri document")]
    Jwks(String),
    /// The JWKS holds no key.
    #[error("the JWKS holds no key")]
    NoKeys,
    /// A key is symmetric: anyone who can read the policy could sign.
    #[error(
        "JWKS key {0:?} is a symmetric (oct) key: an audit file cannot hold a secret; pin only \
         the provider's public keys"
    )]
    SymmetricKey(String),
    /// A key cannot be used.
    #[error("JWKS key {kid:?} cannot be used: {why}")]
    UnusableKey {
        /// The key's `kid`, or `#N` when it has none.
        kid: String,
        /// What is wrong.
        why: String,
    },
    /// Two keys share a `kid`, or several keys have none.
    #[error(
        "JWKS keys must have distinct kids when there is more than one key ({0:?} is \
         ambiguous)"
    )]
    AmbiguousKid(String),
    /// A retired key names no pinned key.
    #[error("retired key {0:?} is not in the JWKS: name a kid the JWKS holds")]
    UnknownRetiredKey(String),
    /// The longest accepted age of an authentication is not positive.
    #[error("max_auth_age must be positive")]
    MaxAuthAge,
}

/// Why an ID token does not prove the approval it is attached to. Every
/// variant names the claim or header at fault ([`TokenError::claim`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a compact JWS of three base64url parts with JSON header and
    /// claims.
    #[error("the ID token is not a compact JWS (header.claims.signature, base64url JSON): {0}")]
    Malformed(String),
    /// `alg: none`.
    #[error("the ID token is unsigned (alg \"none\"): only tokens signed by the pinned keys count")]
    Unsigned,
    /// An HMAC algorithm, which a public key cannot verify.
    #[error(
        "the ID token is signed with {0}, a shared-secret algorithm: identity providers sign ID \
         tokens with their private key (RS256, ES256, EdDSA); a token MACed with a public key is \
         a forgery"
    )]
    Symmetric(String),
    /// A `crit` header parameter.
    #[error(
        "the ID token has critical header parameters {0:?}, which this verifier does not implement"
    )]
    Critical(Vec<String>),
    /// No pinned key has the token's `kid`.
    #[error(
        "no pinned key of identity provider {idp:?} has kid {kid:?}: if the provider rotated its keys, update the JWKS file the policy pins"
    )]
    UnknownKey {
        /// The provider's name in the policy.
        idp: String,
        /// The token's `kid` (empty when it has none).
        kid: String,
    },
    /// The token's algorithm is not its key's.
    #[error("the ID token says alg {alg}, which key {kid:?} is not for")]
    WrongAlgorithm {
        /// The token's `alg`.
        alg: String,
        /// The key.
        kid: String,
    },
    /// The signature does not verify.
    #[error("the ID token's signature does not verify under pinned key {0:?}")]
    Signature(String),
    /// The key was retired before the token was issued.
    #[error(
        "key {kid:?} was retired at {not_after} (Unix seconds) and the token was issued at {issued_at}: the policy no longer trusts tokens it signs"
    )]
    RetiredKey {
        /// The key.
        kid: String,
        /// When the policy stopped trusting it.
        not_after: i64,
        /// The token's `iat`.
        issued_at: i64,
    },
    /// A required claim is missing or mistyped.
    #[error("the ID token has no valid {0} claim")]
    Missing(&'static str),
    /// `iss` is not the pinned issuer.
    #[error("the ID token's iss {got:?} is not the pinned issuer {want:?}")]
    Issuer {
        /// The token's `iss`.
        got: String,
        /// The policy's issuer.
        want: String,
    },
    /// `aud` does not hold the pinned audience.
    #[error(
        "the ID token's aud {got:?} does not name the pinned audience {want:?}: the token was issued to another application"
    )]
    Audience {
        /// The token's audiences.
        got: Vec<String>,
        /// The policy's audience.
        want: String,
    },
    /// Several audiences and `azp` is not the pinned one.
    #[error("the ID token has several audiences and its azp {0:?} is not the pinned audience")]
    AuthorizedParty(Option<String>),
    /// `nonce` is not the digest of this approval.
    #[error(
        "the ID token's nonce is not the digest of this record's plan, scope, ticket and validity: the login was for another approval; log in again for this one"
    )]
    Nonce,
    /// The token had expired when the record was made.
    #[error(
        "the ID token expired at {exp} (Unix seconds), before the record's time {at}: log in again"
    )]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The record's time.
        at: i64,
    },
    /// The token was issued after the record was made.
    #[error("the ID token was issued at {iat} (Unix seconds), after the record's time {at}")]
    IssuedLater {
        /// The token's `iat`.
        iat: i64,
        /// The record's time.
        at: i64,
    },
    /// The login is older than the policy allows, or in the future.
    #[error(
        "the approver authenticated at {auth_time} (Unix seconds), {age} s before the record; the policy accepts at most {max} s: log in again"
    )]
    AuthTime {
        /// The token's `auth_time`.
        auth_time: i64,
        /// The record's time minus `auth_time` (negative: in the future).
        age: i64,
        /// The policy's `max_auth_age`.
        max: i64,
    },
}

impl TokenError {
    /// The claim or header parameter at fault, as the log's refusal names
    /// it: `alg`, `crit`, `kid`, `signature`, `iss`, `aud`, `azp`,
    /// `nonce`, `exp`, `iat`, `auth_time`, `sub` or `token`.
    pub fn claim(&self) -> &'static str {
        match self {
            TokenError::Malformed(_) => "token",
            TokenError::Unsigned | TokenError::Symmetric(_) | TokenError::WrongAlgorithm { .. } => {
                "alg"
            }
            TokenError::Critical(_) => "crit",
            TokenError::UnknownKey { .. } | TokenError::RetiredKey { .. } => "kid",
            TokenError::Signature(_) => "signature",
            TokenError::Missing(claim) => claim,
            TokenError::Issuer { .. } => "iss",
            TokenError::Audience { .. } => "aud",
            TokenError::AuthorizedParty(_) => "azp",
            TokenError::Nonce => "nonce",
            TokenError::Expired { .. } => "exp",
            TokenError::IssuedLater { .. } => "iat",
            TokenError::AuthTime { .. } => "auth_time",
        }
    }
}

/// Why a login step's input is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// A URL does not parse.
    #[error("{what} {url:?} is not a URL: {why}")]
    Url {
        /// Which URL.
        what: &'static str,
        /// The text.
        url: String,
        /// The parser's reason.
        why: String,
    },
    /// The discovery document's issuer is not the one asked for.
    #[error(
        "the discovery document names issuer {got:?}, not {want:?} (OpenID Connect Discovery §4.3): check --oidc-issuer"
    )]
    DiscoveryIssuer {
        /// The document's issuer.
        got: String,
        /// The requested issuer.
        want: String,
    },
    /// The provider does not offer PKCE with S256.
    #[error(
        "the identity provider does not offer PKCE with S256 (code_challenge_methods_supported {0:?})"
    )]
    NoPkce(Vec<String>),
    /// The provider answered the login with an error.
    #[error("the identity provider refused the login: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        /// The OAuth `error` code.
        error: String,
        /// Its `error_description`.
        description: Option<String>,
    },
    /// The redirect's `state` is not this login's: another page or
    /// process sent it.
    #[error(
        "the login redirect carries another state: it was not sent by the login this command started; try again"
    )]
    State,
    /// The redirect has no `code`.
    #[error("the login redirect has no code parameter")]
    NoCode,
    /// The token endpoint's answer has no ID token.
    #[error("the token endpoint's answer is not a token response with an id_token: {0}")]
    TokenResponse(String),
}
