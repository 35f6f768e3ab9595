//! The foundation's integration suite (`log.rs`, `bad_input.rs`) and the
//! governance-records suite (`records.rs`: admission, references,
//! deduplication by submission ID), unchanged, against PostgreSQL storage:
//! in a test binary named `postgres_*` the harness starts every server with
//! `--storage postgres://…` on a private PostgreSQL server that lives next
//! to the server's data directory (and survives its restarts and
//! `kill -9`). See `causeway_tests::storage_under_test`.

#[path = "bad_input.rs"]
mod bad_input;
#[path = "log.rs"]
mod log;
#[path = "records.rs"]
mod records;

#[test]
fn this_binary_runs_the_suites_against_postgres() {
    assert_eq!(causeway_tests::storage_under_test(), "postgres");
}
