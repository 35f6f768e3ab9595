//! An identity provider the producer policy trusts, valid once built.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::error::IdpError;

/// What the policy says of one identity provider, before it is checked.
#[derive(Clone, Debug)]
pub struct IdpSettings<'a> {
    /// The provider's name in the policy, used in messages and reports.
    pub name: &'a str,
    /// Its issuer URL, exactly as the tokens' `iss`.
    pub issuer: &'a str,
    /// The client ID tokens must be issued to (`aud`).
    pub audience: &'a str,
    /// The provider's JSON Web Key Set, as its `jwks_uri` serves it.
    pub jwks: &'a str,
    /// Keys the policy stopped trusting, and since when.
    pub retired: &'a [RetiredKey],
    /// The oldest login an approval may rest on, in seconds before the
    /// record's time.
    pub max_auth_age_secs: i64,
}

/// A key that signed tokens until a point in time: tokens it issued later
/// are refused. Pinning a rotated-out key this way keeps old approvals
/// verifiable while refusing new tokens from a key that may have leaked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetiredKey {
    /// The key's `kid`.
    pub kid: String,
    /// The last `iat` (Unix seconds) the policy accepts from it.
    pub not_after: i64,
}

/// One pinned public key.
#[derive(Clone)]
pub(crate) struct PinnedKey {
    /// The key's `kid`; `None` only when it is the provider's one key.
    pub(crate) kid: Option<String>,
    pub(crate) key: DecodingKey,
    /// The algorithms the key may be used with; never an HMAC.
    pub(crate) algorithms: Vec<Algorithm>,
    /// From [`RetiredKey`].
    pub(crate) not_after: Option<i64>,
}

impl PinnedKey {
    /// The key's name in messages.
    pub(crate) fn label(&self) -> &str {
        self.kid.as_deref().unwrap_or("(no kid)")
    }
}

/// An identity provider the policy trusts: issuer, audience, public keys
/// and how old a login may be. Built only by [`IdentityProvider::new`],
/// which refuses settings that would make forgery possible.
#[derive(Clone)]
pub struct IdentityProvider {
    pub(crate) name: String,
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) keys: Vec<PinnedKey>,
    pub(crate) max_auth_age_secs: i64,
}

impl std::fmt::Debug for IdentityProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProvider")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field(
                "keys",
                &self.keys.iter().map(PinnedKey::label).collect::<Vec<_>>(),
            )
            .field("max_auth_age_secs", &self.max_auth_age_secs)
            .finish()
    }
}

