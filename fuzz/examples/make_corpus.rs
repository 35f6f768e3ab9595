//! Writes the seed corpora under fuzz/corpus/<target>/ from the
//! repository's test data (testdata/vectors, testdata/records,
//! testdata/tsa) and from notes, requests, records and envelopes made with
//! the fixed keys of src/lib.rs (so that seeds verify and admission gets
//! past its signature checks).
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example make_corpus
//! ```
//!
//! It only adds or overwrites its own files; what fuzzing adds to a corpus
//! directory (files named by SHA-1) is left alone.

use std::fs;
use std::path::{Path, PathBuf};

use causeway_fuzz::{NOTES_TXT, NOW, POLICY, SAMPLES, SIGNERS, lookup, signer_for};
use causeway_records::{Envelope, Record, validate_entry};
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{Hash, leaf_hash};
use causeway_tlog::note::{Note, NoteSignature};
use causeway_tlog::tiles::{TileId, entry_bundles, hash_tiles};
use causeway_tlog::witness::{AddCheckpointRequest, size_body};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = root().join("fuzz/corpus").join(target);
    fs::create_dir_all(&dir).expect("corpus directory");
    fs::write(dir.join(name), bytes).expect("seed");
}

/// The blocks between `-----BEGIN <what>-----` and `-----END <what>-----`.
fn blocks(what: &str) -> Vec<String> {
    let begin = format!("-----BEGIN {what}-----\n");
    let end = format!("-----END {what}-----");
    let mut out = Vec::new();
    let mut rest = NOTES_TXT;
    while let Some(i) = rest.find(&begin) {
        let after = &rest[i + begin.len()..];
        let j = after.find(&end).expect("block end");
        out.push(after[..j].to_owned());
        rest = &after[j..];
    }
    out
}

fn copy_dir(target: &str, dir: &str, extensions: &[&str]) {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![root().join(dir)];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("test data directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if extensions
                .iter()
                .any(|e| path.extension().is_some_and(|x| x == *e))
            {
                files.push(path);
            }
        }
    }
    files.sort();
    for path in files {
        let name = path
            .strip_prefix(root().join(dir))
            .expect("inside")
            .to_string_lossy()
            .replace('/', "--");
        write(target, &name, &fs::read(&path).expect("read"));
    }
}

/// `record` with every reference rewritten to a hash whose first byte makes
/// [`causeway_fuzz::lookup`] return a sample of an allowed kind (never the
/// delegated credential: its session key is not the parent's).
fn linked(i: usize, record: &Record) -> Record {
    let mut json = record.to_json();
    for reference in record.references() {
        let target = SAMPLES
            .iter()
            .position(|s| {
                reference.allowed.contains(&s.kind())
                    && !matches!(s, Record::Credential(c) if c.parent.is_some())
            })
            .expect("a sample of an allowed kind");
        let mut hash = [0u8; 32];
        hash[0] = target as u8;
        hash[1] = i as u8;
        hash[2..].copy_from_slice(&leaf_hash(reference.field.as_bytes()).as_bytes()[2..]);
        json[reference.field] = Hash::from_bytes(hash).to_hex().into();
    }
    Record::from_json(record.kind(), &json.to_string()).expect("linked record")
}

