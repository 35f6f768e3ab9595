//! Tokens made here with a fresh P-256 key, and the forgeries a verifier
//! must refuse. The tests against a real provider (npm's `oidc-provider`)
//! are in `tests/tests/approve.rs`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePrivateKey;
use serde_json::{Value, json};

use crate::idp::{IdentityProvider, IdpSettings, RetiredKey};
use crate::login::{LoginRequest, code_challenge};
use crate::verify::{Expected, claimed_issuer};
use crate::{IdpError, LoginError, TokenError};

const ISSUER: &str = "https://sso.example.com";
const AUDIENCE: &str = "causeway-approve";
const NOW: i64 = 1_800_000_000;

struct Key {
    signing: SigningKey,
    kid: &'static str,
}

impl Key {
    fn new(kid: &'static str) -> Self {
        Key {
            signing: SigningKey::random(&mut rand::rngs::OsRng),
            kid,
        }
    }

    fn jwk(&self) -> Value {
        let point = self.signing.verifying_key().to_encoded_point(false);
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(point.x().expect("uncompressed")),
            "y": URL_SAFE_NO_PAD.encode(point.y().expect("uncompressed")),
        })
    }

    fn sign(&self, claims: &Value) -> String {
        let der = self.signing.to_pkcs8_der().expect("pkcs8");
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(der.as_bytes()))
            .expect("sign")
    }
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "u-123", "email": "alice@example.com",
        "email_verified": true, "nonce": "plan-digest", "iat": NOW - 10, "exp": NOW + 3590,
        "auth_time": NOW - 20, "amr": ["pwd", "otp"], "acr": "aal2",
    })
}

fn provider(keys: &[&Key], retired: &[RetiredKey]) -> IdentityProvider {
    let jwks = json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() }).to_string();
    IdentityProvider::new(&IdpSettings {
        name: "corp-sso",
        issuer: ISSUER,
        audience: AUDIENCE,
        jwks: &jwks,
        retired,
        max_auth_age_secs: 900,
    })
    .expect("valid settings")
}

fn expected() -> Expected<'static> {
    Expected {
        nonce: "plan-digest",
        at: NOW,
        skew_secs: 60,
    }
}

fn with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut c = claims();
    change(c.as_object_mut().expect("object"));
    c
}

#[test]
fn a_token_signed_by_the_pinned_key_for_this_plan_verifies() {
    let key = Key::new("k1");
    let token = key.sign(&claims());
    let verified = provider(&[&key], &[]).verify(&token, &expected()).unwrap();
    assert_eq!(verified.subject(), "alice@example.com");
    assert_eq!(verified.sub, "u-123");
    assert_eq!(verified.auth_time, NOW - 20);
    assert_eq!(verified.amr, ["pwd", "otp"]);
    assert_eq!(verified.acr, "aal2");
    assert!(verified.mfa());
    assert_eq!(verified.kid.as_deref(), Some("k1"));
    assert_eq!(claimed_issuer(&token).unwrap(), ISSUER);
}

#[test]
fn each_claim_that_does_not_match_is_named() {
    let key = Key::new("k1");
    let idp = provider(&[&key], &[]);
    let cases: Vec<(&str, Value)> = vec![
        (
            "nonce",
            with(|c| drop(c.insert("nonce".into(), json!("other-plan")))),
        ),
        (
            "aud",
            with(|c| drop(c.insert("aud".into(), json!("other-app")))),
        ),
        (
            "iss",
            with(|c| drop(c.insert("iss".into(), json!("https://evil.example")))),
        ),
        (
            "exp",
            with(|c| drop(c.insert("exp".into(), json!(NOW - 3600)))),
        ),
        (
            "iat",
            with(|c| drop(c.insert("iat".into(), json!(NOW + 3600)))),
        ),
        (
            "auth_time",
            with(|c| drop(c.insert("auth_time".into(), json!(NOW - 901)))),
        ),
        ("auth_time", with(|c| drop(c.remove("auth_time")))),
        ("nonce", with(|c| drop(c.remove("nonce")))),
        ("sub", with(|c| drop(c.insert("sub".into(), json!(7))))),
        (
            "azp",
            with(|c| drop(c.insert("aud".into(), json!([AUDIENCE, "other-app"])))),
        ),
    ];
    for (claim, claims) in cases {
        let e = idp.verify(&key.sign(&claims), &expected()).unwrap_err();
        assert_eq!(e.claim(), claim, "{e}");
    }
    let several = with(|c| {
        c.insert("aud".into(), json!([AUDIENCE, "other-app"]));
        c.insert("azp".into(), json!(AUDIENCE));
    });
    idp.verify(&key.sign(&several), &expected())
        .expect("several audiences with azp = ours");
}

