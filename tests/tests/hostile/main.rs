//! Hostile input against a running log and witness: malformed and
//! oversized gRPC frames and protobufs, raw HTTP/2 abuse, absurd sizes and
//! indices, forged, malleated and replayed records, references to entries
//! that do not exist yet, path tricks on the tile API, malformed and forged
//! C2SP `add-checkpoint` bodies, slow-loris connections and floods beyond
//! `--producer-rate-limit`.
//!
//! Every case asserts the precise gRPC status or HTTP status and a message
//! fragment. Afterwards every process is still alive and answering, and
//! every entry acknowledged during the suite is at its index and provably
//! included in the latest checkpoint. Cases are named; the count is printed.
//!
//! Behaviour that is wrong today is not asserted here: each such bug has an
//! `#[ignore]`d test of its own next to the cases of its interface, named
//! after it, that asserts the correct behaviour (run them with
//! `--ignored`).
//!
//! One test binary, one module per interface under attack:
//!
//! * [`tiles`]: the tile API's paths;
//! * [`grpc`]: gRPC framing and protobuf, raw; [`sizes`]: sizes and
//!   indices at the edges of u64;
//! * [`http2`]: HTTP/2 itself, on raw TCP;
//! * [`witness`]: the witness's `add-checkpoint`;
//! * [`records`]: forged, malformed and replayed governance records;
//! * [`floods`]: floods beyond `--producer-rate-limit`;
//! * [`slow_loris`]: connections that dribble or say nothing;
//! * [`raw_grpc`], [`raw_http`]: the hand-made encodings they send.

mod floods;
mod grpc;
mod http2;
mod raw_grpc;
mod raw_http;
mod records;
mod sizes;
mod slow_loris;
mod tiles;
mod witness;

use std::collections::BTreeMap;
use std::time::Instant;

use causeway_client::LogClient;
use causeway_client::verify::{WitnessPolicy, check_inclusion, check_witnesses, verify_checkpoint};
use causeway_records::ProducerKey;
use causeway_tests::fixtures::now;
use causeway_tests::{Producers, Server, Witness, init_log, published_at_least};
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::leaf_hash;
use tonic::Code;

use crate::floods::flood_cases;
use crate::grpc::grpc_frame_cases;
use crate::http2::http2_cases;
use crate::records::{policy_with_extra, record_cases};
use crate::sizes::size_cases;
use crate::slow_loris::slow_loris_cases;
use crate::tiles::tile_cases;
use crate::witness::{FakeLog, witness_cases};

const LOG_ORIGIN: &str = "hostile.test/log";
const FAKE_ORIGIN: &str = "hostile.test/fake-log";
const WITNESS_NAME: &str = "hostile.test/witness";
const MAX_REQUEST_BYTES: usize = 1 << 20;
const MAX_REQUEST_ENTRIES: usize = 100;

// ---------------------------------------------------------------------------
// Bookkeeping

/// The names of the cases that passed, in order; a name is used once.
#[derive(Default)]
struct Tally(Vec<String>);

impl Tally {
    fn pass(&mut self, name: &str) {
        assert!(
            !self.0.iter().any(|n| n == name),
            "case name {name:?} is used twice"
        );
        self.0.push(name.to_owned());
    }
}

/// Every entry a server acknowledged during the suite, by index.
#[derive(Default)]
struct Ledger(BTreeMap<u64, Vec<u8>>);

impl Ledger {
    fn ack(&mut self, index: u64, entry: &[u8]) {
        if let Some(previous) = self.0.insert(index, entry.to_vec()) {
            assert_eq!(
                previous, entry,
                "index {index} acknowledged for two entries"
            );
        }
    }

    fn ack_all(&mut self, entries: &[Vec<u8>], result: &causeway_client::AddResult) {
        assert_eq!(entries.len(), result.entries.len());
        for (e, a) in entries.iter().zip(&result.entries) {
            assert_eq!(a.leaf_hash, leaf_hash(e));
            self.ack(a.index, e);
        }
    }
}

fn expect_status(case: &str, s: &tonic::Status, code: Code, needle: &str) {
    assert_eq!(s.code(), code, "{case}: {s:?}");
    assert!(
        s.message().contains(needle),
        "{case}: message {:?} lacks {needle:?}",
        s.message()
    );
}

// ---------------------------------------------------------------------------
// The deployment under attack

struct Deployment {
    _dir: tempfile::TempDir,
    /// Opaque log, cosigned by `witness`, with small request limits.
    log: Server,
    /// Records log with a producer policy and a rate limit.
    records: Server,
    /// Opaque log with a per-address rate limit.
    limited: Server,
    witness: Witness,
    fake: FakeLog,
    producers: Producers,
    flooder: ProducerKey,
}

const RECORDS_RATE: u32 = 20;
const OPAQUE_RATE: u32 = 10;

