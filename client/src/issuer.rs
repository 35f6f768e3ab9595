//! A client of `causeway-issuer` (`causeway.v1.Issuer`): ask for a
//! just-in-time credential bound to an authorization, revoke it, close it.
//! The issuer requires mutual TLS; the session key comes back only over
//! that channel.

use causeway_api::v1::issuer_client::IssuerClient as GrpcIssuer;
use causeway_api::v1::{CloseRequest, IssueRequest, RevokeRequest};
use causeway_records::{ProducerKey, Time, v1 as pb};
use causeway_tlog::merkle::Hash;
use tonic::transport::Channel;

use crate::{ClientError, TlsSettings, channel};

/// A fresh idempotence key for a credential request: 16 random bytes,
/// hex. A retry must reuse it; a new request must not.
pub fn new_request_id() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What a credential request asks for.
#[derive(Clone, Debug)]
pub struct CredentialRequest {
    /// The caller's idempotence key: a retry with the same one returns the
    /// same credential.
    pub request_id: String,
    /// The authorization the credential is bound to.
    pub authorization: Hash,
    /// Its passing issuance pre-flight.
    pub preflight: Hash,
    /// The parent credential, when delegating.
    pub parent: Option<Hash>,
    /// The agent: id, model, version.
    pub agent: (String, String, String),
    /// The scope: change class, targets, actions.
    pub scope: (String, Vec<String>, Vec<String>),
    /// Seconds from now.
    pub ttl_seconds: u64,
}

/// A credential the issuer wrote to the log.
pub struct IssuedCredential {
    /// Its leaf hash.
    pub credential: Hash,
    /// Its index in the log.
    pub index: u64,
    /// The session key the agent signs its actions with.
    pub session_key: ProducerKey,
    /// When it expires.
    pub expires_at: Option<Time>,
    /// Its serial.
    pub serial: String,
}

/// A record the issuer wrote (a revoking exception or a closure).
#[derive(Clone, Copy, Debug)]
pub struct Written {
    /// Its index in the log.
    pub index: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
}

/// PEM armour (RFC 7468) around PKCS#8 DER.
fn pkcs8_pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

/// A connection to an issuer.
pub struct IssuerClient {
    inner: GrpcIssuer<Channel>,
}

impl IssuerClient {
    /// Connects to the issuer at `url` (`https://…`, with the caller's
    /// client certificate in `tls`).
    ///
    /// # Errors
    /// If the URL or TLS settings are invalid or the issuer is unreachable.
    pub async fn connect(url: &str, tls: &TlsSettings) -> Result<Self, ClientError> {
        Ok(IssuerClient {
            inner: GrpcIssuer::new(channel(url, tls).await?),
        })
    }

    /// Asks for a credential.
    ///
    /// # Errors
    /// The issuer's refusal (its status says why), or a malformed answer.
    pub async fn issue(&mut self, r: &CredentialRequest) -> Result<IssuedCredential, ClientError> {
        let (id, model, version) = r.agent.clone();
        let (change_class, targets, actions) = r.scope.clone();
        let resp = self
            .inner
            .issue_credential(IssueRequest {
                request_id: r.request_id.clone(),
                authorization: r.authorization.as_bytes().to_vec(),
                agent: Some(pb::Agent { id, model, version }),
                scope: Some(pb::Scope {
                    change_class,
                    targets,
                    actions,
                }),
                ttl_seconds: r.ttl_seconds,
                parent: r.parent.map(|p| p.as_bytes().to_vec()).unwrap_or_default(),
                preflight: r.preflight.as_bytes().to_vec(),
            })
            .await?
            .into_inner();
        let session_key = ProducerKey::from_pkcs8_pem(&pkcs8_pem(&resp.session_key_pkcs8_der))
            .map_err(|e| ClientError::Malformed(format!("session key: {e}")))?;
        Ok(IssuedCredential {
            credential: Hash::try_from(resp.credential.as_slice())?,
            index: resp.index,
            session_key,
            expires_at: resp
                .expires_at
                .and_then(|t| Time::new(t.seconds, u32::try_from(t.nanos).ok()?).ok()),
            serial: resp.serial,
        })
    }

    /// Revokes a credential: the issuer writes a revoking exception.
    ///
    /// # Errors
    /// The issuer's refusal, or a malformed answer.
    pub async fn revoke(&mut self, credential: Hash, reason: &str) -> Result<Written, ClientError> {
        let w = self
            .inner
            .revoke(RevokeRequest {
                credential: credential.as_bytes().to_vec(),
                reason: reason.to_owned(),
            })
            .await?
            .into_inner();
        Ok(Written {
            index: w.index,
            leaf_hash: Hash::try_from(w.leaf_hash.as_slice())?,
        })
    }

    /// Closes a credential's session (a forced closure).
    ///
    /// # Errors
    /// The issuer's refusal, or a malformed answer.
    pub async fn close(&mut self, credential: Hash) -> Result<Written, ClientError> {
        let w = self
            .inner
            .close(CloseRequest {
                credential: credential.as_bytes().to_vec(),
            })
            .await?
            .into_inner();
        Ok(Written {
            index: w.index,
            leaf_hash: Hash::try_from(w.leaf_hash.as_slice())?,
        })
    }
}
