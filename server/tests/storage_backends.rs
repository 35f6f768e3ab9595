//! Both storage backends keep the same contract: the same batches give the
//! same reads after a reopen. PostgreSQL runs as a real private server
//! (Debian's binaries, on loopback); its lease and fence are checked here
//! at the storage level, the election on real processes in
//! `tests/tests/failover.rs`.

use std::time::Duration;

use causeway_records::{CredentialEnd, Ending};
use causeway_server::storage::postgres::MIGRATIONS;
use causeway_server::storage::{
    Commit, PgStorage, RocksStorage, Storage, StorageError, StorageOptions,
};
use causeway_tests::{Pki, Postgres};
use causeway_tlog::merkle::{CompactRange, NodeId, leaf_hash};

/// The next batch of `n` entries after `range`, its nodes and a note.
fn batch(range: &mut CompactRange, n: u64) -> Commit {
    let mut c = Commit {
        first_index: range.size(),
        ..Default::default()
    };
    for i in 0..n {
        let entry = format!("entry {}", range.size() + i).into_bytes();
        let hash = leaf_hash(&entry);
        c.entries.push((entry, hash));
    }
    for (_, h) in &c.entries {
        range.append(*h, |id, hash| c.nodes.push((id, hash)));
    }
    c.size = range.size();
    c.note = format!("note {}", c.size);
    c
}

/// Writes a log of 305 entries in two batches, with a published
/// checkpoint, an anchor, a submission and two ended credentials.
fn write(s: &dyn Storage, range: &mut CompactRange) {
    assert_eq!(s.head().unwrap(), None);
    s.set_origin("o").unwrap();
    s.commit(&batch(range, 5)).unwrap();
    let mut c = batch(range, 300);
    let (id, leaf) = (leaf_hash(b"submission"), c.entries[3].1);
    c.submissions.push((id, 8, leaf));
    c.credential_ends.push((
        leaf_hash(b"revoked"),
        CredentialEnd {
            ending: Ending::Revoked,
            index: 9,
        },
    ));
    c.credential_ends.push((
        leaf_hash(b"closed"),
        CredentialEnd {
            ending: Ending::Closed,
            index: 304,
        },
    ));
    s.commit(&c).unwrap();
    s.publish(5, "cosigned 5").unwrap();
    s.publish(5, "cosigned 5 again").unwrap();
    s.put_anchor(5, 1_700_000_000, b"der").unwrap();
}

