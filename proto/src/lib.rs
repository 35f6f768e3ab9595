//! Formats that Causeway's parties share, with no I/O.
//!
//! * [`merkle`]: RFC 6962 / RFC 9162 hashing, compact ranges, proof plans
//!   and proof verification.
//! * [`note`]: C2SP signed notes and their signature types (Ed25519, ECDSA
//!   P-256, cosignature/v1, RFC 6962 tree heads).
//! * [`checkpoint`]: C2SP checkpoint bodies.
//! * [`civil`]: calendar arithmetic for the formats' UTC times.
//! * [`tiles`]: C2SP tlog-tiles coordinates, paths and entry bundles.
//! * [`timestamp`]: RFC 3161 time-stamp requests and complete, offline
//!   verification of TSA replies (signature, ESS, certificate chain).
//! * [`witness`]: the C2SP tlog-witness `add-checkpoint` wire format.
//! * [`records`]: governance records (JSON and protobuf forms), their
//!   DSSE-style signed envelope, producer keys and policy, and the log's
//!   admission checks.
//! * [`v1`]: the gRPC schema of the `causeway.v1.Log` service and the
//!   record messages, generated from `proto/causeway/v1/log.proto` and
//!   `proto/causeway/v1/records.proto`.
//!
//! What is *not* here: storage, networking, clocks. The server, witness
//! and client crates do those and call into this crate for every format.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod checkpoint;
pub mod civil;
pub mod merkle;
pub mod note;
pub mod records;
pub mod tiles;
pub mod timestamp;
pub mod witness;

/// The largest entry the log accepts. C2SP tlog-tiles entry bundles prefix
/// each entry with a big-endian u16 length.
pub const MAX_ENTRY_SIZE: usize = 65_535;

/// The gRPC response metadata key in which a standby of a replicated log
/// names the leader's gRPC URL when it refuses a write (`UNAVAILABLE`).
pub const LEADER_METADATA: &str = "causeway-leader";

/// Generated gRPC types and stubs for `causeway.v1` (the `Log` service and
/// the record messages).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("causeway.v1");

    /// The encoded file descriptor set, for gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("causeway_descriptor");
}
