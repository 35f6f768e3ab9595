//! A configuration that exists is valid: the library refuses what `main`
//! would refuse, so an embedder cannot publish checkpoints nobody
//! cosigned.

use causeway_server::pipeline::witnesses::WitnessEndpoint;
use causeway_server::{Config, OpenLog, ServerError};
use causeway_tlog::note::{CosignatureSigner, KeyName};

fn witness(name: &str) -> WitnessEndpoint {
    let signer = CosignatureSigner::generate(KeyName::new(name).unwrap(), &mut rand::rngs::OsRng);
    format!("{}@http://127.0.0.1:9", signer.verifier())
        .parse()
        .unwrap()
}

#[test]
fn a_witness_quorum_outside_one_to_n_is_refused_by_the_library() {
    let dir = tempfile::tempdir().unwrap();
    for quorum in [0, 3] {
        let mut config = Config::new(dir.path().to_path_buf());
        config.witnesses = vec![witness("w1"), witness("w2")];
        config.publisher.quorum = quorum;
        let Err(e) = OpenLog::open(&config) else {
            panic!("quorum {quorum} of 2 witnesses must be refused");
        };
        assert!(matches!(e, ServerError::Config(_)), "{e}");
        assert!(
            e.to_string().contains(&format!(
                "witness quorum {quorum} must be between 1 and the number of witnesses (2)"
            )),
            "{e}"
        );
    }
}