/// Every read of the trait, on what `write` wrote (after a reopen).
fn check(s: &dyn Storage, range: &CompactRange) {
    assert_eq!(s.origin().unwrap().as_deref(), Some("o"));
    let head = s.head().unwrap().unwrap();
    assert_eq!((head.size, head.note.as_str()), (305, "note 305"));
    assert_eq!(&s.compact_range(305).unwrap(), range);
    assert_eq!(s.checkpoint(5).unwrap().as_deref(), Some("note 5"));
    assert_eq!(s.checkpoint(6).unwrap(), None);
    assert_eq!(s.checkpoint_sizes_near(6).unwrap(), (Some(5), Some(305)));
    assert_eq!(s.checkpoint_sizes_near(5).unwrap(), (None, Some(5)));
    let idx = s
        .leaf_indices(&[leaf_hash(b"entry 7"), leaf_hash(b"nope")])
        .unwrap();
    assert_eq!(idx, vec![Some(7), None]);
    let sub = s
        .submissions(&[leaf_hash(b"nope"), leaf_hash(b"submission")])
        .unwrap();
    assert_eq!(sub, vec![None, Some((8, leaf_hash(b"entry 8")))]);
    let ends = s
        .credential_ends(&[
            leaf_hash(b"closed"),
            leaf_hash(b"open"),
            leaf_hash(b"revoked"),
        ])
        .unwrap();
    assert_eq!(
        ends,
        vec![
            Some(CredentialEnd {
                ending: Ending::Closed,
                index: 304
            }),
            None,
            Some(CredentialEnd {
                ending: Ending::Revoked,
                index: 9
            }),
        ]
    );
    assert_eq!(s.credential_ends(&[]).unwrap(), vec![]);
    let e = s.entries(300, 305, 10, 1 << 20).unwrap();
    assert_eq!(e.len(), 5);
    assert_eq!(e[0], b"entry 300");
    assert_eq!(s.entries(0, 305, 10, 20).unwrap().len(), 2, "byte bound");
    assert_eq!(
        s.entries(0, 305, 1000, 0).unwrap().len(),
        1,
        "always one entry"
    );
    assert_eq!(s.node_range(0, 0, 256).unwrap().len(), 256);
    assert_eq!(s.node_range(0, 256, 256).unwrap().len(), 49);
    assert_eq!(
        s.node_range(0, 250, 256).unwrap().len(),
        6,
        "stops at the tile's end"
    );
    assert_eq!(
        s.node_range(1, 120, 256).unwrap().len(),
        8,
        "level 1 rows are 128 wide"
    );
    assert_eq!(s.node_range(8, 0, 256).unwrap().len(), 1);
    assert!(matches!(
        s.nodes(&[NodeId::new(9, 0)]),
        Err(StorageError::Corrupt(_))
    ));
    assert_eq!(s.published(5).unwrap().as_deref(), Some("cosigned 5 again"));
    assert_eq!(
        s.latest_published().unwrap(),
        Some((5, "cosigned 5 again".into()))
    );
    assert_eq!(s.published_sizes_near(305).unwrap(), (Some(5), None));
    let anchor = s.latest_anchor().unwrap().unwrap();
    assert_eq!(
        (anchor.size, anchor.gen_time, anchor.der.as_slice()),
        (5, 1_700_000_000, &b"der"[..])
    );
    assert_eq!(s.anchor(6).unwrap(), None);
    assert_eq!(s.anchors(0, 10).unwrap(), vec![(5, 1_700_000_000)]);
    assert_eq!(s.anchor_sizes_near(4).unwrap(), (None, Some(5)));
    assert!(s.disk_bytes().is_some_and(|b| b > 0));
}

#[test]
fn rocksdb_commits_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut range = CompactRange::new();
    {
        let s = RocksStorage::open(dir.path(), &StorageOptions::default()).unwrap();
        write(&s, &mut range);
    }
    check(
        &RocksStorage::open(dir.path(), &StorageOptions::default()).unwrap(),
        &range,
    );
}

#[test]
fn postgres_commits_survive_reopen_and_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut pg = Postgres::start(&dir.path().join("pg"));
    let url = pg.create_database("conformance");
    let mut range = CompactRange::new();
    {
        let s = PgStorage::open(&url, None).unwrap();
        write(&s, &mut range);
        check(&s, &range);
    }
    // A fast shutdown and restart of PostgreSQL itself: committed is kept.
    let port = pg.port;
    pg.stop();
    let pg = Postgres::start_on(&dir.path().join("pg"), port);
    check(
        &PgStorage::open(&pg.url("conformance"), None).unwrap(),
        &range,
    );
    // Migrations ran once and are recorded.
    assert_eq!(
        pg.sql("conformance", "SELECT count(*) FROM causeway_migrations"),
        MIGRATIONS.len().to_string()
    );
}

#[test]
fn postgres_refuses_a_schema_newer_than_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let pg = Postgres::start(&dir.path().join("pg"));
    let url = pg.create_database("newer");
    drop(PgStorage::open(&url, None).unwrap());
    pg.sql(
        "newer",
        "INSERT INTO causeway_migrations (version, description) VALUES (99, 'from the future')",
    );
    let err = PgStorage::open(&url, None)
        .err()
        .expect("a newer schema is refused");
    assert!(err.to_string().contains("schema version 99"), "{err}");
    assert!(err.to_string().contains("upgrade causeway-server"), "{err}");
}

#[test]
fn postgres_names_an_unreachable_database() {
    let err = PgStorage::open("postgres://causeway@127.0.0.1:1/nowhere", None)
        .err()
        .expect("refused");
    assert!(
        err.to_string()
            .contains("connecting to postgres://127.0.0.1:1/nowhere"),
        "{err}"
    );
    let err = PgStorage::open("postgres://[bad", None)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("not a PostgreSQL URL"), "{err}");
}

