//! Signed-note tests against the third-party vectors in
//! `testdata/vectors/notes.txt` (C2SP spec examples, golang/mod sumdb/note,
//! transparency-dev/formats, sigsum-go) plus systematic negative cases.

use super::*;
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::merkle::Hash;

const NOTES: &str = include_str!("../../../../testdata/vectors/notes.txt");

/// One `## Vn` block of notes.txt.
struct Block {
    vkeys: Vec<String>,
    skey: Option<String>,
    /// The bytes between the BEGIN and END marker lines.
    body: String,
}

fn block(id: &str) -> Block {
    let start = NOTES
        .find(&format!("## {id} "))
        .unwrap_or_else(|| panic!("no block {id}"));
    let rest = &NOTES[start..];
    let end = rest[3..].find("\n## V").map_or(rest.len(), |i| i + 4);
    let text = &rest[..end];
    let field = |prefix: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_owned())
            .collect()
    };
    let body = text
        .split_once("-----\n")
        .and_then(|(_, after)| after.split_once("-----END"))
        .map(|(b, _)| b.to_owned())
        .unwrap_or_default();
    Block {
        vkeys: field("VKEY: "),
        skey: field("SKEY: ").into_iter().next(),
        body,
    }
}

fn verifiers(vkeys: &[String]) -> Vec<VerifierKey> {
    vkeys
        .iter()
        .map(|v| VerifierKey::parse(v).unwrap())
        .collect()
}

fn refs(keys: &[VerifierKey]) -> Vec<&dyn NoteVerifier> {
    keys.iter().map(|k| k as &dyn NoteVerifier).collect()
}

#[test]
fn every_valid_vector_verifies_and_round_trips() {
    for id in ["V1", "V2", "V3", "V4", "V5", "V6"] {
        let b = block(id);
        let note = Note::parse(b.body.as_bytes()).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(note.to_string(), b.body, "{id} must print byte for byte");
        let keys = verifiers(&b.vkeys);
        for key in &keys {
            // Each listed key alone verifies the note.
            let v = note
                .verify(&[key as &dyn NoteVerifier])
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(v.verified.len(), 1, "{id}");
            // And vkeys print back exactly.
            assert!(b.vkeys.contains(&key.to_string()), "{id}: {key}");
        }
    }
}

#[test]
fn v2_unknown_signers_are_listed_not_verified() {
    let b = block("V2");
    let note = Note::parse(b.body.as_bytes()).unwrap();
    let peter = VerifierKey::parse(&b.vkeys[0]).unwrap();
    let v = note.verify(&[&peter]).unwrap();
    assert_eq!(v.verified.len(), 1);
    assert_eq!(v.verified[0].name().as_str(), "PeterNeumann");
    assert_eq!(v.unverified.len(), 1);
    assert_eq!(v.unverified[0].name().as_str(), "EnochRoot");
    let both = verifiers(&b.vkeys);
    assert_eq!(note.verify(&refs(&both)).unwrap().verified.len(), 2);
}

#[test]
fn v2_signing_with_the_go_private_key_reproduces_the_signature() {
    let b = block("V2");
    let skey = b.skey.unwrap();
    let skey = skey.split_whitespace().next().unwrap();
    let signer = Ed25519Signer::from_skey(skey).unwrap();
    assert_eq!(signer.verifier().to_string(), b.vkeys[0]);
    let parsed = Note::parse(b.body.as_bytes()).unwrap();
    let mut note = Note::new(parsed.text()).unwrap();
    note.sign(&signer).unwrap();
    assert_eq!(note.signatures()[0], parsed.signatures()[0]);
}

