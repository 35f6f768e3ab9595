//! The record-truth suite (`record_truth.rs`: identities bound to keys,
//! nothing written after revocation, closure or expiry, no backdating),
//! unchanged, against PostgreSQL storage: credential state lives in the
//! shared store and is written in the same transaction as the record that
//! changes it. See `causeway_tests::storage_under_test`.

#[path = "record_truth.rs"]
mod record_truth;

#[test]
fn this_binary_runs_the_suite_against_postgres() {
    assert_eq!(causeway_tests::storage_under_test(), "postgres");
}
