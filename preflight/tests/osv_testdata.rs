//! The pre-flight checks against the real advisories in `testdata/osv/`
//! and the lockfiles in `testdata/preflight/` that hit and miss them at
//! their boundaries (see `testdata/osv/SOURCES.md`).

use std::path::{Path, PathBuf};

use causeway_preflight::freeze::FreezeCalendar;
use causeway_preflight::lockfile::Lockfile;
use causeway_preflight::osv_db::OsvDatabase;
use causeway_preflight::report::{Outcome, Report};
use causeway_preflight::scan::scan;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

fn db() -> OsvDatabase {
    OsvDatabase::load_dir(&testdata().join("osv")).unwrap()
}

/// `(package@version, advisory id)` for every finding in `dir/file`.
fn findings(db: &OsvDatabase, dir: &str, file: &str) -> Vec<String> {
    let lockfile = Lockfile::read(&testdata().join("preflight").join(dir).join(file)).unwrap();
    let scan = scan(db, &lockfile);
    assert!(scan.unevaluable.is_empty(), "{:?}", scan.unevaluable);
    scan.findings
        .iter()
        .map(|f| format!("{}@{} {}", f.package.name, f.package.version, f.id))
        .collect()
}

#[test]
fn the_database_holds_the_live_advisories_of_the_checked_ecosystems() {
    let db = db();
    // tar, rusqlite, total.js, request, cryptography, x/text; marked is
    // withdrawn and esapi is Maven.
    assert_eq!(db.len(), 6);
    assert_eq!(db.withdrawn(), 1);
    assert_eq!(db.other_ecosystems(), 1);
}

#[test]
fn cargo_lock_hits_below_the_fix_and_not_at_it() {
    let db = db();
    // tar 0.4.15 < fixed 0.4.16; rusqlite 0.23.0 is the fix.
    assert_eq!(
        findings(&db, "hit", "Cargo.lock"),
        ["tar@0.4.15 GHSA-2367-c296-3mp2"]
    );
    // tar 0.4.16 is the fix; rusqlite 0.22.0 from git is not the crates.io crate.
    assert!(findings(&db, "miss", "Cargo.lock").is_empty());
}

#[test]
fn package_lock_hits_at_last_affected_and_skips_the_withdrawn() {
    let db = db();
    // request 2.88.2 is last_affected (inclusive), in a workspace folder;
    // @cypress/request 3.0.0 is its fix; marked 0.5.2 is in a withdrawn
    // advisory's range.
    assert_eq!(
        findings(&db, "hit", "package-lock.json"),
        [
            "request@2.88.2 GHSA-p8p7-x288-28g6",
            "total.js@3.4.6 GHSA-4449-hg37-77v8"
        ]
    );
    assert!(findings(&db, "miss", "package-lock.json").is_empty());
}

#[test]
fn python_lockfiles_hit_from_introduced_to_before_fixed() {
    let db = db();
    // Cryptography==3.1: the introduced version itself, name normalized.
    assert_eq!(
        findings(&db, "hit", "requirements.txt"),
        ["Cryptography@3.1 GHSA-rhm9-p9w5-fwm7"]
    );
    assert_eq!(
        findings(&db, "hit", "poetry.lock"),
        ["cryptography@3.3.1 GHSA-rhm9-p9w5-fwm7"]
    );
    // 3.3.2 is the fix; 3.0 is before introduced.
    assert!(findings(&db, "miss", "requirements.txt").is_empty());
    assert!(findings(&db, "miss", "poetry.lock").is_empty());
}

#[test]
fn go_sum_hits_built_modules_only() {
    let db = db();
    assert_eq!(
        findings(&db, "hit", "go.sum"),
        ["golang.org/x/text@v0.3.7 GHSA-69ch-w2m2-3vjp"]
    );
    // v0.3.8 is the fix; v0.3.6 appears only as a /go.mod line.
    assert!(findings(&db, "miss", "go.sum").is_empty());
}

#[test]
fn a_scan_becomes_a_check_naming_advisories_and_their_aliases() {
    let db = db();
    let lockfile = Lockfile::read(&testdata().join("preflight/hit/package-lock.json")).unwrap();
    let check = scan(&db, &lockfile).into_check("osv:package-lock.json".into());
    assert_eq!(check.outcome, Outcome::Block);
    assert_eq!(
        check.ids,
        [
            "CVE-2020-28494",
            "CVE-2023-28155",
            "GHSA-4449-hg37-77v8",
            "GHSA-p8p7-x288-28g6"
        ]
    );
    assert!(
        check
            .detail
            .contains("request@2.88.2: GHSA-p8p7-x288-28g6 (CVE-2023-28155)")
    );

    let clean = Lockfile::read(&testdata().join("preflight/miss/package-lock.json")).unwrap();
    let check = scan(&db, &clean).into_check("osv:package-lock.json".into());
    assert_eq!(check.outcome, Outcome::Pass);
    assert_eq!(check.detail, "3 packages, no known vulnerability");
    assert!(check.ids.is_empty());
}