#[test]
fn v2_negatives() {
    let b = block("V2");
    for bad in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ] {
        assert!(VerifierKey::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        VerifierKey::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyError::UnsupportedType(0x65))
    );
    // A space in the signer name makes the note malformed.
    let spaced = b.body.replace("— PeterNeumann ", "— Bad Name ");
    assert!(matches!(
        Note::parse(spaced.as_bytes()),
        Err(NoteError::MalformedSignature(_))
    ));
    // No trailing newline.
    assert!(Note::parse(b.body.trim_end().as_bytes()).is_err());
    // "ABCD" inserted into the known key's signature.
    let tampered = b.body.replace("x08go/ZJku", "x08go/ZJkuABCD");
    let note = Note::parse(tampered.as_bytes()).unwrap();
    let keys = verifiers(&b.vkeys);
    let err = note.verify(&refs(&keys)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid signature for key PeterNeumann+c74f20a3"
    );
}

#[test]
fn v3_ecdsa_negatives() {
    let b = block("V3");
    let good = &b.vkeys[0];
    let note = Note::parse(b.body.as_bytes()).unwrap();
    // Same key under another name: unknown signer, so nothing verifies.
    let renamed_material = good.splitn(3, '+').nth(2).unwrap();
    use base64::Engine as _;
    let spki = base64::engine::general_purpose::STANDARD
        .decode(renamed_material)
        .unwrap();
    let renamed = VerifierKey::parse(&format!(
        "bananas.sigstore.dev+{}+{renamed_material}",
        good.split('+').nth(1).unwrap()
    ))
    .unwrap();
    assert_eq!(renamed.public_key_bytes(), spki[1..]);
    assert!(matches!(
        note.verify(&[&renamed]),
        Err(NoteError::NoKnownSignature(_))
    ));
    // A garbage signature from the known key.
    let garbage = b.body.replace(
        "wNI9ajBEAiARInWIWyCdyG27CO6LPnPekyw20qO0YJfoaPaowGp/XgIgc+qEHS3+GKVClgqq20uDLet7MCoTURUCRdxwWBHHufk=",
        "THIS/IS/PROBABLY/NOT/A/VALID/SIGNATURE/ANy/MOREowGp/XgIgc+qEHS3+GKVClgqq20uDLet7MCoTURUCRdxwWBHHufk=",
    );
    let key = VerifierKey::parse(good).unwrap();
    let garbage = Note::parse(garbage.as_bytes());
    assert!(garbage.is_err() || garbage.unwrap().verify(&[&key]).is_err());
    // Key ID mismatch and an unknown type.
    let zeroed = good.replacen("c0d23d6a", "00000000", 1);
    assert!(matches!(
        VerifierKey::parse(&zeroed),
        Err(KeyError::KeyIdMismatch { .. })
    ));
    assert_eq!(
        VerifierKey::parse("rekor.sigstore.dev+12345678+AwEB"),
        Err(KeyError::UnsupportedType(0x03))
    );
}

#[test]
fn v5_rfc6962_tree_head_rejects_other_text() {
    let b = block("V5");
    let key = VerifierKey::parse(&b.vkeys[0]).unwrap();
    let note = Note::parse(b.body.as_bytes()).unwrap();
    assert!(note.verify(&[&key]).is_ok());
    let borked = Note::parse(format!("B0rked{}", b.body).as_bytes()).unwrap();
    assert!(borked.verify(&[&key]).is_err());
}

#[test]
fn v7_cosignature_message_is_exact() {
    let b = block("V7");
    let root = Hash::from_bytes(std::array::from_fn(|i| i as u8));
    let cp = Checkpoint::new(
        "sigsum.org/v1/tree/66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925",
        257,
        root,
    )
    .unwrap();
    assert_eq!(
        keys::cosignature_message(72623859790382856, &cp.to_text()),
        b.body
    );
}

