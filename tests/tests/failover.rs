//! Several `causeway-server` instances sharing one PostgreSQL store
//! (`--storage postgres://… --ha`): one sequences, the others serve reads
//! and refuse writes naming it. The leader is killed with `kill -9` under
//! continuous writes, and frozen with SIGSTOP while a write is in flight.
//! Real processes throughout: a private PostgreSQL server, three log
//! instances and two witnesses on loopback.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use causeway_client::verify::{
    WitnessPolicy, check_anchor, check_consistency, check_witnesses, verify_checkpoint,
};
use causeway_client::{ClientError, LeafRef, LogClient};
use causeway_rfc3161::TrustedRoots;
use causeway_tests::{Postgres, Server, Tsa, Witness, init_log, start_witnesses};
use causeway_tlog::checkpoint::Checkpoint;
use causeway_tlog::merkle::{CompactRange, Hash, leaf_hash};
use causeway_tlog::note::VerifierKey;

const ORIGIN: &str = "test.causeway/replicated";
/// Short enough that a failover fits a test, long enough for a loaded CI machine.
const LEASE: &str = "1500ms";

/// A shared store, the log's keys and (optionally) witnesses.
struct Deployment {
    dir: tempfile::TempDir,
    pg: Postgres,
    storage: String,
    keys_dir: PathBuf,
    vkeys: Vec<String>,
    witnesses: Vec<Witness>,
}

impl Deployment {
    fn new(witnesses: usize) -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let pg = Postgres::start(&dir.path().join("pg"));
        let storage = pg.create_database("causeway");
        let keys_dir = dir.path().join("keys");
        let vkeys = init_log(&keys_dir, ORIGIN);
        let witnesses = start_witnesses(dir.path(), "witness.test/w", &vkeys, witnesses);
        Deployment {
            dir,
            pg,
            storage,
            keys_dir,
            vkeys,
            witnesses,
        }
    }

    /// Starts instance `name` (its data directory holds a copy of the keys).
    fn start(&self, name: &str) -> Server {
        self.start_with(name, &[])
    }

    /// Like [`Deployment::start`], with more flags.
    fn start_with(&self, name: &str, extra: &[&str]) -> Server {
        let data = self.dir.path().join(name);
        if !data.exists() {
            copy_dir(&self.keys_dir, &data);
        }
        let flags: Vec<String> = self.witnesses.iter().map(Witness::flag).collect();
        let quorum = flags.len().to_string();
        let mut args = vec![
            "--storage",
            &self.storage,
            "--ha",
            "--ha-id",
            name,
            "--ha-lease",
            LEASE,
        ];
        for f in &flags {
            args.extend(["--witness", f]);
        }
        if !flags.is_empty() {
            args.extend(["--witness-quorum", &quorum]);
        }
        args.extend(extra);
        Server::start(&data, &args)
    }

    /// The `--ha-id` holding a live lease, if any.
    fn leader(&self) -> Option<String> {
        let holder = self.pg.sql(
            "causeway",
            "SELECT holder FROM leader WHERE expires_at > clock_timestamp()",
        );
        (!holder.is_empty()).then_some(holder)
    }

    fn keys(&self) -> Vec<VerifierKey> {
        self.vkeys.iter().map(|v| v.parse().unwrap()).collect()
    }

    fn witness_policy(&self) -> WitnessPolicy {
        WitnessPolicy {
            keys: self
                .witnesses
                .iter()
                .map(|w| w.vkey.parse().unwrap())
                .collect(),
            quorum: self.witnesses.len(),
            max_age_secs: None,
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cp -a {} {}",
        from.display(),
        to.display()
    );
}

