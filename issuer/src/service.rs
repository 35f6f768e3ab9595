//! The `causeway.v1.Issuer` service: every check before anything is
//! written, then the record, signed and acknowledged.

use causeway_api::v1;
use causeway_api::v1::issuer_server::Issuer;
use causeway_client::LogClient;
use causeway_records::{
    Agent, Closure, ClosureReason, Credential, Envelope, Exception, Kind, PreflightVerdict,
    ProducerKey, Record, RecordRef, Role, Scope, Stage, Time,
};
use causeway_tlog::merkle::Hash;
use serde_json::json;
use tonic::{Request, Response, Status};

use crate::caller;
use crate::config::{Config, glob_match};
use crate::logview::{LogView, Seen, log_status, submit};
use crate::session::Secret;
use crate::state::{Issued, State, params_digest};

/// The test hook documented in the README: abort (as a `kill -9` would
/// stop it) right after the state write and before the log is asked.
pub const CRASH_AFTER_STATE: &str = "CAUSEWAY_ISSUER_CRASH_AFTER_STATE";

/// The service.
pub struct IssuerService {
    config: Config,
    secret: Secret,
    state: State,
    /// One issuance at a time, so that the agent-overlap check and the
    /// write it guards cannot interleave with another's.
    issuing: tokio::sync::Mutex<()>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Now to the millisecond, as records carry it. Whole seconds would date
/// a credential before a pre-flight made earlier in the same second, and
/// the auditor would rightly say the pre-flight came after issuance.
fn precise_now() -> Result<Time, Status> {
    causeway_client::clock::record_time_now().map_err(|e| Status::internal(e.to_string()))
}

fn time(secs: i64) -> Result<Time, Status> {
    Time::new(secs, 0).map_err(|e| Status::invalid_argument(e.to_string()))
}

fn reference(field: &str, bytes: &[u8]) -> Result<Hash, Status> {
    Hash::try_from(bytes).map_err(|_| {
        Status::invalid_argument(format!(
            "{field} must be a 32-byte leaf hash of a log entry, got {} bytes",
            bytes.len()
        ))
    })
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

/// The policy principal that signed `seen`, with its signature verified.
fn signer_role(config: &Config, seen: &Seen) -> Option<(String, Role)> {
    let keyid = &seen.envelope.signer().ok()?.keyid;
    let (principal, spki) = config.policy.principal_key(keyid)?;
    seen.envelope.verify(spki).ok()?;
    Some((principal.name.clone(), principal.role))
}

/// `wanted` ⊆ `allowed`: the same change class, every target and every
/// action pattern one of `allowed`'s.
fn within(wanted: &Scope, allowed: &Scope, of: &str) -> Result<(), Status> {
    if wanted.change_class != allowed.change_class {
        return Err(Status::permission_denied(format!(
            "scope.change_class {:?} is not {of}'s {:?}",
            wanted.change_class, allowed.change_class
        )));
    }
    for t in &wanted.targets {
        if !allowed.targets.contains(t) {
            return Err(Status::permission_denied(format!(
                "scope.targets {t:?} is not in {of}'s targets {:?}; ask only for approved targets",
                allowed.targets
            )));
        }
    }
    for a in &wanted.actions {
        if !allowed.actions.contains(a) {
            return Err(Status::permission_denied(format!(
                "scope.actions {a:?} is not one of {of}'s actions {:?}; ask only for approved \
                 actions",
                allowed.actions
            )));
        }
    }
    Ok(())
}

/// Whether `credential` was revoked or closed by an entry of the view.
fn ended(view: &LogView, credential: &Hash) -> Option<u64> {
    view.entries
        .iter()
        .find(|s| match &s.record {
            Record::Exception(e) => e.revoked && e.credential == *credential,
            Record::Closure(c) => c.credential == *credential,
            _ => false,
        })
        .map(|s| s.index)
}

impl IssuerService {
    /// Builds the service.
    pub fn new(config: Config, secret: Secret, state: State) -> Self {
        IssuerService {
            config,
            secret,
            state,
            issuing: tokio::sync::Mutex::new(()),
        }
    }

    async fn log(&self) -> Result<LogClient, Status> {
        LogClient::connect_with(&self.config.log_url, &self.config.log_tls)
            .await
            .map_err(|e| log_status(&self.config.log_url, &e))
    }

    /// The caller may request credentials for `agent_id`; returns the
    /// names of its certificate.
    fn allowed<T>(&self, request: &Request<T>, agent_id: &str) -> Result<Vec<String>, Status> {
        let names = caller::names(request)?;
        let ok = self.config.callers.iter().any(|c| {
            names.contains(&c.subject) && c.agents.iter().any(|g| glob_match(g, agent_id))
        });
        if ok {
            Ok(names)
        } else {
            Err(Status::permission_denied(format!(
                "the client certificate ({}) may not act for agent id {agent_id:?}: add a \
                 [[caller]] with its subject and a matching agents glob to the issuer's config",
                names.join(", ")
            )))
        }
    }

    async fn issue(&self, request: Request<v1::IssueRequest>) -> Result<v1::IssueResponse, Status> {
        let agent =
            request.get_ref().agent.clone().ok_or_else(|| {
                Status::invalid_argument("agent is missing: give id, model, version")
            })?;
        if agent.id.trim().is_empty() {
            return Err(Status::invalid_argument(
                "agent.id is empty: name the agent",
            ));
        }
        let mut caller = self.allowed(&request, &agent.id)?;
        caller.sort();
        let req = request.into_inner();
        if req.request_id.is_empty() {
            return Err(Status::invalid_argument(
                "request_id is empty: give a unique id per credential, and reuse it to retry",
            ));
        }
        let auth_hash = reference("authorization", &req.authorization)?;
        let scope_pb = req
            .scope
            .clone()
            .ok_or_else(|| Status::invalid_argument("scope is missing"))?;
        let scope = Scope {
            change_class: scope_pb.change_class,
            targets: scope_pb.targets,
            actions: scope_pb.actions,
        };
        let parent_hash = if req.parent.is_empty() {
            None
        } else {
            Some(reference("parent", &req.parent)?)
        };
        let params = params_digest(&json!({
            "authorization": hex::encode(&req.authorization),
            "agent": [agent.id, agent.model, agent.version],
            "scope": [scope.change_class, scope.targets, scope.actions],
            "ttl": req.ttl_seconds,
            "parent": hex::encode(&req.parent),
            "preflight": hex::encode(&req.preflight),
            // A request id is the caller's: another certificate reusing it
            // gets ALREADY_EXISTS, never the first caller's session key.
            "caller": caller,
        }));
        let (session, session_der) = self.secret.session_key(&req.request_id).map_err(internal)?;
        let _guard = self.issuing.lock().await;
        let mut client = self.log().await?;

        // A retry: send the recorded entry again.
        if let Some(issued) = self.state.get(&req.request_id).map_err(internal)? {
            if issued.params != params {
                return Err(Status::already_exists(format!(
                    "request_id {:?} was used for a different request or by another caller; use a \
                     new request_id",
                    req.request_id
                )));
            }
            let entry = issued.entry_bytes().map_err(internal)?;
            // Already in the log (an acknowledgement lost to a crash or a
            // broken connection)? Then answer from there: re-sending an
            // entry whose time has fallen behind the log's skew would be
            // refused.
            if let Some(found) = self.already_logged(&mut client, &entry).await? {
                return self.respond(&entry, found, session_der);
            }
            return self
                .send_credential(&mut client, &req.request_id, entry, session_der)
                .await;
        }

        let view =
            LogView::fetch(&mut client, &self.config.log_url, &self.config.log_vkeys).await?;
        let url = &self.config.log_url;
        let now = now();

        // 1. The authorization is in the log, proven.
        let Some(auth_seen) = view.proven(&mut client, url, &auth_hash).await? else {
            return Err(Status::not_found(format!(
                "authorization {auth_hash} is not in the log (size {}): submit it and wait for \
                 its acknowledgement",
                view.checkpoint.size()
            )));
        };
        // 2. An authorization by a human of the policy, in its window.
        let Record::Authorization(auth) = &auth_seen.record else {
            return Err(Status::failed_precondition(format!(
                "{auth_hash} is a {} record, not an authorization",
                auth_seen.record.kind()
            )));
        };
        match signer_role(&self.config, auth_seen) {
            Some((_, Role::Human)) => {}
            other => {
                return Err(Status::failed_precondition(format!(
                    "authorization {auth_hash} is not signed by a human principal of the \
                     producer policy ({}); it must be approved with a human's key",
                    other.map_or("signer unknown".into(), |(n, r)| format!("{n}, role {r}"))
                )));
            }
        }
        if now < auth.not_before.seconds() || now > auth.not_after.seconds() {
            return Err(Status::failed_precondition(format!(
                "now is outside authorization {auth_hash}'s window {}..{}: ask for a new approval",
                auth.not_before, auth.not_after
            )));
        }
        // 3. A passing issuance pre-flight, with no later block.
        if req.preflight.is_empty() {
            return Err(Status::failed_precondition(format!(
                "no pre-flight given: run `causeway preflight --stage issuance` on authorization \
                 {auth_hash} and pass the leaf hash of its pass record"
            )));
        }
        let pre_hash = reference("preflight", &req.preflight)?;
        let Some(pre_seen) = view.proven(&mut client, url, &pre_hash).await? else {
            return Err(Status::not_found(format!(
                "preflight {pre_hash} is not in the log: submit it and wait for its \
                 acknowledgement"
            )));
        };
        let pre_index = pre_seen.index;
        let pre_time = pre_seen.record.record_time();
        match &pre_seen.record {
            Record::Preflight(p)
                if p.subject == auth_hash
                    && p.stage == Stage::Issuance
                    && p.verdict == PreflightVerdict::Pass => {}
            _ => {
                return Err(Status::failed_precondition(format!(
                    "{pre_hash} is not a pass pre-flight at stage issuance of authorization \
                     {auth_hash}: run the issuance pre-flight of this authorization"
                )));
            }
        }
        if !matches!(
            signer_role(&self.config, pre_seen),
            Some((_, Role::Verifier))
        ) {
            return Err(Status::failed_precondition(format!(
                "preflight {pre_hash} is not signed by a verifier principal of the policy"
            )));
        }
        if let Some(block) = view.entries.iter().find(|s| {
            s.index > pre_index
                && matches!(&s.record, Record::Preflight(p)
                    if p.subject == auth_hash && p.verdict == PreflightVerdict::Block)
                && matches!(signer_role(&self.config, s), Some((_, Role::Verifier)))
        }) {
            return Err(Status::failed_precondition(format!(
                "a later pre-flight {} (entry {}) blocks authorization {auth_hash}: fix what it \
                 reports and run the pre-flight again",
                block.hash, block.index
            )));
        }
        // 4. Scope and lifetime within the authorization's (and parent's).
        within(&scope, &auth.scope, "the authorization")?;
        let mut parent = None;
        if let Some(ph) = parent_hash {
            let Some(p_seen) = view.proven(&mut client, url, &ph).await? else {
                return Err(Status::not_found(format!(
                    "parent credential {ph} is not in the log"
                )));
            };
            let Record::Credential(pc) = &p_seen.record else {
                return Err(Status::failed_precondition(format!(
                    "parent {ph} is not a credential"
                )));
            };
            if pc.authorization != auth_hash {
                return Err(Status::failed_precondition(format!(
                    "parent credential {ph} is bound to another authorization"
                )));
            }
            within(&scope, &pc.scope, "the parent credential")?;
            if let Some(at) = ended(&view, &ph) {
                return Err(Status::failed_precondition(format!(
                    "parent credential {ph} was revoked or closed by entry {at}"
                )));
            }
            let Some(parent_request) = self.state.request_of(&ph.to_hex()) else {
                return Err(Status::failed_precondition(format!(
                    "parent credential {ph} was not issued by this issuer, which cannot sign \
                     with its session key; delegate with the parent's own session key"
                )));
            };
            let (pkey, _) = self.secret.session_key(&parent_request).map_err(internal)?;
            parent = Some((ph, pc.expires_at, pkey));
        }
        let ttl = i64::try_from(req.ttl_seconds).unwrap_or(i64::MAX);
        if ttl == 0 || req.ttl_seconds > self.config.max_ttl {
            return Err(Status::invalid_argument(format!(
                "ttl_seconds {} is not within 1..={} (max_ttl): ask for a shorter credential",
                req.ttl_seconds, self.config.max_ttl
            )));
        }
        let expires = now.saturating_add(ttl);
        if expires > auth.not_after.seconds() {
            return Err(Status::invalid_argument(format!(
                "the credential would expire at unix {expires}, after the authorization's \
                 not_after {}: ask for a ttl of at most {}s",
                auth.not_after,
                auth.not_after.seconds() - now
            )));
        }
        if let Some((ph, pexp, _)) = &parent
            && expires > pexp.seconds()
        {
            return Err(Status::invalid_argument(format!(
                "the credential would outlive its parent {ph} (expires {pexp}): ask for a ttl of \
                 at most {}s",
                pexp.seconds() - now
            )));
        }
        // 5. The agent holds no live credential of another authorization.
        let grace = self.config.policy.max_past_skew_secs();
        if let Some(busy) = view.entries.iter().find(|s| match &s.record {
            Record::Credential(c) => {
                c.agent.id == agent.id
                    && c.authorization != auth_hash
                    // The log lets a session key write until
                    // max_past_skew after expiry: live until then.
                    && c.expires_at.seconds().saturating_add(grace) >= now
                    && ended(&view, &s.hash).is_none()
            }
            _ => false,
        }) {
            return Err(Status::failed_precondition(format!(
                "agent {:?} holds credential {} (entry {}) of another authorization, still live: \
                 close or revoke it first, or wait for it to expire",
                agent.id, busy.hash, busy.index
            )));
        }

        // Never before the pre-flight it rests on, even across a small
        // clock difference between the verifier and this issuer.
        let at = precise_now()?.max(pre_time);
        let credential = Record::Credential(Credential {
            serial: serial(&req.request_id),
            agent: Agent {
                id: agent.id,
                model: agent.model,
                version: agent.version,
            },
            authorization: RecordRef::new(auth_hash),
            preflight: Some(RecordRef::new(pre_hash)),
            parent: parent.as_ref().map(|(h, _, _)| RecordRef::new(*h)),
            scope,
            session_key: session.public_key(),
            issued_at: at,
            expires_at: time(expires)?,
            time: at,
        });
        let signer: &ProducerKey = match &parent {
            Some((_, _, pkey)) => pkey,
            None => &self.config.issuer_key,
        };
        let entry = Envelope::sign(&credential, signer).encode();
        let issued = Issued {
            request_id: req.request_id.clone(),
            params,
            entry: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &entry),
        };
        let leaf = causeway_tlog::merkle::leaf_hash(&entry);
        self.state.put(&issued, &leaf.to_hex()).map_err(internal)?;
        if std::env::var_os(CRASH_AFTER_STATE).is_some_and(|v| v == "1") {
            std::process::abort();
        }
        self.send_credential(&mut client, &req.request_id, entry, session_der)
            .await
    }

    /// The index and leaf hash of `entry` when the log holds it, proven
    /// against a verified checkpoint.
    async fn already_logged(
        &self,
        client: &mut LogClient,
        entry: &[u8],
    ) -> Result<Option<(u64, Hash)>, Status> {
        let url = &self.config.log_url;
        let leaf = causeway_tlog::merkle::leaf_hash(entry);
        let note = client
            .checkpoint(None)
            .await
            .map_err(|e| log_status(url, &e))?;
        let checkpoint = causeway_client::verify::LogKeys::Verify(self.config.log_vkeys.clone())
            .read(&note)
            .map_err(|e| Status::internal(format!("the log's checkpoint does not verify: {e}")))?
            .into_checkpoint();
        let proof = match client
            .inclusion_proof(
                causeway_client::LeafRef::Hash(leaf),
                Some(checkpoint.size()),
            )
            .await
        {
            Ok(p) => p,
            Err(e) if e.code() == Some(tonic::Code::NotFound) => return Ok(None),
            Err(e) => return Err(log_status(url, &e)),
        };
        causeway_client::verify::check_inclusion(
            &checkpoint,
            proof.leaf_index,
            &leaf,
            &proof.proof,
        )
        .map_err(|e| Status::internal(format!("the log's inclusion proof: {e}")))?;
        Ok(Some((proof.leaf_index, leaf)))
    }

    /// The answer for a credential entry the log holds.
    fn respond(
        &self,
        entry: &[u8],
        (index, leaf_hash): (u64, Hash),
        session_der: Vec<u8>,
    ) -> Result<v1::IssueResponse, Status> {
        let record = Envelope::decode(entry)
            .and_then(|e| e.record())
            .map_err(internal)?;
        let Record::Credential(c) = record else {
            return Err(internal(
                "the state holds a record that is not a credential",
            ));
        };
        Ok(v1::IssueResponse {
            credential: leaf_hash.as_bytes().to_vec(),
            index,
            session_key_pkcs8_der: session_der,
            expires_at: Some(causeway_records::v1::Time {
                seconds: c.expires_at.seconds(),
                nanos: i32::try_from(c.expires_at.nanos()).unwrap_or(0),
            }),
            serial: c.serial,
        })
    }

    async fn send_credential(
        &self,
        client: &mut LogClient,
        request_id: &str,
        entry: Vec<u8>,
        session_der: Vec<u8>,
    ) -> Result<v1::IssueResponse, Status> {
        let sent = entry.clone();
        match submit(client, &self.config.log_url, &self.config.log_vkeys, entry).await {
            Ok(found) => self.respond(&sent, found, session_der),
            Err(s) => {
                if !matches!(s.code(), tonic::Code::Unavailable | tonic::Code::Internal) {
                    // A definitive refusal: nothing was written, and a
                    // retry is checked afresh.
                    self.state.forget(request_id);
                }
                Err(s)
            }
        }
    }

    /// The credential `bytes` names, which the caller may act for.
    async fn credential_for<T>(
        &self,
        request: &Request<T>,
        bytes: &[u8],
    ) -> Result<(LogClient, LogView, Hash, Credential), Status> {
        let hash = reference("credential", bytes)?;
        let mut client = self.log().await?;
        let view =
            LogView::fetch(&mut client, &self.config.log_url, &self.config.log_vkeys).await?;
        let found = view
            .proven(&mut client, &self.config.log_url, &hash)
            .await?
            .map(|s| s.record.clone());
        let credential = match found {
            Some(Record::Credential(c)) => c,
            Some(other) => {
                return Err(Status::failed_precondition(format!(
                    "{hash} is a {} record, not a credential",
                    other.kind()
                )));
            }
            None => {
                return Err(Status::not_found(format!(
                    "credential {hash} is not in the log"
                )));
            }
        };
        self.allowed(request, &credential.agent.id)?;
        Ok((client, view, hash, credential))
    }

    async fn write(&self, client: &mut LogClient, record: Record) -> Result<v1::Written, Status> {
        debug_assert!(matches!(record.kind(), Kind::Exception | Kind::Closure));
        let entry = Envelope::sign(&record, &self.config.issuer_key).encode();
        let (index, leaf_hash) =
            submit(client, &self.config.log_url, &self.config.log_vkeys, entry).await?;
        Ok(v1::Written {
            index,
            leaf_hash: leaf_hash.as_bytes().to_vec(),
        })
    }
}

/// The credential's serial: derived from the request id, so a retry has
/// the same one.
fn serial(request_id: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(request_id.as_bytes());
    format!("jit-{}", hex::encode(&digest[..8]))
}

#[tonic::async_trait]
impl Issuer for IssuerService {
    async fn issue_credential(
        &self,
        request: Request<v1::IssueRequest>,
    ) -> Result<Response<v1::IssueResponse>, Status> {
        self.issue(request).await.map(Response::new)
    }

