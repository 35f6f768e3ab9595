//! Generates the record messages of `proto/causeway/v1/records.proto`
//! (package `causeway.v1`) with prost: messages only, no gRPC.
//!
//! `protoc` comes from `protoc-bin-vendored` unless `PROTOC` is set, so a
//! fresh machine needs no system protobuf compiler.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("PROTOC").is_none() {
        let protoc = protoc_bin_vendored::protoc_bin_path()?;
        // SAFETY: build scripts are single-threaded; nothing else reads the
        // environment concurrently.
        unsafe { std::env::set_var("PROTOC", protoc) };
    }
    prost_build::Config::new().compile_protos(&["proto/causeway/v1/records.proto"], &["proto"])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
