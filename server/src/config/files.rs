//! The files and directories the options name, read and checked once
//! before anything starts, with one line per problem.

use std::path::Path;

use causeway_records::ProducerPolicy;
use causeway_rfc3161::TrustedRoots;

use super::RunArgs;
use crate::api::tls::{self, ClientAuth, Protocol, TlsFiles};
use crate::telemetry::error_chain;

/// What the options' files hold.
pub(super) struct Files {
    /// The producer policy of `--policy`.
    pub policy: Option<ProducerPolicy>,
    /// The TSA roots of `--tsa-roots`.
    pub tsa_roots: Option<TrustedRoots>,
    /// The TLS files, checked to load.
    pub tls: Option<TlsFiles>,
    /// TLS to PostgreSQL (`--storage-ca`).
    pub storage_tls: Option<rustls::ClientConfig>,
}

/// The producer policy in `path`, or the line saying why not.
fn load_policy(path: &Path) -> Result<ProducerPolicy, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--policy {}: cannot read it: {e}", path.display()))?;
    // JWKS files an [[idp]] names are relative to the policy file.
    let dir = path.parent().unwrap_or(Path::new("."));
    ProducerPolicy::parse_with_files(&text, &mut |name| {
        std::fs::read_to_string(dir.join(name)).map_err(|e| e.to_string())
    })
    .map_err(|e| format!("--policy {}: {}", path.display(), error_chain(&e)))
}

/// The TSA roots in `path` (PEM or one DER certificate), or the line
/// saying why not.
fn load_roots(path: &Path) -> Result<TrustedRoots, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("--tsa-roots {}: cannot read it: {e}", path.display()))?;
    TrustedRoots::from_pem_or_der(&bytes)
        .map_err(|e| format!("--tsa-roots {}: {}", path.display(), error_chain(&e)))
}

/// Reads and checks the files and directories the options name, and the
/// options whose problems are best reported with them; returns one line
/// per problem.
pub(super) fn load(args: &RunArgs) -> Result<Files, Vec<String>> {
    let mut problems = Vec::new();
    if !args.dev {
        let d = &args.data_dir;
        if d.exists() && !d.is_dir() {
            problems.push(format!("--data-dir {}: not a directory", d.display()));
        } else if d.is_dir()
            && let Err(e) = std::fs::read_dir(d)
        {
            problems.push(format!("--data-dir {}: cannot read it: {e}", d.display()));
        }
    }
    let policy = args
        .policy
        .as_deref()
        .map(load_policy)
        .transpose()
        .unwrap_or_else(|e| {
            problems.push(e);
            None
        });
    let tsa_roots = args
        .tsa_roots
        .as_deref()
        .map(load_roots)
        .transpose()
        .unwrap_or_else(|e| {
            problems.push(e);
            None
        });
    if let Some(p) = &args.tsa_policy
        && let Err(e) = causeway_rfc3161::validate_policy(p)
    {
        problems.push(format!("--tsa-policy: {e}"));
    }
    let postgres =
        args.storage.starts_with("postgres://") || args.storage.starts_with("postgresql://");
    if args.storage != "rocksdb" && !postgres {
        problems.push(format!(
            "--storage {:?}: use rocksdb or a PostgreSQL URL like postgres://user:password@127.0.0.1:5432/causeway",
            args.storage
        ));
    }
    let storage_tls = match &args.storage_ca {
        Some(_) if !postgres => {
            problems.push("--storage-ca applies to --storage postgres://…".into());
            None
        }
        Some(ca) => match tls::client_config("--storage-ca", ca) {
            Ok(c) => Some(c),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        },
        None => None,
    };
    if args.ha && args.storage == "rocksdb" {
        problems.push("--ha needs a store the instances share: --storage postgres://…".into());
    }
    if args.ha && args.dev {
        problems.push("--dev runs one instance; drop --ha".into());
    }
    if args.ha && args.ha_lease < std::time::Duration::from_millis(300) {
        problems.push(format!(
            "--ha-lease {:?}: at least 300ms (it is renewed every third of it)",
            args.ha_lease
        ));
    }
    if !(0.0..=1.0).contains(&args.trace_ratio) {
        problems.push(format!(
            "--trace-ratio {}: must be between 0 and 1",
            args.trace_ratio
        ));
    }
    if let Some(url) = &args.otlp_endpoint
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        problems.push(format!(
            "--otlp-endpoint {url:?}: must be an http:// or https:// URL of an OTLP/gRPC collector, e.g. http://127.0.0.1:4317"
        ));
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let files = TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: args.tls_client_ca.clone(),
                client_auth: if args.tls_client_auth == "required" {
                    ClientAuth::Required
                } else {
                    ClientAuth::Writes
                },
            };
            match tls::server_config(&files, Protocol::Grpc) {
                Ok(_) => Some(files),
                Err(e) => {
                    problems.push(e.to_string());
                    None
                }
            }
        }
        _ => None,
    };
    if problems.is_empty() {
        Ok(Files {
            policy,
            tsa_roots,
            tls,
            storage_tls,
        })
    } else {
        Err(problems)
    }
}