#[test]
fn v8_spec_examples_parse_and_decode() {
    let b = block("V8");
    let note = Note::parse(b.body.as_bytes()).unwrap();
    assert_eq!(note.to_string(), b.body);
    let cp = Checkpoint::parse(note.text()).unwrap();
    assert_eq!(
        (cp.origin(), cp.size()),
        ("example.com/behind-the-sofa", 20852163)
    );
    let witness = &note.signatures()[1];
    assert_eq!(witness.name().as_str(), "witness.example.com/w1");
    assert_eq!(witness.key_id(), 0x8d66cf3f);
    assert_eq!(witness.signature().len(), 72);
    assert_eq!(
        VerifierKey::cosignature_time(witness.signature()),
        Some(1679315147)
    );
    assert_eq!(
        keys::cosignature_message(1679315147, note.text()),
        "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    );
}

#[test]
fn cosignature_signer_round_trip() {
    // A cosignature of the V8 checkpoint at the spec's timestamp: 72 bytes
    // (time ‖ Ed25519), accepted by a verifier parsed from the printed vkey,
    // rejected once the time or the body changes.
    let b = block("V8");
    let note = Note::parse(b.body.as_bytes()).unwrap();
    let signer = CosignatureSigner::generate(
        KeyName::new("witness.example.com/w9").unwrap(),
        &mut rand::thread_rng(),
    );
    let vkey = VerifierKey::parse(&signer.verifier().to_string()).unwrap();
    assert_eq!(vkey.kind(), SignatureType::Cosignature);
    let sig = signer.cosign(note.text(), 1679315147);
    assert_eq!(sig.len(), 72);
    assert_eq!(VerifierKey::cosignature_time(&sig), Some(1679315147));
    assert!(vkey.verify(note.text().as_bytes(), &sig));
    let mut later = sig.clone();
    later[7] ^= 1;
    assert!(!vkey.verify(note.text().as_bytes(), &later));
    let other = note.text().replace("20852163", "20852164");
    assert!(!vkey.verify(other.as_bytes(), &sig));
    // The same key as an Ed25519 (0x01) note key has a different ID.
    let pem = signer.to_pkcs8_pem().unwrap();
    let as_note_key = Ed25519Signer::from_pkcs8_pem(signer.name().clone(), &pem).unwrap();
    assert_ne!(as_note_key.verifier().key_id(), vkey.key_id());
}

#[test]
fn v9_checkpoint_bodies() {
    use CheckpointError::*;
    let root_b64 = "dGhlIHZpZXcgZnJvbSB0aGUgdHJlZSB0b3BzIGlzIGdyZWF0IQ==";
    // Valid for the lenient Go parser; Causeway additionally requires a
    // 32-byte root, and everything before the root must have parsed.
    assert_eq!(
        Checkpoint::parse("Log\n123\nYmFuYW5hcw==\n"),
        Err(BadRootLength(7))
    );
    assert_eq!(
        Checkpoint::parse(&format!("Banana\n9944\n{root_b64}\n")),
        Err(BadRootLength(37))
    );
    // The same shapes with a 32-byte root parse, extensions included.
    let root32 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let cp = Checkpoint::parse(&format!(
        "Log\n9944\n{root32}\nHere's some associated data.\n"
    ))
    .unwrap();
    assert_eq!(cp.extensions(), ["Here's some associated data."]);
    let cp = Checkpoint::parse(&format!("Log\n9944\n{root32}\nlots\nof\nlines\n")).unwrap();
    assert_eq!(cp.extensions(), ["lots", "of", "lines"]);
    assert_eq!(
        Checkpoint::parse(&format!("Log\n9944\n{root32}\n\n\n\n")),
        Err(EmptyExtensionLine)
    );
    assert_eq!(Checkpoint::parse("Head\n9944\n"), Err(TooFewLines));
    assert_eq!(
        Checkpoint::parse(&format!("\n9944\n{root_b64}\n")),
        Err(BadOrigin)
    );
    assert_eq!(
        Checkpoint::parse("Log\n123\nYmFuYW5hcw=="),
        Err(NotTerminated)
    );
    for size in ["bananas", "-34", "3438945738945739845734895735"] {
        assert_eq!(
            Checkpoint::parse(&format!("Log\n{size}\n{root32}\n")),
            Err(BadSize(size.into()))
        );
    }
    assert!(matches!(
        Checkpoint::parse("Log\n123\nThisIsn'tBase64\n"),
        Err(BadRootEncoding(_))
    ));
}

#[test]
fn own_keys_sign_and_verify_both_types() {
    let mut rng = rand::rngs::OsRng;
    let name = KeyName::new("causeway.example/log").unwrap();
    let ed = Ed25519Signer::generate(name.clone(), &mut rng);
    let ec = EcdsaSigner::generate(name, &mut rng);
    let mut note =
        Note::new("causeway.example/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
            .unwrap();
    note.sign(&ec).unwrap();
    note.sign(&ed).unwrap();
    let parsed = Note::parse(&note.to_bytes()).unwrap();
    let keys = [ec.verifier(), ed.verifier()];
    // Keys survive printing and parsing.
    let keys: Vec<VerifierKey> = keys
        .iter()
        .map(|k| VerifierKey::parse(&k.to_string()).unwrap())
        .collect();
    assert_eq!(keys[0].kind(), SignatureType::Ecdsa);
    assert_eq!(parsed.verify(&refs(&keys)).unwrap().verified.len(), 2);
    // PEM round trip keeps the key.
    let ed2 =
        Ed25519Signer::from_pkcs8_pem(ed.name().clone(), &ed.to_pkcs8_pem().unwrap()).unwrap();
    let ec2 = EcdsaSigner::from_pkcs8_pem(ec.name().clone(), &ec.to_pkcs8_pem().unwrap()).unwrap();
    assert_eq!(ed2.verifier(), ed.verifier());
    assert_eq!(ec2.verifier(), ec.verifier());
    // Loading one type's PEM as the other fails with a clear error.
    assert!(EcdsaSigner::from_pkcs8_pem(ed.name().clone(), &ed.to_pkcs8_pem().unwrap()).is_err());
    // Every single-bit flip of the text breaks both signatures.
    let text = note.text().as_bytes().to_vec();
    for i in 0..text.len() * 8 {
        let mut t = text.clone();
        t[i / 8] ^= 1 << (i % 8);
        for (k, s) in keys.iter().zip(note.signatures()) {
            assert!(
                !k.verify(&t, s.signature()),
                "bit {i} flipped still verifies"
            );
        }
    }
}

#[test]
fn structural_limits_and_rejections() {
    let sig = "— k AAAAAAAAAAAA\n";
    let ok = format!("text\n\n{}", sig.repeat(16));
    assert_eq!(Note::parse(ok.as_bytes()).unwrap().signatures().len(), 16);
    let many = format!("text\n\n{}", sig.repeat(Note::MAX_SIGNATURES + 1));
    assert_eq!(
        Note::parse(many.as_bytes()),
        Err(NoteError::TooManySignatures)
    );
    assert!(matches!(
        Note::parse(&vec![b'a'; Note::MAX_SIZE + 1]),
        Err(NoteError::TooLarge(_))
    ));
    assert_eq!(Note::parse(b"text\n\n"), Err(NoteError::NoSignatures));
    assert_eq!(Note::parse(b"text\n"), Err(NoteError::NoSignatures));
    assert_eq!(
        Note::parse(b"te\txt\n\n- k AAAA\n"),
        Err(NoteError::ControlCharacter(b'\t'))
    );
    assert_eq!(Note::parse(b"t\xffext\n\n"), Err(NoteError::NotUtf8));
    // A key ID alone, without signature bytes, is malformed.
    assert!(Note::parse("text\n\n— k AAAAAA==\n".as_bytes()).is_err());
    // The last blank line splits text from signatures: texts may hold blank lines.
    let n = Note::parse("a\n\nb\n\n— k AAAAAAAAAAAA\n".as_bytes()).unwrap();
    assert_eq!(n.text(), "a\n\nb\n");
    // Unknown keys alone never verify.
    let key =
        Ed25519Signer::generate(KeyName::new("other").unwrap(), &mut rand::rngs::OsRng).verifier();
    assert!(matches!(
        n.verify(&[&key]),
        Err(NoteError::NoKnownSignature(_))
    ));
    for bad in ["", "a b", "a+b", "a\tb"] {
        assert!(KeyName::new(bad).is_err(), "{bad:?}");
    }
}
