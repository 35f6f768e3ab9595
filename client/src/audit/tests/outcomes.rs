//! The outcome rules: `action_without_outcome` fires only under a
//! credential that records outcomes, `outcome_duplicate` on the second
//! outcome of one call; and the report attaches outcomes to their action
//! and credential.

use super::*;
use corpus::outcome;

/// The standard chain with an outcome after every orchestrator action
/// (`act0`..`act{n-1}`), the third one an error.
fn with_outcomes(actions: usize) -> Corpus {
    let mut c = Corpus::standard(actions);
    for i in 0..actions {
        let status = if i == 2 { "error" } else { "ok" };
        let at = ISSUED + 60 + i as i64 * 20 + 5;
        c.insert_after(
            &format!("act{i}"),
            &format!("out{i}"),
            Kind::Outcome,
            outcome(&format!("act{i}"), "cred", status, at),
            "orch",
        );
    }
    c
}

#[test]
fn a_chain_with_every_outcome_is_clean_and_counts_them() {
    let (report, built) = audit(&mut with_outcomes(4));
    assert_clean(&report);
    assert_eq!(report.summary.outcomes, 4);
    let chain = &report.authorizations[0];
    assert_eq!(chain.outcomes.len(), 4);
    let orch = &chain.credentials[0];
    assert_eq!((orch.outcomes_ok, orch.outcomes_error), (3, 1));
    // The sub-agent writes none, and is not judged for it.
    let sub = &chain.credentials[1];
    assert_eq!((sub.outcomes_ok, sub.outcomes_error), (0, 0));
    let third = report
        .actions
        .iter()
        .find(|a| a.index == built.at("act2"))
        .expect("act2");
    let o = third.outcome.as_ref().expect("an outcome");
    assert_eq!(o.index, built.at("out2"));
    assert_eq!(o.status, causeway_records::OutcomeStatus::Error);
    assert_eq!(o.error.as_deref(), Some("-32603"));
    let json = serde_json::to_value(&report).expect("serializable");
    assert_eq!(
        json["authorizations"][0]["credentials"][0]["outcomes_ok"],
        3
    );
    assert_eq!(
        json["authorizations"][0]["outcomes"][2]["status"],
        json!("error")
    );
}

#[test]
fn a_producer_that_never_writes_outcomes_raises_nothing() {
    let (report, _) = audit(&mut Corpus::standard(4));
    assert_clean(&report);
    assert!(report.actions.iter().all(|a| a.outcome.is_none()));
}

#[test]
fn action_without_outcome_fires_on_the_call_cut_off() {
    // The gate was killed during act3's call: its action is logged, its
    // outcome never came.
    let mut c = with_outcomes(4);
    c.remove("out3");
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::ActionWithoutOutcome, &[built.at("act3")]);
    let detail = &report.red_flags[0].detail;
    assert!(detail.contains("credential 2 has 3 outcome(s)"), "{detail}");
}

#[test]
fn an_invalid_outcome_is_no_outcome() {
    // act3's outcome is signed by the sub-agent's key, not the session
    // key of act3's credential: the log would refuse it, so act3 has none.
    let mut c = with_outcomes(4);
    c.set_signer("out3", "subkey");
    let (report, built) = audit(&mut c);
    assert_eq!(
        flags(&report),
        [(FlagKind::ActionWithoutOutcome, built.at("act3"))]
    );
    assert_eq!(report.invalid.len(), 1);
    assert_eq!(report.invalid[0].index, built.at("out3"));
    assert!(
        report.invalid[0]
            .reason
            .contains("an outcome must be signed"),
        "{}",
        report.invalid[0].reason
    );
}

#[test]
fn outcome_duplicate_fires_on_the_second_outcome() {
    let mut c = with_outcomes(4);
    c.insert_after(
        "out1",
        "again",
        Kind::Outcome,
        outcome("act1", "cred", "error", ISSUED + 60 + 20 + 9),
        "orch",
    );
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::OutcomeDuplicate, &[built.at("again")]);
    let detail = &report.red_flags[0].detail;
    assert!(
        detail.contains(&format!(
            "action {} already has outcome {}",
            built.at("act1"),
            built.at("out1")
        )),
        "{detail}"
    );
    // The action shows its first outcome.
    let act1 = report
        .actions
        .iter()
        .find(|a| a.index == built.at("act1"))
        .expect("act1");
    assert_eq!(
        act1.outcome.as_ref().map(|o| o.index),
        Some(built.at("out1"))
    );
}

#[test]
fn call_refused_fires_on_each_exception_naming_a_refused_call() {
    // A gate refused act1's neighbour: an exception with call_digest, and
    // an ordinary exception (no refused call) that raises nothing.
    let mut c = with_outcomes(2);
    c.insert_after(
        "out0",
        "refusal",
        Kind::Exception,
        json!({
            "credential": "@ref:cred",
            "reason": "causeway-gate refused a call (out_of_scope)",
            "revoked": false,
            "call_digest": format!("sha256:{}", "ab".repeat(32)),
            "time": t(ISSUED + 70),
        }),
        "issuer",
    );
    c.insert_after(
        "refusal",
        "note",
        Kind::Exception,
        json!({
            "credential": "@ref:cred",
            "reason": "slow upstream",
            "revoked": false,
            "time": t(ISSUED + 71),
        }),
        "issuer",
    );
    let (report, built) = audit(&mut c);
    assert_only(&report, FlagKind::CallRefused, &[built.at("refusal")]);
    let detail = &report.red_flags[0].detail;
    assert!(detail.contains(&"ab".repeat(32)), "{detail}");
}