#[test]
fn a_flat_directory_is_read_as_well_as_per_ecosystem_folders() {
    let flat = std::env::temp_dir().join(format!("preflight-flat-{}", std::process::id()));
    std::fs::create_dir_all(&flat).unwrap();
    for entry in std::fs::read_dir(testdata().join("osv/npm")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, flat.join(path.file_name().unwrap())).unwrap();
    }
    let db = OsvDatabase::load_dir(&flat).unwrap();
    std::fs::remove_dir_all(&flat).unwrap();
    assert_eq!((db.len(), db.withdrawn()), (2, 1));
}

#[test]
fn a_broken_advisory_for_a_checked_ecosystem_stops_the_load() {
    let docs = [(
        PathBuf::from("npm/GHSA-bad.json"),
        r#"{"id":"GHSA-bad","affected":[{"package":{"ecosystem":"npm","name":"x"}}]}"#.to_owned(),
    )];
    // No `modified`: not an OSV record.
    let err = OsvDatabase::from_documents(docs).unwrap_err().to_string();
    assert!(err.contains("GHSA-bad.json"), "{err}");
}

#[test]
fn the_report_blocks_on_a_hit_or_a_freeze_and_passes_otherwise() {
    let db = db();
    let calendar = FreezeCalendar::parse(
        &std::fs::read_to_string(testdata().join("preflight/freeze.toml")).unwrap(),
    )
    .unwrap();
    let check = |dir: &str, at: &str| {
        let mut report = Report::default();
        for file in [
            "Cargo.lock",
            "package-lock.json",
            "requirements.txt",
            "poetry.lock",
            "go.sum",
        ] {
            let lockfile =
                Lockfile::read(&testdata().join("preflight").join(dir).join(file)).unwrap();
            report
                .checks
                .push(scan(&db, &lockfile).into_check(format!("osv:{file}")));
        }
        report.checks.push(calendar.check(at.parse().unwrap()));
        report
    };
    let clean = check("miss", "2026-12-01T12:00:00Z");
    assert_eq!(clean.verdict(), Outcome::Pass, "{clean:#?}");
    let frozen = check("miss", "2026-12-24T12:00:00Z");
    assert_eq!(frozen.verdict(), Outcome::Block);
    assert_eq!(frozen.record_checks().last().unwrap().result, "block");
    let vulnerable = check("hit", "2026-12-01T12:00:00Z");
    assert_eq!(vulnerable.verdict(), Outcome::Block);
    assert_eq!(
        vulnerable
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Block)
            .count(),
        5
    );
}

#[test]
fn a_plan_runs_lockfiles_then_freeze_then_custom_checks() {
    use causeway_preflight::command::CustomCheck;
    use causeway_preflight::plan::Plan;

    let plan = Plan {
        osv_dir: testdata().join("osv"),
        lockfiles: vec![
            testdata().join("preflight/miss/Cargo.lock"),
            testdata().join("preflight/hit/go.sum"),
        ],
        freeze: Some(testdata().join("preflight/freeze.toml")),
        checks: vec![
            CustomCheck::parse("tests=true").unwrap(),
            CustomCheck::parse("lint=echo 3 warnings >&2; false").unwrap(),
        ],
    };
    let report = plan.run("2026-12-01T12:00:00Z".parse().unwrap()).unwrap();
    let results: Vec<(&str, &str)> = report
        .checks
        .iter()
        .map(|c| (c.name.rsplit('/').next().unwrap(), c.outcome.as_str()))
        .collect();
    assert_eq!(
        results,
        [
            ("Cargo.lock", "pass"),
            ("go.sum", "block"),
            ("freeze", "pass"),
            ("tests", "pass"),
            ("lint", "block"),
        ]
    );
    assert_eq!(report.verdict(), Outcome::Block);
    assert_eq!(report.checks[4].detail, "exit status: 1: 3 warnings");
}

#[test]
fn a_plan_refuses_an_osv_directory_without_advisories() {
    use causeway_preflight::plan::Plan;

    let plan = Plan {
        osv_dir: testdata().join("osv/Maven"),
        lockfiles: vec![testdata().join("preflight/hit/Cargo.lock")],
        ..Plan::default()
    };
    let err = plan
        .run(jiff::Timestamp::UNIX_EPOCH)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no OSV advisory"), "{err}");
}