/// Waits until some instance has a live lease; returns its name.
fn wait_for_leader(d: &Deployment, other_than: Option<&str>) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(l) = d.leader()
            && Some(l.as_str()) != other_than
        {
            return l;
        }
        assert!(
            Instant::now() < deadline,
            "no leader was elected within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An error a writer may see while leadership moves: the instance is a
/// standby or electing (UNAVAILABLE), or the connection broke or could not
/// be made (the leader was killed).
fn retryable(e: &ClientError) -> bool {
    e.is_transport() || e.code() == Some(tonic::Code::Unavailable)
}

/// What one writer saw.
#[derive(Default)]
struct Written {
    /// Acknowledged entries: index and bytes.
    acked: Vec<(u64, Vec<u8>)>,
    /// Errors that a writer should not have to handle (not retryable).
    unexpected: Vec<String>,
    retried: usize,
}

/// Writes `w{id}-{n}` entries, 1 to 4 per call, until `stop`. A refused
/// batch is sent again (to the leader a standby names, else to the next
/// instance) until acknowledged, as a producer would: the log deduplicates
/// if the first try was committed after all.
async fn writer(id: usize, urls: Vec<String>, stop: Arc<AtomicBool>) -> Written {
    let mut out = Written::default();
    let mut at = id % urls.len();
    let mut client: Option<LogClient> = None;
    let mut n = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let batch: Vec<Vec<u8>> = (0..1 + n % 4)
            .map(|k| format!("w{id}-{}", n + k).into_bytes())
            .collect();
        n += batch.len();
        loop {
            if client.is_none() {
                client = LogClient::connect(&urls[at]).await.ok();
            }
            let result = match client.as_mut() {
                Some(c) => c.add_entries(batch.clone()).await,
                None => Err(ClientError::Connect(urls[at].clone(), "refused".into())),
            };
            match result {
                Ok(r) => {
                    for (a, e) in r.entries.iter().zip(&batch) {
                        assert_eq!(a.leaf_hash, leaf_hash(e));
                        out.acked.push((a.index, e.clone()));
                    }
                    break;
                }
                Err(e) => {
                    out.retried += 1;
                    if !retryable(&e) {
                        out.unexpected.push(e.to_string());
                    }
                    at = match e.leader().and_then(|l| urls.iter().position(|u| *u == l)) {
                        Some(leader) => leader,
                        None => (at + 1) % urls.len(),
                    };
                    client = None;
                    if stop.load(Ordering::SeqCst) && out.retried > 10_000 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    out
}

/// Polls every instance's published checkpoint until `stop`; returns the
/// distinct (size → note) seen, failing on two roots for one size.
async fn watcher(
    urls: Vec<String>,
    keys: Vec<VerifierKey>,
    policy: WitnessPolicy,
    stop: Arc<AtomicBool>,
) -> BTreeMap<u64, (Hash, String)> {
    let mut seen: BTreeMap<u64, (Hash, String)> = BTreeMap::new();
    let mut clients: Vec<Option<LogClient>> = urls.iter().map(|_| None).collect();
    while !stop.load(Ordering::SeqCst) {
        for (url, slot) in urls.iter().zip(clients.iter_mut()) {
            if slot.is_none() {
                *slot = LogClient::connect(url).await.ok();
            }
            let Some(c) = slot.as_mut() else { continue };
            let note = match c.checkpoint(None).await {
                Ok(n) => n,
                Err(_) => {
                    *slot = None;
                    continue;
                }
            };
            let checked = verify_checkpoint(&note, &keys)
                .expect("published checkpoints carry the log's signatures");
            if policy.quorum > 0 {
                check_witnesses(&note, &policy, now())
                    .expect("published checkpoints carry the witness quorum");
            }
            let cp = checked.into_checkpoint();
            let root = *cp.root();
            if let Some((other, _)) = seen.get(&cp.size()) {
                assert_eq!(
                    *other,
                    root,
                    "two roots published for size {} (a fork)",
                    cp.size()
                );
            }
            seen.entry(cp.size()).or_insert((root, note));
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    seen
}

/// Waits until `causeway.v1.Log/writes` health on `url` is `serving`.
async fn writes_health_is(url: &str, serving: bool) {
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
    let want = if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    let channel = tonic::transport::Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut h = tonic_health::pb::health_client::HealthClient::new(channel);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = h
            .check(HealthCheckRequest {
                service: "causeway.v1.Log/writes".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        if status == want as i32 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url}: writes health is {status}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `url` until its published checkpoint reaches `size`; returns it.
async fn published_at(url: &str, size: u64, keys: &[VerifierKey]) -> Checkpoint {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut c) = LogClient::connect(url).await
            && let Ok(note) = c.checkpoint(None).await
        {
            let cp = verify_checkpoint(&note, keys).unwrap().into_checkpoint();
            if cp.size() >= size {
                return cp;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not publish size {size} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads every entry of `cp`'s tree from `url` and checks that its root
/// is `cp`'s root and that each acknowledged entry is at its index.
async fn check_whole_tree(url: &str, cp: &Checkpoint, acked: &[(u64, Vec<u8>)]) {
    let mut c = LogClient::connect(url).await.unwrap();
    let mut entries: Vec<Vec<u8>> = Vec::with_capacity(cp.size() as usize);
    while (entries.len() as u64) < cp.size() {
        let page = c
            .entries(entries.len() as u64, cp.size() - entries.len() as u64)
            .await
            .unwrap();
        assert!(
            !page.is_empty(),
            "{url} returned no entries at {}",
            entries.len()
        );
        entries.extend(page);
    }
    let mut range = CompactRange::new();
    for e in &entries {
        range.append(leaf_hash(e), |_, _| {});
    }
    assert_eq!(
        range.root(),
        *cp.root(),
        "the entries {url} serves hash to the checkpoint's root"
    );
    for (index, entry) in acked {
        assert_eq!(
            entries.get(*index as usize),
            Some(entry),
            "acknowledged entry {index} is in the log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_the_leader_under_writes_loses_nothing_and_forks_nothing() {
    let d = Deployment::new(2);
    let names = ["a", "b", "c"];
    let mut servers: BTreeMap<&str, Server> = names.iter().map(|n| (*n, d.start(n))).collect();
    let urls: Vec<String> = names.iter().map(|n| servers[n].url.clone()).collect();
    let first = wait_for_leader(&d, None);
    let keys = d.keys();

    // Standbys refuse writes with UNAVAILABLE naming the leader, and serve reads.
    let standby = names.iter().find(|n| **n != first).unwrap();
    let mut c = LogClient::connect(&servers[standby].url).await.unwrap();
    let refused = c
        .add_entries(vec![b"to a standby".to_vec()])
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(tonic::Code::Unavailable), "{refused}");
    assert_eq!(
        refused.leader().as_deref(),
        Some(servers[first.as_str()].url.as_str()),
        "{refused}"
    );
    assert!(
        refused
            .to_string()
            .contains(&format!("the leader is {first}")),
        "{refused}"
    );
    // Load balancers can tell them apart: writes health is SERVING only on the leader.
    writes_health_is(&servers[first.as_str()].url, true).await;
    writes_health_is(&servers[standby].url, false).await;

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|i| tokio::spawn(writer(i, urls.clone(), stop.clone())))
        .collect();
    let watch = tokio::spawn(watcher(
        urls.clone(),
        keys.clone(),
        d.witness_policy(),
        stop.clone(),
    ));

    // Writes flow, through the leader, and standbys follow.
    let before = published_at(&urls[0], 50, &keys).await.size();
    published_at(&urls[2], before, &keys).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // kill -9 the leader mid-stream; a standby takes over.
    let killed = servers.remove(first.as_str()).unwrap();
    let killed_at = Instant::now();
    killed.kill9();
    let second = wait_for_leader(&d, Some(&first));
    let took_over = killed_at.elapsed();
    assert!(
        took_over < Duration::from_secs(15),
        "takeover took {took_over:?}"
    );
    let survivor = servers[second.as_str()].url.clone();
    writes_health_is(&survivor, true).await;
    // Writes resume on the new leader, and its checkpoints grow.
    let resumed = published_at(&survivor, before + 100, &keys).await.size();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The killed instance comes back as a standby and catches up.
    let back = d.start(&first);
    assert!(
        d.leader().is_some_and(|l| l != first),
        "the restarted instance stands by"
    );
    published_at(&back.url, resumed, &keys).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);

    let mut acked = Vec::new();
    let (mut retried, mut unexpected) = (0, Vec::new());
    for w in writers {
        let w = w.await.unwrap();
        acked.extend(w.acked);
        retried += w.retried;
        unexpected.extend(w.unexpected);
    }
    let seen = watch.await.unwrap();
    assert!(
        unexpected.is_empty(),
        "writers saw errors that are not retryable: {unexpected:?}"
    );
    eprintln!(
        "takeover in {took_over:?}; {} entries acknowledged, {retried} retries, {} checkpoints seen",
        acked.len(),
        seen.len()
    );
    let top = acked.iter().map(|(i, _)| *i).max().unwrap() + 1;

    // Every acknowledged entry is in the tree that every instance serves:
    // the new leader, the standby, and the restarted one.
    let last = published_at(&survivor, top, &keys).await;
    for url in [
        &survivor,
        &back.url,
        &urls[names
            .iter()
            .position(|n| *n != first && *n != second)
            .unwrap()],
    ] {
        check_whole_tree(url, &published_at(url, last.size(), &keys).await, &acked).await;
    }
    // Every checkpoint published before and after is consistent with the
    // next one (proofs served by a standby).
    let standby_url = &back.url;
    let mut c = LogClient::connect(standby_url).await.unwrap();
    assert!(
        seen.keys().any(|s| *s <= before) && seen.keys().any(|s| *s > resumed),
        "checkpoints seen on both sides of the kill"
    );
    let mut checkpoints: Vec<Checkpoint> = seen
        .values()
        .map(|(_, note)| verify_checkpoint(note, &keys).unwrap().into_checkpoint())
        // Every tree extends the empty one; proofs start at size 1.
        .filter(|cp| cp.size() > 0)
        .collect();
    if checkpoints.last().is_none_or(|cp| cp.size() < last.size()) {
        checkpoints.push(last.clone());
    }
    for pair in checkpoints.windows(2) {
        let (old, new) = (&pair[0], &pair[1]);
        let (_, proof) = c
            .consistency_proof(old.size(), Some(new.size()))
            .await
            .unwrap();
        check_consistency(old, new, &proof)
            .unwrap_or_else(|e| panic!("{} → {}: {e}", old.size(), new.size()));
    }
    // The witnesses saw one history.
    causeway_tests::assert_no_split_view(&d.witnesses).await;
    // An inclusion proof from the restarted standby, by leaf hash.
    let (index, entry) = &acked[acked.len() / 2];
    let mut c = LogClient::connect(&back.url).await.unwrap();
    let p = c
        .inclusion_proof(LeafRef::Hash(leaf_hash(entry)), Some(last.size()))
        .await
        .unwrap();
    assert_eq!(p.leaf_index, *index);
    causeway_client::verify::check_inclusion(&last, *index, &leaf_hash(entry), &p.proof).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_frozen_by_sigstop_cannot_commit_when_it_wakes() {
    let d = Deployment::new(0);
    let a = d.start("a");
    let b = d.start("b");
    let first = wait_for_leader(&d, None);
    let (leader, standby) = if first == "a" { (&a, &b) } else { (&b, &a) };
    let keys = d.keys();
    let mut c = LogClient::connect(&leader.url).await.unwrap();
    c.add_entries(vec![b"before the freeze".to_vec()])
        .await
        .unwrap();

    // Connected before the freeze; the request goes out while it is frozen
    // and waits in its socket.
    let mut frozen_client = LogClient::connect(&leader.url).await.unwrap();
    leader.signal("STOP");
    let in_flight = tokio::spawn(async move {
        frozen_client
            .add_entries(vec![b"sent to the frozen leader".to_vec()])
            .await
    });

    // The standby takes over once the lease expires.
    let second = wait_for_leader(&d, Some(&first));
    assert_ne!(second, first);
    let mut s = LogClient::connect(&standby.url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let after = loop {
        match s.add_entries(vec![b"after the takeover".to_vec()]).await {
            Ok(r) => break r,
            Err(e) => {
                assert!(retryable(&e), "{e}");
                assert!(
                    Instant::now() < deadline,
                    "the standby did not take writes: {e}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };

    // The old leader wakes up with the request in hand: it must not commit.
    leader.signal("CONT");
    let answer = tokio::time::timeout(Duration::from_secs(20), in_flight)
        .await
        .expect("the woken leader answers")
        .unwrap();
    let err = answer.expect_err("a deposed leader acknowledged a write");
    assert_eq!(err.code(), Some(tonic::Code::Unavailable), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("no longer the leader")
            || text.contains("standby")
            || text.contains("no instance leads"),
        "{text}"
    );
    let missing = s
        .inclusion_proof(LeafRef::Hash(leaf_hash(b"sent to the frozen leader")), None)
        .await;
    assert_eq!(missing.unwrap_err().code(), Some(tonic::Code::NotFound));

    // It now stands by, names the new leader, and serves the new tree.
    let mut woken = LogClient::connect(&leader.url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let e = woken
            .add_entries(vec![b"to the woken one".to_vec()])
            .await
            .expect_err("it stands by");
        if e.leader().as_deref() == Some(standby.url.as_str()) {
            break;
        }
        assert!(retryable(&e), "{e}");
        assert!(
            Instant::now() < deadline,
            "the woken instance does not name the leader: {e}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let size = after.entries[0].index + 1;
    let head = published_at(&leader.url, size, &keys).await;
    let (_, proof) = woken.consistency_proof(1, Some(head.size())).await.unwrap();
    let one = verify_checkpoint(&woken.checkpoint(Some(1)).await.unwrap(), &keys)
        .unwrap()
        .into_checkpoint();
    check_consistency(&one, &head, &proof).unwrap();
    // It noticed, by whichever came first: its lease clock, the lease
    // row, or the fence on its commit.
    let log = leader.stderr();
    assert!(
        log.contains("the lease ran out while this instance was not running")
            || log.contains("the lease was taken over")
            || log.contains("no longer the leader"),
        "{}",
        log
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standbys_follow_the_re_cosigned_checkpoint_of_an_idle_log() {
    let d = Deployment::new(1);
    let refresh = ["--witness-refresh", "1s"];
    let a = d.start_with("a", &refresh);
    let b = d.start_with("b", &refresh);
    let first = wait_for_leader(&d, None);
    let (leader, standby) = if first == "a" { (&a, &b) } else { (&b, &a) };
    let keys = d.keys();
    LogClient::connect(&leader.url)
        .await
        .unwrap()
        .add_entries(vec![b"one".to_vec()])
        .await
        .unwrap();
    let cosigned_at =
        |note: &str| check_witnesses(note, &d.witness_policy(), now()).unwrap()[0].time;
    let size = published_at(&standby.url, 1, &keys).await.size();
    let mut c = LogClient::connect(&standby.url).await.unwrap();
    let before = cosigned_at(&c.checkpoint(None).await.unwrap());
    // Nothing is written; the leader re-cosigns every second, and the
    // standby serves the newer cosignature of the same tree.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let note = c.checkpoint(None).await.unwrap();
        let cp = verify_checkpoint(&note, &keys).unwrap().into_checkpoint();
        assert_eq!(cp.size(), size, "nothing was written");
        if cosigned_at(&note) > before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the standby still serves the cosignature of {before}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_ride_out_a_postgres_restart() {
    let mut d = Deployment::new(0);
    let a = d.start("a");
    let b = d.start("b");
    wait_for_leader(&d, None);
    let keys = d.keys();
    let urls = vec![a.url.clone(), b.url.clone()];
    let stop = Arc::new(AtomicBool::new(false));
    let first = tokio::spawn(writer(0, urls.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let before = first.await.unwrap();
    assert!(!before.acked.is_empty() && before.unexpected.is_empty());
    let stop = Arc::new(AtomicBool::new(false));
    let writing = tokio::spawn(writer(1, urls.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The database goes away (fast shutdown) and comes back on its port.
    let port = d.pg.port;
    d.pg.stop();
    let mut c = LogClient::connect(&a.url).await.unwrap();
    let refused = c
        .add_entries(vec![b"while the database is down".to_vec()])
        .await
        .unwrap_err();
    assert!(retryable(&refused), "{refused}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    d.pg = Postgres::start_on(&d.dir.path().join("pg"), port);

    // Writers carried on retrying; once an instance leads again they get through.
    let leader = wait_for_leader(&d, None);
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    let during = writing.await.unwrap();
    assert!(during.unexpected.is_empty(), "{:?}", during.unexpected);
    assert!(!during.acked.is_empty(), "writes resumed after the restart");
    let acked: Vec<(u64, Vec<u8>)> = before.acked.into_iter().chain(during.acked).collect();
    let top = acked.iter().map(|(i, _)| *i).max().unwrap() + 1;
    let url = if leader == "a" { &a.url } else { &b.url };
    let cp = published_at(url, top, &keys).await;
    for url in &urls {
        check_whole_tree(url, &published_at(url, cp.size(), &keys).await, &acked).await;
    }
}

/// Waits until the anchor served by `url` covers `size`; checks that it is
/// a log-signed checkpoint timestamped by the TSA of `roots`.
async fn anchored_at(url: &str, size: u64, keys: &[VerifierKey], roots: &TrustedRoots) -> u64 {
    let mut c = LogClient::connect(url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(a) = c.anchor(None).await
            && a.tree_size >= size
        {
            let cp = verify_checkpoint(&a.checkpoint_note, keys).unwrap();
            assert_eq!(cp.checkpoint().size(), a.tree_size);
            let body = &a.checkpoint_note[..=a.checkpoint_note.find("\n\n").unwrap()];
            let v = check_anchor(&a.timestamp_response, body, roots, None).unwrap();
            assert_eq!(v.gen_time, a.gen_time);
            return a.tree_size;
        }
        assert!(
            Instant::now() < deadline,
            "{url}: size {size} was not anchored in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The anchorer is a stage of the pipeline every term starts: an elected
/// leader anchors as a single instance does, standbys serve its anchors
/// from the shared store, and the next leader keeps anchoring.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_elected_leader_anchors_and_so_does_the_next() {
    let d = Deployment::new(0);
    let tsa = Tsa::start(&d.dir.path().join("tsa"), "ec", 0);
    let roots_path = tsa.roots.to_str().unwrap().to_owned();
    let roots = TrustedRoots::from_pem_or_der(&std::fs::read(&tsa.roots).unwrap()).unwrap();
    let flags = [
        "--tsa-url",
        &tsa.url,
        "--tsa-roots",
        &roots_path,
        "--tsa-interval",
        "0ms",
    ];
    let mut servers: BTreeMap<&str, Server> = ["a", "b"]
        .iter()
        .map(|n| (*n, d.start_with(n, &flags)))
        .collect();
    let keys = d.keys();
    let first = wait_for_leader(&d, None);
    let standby = if first == "a" { "b" } else { "a" };
    let mut leader = LogClient::connect(&servers[first.as_str()].url)
        .await
        .unwrap();
    leader
        .add_entries(vec![b"anchored by the first leader".to_vec()])
        .await
        .unwrap();
    anchored_at(&servers[first.as_str()].url, 1, &keys, &roots).await;
    anchored_at(&servers[standby].url, 1, &keys, &roots).await;

    // The standby takes over and anchors what it sequences.
    servers.remove(first.as_str()).unwrap().kill9();
    let second = wait_for_leader(&d, Some(&first));
    assert_eq!(second, standby);
    let url = servers[second.as_str()].url.clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    let size = loop {
        let attempt = async {
            LogClient::connect(&url)
                .await?
                .add_entries(vec![b"anchored by the second leader".to_vec()])
                .await
        };
        match attempt.await {
            Ok(added) => break added.entries[0].index + 1,
            Err(e) => assert!(
                retryable(&e) && Instant::now() < deadline,
                "the new leader refuses writes: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(size, 2);
    anchored_at(&url, size, &keys, &roots).await;
}
