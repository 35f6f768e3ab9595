//! `causeway`: the command-line client for producers and auditors.
//!
//! This binary only reads the command line and prints: what it checks and
//! computes is in the `causeway_client` library. One module per command
//! group:
//!
//! * [`cli`]: every command and flag; [`args`]: the flags commands share;
//!   [`duration`]: their durations; [`output`]: shared printing.
//! * [`submit`], [`records`] (`keygen`, `record sign`/`show`), [`demo`],
//!   [`preflight`](mod@preflight).
//! * [`checkpoint`], [`proofs`] (`prove inclusion`/`consistency`),
//!   [`tiles`] (`verify-tiles`, `export-tiles`), [`anchor`]
//!   (`verify-anchor`), [`evidence`] (`verify-evidence`).
//! * The auditor's: [`audit`], [`find`], [`bundle`] (`prove bundle`, `verify`),
//!   [`monitor`], and what they trust ([`trust`](mod@trust)).

// The doc comments of `cli` and `args` are clap's help text, written for a
// terminal (`<name>+<hex id>+<base64>`, `[audit]`), not for rustdoc.
#![allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]

mod anchor;
mod approve;
mod args;
mod audit;
mod bundle;
mod checkpoint;
mod cli;
mod credential;
mod demo;
mod duration;
mod evidence;
mod find;
mod monitor;
mod output;
mod preflight;
mod proofs;
mod records;
mod submit;
mod tiles;
mod trust;

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use causeway_client::LeafRef;
use causeway_tlog::merkle::Hash;
use clap::Parser as _;

use crate::args::{log_keys, trust};
use crate::cli::{Cli, Command, Prove, RecordCommand};