fn deploy() -> Deployment {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let log_vkeys = init_log(&log_dir, LOG_ORIGIN);
    let fake = FakeLog::new(FAKE_ORIGIN, 16);
    let mut trusted = log_vkeys.clone();
    trusted.push(fake.vkey());
    let witness = Witness::start(&dir.path().join("w"), WITNESS_NAME, &trusted, "127.0.0.1:0");
    let flag = witness.flag();
    let (bytes, entries) = (
        MAX_REQUEST_BYTES.to_string(),
        MAX_REQUEST_ENTRIES.to_string(),
    );
    let log = Server::start(
        &log_dir,
        &[
            "--origin",
            LOG_ORIGIN,
            "--witness",
            &flag,
            "--max-request-bytes",
            &bytes,
            "--max-request-entries",
            &entries,
        ],
    );
    let producers = Producers::new();
    let flooder = ProducerKey::generate(&mut rand::rngs::OsRng);
    let policy = policy_with_extra(&producers, &dir.path().join("producers"), &flooder);
    let records = Server::start(
        &dir.path().join("records"),
        &[
            "--policy",
            &policy,
            "--producer-rate-limit",
            &RECORDS_RATE.to_string(),
        ],
    );
    let limited = Server::start(
        &dir.path().join("limited"),
        &["--producer-rate-limit", &OPAQUE_RATE.to_string()],
    );
    Deployment {
        _dir: dir,
        log,
        records,
        limited,
        witness,
        fake,
        producers,
        flooder,
    }
}

// ---------------------------------------------------------------------------
// The suite

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_inputs_get_precise_answers_and_break_nothing() {
    let started = Instant::now();
    let d = deploy();
    let mut tally = Tally::default();
    let mut ledger = Ledger::default();
    let mut records_ledger = Ledger::default();
    let mut limited_ledger = Ledger::default();

    // A tree of 300 entries, published (cosigned): level-0 tile 0 is full,
    // tile 1 has 44 hashes, level-1 tile 0 has 1.
    let mut client = LogClient::connect(&d.log.url).await.unwrap();
    for chunk in 0..3 {
        let entries: Vec<Vec<u8>> = (0..100)
            .map(|i| format!("seed {}", chunk * 100 + i).into_bytes())
            .collect();
        let r = client.add_entries(entries.clone()).await.unwrap();
        ledger.ack_all(&entries, &r);
    }
    published_at_least(&mut client, 300, &d.log).await;

    tile_cases(&d, &mut tally);
    grpc_frame_cases(&d, &mut tally, &mut ledger).await;
    http2_cases(&d, &mut tally);
    size_cases(&d, &mut tally, &mut ledger).await;
    witness_cases(&d, &mut tally);
    record_cases(&d, &mut tally, &mut records_ledger).await;
    flood_cases(&d, &mut tally, &mut records_ledger, &mut limited_ledger).await;
    slow_loris_cases(&d, &mut tally, &mut ledger).await;

    // Every process is alive and answers; every acknowledged entry is at
    // its index, and (on the witnessed log) provably included in a newly
    // cosigned checkpoint.
    let mut client = LogClient::connect(&d.log.url).await.unwrap();
    let last = client
        .add_entries(vec![b"after the storm".to_vec()])
        .await
        .unwrap();
    ledger.ack_all(&[b"after the storm".to_vec()], &last);
    let note = published_at_least(&mut client, last.entries[0].index + 1, &d.log).await;
    let head = verify_checkpoint(&note, &d.log.keys())
        .unwrap()
        .into_checkpoint();
    let policy = WitnessPolicy {
        keys: vec![d.witness.vkey.parse().unwrap()],
        quorum: 1,
        max_age_secs: Some(300),
    };
    check_witnesses(&note, &policy, now() as u64).expect("the witness still cosigns");
    verify_ledger(&d.log.url, &ledger, Some(&head)).await;
    for (server, ledger) in [(&d.records, &records_ledger), (&d.limited, &limited_ledger)] {
        let mut c = LogClient::connect(&server.url).await.unwrap();
        let note = c.checkpoint(None).await.unwrap();
        let head = verify_checkpoint(&note, &server.keys())
            .unwrap()
            .into_checkpoint();
        verify_ledger(&server.url, ledger, Some(&head)).await;
    }
    let witness_index = reqwest::get(format!("{}/", d.witness.url)).await.unwrap();
    assert_eq!(witness_index.status(), 200);
    for (name, stderr) in [
        ("log", d.log.stderr()),
        ("records", d.records.stderr()),
        ("limited", d.limited.stderr()),
        ("witness", d.witness.stderr()),
    ] {
        assert!(!stderr.contains("panicked"), "{name} panicked:\n{stderr}");
    }
    let acknowledged = ledger.0.len() + records_ledger.0.len() + limited_ledger.0.len();
    assert!(
        tally.0.len() >= 50,
        "only {} hostile cases: {:?}",
        tally.0.len(),
        tally.0
    );
    for name in &tally.0 {
        println!("ok  {name}");
    }
    println!(
        "{} hostile cases passed; {acknowledged} acknowledged entries verified; {:.1} s",
        tally.0.len(),
        started.elapsed().as_secs_f64()
    );
}

/// Every ledger entry is at its index; with `head`, also provably included.
async fn verify_ledger(url: &str, ledger: &Ledger, head: Option<&Checkpoint>) {
    let mut client = LogClient::connect(url).await.unwrap();
    for (index, entry) in &ledger.0 {
        let got = client.entries(*index, 1).await.unwrap();
        assert_eq!(&got[0], entry, "{url}: entry {index} lost or changed");
        if let Some(head) = head {
            let p = client
                .inclusion_proof(causeway_client::LeafRef::Index(*index), Some(head.size()))
                .await
                .unwrap();
            check_inclusion(head, *index, &leaf_hash(entry), &p.proof)
                .unwrap_or_else(|e| panic!("{url}: entry {index}: {e}"));
        }
    }
}