#[test]
fn an_unsigned_token_is_refused() {
    let key = Key::new("k1");
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"k1"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims().to_string());
    for token in [format!("{header}.{body}."), format!("{header}.{body}")] {
        let e = provider(&[&key], &[])
            .verify(&token, &expected())
            .unwrap_err();
        assert!(
            matches!(e, TokenError::Unsigned | TokenError::Malformed(_)),
            "{e}"
        );
    }
    let token = format!("{header}.{body}.");
    assert_eq!(
        provider(&[&key], &[])
            .verify(&token, &expected())
            .unwrap_err(),
        TokenError::Unsigned
    );
}

#[test]
fn a_token_macd_with_the_public_key_is_refused() {
    // The classic confusion: HS256 with the verifier's public key as the
    // HMAC secret. Each form an attacker might pick for the "secret".
    let key = Key::new("k1");
    let jwk = key.jwk().to_string();
    let point = key.signing.verifying_key().to_encoded_point(false);
    for secret in [jwk.as_bytes(), point.as_bytes()] {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","kid":"k1"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims().to_string());
        let input = format!("{header}.{body}");
        let mac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
            input.as_bytes(),
        );
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
        let e = provider(&[&key], &[])
            .verify(&token, &expected())
            .unwrap_err();
        assert_eq!(e, TokenError::Symmetric("HS256".into()));
        assert_eq!(e.claim(), "alg");
    }
}

#[test]
fn another_key_an_altered_token_or_another_algorithm_is_refused() {
    let key = Key::new("k1");
    let stranger = Key::new("k1");
    let idp = provider(&[&key], &[]);
    let e = idp
        .verify(&stranger.sign(&claims()), &expected())
        .unwrap_err();
    assert_eq!(e, TokenError::Signature("k1".into()));

    let unknown = Key::new("k9");
    let e = idp
        .verify(&unknown.sign(&claims()), &expected())
        .unwrap_err();
    assert_eq!(e.claim(), "kid");

    // Claims changed after signing.
    let token = key.sign(&claims());
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD
        .encode(with(|c| drop(c.insert("email".into(), json!("mallory@example.com")))).to_string());
    let e = idp.verify(&parts.join("."), &expected()).unwrap_err();
    assert_eq!(e.claim(), "signature");

    // An ES256 key named for RS256.
    parts = token.split('.').map(str::to_owned).collect();
    parts[0] = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k1"}"#);
    let e = idp.verify(&parts.join("."), &expected()).unwrap_err();
    assert!(matches!(e, TokenError::WrongAlgorithm { .. }), "{e}");

    parts[0] = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","kid":"k1","crit":["exp"]}"#);
    let e = idp.verify(&parts.join("."), &expected()).unwrap_err();
    assert_eq!(e.claim(), "crit");
}

#[test]
fn a_retired_key_verifies_only_what_it_signed_before_retirement() {
    let old = Key::new("2026-q3");
    let new = Key::new("2026-q4");
    let retired = [RetiredKey {
        kid: "2026-q3".into(),
        not_after: NOW - 3600,
    }];
    let idp = provider(&[&old, &new], &retired);
    let e = idp.verify(&old.sign(&claims()), &expected()).unwrap_err();
    assert!(matches!(e, TokenError::RetiredKey { .. }), "{e}");
    assert_eq!(e.claim(), "kid");
    idp.verify(&new.sign(&claims()), &expected()).unwrap();

    // An approval made before the retirement still verifies, as an
    // auditor reading last year's log needs.
    let before = NOW - 7200;
    let earlier = with(|c| {
        c.insert("iat".into(), json!(before - 10));
        c.insert("exp".into(), json!(before + 3590));
        c.insert("auth_time".into(), json!(before - 20));
    });
    let at_the_time = Expected {
        at: before,
        ..expected()
    };
    idp.verify(&old.sign(&earlier), &at_the_time).unwrap();
}

