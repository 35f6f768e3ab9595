//! What the fuzz targets and the corpus generator share: fixed keys (so
//! that seeds made with them verify and the fuzzer reaches the code after a
//! successful signature check), the verifier keys of the repository's
//! signed-note vectors, and the RFC 3161 trust roots and message imprints
//! of its time-stamp fixtures.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use causeway_records::{Kind, ProducerKey, ProducerPolicy, PublicKey, Record, Referenced};
use causeway_rfc3161::{HashAlg, MessageImprint, TrustedRoots};
use causeway_tlog::merkle::Hash;
use causeway_tlog::note::{
    CosignatureSigner, EcdsaSigner, Ed25519Signer, KeyName, NoteVerifier, VerifierKey,
};

/// The origin of the fuzzing log.
pub const ORIGIN: &str = "fuzz.example/log";
/// The name of the fuzzing witness.
pub const WITNESS: &str = "fuzz.example/witness";

const LOG_ECDSA_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg3p72qIigZVdA9Umq
vne01vwH4zPoDShuyr6yan8f5/ChRANCAARLz4Lf0hro1Iml1UlhqcIvB2cMYLDu
livGISynxgepikUkYUf63tiyLoRmHFbpzk73++3VJhGA4ad/GglCmYnx
-----END PRIVATE KEY-----
";

const LOG_ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIGx4V9NDRI8s9tCybi70ZcUNVL0uqTp1vmFBkmFqTG7t
-----END PRIVATE KEY-----
";

const WITNESS_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIDgYa+jL9DT9tUY9sH/MzgiiEDqTErD3E3o9hBRZfsRI
-----END PRIVATE KEY-----
";

const PRODUCER_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgAr54yH8nHrntguim
Tnb1gvLl8o3YjPPSpH9woAjXllyhRANCAAQYUlJ1zX5HUHq+kVGZPj74YskUKLJm
S7DvEvKQHhwprRV0FZ2HWix+u0nwPj5rbBDCkUWzdeAZ3gNt1BXrzLxu
-----END PRIVATE KEY-----
";

const SESSION_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg078Jz4Hh3Ov6m8Ja
4qbwkRtSKrIeUYPsHeBQxlsu3NChRANCAARzpc1f5g9MktlMBb/L2bry1YD6Z6gb
2GWmciWFnA0T00iV4Wp9SYHVEBUYiOkZZzrJL6KRVzkiM+CfpIMMXYxG
-----END PRIVATE KEY-----
";

const VERIFIER_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg+SajHarr0QtyKTo6
8XkBQn7tlAEabS9sB/bvtWQo4sChRANCAAS9Jzcdk12gAM1Wq/q3Tn/phsTyUjJ8
g2oBw4pJipIJ1HWmgjrPgiikg2JuraIl7ufMqzfuHknHK1IpKxaDfF5s
-----END PRIVATE KEY-----
";

/// The signed-note vectors (testdata/vectors/notes.txt).
pub const NOTES_TXT: &str = include_str!("../../testdata/vectors/notes.txt");

/// The fuzzing log's two signers and its witness.
pub struct Signers {
    /// ECDSA P-256 (note type 0x02).
    pub ecdsa: EcdsaSigner,
    /// Ed25519 (note type 0x01).
    pub ed25519: Ed25519Signer,
    /// A cosignature/v1 witness (note type 0x04).
    pub witness: CosignatureSigner,
}

/// The fixed signers.
pub static SIGNERS: LazyLock<Signers> = LazyLock::new(|| {
    let origin = KeyName::new(ORIGIN).expect("origin");
    Signers {
        ecdsa: EcdsaSigner::from_pkcs8_pem(origin.clone(), LOG_ECDSA_PEM).expect("ECDSA key"),
        ed25519: Ed25519Signer::from_pkcs8_pem(origin, LOG_ED25519_PEM).expect("Ed25519 key"),
        witness: CosignatureSigner::from_pkcs8_pem(
            KeyName::new(WITNESS).expect("name"),
            WITNESS_PEM,
        )
        .expect("witness key"),
    }
});

