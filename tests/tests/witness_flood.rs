//! The witness evidence flood (security review, issue 16 §4), replayed
//! against the real `causeway-witness`.
//!
//! Anybody can copy a genuine log-signed checkpoint and `POST` it to a
//! witness's `/add-checkpoint` with a garbage consistency proof and extra
//! signature lines of keys the witness does not know. The witness must
//! refuse it (422) as C2SP tlog-witness says, but it must neither call that
//! a split view (a bad proof is not proof of a fork: only a log can sign
//! two trees of one size) nor let the attacker fill its disk: evidence is
//! keyed on the two checkpoint bodies, keeps only the log signatures the
//! witness verified, is rate-limited when inconclusive and capped per log.
//!
//! The trusted log here is a key held by the test, so it can sign whatever
//! checkpoints the attacks need, including a real fork.

use std::path::Path;

use causeway_client::evidence::check_evidence;
use causeway_tests::Witness;
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{Hash, leaf_hash, root_of};
use causeway_tlog::note::{Ed25519Signer, KeyName, Note, NoteSignature, VerifierKey};
use causeway_tlog::witness::{AddCheckpointRequest, EvidenceRecord};

const ORIGIN: &str = "flood.test/log";
const WITNESS_NAME: &str = "flood.test/witness";

/// A log whose signing key the test holds: the witness trusts it.
struct FakeLog {
    origin: String,
    signer: Ed25519Signer,
    leaves: Vec<Hash>,
}

impl FakeLog {
    fn new(origin: &str, size: usize) -> Self {
        FakeLog {
            origin: origin.to_owned(),
            signer: Ed25519Signer::generate(KeyName::new(origin).unwrap(), &mut rand::rngs::OsRng),
            leaves: (0..size)
                .map(|i| leaf_hash(format!("{origin} entry {i}").as_bytes()))
                .collect(),
        }
    }

    fn vkey(&self) -> VerifierKey {
        self.signer.verifier()
    }

    /// The log-signed note of `(size, root)`.
    fn note(&self, size: u64, root: Hash) -> Note {
        let text = Checkpoint::new(&self.origin, size, root).unwrap().to_text();
        let mut note = Note::new(text).unwrap();
        note.sign(&self.signer).unwrap();
        note
    }

    /// The genuine checkpoint of the first `size` entries.
    fn checkpoint(&self, size: u64) -> Note {
        self.note(size, root_of(&self.leaves[..size as usize]))
    }

    /// The genuine consistency proof from `old` to `new`.
    fn proof(&self, old: u64, new: u64) -> Vec<Hash> {
        causeway_tests::consistency_proof(&self.leaves, old, new)
    }
}

/// `note` with `n` extra signature lines of `blob`-byte random "signatures"
/// by keys nobody knows. A witness ignores such lines when verifying (as
/// C2SP signed notes say), so they cost the attacker nothing and make every
/// request different and large.
fn with_unknown_signatures(note: &Note, n: usize, blob: usize) -> Vec<u8> {
    let mut padded = note.clone();
    for i in 0..n {
        let bytes: Vec<u8> = (0..blob).map(|_| rand::random::<u8>()).collect();
        padded.push_signature(NoteSignature::new(
            KeyName::new(format!("junk.test/k{i}")).unwrap(),
            rand::random(),
            bytes,
        ));
    }
    padded.to_bytes()
}

fn body(old: u64, proof: &[Hash], note: &[u8]) -> Vec<u8> {
    AddCheckpointRequest {
        old_size: old,
        proof: proof.to_vec(),
        checkpoint: note.to_vec(),
    }
    .to_bytes()
}

/// A garbage proof, different for every `seed`.
fn bogus_proof(seed: usize) -> Vec<Hash> {
    (0..4)
        .map(|j| leaf_hash(format!("bogus proof {seed} line {j}").as_bytes()))
        .collect()
}

async fn post(w: &Witness, body: Vec<u8>) -> (u16, String) {
    let reply = reqwest::Client::new()
        .post(format!("{}/add-checkpoint", w.url))
        .body(body)
        .send()
        .await
        .expect("POST /add-checkpoint");
    let status = reply.status().as_u16();
    (status, reply.text().await.expect("reply body"))
}