impl IdentityProvider {
    /// Checks the settings and pins the keys.
    ///
    /// # Errors
    /// [`IdpError`]: an issuer that is not an https URL (http only on
    /// loopback), an empty audience, a JWKS that does not parse or holds
    /// no key, a symmetric key, an encryption-only or unsupported key,
    /// ambiguous `kid`s, a retired key the JWKS lacks, a non-positive
    /// `max_auth_age`.
    pub fn new(settings: &IdpSettings<'_>) -> Result<Self, IdpError> {
        check_issuer(settings.issuer)?;
        if settings.audience.trim().is_empty() {
            return Err(IdpError::Audience);
        }
        if settings.max_auth_age_secs <= 0 {
            return Err(IdpError::MaxAuthAge);
        }
        let set: JwkSet =
            serde_json::from_str(settings.jwks).map_err(|e| IdpError::Jwks(e.to_string()))?;
        if set.keys.is_empty() {
            return Err(IdpError::NoKeys);
        }
        let mut keys = Vec::with_capacity(set.keys.len());
        for (n, jwk) in set.keys.iter().enumerate() {
            let kid = jwk.common.key_id.clone();
            let label = kid.clone().unwrap_or_else(|| format!("#{n}"));
            let unusable = |why: &str| IdpError::UnusableKey {
                kid: label.clone(),
                why: why.to_owned(),
            };
            if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
                return Err(unusable("its \"use\" is \"enc\", not \"sig\""));
            }
            let declared = match jwk.common.key_algorithm {
                None => None,
                Some(alg) => Some(signing_algorithm(alg).ok_or_else(|| {
                    unusable("its \"alg\" is not a signature algorithm this verifier accepts")
                })?),
            };
            let algorithms = match &jwk.algorithm {
                AlgorithmParameters::OctetKey(_) => return Err(IdpError::SymmetricKey(label)),
                AlgorithmParameters::RSA(_) => {
                    let family = [
                        Algorithm::RS256,
                        Algorithm::RS384,
                        Algorithm::RS512,
                        Algorithm::PS256,
                        Algorithm::PS384,
                        Algorithm::PS512,
                    ];
                    narrow(&family, declared)
                        .ok_or_else(|| unusable("\"alg\" is not an RSA one"))?
                }
                AlgorithmParameters::EllipticCurve(ec) => {
                    let only = match ec.curve {
                        EllipticCurve::P256 => Algorithm::ES256,
                        EllipticCurve::P384 => Algorithm::ES384,
                        _ => return Err(unusable("only P-256 and P-384 EC keys are supported")),
                    };
                    narrow(&[only], declared)
                        .ok_or_else(|| unusable("\"alg\" does not match the curve"))?
                }
                AlgorithmParameters::OctetKeyPair(okp) => {
                    if okp.curve != EllipticCurve::Ed25519 {
                        return Err(unusable("only Ed25519 OKP keys are supported"));
                    }
                    narrow(&[Algorithm::EdDSA], declared)
                        .ok_or_else(|| unusable("\"alg\" is not EdDSA"))?
                }
            };
            let key = DecodingKey::from_jwk(jwk).map_err(|e| unusable(&e.to_string()))?;
            keys.push(PinnedKey {
                kid,
                key,
                algorithms,
                not_after: None,
            });
        }
        check_kids(&keys)?;
        for retired in settings.retired {
            let key = keys
                .iter_mut()
                .find(|k| k.kid.as_deref() == Some(retired.kid.as_str()))
                .ok_or_else(|| IdpError::UnknownRetiredKey(retired.kid.clone()))?;
            key.not_after = Some(retired.not_after);
        }
        Ok(IdentityProvider {
            name: settings.name.to_owned(),
            issuer: settings.issuer.to_owned(),
            audience: settings.audience.to_owned(),
            keys,
            max_auth_age_secs: settings.max_auth_age_secs,
        })
    }

    /// The provider's name in the policy.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its issuer URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The client ID its tokens must be issued to.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The oldest login an approval may rest on, in seconds.
    pub fn max_auth_age_secs(&self) -> i64 {
        self.max_auth_age_secs
    }

    pub(crate) fn key(&self, kid: Option<&str>) -> Option<&PinnedKey> {
        match kid {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            // A token without a kid can only mean the provider's one key.
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        }
    }
}

fn signing_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        // HMAC and encryption algorithms never verify an ID token here.
        _ => return None,
    })
}

/// The key type's algorithms, or only the declared one if it is among them.
fn narrow(family: &[Algorithm], declared: Option<Algorithm>) -> Option<Vec<Algorithm>> {
    match declared {
        None => Some(family.to_vec()),
        Some(alg) if family.contains(&alg) => Some(vec![alg]),
        Some(_) => None,
    }
}

fn check_kids(keys: &[PinnedKey]) -> Result<(), IdpError> {
    if keys.len() == 1 {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::new();
    for key in keys {
        match &key.kid {
            None => return Err(IdpError::AmbiguousKid(String::from("(no kid)"))),
            Some(kid) if !seen.insert(kid.as_str()) => {
                return Err(IdpError::AmbiguousKid(kid.clone()));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn check_issuer(issuer: &str) -> Result<(), IdpError> {
    let bad = || IdpError::Issuer(issuer.to_owned());
    let url = url::Url::parse(issuer).map_err(|_| bad())?;
    let loopback = matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    // OpenID Connect Core §2: the issuer is https, with no query or
    // fragment. Plain http only for a provider on this machine (tests,
    // development).
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !scheme_ok || url.query().is_some() || url.fragment().is_some() {
        return Err(bad());
    }
    Ok(())
}
