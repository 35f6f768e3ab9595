//! `kill -9` at random moments, over and over, under full-speed writers,
//! with two witnesses (quorum 2) cosigning every published checkpoint.
//!
//! Each cycle lets writers run for a random 50–500 ms, kills the server
//! with SIGKILL and restarts it on the same data directory. After every
//! restart:
//!
//! * every acknowledged entry is at its index, byte for byte;
//! * the witnesses cosign again: an entry written after the restart ends
//!   up in a newly published checkpoint carrying both cosignatures;
//! * every checkpoint observed so far, published (GetCheckpoint) or handed
//!   back with an acknowledgement (AddEntries), is consistent with that new
//!   checkpoint: the ones observed in this cycle and the previous cycle's
//!   head are proved directly (so, by transitivity, all earlier ones are
//!   too), plus a random sample of older ones; no two share a size with
//!   different roots.
//!
//! `CAUSEWAY_CRASH_CYCLES` sets the number of cycles (default 10):
//!
//! ```sh
//! CAUSEWAY_CRASH_CYCLES=100 cargo test -p causeway-tests --test crash_loop -- --nocapture
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use causeway_client::LogClient;
use causeway_client::verify::{WitnessPolicy, check_witnesses, verify_checkpoint};
use causeway_tests::{Server, Witness, init_log, start_witnesses};
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{EMPTY_ROOT, Hash, leaf_hash, verify_consistency};
use causeway_tlog::note::VerifierKey;
use rand::Rng as _;
use rand::seq::SliceRandom as _;

const ORIGIN: &str = "test.causeway/crash-loop";
const WRITERS: usize = 4;

/// What the clients saw, across all cycles.
#[derive(Default)]
struct Observed {
    /// Acknowledged entries by index.
    acked: BTreeMap<u64, Vec<u8>>,
    /// Acknowledged batches.
    batches: u64,
    /// Checkpoints published (GetCheckpoint), by size, not yet proved
    /// against a later head.
    published_new: BTreeMap<u64, Checkpoint>,
    /// Checkpoints handed back by AddEntries, not yet proved.
    acked_new: BTreeMap<u64, Checkpoint>,
    /// Every checkpoint ever observed (both kinds), by size.
    all: BTreeMap<u64, Checkpoint>,
    /// Counts of distinct checkpoints observed, by kind.
    published_count: u64,
    acked_count: u64,
}