#[test]
fn a_deposed_leader_cannot_commit_and_writers_cannot_fork() {
    let dir = tempfile::tempdir().unwrap();
    let pg = Postgres::start(&dir.path().join("pg"));
    let url = pg.create_database("fencing");
    let (a, b) = (
        PgStorage::open(&url, None).unwrap(),
        PgStorage::open(&url, None).unwrap(),
    );
    let lease = Duration::from_millis(500);

    let term_a = a
        .try_acquire("a", "http://a", lease)
        .unwrap()
        .expect("a leads");
    assert_eq!(
        b.try_acquire("b", "http://b", lease).unwrap(),
        None,
        "a's lease is live"
    );
    let leader = b.leader().unwrap().unwrap();
    assert_eq!(
        (leader.holder.as_str(), leader.address.as_str(), leader.live),
        ("a", "http://a", true)
    );
    a.set_fence(Some(term_a));
    let mut range = CompactRange::new();
    a.commit(&Commit {
        note: "note 0".into(),
        ..Default::default()
    })
    .unwrap();
    a.commit(&batch(&mut range, 3)).unwrap();
    assert!(a.renew(term_a, lease).unwrap());

    // a stops renewing (frozen); b takes over once the lease expires.
    std::thread::sleep(lease + Duration::from_millis(100));
    let term_b = b
        .try_acquire("b", "http://b", lease)
        .unwrap()
        .expect("b takes over");
    assert_eq!(term_b, term_a + 1);
    b.set_fence(Some(term_b));
    assert!(
        !a.renew(term_a, lease).unwrap(),
        "a learns it lost the lease"
    );

    // a wakes up with a batch in hand: fenced, nothing written.
    let mut stale = range.clone();
    let err = a.commit(&batch(&mut stale, 2)).unwrap_err();
    assert!(
        matches!(err, StorageError::Fenced { term, current } if term == term_a && current == term_b),
        "{err}"
    );
    assert_eq!(a.head().unwrap().unwrap().size, 3);

    // b extends the real head; a batch built on an older head is refused
    // even under the right term.
    b.commit(&batch(&mut range, 4)).unwrap();
    let mut old = CompactRange::new();
    let err = b.commit(&batch(&mut old, 1)).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::HeadMoved {
                expected: 0,
                stored: 7
            }
        ),
        "{err}"
    );
    assert_eq!(b.head().unwrap().unwrap().size, 7);
    assert_eq!(&b.compact_range(7).unwrap(), &range);

    // A clean shutdown releases at once.
    b.release(term_b).unwrap();
    assert!(!a.leader().unwrap().unwrap().live);
    assert_eq!(
        a.try_acquire("a", "http://a", lease).unwrap(),
        Some(term_b + 1)
    );
}

#[test]
fn postgres_over_tls_verifies_the_server_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "db-ca");
    let (cert, key) = pki.issue("db", true);
    let pg = Postgres::start_tls(&dir.path().join("pg"), &cert, &key);
    let url = pg.create_database("tls");
    let config = |ca: &std::path::Path| {
        causeway_server::api::tls::client_config("--storage-ca", ca).unwrap()
    };

    // Trusting the database's CA: every connection is TLS.
    let s = PgStorage::open(&url, Some(config(&pki.ca()))).unwrap();
    s.set_origin("o").unwrap();
    assert_eq!(s.origin().unwrap().as_deref(), Some("o"));
    let plain = pg.sql(
        "tls",
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)
         WHERE application_name = 'causeway-server' AND NOT ssl",
    );
    let tls = pg.sql(
        "tls",
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)
         WHERE application_name = 'causeway-server' AND ssl",
    );
    assert_eq!(plain, "0");
    assert!(tls.parse::<u32>().unwrap() >= 2, "{tls} TLS connections");

    // Another CA: refused, saying why.
    let other = Pki::new(dir.path(), "other-ca");
    let err = PgStorage::open(&url, Some(config(&other.ca())))
        .err()
        .expect("a certificate from another CA is refused");
    assert!(err.to_string().contains("connecting to"), "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
}