#[test]
fn settings_that_would_allow_forgery_are_refused() {
    let key = Key::new("k1");
    let jwks = json!({ "keys": [key.jwk()] }).to_string();
    let settings = |issuer, jwks| IdpSettings {
        name: "corp-sso",
        issuer,
        audience: AUDIENCE,
        jwks,
        retired: &[],
        max_auth_age_secs: 900,
    };
    let oct = r#"{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}"#;
    assert_eq!(
        IdentityProvider::new(&settings(ISSUER, oct)).unwrap_err(),
        IdpError::SymmetricKey("s".into())
    );
    for issuer in [
        "http://sso.example.com",
        "sso.example.com",
        "https://sso.example.com?x=1",
    ] {
        assert!(matches!(
            IdentityProvider::new(&settings(issuer, &jwks)).unwrap_err(),
            IdpError::Issuer(_)
        ));
    }
    IdentityProvider::new(&settings("http://127.0.0.1:8080", &jwks)).expect("loopback http");
    let twins = json!({ "keys": [key.jwk(), key.jwk()] }).to_string();
    assert!(matches!(
        IdentityProvider::new(&settings(ISSUER, &twins)).unwrap_err(),
        IdpError::AmbiguousKid(_)
    ));
    assert_eq!(
        IdentityProvider::new(&settings(ISSUER, r#"{"keys":[]}"#)).unwrap_err(),
        IdpError::NoKeys
    );
}

#[test]
fn mfa_follows_amr() {
    let key = Key::new("k1");
    let idp = provider(&[&key], &[]);
    for (amr, mfa) in [
        (json!(["pwd"]), false),
        (json!(["pwd", "pwd"]), false),
        (json!(["mfa"]), true),
        (json!(["pwd", "hwk"]), true),
        (json!("pwd"), false),
    ] {
        let c = with(|c| drop(c.insert("amr".into(), amr.clone())));
        assert_eq!(
            idp.verify(&key.sign(&c), &expected()).unwrap().mfa(),
            mfa,
            "{amr}"
        );
    }
}

#[test]
fn pkce_matches_rfc_7636_appendix_b() {
    assert_eq!(
        code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn a_login_request_carries_the_nonce_and_checks_the_state() {
    let login = LoginRequest::new(
        "https://sso.example.com/auth",
        AUDIENCE,
        "http://127.0.0.1:5555/callback",
        "plan-digest",
    )
    .unwrap();
    let pairs: std::collections::HashMap<_, _> = login.url.query_pairs().into_owned().collect();
    assert_eq!(pairs["nonce"], "plan-digest");
    assert_eq!(
        pairs["code_challenge"],
        code_challenge(&login.code_verifier)
    );
    assert_eq!(pairs["code_challenge_method"], "S256");
    assert_eq!(pairs["redirect_uri"], "http://127.0.0.1:5555/callback");
    let query = format!("code=abc&state={}", login.state);
    assert_eq!(login.code_from_redirect(&query).unwrap(), "abc");
    assert_eq!(
        login
            .code_from_redirect("code=abc&state=forged")
            .unwrap_err(),
        LoginError::State
    );
    let refused = format!("error=access_denied&state={}", login.state);
    assert!(matches!(
        login.code_from_redirect(&refused).unwrap_err(),
        LoginError::Refused { .. }
    ));
    let other = LoginRequest::new("https://sso.example.com/auth", AUDIENCE, "x", "n").unwrap();
    assert_ne!(other.state, login.state);
    assert_ne!(other.code_verifier, login.code_verifier);
}
