//! Causeway's gRPC API: the `causeway.v1.Log` service and the
//! `causeway.v1.Issuer` service of `causeway-issuer`, generated with tonic
//! from `proto/causeway/v1/log.proto` and `issuer.proto`.
//!
//! In scope: the generated request and response messages, the client and
//! server stubs, the encoded descriptor set for server reflection, and the
//! metadata key a standby names the leader under. Out of scope: what the
//! messages carry. Checkpoints, proofs and tiles are `causeway-tlog`
//! formats, and entries are `causeway-records` envelopes, whose messages
//! (`records.proto`, the same protobuf package) that crate generates.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The gRPC response metadata key in which a standby of a replicated log
/// names the leader's gRPC URL when it refuses a write (`UNAVAILABLE`).
pub const LEADER_METADATA: &str = "causeway-leader";

/// Generated gRPC types and stubs for `causeway.v1.Log` and
/// `causeway.v1.Issuer`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("causeway.v1");

    /// The encoded file descriptor set, for gRPC server reflection: both
    /// `causeway/v1/log.proto` and `causeway/v1/records.proto`, so that
    /// reflection clients find the service and the record messages.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("causeway_descriptor");
}

#[cfg(test)]
mod tests {
    #[test]
    fn descriptor_set_has_both_files() {
        let set = super::v1::FILE_DESCRIPTOR_SET;
        let has = |needle: &[u8]| set.windows(needle.len()).any(|w| w == needle);
        assert!(has(b"causeway/v1/log.proto"));
        assert!(has(b"causeway/v1/records.proto"));
        assert!(has(b"EnvelopeSignature"));
        assert!(has(b"causeway/v1/issuer.proto"));
    }
}
