//! The witness's `add-checkpoint` endpoint, fed by a fake C2SP log: its
//! own Ed25519 key and tree, to give the witness correctly signed
//! checkpoints of any shape.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{Hash, leaf_hash, root_of};
use causeway_tlog::note::{
    Ed25519Signer, KeyName, Note, NoteSignature, NoteVerifier as _, VerifierKey,
};
use causeway_tlog::witness::AddCheckpointRequest;
use serde_json::Value;

use crate::raw_http::http_request;
use crate::{Deployment, FAKE_ORIGIN, LOG_ORIGIN, Tally, WITNESS_NAME};

pub(crate) struct FakeLog {
    pub(crate) signer: Ed25519Signer,
    pub(crate) leaves: Vec<Hash>,
}

impl FakeLog {
    pub(crate) fn new(origin: &str, size: usize) -> Self {
        FakeLog {
            signer: Ed25519Signer::generate(KeyName::new(origin).unwrap(), &mut rand::rngs::OsRng),
            leaves: (0..size)
                .map(|i| leaf_hash(format!("fake entry {i}").as_bytes()))
                .collect(),
        }
    }

    pub(crate) fn vkey(&self) -> String {
        self.signer.verifier().to_string()
    }

    pub(crate) fn root(&self, size: u64) -> Hash {
        root_of(&self.leaves[..size as usize])
    }

    /// The signed note of `(origin, size, root)`, signed by this log's key.
    pub(crate) fn note(&self, origin: &str, size: u64, root: Hash) -> Vec<u8> {
        let text = Checkpoint::new(origin, size, root).unwrap().to_text();
        let mut note = Note::new(text).unwrap();
        note.sign(&self.signer).unwrap();
        note.to_bytes()
    }

    pub(crate) fn checkpoint(&self, size: u64) -> Vec<u8> {
        self.note(FAKE_ORIGIN, size, self.root(size))
    }

    pub(crate) fn proof(&self, old: u64, new: u64) -> Vec<Hash> {
        causeway_tests::consistency_proof(&self.leaves, old, new)
    }
}

pub(crate) fn add_checkpoint_body(old: u64, proof: &[Hash], note: &[u8]) -> Vec<u8> {
    AddCheckpointRequest {
        old_size: old,
        proof: proof.to_vec(),
        checkpoint: note.to_vec(),
    }
    .to_bytes()
}

/// Prefixes a raw body with an `old` line and an empty proof.
pub(crate) fn with_old(old: &str, note: &[u8]) -> Vec<u8> {
    let mut out = format!("old {old}\n\n").into_bytes();
    out.extend_from_slice(note);
    out
}

// ---------------------------------------------------------------------------
// The witness's add-checkpoint endpoint.