fn main() {
    // A Causeway checkpoint: signed by both log keys and a witness.
    let root_hash = leaf_hash(b"fuzz");
    let body = Checkpoint::new(causeway_fuzz::ORIGIN, 20, root_hash)
        .expect("checkpoint")
        .to_text();
    let mut note = Note::new(body.clone()).expect("note");
    note.sign(&SIGNERS.ecdsa).expect("sign");
    note.sign(&SIGNERS.ed25519).expect("sign");
    note.push_signature(NoteSignature::new(
        SIGNERS.witness.name().clone(),
        SIGNERS.witness.key_id(),
        SIGNERS.witness.cosign(&body, 1_790_000_000),
    ));
    let causeway_note = note.to_bytes();

    // note: every note of the vectors, and ours.
    let notes = blocks("NOTE");
    for (i, n) in notes.iter().enumerate() {
        write("note", &format!("vector-{i}.note"), n.as_bytes());
    }
    write("note", "causeway.note", &causeway_note);

    // vkey: every VKEY line of the vectors, and ours.
    for (i, line) in NOTES_TXT
        .lines()
        .filter_map(|l| l.strip_prefix("VKEY: "))
        .enumerate()
    {
        write("vkey", &format!("vector-{i}.vkey"), line.as_bytes());
    }
    for (name, key) in [
        ("ecdsa", SIGNERS.ecdsa.verifier()),
        ("ed25519", SIGNERS.ed25519.verifier()),
        ("witness", SIGNERS.witness.verifier()),
    ] {
        write(
            "vkey",
            &format!("causeway-{name}.vkey"),
            key.to_string().as_bytes(),
        );
    }

    // checkpoint: the bodies of those notes, and one with extension lines.
    for (i, n) in notes.iter().enumerate() {
        if let Ok(parsed) = Note::parse(n.as_bytes()) {
            write(
                "checkpoint",
                &format!("vector-{i}.txt"),
                parsed.text().as_bytes(),
            );
        }
    }
    write("checkpoint", "causeway.txt", body.as_bytes());
    write(
        "checkpoint",
        "extensions.txt",
        format!("{body}extension one\n\u{2014} extension two\n").as_bytes(),
    );

    // tile_path: every tile of a few trees, and the spec's examples.
    let mut paths: Vec<String> = Vec::new();
    for size in [1u64, 256, 70_000] {
        paths.extend(hash_tiles(size).map(|t| t.path()));
        paths.extend(
            entry_bundles(size)
                .filter(|t| t.index() % 50 == 0 || !t.is_full())
                .map(|t| t.path()),
        );
    }
    paths.push(TileId::hashes(0, 1_234_067, 256).path());
    paths.push(TileId::entries(1_234_067, 7).path());
    paths.push(TileId::hashes(7, u64::MAX / 256 / 256, 3).path());
    paths.push("tile/63/x018/x446/x744/x073/x709/x551/615".into());
    paths.sort();
    paths.dedup();
    // Keep the corpus small: 70,000 has 274 level-0 tiles; every 16th.
    for (i, p) in paths.iter().enumerate() {
        if i % 16 == 0 || !p.starts_with("tile/0/") {
            write("tile_path", &p.replace('/', "_"), p.as_bytes());
        }
    }

    // witness_request: the spec's add-checkpoint body, ours, size bodies.
    for (i, b) in blocks("BODY").iter().enumerate() {
        write("witness_request", &format!("vector-{i}.body"), b.as_bytes());
    }
    let request = AddCheckpointRequest {
        old_size: 13,
        proof: vec![
            leaf_hash(b"p0"),
            leaf_hash(b"p1"),
            Hash::from_bytes([0xff; 32]),
        ],
        checkpoint: causeway_note.clone(),
    };
    write("witness_request", "causeway.body", &request.to_bytes());
    let first = AddCheckpointRequest {
        old_size: 0,
        proof: Vec::new(),
        checkpoint: causeway_note,
    };
    write("witness_request", "causeway-first.body", &first.to_bytes());
    write(
        "witness_request",
        "size.body",
        size_body(20_852_014).as_bytes(),
    );

    // record_json: the sample records.
    copy_dir("record_json", "testdata/records", &["json"]);

    // record_protobuf, envelope, envelope_json: the samples, their
    // references pointing where the envelope target's `lookup` finds a
    // record of an allowed kind, signed by the key admission wants.
    for (i, sample) in SAMPLES.iter().enumerate() {
        let record = linked(i, sample);
        let name = format!("{}-{i}", record.kind());
        write(
            "record_protobuf",
            &format!("{name}.pb"),
            &record.to_protobuf(),
        );
        let envelope = Envelope::sign(&record, signer_for(&record));
        let admitted = validate_entry(&envelope.encode(), &POLICY, NOW, &mut lookup);
        assert!(admitted.is_ok(), "seed {name}: {admitted:?}");
        write("envelope", &format!("{name}.pb"), &envelope.encode());
        write(
            "envelope_json",
            &format!("{name}.json"),
            envelope.to_dsse_json().to_string().as_bytes(),
        );
    }

    // timestamp: every reply of the fixtures and vectors, and a root.
    copy_dir("timestamp", "testdata/tsa", &["tsr"]);
    copy_dir("timestamp", "testdata/vectors/rfc3161", &["tsr"]);
    write(
        "timestamp",
        "root-ca.pem",
        &fs::read(root().join("testdata/tsa/root-ca.pem")).expect("root"),
    );
    println!("wrote {}", root().join("fuzz/corpus").display());
}
