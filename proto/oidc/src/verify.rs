//! The offline check of one ID token against a pinned identity provider.
//!
//! Signature and algorithm go through `jsonwebtoken` (with only the pinned
//! key's algorithms allowed); the claims are checked here, against the
//! record's own time rather than the verifier's clock, because an auditor
//! re-checks tokens months after they expired. OpenID Connect Core
//! §3.1.3.7 lists the checks; `auth_time` and `nonce` are required here
//! because they are what binds the login to the approval.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};

use crate::error::TokenError;
use crate::idp::IdentityProvider;

/// What the token must match: the approval it is attached to.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The digest of the approval (`Authorization::idp_nonce` in
    /// `causeway-records`).
    pub nonce: &'a str,
    /// The record's time, Unix seconds.
    pub at: i64,
    /// How far clocks may disagree, in seconds (the policy's skew).
    pub skew_secs: i64,
}

/// A token that passed [`IdentityProvider::verify`]: what the identity
/// provider asserts about the login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifiedIdToken {
    /// The provider's name in the policy.
    pub idp: String,
    /// `iss`.
    pub issuer: String,
    /// `sub`: the provider's identifier of the person.
    pub sub: String,
    /// `email`, when the provider asserts one and does not say it is
    /// unverified.
    pub email: Option<String>,
    /// When the person authenticated (`auth_time`), Unix seconds.
    pub auth_time: i64,
    /// How (`amr`, RFC 8176 values such as `pwd`, `otp`, `hwk`, `mfa`).
    pub amr: Vec<String>,
    /// The assurance class (`acr`), empty when the provider gives none.
    pub acr: String,
    /// The signing key's `kid`.
    pub kid: Option<String>,
    /// `iat`.
    pub issued_at: i64,
}

impl VerifiedIdToken {
    /// The approver's subject as a record names it: the verified e-mail
    /// when there is one (what a policy's principals are named by), else
    /// `sub`.
    pub fn subject(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.sub)
    }

    /// Whether the login used more than one factor: `amr` says `mfa` or
    /// `mca` (RFC 8176), or lists two or more methods.
    pub fn mfa(&self) -> bool {
        amr_is_mfa(&self.amr)
    }
}

/// Whether `amr` describes a login with more than one factor: it says
/// `mfa` or `mca` (RFC 8176), or lists two or more distinct methods.
pub fn amr_is_mfa(amr: &[String]) -> bool {
    let mut methods: Vec<&str> = amr.iter().map(String::as_str).collect();
    methods.sort_unstable();
    methods.dedup();
    methods.iter().any(|m| *m == "mfa" || *m == "mca") || methods.len() >= 2
}

/// A token's claims as it states them, unverified: what a producer copies
/// into the record before the log (and later the auditor) verifies the
/// token against the pinned keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatedClaims {
    /// `iss`.
    pub issuer: String,
    /// `email` when present and not marked unverified, else `sub`.
    pub subject: String,
    /// `auth_time`.
    pub auth_time: i64,
    /// `amr`.
    pub amr: Vec<String>,
    /// `acr`, empty when absent.
    pub acr: String,
    /// `nonce`.
    pub nonce: String,
}

impl VerifiedIdToken {
    /// What the token states, for the record: the claims a producer
    /// copies, from a token already verified against `nonce`.
    pub fn stated(&self, nonce: &str) -> StatedClaims {
        StatedClaims {
            issuer: self.issuer.clone(),
            subject: self.subject().to_owned(),
            auth_time: self.auth_time,
            amr: self.amr.clone(),
            acr: self.acr.clone(),
            nonce: nonce.to_owned(),
        }
    }
}

/// Reads a token's claims without verifying anything.
///
/// # Errors
/// [`TokenError::Malformed`] or [`TokenError::Missing`] naming the claim.
pub fn stated_claims(token: &str) -> Result<StatedClaims, TokenError> {
    let [_, claims, _] = jws_parts(token)?;
    let c: Claims = decode_part(claims, "claims part")?;
    let sub = string(c.sub, "sub")?;
    let (email, amr, acr) = login_claims(c.email, c.email_verified, c.amr, c.acr);
    Ok(StatedClaims {
        issuer: string(c.iss, "iss")?,
        subject: email.unwrap_or(sub),
        auth_time: seconds(c.auth_time, "auth_time")?,
        amr,
        acr,
        nonce: string(c.nonce, "nonce")?,
    })
}

type Json = Option<serde_json::Value>;

