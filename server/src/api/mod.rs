//! The log's interfaces, which only translate: requests into calls on the
//! [`crate::reader::Reader`] and the pipeline, errors into statuses.
//!
//! * [`grpc`]: the `causeway.v1.Log` gRPC service.
//! * [`tiles`]: the C2SP tlog-tiles read API over HTTP, and RFC 3161 anchors.
//! * [`status`]: the one place where errors become gRPC statuses.
//! * [`grpc_limits`]: oversized requests answer `RESOURCE_EXHAUSTED`; the
//!   bytes of requests being received are held to a memory budget and a
//!   deadline.
//! * [`tls`]: plain or TLS connections, client certificates, SIGHUP reload.

pub mod grpc;
pub mod grpc_limits;
pub mod status;
pub mod tiles;
pub mod tls;
