//! The MCP server the agent talks to: `tools/list` shows the tools the
//! session's scope allows, `tools/call` goes through [`Gate::call`].
//! Nothing else is offered: resources and prompts of the upstreams would
//! be actions the log never sees.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, InitializeResult, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::gate::{Gate, Slot};

/// One agent connection's handler, bound to a session slot.
#[derive(Clone)]
pub struct Handler {
    gate: Arc<Gate>,
    slot: Arc<Slot>,
}

impl Handler {
    /// A handler for connections to `slot`'s session.
    pub fn new(gate: Arc<Gate>, slot: Arc<Slot>) -> Handler {
        Handler { gate, slot }
    }
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "causeway-gate",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "Every tool call is recorded in a transparency log under your credential before \
                 it is forwarded; calls outside the credential's scope are refused and recorded.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let session = self.gate.session(&self.slot).await?;
        Ok(ListToolsResult::with_all_items(
            self.gate.tools_for(&session),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let session = self.gate.session(&self.slot).await?;
        self.gate.call(&session, request).await.map(Into::into)
    }
}