pub(crate) fn witness_cases(d: &Deployment, tally: &mut Tally) {
    let addr = d.witness.addr.clone();
    let fake = &d.fake;
    let post = |body: &[u8]| http_request(&addr, "POST", "/add-checkpoint", body);
    let cp5 = fake.checkpoint(5);
    let root5 = fake.root(5);
    let garbage_hash = leaf_hash(b"not a proof");

    // Another key that claims the fake log's name: unknown to the witness.
    let impostor =
        Ed25519Signer::generate(KeyName::new(FAKE_ORIGIN).unwrap(), &mut rand::rngs::OsRng);
    let mut impostor_note =
        Note::new(Checkpoint::new(FAKE_ORIGIN, 5, root5).unwrap().to_text()).unwrap();
    impostor_note.sign(&impostor).unwrap();

    // The fake log's name and key ID, with signature bytes that are not its.
    let forged = |origin: &str, vkey: &VerifierKey| {
        let mut note = Note::new(Checkpoint::new(origin, 5, root5).unwrap().to_text()).unwrap();
        note.push_signature(NoteSignature::new(
            vkey.name().clone(),
            vkey.key_id(),
            vec![7; 64],
        ));
        note.to_bytes()
    };
    let fake_vkey: VerifierKey = fake.vkey().parse().unwrap();
    let log_ed25519: VerifierKey = d.log.keys()[1].clone();

    let mut unsigned_text = Checkpoint::new(FAKE_ORIGIN, 5, root5)
        .unwrap()
        .to_text()
        .into_bytes();
    unsigned_text.push(b'\n');
    let mut bad_sig_line = Checkpoint::new(FAKE_ORIGIN, 5, root5)
        .unwrap()
        .to_text()
        .into_bytes();
    bad_sig_line.extend("\n\u{2014} hostile.test/fake-log !!!not-base64!!!\n".as_bytes());
    let many_sigs = {
        let mut note =
            Note::new(Checkpoint::new(FAKE_ORIGIN, 5, root5).unwrap().to_text()).unwrap();
        for i in 0..257u32 {
            note.push_signature(NoteSignature::new(
                KeyName::new(format!("k{i}")).unwrap(),
                i,
                vec![1; 64],
            ));
        }
        note.to_bytes()
    };
    let sixty_four_lines = {
        let mut b = b"old 0\n".to_vec();
        for _ in 0..64 {
            b.extend(format!("{}\n", B64.encode(garbage_hash.as_bytes())).as_bytes());
        }
        b.push(b'\n');
        b.extend(&cp5);
        b
    };
    let proof_line = |line: &str| {
        let mut b = format!("old 0\n{line}\n\n").into_bytes();
        b.extend(&cp5);
        b
    };
    let raw_note = |text: &[u8]| {
        let line =
            NoteSignature::new(fake_vkey.name().clone(), fake_vkey.key_id(), vec![0; 64]).to_line();
        [text, b"\n", line.as_bytes()].concat()
    };
    let note_text = |text: &str| {
        let mut note = Note::new(text).unwrap();
        note.sign(&fake.signer).unwrap();
        note.to_bytes()
    };

    // Before the witness has anything for the fake log.
    // (name, body, status, fragment)
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("witness: empty body", vec![], 400, "the first line must be \"old <size>\""),
        ("witness: old line only", b"old 0\n".to_vec(), 400, "empty line between the proof and the checkpoint"),
        ("witness: nothing after the empty line", b"old 0\n\n".to_vec(), 400, "no checkpoint after the empty line"),
        ("witness: negative old size", with_old("-1", &cp5), 400, "canonical decimal size"),
        ("witness: old size with a leading zero", with_old("05", &cp5), 400, "canonical decimal size"),
        ("witness: old size 2^64", with_old("18446744073709551616", &cp5), 400, "canonical decimal size"),
        ("witness: old line not UTF-8", [b"old \xff\n\n".as_slice(), &cp5].concat(), 400, "not valid UTF-8"),
        ("witness: CRLF line endings", [b"old 0\r\n\r\n".as_slice(), &cp5].concat(), 400, "canonical decimal size"),
        ("witness: proof line not base64", proof_line("!!!not-base64!!!"), 400, "proof line 2 is not the canonical base64"),
        ("witness: proof line of 31 bytes", proof_line(&B64.encode([9u8; 31])), 400, "proof line 2 is not the canonical base64"),
        ("witness: proof line in URL-safe base64", proof_line(&base64::engine::general_purpose::URL_SAFE.encode([0xfbu8; 32])), 400, "proof line 2"),
        ("witness: 64 proof lines", sixty_four_lines, 400, "more than 63 consistency proof lines"),
        ("witness: note not UTF-8", with_old("0", b"hostile.test/fake-log\n5\n\xff\xfe\n\n\xe2\x80\x94 x AAAA\n"), 400, "not valid UTF-8"),
        ("witness: note without signatures", with_old("0", &unsigned_text), 400, "note has no signatures"),
        ("witness: signature line not base64", with_old("0", &bad_sig_line), 400, "malformed signature line"),
        ("witness: control character in the note", with_old("0", &raw_note(b"hostile.test/fake-log\n5\n\x01\n")), 400, "control character 0x01"),
        ("witness: checkpoint of two lines", with_old("0", &note_text("hostile.test/fake-log\n5\n")), 400, "at least three lines"),
        ("witness: checkpoint root not base64", with_old("0", &note_text("hostile.test/fake-log\n5\nnot base64\n")), 400, "is not canonical base64"),
        ("witness: checkpoint size with leading zeros", with_old("0", &note_text(&format!("hostile.test/fake-log\n005\n{}\n", B64.encode(root5.as_bytes())))), 400, "not a canonical decimal"),
        ("witness: 257 signatures", with_old("0", &many_sigs), 400, "more than 256 signatures"),
        ("witness: unknown origin", with_old("0", &fake.note("evil.test/log", 5, root5)), 404, "unknown log origin \"evil.test/log\""),
        ("witness: origin signed by an unknown key", with_old("0", &impostor_note.to_bytes()), 403, "no signature from a known key"),
        ("witness: forged signature under the log's key ID", with_old("0", &forged(FAKE_ORIGIN, &fake_vkey)), 403, "invalid signature for key hostile.test/fake-log"),
        ("witness: forged signature for the real log", with_old("0", &forged(LOG_ORIGIN, &log_ed25519)), 403, "invalid signature for key hostile.test/log"),
        ("witness: old size larger than the checkpoint", with_old("10", &cp5), 400, "old size 10 is larger than the checkpoint size 5"),
        ("witness: old size the witness never had", add_checkpoint_body(3, &fake.proof(3, 5), &cp5), 409, "0\n"),
        ("witness: size-0 checkpoint with a non-empty root", with_old("0", &fake.note(FAKE_ORIGIN, 0, root5)), 422, "must have the empty tree root"),
        ("witness: proof lines from the empty tree", add_checkpoint_body(0, &[garbage_hash], &cp5), 422, "needs an empty consistency proof, got 1 lines"),
        ("witness: body over 1 MiB", with_old("0", &vec![b'a'; (1 << 20) + 1024]), 413, "length limit exceeded"),
    ];
    for (name, body, status, needle) in cases {
        let reply = post(&body);
        assert_eq!(reply.status, status, "{name}: {reply:?}");
        assert!(
            reply.text().contains(needle),
            "{name}: {:?} lacks {needle:?}",
            reply.text()
        );
        tally.pass(name);
    }
    let conflict = post(&add_checkpoint_body(3, &fake.proof(3, 5), &cp5));
    assert!(conflict.head.contains("text/x.tlog.size"), "{conflict:?}");
    assert_eq!(conflict.text(), "0\n");

    // Trust on first use, then attacks on the state it created.
    let reply = post(&add_checkpoint_body(0, &[], &cp5));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        reply
            .text()
            .starts_with(&format!("\u{2014} {WITNESS_NAME} ")),
        "{}",
        reply.text()
    );
    tally.pass("witness: first checkpoint is cosigned (trust on first use)");

    let fork = fake.note(FAKE_ORIGIN, 5, leaf_hash(b"another tree"));
    #[rustfmt::skip]
    let after: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("witness: same size, another root (fork)", add_checkpoint_body(5, &[], &fork), 422, "like the one this witness cosigned"),
        ("witness: garbage consistency proof", add_checkpoint_body(5, &[garbage_hash; 3], &fake.checkpoint(8)), 422, "from size 5 to 8 does not verify"),
        ("witness: proof for an unchanged size", add_checkpoint_body(5, &[garbage_hash], &cp5), 422, "the proof must be empty"),
        ("witness: rollback to an older checkpoint", add_checkpoint_body(5, &[], &fake.checkpoint(3)), 400, "old size 5 is larger than the checkpoint size 3"),
    ];
    for (name, body, status, needle) in after {
        let reply = post(&body);
        assert_eq!(reply.status, status, "{name}: {reply:?}");
        assert!(
            reply.text().contains(needle),
            "{name}: {:?} lacks {needle:?}",
            reply.text()
        );
        tally.pass(name);
    }
    let evidence: Value =
        serde_json::from_str(&http_request(&addr, "GET", "/evidence", b"").text()).unwrap();
    let mut kinds: Vec<&str> = evidence
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["consistency_proof_failed", "same_size_different_root"],
        "{evidence}"
    );
    tally.pass("witness: the fork and the bad proof are kept as evidence");

    let grow = add_checkpoint_body(5, &fake.proof(5, 8), &fake.checkpoint(8));
    let reply = post(&grow);
    assert_eq!(reply.status, 200, "{reply:?}");
    tally.pass("witness: valid growth is cosigned");
    let reply = post(&grow);
    assert_eq!(reply.status, 409, "{reply:?}");
    assert_eq!(reply.text(), "8\n");
    tally.pass("witness: replayed add-checkpoint is 409 with the current size");

    for (name, method, path, status, needle) in [
        (
            "witness: GET /add-checkpoint is 405",
            "GET",
            "/add-checkpoint",
            405,
            "",
        ),
        (
            "witness: evidence id with traversal",
            "GET",
            "/evidence/%2e%2e%2f%2e%2e%2fwitness.pem",
            404,
            "no evidence",
        ),
        (
            "witness: checkpoint path with traversal",
            "GET",
            "/..%2f..%2fwitness.pem/checkpoint",
            404,
            "no cosigned checkpoint",
        ),
        (
            "witness: raw ../ path",
            "GET",
            "/../../witness.pem",
            404,
            "not found",
        ),
    ] {
        let reply = http_request(&addr, method, path, b"");
        assert_eq!(reply.status, status, "{name}: {reply:?}");
        assert!(reply.text().contains(needle), "{name}: {:?}", reply.text());
        tally.pass(name);
    }
}