    async fn revoke(
        &self,
        request: Request<v1::RevokeRequest>,
    ) -> Result<Response<v1::Written>, Status> {
        if request.get_ref().reason.trim().is_empty() {
            return Err(Status::invalid_argument(
                "reason is empty: say why it is revoked",
            ));
        }
        let (mut client, _, hash, _) = self
            .credential_for(&request, &request.get_ref().credential)
            .await?;
        let record = Record::Exception(Exception {
            credential: RecordRef::new(hash),
            action: None,
            reason: request.into_inner().reason,
            revoked: true,
            time: precise_now()?,
            call_digest: None,
        });
        self.write(&mut client, record).await.map(Response::new)
    }

    async fn close(
        &self,
        request: Request<v1::CloseRequest>,
    ) -> Result<Response<v1::Written>, Status> {
        let (mut client, view, hash, credential) = self
            .credential_for(&request, &request.get_ref().credential)
            .await?;
        if let Some(at) = ended(&view, &hash) {
            return Err(Status::failed_precondition(format!(
                "credential {hash} is already revoked or closed (entry {at})"
            )));
        }
        let actions = view
            .entries
            .iter()
            .filter(|s| matches!(&s.record, Record::Action(a) if a.credential == hash))
            .count() as u64;
        let at = precise_now()?;
        let record = Record::Closure(Closure {
            credential: RecordRef::new(hash),
            reason: ClosureReason::Forced,
            started_at: credential.issued_at,
            ended_at: at.max(credential.issued_at),
            actions,
            summary: String::from("closed by the issuer"),
            time: at,
        });
        self.write(&mut client, record).await.map(Response::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(targets: &[&str], actions: &[&str]) -> Scope {
        Scope {
            change_class: "standard".into(),
            targets: targets.iter().map(|s| s.to_string()).collect(),
            actions: actions.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn scope_must_be_a_subset() {
        let approved = scope(&["prod/api", "prod/web"], &["deploy", "read-logs"]);
        assert!(within(&scope(&["prod/api"], &["deploy"]), &approved, "a").is_ok());
        assert!(within(&scope(&[], &[]), &approved, "a").is_ok());
        let err = within(&scope(&["prod/db"], &["deploy"]), &approved, "a").unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        assert!(err.message().contains("prod/db"));
        // Action patterns match exactly: a glob is not widened or narrowed.
        assert!(within(&scope(&["prod/api"], &["deploy*"]), &approved, "a").is_err());
        let mut other_class = scope(&["prod/api"], &["deploy"]);
        other_class.change_class = "emergency".into();
        assert!(within(&other_class, &approved, "a").is_err());
    }

    #[test]
    fn serials_are_per_request_id() {
        assert_eq!(serial("a"), serial("a"));
        assert_ne!(serial("a"), serial("b"));
    }
}
