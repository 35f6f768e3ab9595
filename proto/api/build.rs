//! Generates the gRPC code of `proto/causeway/v1/log.proto` (the
//! `causeway.v1.Log` service) and `issuer.proto` (`causeway.v1.Issuer`)
//! and one descriptor set, for server reflection, that holds them and
//! `records.proto` of `causeway-records`.
//!
//! Both files are package `causeway.v1`, so prost cannot be told "that
//! package is elsewhere"; instead every top-level message and enum of
//! `records.proto` gets an `extern_path` to `causeway_records::v1`, read
//! from the descriptor set itself so that a message added there is never
//! generated twice.
//!
//! `protoc` comes from `protoc-bin-vendored` unless `PROTOC` is set, so a
//! fresh machine needs no system protobuf compiler.

use std::path::PathBuf;

const LOG_PROTO: &str = "proto/causeway/v1/log.proto";
const ISSUER_PROTO: &str = "proto/causeway/v1/issuer.proto";
const RECORDS_INCLUDE: &str = "../records/proto";
const RECORDS_PROTO: &str = "causeway/v1/records.proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("PROTOC").is_none() {
        let protoc = protoc_bin_vendored::protoc_bin_path()?;
        // SAFETY: build scripts are single-threaded; nothing else reads the
        // environment concurrently.
        unsafe { std::env::set_var("PROTOC", protoc) };
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let records = format!("{RECORDS_INCLUDE}/{RECORDS_PROTO}");
    // protoc writes the encoded set here as it is (FILE_DESCRIPTOR_SET
    // includes these bytes); the decoded copy drives code generation.
    let fds = prost_build::Config::new()
        .file_descriptor_set_path(out_dir.join("causeway_descriptor.bin"))
        .load_fds(
            &[LOG_PROTO, ISSUER_PROTO, records.as_str()],
            &["proto", RECORDS_INCLUDE],
        )?;

    let mut builder = tonic_prost_build::configure();
    let records_file = fds
        .file
        .iter()
        .find(|f| f.name() == RECORDS_PROTO)
        .ok_or("records.proto is missing from the descriptor set")?;
    let package = records_file.package();
    let names = records_file
        .message_type
        .iter()
        .map(|m| m.name())
        .chain(records_file.enum_type.iter().map(|e| e.name()));
    for name in names {
        builder = builder.extern_path(
            format!(".{package}.{name}"),
            format!("::causeway_records::v1::{name}"),
        );
    }
    builder.compile_fds(fds)?;
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed={RECORDS_INCLUDE}");
    Ok(())
}