/// `email` (unless marked unverified), `amr` and `acr`, read leniently.
fn login_claims(
    email: Json,
    email_verified: Json,
    amr: Json,
    acr: Json,
) -> (Option<String>, Vec<String>, String) {
    let verified = !matches!(email_verified, Some(serde_json::Value::Bool(false)));
    let email = match email {
        Some(serde_json::Value::String(e)) if !e.is_empty() && verified => Some(e),
        _ => None,
    };
    let amr = match amr {
        Some(serde_json::Value::Array(values)) => values
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let acr = match acr {
        Some(serde_json::Value::String(acr)) => acr,
        _ => String::new(),
    };
    (email, amr, acr)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    crit: Option<Vec<String>>,
}

/// The claims read; every other claim is ignored. Mistyped claims read as
/// absent, so each is reported by name.
#[derive(Deserialize)]
struct Claims {
    iss: Option<serde_json::Value>,
    sub: Option<serde_json::Value>,
    aud: Option<serde_json::Value>,
    azp: Option<serde_json::Value>,
    exp: Option<serde_json::Value>,
    iat: Option<serde_json::Value>,
    auth_time: Option<serde_json::Value>,
    nonce: Option<serde_json::Value>,
    email: Option<serde_json::Value>,
    email_verified: Option<serde_json::Value>,
    amr: Option<serde_json::Value>,
    acr: Option<serde_json::Value>,
}

fn string(value: Option<serde_json::Value>, claim: &'static str) -> Result<String, TokenError> {
    match value {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(TokenError::Missing(claim)),
    }
}

fn seconds(value: Option<serde_json::Value>, claim: &'static str) -> Result<i64, TokenError> {
    value
        .as_ref()
        .and_then(serde_json::Value::as_i64)
        .ok_or(TokenError::Missing(claim))
}

/// The header, claims and signature parts of a compact JWS.
fn jws_parts(token: &str) -> Result<[&str; 3], TokenError> {
    let parts: Vec<&str> = token.split('.').collect();
    <[&str; 3]>::try_from(parts.as_slice())
        .map_err(|_| TokenError::Malformed(format!("{} parts, not 3", parts.len())))
}

fn decode_part<T: for<'de> Deserialize<'de>>(part: &str, what: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| TokenError::Malformed(format!("the {what} is not base64url: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| TokenError::Malformed(format!("the {what} is not a JSON object: {e}")))
}

/// The `iss` a token claims, unverified: which pinned provider to check it
/// against.
///
/// # Errors
/// [`TokenError::Malformed`] or [`TokenError::Missing`]`("iss")`.
pub fn claimed_issuer(token: &str) -> Result<String, TokenError> {
    let [_, claims, _] = jws_parts(token)?;
    let claims: Claims = decode_part(claims, "claims part")?;
    string(claims.iss, "iss")
}

impl IdentityProvider {
    /// Verifies `token` as this provider's ID token for the approval
    /// `expected` describes.
    ///
    /// # Errors
    /// The first [`TokenError`] found: the header (alg, crit, kid), the
    /// signature, then `iss`, `aud`/`azp`, `sub`, `nonce`, `iat`, `exp`,
    /// the key's retirement and `auth_time`.
    pub fn verify(
        &self,
        token: &str,
        expected: &Expected<'_>,
    ) -> Result<VerifiedIdToken, TokenError> {
        let [header, _, _] = jws_parts(token)?;
        let header: Header = decode_part(header, "header")?;
        if header.alg.eq_ignore_ascii_case("none") {
            return Err(TokenError::Unsigned);
        }
        if header.alg.starts_with("HS") {
            return Err(TokenError::Symmetric(header.alg));
        }
        if let Some(crit) = header.crit {
            return Err(TokenError::Critical(crit));
        }
        let key = self
            .key(header.kid.as_deref())
            .ok_or_else(|| TokenError::UnknownKey {
                idp: self.name.clone(),
                kid: header.kid.clone().unwrap_or_default(),
            })?;
        let alg: Algorithm = header
            .alg
            .parse()
            .map_err(|_| TokenError::Malformed(format!("unknown alg {:?}", header.alg)))?;
        if !key.algorithms.contains(&alg) {
            return Err(TokenError::WrongAlgorithm {
                alg: header.alg,
                kid: key.label().to_owned(),
            });
        }

        // Only the signature: claims are checked below, against the
        // record's time.
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data =
            jsonwebtoken::decode::<Claims>(token, &key.key, &validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                        TokenError::Signature(key.label().to_owned())
                    }
                    _ => TokenError::Malformed(e.to_string()),
                }
            })?;
        let claims = data.claims;

        let issuer = string(claims.iss, "iss")?;
        if issuer != self.issuer {
            return Err(TokenError::Issuer {
                got: issuer,
                want: self.issuer.clone(),
            });
        }
        let audiences = match claims
            .aud
            .map(serde_json::from_value::<Audience>)
            .transpose()
        {
            Ok(Some(Audience::One(a))) => vec![a],
            Ok(Some(Audience::Many(a))) if !a.is_empty() => a,
            _ => return Err(TokenError::Missing("aud")),
        };
        if !audiences.contains(&self.audience) {
            return Err(TokenError::Audience {
                got: audiences,
                want: self.audience.clone(),
            });
        }
        if audiences.len() > 1 {
            let azp = claims.azp.and_then(|v| v.as_str().map(str::to_owned));
            if azp.as_deref() != Some(self.audience.as_str()) {
                return Err(TokenError::AuthorizedParty(azp));
            }
        }
        let sub = string(claims.sub, "sub")?;
        let nonce = string(claims.nonce, "nonce")?;
        if nonce != expected.nonce {
            return Err(TokenError::Nonce);
        }
        let issued_at = seconds(claims.iat, "iat")?;
        if issued_at > expected.at.saturating_add(expected.skew_secs) {
            return Err(TokenError::IssuedLater {
                iat: issued_at,
                at: expected.at,
            });
        }
        let exp = seconds(claims.exp, "exp")?;
        if expected.at > exp.saturating_add(expected.skew_secs) {
            return Err(TokenError::Expired {
                exp,
                at: expected.at,
            });
        }
        if let Some(not_after) = key.not_after
            && issued_at > not_after
        {
            return Err(TokenError::RetiredKey {
                kid: key.label().to_owned(),
                not_after,
                issued_at,
            });
        }
        let auth_time = seconds(claims.auth_time, "auth_time")?;
        let age = expected.at.saturating_sub(auth_time);
        if age > self.max_auth_age_secs || age < -expected.skew_secs {
            return Err(TokenError::AuthTime {
                auth_time,
                age,
                max: self.max_auth_age_secs,
            });
        }
        let (email, amr, acr) =
            login_claims(claims.email, claims.email_verified, claims.amr, claims.acr);
        Ok(VerifiedIdToken {
            idp: self.name.clone(),
            issuer,
            sub,
            email,
            auth_time,
            amr,
            acr,
            kid: key.kid.clone(),
            issued_at,
        })
    }
}
