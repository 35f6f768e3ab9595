//! `causeway approve`: the plan is shown and confirmed, the approver logs
//! in (or gives a token, or names themselves), and the `authorization` is
//! signed and submitted through [`submit::send_entries`].

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::{Context as _, bail};
use causeway_client::approve::login::Login;
use causeway_client::approve::{bind_login, plan};
use causeway_client::visible::for_terminal;
use causeway_records::{Envelope, Record};
use causeway_tlog::merkle::leaf_hash;
use serde_json::json;

use crate::cli::ApproveArgs;
use crate::records::load_key;
use crate::submit::{self, record_time_now as now};

/// Asks on the terminal; refuses to guess when there is none.
fn confirm() -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to confirm on: read the plan above and pass --yes to approve it");
    }
    eprint!("Approve this plan? Type \"yes\" to approve: ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer")?;
    if !matches!(answer.trim(), "yes" | "y") {
        bail!("not approved: nothing was signed");
    }
    Ok(())
}

/// Starts the person's browser on `url`, if one can be found; the URL is
/// printed either way.
fn open_browser(url: &str) {
    let opener = std::env::var("BROWSER").unwrap_or_else(|_| String::from("xdg-open"));
    let started = std::process::Command::new(&opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if started.is_err() {
        eprintln!("(could not start {opener}; open the URL yourself)");
    }
}

/// `causeway approve`.
pub(crate) async fn approve(args: ApproveArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.plan)
        .with_context(|| format!("--plan {}: cannot read it", args.plan.display()))?;
    let mut authorization =
        plan::parse(&text, now()?).with_context(|| format!("--plan {}", args.plan.display()))?;
    let key = load_key(&args.key)?;
    let nonce = authorization.idp_nonce();

    eprint!("{}", for_terminal(&plan::describe(&authorization)));
    if args.yes {
        eprintln!("Approved with --yes.");
    } else {
        confirm()?;
    }

    if let (Some(issuer), Some(client_id)) = (&args.oidc_issuer, &args.client_id) {
        let login = Login {
            issuer,
            client_id,
            nonce: &nonce,
            timeout: args.login_timeout,
        };
        let logged_in = login
            .run(|url| {
                eprintln!("Open this URL to log in: {url}");
                if !args.no_browser {
                    open_browser(url);
                }
            })
            .await
            .context("logging in")?;
        eprintln!("Logged in as {}.", logged_in.claims.subject);
        authorization.time = now()?;
        bind_login(&mut authorization, logged_in.id_token, &logged_in.claims);
    } else if let Some(path) = &args.id_token {
        let token = std::fs::read_to_string(path)
            .with_context(|| format!("--id-token {}: cannot read it", path.display()))?
            .trim()
            .to_owned();
        let claims = causeway_oidc::verify::stated_claims(&token)
            .with_context(|| format!("--id-token {}", path.display()))?;
        if claims.nonce != nonce {
            bail!(
                "--id-token {}: its nonce {:?} is not this plan's digest {nonce:?}: the login \
                 was for another approval; log in with this plan's digest as nonce",
                path.display(),
                claims.nonce
            );
        }
        authorization.time = now()?;
        bind_login(&mut authorization, token, &claims);
    } else if let Some(approver) = &args.approver {
        authorization.time = now()?;
        authorization.approver.subject = approver.clone();
        authorization.authn.method = String::from("self-asserted");
        authorization.authn.authenticated_at = authorization.time;
    }

    let record = Record::Authorization(authorization);
    let envelope = Envelope::sign(&record, &key);
    let entry = envelope.encode();
    if args.dry_run {
        let hash = leaf_hash(&entry);
        if args.common.json {
            println!(
                "{}",
                json!({"submitted": false, "leaf_hash": hash.to_hex(), "nonce": nonce,
                       "record": record.to_json(), "envelope": envelope.to_dsse_json()})
            );
        } else {
            println!("dry run, nothing submitted; the signed record (leaf hash {hash}):");
            println!(
                "{}",
                for_terminal(&serde_json::to_string_pretty(&record.to_json())?)
            );
        }
        return Ok(());
    }
    let s = submit::send_one(&args.common, "the authorization", entry).await?;
    if args.common.json {
        println!(
            "{}",
            json!({"submitted": true, "index": s.index, "leaf_hash": s.leaf_hash.to_hex(),
                   "duplicate": s.duplicate, "tree_size": s.tree_size, "verified": s.verified,
                   "nonce": nonce})
        );
    } else {
        println!("authorization: index {} leaf {}", s.index, s.leaf_hash);
    }
    Ok(())
}
