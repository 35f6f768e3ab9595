//! Admission rule 9: an authorization's ID token must verify under a
//! pinned identity provider, carry this plan's nonce, and agree with what
//! the record says of the login. Tokens are made here with a fresh P-256
//! key; the same refusals against a real provider (npm's `oidc-provider`)
//! and the real server are in `tests/tests/approve.rs`.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use causeway_records::{
    Authorization, Envelope, IdpBinding, Kind, ProducerKey, ProducerPolicy, Record, RejectCode,
    Time, validate_at_record_time, validate_entry,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePrivateKey;
use serde_json::{Value, json};

const ISSUER: &str = "https://sso.example.com";

struct Fixture {
    alice: ProducerKey,
    idp_key: SigningKey,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            alice: ProducerKey::generate(&mut rand::rngs::OsRng),
            idp_key: SigningKey::random(&mut rand::rngs::OsRng),
        }
    }

    fn policy(&self, require_idp: bool) -> ProducerPolicy {
        let point = self.idp_key.verifying_key().to_encoded_point(false);
        let jwks = json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        }]});
        ProducerPolicy::parse(&format!(
            r#"require_idp = {require_idp}
[[principal]]
name = "alice@example.com"
role = "human"
keys = ["{}"]
[[idp]]
name = "corp-sso"
issuer = "{ISSUER}"
audience = "causeway-approve"
jwks = '{jwks}'
"#,
            STANDARD.encode(self.alice.public_spki_der())
        ))
        .expect("policy parses")
    }

    fn token(&self, claims: &Value) -> String {
        let der = self.idp_key.to_pkcs8_der().unwrap();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(der.as_bytes())).unwrap()
    }
}

/// The sample authorization, made now, with the login the claims describe.
fn approval(now: i64) -> Authorization {
    let text = include_str!("../../../testdata/records/authorization.json");
    let Record::Authorization(mut a) = Record::from_json(Kind::Authorization, text).unwrap() else {
        unreachable!()
    };
    a.time = Time::new(now, 0).unwrap();
    a.approver.issuer = ISSUER.into();
    a.authn.method = "oidc".into();
    a.authn.authenticated_at = Time::new(now - 30, 0).unwrap();
    a
}

fn claims(a: &Authorization, now: i64) -> Value {
    json!({
        "iss": ISSUER, "aud": "causeway-approve", "sub": "00u1", "email": "alice@example.com",
        "nonce": a.idp_nonce(), "iat": now - 5, "exp": now + 3600, "auth_time": now - 30,
        "amr": ["pwd", "otp"], "acr": "aal2",
    })
}

fn check(
    f: &Fixture,
    policy: &ProducerPolicy,
    a: &Authorization,
    now: i64,
) -> Result<causeway_records::Admitted, causeway_records::Rejection> {
    let entry = Envelope::sign(&Record::Authorization(a.clone()), &f.alice).encode();
    validate_entry(&entry, policy, now, &mut |_| None)
}

fn now() -> i64 {
    1_800_000_000
}

#[test]
fn an_approval_bound_to_its_login_is_admitted_with_what_the_idp_says() {
    let f = Fixture::new();
    let mut a = approval(now());
    a.authn.id_token = Some(f.token(&claims(&a, now())));
    let admitted = check(&f, &f.policy(true), &a, now()).expect("admitted");
    let Some(IdpBinding::Verified(token)) = admitted.idp else {
        panic!("not verified: {:?}", admitted.idp)
    };
    assert_eq!(token.idp, "corp-sso");
    assert_eq!(token.subject(), "alice@example.com");
    assert_eq!(token.amr, ["pwd", "otp"]);
}

#[test]
fn a_token_for_another_plan_is_refused_naming_the_nonce() {
    let f = Fixture::new();
    let mut a = approval(now());
    let mut other = a.clone();
    other
        .scope
        .targets
        .push("github.com/acme/everything".into());
    a.authn.id_token = Some(f.token(&claims(&other, now())));
    let e = check(&f, &f.policy(false), &a, now()).unwrap_err();
    assert_eq!(e.code, RejectCode::PermissionDenied);
    assert!(e.message.contains("claim nonce"), "{}", e.message);
}