fn main() -> ExitCode {
    #[cfg(unix)]
    restore_sigpipe();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        // A block verdict is the command's answer, not a failure: the
        // record was written (or printed), and exit code 3 says "stop".
        Err(e) if e.downcast_ref::<preflight::Blocked>().is_some() => {
            eprintln!("preflight: {e}");
            ExitCode::from(preflight::EXIT_BLOCKED)
        }
        Err(e) => {
            // Errors can quote what a log or a record holds: no invisible
            // characters or terminal escapes reach the terminal.
            eprintln!(
                "error: {}",
                causeway_client::visible::for_terminal(&format!("{e:#}"))
            );
            if e.downcast_ref::<audit::Unverified>().is_some() {
                ExitCode::from(audit::EXIT_UNVERIFIED)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Lets a closed stdout end the process quietly, as it ends `cat` or `grep`.
///
/// Rust starts programs with SIGPIPE ignored, so writing to a pipe whose
/// reader has gone (`causeway … | head -c1`) makes `println!` panic with
/// "failed printing to stdout: Broken pipe". With the default action back,
/// the kernel ends the process by SIGPIPE at that write (status 141 in a
/// shell), which is what pipelines expect. One call here is less invasive
/// and more complete than making every `println!` a checked `writeln!`, and
/// it changes nothing else: sockets are written with MSG_NOSIGNAL by std and
/// tokio (a closed connection is still an EPIPE error, not a signal), and the
/// CLI writes to no pipe of its own.
#[cfg(unix)]
fn restore_sigpipe() {
    // SAFETY: runs first in main, before any other thread exists; SIG_DFL is
    // a valid disposition and installs no handler code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Submit {
            common,
            key,
            kind,
            envelope,
            files,
        } => {
            let key = key.as_deref().map(records::load_key).transpose()?;
            let signing = key.as_ref().zip(kind);
            submit::submit(&common, &files, signing, envelope).await
        }
        Command::Approve(args) => approve::approve(args).await,
        Command::Credential(command) => credential::run(command).await,
        Command::Preflight(args) => preflight::preflight(args).await,
        Command::Keygen { out, json } => records::keygen(&out, json),
        Command::Audit {
            common,
            tiles,
            policy,
            out,
            tsa_roots,
            unverified,
            state,
        } => {
            let trust = trust(&common, true, tsa_roots)?;
            let log = common.target()?;
            audit::require_keys(&trust.log, unverified)?;
            audit::audit(
                &log,
                &tiles.url,
                tiles.http_timeout,
                &policy,
                &out,
                state.as_deref(),
                &trust,
                common.json,
            )
            .await
        }
        Command::Find {
            state,
            ticket,
            approver,
            agent,
            credential,
            target,
            leaf_hash,
            since,
            until,
            bundle,
            common,
        } => {
            use causeway_client::audit_state::find::Key;
            let key = match (ticket, approver, agent, credential, target, leaf_hash) {
                (Some(t), ..) => Key::Ticket(t),
                (_, Some(p), ..) => Key::Approver(p),
                (_, _, Some(a), ..) => Key::Agent(a),
                (_, _, _, Some(c), ..) => Key::Credential(c),
                (.., Some(g), _) => Key::Target(g),
                (.., Some(h)) => Key::LeafHash(h),
                _ => anyhow::bail!(
                    "give one of --ticket, --approver, --agent, --credential, --target, --leaf-hash"
                ),
            };
            let bundles = match bundle {
                Some(dir) => Some(find::Bundles {
                    dir,
                    log: common.target()?,
                    keys: log_keys(&common)?,
                }),
                None => None,
            };
            find::find(
                &state,
                key,
                (since.as_deref(), until.as_deref()),
                bundles,
                common.json,
            )
            .await
        }
        Command::Verify {
            common,
            file,
            policy,
            tsa_roots,
        } => {
            let trust = trust(&common, false, tsa_roots)?;
            bundle::verify_bundle(&file, &trust, policy.as_deref(), common.json)
        }
        Command::Monitor {
            common,
            witness_urls,
            interval,
            rounds,
            audit,
            state,
            policy,
            tiles,
            exec,
        } => {
            let trust = trust(&common, true, None)?;
            let audit = match (audit, state, policy) {
                (true, Some(state), Some(policy)) => Some(monitor::ContinuousAudit {
                    args: monitor::audit_args(&common, &tiles, &policy, &state),
                    state,
                    exec,
                }),
                _ => None,
            };
            monitor::monitor(
                &common.target()?,
                &trust,
                &witness_urls,
                std::time::Duration::from_secs(interval),
                rounds,
                audit.as_ref(),
            )
            .await
        }
        Command::Prove(Prove::Bundle {
            common,
            leaf_hash,
            out,
        }) => {
            let keys = log_keys(&common)?;
            let leaf =
                Hash::from_hex(&leaf_hash).with_context(|| format!("--leaf-hash {leaf_hash:?}"))?;
            bundle::bundle(&common.target()?, &keys, leaf, &out, common.json).await
        }
        Command::Record(RecordCommand::Sign { kind, key, file }) => {
            records::record_sign(kind, &key, file.as_deref())
        }
        Command::Record(RecordCommand::Show {
            log,
            index,
            file,
            json,
            tls,
        }) => records::record_show(&tls.target(&log)?, index, file.as_deref(), json).await,
        Command::Demo {
            common,
            producers,
            actions,
        } => demo::demo(&common.target()?, &producers, actions, common.json).await,
        Command::Checkpoint { common, size } => checkpoint::checkpoint(&common, size).await,
        Command::Prove(Prove::Inclusion {
            common,
            index,
            leaf_hash,
            file,
            size,
            from_tiles,
            wait,
        }) => {
            let leaf = match (index, leaf_hash, file) {
                (_, Some(h), _) => {
                    LeafRef::Hash(Hash::from_hex(&h).with_context(|| format!("--leaf-hash {h:?}"))?)
                }
                (_, _, Some(f)) => {
                    LeafRef::Hash(causeway_tlog::merkle::leaf_hash(&submit::read_entry(&f)?))
                }
                (Some(i), None, None) => LeafRef::Index(i),
                _ => bail!("give --index, --leaf-hash or --file"),
            };
            match from_tiles {
                Some(url) => proofs::prove_inclusion_from_tiles(&common, &url, index, leaf).await,
                None => {
                    let wait = wait.0.unwrap_or_default();
                    proofs::prove_inclusion(&common, index, leaf, size, wait).await
                }
            }
        }
        Command::Prove(Prove::Consistency {
            common,
            old,
            new,
            from_tiles,
        }) => match from_tiles {
            Some(url) => proofs::prove_consistency_from_tiles(&common, &url, old).await,
            None => proofs::prove_consistency(&common, old, new).await,
        },
        Command::VerifyTiles {
            common,
            tiles,
            entries,
        } => tiles::verify_tiles(&common, &tiles, entries).await,
        Command::VerifyEvidence {
            common,
            witness,
            files,
        } => evidence::verify_evidence(&common, witness.as_deref(), &files).await,
        Command::VerifyAnchor {
            common,
            tsa_roots,
            size,
            token,
            checkpoint,
            tsa_policy,
            save,
        } => {
            let offline = token.zip(checkpoint);
            anchor::verify_anchor(
                &common,
                &tsa_roots,
                size,
                offline,
                tsa_policy.as_deref(),
                save.as_deref(),
            )
            .await
        }
        Command::ExportTiles {
            common,
            tiles,
            out,
            no_entries,
        } => tiles::export_tiles(&common, &tiles, &out, no_entries).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
        // Every flag's type matches its parser (clap checks that only when
        // parsing).
        Cli::try_parse_from(["causeway", "checkpoint", "--max-cosignature-age", "none"]).unwrap();
        Cli::try_parse_from([
            "causeway",
            "prove",
            "inclusion",
            "--index",
            "1",
            "--wait",
            "2m",
        ])
        .unwrap();
        let parsed = Cli::try_parse_from([
            "causeway",
            "preflight",
            "--subject",
            "ab",
            "--key",
            "v.pem",
            "--osv",
            "osv",
            "--stage",
            "promotion",
            "--at",
            "2026-12-24T10:00:00+01:00",
            "--check",
            "lint=cargo clippy",
        ])
        .unwrap();
        let Command::Preflight(args) = parsed.command else {
            panic!("not preflight");
        };
        assert_eq!(args.stage, cli::StageArg::Promotion);
        assert_eq!(
            args.at.map(|t| t.to_string()).as_deref(),
            Some("2026-12-24T09:00:00Z")
        );
        assert!(Cli::try_parse_from(["causeway", "preflight", "--at", "soon"]).is_err());
    }
}
