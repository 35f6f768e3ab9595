//! What an authorization's ID token proves, as the report says it: the
//! outcome of the offline re-check (`causeway_records::id_token::bind`,
//! the log's admission rule 9) against the identity providers the policy
//! pins. A report never repeats the record's own claims about the login
//! as if the identity provider had made them.

use causeway_records::{IdpBinding, Time};
use serde::Serialize;

/// Whether the approval is bound to a login at a pinned identity provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdpStatus {
    /// The ID token verifies and is bound to this plan.
    Verified,
    /// The record carries no ID token: its login details are the signer's
    /// own words.
    Missing,
    /// The ID token does not verify, is for another approval, or
    /// disagrees with the record.
    Invalid,
}

/// The ID-token evidence of one authorization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IdpReport {
    /// The outcome.
    pub status: IdpStatus,
    /// The pinned provider's name, when verified.
    pub provider: Option<String>,
    /// The provider's issuer URL, when verified.
    pub issuer: Option<String>,
    /// The authentication methods it asserts (`amr`), when verified.
    pub amr: Vec<String>,
    /// The assurance class it asserts (`acr`), when verified.
    pub acr: Option<String>,
    /// When it says the person logged in (`auth_time`), when verified.
    pub auth_time: Option<Time>,
    /// The claim or field at fault, when invalid.
    pub claim: Option<String>,
    /// One sentence for people.
    pub summary: String,
}

impl IdpReport {
    /// The report of a binding.
    pub fn of(binding: &IdpBinding) -> Self {
        let empty = IdpReport {
            status: IdpStatus::Missing,
            provider: None,
            issuer: None,
            amr: Vec::new(),
            acr: None,
            auth_time: None,
            claim: None,
            summary: String::from(
                "not bound to an identity-provider login: the record carries no ID token, so \
                 how the approver signed in is only the signer's word",
            ),
        };
        match binding {
            IdpBinding::Missing => empty,
            IdpBinding::Invalid { claim, message } => IdpReport {
                status: IdpStatus::Invalid,
                claim: Some(claim.clone()),
                summary: format!("the ID token does not prove this approval: {message}"),
                ..empty
            },
            IdpBinding::Verified(token) => {
                let auth_time = Time::new(token.auth_time, 0).ok();
                let when = auth_time.map_or_else(|| token.auth_time.to_string(), |t| t.to_string());
                let amr = if token.amr.is_empty() {
                    String::from("unstated methods")
                } else {
                    token.amr.join("+")
                };
                IdpReport {
                    status: IdpStatus::Verified,
                    provider: Some(token.idp.clone()),
                    issuer: Some(token.issuer.clone()),
                    amr: token.amr.clone(),
                    acr: Some(token.acr.clone()).filter(|a| !a.is_empty()),
                    auth_time,
                    claim: None,
                    summary: format!(
                        "authenticated by {} ({}) as {} with {amr} at {when}, bound to this plan",
                        token.idp,
                        token.issuer,
                        token.subject()
                    ),
                }
            }
        }
    }
}
