//! `causeway-issuer` against a real `causeway-server` on 127.0.0.1, over
//! mutual TLS with certificates from `openssl` (tests/src/pki.rs): the
//! full chain (approval, pre-flight, issuance, actions signed with the
//! returned session key, revocation, a refused action, the audit), every
//! refusal, and a crash between the issuer's state write and the log's
//! acknowledgement (the `CAUSEWAY_ISSUER_CRASH_AFTER_STATE=1` test hook,
//! which aborts the process there as `kill -9` would).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use causeway_api::v1;
use causeway_api::v1::issuer_client::IssuerClient;
use causeway_client::LogClient;
use causeway_records::{Envelope, Kind, ProducerKey, Record};
use causeway_tests::audit::{audit_args, with_vkeys};
use causeway_tests::fixtures::{
    self, action, add, authorization, env, now, now_ms, preflight, refused, t,
};
use causeway_tests::issuer::{Caller, Issuer, write_config};
use causeway_tests::{Pki, Producers, Server, binary, cli};
use causeway_tlog::merkle::Hash;
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use serde_json::Value;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// A log, its producers, a PKI and an issuer configured for them.
struct Deployment {
    dir: tempfile::TempDir,
    producers: Producers,
    policy: PathBuf,
    server: Server,
    pki: Pki,
    config: PathBuf,
    issuer: Option<Issuer>,
    /// How tests reach the log when it serves TLS.
    log_tls: causeway_client::TlsSettings,
}

impl Deployment {
    fn start() -> Deployment {
        Self::start_with(false)
    }

    /// With `log_tls`, the log serves TLS and needs a client certificate
    /// to write, which the issuer presents (`[log_tls]`).
    fn start_with(log_tls: bool) -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let producers = Producers::new();
        let policy = producers.write(&dir.path().join("producers"));
        let pki = Pki::new(dir.path(), "issuer-ca");
        let (cert, key) = pki.issue("issuer", true);
        pki.issue("deploy-bot", false);
        pki.issue("other-bot", false);
        pki.issue("twin-bot", false);
        let mut extra_config = String::new();
        let mut tls_settings = causeway_client::TlsSettings::default();
        let server = if log_tls {
            let (log_cert, log_key) = pki.issue("log", true);
            let client = pki.issue("issuer-client", false);
            extra_config = format!(
                "\n[log_tls]\nca = {:?}\ncert = {:?}\nkey = {:?}\n",
                pki.ca(),
                client.0,
                client.1
            );
            tls_settings = pki.settings(Some(&client));
            let ca = pki.ca();
            Server::start(
                &dir.path().join("log"),
                &[
                    "--policy",
                    policy.to_str().unwrap(),
                    "--tls-cert",
                    log_cert.to_str().unwrap(),
                    "--tls-key",
                    log_key.to_str().unwrap(),
                    "--tls-client-ca",
                    ca.to_str().unwrap(),
                ],
            )
        } else {
            Server::with_policy(&dir.path().join("log"), &policy)
        };
        let config = dir.path().join("issuer.toml");
        let ca = pki.ca();
        let callers = [
            ("deploy-bot", "agent://deploy/*"),
            ("other-bot", "agent://other/*"),
            ("twin-bot", "agent://deploy/*"),
        ];
        let callers: Vec<Caller<'_>> = callers
            .iter()
            .map(|(subject, agent)| Caller {
                subject,
                agents: std::slice::from_ref(agent),
            })
            .collect();
        write_config(
            &config,
            &server,
            &policy,
            &dir.path().join("producers/issuer.pem"),
            (&cert, &key, &ca),
            &callers,
            &extra_config,
        );
        let mut d = Deployment {
            dir,
            producers,
            policy,
            server,
            pki,
            config,
            issuer: None,
            log_tls: tls_settings,
        };
        d.start_issuer(false);
        d
    }

    /// (Re)starts the issuer, with the crash hook if `crash`.
    fn start_issuer(&mut self, crash: bool) {
        self.issuer = None;
        self.issuer = Some(Issuer::start(&self.config, crash));
    }

    fn issuer(&mut self) -> &mut Issuer {
        self.issuer.as_mut().expect("running")
    }

    /// An issuer client presenting `cert` (a name `pki.issue` made), or no
    /// client certificate.
    async fn client(&self, cert: Option<&str>) -> Result<IssuerClient<Channel>, String> {
        let url = &self.issuer.as_ref().expect("running").url;
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(std::fs::read(self.pki.ca()).unwrap()))
            .domain_name("localhost");
        if let Some(name) = cert {
            let read =
                |ext: &str| std::fs::read(self.pki.dir.join(format!("{name}.{ext}"))).unwrap();
            tls = tls.identity(Identity::from_pem(read("pem"), read("key")));
        }
        let channel = Endpoint::from_shared(url.clone())
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(IssuerClient::new(channel))
    }

    async fn log(&self) -> LogClient {
        LogClient::connect_with(&self.server.url, &self.log_tls)
            .await
            .unwrap()
    }

    /// Submits alice's authorization (made now, edited by `edit`) and a
    /// verifier's passing issuance pre-flight of it.
    async fn approved(&self, ticket: &str, edit: impl FnOnce(&mut Value)) -> (Hash, Hash) {
        fixtures::approved(&mut self.log().await, &self.producers, ticket, edit).await
    }

    /// The credential records in the log.
    async fn credentials(&self) -> Vec<Hash> {
        let mut log = self.log().await;
        let entries = log.entries(0, 10_000).await.unwrap_or_default();
        entries
            .iter()
            .filter(|e| {
                matches!(
                    Envelope::decode(e).and_then(|e| e.record()),
                    Ok(Record::Credential(_))
                )
            })
            .map(|e| causeway_tlog::merkle::leaf_hash(e))
            .collect()
    }
}

