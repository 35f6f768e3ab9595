//! `causeway-gate`: an MCP gateway that records every agent tool call in
//! the log, under the agent's own credential, before forwarding it to the
//! real tool server. The session key stays in the gate, so the agent can
//! neither skip a record nor forge one.

#![forbid(unsafe_code)]

mod config;
mod gate;
mod handler;
mod mapping;
mod recorder;
mod session;
mod upstream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use clap::Parser;
use rmcp::ServiceExt as _;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::gate::{Gate, Slot};
use crate::handler::Handler;

/// An MCP gateway that writes every agent tool call to a Causeway log,
/// signed with the agent's session key, before forwarding it.
///
/// Run it as the agent's MCP server: the agent host starts
/// `causeway-gate --config gate.toml` (stdio), or the agent connects to
/// `--http ADDR` (Streamable HTTP at /mcp; sub-agents at /mcp/<delegate>).
/// At start the gate obtains the session's credential (from the issuer,
/// or pre-issued), connects to the upstream servers and lists their
/// tools. Each call in scope is recorded as an `action` and forwarded only
/// once the log acknowledged it; its return is recorded as an `outcome`;
/// a call out of scope is refused with an MCP error and recorded as an
/// `exception`. When the agent disconnects (stdio) or the gate is stopped
/// (SIGINT/SIGTERM), each session is closed with a `closure`.
///
/// Arguments are never logged in clear, only their SHA-256 digest and the
/// summary fields the config lists; tool results are not logged at all.
#[derive(Parser, Debug)]
#[command(name = "causeway-gate", version)]
struct Args {
    /// The gate config (TOML); see the README's "Putting an agent behind
    /// the gate".
    #[arg(long)]
    config: PathBuf,
    /// Serve Streamable HTTP on this address (e.g. 127.0.0.1:7430; port 0
    /// picks one and prints it) instead of stdio.
    #[arg(long)]
    http: Option<SocketAddr>,
    /// Also serve stdio when --http is given.
    #[arg(long)]
    stdio: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // stdout is the MCP channel in stdio mode: logs go to stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "causeway_gate=info,rmcp=warn".into()),
        )
        .init();
    let config = config::Config::load(&args.config)?;
    let gate = Gate::start(config).await?;
    if let Some(root) = gate.root_session() {
        eprintln!(
            "causeway-gate: session credential {} for {} (expires {})",
            root.credential, root.agent, root.expires_at
        );
    }
    let stop = CancellationToken::new();
    let http = args
        .http
        .map(|addr| tokio::spawn(serve_http(gate.clone(), addr, stop.clone())));
    if http.is_none() || args.stdio {
        serve_stdio(gate.clone()).await?;
    } else {
        tokio::select! {
            () = gate.shutdown.cancelled() => {}
            r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
            () = terminated() => {}
        }
    }
    stop.cancel();
    if let Some(h) = http {
        h.await.context("the HTTP server")??;
    }
    gate.close_all().await;
    Ok(())
}

async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

/// Serves the root session on stdin/stdout until the agent disconnects or
/// the session is revoked.
async fn serve_stdio(gate: Arc<Gate>) -> anyhow::Result<()> {
    let handler = Handler::new(gate.clone(), gate.root().clone());
    let service = handler
        .serve(rmcp::transport::stdio())
        .await
        .context("the agent did not complete the MCP handshake on stdin")?;
    let token = service.cancellation_token();
    let shutdown = gate.shutdown.clone();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        token.cancel();
    });
    service.waiting().await.context("serving stdio")?;
    Ok(())
}

/// Serves Streamable HTTP: the root session at `/mcp`, each delegate's at
/// `/mcp/<name>`.
async fn serve_http(
    gate: Arc<Gate>,
    addr: SocketAddr,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    // A response is an SSE stream written in several small pieces; with
    // Nagle's algorithm each later piece waits for the agent's delayed ACK,
    // which added about 25 ms to every call.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!("cannot set TCP_NODELAY on an agent's connection: {e}");
        }
    });
    let mcp = CancellationToken::new();
    let service = |slot: Arc<Slot>| {
        let gate = gate.clone();
        StreamableHttpService::new(
            move || Ok(Handler::new(gate.clone(), slot.clone())),
            LocalSessionManager::default().into(),
            StreamableHttpServerConfig::default().with_cancellation_token(mcp.child_token()),
        )
    };
    let mut router = axum::Router::new().route_service("/mcp", service(gate.root().clone()));
    for (name, slot) in &gate.delegates {
        router = router.route_service(&format!("/mcp/{name}"), service(slot.clone()));
        eprintln!("causeway-gate: delegate {name:?} at http://{local}/mcp/{name}");
    }
    eprintln!("causeway-gate: listening on http://{local}/mcp");
    let shutdown = gate.shutdown.clone();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = shutdown.cancelled() => {}
            }
            mcp.cancel();
        })
        .await
        .context("serving HTTP")
}
