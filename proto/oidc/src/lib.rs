//! OpenID Connect ID tokens as evidence of a human's approval.
//!
//! An `authorization` record can carry the ID token its approver's
//! identity provider issued at login (issue 19). The token's `nonce` is a
//! digest of the exact plan approved, so the token proves that *this
//! person*, authenticated *this way* (`amr`, `acr`, `auth_time`), approved
//! *this plan*; it cannot be moved to another. The log checks the token at
//! admission and the auditor checks it again offline, both against the
//! identity provider the producer policy pins: its issuer URL, its
//! audience (the approval tool's client ID) and its JWKS, read from a file
//! so that an audit needs no network.
//!
//! - [`idp`]: a pinned identity provider, valid once built (no symmetric
//!   key, every key usable, retired keys named).
//! - [`verify`]: [`IdentityProvider::verify`], the offline check of one
//!   token, each failure naming the claim ([`TokenError::claim`]).
//! - [`login`]: the arithmetic of an authorization-code login with PKCE
//!   (RFC 7636) and a loopback redirect (RFC 8252): request URL, state,
//!   callback parsing, discovery document. The HTTP is the caller's.
//!
//! What the verifier refuses, because each is a known way to forge a
//! token: `alg: none`; any HMAC algorithm (a verifier that accepted
//! HS256 with the *public* key as the secret would accept tokens anyone
//! can make); an algorithm that is not the pinned key's; a key the token
//! carries itself (`jwk`, `jku`, `x5u` headers are ignored: only pinned
//! keys are used); a `crit` header it does not understand.

pub mod error;
pub mod idp;
pub mod login;
pub mod verify;

pub use error::{IdpError, LoginError, TokenError};
pub use idp::{IdentityProvider, IdpSettings, RetiredKey};
pub use login::{Discovery, LoginRequest, TokenResponse};
pub use verify::{Expected, VerifiedIdToken};

#[cfg(test)]
mod tests;