impl Observed {
    /// Records a checkpoint; two checkpoints of one size must agree.
    fn saw(&mut self, cp: Checkpoint, published: bool) {
        if let Some(known) = self.all.get(&cp.size()) {
            assert_eq!(
                known.root(),
                cp.root(),
                "two different roots at size {}",
                cp.size()
            );
        } else {
            self.all.insert(cp.size(), cp.clone());
        }
        let fresh = if published {
            &mut self.published_new
        } else {
            &mut self.acked_new
        };
        if fresh.insert(cp.size(), cp).is_none() {
            if published {
                self.published_count += 1;
            } else {
                self.acked_count += 1;
            }
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Writes batches of 1–16 unique entries as fast as the server takes them,
/// until `stop` or the first error (the server was killed).
async fn writer(
    url: String,
    keys: Vec<VerifierKey>,
    tag: String,
    observed: Arc<Mutex<Observed>>,
    stop: Arc<AtomicBool>,
) {
    let Ok(mut client) = LogClient::connect(&url).await else {
        return;
    };
    let mut call = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let n = 1 + (call % 16) as usize;
        let batch: Vec<Vec<u8>> = (0..n)
            .map(|i| format!("{tag} call {call} item {i}").into_bytes())
            .collect();
        call += 1;
        let Ok(r) = client.add_entries(batch.clone()).await else {
            return;
        };
        let cp = verify_checkpoint(&r.checkpoint_note, &keys)
            .expect("acknowledgements carry a log-signed checkpoint")
            .into_checkpoint();
        let mut o = observed.lock().unwrap();
        for (entry, added) in batch.into_iter().zip(&r.entries) {
            assert_eq!(added.leaf_hash, leaf_hash(&entry));
            assert!(
                !added.duplicate,
                "{tag}: a fresh entry reported as duplicate"
            );
            assert!(
                added.index < cp.size(),
                "acknowledged beyond its checkpoint"
            );
            if let Some(previous) = o.acked.insert(added.index, entry.clone()) {
                panic!(
                    "index {} acknowledged twice: {:?} and {:?}",
                    added.index,
                    String::from_utf8_lossy(&previous),
                    String::from_utf8_lossy(&entry)
                );
            }
        }
        o.batches += 1;
        o.saw(cp, false);
    }
}

/// Polls the published checkpoint, checking the log's signatures and the
/// witness quorum, until `stop` or the server is gone.
async fn observer(
    url: String,
    keys: Vec<VerifierKey>,
    policy: WitnessPolicy,
    observed: Arc<Mutex<Observed>>,
    stop: Arc<AtomicBool>,
) {
    let Ok(mut client) = LogClient::connect(&url).await else {
        return;
    };
    while !stop.load(Ordering::Relaxed) {
        let Ok(note) = client.checkpoint(None).await else {
            return;
        };
        let cp = verify_checkpoint(&note, &keys).unwrap().into_checkpoint();
        check_witnesses(&note, &policy, now())
            .unwrap_or_else(|e| panic!("published without a quorum: {e}\n{note}"));
        observed.lock().unwrap().saw(cp, true);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Proves `old` consistent with `new` through the server, verified with
/// the RFC 9162 algorithm in causeway-tlog.
async fn prove(client: &mut LogClient, old: &Checkpoint, new: &Checkpoint) {
    if old.size() == 0 {
        assert_eq!(*old.root(), EMPTY_ROOT, "size-0 checkpoint with a root");
        return;
    }
    if old.size() == new.size() {
        assert_eq!(old.root(), new.root(), "fork at size {}", old.size());
        return;
    }
    let (size, proof) = client
        .consistency_proof(old.size(), Some(new.size()))
        .await
        .unwrap_or_else(|e| panic!("consistency proof {} -> {}: {e}", old.size(), new.size()));
    assert_eq!(size, new.size());
    let proof: Vec<Hash> = proof;
    verify_consistency(old.size(), new.size(), old.root(), new.root(), &proof).unwrap_or_else(
        |e| {
            panic!(
                "checkpoint {} is not consistent with {}: {e}",
                old.size(),
                new.size()
            )
        },
    );
}

/// Waits for a published checkpoint of at least `size` with both
/// witnesses' cosignatures.
async fn cosigned_at_least(
    client: &mut LogClient,
    size: u64,
    keys: &[VerifierKey],
    policy: &WitnessPolicy,
    server: &Server,
) -> Checkpoint {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(note) = client.checkpoint(None).await {
            let cp = verify_checkpoint(&note, keys).unwrap().into_checkpoint();
            if cp.size() >= size {
                let fresh = WitnessPolicy {
                    max_age_secs: Some(120),
                    ..policy.clone()
                };
                let cosigned = check_witnesses(&note, &fresh, now())
                    .unwrap_or_else(|e| panic!("size {size}: {e}\n{note}"));
                assert_eq!(cosigned.len(), 2, "{note}");
                return cp;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint of size {size} cosigned by both witnesses within 30 s after a restart:\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_at_random_moments_loses_nothing_and_witnesses_keep_cosigning() {
    let cycles: u32 = std::env::var("CAUSEWAY_CRASH_CYCLES")
        .ok()
        .map(|c| c.parse().expect("CAUSEWAY_CRASH_CYCLES is a number"))
        .unwrap_or(10);
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let vkeys = init_log(&log_dir, ORIGIN);
    let witnesses = start_witnesses(dir.path(), "witness.test/crash-w", &vkeys, 2);
    let flags: Vec<String> = witnesses.iter().map(Witness::flag).collect();
    let mut args = vec!["--origin", ORIGIN, "--witness-quorum", "2"];
    for f in &flags {
        args.extend(["--witness", f.as_str()]);
    }
    let policy = WitnessPolicy {
        keys: witnesses.iter().map(|w| w.vkey.parse().unwrap()).collect(),
        quorum: 2,
        max_age_secs: None,
    };
    let mut server = Server::start(&log_dir, &args);
    let keys = server.keys();
    let observed = Arc::new(Mutex::new(Observed::default()));
    let mut head: Option<Checkpoint> = None;
    let mut proofs = 0u64;
    let mut rng = rand::thread_rng();

    for cycle in 0..cycles {
        // Writers at full speed and a watcher of what is published.
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            tasks.push(tokio::spawn(writer(
                server.url.clone(),
                keys.clone(),
                format!("cycle {cycle} writer {w}"),
                observed.clone(),
                stop.clone(),
            )));
        }
        tasks.push(tokio::spawn(observer(
            server.url.clone(),
            keys.clone(),
            policy.clone(),
            observed.clone(),
            stop.clone(),
        )));

        // Pull the plug at a random moment.
        let delay = Duration::from_millis(rng.gen_range(50..=500));
        tokio::time::sleep(delay).await;
        tokio::task::spawn_blocking(move || server.kill9())
            .await
            .unwrap();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }

        // Restart on the same directory.
        server = Server::start(&log_dir, &args);
        let mut client = LogClient::connect(&server.url).await.unwrap();
        let acked = observed.lock().unwrap().acked.clone();
        if let Some((&max, _)) = acked.last_key_value() {
            assert!(
                server.start_size > max,
                "cycle {cycle}: recovered size {} but index {max} was acknowledged",
                server.start_size
            );
        }

        // Every acknowledged entry is there, byte for byte.
        let mut at = 0u64;
        let end = server.start_size;
        while at < end {
            let page = client.entries(at, 1000).await.unwrap();
            assert!(!page.is_empty());
            for entry in page {
                if let Some(want) = acked.get(&at) {
                    assert_eq!(
                        &entry, want,
                        "cycle {cycle}: entry {at} changed after kill -9"
                    );
                }
                at += 1;
            }
        }

        // The witnesses cosign a checkpoint that includes a new entry.
        let marker = format!("cycle {cycle} marker").into_bytes();
        let r = client.add_entries(vec![marker.clone()]).await.unwrap();
        let marker_index = r.entries[0].index;
        {
            let mut o = observed.lock().unwrap();
            o.acked.insert(marker_index, marker);
            let cp = verify_checkpoint(&r.checkpoint_note, &keys)
                .unwrap()
                .into_checkpoint();
            o.saw(cp, false);
        }
        let new_head =
            cosigned_at_least(&mut client, marker_index + 1, &keys, &policy, &server).await;
        observed.lock().unwrap().saw(new_head.clone(), true);

        // Everything observed is consistent with the new head.
        let (fresh, sample) = {
            let mut o = observed.lock().unwrap();
            let mut fresh: Vec<Checkpoint> = std::mem::take(&mut o.published_new)
                .into_values()
                .chain(std::mem::take(&mut o.acked_new).into_values())
                .collect();
            fresh.sort_by_key(Checkpoint::size);
            fresh.dedup_by_key(|c| c.size());
            let all: Vec<&Checkpoint> = o.all.values().collect();
            let sample: Vec<Checkpoint> = all
                .choose_multiple(&mut rng, 20)
                .map(|c| (*c).clone())
                .collect();
            (fresh, sample)
        };
        for old in fresh.iter().chain(&sample).chain(head.iter()) {
            assert!(
                old.size() <= new_head.size(),
                "cycle {cycle}: checkpoint {} is beyond the recovered head {}",
                old.size(),
                new_head.size()
            );
            prove(&mut client, old, &new_head).await;
            proofs += 1;
        }
        head = Some(new_head);
    }

    // No witness ever saw a fork.
    causeway_tests::assert_no_split_view(&witnesses).await;
    assert!(
        !server.stderr().contains("SPLIT VIEW"),
        "{}",
        server.stderr()
    );
    let o = observed.lock().unwrap();
    println!(
        "crash loop: {cycles} cycles survived in {:.1} s; {} entries acknowledged in {} batches; \
         {} checkpoints checked ({} published, {} from acknowledgements, {} distinct sizes); \
         {proofs} consistency proofs verified; final size {}",
        started.elapsed().as_secs_f64(),
        o.acked.len(),
        o.batches,
        o.published_count + o.acked_count,
        o.published_count,
        o.acked_count,
        o.all.len(),
        head.map_or(0, |h| h.size()),
    );
}