#[test]
fn a_record_that_claims_more_than_its_token_is_refused() {
    let f = Fixture::new();
    type Edit = fn(&mut Value, &mut Authorization);
    let cases: [(&str, Edit); 4] = [
        ("authn.mfa", |c, _| c["amr"] = json!(["pwd"])),
        ("authn.assurance", |c, _| c["acr"] = json!("aal1")),
        ("authn.authenticated_at", |_, a| {
            a.authn.authenticated_at = Time::new(now() - 10, 0).unwrap()
        }),
        ("approver.issuer", |_, a| {
            a.approver.issuer = "https://other.example".into()
        }),
    ];
    for (field, change) in cases {
        let mut a = approval(now());
        let mut c = claims(&a, now());
        change(&mut c, &mut a);
        a.authn.id_token = Some(f.token(&c));
        let e = check(&f, &f.policy(false), &a, now()).unwrap_err();
        assert_eq!(e.code, RejectCode::PermissionDenied, "{field}");
        assert!(e.message.contains(field), "{field}: {}", e.message);
    }
}

#[test]
fn a_token_for_another_person_is_refused() {
    let f = Fixture::new();
    let mut a = approval(now());
    let mut c = claims(&a, now());
    c["email"] = json!("bob@example.com");
    a.authn.id_token = Some(f.token(&c));
    let e = check(&f, &f.policy(false), &a, now()).unwrap_err();
    assert!(e.message.contains("approver.subject"), "{}", e.message);
}

#[test]
fn require_idp_refuses_an_approval_without_a_token() {
    let f = Fixture::new();
    let a = approval(now());
    let e = check(&f, &f.policy(true), &a, now()).unwrap_err();
    assert_eq!(e.code, RejectCode::PermissionDenied);
    assert!(e.message.contains("require_idp"), "{}", e.message);
    let admitted = check(&f, &f.policy(false), &a, now()).expect("not required");
    assert_eq!(admitted.idp, Some(IdpBinding::Missing));
}

#[test]
fn an_auditor_sees_a_bad_token_instead_of_losing_the_record() {
    // Judged as of the record's time (the auditor), a failing token does
    // not make the authorization vanish: the binding says what failed.
    let f = Fixture::new();
    let mut a = approval(now());
    let mut c = claims(&a, now());
    c["aud"] = json!("other-app");
    a.authn.id_token = Some(f.token(&c));
    let entry = Envelope::sign(&Record::Authorization(a), &f.alice).encode();
    let admitted = validate_at_record_time(&entry, &f.policy(true), &mut |_| None).unwrap();
    let Some(IdpBinding::Invalid { claim, .. }) = admitted.idp else {
        panic!("{:?}", admitted.idp)
    };
    assert_eq!(claim, "aud");
}

#[test]
fn the_nonce_covers_plan_scope_ticket_and_window_only() {
    let a = approval(now());
    let n = a.idp_nonce();
    assert_eq!(n.len(), 43, "base64url of SHA-256");
    let mut later = a.clone();
    later.time = Time::new(now() + 60, 0).unwrap();
    later.authn.mfa = false;
    assert_eq!(
        later.idp_nonce(),
        n,
        "time and authn are not approved content"
    );
    let edits: [fn(&mut Authorization); 5] = [
        |a| a.plan.backout.push('!'),
        |a| a.scope.actions.push("git.push:main".into()),
        |a| a.ticket.push('9'),
        |a| a.not_before = Time::new(a.not_before.seconds() - 1, 0).unwrap(),
        |a| a.not_after = Time::new(a.not_after.seconds() + 1, 0).unwrap(),
    ];
    for edit in edits {
        let mut b = a.clone();
        edit(&mut b);
        assert_ne!(b.idp_nonce(), n);
    }
}