/// The producer key that signed the envelope seeds.
pub static PRODUCER: LazyLock<ProducerKey> =
    LazyLock::new(|| ProducerKey::from_pkcs8_pem(PRODUCER_PEM).expect("producer key"));

/// Every verifier key a note target knows: the `VKEY:` lines of the
/// vectors and the fuzzing log's three keys.
pub static VERIFIERS: LazyLock<Vec<VerifierKey>> = LazyLock::new(|| {
    let mut keys: Vec<VerifierKey> = NOTES_TXT
        .lines()
        .filter_map(|l| l.strip_prefix("VKEY: "))
        .map(|k| VerifierKey::parse(k).expect("vector vkey"))
        .collect();
    keys.push(SIGNERS.ecdsa.verifier());
    keys.push(SIGNERS.ed25519.verifier());
    keys.push(SIGNERS.witness.verifier());
    keys
});

/// [`VERIFIERS`] as trait objects, for `Note::verify`.
pub fn verifiers() -> Vec<&'static dyn NoteVerifier> {
    VERIFIERS.iter().map(|k| k as &dyn NoteVerifier).collect()
}

/// Every trust root of the time-stamp fixtures and vectors, as one set.
pub static TSA_ROOTS: LazyLock<TrustedRoots> = LazyLock::new(|| {
    // identrust/ts_chain.pem is one DER certificate despite its name.
    let identrust = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        BASE64.encode(include_bytes!(
            "../../testdata/vectors/rfc3161/identrust/ts_chain.pem"
        ))
    );
    let pems: [&[u8]; 6] = [
        include_bytes!("../../testdata/tsa/root-ca.pem"),
        // The fixtures' TSA certificate, for the replies that omit it.
        include_bytes!("../../testdata/tsa/tsa-base.pem"),
        include_bytes!("../../testdata/vectors/rfc3161/test_tsa/ts_chain.pem"),
        include_bytes!("../../testdata/vectors/rfc3161/sigstage/ts_chain.pem"),
        identrust.as_bytes(),
        include_bytes!("../../testdata/vectors/rfc3161/sigstore.mock/ts_chain.pem"),
    ];
    TrustedRoots::from_pem_or_der(&pems.concat()).expect("trust roots")
});

/// The message imprints the fixtures and vectors are over, in every
/// supported algorithm: a reply whose imprint matches one of them gets
/// past the TSTInfo checks to the signature and the chain.
pub static IMPRINTS: LazyLock<Vec<MessageImprint>> = LazyLock::new(|| {
    let messages: [&[u8]; 3] = [
        b"hello",
        include_bytes!("../../testdata/tsa/message.txt"),
        include_bytes!("../../testdata/vectors/rfc3161/sigstore.mock/payload"),
    ];
    messages
        .iter()
        .flat_map(|m| {
            [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512]
                .into_iter()
                .map(|alg| MessageImprint::of(alg, m))
        })
        .collect()
});

/// The policy's issuer (the log's ECDSA key doubles as a producer key).
pub static ISSUER: LazyLock<ProducerKey> =
    LazyLock::new(|| ProducerKey::from_pkcs8_pem(LOG_ECDSA_PEM).expect("issuer key"));

/// The policy's verifier (signs pre-flights).
pub static VERIFIER: LazyLock<ProducerKey> =
    LazyLock::new(|| ProducerKey::from_pkcs8_pem(VERIFIER_PEM).expect("verifier key"));

/// The session key of both sample credentials in [`SAMPLES`] (signs
/// actions, delegated credentials and closures).
pub static SESSION: LazyLock<ProducerKey> =
    LazyLock::new(|| ProducerKey::from_pkcs8_pem(SESSION_PEM).expect("session key"));

