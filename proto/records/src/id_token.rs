//! Whether an authorization's ID token proves what the record says: that
//! the approver named in it logged in at a pinned identity provider, the
//! way it says, for this very plan. The log refuses an authorization
//! whose token fails ([`validate`](super::validate) rule 9); the auditor
//! re-checks it offline and reports the result.

use causeway_oidc::{Expected, TokenError, VerifiedIdToken, verify::claimed_issuer};

use super::kinds::Authorization;
use super::policy::ProducerPolicy;

/// What an authorization's ID token establishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdpBinding {
    /// The token verifies under a pinned provider, is bound to this plan,
    /// and the record says what the token says.
    Verified(VerifiedIdToken),
    /// The record carries no token.
    Missing,
    /// The token, or the record's claims about the login, do not hold.
    Invalid {
        /// The claim or record field at fault (`nonce`, `aud`,
        /// `approver.subject`, …).
        claim: String,
        /// What is wrong and what to do.
        message: String,
    },
}

impl IdpBinding {
    /// The verified token, if there is one.
    pub fn verified(&self) -> Option<&VerifiedIdToken> {
        match self {
            IdpBinding::Verified(token) => Some(token),
            _ => None,
        }
    }
}

fn invalid(claim: &str, message: String) -> IdpBinding {
    IdpBinding::Invalid {
        claim: claim.to_owned(),
        message,
    }
}

/// Checks `authorization`'s ID token against the policy's providers.
pub fn bind(authorization: &Authorization, policy: &ProducerPolicy) -> IdpBinding {
    let Some(token) = authorization.authn.id_token.as_deref() else {
        return IdpBinding::Missing;
    };
    let field = "authorization.authn.id_token";
    let token_error =
        |e: TokenError| invalid(e.claim(), format!("{field}: claim {}: {e}", e.claim()));
    let issuer = match claimed_issuer(token) {
        Ok(issuer) => issuer,
        Err(e) => return token_error(e),
    };
    let Some(provider) = policy.identity_provider(&issuer) else {
        let pinned: Vec<&str> = policy
            .identity_providers()
            .iter()
            .map(|p| p.issuer())
            .collect();
        return invalid(
            "iss",
            format!(
                "{field}: claim iss: {issuer:?} is not an identity provider the producer policy \
                 pins (pinned: {pinned:?}); add an [[idp]] table for it"
            ),
        );
    };
    let nonce = authorization.idp_nonce();
    let expected = Expected {
        nonce: &nonce,
        at: authorization.time.seconds(),
        skew_secs: policy.max_future_skew_secs(),
    };
    let verified = match provider.verify(token, &expected) {
        Ok(verified) => verified,
        Err(e) => return token_error(e),
    };

    // The record's own words about the login must be the token's: a
    // producer cannot attach a real token and claim more than it says.
    let a = authorization;
    let says = |what: &str, record: String, token: String| {
        invalid(
            what,
            format!(
                "authorization.{what} is {record}, but the ID token says {token}: copy it from \
                 the token (causeway approve does)"
            ),
        )
    };
    if a.approver.subject != verified.subject() {
        return says(
            "approver.subject",
            format!("{:?}", a.approver.subject),
            format!("{:?} (email, else sub)", verified.subject()),
        );
    }
    if a.approver.issuer != verified.issuer {
        return says(
            "approver.issuer",
            format!("{:?}", a.approver.issuer),
            format!("{:?} (iss)", verified.issuer),
        );
    }
    if a.authn.authenticated_at.seconds() != verified.auth_time {
        return says(
            "authn.authenticated_at",
            a.authn.authenticated_at.to_string(),
            format!("{} (auth_time, Unix seconds)", verified.auth_time),
        );
    }
    if a.authn.mfa != verified.mfa() {
        return says(
            "authn.mfa",
            a.authn.mfa.to_string(),
            format!("{} (amr {:?})", verified.mfa(), verified.amr),
        );
    }
    if a.authn.assurance != verified.acr {
        return says(
            "authn.assurance",
            format!("{:?}", a.authn.assurance),
            format!("{:?} (acr)", verified.acr),
        );
    }
    IdpBinding::Verified(verified)
}
