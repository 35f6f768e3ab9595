//! `causeway credential issue|revoke|close`: the caller's side of
//! `causeway-issuer`, over mutual TLS.

use anyhow::Context as _;
use causeway_client::issuer::{CredentialRequest, IssuerClient};
use causeway_records::RecordRef;
use causeway_tlog::merkle::Hash;
use serde_json::json;

use crate::args::tls_settings;
use crate::cli::{CredentialCommand, IssueArgs, IssuerArgs};

fn reference(flag: &str, text: &str) -> anyhow::Result<Hash> {
    let r: RecordRef = text.parse().map_err(|e| {
        anyhow::anyhow!(
            "--{flag} {text:?}: {e}; give a leaf hash as the command that wrote it printed"
        )
    })?;
    Ok(r.hash())
}

async fn connect(args: &IssuerArgs) -> anyhow::Result<IssuerClient> {
    let tls = tls_settings(
        ("--issuer-ca", args.issuer_ca.as_ref()),
        ("--issuer-cert", args.issuer_cert.as_ref()),
        ("--issuer-key", args.issuer_key.as_ref()),
    )?;
    IssuerClient::connect(&args.issuer, &tls)
        .await
        .with_context(|| format!("connecting to the issuer at {}", args.issuer))
}

/// Runs one `credential` command.
pub(crate) async fn run(command: CredentialCommand) -> anyhow::Result<()> {
    match command {
        CredentialCommand::Issue(args) => issue(*args).await,
        CredentialCommand::Revoke {
            issuer,
            credential,
            reason,
        } => {
            let hash = reference("credential", &credential)?;
            let w = connect(&issuer).await?.revoke(hash, &reason).await?;
            print_written(&issuer, "revoking exception", w.index, w.leaf_hash);
            Ok(())
        }
        CredentialCommand::Close { issuer, credential } => {
            let hash = reference("credential", &credential)?;
            let w = connect(&issuer).await?.close(hash).await?;
            print_written(&issuer, "closure", w.index, w.leaf_hash);
            Ok(())
        }
    }
}

fn print_written(args: &IssuerArgs, what: &str, index: u64, leaf: Hash) {
    if args.json {
        println!("{}", json!({"index": index, "leaf_hash": leaf.to_hex()}));
    } else {
        println!("{what}: index {index} leaf {leaf}");
    }
}

async fn issue(args: IssueArgs) -> anyhow::Result<()> {
    if args.key_out.exists() {
        anyhow::bail!(
            "--key-out {} exists: a session key is written once; choose a new file",
            args.key_out.display()
        );
    }
    let request_id = args
        .request_id
        .clone()
        .unwrap_or_else(causeway_client::issuer::new_request_id);
    let request = CredentialRequest {
        request_id: request_id.clone(),
        authorization: reference("authorization", &args.authorization)?,
        preflight: reference("preflight", &args.preflight)?,
        parent: args
            .parent
            .as_deref()
            .map(|p| reference("parent", p))
            .transpose()?,
        agent: (
            args.agent_id.clone(),
            args.agent_model.clone(),
            args.agent_version.clone(),
        ),
        scope: (
            args.change_class.clone(),
            args.targets.clone(),
            args.actions.clone(),
        ),
        ttl_seconds: args.ttl.as_secs(),
    };
    let issued = connect(&args.issuer)
        .await?
        .issue(&request)
        .await
        .with_context(|| format!("request {request_id} (retry with --request-id {request_id})"))?;
    let pem = issued
        .session_key
        .to_pkcs8_pem()
        .map_err(|e| anyhow::anyhow!("encoding the session key: {e}"))?;
    causeway_io::files::create_private(&args.key_out, pem.as_bytes())
        .with_context(|| format!("--key-out {}", args.key_out.display()))?;
    let expires = issued.expires_at.map(|t| t.to_string()).unwrap_or_default();
    if args.issuer.json {
        println!(
            "{}",
            json!({"request_id": request_id, "credential": issued.credential.to_hex(),
                   "index": issued.index, "serial": issued.serial, "expires_at": expires,
                   "key_out": args.key_out.display().to_string()})
        );
    } else {
        println!(
            "credential: index {} leaf {} serial {} expires {expires}; session key in {}",
            issued.index,
            issued.credential,
            issued.serial,
            args.key_out.display()
        );
    }
    Ok(())
}