/// A log with a revocation and a closure, written as a build before
/// credential ends were kept would have: no `credential_ends` in the
/// commit. Returns the credentials revoked and closed.
fn write_without_ends(
    s: &dyn Storage,
) -> (causeway_tlog::merkle::Hash, causeway_tlog::merkle::Hash) {
    use causeway_records::{
        Closure, ClosureReason, Envelope, Exception, ProducerKey, Record, Time,
    };
    let key = ProducerKey::generate(&mut rand::rngs::OsRng);
    let at = Time::new(1_800_000_000, 0).unwrap();
    let (revoked, closed) = (leaf_hash(b"credential r"), leaf_hash(b"credential c"));
    let records = [
        Record::Exception(Exception {
            credential: closed.into(),
            action: None,
            reason: String::from("warning only"),
            revoked: false,
            time: at,
            call_digest: None,
        }),
        Record::Exception(Exception {
            credential: revoked.into(),
            action: None,
            reason: String::from("out of scope"),
            revoked: true,
            time: at,
            call_digest: None,
        }),
        Record::Closure(Closure {
            credential: closed.into(),
            reason: ClosureReason::Voluntary,
            started_at: at,
            ended_at: at,
            actions: 0,
            summary: String::from("done"),
            time: at,
        }),
        Record::Closure(Closure {
            credential: revoked.into(),
            reason: ClosureReason::Forced,
            started_at: at,
            ended_at: at,
            actions: 0,
            summary: String::from("forced after revocation"),
            time: at,
        }),
    ];
    let mut range = CompactRange::new();
    let mut c = Commit::default();
    c.entries
        .push((b"not a record".to_vec(), leaf_hash(b"not a record")));
    for r in &records {
        let e = Envelope::sign(r, &key).encode();
        let h = leaf_hash(&e);
        c.entries.push((e, h));
    }
    for (_, h) in &c.entries {
        range.append(*h, |id, hash| c.nodes.push((id, hash)));
    }
    c.size = range.size();
    c.note = String::from("note");
    s.set_origin("o").unwrap();
    s.commit(&c).unwrap();
    (revoked, closed)
}

/// What an upgrade must find: the first record that ended each.
fn assert_upgraded(
    s: &dyn Storage,
    revoked: causeway_tlog::merkle::Hash,
    closed: causeway_tlog::merkle::Hash,
) {
    assert_eq!(
        s.credential_ends(&[revoked, closed]).unwrap(),
        vec![
            Some(CredentialEnd {
                ending: Ending::Revoked,
                index: 2
            }),
            Some(CredentialEnd {
                ending: Ending::Closed,
                index: 3
            }),
        ],
        "an upgraded store must not reopen revoked or closed sessions"
    );
}

#[test]
fn rocksdb_layout_1_is_upgraded_with_the_credentials_its_entries_ended() {
    let dir = tempfile::tempdir().unwrap();
    let (revoked, closed) = {
        let s = RocksStorage::open(dir.path(), &StorageOptions::default()).unwrap();
        write_without_ends(&s)
    };
    // Make it a layout-1 database, as the previous release left it.
    {
        let cfs = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).unwrap();
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), dir.path(), &cfs).unwrap();
        db.put_cf(db.cf_handle("meta").unwrap(), b"layout", 1u64.to_be_bytes())
            .unwrap();
    }
    let s = RocksStorage::open(dir.path(), &StorageOptions::default()).unwrap();
    assert_upgraded(&s, revoked, closed);
    drop(s);
    // Once: the next open finds layout 2.
    let s = RocksStorage::open(dir.path(), &StorageOptions::default()).unwrap();
    assert_upgraded(&s, revoked, closed);
}

#[test]
fn postgres_migration_2_fills_in_the_credentials_the_entries_ended() {
    let dir = tempfile::tempdir().unwrap();
    let pg = Postgres::start(&dir.path().join("pg"));
    let url = pg.create_database("upgrade");
    let (revoked, closed) = write_without_ends(&PgStorage::open(&url, None).unwrap());
    // Back to the schema of the previous release.
    pg.sql(
        "upgrade",
        "DROP TABLE credential_ends; DELETE FROM causeway_migrations WHERE version = 2",
    );
    assert_upgraded(&PgStorage::open(&url, None).unwrap(), revoked, closed);
}
