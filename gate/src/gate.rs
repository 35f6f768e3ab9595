//! Log, then act: every tool call in scope is signed as an `action` with
//! the session key and forwarded only once the log has acknowledged it;
//! its return is recorded as an `outcome`. A call the gate refuses gets an
//! MCP error saying why and an `exception` signed by the gate's own key.

use std::sync::Arc;

use causeway_client::LogTarget;
use causeway_client::issuer::IssuerClient;
use causeway_records::{
    Action, ClosureReason, Envelope, Exception, Outcome, OutcomeStatus, ProducerKey, Record,
    RecordRef,
};
use rmcp::ErrorData;
use rmcp::model::{CallToolRequestParams, CallToolResult, ErrorCode, Tool};
use serde_json::{Map, Value, json};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Delegate, IssueRequest, OnViolation, Service, SessionSource};
use crate::mapping::{call_digest, digest, digest_of};
use crate::recorder::{Recorder, WriteError};
use crate::session::{Ended, Session, now};
use crate::upstream::{Offered, Returned, Upstreams};

/// The JSON-RPC error code of every call the gate refuses; `data.refused`
/// says which rule refused it.
pub const REFUSED: ErrorCode = ErrorCode(-32001);

/// Where a connection's session comes from: the root session, or a
/// delegate's, asked of the issuer on first use.
pub struct Slot {
    cell: OnceCell<Arc<Session>>,
    delegate: Option<Delegate>,
}

impl Slot {
    /// The root session's slot.
    pub fn root(session: Arc<Session>) -> Slot {
        Slot {
            cell: OnceCell::new_with(Some(session)),
            delegate: None,
        }
    }

    /// A delegate's slot, empty until its first connection.
    pub fn delegate(d: Delegate) -> Slot {
        Slot {
            cell: OnceCell::new(),
            delegate: Some(d),
        }
    }

    /// The session, if it was started.
    pub fn started(&self) -> Option<&Arc<Session>> {
        self.cell.get()
    }
}

/// The gate: its keys, the log, the issuer, the upstreams and the sessions.
pub struct Gate {
    gate_key: ProducerKey,
    on_violation: OnViolation,
    log: LogTarget,
    issuer: Option<Service>,
    recorder: Recorder,
    upstreams: Upstreams,
    root: Arc<Slot>,
    /// The delegates' slots, by name.
    pub delegates: Vec<(String, Arc<Slot>)>,
    /// Cancelled when the gate must stop (its root credential was revoked).
    pub shutdown: CancellationToken,
}

/// A refusal: the MCP error the agent gets, and the exception's reason.
struct Refusal {
    rule: &'static str,
    message: String,
}

fn refusal(rule: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        rule,
        message: message.into(),
    }
}

impl Gate {
    /// Connects to the log and the upstreams and starts the root session.
    ///
    /// # Errors
    /// Whatever stops the gate from working: an unreachable log, issuer or
    /// upstream, a credential the issuer refuses.
    pub async fn start(config: Config) -> anyhow::Result<Arc<Gate>> {
        let log = LogTarget {
            url: config.log.url.clone(),
            tls: config.log.tls.clone(),
        };
        let recorder = Recorder::connect(log.clone()).await?;
        let root = match config.session {
            SessionSource::Issue(request) => {
                let issuer = config.issuer.as_ref().ok_or_else(|| {
                    anyhow::anyhow!("a credential from the issuer needs [issuer]")
                })?;
                Session::issue("root", issuer, &log, &request, None).await?
            }
            SessionSource::PreIssued { credential, key } => {
                Session::pre_issued("root", &log, credential, key).await?
            }
        };
        let upstreams = Upstreams::connect(&config.upstreams, &config.tools).await?;
        let gate = Arc::new(Gate {
            gate_key: config.gate_key,
            on_violation: config.on_violation,
            log,
            issuer: config.issuer,
            recorder,
            upstreams,
            root: Arc::new(Slot::root(Arc::new(root))),
            delegates: config
                .delegates
                .into_iter()
                .map(|d| (d.name.clone(), Arc::new(Slot::delegate(d))))
                .collect(),
            shutdown: CancellationToken::new(),
        });
        if let Some(s) = gate.root.started() {
            gate.clone().watch_expiry(s.clone());
        }
        Ok(gate)
    }

    /// The root session's slot.
    pub fn root(&self) -> &Arc<Slot> {
        &self.root
    }

    /// The root session.
    pub fn root_session(&self) -> Option<&Arc<Session>> {
        self.root.started()
    }

