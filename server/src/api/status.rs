//! Errors as gRPC statuses: the stages return typed errors, and this is
//! the only place that decides which status each one is.

use causeway_api::LEADER_METADATA;
use causeway_records::RejectCode;
use tonic::Status;

use crate::election::NotLeader;
use crate::pipeline::admission::AdmissionError;
use crate::pipeline::sequencer::SubmitError;
use crate::reader::ReadError;

/// A read that failed: `OUT_OF_RANGE` beyond the tree, `UNAVAILABLE`
/// before anything is published or when storage failed (retry), else
/// `INVALID_ARGUMENT` or `NOT_FOUND`.
pub fn read(e: ReadError) -> Status {
    match e {
        ReadError::BeyondTree { .. } | ReadError::NotYetPublished { .. } => {
            Status::out_of_range(e.to_string())
        }
        ReadError::NotPublished(_) => Status::unavailable(e.to_string()),
        ReadError::Invalid(m) => Status::invalid_argument(m),
        ReadError::NotFound(m) => Status::not_found(m),
        ReadError::Storage(e) => {
            tracing::error!(error = %e, "read failed");
            Status::unavailable(format!("{e}; retry later"))
        }
        ReadError::Interrupted(_) => {
            tracing::error!(error = %e, "read failed");
            Status::unavailable(format!("{e}; retry later"))
        }
    }
}

/// A submission the sequencer did not take.
pub fn submit(e: SubmitError) -> Status {
    match e {
        SubmitError::Busy { .. } => Status::resource_exhausted(e.to_string()),
        SubmitError::ShuttingDown | SubmitError::Storage(_) => Status::unavailable(e.to_string()),
        SubmitError::Ended(message) => Status::permission_denied(message),
    }
}

/// A request admission refused: the rejection's class, or `UNAVAILABLE`
/// when a reference could not be read (retry).
pub fn admission(e: AdmissionError) -> Status {
    match &e {
        AdmissionError::Rejected { rejection, .. } => match rejection.code {
            RejectCode::InvalidArgument => Status::invalid_argument(e.to_string()),
            RejectCode::PermissionDenied => Status::permission_denied(e.to_string()),
            RejectCode::FailedPrecondition => Status::failed_precondition(e.to_string()),
        },
        AdmissionError::Lookup(_) => Status::unavailable(e.to_string()),
    }
}

/// `UNAVAILABLE` (writers retry), with the leader's URL in the
/// `causeway-leader` metadata when it is known, so clients can follow it.
pub fn not_leader(not: &NotLeader) -> Status {
    let mut status = Status::unavailable(not.to_string());
    if let Some(address) = not.leader_address()
        && let Ok(value) = address.parse()
    {
        status.metadata_mut().insert(LEADER_METADATA, value);
    }
    status
}