/// The admission policy of the envelope target: [`PRODUCER`] is a human,
/// [`ISSUER`] an issuer, [`VERIFIER`] a verifier.
pub static POLICY: LazyLock<ProducerPolicy> = LazyLock::new(|| {
    // The samples span a day before NOW, and the human samples name alice
    // (approver) and bob (reviewer): both are the fuzz human's subjects.
    let mut text = String::from("max_past_skew = \"24h\"\n\n");
    for (name, role, subjects, key) in [
        (
            "fuzz-human",
            "human",
            "subjects = [\"alice@example.com\", \"bob@example.com\"]\n",
            &*PRODUCER,
        ),
        ("fuzz-issuer", "issuer", "", &*ISSUER),
        ("fuzz-verifier", "verifier", "", &*VERIFIER),
    ] {
        text.push_str(&format!(
            "[[principal]]\nname = \"{name}\"\nrole = \"{role}\"\n{subjects}keys = [\"{}\"]\n\n",
            key.public_key().to_base64()
        ));
    }
    ProducerPolicy::parse(&text).expect("policy")
});

/// The key that must sign a sample record for admission under [`POLICY`].
pub fn signer_for(record: &Record) -> &'static ProducerKey {
    match record {
        Record::Authorization(_) | Record::Review(_) => &PRODUCER,
        Record::Preflight(_) => &VERIFIER,
        Record::Credential(c) if c.parent.is_some() => &SESSION,
        Record::Credential(_) | Record::Exception(_) => &ISSUER,
        Record::Action(_) | Record::Closure(_) | Record::Outcome(_) => &SESSION,
    }
}

/// The log's clock for admission checks: 2026-11-23T09:00:00Z, after every
/// sample record and within [`POLICY`]'s `max_past_skew` of each.
pub const NOW: i64 = 1_795_424_400;

/// The sample records (testdata/records), one or two of each kind, with
/// [`SESSION`] as the credentials' session key.
pub static SAMPLES: LazyLock<Vec<Record>> = LazyLock::new(|| {
    let session = SESSION.public_key().to_base64();
    SAMPLE_FILES
        .iter()
        .map(|(kind, json)| {
            let mut record = Record::from_json(*kind, json).expect("sample record");
            if let Record::Credential(c) = &mut record {
                c.session_key = PublicKey::from_base64(&session).expect("session key");
            }
            record
        })
        .collect()
});

/// The sample record files and their kinds.
pub const SAMPLE_FILES: [(Kind, &str); 10] = [
    (
        Kind::Authorization,
        include_str!("../../testdata/records/authorization.json"),
    ),
    (
        Kind::Preflight,
        include_str!("../../testdata/records/preflight.json"),
    ),
    (
        Kind::Credential,
        include_str!("../../testdata/records/credential.json"),
    ),
    (
        Kind::Credential,
        include_str!("../../testdata/records/credential-delegated.json"),
    ),
    (
        Kind::Action,
        include_str!("../../testdata/records/action.json"),
    ),
    (
        Kind::Exception,
        include_str!("../../testdata/records/exception.json"),
    ),
    (
        Kind::Closure,
        include_str!("../../testdata/records/closure.json"),
    ),
    (
        Kind::Review,
        include_str!("../../testdata/records/review.json"),
    ),
    (
        Kind::Outcome,
        include_str!("../../testdata/records/outcome.json"),
    ),
    (
        Kind::Exception,
        include_str!("../../testdata/records/exception-refused-call.json"),
    ),
];

/// A log in which every leaf hash is an entry: the first byte picks a
/// sample record, the second the index. Lets admission get past reference
/// resolution to the causal and signature checks for any reference the
/// fuzzer writes.
pub fn lookup(hash: &Hash) -> Option<Referenced> {
    let b = hash.as_bytes();
    let record = SAMPLES[usize::from(b[0]) % SAMPLES.len()].clone();
    Some(Referenced {
        index: u64::from(b[1]),
        record,
    })
}