fn request(id: &str, auth: &Hash, pre: &Hash, agent: &str) -> v1::IssueRequest {
    v1::IssueRequest {
        request_id: id.into(),
        authorization: auth.as_bytes().to_vec(),
        agent: Some(causeway_records::v1::Agent {
            id: agent.into(),
            model: "claude".into(),
            version: "1".into(),
        }),
        scope: Some(causeway_records::v1::Scope {
            change_class: "standard".into(),
            targets: vec!["prod/api".into()],
            actions: vec!["deploy".into()],
        }),
        ttl_seconds: 600,
        parent: Vec::new(),
        preflight: pre.as_bytes().to_vec(),
    }
}

fn session_key(der: &[u8]) -> ProducerKey {
    let key = p256::SecretKey::from_pkcs8_der(der).expect("a PKCS#8 P-256 key");
    ProducerKey::from_pkcs8_pem(&key.to_pkcs8_pem(LineEnding::LF).unwrap()).unwrap()
}

async fn refused_with(
    client: &mut IssuerClient<Channel>,
    req: v1::IssueRequest,
    code: Code,
    needle: &str,
) {
    let err = client
        .issue_credential(req)
        .await
        .expect_err("must be refused");
    assert_eq!(err.code(), code, "{err:?}");
    assert!(
        err.message().contains(needle),
        "{:?} does not mention {needle:?}",
        err.message()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn full_chain_issue_act_revoke_refused_audit() {
    let d = Deployment::start();
    let (auth, pre) = d.approved("CHG-1", |_| {}).await;
    let mut issuer = d.client(Some("deploy-bot")).await.unwrap();
    let issued = issuer
        .issue_credential(request("r-1", &auth, &pre, "agent://deploy/a"))
        .await
        .expect("issued")
        .into_inner();
    let cred = Hash::try_from(issued.credential.as_slice()).unwrap();
    assert!(issued.serial.starts_with("jit-"), "{}", issued.serial);
    assert!(issued.expires_at.unwrap().seconds > now());
    assert_eq!(d.credentials().await, vec![cred]);

    // A retry returns the same credential and key.
    let again = issuer
        .issue_credential(request("r-1", &auth, &pre, "agent://deploy/a"))
        .await
        .expect("retried")
        .into_inner();
    assert_eq!(again.credential, issued.credential);
    assert_eq!(again.index, issued.index);
    assert_eq!(again.session_key_pkcs8_der, issued.session_key_pkcs8_der);
    assert_eq!(d.credentials().await.len(), 1);

    // The session key signs actions the log accepts.
    let key = session_key(&issued.session_key_pkcs8_der);
    let mut log = d.log().await;
    let mut a1 = action(&cred, 1, now());
    a1["time"] = now_ms().into();
    a1["operation"] = "deploy".into();
    add(&mut log, env(Kind::Action, a1, &key)).await;

    let revoked = issuer
        .revoke(v1::RevokeRequest {
            credential: issued.credential.clone(),
            reason: "incident INC-7".into(),
        })
        .await
        .expect("revoked")
        .into_inner();
    assert!(revoked.index > issued.index);

    // After revocation the log refuses the session key.
    let mut a2 = action(&cred, 2, now());
    a2["time"] = now_ms().into();
    a2["operation"] = "deploy".into();
    refused(
        &mut log,
        env(Kind::Action, a2, &key).0,
        Code::PermissionDenied,
        &["revoked"],
    )
    .await;

    // A second credential, closed (forced) by the issuer.
    let (auth2, pre2) = d.approved("CHG-2", |_| {}).await;
    let second = issuer
        .issue_credential(request("r-2", &auth2, &pre2, "agent://deploy/b"))
        .await
        .expect("issued")
        .into_inner();
    issuer
        .close(v1::CloseRequest {
            credential: second.credential.clone(),
        })
        .await
        .expect("closed");
    let err = issuer
        .close(v1::CloseRequest {
            credential: second.credential,
        })
        .await
        .expect_err("already closed");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");

    // The audit: the chain verifies; list what it flags.
    let out = d.dir.path().join("audit");
    let args = with_vkeys(
        audit_args(
            &d.server.url,
            &d.server.tiles_url,
            &d.policy,
            &out,
            &["--json"],
        ),
        &d.server.vkeys,
    );
    let (ok, stdout, stderr) = cli(&args);
    assert!(ok, "causeway audit failed: {stderr}");
    let summary: Value = serde_json::from_str(stdout.trim()).expect("the --json summary");
    assert_eq!(summary["verified"], true, "{stdout}");
    let flags = summary["red_flags"].as_array().expect("red_flags");
    assert!(flags.is_empty(), "the chain raises red flags: {stdout}");
    // Every record is valid as of its time, and the action names the
    // human whose approval it rests on.
    assert_eq!(summary["invalid"], serde_json::json!([]), "{stdout}");
    assert_eq!(summary["summary"]["credentials"], 2, "{stdout}");
    assert_eq!(summary["summary"]["exceptions"], 1, "{stdout}");
    assert_eq!(summary["summary"]["closures"], 1, "{stdout}");
    assert_eq!(
        summary["summary"]["actions_with_named_human"], 1,
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_refusal_writes_nothing() {
    let d = Deployment::start();
    let (auth, pre) = d.approved("CHG-1", |_| {}).await;
    let mut c = d.client(Some("deploy-bot")).await.unwrap();
    let agent = "agent://deploy/a";

    // Not in the log.
    let ghost = causeway_tlog::merkle::leaf_hash(b"not an entry");
    refused_with(
        &mut c,
        request("x1", &ghost, &pre, agent),
        Code::NotFound,
        "not in the log",
    )
    .await;
    // Not an authorization.
    refused_with(
        &mut c,
        request("x2", &pre, &pre, agent),
        Code::FailedPrecondition,
        "not an authorization",
    )
    .await;
    // Outside its window (it opens in half an hour).
    let (later, later_pre) = d
        .approved("CHG-LATER", |a| {
            a["not_before"] = t(now() + 1800).into();
        })
        .await;
    refused_with(
        &mut c,
        request("x3", &later, &later_pre, agent),
        Code::FailedPrecondition,
        "outside",
    )
    .await;
    // No pre-flight.
    let mut no_pre = request("x4", &auth, &pre, agent);
    no_pre.preflight.clear();
    refused_with(&mut c, no_pre, Code::FailedPrecondition, "no pre-flight").await;
    // A pre-flight of another authorization.
    refused_with(
        &mut c,
        request("x5", &auth, &later_pre, agent),
        Code::FailedPrecondition,
        "not a pass pre-flight",
    )
    .await;
    // A later block.
    let (blocked, blocked_pre) = d.approved("CHG-BLOCKED", |_| {}).await;
    let mut block = preflight(&blocked, now());
    block["verdict"] = "block".into();
    block["checks"][0]["result"] = "fail".into();
    add(
        &mut d.log().await,
        env(Kind::Preflight, block, &d.producers.verifier),
    )
    .await;
    refused_with(
        &mut c,
        request("x6", &blocked, &blocked_pre, agent),
        Code::FailedPrecondition,
        "blocks",
    )
    .await;
    // A wider scope.
    let mut wide = request("x7", &auth, &pre, agent);
    wide.scope.as_mut().unwrap().targets.push("prod/db".into());
    refused_with(&mut c, wide, Code::PermissionDenied, "prod/db").await;
    let mut wide = request("x8", &auth, &pre, agent);
    wide.scope.as_mut().unwrap().actions = vec!["drop-tables".into()];
    refused_with(&mut c, wide, Code::PermissionDenied, "drop-tables").await;
    // A ttl over max_ttl (1h).
    let mut long = request("x9", &auth, &pre, agent);
    long.ttl_seconds = 7200;
    refused_with(&mut c, long, Code::InvalidArgument, "max_ttl").await;
    // A caller not allowed for the agent.
    let mut other = d.client(Some("other-bot")).await.unwrap();
    refused_with(
        &mut other,
        request("x10", &auth, &pre, agent),
        Code::PermissionDenied,
        "may not act for agent id",
    )
    .await;
    // No client certificate: the TLS handshake or the first call fails.
    match d.client(None).await {
        Err(_) => {}
        Ok(mut anonymous) => {
            let err = anonymous
                .issue_credential(request("x11", &auth, &pre, agent))
                .await
                .expect_err("no client certificate");
            assert_ne!(err.code(), Code::Ok);
        }
    }
    assert!(
        d.credentials().await.is_empty(),
        "a refusal wrote a credential"
    );

    // The agent is busy with another authorization.
    c.issue_credential(request("ok-1", &auth, &pre, agent))
        .await
        .expect("issued");
    let (auth2, pre2) = d.approved("CHG-2", |_| {}).await;
    refused_with(
        &mut c,
        request("x12", &auth2, &pre2, agent),
        Code::FailedPrecondition,
        "another authorization",
    )
    .await;
    // The same request id with other parameters.
    refused_with(
        &mut c,
        request("ok-1", &auth2, &pre2, "agent://deploy/z"),
        Code::AlreadyExists,
        "different request",
    )
    .await;
    // Another caller allowed for the same agent cannot replay the id to
    // get the first caller's session key.
    let mut twin = d.client(Some("twin-bot")).await.unwrap();
    refused_with(
        &mut twin,
        request("ok-1", &auth, &pre, agent),
        Code::AlreadyExists,
        "different request",
    )
    .await;
    assert_eq!(d.credentials().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_between_state_and_log_then_retry_gives_one_credential() {
    let mut d = Deployment::start();
    let (auth, pre) = d.approved("CHG-1", |_| {}).await;
    d.start_issuer(true);
    let mut c = d.client(Some("deploy-bot")).await.unwrap();
    let err = c
        .issue_credential(request("crash-1", &auth, &pre, "agent://deploy/a"))
        .await
        .expect_err("the issuer dies mid-issuance");
    assert_ne!(err.code(), Code::Ok);
    let status = d.issuer().wait();
    assert!(!status.success(), "the issuer must have died: {status:?}");
    // It died before asking the log: nothing was written.
    assert!(d.credentials().await.is_empty());

    d.start_issuer(false);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = d.client(Some("deploy-bot")).await.unwrap();
    let first = c
        .issue_credential(request("crash-1", &auth, &pre, "agent://deploy/a"))
        .await
        .expect("the retry issues")
        .into_inner();
    let second = c
        .issue_credential(request("crash-1", &auth, &pre, "agent://deploy/a"))
        .await
        .expect("a second retry returns it again")
        .into_inner();
    assert_eq!(first.credential, second.credential);
    assert_eq!(first.session_key_pkcs8_der, second.session_key_pkcs8_der);
    let creds = d.credentials().await;
    assert_eq!(creds.len(), 1, "the log holds one credential");
    assert_eq!(creds[0].as_bytes().as_slice(), first.credential.as_slice());
    // The key the issuer returned is the one the credential names.
    let key = session_key(&first.session_key_pkcs8_der);
    let mut a1 = action(&creds[0], 1, now());
    a1["time"] = now_ms().into();
    a1["operation"] = "deploy".into();
    add(&mut d.log().await, env(Kind::Action, a1, &key)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delegation_is_signed_by_the_parent_and_stays_within_it() {
    let d = Deployment::start();
    let (auth, pre) = d.approved("CHG-1", |_| {}).await;
    let mut c = d.client(Some("deploy-bot")).await.unwrap();
    let mut root = request("root", &auth, &pre, "agent://deploy/lead");
    root.scope.as_mut().unwrap().actions = vec!["deploy".into(), "read-logs".into()];
    let parent = c.issue_credential(root).await.expect("issued").into_inner();
    let parent_expiry = parent.expires_at.unwrap().seconds;

    // Wider than the parent (the authorization allows it, the parent not).
    let mut child = request("child", &auth, &pre, "agent://deploy/helper");
    child.parent = parent.credential.clone();
    child.scope.as_mut().unwrap().actions = vec!["read-logs".into()];
    // Well inside the parent's 600 s: the parent's clock started first, so
    // an equal ttl outlives it by the seconds the test took (a busy
    // machine's fresh-root run was refused "at most 599s").
    child.ttl_seconds = 300;
    let mut wide = child.clone();
    wide.request_id = "child-wide".into();
    wide.scope.as_mut().unwrap().targets = vec!["prod/api".into()];
    wide.scope.as_mut().unwrap().actions = vec!["read-logs".into(), "deploy".into()];
    let mut narrow_parent = request("root-2", &auth, &pre, "agent://deploy/lead2");
    narrow_parent.scope.as_mut().unwrap().actions = vec!["read-logs".into()];
    let p2 = c
        .issue_credential(narrow_parent)
        .await
        .expect("issued")
        .into_inner();
    wide.parent = p2.credential.clone();
    refused_with(&mut c, wide, Code::PermissionDenied, "parent credential").await;
    // Longer than the parent.
    let mut long = child.clone();
    long.request_id = "child-long".into();
    long.ttl_seconds = 3000;
    refused_with(&mut c, long, Code::InvalidArgument, "outlive its parent").await;

    let issued = c
        .issue_credential(child)
        .await
        .expect("delegated")
        .into_inner();
    assert!(issued.expires_at.unwrap().seconds <= parent_expiry);
    // The log admitted it, so the parent's session key signed it; check
    // the record says so.
    let mut log = d.log().await;
    let entry = log.entries(issued.index, 1).await.unwrap().remove(0);
    let envelope = Envelope::decode(&entry).unwrap();
    let Ok(Record::Credential(cred)) = envelope.record() else {
        panic!("not a credential");
    };
    assert_eq!(
        cred.parent.map(|p| p.hash().as_bytes().to_vec()),
        Some(parent.credential.clone())
    );
    let parent_key = session_key(&parent.session_key_pkcs8_der);
    assert_eq!(envelope.signer().unwrap().keyid, parent_key.key_id());
}

#[tokio::test(flavor = "multi_thread")]
async fn issues_through_a_log_that_requires_client_certificates() {
    let d = Deployment::start_with(true);
    assert!(d.server.url.starts_with("https://"), "{}", d.server.url);
    let (auth, pre) = d.approved("CHG-TLS", |_| {}).await;
    let mut c = d.client(Some("deploy-bot")).await.unwrap();
    let issued = c
        .issue_credential(request("tls-1", &auth, &pre, "agent://deploy/a"))
        .await
        .expect("issued through the TLS log")
        .into_inner();
    let cred = Hash::try_from(issued.credential.as_slice()).unwrap();
    assert_eq!(d.credentials().await, vec![cred]);
    let key = session_key(&issued.session_key_pkcs8_der);
    let mut a1 = action(&cred, 1, now());
    a1["time"] = now_ms().into();
    a1["operation"] = "deploy".into();
    add(&mut d.log().await, env(Kind::Action, a1, &key)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn expiry_is_bounded_by_the_authorization_window() {
    let d = Deployment::start();
    // The window closes in five minutes; ten are asked for.
    let (auth, pre) = d
        .approved("CHG-SHORT", |a| {
            a["not_after"] = t(now() + 300).into();
        })
        .await;
    let mut c = d.client(Some("deploy-bot")).await.unwrap();
    refused_with(
        &mut c,
        request("short", &auth, &pre, "agent://deploy/a"),
        Code::InvalidArgument,
        "not_after",
    )
    .await;
    let mut fits = request("short-2", &auth, &pre, "agent://deploy/a");
    fits.ttl_seconds = 120;
    c.issue_credential(fits).await.expect("within the window");
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_reflection_over_mutual_tls() {
    let d = Deployment::start();
    let url = d.issuer.as_ref().unwrap().url.clone();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(d.pki.ca()).unwrap()))
        .domain_name("localhost")
        .identity(Identity::from_pem(
            std::fs::read(d.pki.dir.join("deploy-bot.pem")).unwrap(),
            std::fs::read(d.pki.dir.join("deploy-bot.key")).unwrap(),
        ));
    let channel = Endpoint::from_shared(url)
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "causeway.v1.Issuer".into(),
        })
        .await
        .expect("health")
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(channel);
    let ask = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter(vec![ask]))
        .await
        .expect("reflection")
        .into_inner();
    let answer = answers.message().await.unwrap().expect("an answer");
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("not a service list: {answer:?}");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"causeway.v1.Issuer"), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_authorization_whose_signer_is_not_human_to_the_issuer_is_refused() {
    // The log admitted alice's approval under its policy; the issuer's
    // copy says alice's key is a gate's, so it must refuse to issue on it.
    let mut d = Deployment::start();
    let (auth, pre) = d.approved("CHG-1", |_| {}).await;
    let text = std::fs::read_to_string(&d.policy).unwrap();
    let edited = text.replacen(
        "name = \"alice@example.com\"\nrole = \"human\"",
        "name = \"alice@example.com\"\nrole = \"gate\"",
        1,
    );
    assert_ne!(text, edited);
    let other_policy = d.dir.path().join("issuer-policy.toml");
    std::fs::write(&other_policy, edited).unwrap();
    let config = std::fs::read_to_string(&d.config).unwrap().replace(
        &format!("policy = {:?}", d.policy),
        &format!("policy = {other_policy:?}"),
    );
    std::fs::write(&d.config, config).unwrap();
    d.start_issuer(false);
    let mut c = d.client(Some("deploy-bot")).await.unwrap();
    refused_with(
        &mut c,
        request("h1", &auth, &pre, "agent://deploy/a"),
        Code::FailedPrecondition,
        "not signed by a human principal",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_random_points_never_makes_two_credentials() {
    let mut d = Deployment::start();
    let mut rounds = Vec::new();
    for round in 0..6u64 {
        let (auth, pre) = d.approved(&format!("CHG-K{round}"), |_| {}).await;
        let id = format!("kill-{round}");
        let agent = format!("agent://deploy/k{round}");
        let req = request(&id, &auth, &pre, &agent);
        let mut c = d.client(Some("deploy-bot")).await.unwrap();
        let call = tokio::spawn(async move { c.issue_credential(req).await });
        // Anywhere from before the request arrives to after the answer.
        tokio::time::sleep(Duration::from_millis(rand::random::<u64>() % 40)).await;
        let issuer = d.issuer();
        issuer.kill9();
        let _ = call.await;
        d.start_issuer(false);
        let mut c = d.client(Some("deploy-bot")).await.unwrap();
        let got = c
            .issue_credential(request(&id, &auth, &pre, &agent))
            .await
            .unwrap_or_else(|e| panic!("round {round}: the retry failed: {e:?}"))
            .into_inner();
        rounds.push(got.credential);
    }
    let mut logged: Vec<Vec<u8>> = d
        .credentials()
        .await
        .iter()
        .map(|h| h.as_bytes().to_vec())
        .collect();
    logged.sort();
    rounds.sort();
    assert_eq!(logged, rounds, "one credential per request id, no more");
}

#[test]
fn help_describes_the_issuer() {
    let out = Command::new(binary("causeway-issuer"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--config"), "{text}");
    assert!(text.contains("mutual TLS"), "{text}");
}

#[test]
fn a_bad_config_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("issuer.toml");
    std::fs::write(&config, "listen = \"nowhere\"\n").unwrap();
    let out = Command::new(binary("causeway-issuer"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("not a valid issuer config"), "{text}");
}

/// `causeway-server --dev` starts a development issuer behind mutual TLS
/// and prints how to reach it; the walkthrough's `causeway credential
/// issue` then gets a credential bound to an approval and its pre-flight,
/// and `revoke` ends it.
#[tokio::test]
async fn dev_mode_starts_an_issuer_the_walkthrough_can_use() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(binary("causeway-server"))
        .args(["--dev", "--grpc-addr", "127.0.0.1:0", "--http-addr", "off"])
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let _server = Kill(child);
    let mut issuer = None;
    let log = loop {
        let line = lines.next().expect("--dev exited early").unwrap();
        if let Some(rest) = line.trim().strip_prefix("export CAUSEWAY_ISSUER=") {
            issuer = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(rest) = line.strip_prefix("causeway-server ready ") {
            let grpc = rest
                .split(' ')
                .find_map(|f| f.strip_prefix("grpc="))
                .unwrap();
            break format!("http://{grpc}");
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let issuer = issuer.expect("the banner names the development issuer");

    let dev = dir.path().join("causeway-dev");
    let key = |stem: &str| {
        let pem = std::fs::read_to_string(dev.join(format!("producers/{stem}.pem"))).unwrap();
        ProducerKey::from_pkcs8_pem(&pem).unwrap()
    };
    let mut client = LogClient::connect(&log).await.unwrap();
    let at = now();
    let auth = env(Kind::Authorization, authorization(at), &key("approver"));
    let auth_hash = auth.1;
    add(&mut client, auth).await;
    let pre = env(Kind::Preflight, preflight(&auth_hash, at), &key("verifier"));
    let pre_hash = pre.1;
    add(&mut client, pre).await;

    let pki = |f: &str| dev.join("issuer").join(f).display().to_string();
    let session = dir.path().join("session.pem").display().to_string();
    let scope = causeway_tests::fixtures::scope();
    let (target, operation) = (
        scope["targets"][0].as_str().unwrap().to_owned(),
        scope["actions"][0].as_str().unwrap().to_owned(),
    );
    let run = |args: &[&str]| {
        let out = Command::new(binary("causeway"))
            .args(args)
            .env("CAUSEWAY_ISSUER", &issuer)
            .env("CAUSEWAY_ISSUER_CA", pki("ca.pem"))
            .env("CAUSEWAY_ISSUER_CERT", pki("caller.pem"))
            .env("CAUSEWAY_ISSUER_KEY", pki("caller.key"))
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    };
    let (ok, out, err) = run(&[
        "credential",
        "issue",
        "--json",
        "--authorization",
        &auth_hash.to_hex(),
        "--preflight",
        &pre_hash.to_hex(),
        "--agent-id",
        "agent://demo/coder",
        "--target",
        &target,
        "--action",
        &operation,
        "--key-out",
        &session,
    ]);
    assert!(ok, "credential issue: {err}");
    let issued: Value = serde_json::from_str(out.trim()).unwrap();
    let credential = issued["credential"].as_str().unwrap().to_owned();
    assert!(
        std::fs::read_to_string(&session)
            .unwrap()
            .contains("PRIVATE KEY")
    );
    let (ok, _, err) = run(&[
        "credential",
        "revoke",
        "--credential",
        &credential,
        "--reason",
        "walkthrough done",
    ]);
    assert!(ok, "credential revoke: {err}");
    // Without the caller certificate the issuer refuses the connection.
    let out = Command::new(binary("causeway"))
        .args(["credential", "close", "--credential", &credential])
        .env("CAUSEWAY_ISSUER", &issuer)
        .env("CAUSEWAY_ISSUER_CA", pki("ca.pem"))
        .output()
        .unwrap();
    assert!(!out.status.success());
}
