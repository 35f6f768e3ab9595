//! `causeway-issuer`: just-in-time agent credentials bound to an approval
//! in the log (issue 19 §3). See `config` for the config file, `service`
//! for the checks, `state` and `session` for idempotence across crashes.

#![forbid(unsafe_code)]

mod caller;
mod config;
mod logview;
mod service;
mod session;
mod state;

use std::path::PathBuf;

use anyhow::Context as _;
use causeway_api::v1::issuer_server::IssuerServer;
use clap::Parser;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// Issues just-in-time agent credentials bound to a human authorization in
/// the Causeway log.
///
/// Before writing a credential it checks that the authorization is in the
/// log (inclusion proven against a checkpoint verified with the log's
/// keys), was signed by a human principal and is inside its window; that a
/// passing issuance pre-flight of it exists with no later block; that the
/// scope and lifetime are within the authorization's (and the parent's);
/// and that the agent holds no live credential of another authorization.
/// Callers authenticate with mutual TLS; the config's [[caller]] tables say
/// which client certificates may request which agent ids.
///
/// On start it prints `causeway-issuer ready grpc=ADDR` on stdout.
#[derive(Parser)]
#[command(name = "causeway-issuer", version)]
struct Args {
    /// The config file (TOML): listen, log_url, log_vkeys, policy,
    /// issuer_key, max_ttl, state_dir, [tls] and [[caller]] tables.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = config::Config::load(&args.config)?;
    let secret = session::Secret::load_or_create(&config.state_dir)?;
    let state = state::State::open(&config.state_dir)?;
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(&config.tls_cert, &config.tls_key))
        .client_ca_root(Certificate::from_pem(&config.client_ca));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let service = service::IssuerService::new(config, secret, state);

    // Both reflection versions, as the log serves them: grpcurl speaks v1,
    // older tools v1alpha.
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(causeway_api::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(causeway_api::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<IssuerServer<service::IssuerService>>()
        .await;

    println!("causeway-issuer ready grpc={addr}");
    tonic::transport::Server::builder()
        .tls_config(tls)
        .context("the [tls] certificate, key or client CA")?
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(IssuerServer::new(service))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        )
        .await
        .context("serving")?;
    Ok(())
}
