//! `causeway approve`: a human approves a scoped plan. The plan file
//! ([`plan`]) becomes an `authorization` record; with an identity
//! provider, the approver first logs in ([`login`]) with the plan's digest
//! as the OpenID Connect `nonce`, and the record carries the ID token and
//! what it says of the login ([`bind_login`]).

pub mod login;
pub mod plan;

use causeway_oidc::verify::{StatedClaims, amr_is_mfa};
use causeway_records::{Authn, Authorization, Identity, Time};

/// Fills in who approved and how they logged in, from the ID token's
/// claims: `approver.subject` (`email`, else `sub`) and `issuer` (`iss`),
/// `authenticated_at` (`auth_time`), `mfa` (`amr`) and `assurance`
/// (`acr`). The log and the auditor check each against the token.
pub fn bind_login(authorization: &mut Authorization, id_token: String, claims: &StatedClaims) {
    authorization.approver = Identity {
        subject: claims.subject.clone(),
        issuer: claims.issuer.clone(),
    };
    authorization.authn = Authn {
        method: String::from("oidc"),
        mfa: amr_is_mfa(&claims.amr),
        assurance: claims.acr.clone(),
        // auth_time came from a verified token or is checked by the log;
        // a value out of Time's range fails there.
        authenticated_at: Time::new(claims.auth_time, 0).unwrap_or(authorization.time),
        id_token: Some(id_token),
    };
}