async fn evidence(w: &Witness) -> Vec<EvidenceRecord> {
    let body = reqwest::get(format!("{}/evidence", w.url))
        .await
        .expect("GET /evidence")
        .text()
        .await
        .expect("evidence body");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The files in a witness's evidence directory and their total size: what
/// the attack costs the witness's disk.
fn evidence_on_disk(data_dir: &Path) -> (usize, u64) {
    let dir = data_dir.join("evidence");
    let mut files = 0;
    let mut bytes = 0;
    for entry in std::fs::read_dir(&dir).expect("evidence dir") {
        let meta = entry.expect("dir entry").metadata().expect("metadata");
        files += 1;
        bytes += meta.len();
    }
    (files, bytes)
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witness_evidence_flood_of_bogus_proofs_is_one_inconclusive_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = FakeLog::new(ORIGIN, 32);
    let w = Witness::start(
        &dir.path().join("w"),
        WITNESS_NAME,
        &[log.vkey().to_string()],
        "127.0.0.1:0",
    );
    let (status, reply) = post(&w, body(0, &[], &log.checkpoint(5).to_bytes())).await;
    assert_eq!(status, 200, "trust on first use: {reply}");

    // The attack: 40 genuine checkpoints (ten sizes, each replayed four
    // times) with garbage proofs and 200 unknown signature lines of 3,000
    // random bytes each, about 800 KB a request.
    for i in 0..40 {
        let size = 6 + (i % 10) as u64;
        let note = with_unknown_signatures(&log.checkpoint(size), 200, 3000);
        let (status, reply) = post(&w, body(5, &bogus_proof(i), &note)).await;
        assert_eq!(status, 422, "request {i}: {reply}");
        assert!(
            reply.contains(&format!(
                "the consistency proof from size 5 to {size} does not verify"
            )),
            "request {i}: {reply}"
        );
    }
    let (files, bytes) = evidence_on_disk(&w.data_dir);
    eprintln!("after the 40-request flood: {files} evidence files, {bytes} bytes");
    assert_eq!(
        files, 1,
        "one inconclusive record, the rest repeats or rate-limited"
    );
    assert!(bytes < 8 * 1024, "{bytes} bytes of evidence");

    // The one record holds the two checkpoint bodies and only the log's
    // own signature: none of the 200 unknown lines.
    let records = evidence(&w).await;
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.kind.as_str(), "consistency_proof_failed");
    let presented = Note::parse(r.presented.as_bytes()).unwrap();
    assert_eq!(presented.signatures().len(), 1, "{}", r.presented);
    assert_eq!(presented.text(), log.checkpoint(6).text());
    let finding = check_evidence(r, &[log.vkey()]).expect("the record verifies");
    assert!(!finding.conclusive, "a failed proof is not proof of a fork");

    // A failed proof is never called a split view; the dropped records are
    // mentioned, but not once per request.
    let stderr = w.stderr();
    assert!(
        !stderr.to_lowercase().contains("split view"),
        "a bad proof was logged as a split view:\n{stderr}"
    );
    let notices = count(&stderr, "evidence not stored");
    assert!((1..=2).contains(&notices), "{notices} notices:\n{stderr}");
    // Nor is the flood a flood of log lines: the stored record, the notice.
    assert!(stderr.lines().count() <= 3, "{stderr}");

    // A real fork (the log signed another tree of the cosigned size) is a
    // split view: one record, one alarm, however often it is replayed and
    // whatever junk it carries, also behind a stale old size (409).
    let fork = log.note(5, leaf_hash(b"another tree"));
    for i in 0..5 {
        let (status, reply) =
            post(&w, body(5, &[], &with_unknown_signatures(&fork, 200, 3000))).await;
        assert_eq!(status, 422, "fork {i}: {reply}");
        assert!(
            reply.contains("has size 5 like the one this witness cosigned"),
            "fork {i}: {reply}"
        );
    }
    let (status, reply) = post(&w, body(3, &[], &fork.to_bytes())).await;
    assert_eq!((status, reply.as_str()), (409, "5\n"));
    let records = evidence(&w).await;
    assert_eq!(records.len(), 2, "{records:?}");
    let forks: Vec<&EvidenceRecord> = records
        .iter()
        .filter(|r| r.kind.as_str() == "same_size_different_root")
        .collect();
    assert_eq!(forks.len(), 1, "{records:?}");
    assert_eq!(
        Note::parse(forks[0].presented.as_bytes())
            .unwrap()
            .signatures()
            .len(),
        1
    );
    let finding = check_evidence(forks[0], &[log.vkey()]).expect("the fork verifies");
    assert!(finding.conclusive);
    let stderr = w.stderr();
    assert_eq!(count(&stderr, "POSSIBLE SPLIT VIEW"), 1, "{stderr}");

    // The honest log still gets cosigned.
    let (status, reply) = post(
        &w,
        body(5, &log.proof(5, 20), &log.checkpoint(20).to_bytes()),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert!(
        reply.starts_with(&format!("\u{2014} {WITNESS_NAME} ")),
        "{reply}"
    );
    let (files, bytes) = evidence_on_disk(&w.data_dir);
    eprintln!("after the fork and honest growth: {files} evidence files, {bytes} bytes");
    assert_eq!(files, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witness_evidence_past_the_per_log_cap_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (FakeLog::new(ORIGIN, 32), FakeLog::new("other.test/log", 8));
    let logs = [a.vkey().to_string(), b.vkey().to_string()];
    let data_dir = dir.path().join("w");
    let cap = ["--max-evidence-bytes-per-log", "4096"];
    let w = Witness::start_with(&data_dir, WITNESS_NAME, &logs, "127.0.0.1:0", &cap);
    for log in [&a, &b] {
        let (status, reply) = post(&w, body(0, &[], &log.checkpoint(5).to_bytes())).await;
        assert_eq!(status, 200, "{reply}");
    }

    // Log a forks ten times: every one is refused as C2SP says, but only
    // the first few fit in 4,096 bytes.
    for i in 0..10 {
        let fork = a.note(5, leaf_hash(format!("fork {i}").as_bytes()));
        let (status, reply) = post(&w, body(5, &[], &fork.to_bytes())).await;
        assert_eq!(status, 422, "fork {i}: {reply}");
        assert!(
            reply.contains("like the one this witness cosigned"),
            "{reply}"
        );
    }
    let (files, bytes) = evidence_on_disk(&data_dir);
    eprintln!("ten forks under a 4096-byte cap: {files} evidence files, {bytes} bytes");
    assert!(bytes <= 4096, "{bytes} bytes over the cap");
    assert!((1..10).contains(&files), "{files} files");
    let stderr = w.stderr();
    let notices = count(&stderr, "--max-evidence-bytes-per-log");
    assert!((1..=2).contains(&notices), "{notices} notices:\n{stderr}");

    // Still C2SP: a stale old size is 409 with the size, a bad proof 422,
    // honest growth 200.
    let fork = a.note(5, leaf_hash(b"fork 99"));
    let (status, reply) = post(&w, body(3, &[], &fork.to_bytes())).await;
    assert_eq!((status, reply.as_str()), (409, "5\n"));
    let (status, _) = post(&w, body(5, &bogus_proof(1), &a.checkpoint(9).to_bytes())).await;
    assert_eq!(status, 422);
    let (status, reply) = post(&w, body(5, &a.proof(5, 9), &a.checkpoint(9).to_bytes())).await;
    assert_eq!(status, 200, "{reply}");

    // The cap is per log: log b's fork is still kept.
    let (status, _) = post(
        &w,
        body(5, &[], &b.note(5, leaf_hash(b"b fork")).to_bytes()),
    )
    .await;
    assert_eq!(status, 422);
    let records = evidence(&w).await;
    assert_eq!(records.iter().filter(|r| r.origin == b.origin).count(), 1);
    let (files_before, _) = evidence_on_disk(&data_dir);
    assert_eq!(files_before, files + 1);

    // After a restart the witness counts what is on disk: log a stays full.
    assert!(w.terminate().success());
    let w = Witness::start_with(&data_dir, WITNESS_NAME, &logs, "127.0.0.1:0", &cap);
    let (status, _) = post(
        &w,
        body(9, &[], &a.note(9, leaf_hash(b"late fork")).to_bytes()),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(evidence_on_disk(&data_dir).0, files_before);
    assert!(
        w.stderr().contains("--max-evidence-bytes-per-log"),
        "{}",
        w.stderr()
    );
}
