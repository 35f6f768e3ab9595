//! The transparency-log formats that Causeway's parties share, with no I/O.
//!
//! In scope, one module per spec:
//!
//! * [`merkle`]: RFC 6962 / RFC 9162 hashing, compact ranges, proof plans
//!   and proof verification.
//! * [`note`]: C2SP signed notes and their signature types (Ed25519, ECDSA
//!   P-256, cosignature/v1, RFC 6962 tree heads).
//! * [`checkpoint`]: C2SP checkpoint bodies.
//! * [`tiles`]: C2SP tlog-tiles coordinates, paths and entry bundles, and
//!   [`MAX_ENTRY_SIZE`](tiles::MAX_ENTRY_SIZE), which their format sets.
//! * [`witness`]: the C2SP tlog-witness `add-checkpoint` wire format.
//!
//! Out of scope: storage, networking, clocks (the server, witness and
//! client crates do those); governance records (`causeway-records`), RFC
//! 3161 time stamps (`causeway-rfc3161`) and the gRPC API
//! (`causeway-api`). A witness needs only this crate, so nothing here pulls
//! in protobuf, gRPC or RSA.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod checkpoint;
pub mod merkle;
pub mod note;
pub mod tiles;
pub mod witness;
