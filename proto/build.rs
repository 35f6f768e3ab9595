//! Generates the gRPC code for `proto/causeway/v1/log.proto` and the record
//! messages of `proto/causeway/v1/records.proto` (both package `causeway.v1`,
//! one descriptor set).
//!
//! `protoc` comes from `protoc-bin-vendored` unless `PROTOC` is set, so a
//! fresh machine needs no system protobuf compiler.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("PROTOC").is_none() {
        let protoc = protoc_bin_vendored::protoc_bin_path()?;
        // SAFETY: build scripts are single-threaded; nothing else reads the
        // environment concurrently.
        unsafe { std::env::set_var("PROTOC", protoc) };
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("causeway_descriptor.bin"))
        .compile_protos(
            &[
                "proto/causeway/v1/log.proto",
                "proto/causeway/v1/records.proto",
            ],
            &["proto"],
        )?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