    /// The session behind `slot`, starting a delegate's on first use.
    ///
    /// # Errors
    /// When the issuer refuses the delegated credential.
    pub async fn session(self: &Arc<Self>, slot: &Slot) -> Result<Arc<Session>, ErrorData> {
        slot.cell
            .get_or_try_init(|| async {
                let d = slot.delegate.as_ref().ok_or_else(|| {
                    ErrorData::internal_error("the root session did not start", None)
                })?;
                self.start_delegate(d).await.map_err(|e| {
                    ErrorData::new(
                        REFUSED,
                        format!("the delegated session {:?} could not start: {e:#}", d.name),
                        Some(json!({"refused": "delegation"})),
                    )
                })
            })
            .await
            .cloned()
    }

    async fn start_delegate(self: &Arc<Self>, d: &Delegate) -> anyhow::Result<Arc<Session>> {
        let root = self
            .root_session()
            .ok_or_else(|| anyhow::anyhow!("no root session"))?;
        if let Some(ended) = root.ended() {
            anyhow::bail!("the parent session is over: {ended}");
        }
        let issuer = self
            .issuer
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("delegation needs [issuer]"))?;
        // The delegated credential is bound to the parent's authorization
        // and pre-flight, which the parent's credential names.
        let parent = crate::session::credential_record(&self.log, root.credential).await?;
        let request = IssueRequest {
            authorization: parent.authorization.hash(),
            preflight: parent
                .preflight
                .map(|p| p.hash())
                .ok_or_else(|| anyhow::anyhow!("the parent credential names no pre-flight"))?,
            agent: (d.agent.clone(), String::new(), String::new()),
            scope: causeway_records::Scope {
                change_class: root.scope.change_class.clone(),
                ..d.scope.clone()
            },
            ttl_seconds: d.ttl_seconds,
        };
        let session = Arc::new(
            Session::issue(&d.name, issuer, &self.log, &request, Some(root.credential)).await?,
        );
        self.clone().watch_expiry(session.clone());
        tracing::info!(
            "delegated session {:?} started under credential {}",
            d.name,
            session.credential
        );
        Ok(session)
    }

    /// The tools `session`'s scope lets it call; the others stay hidden.
    pub fn tools_for(&self, session: &Session) -> Vec<Tool> {
        self.upstreams
            .order
            .iter()
            .filter_map(|name| self.upstreams.tools.get(name))
            .filter(|o| session.scope.allows_operation(&o.map.action))
            .map(|o| o.tool.clone())
            .collect()
    }

    /// Handles one `tools/call` under `session`.
    ///
    /// # Errors
    /// A refusal ([`REFUSED`]) that says what was refused and why, or the
    /// upstream's own error.
    pub async fn call(
        self: &Arc<Self>,
        session: &Arc<Session>,
        params: CallToolRequestParams,
    ) -> Result<CallToolResult, ErrorData> {
        let name = params.name.to_string();
        let arguments = params.arguments.clone().unwrap_or_default();
        match self.admit(session, &name, &arguments).await {
            Ok((offered, entry)) => {
                let ack = match self.recorder.write(entry).await {
                    Ok(ack) => ack,
                    Err(e) => return Err(self.log_refused(session, &name, &arguments, e).await),
                };
                session.count_action();
                let returned = self.upstreams.call(offered, params).await;
                let (status, result_digest, error, answer) = match returned {
                    Ok(Returned::Result(r)) => {
                        let error = r.is_error.unwrap_or(false);
                        let d = digest_of(&r);
                        let status = if error {
                            OutcomeStatus::Error
                        } else {
                            OutcomeStatus::Ok
                        };
                        let class = error.then(|| "tool_error".to_owned());
                        (status, d, class, Ok(r))
                    }
                    Ok(Returned::Error(e)) => {
                        let d = digest_of(&e);
                        let class = format!("jsonrpc_{}", e.code.0);
                        (OutcomeStatus::Error, d, Some(class), Err(e))
                    }
                    Err(e) => {
                        let e = ErrorData::internal_error(
                            format!("upstream {:?} is gone: {e}", offered.map.upstream),
                            None,
                        );
                        let d = digest_of(&e);
                        (
                            OutcomeStatus::Error,
                            d,
                            Some("upstream_gone".into()),
                            Err(e),
                        )
                    }
                };
                match now() {
                    Ok(time) => {
                        let outcome = Record::Outcome(Outcome {
                            action: RecordRef::new(ack.leaf_hash),
                            credential: RecordRef::new(session.credential),
                            status,
                            result_digest,
                            error,
                            time,
                        });
                        self.recorder.write_later(
                            session.sign(&outcome),
                            format!("the outcome of action {}", ack.index),
                        );
                    }
                    Err(e) => tracing::error!("the outcome of action {}: {e}", ack.index),
                }
                answer
            }
            Err(r) => Err(self.refuse(session, &name, &arguments, r).await),
        }
    }

    /// The checks before a call is recorded; on success the tool and the
    /// signed action to write.
    async fn admit(
        self: &Arc<Self>,
        session: &Arc<Session>,
        name: &str,
        arguments: &Map<String, Value>,
    ) -> Result<(&Offered, Vec<u8>), Refusal> {
        if let Some(ended) = session.ended() {
            let rule = match ended {
                Ended::Revoked(_) => "revoked",
                Ended::Expired => "expired",
                Ended::Closed => "closed",
            };
            return Err(refusal(
                rule,
                format!("call {name:?} refused: {ended}; ask your human for a new approval"),
            ));
        }
        let time = now().map_err(|e| refusal("clock", e.to_string()))?;
        if session.expired_at(time) {
            self.expire(session).await;
            return Err(refusal(
                "expired",
                format!(
                    "call {name:?} refused: the credential expired at {}; ask for a new one",
                    session.expires_at
                ),
            ));
        }
        let Some(offered) = self.upstreams.tools.get(name) else {
            return Err(refusal(
                "unknown_tool",
                format!("call {name:?} refused: no upstream offers a tool of that name"),
            ));
        };
        let map = &offered.map;
        if !session.scope.allows_operation(&map.action) {
            return Err(refusal(
                "out_of_scope",
                format!(
                    "call {name:?} refused: operation {:?} matches none of the credential's \
                     scope.actions {:?}",
                    map.action, session.scope.actions
                ),
            ));
        }
        let target = map.target.target(arguments).map_err(|e| {
            refusal(
                "no_target",
                format!("call {name:?} refused: {e}; the tool's [[tool]] target names it"),
            )
        })?;
        if !session.scope.allows_target(&target) {
            return Err(refusal(
                "out_of_scope",
                format!(
                    "call {name:?} refused: target {target:?} is not one of the credential's \
                     scope.targets {:?}",
                    session.scope.targets
                ),
            ));
        }
        let action = Record::Action(Action {
            credential: RecordRef::new(session.credential),
            seq: session.next_seq(),
            tool: name.to_owned(),
            target,
            summary: map.summary(arguments),
            digest: digest(&Value::Object(arguments.clone())),
            result: "forwarded".to_owned(),
            time,
            operation: Some(map.action.clone()),
        });
        Ok((offered, session.sign(&action)))
    }

    /// The log did not acknowledge a call's action: the call is not
    /// forwarded. A refusal for revocation or expiry ends the session.
    async fn log_refused(
        self: &Arc<Self>,
        session: &Arc<Session>,
        name: &str,
        arguments: &Map<String, Value>,
        e: WriteError,
    ) -> ErrorData {
        match &e {
            // The log refuses a session key's well-formed action with
            // PERMISSION_DENIED only once the credential has ended: expired
            // (judged on the gate's clock, as the log judges on its own), or
            // revoked or closed. Either way the session is over.
            WriteError::Refused {
                code: tonic::Code::PermissionDenied,
                message,
            } => {
                let r = if now().is_ok_and(|t| session.expired_at(t)) {
                    self.expire(session).await;
                    refusal("expired", format!("call {name:?} refused: {message}"))
                } else {
                    session.end(Ended::Revoked(message.clone()));
                    refusal(
                        "revoked",
                        format!("call {name:?} refused: the log refuses the credential: {message}"),
                    )
                };
                self.refuse(session, name, arguments, r).await
            }
            // Busy or restarting: worth a retry.
            WriteError::Unreachable(_)
            | WriteError::Refused {
                code: tonic::Code::Unavailable | tonic::Code::ResourceExhausted,
                ..
            } => ErrorData::new(
                REFUSED,
                format!(
                    "call {name:?} was not forwarded: the log did not record it ({e}); no tool \
                     call happens unrecorded, retry when the log is reachable"
                ),
                Some(json!({"refused": "log_unavailable"})),
            ),
            // The log judged the record and said no (e.g. its producer
            // policy no longer trusts the issuer): a retry gets the same.
            WriteError::Refused { .. } => ErrorData::new(
                REFUSED,
                format!(
                    "call {name:?} was not forwarded: {e}; no tool call happens unrecorded, and \
                     retrying will not help: ask the gate's operator to check the log's producer \
                     policy and the session's credential"
                ),
                Some(json!({"refused": "log_refused"})),
            ),
            // The log answered for another leaf than the one sent: a log
            // that misbehaves is not a log to act on.
            WriteError::WrongAck { .. } => ErrorData::new(
                REFUSED,
                format!("call {name:?} was not forwarded: {e}; report this to the log's operator"),
                Some(json!({"refused": "log_wrong_ack"})),
            ),
        }
    }

    /// Refuses a call: the exception (signed by the gate), then, under
    /// `on_violation = "revoke"`, the revocation; the MCP error says what
    /// happened.
    async fn refuse(
        self: &Arc<Self>,
        session: &Arc<Session>,
        name: &str,
        arguments: &Map<String, Value>,
        r: Refusal,
    ) -> ErrorData {
        let call = call_digest(name, arguments);
        let exception = match now() {
            Ok(time) => {
                let record = Record::Exception(Exception {
                    credential: RecordRef::new(session.credential),
                    action: None,
                    reason: format!("causeway-gate refused a call ({}): {}", r.rule, r.message),
                    revoked: false,
                    call_digest: Some(call.clone()),
                    time,
                });
                let entry = Envelope::sign(&record, &self.gate_key).encode();
                match self.recorder.write(entry).await {
                    Ok(ack) => Some(ack),
                    Err(e) => {
                        tracing::error!("the exception for refused call {name:?}: {e}");
                        None
                    }
                }
            }
            Err(_) => None,
        };
        let violation = matches!(r.rule, "out_of_scope" | "unknown_tool" | "no_target");
        let mut message = r.message.clone();
        let mut revoked = false;
        if violation && self.on_violation == OnViolation::Revoke {
            match self.revoke(session, &r.message).await {
                Ok(()) => {
                    revoked = true;
                    message.push_str("; the gate revoked the credential and ended the session");
                }
                Err(e) => tracing::error!("revoking after a violation: {e:#}"),
            }
        }
        ErrorData::new(
            REFUSED,
            message,
            Some(json!({
                "refused": r.rule,
                "call_digest": call,
                "exception": exception.map(|a| json!({"index": a.index, "leaf_hash": a.leaf_hash.to_hex()})),
                "revoked": revoked,
            })),
        )
    }

    /// Revokes `session`'s credential through the issuer and ends the
    /// session (the whole gate for the root). The revocation is the
    /// session's end: the log takes nothing more under the credential.
    async fn revoke(self: &Arc<Self>, session: &Arc<Session>, reason: &str) -> anyhow::Result<()> {
        let issuer = self
            .issuer
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no [issuer]"))?;
        let mut client = IssuerClient::connect(&issuer.url, &issuer.tls).await?;
        session.end(Ended::Revoked(reason.to_owned()));
        // Outcomes of calls already forwarded go in before the revocation,
        // after which the log takes nothing under the credential.
        self.recorder.drain().await;
        client
            .revoke(
                session.credential,
                &format!("causeway-gate: policy violation: {reason}"),
            )
            .await?;
        if session.name == "root" {
            self.shutdown.cancel();
        }
        Ok(())
    }

    /// Ends an expired session with an `expired` closure (once).
    async fn expire(self: &Arc<Self>, session: &Arc<Session>) {
        if session.end(Ended::Expired) {
            self.recorder.drain().await;
            match session.closure(ClosureReason::Expired) {
                Ok(entry) => {
                    if let Err(e) = self.recorder.write(entry).await {
                        tracing::error!("the closure of expired session {:?}: {e}", session.name);
                    }
                }
                Err(e) => tracing::error!("{e:#}"),
            }
        }
    }

    fn watch_expiry(self: Arc<Self>, session: Arc<Session>) {
        tokio::spawn(async move {
            let left = session.expires_at.seconds() - jiff::Timestamp::now().as_second();
            let left = std::time::Duration::from_secs(u64::try_from(left.max(0)).unwrap_or(0));
            tokio::select! {
                () = tokio::time::sleep(left) => {}
                () = self.shutdown.cancelled() => return,
            }
            self.expire(&session).await;
        });
    }

    /// Ends every open session with a voluntary closure, after the
    /// outcomes still being written: the agent went away.
    pub async fn close_all(&self) {
        self.recorder.drain().await;
        // Delegates first: closing the root ends its whole lineage, after
        // which the log would refuse the delegates' closures.
        let sessions = self
            .delegates
            .iter()
            .map(|(_, s)| s)
            .chain(std::iter::once(&self.root))
            .filter_map(|slot| slot.started().cloned());
        for session in sessions {
            if !session.end(Ended::Closed) {
                continue;
            }
            match session.closure(ClosureReason::Voluntary) {
                Ok(entry) => match self.recorder.write(entry).await {
                    Ok(ack) => tracing::info!(
                        "session {:?} closed: closure at index {}",
                        session.name,
                        ack.index
                    ),
                    Err(e) => tracing::error!("the closure of session {:?}: {e}", session.name),
                },
                Err(e) => tracing::error!("{e:#}"),
            }
        }
    }
}
