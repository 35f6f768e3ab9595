//! The fast upstream of `causeway-gate-bench`: an MCP server with one
//! `echo` tool, answering with its `message` argument as text.
//!
//! It exists so that the bench measures the gate rather than its
//! upstream: npm's `server-everything` costs about as much CPU per call as
//! the gate itself. It is served with the same `rmcp` transports as the
//! gate (stdio, and Streamable HTTP with the same server config), so
//! direct and gated calls go through the same server code.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
    ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt as _};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The one tool's name.
pub const TOOL: &str = "echo";

/// The server: stateless, so one value serves every session.
#[derive(Clone, Copy, Debug, Default)]
pub struct Echo;

fn tool() -> Tool {
    let schema = json!({
        "type": "object",
        "properties": {"message": {"type": "string", "description": "What to echo back"}},
        "required": ["message"],
    });
    let schema: JsonObject = match schema {
        Value::Object(o) => o,
        _ => JsonObject::new(),
    };
    Tool::new(
        TOOL,
        "Returns its message argument as text",
        Arc::new(schema),
    )
}

impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "causeway-echo-mcp",
                env!("CARGO_PKG_VERSION"),
            ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(vec![tool()]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name != TOOL {
            return Err(ErrorData::invalid_params(
                format!("no tool {:?}; the only one is {TOOL:?}", request.name),
                None,
            ));
        }
        let message = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("message"))
            .and_then(Value::as_str)
            .ok_or_else(|| ErrorData::invalid_params("echo needs a string `message`", None))?;
        Ok(CallToolResult::success(vec![ContentBlock::text(message)]).into())
    }
}

/// Serves one session on stdin/stdout until the client disconnects.
///
/// # Errors
/// When the client does not complete the MCP handshake.
pub async fn serve_stdio() -> anyhow::Result<()> {
    let service = Echo
        .serve(rmcp::transport::stdio())
        .await
        .context("the client did not complete the MCP handshake on stdin")?;
    service.waiting().await.context("serving stdio")?;
    Ok(())
}

/// Serves Streamable HTTP at `/mcp` on `listener` until `shutdown`
/// completes.
///
/// # Errors
/// When serving fails.
pub async fn serve_http(
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // As in the gate: a response is an SSE stream in several small writes,
    // and Nagle's algorithm would hold each later one for the client's
    // delayed ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            eprintln!("causeway-echo-mcp: cannot set TCP_NODELAY: {e}");
        }
    });
    let stop = CancellationToken::new();
    let service = StreamableHttpService::new(
        || Ok(Echo),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default().with_cancellation_token(stop.child_token()),
    );
    let router = axum::Router::new().route_service("/mcp", service);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            stop.cancel();
        })
        .await
        .context("serving HTTP")
}
