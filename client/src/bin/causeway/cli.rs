//! The `causeway` command line: every command, flag and environment
//! variable, as clap reads them. Nothing here runs a command: `main`
//! dispatches each one to the module of its group.

use std::path::PathBuf;

use causeway_client::DEFAULT_LOG_URL;
use causeway_records::{Kind, Stage};
use clap::{Args, Parser, Subcommand};

use crate::args::{Common, TilesArg, TlsArgs};
use crate::duration::{Age, parse_age};

/// Causeway client: submit entries to a log and verify its checkpoints and
/// proofs.
///
/// Commands that verify take the log's keys with --vkey (repeatable; every
/// key given must have signed). Given keys, nothing unverifiable is printed
/// as valid and the exit code is non-zero on any failure. Without keys,
/// commands print what they fetched with "verified": false (proof
/// arithmetic is still checked).
#[derive(Parser, Debug)]
#[command(name = "causeway", version, about, long_about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Submits each FILE as one log entry and prints its index and leaf hash.
    ///
    /// Entries are sent in batches and acknowledged only once durable. A
    /// file already in the log gets its original index ("duplicate": true).
    /// With --vkey, the returned checkpoint and each entry's inclusion in
    /// it are verified before anything is printed.
    Submit {
        #[command(flatten)]
        common: Common,
        /// Sign each FILE (a record's JSON) with this producer key (PKCS#8
        /// PEM from `causeway keygen`) as a record of --kind.
        #[arg(long, requires = "kind", conflicts_with = "envelope")]
        key: Option<PathBuf>,
        /// The record kind of every FILE: authorization, preflight,
        /// credential, action, exception, closure, review or outcome.
        #[arg(long, requires = "key")]
        kind: Option<Kind>,
        /// Each FILE is a DSSE JSON envelope (as `causeway record sign`
        /// prints); submit it as is.
        #[arg(long)]
        envelope: bool,
        /// Files to submit: raw entries (1 to 65,535 bytes each; for logs
        /// running --accept opaque), record JSON with --key/--kind, or
        /// envelopes with --envelope.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Creates a producer key: ECDSA P-256, PKCS#8 PEM, mode 0600. Prints
    /// its key ID (hex SHA-256 of the DER SPKI) and the public key to put
    /// in the producer policy.
    Keygen {
        /// Where to write the key (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Print {"key", "key_id", "public_key"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Audits the whole log: fetches every entry from the tiles (--tiles: a
    /// URL or an exported directory) with a progress bar, recomputes the
    /// tree and checks it against the signed checkpoint (log keys, witness
    /// quorum) and every RFC 3161 anchored checkpoint (--tsa-roots),
    /// re-verifies every record's signature and references under --policy,
    /// builds the causal DAG and answers, for every action, who authorized
    /// it and how. Writes DIR/report.json and a self-contained
    /// DIR/index.html (CC8.1 evidence matrix, one section per
    /// authorization, red flags, trust basis). Fails loudly on a tampered or
    /// forked log; red flags are reported, not errors.
    ///
    /// Needs the log's keys (--vkey) or --unverified. The first line says
    /// what was checked and what was NOT. Exit codes: 0 verified; 1 failed
    /// (tampered or forked log, entries that are not valid records, no
    /// anchor verified with --tsa-roots, bad input); 3 unverified (ran with
    /// --unverified and found nothing else wrong).
    Audit {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        tiles: TilesArg,
        /// The producer policy (its optional [audit] table sets the red-flag thresholds).
        #[arg(long, env = "CAUSEWAY_POLICY")]
        policy: PathBuf,
        /// Where to write report.json and index.html.
        #[arg(long)]
        out: PathBuf,
        /// The TSA's trusted roots, to verify the anchors. An audit that
        /// can then verify no anchor (--log unreachable, none listed) fails.
        #[arg(long, env = "CAUSEWAY_TSA_ROOTS")]
        tsa_roots: Option<PathBuf>,
        /// Audit without the log's keys (no --vkey): the checkpoint's
        /// signatures are not checked, every output says UNVERIFIED, and
        /// the exit code is 3 even when nothing else is wrong. Without
        /// --vkey or this flag the audit refuses to run.
        #[arg(long)]
        unverified: bool,
        /// Keep what the audit verified in DIR/audit.sqlite (schema in the
        /// README), for `causeway find` and sqlite3. A later audit with the
        /// same DIR first proves the stored checkpoint consistent with the
        /// log's new one; if it is not, it fails with the fork evidence
        /// (also in DIR/fork-evidence.json) and changes nothing.
        #[arg(long, value_name = "DIR", conflicts_with = "unverified")]
        state: Option<PathBuf>,
    },
    /// Finds changes in an audit state (`causeway audit --state DIR`),
    /// offline: for each change with a record matching the key, prints
    /// its causal chain (authorization, pre-flight, credentials, action
    /// count, closure or revocation, review) and the findings on its
    /// records. Needs no log: the state holds only what the audit verified.
    #[command(group(clap::ArgGroup::new("key").required(true).multiple(false)))]
    Find {
        /// The audit state directory.
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// An authorization's ticket.
        #[arg(long, group = "key")]
        ticket: Option<String>,
        /// The approving human (approver.subject).
        #[arg(long, group = "key")]
        approver: Option<String>,
        /// An agent (a credential's agent.id).
        #[arg(long, group = "key")]
        agent: Option<String>,
        /// A credential's serial or leaf hash.
        #[arg(long, value_name = "SERIAL_OR_LEAF", group = "key")]
        credential: Option<String>,
        /// Actions whose target matches this glob (*, ?, [...]; case-sensitive).
        #[arg(long, value_name = "GLOB", group = "key")]
        target: Option<String>,
        /// Any record's leaf hash.
        #[arg(long, value_name = "HEX", group = "key")]
        leaf_hash: Option<String>,
        /// Only matching records at or after this time (RFC 3339).
        #[arg(long, value_name = "RFC3339")]
        since: Option<String>,
        /// Only matching records at or before this time (RFC 3339).
        #[arg(long, value_name = "RFC3339")]
        until: Option<String>,
        /// Also write into DIR the offline proof bundle (`causeway
        /// verify`) of each matching change's records that close its chain:
        /// its credentials, pre-flights, exceptions, closures and reviews
        /// (and the --leaf-hash record), each with its causal ancestors,
        /// proved now against the log at --log with --vkey. The only part
        /// of `find` that needs the network.
        #[arg(long, value_name = "DIR")]
        bundle: Option<PathBuf>,
        /// The log, its keys and --json (the log only for --bundle).
        #[command(flatten)]
        common: Common,
    },
    /// Checks a proof bundle (`causeway prove bundle`) with no network: the
    /// checkpoint's signatures (--vkey) and witness quorum, every entry's
    /// inclusion, the anchor (--tsa-roots), and with --policy every
    /// record's signature, authorization and references.
    Verify {
        #[command(flatten)]
        common: Common,
        /// The bundle.
        file: PathBuf,
        /// The producer policy.
        #[arg(long, env = "CAUSEWAY_POLICY")]
        policy: Option<PathBuf>,
        /// The TSA's trusted roots.
        #[arg(long, env = "CAUSEWAY_TSA_ROOTS")]
        tsa_roots: Option<PathBuf>,
    },
    /// Follows a log: verifies each new checkpoint (keys, witness policy)
    /// and its consistency with the previous one, and compares it with the
    /// latest checkpoint each --witness-url cosigned, to detect split views.
    /// One JSON line per event; exits non-zero on misbehaviour.
    Monitor {
        #[command(flatten)]
        common: Common,
        /// A witness's URL (its monitoring path is queried). Repeatable.
        #[arg(long = "witness-url")]
        witness_urls: Vec<String>,
        /// Seconds between polls.
        #[arg(long, default_value_t = 5)]
        interval: u64,
        /// Stop after this many polls (default: run until stopped).
        #[arg(long)]
        rounds: Option<u64>,
        /// Continuous audit: on every new checkpoint, run `causeway audit
        /// --state DIR` and print each red flag not reported before as one
        /// JSON line (`{"event": "finding", ...}`), once, across restarts
        /// (the state remembers). Needs --state and --policy, and --tiles
        /// unless the log's tiles are at the default URL.
        #[arg(long, requires_all = ["state", "policy"])]
        audit: bool,
        /// The audit state directory (see `causeway audit --state`).
        #[arg(long, value_name = "DIR", requires = "audit")]
        state: Option<PathBuf>,
        /// The producer policy the audit judges by.
        #[arg(long, requires = "audit")]
        policy: Option<PathBuf>,
        #[command(flatten)]
        tiles: TilesArg,
        /// Run this shell command once per new finding, with the finding as
        /// JSON on stdin (paging, ticketing). A finding whose command fails
        /// is reported again on the next round.
        #[arg(long, value_name = "CMD", requires = "audit")]
        exec: Option<String>,
    },
    /// A human approves a scoped plan: shows the plan file, asks for
    /// confirmation, logs in at the identity provider with the plan's
    /// digest as nonce (--oidc-issuer), then signs and submits the
    /// `authorization`.
    #[command(long_about = APPROVE_HELP)]
    Approve(ApproveArgs),
    /// Just-in-time agent credentials from `causeway-issuer`: issue one
    /// bound to an approved authorization, revoke it, close it.
    #[command(subcommand)]
    Credential(CredentialCommand),
    /// Runs a change's pre-flight checks offline (lockfiles against an OSV
    /// database, change-freeze windows, custom commands), then signs and
    /// submits the `preflight` record. Exit 0 pass, 3 block, 1 error.
    #[command(long_about = PREFLIGHT_HELP)]
    Preflight(PreflightArgs),
    /// Governance records: sign and inspect.
    #[command(subcommand)]
    Record(RecordCommand),
    /// Writes a complete, realistic causal chain to a running log: a human
    /// approval, a pre-flight pass, a JIT credential for an orchestrator
    /// agent, its actions, a delegated credential for a sub-agent and its
    /// actions, both closures and a human review, parents before children.
    /// Signs with the demo producers' keys (approver, reviewer, issuer,
    /// verifier .pem) that `causeway-server --dev` creates and trusts.
    Demo {
        #[command(flatten)]
        common: Common,
        /// The directory with the demo producers' keys.
        #[arg(long, default_value = "causeway-dev/producers")]
        producers: PathBuf,
        /// How many actions the orchestrator takes (the sub-agent takes half as many).
        #[arg(long, default_value_t = 24)]
        actions: usize,
    },
    /// Fetches the latest checkpoint (or the one at --size) and verifies it.
    Checkpoint {
        #[command(flatten)]
        common: Common,
        /// The tree size of a published checkpoint; latest if absent.
        #[arg(long)]
        size: Option<u64>,
    },
    /// Fetches and verifies proofs.
    #[command(subcommand)]
    Prove(Prove),
    /// Verifies a whole log from its C2SP tiles alone: the signed
    /// checkpoint, every hash tile against the level above, the root, and
    /// with --entries every entry bundle. Trusts no proof endpoint.
    VerifyTiles {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        tiles: TilesArg,
        /// Also fetch every entry bundle and check each entry's leaf hash.
        #[arg(long)]
        entries: bool,
    },
    /// Verifies an RFC 3161 anchor of a checkpoint, offline or fetched from
    /// the log: the TSA token must timestamp SHA-256 of the checkpoint body,
    /// carry a valid CMS signature bound (ESS) to a TSA certificate with a
    /// single critical timeStamping EKU, and chain to --tsa-roots at its
    /// genTime. With --vkey the checkpoint's log signatures are checked too.
    ///
    /// Online: fetches the anchor at --size (latest if absent) with its
    /// checkpoint. Offline: --token FILE --checkpoint FILE (a signed note
    /// or just its body). --save DIR writes the token and the body for
    /// `openssl ts -verify`.
    VerifyAnchor {
        #[command(flatten)]
        common: Common,
        /// PEM (or DER) file with the TSA's trusted root certificate(s).
        #[arg(long, env = "CAUSEWAY_TSA_ROOTS")]
        tsa_roots: PathBuf,
        /// The anchored tree size (online); latest if absent.
        #[arg(long, conflicts_with = "token")]
        size: Option<u64>,
        /// A saved DER TimeStampResp (offline; needs --checkpoint).
        #[arg(long, requires = "checkpoint")]
        token: Option<PathBuf>,
        /// The checkpoint the token covers: a signed note, or its body.
        #[arg(long, requires = "token")]
        checkpoint: Option<PathBuf>,
        /// A TSA policy OID the token must carry.
        #[arg(long)]
        tsa_policy: Option<String>,
        /// Write anchor-<size>.tsr, checkpoint-<size>.note and
        /// checkpoint-<size>.body into this directory.
        #[arg(long)]
        save: Option<PathBuf>,
    },
    /// Checks split-view evidence kept by a witness: both checkpoints of
    /// each record must carry a valid signature of the log (--vkey), and
    /// the command says what they prove. Reads a witness's /evidence list
    /// (--witness URL) or saved records (FILE…: one record or a list per
    /// file, as `causeway-witness evidence --json` prints them). Exits
    /// non-zero if any record does not verify.
    VerifyEvidence {
        #[command(flatten)]
        common: Common,
        /// A witness's URL; its /evidence list is fetched.
        #[arg(long, required_unless_present = "files")]
        witness: Option<String>,
        /// Saved evidence records.
        files: Vec<PathBuf>,
    },
    /// Copies a log's tiles, entry bundles and checkpoint into a directory
    /// that any static file server, bucket or CDN can serve at the same
    /// paths. Incremental: full tiles already there are not fetched again.
    /// The copy is verified before its checkpoint is replaced.
    ExportTiles {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        tiles: TilesArg,
        /// The directory to write (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Copy hash tiles only, not entry bundles.
        #[arg(long)]
        no_entries: bool,
    },
}

/// The long help of `causeway preflight`, kept as written (clap would
/// join the lines of the calendar example).
const PREFLIGHT_HELP: &str = "\
Runs a change's pre-flight checks offline, then signs and submits the
`preflight` record that says what they found.

The checks, in this order: each --lockfile against the OSV database --osv
(one check `osv:FILE` each: every advisory that affects a locked version
blocks, and its GHSA/CVE ids go into the record), the --freeze calendar
judged at --at (one check `freeze`: inside a change-freeze window blocks),
then each --check NAME=CMD (CMD run by `sh -c`: exit status 0 passes,
anything else blocks). The verdict is block if any check blocks, or if
there is no check at all.

The record (`subject` --subject, `stage`, one `checks[]` entry per check,
`verdict`, `time` now) is signed with --key, a verifier principal's key,
and submitted to --log as `causeway submit --key` does. The command prints
each check with its result and advisory ids, then the record's index and
leaf hash (--json: one JSON object). A block record is submitted too: it
is the evidence that the change was stopped. --dry-run prints the signed
record and submits nothing.

Exit codes:
  0  pass: the record is in the log (or printed, with --dry-run)
  3  block: the record is in the log (or printed, with --dry-run)
  1  error: an input could not be read, the log refused the record or
     could not be reached; nothing vouches for the change
  2  bad usage
Gate a pipeline on exit code 0 only.

The freeze calendar is TOML. Start and end are wall-clock times in an IANA
zone (the window's `zone`, else the calendar's); the end is exclusive:

  zone = \"Europe/Berlin\"

  [[window]]
  name = \"year-end\"
  start = 2026-12-19T18:00:00
  end = 2027-01-04T08:00:00
  reason = \"holiday change freeze\"

Example:
  causeway preflight --subject 645e6ef3… --key verifier.pem \\
    --osv osv/ --lockfile Cargo.lock --lockfile web/package-lock.json \\
    --freeze freeze.toml --check unit-tests='cargo test --locked'";

const APPROVE_HELP: &str = "\
A human approves a scoped plan, and the log records it as an `authorization`.

The plan file (TOML) holds ticket, objective, method, test_approach, backout,
the window (not_before, and not_after or valid_for) and [scope]
with change_class, targets and actions. The command prints it and asks for
confirmation (--yes for scripts), then signs the record with --key and submits
it.

With --oidc-issuer and --client-id it first runs an OpenID Connect login
(authorization code with PKCE) in the browser, redirected back to a one-shot
listener on 127.0.0.1. The login's nonce is the digest of the exact plan,
scope, ticket and window, so the ID token proves that this person, signed in
this way, approved this plan, and cannot be moved to another. The token goes
into the record (authn.id_token) and the approver, sign-in time, MFA and
assurance are copied from it; the log checks them against the identity
provider its policy pins ([[idp]]) and refuses a mismatch with
PERMISSION_DENIED naming the claim. --id-token FILE uses a token obtained
elsewhere (its nonce must be this plan's digest, which the command prints).

Without a login the approver is --approver and the record says so: its sign-in
is the signer's word alone, and a policy with require_idp refuses it.

Example:
  causeway approve --plan change.toml --key alice.pem \\
    --oidc-issuer https://sso.example.com --client-id causeway-approve";

/// The flags of `causeway approve`.
#[derive(Args, Debug)]
pub(crate) struct ApproveArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// The plan file (TOML; see above).
    #[arg(long, value_name = "FILE")]
    pub(crate) plan: PathBuf,
    /// The approver's producer key (PKCS#8 PEM), listed in the producer
    /// policy under a human principal.
    #[arg(long, value_name = "KEY")]
    pub(crate) key: PathBuf,
    /// The identity provider's issuer URL, to log in at.
    #[arg(
        long,
        value_name = "URL",
        requires = "client_id",
        conflicts_with = "id_token"
    )]
    pub(crate) oidc_issuer: Option<String>,
    /// The OAuth client ID of the approval tool at that provider (a public
    /// client allowed to redirect to http://127.0.0.1/callback).
    #[arg(long, value_name = "ID", requires = "oidc_issuer")]
    pub(crate) client_id: Option<String>,
    /// An ID token (compact JWS) obtained elsewhere for this plan's nonce.
    #[arg(long, value_name = "FILE", conflicts_with = "approver")]
    pub(crate) id_token: Option<PathBuf>,
    /// Without a login: the approver's subject (the principal's name or
    /// one of its subjects).
    #[arg(long, value_name = "SUBJECT", required_unless_present_any = ["oidc_issuer", "id_token"])]
    pub(crate) approver: Option<String>,
    /// Do not start a browser; only print the login URL.
    #[arg(long)]
    pub(crate) no_browser: bool,
    /// How long to wait for the browser to come back from the login.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    pub(crate) login_timeout: std::time::Duration,
    /// Approve without asking (for scripts).
    #[arg(long)]
    pub(crate) yes: bool,
    /// Print the signed record instead of submitting it.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

/// Where the issuer is and how to reach it (mutual TLS).
#[derive(Args, Debug)]
pub(crate) struct IssuerArgs {
    /// The issuer's gRPC URL.
    #[arg(
        long,
        env = "CAUSEWAY_ISSUER",
        default_value = "https://127.0.0.1:7420"
    )]
    pub(crate) issuer: String,
    /// PEM CA certificate(s) to trust for the issuer's certificate
    /// (default: the system's roots).
    #[arg(long, env = "CAUSEWAY_ISSUER_CA", value_name = "FILE")]
    pub(crate) issuer_ca: Option<PathBuf>,
    /// This caller's client certificate (PEM), which the issuer's config
    /// must allow for the agent id.
    #[arg(
        long,
        env = "CAUSEWAY_ISSUER_CERT",
        value_name = "FILE",
        requires = "issuer_key"
    )]
    pub(crate) issuer_cert: Option<PathBuf>,
    /// The PEM private key of --issuer-cert.
    #[arg(
        long,
        env = "CAUSEWAY_ISSUER_KEY",
        value_name = "FILE",
        requires = "issuer_cert"
    )]
    pub(crate) issuer_key: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum CredentialCommand {
    /// Asks the issuer for a credential bound to an authorization; writes
    /// the session key to --key-out (0600) once the log has the credential.
    Issue(Box<IssueArgs>),
    /// Revokes a credential: the issuer writes a revoking exception, and
    /// the log refuses the session key from then on.
    Revoke {
        #[command(flatten)]
        issuer: IssuerArgs,
        /// The credential's leaf hash.
        #[arg(long, value_name = "REF")]
        credential: String,
        /// Why, for the record.
        #[arg(long)]
        reason: String,
    },
    /// Ends a credential's session: the issuer writes a forced closure.
    Close {
        #[command(flatten)]
        issuer: IssuerArgs,
        /// The credential's leaf hash.
        #[arg(long, value_name = "REF")]
        credential: String,
    },
}

/// The flags of `causeway credential issue`.
#[derive(Args, Debug)]
pub(crate) struct IssueArgs {
    #[command(flatten)]
    pub(crate) issuer: IssuerArgs,
    /// The authorization's leaf hash (as `causeway approve` printed it).
    #[arg(long, value_name = "REF")]
    pub(crate) authorization: String,
    /// Its passing issuance pre-flight's leaf hash (as `causeway
    /// preflight` printed it).
    #[arg(long, value_name = "REF")]
    pub(crate) preflight: String,
    /// Delegate from this credential (narrower scope, shorter life).
    #[arg(long, value_name = "REF")]
    pub(crate) parent: Option<String>,
    /// The agent's identity, distinct from any human's.
    #[arg(long)]
    pub(crate) agent_id: String,
    /// The model the agent runs.
    #[arg(long, default_value = "")]
    pub(crate) agent_model: String,
    /// The agent's version.
    #[arg(long, default_value = "")]
    pub(crate) agent_version: String,
    /// The change class, as the authorization's.
    #[arg(long, default_value = "standard")]
    pub(crate) change_class: String,
    /// A target in scope (repeatable; each must be one of the
    /// authorization's).
    #[arg(long = "target", required = true)]
    pub(crate) targets: Vec<String>,
    /// An action in scope (repeatable; each must be one of the
    /// authorization's).
    #[arg(long = "action", required = true)]
    pub(crate) actions: Vec<String>,
    /// How long the credential lives (e.g. 30m, 1h).
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    pub(crate) ttl: std::time::Duration,
    /// The idempotence key: retrying with the same one returns the same
    /// credential. [default: random]
    #[arg(long)]
    pub(crate) request_id: Option<String>,
    /// Where to write the session key (PKCS#8 PEM, mode 0600; must not
    /// exist).
    #[arg(long, value_name = "FILE")]
    pub(crate) key_out: PathBuf,
}

/// The flags of `causeway preflight`.
#[derive(Args, Debug)]
pub(crate) struct PreflightArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// What was checked: the leaf hash (64 hex digits, as `causeway
    /// submit` prints it) of the authorization or credential in the log.
    #[arg(long, value_name = "REF")]
    pub(crate) subject: String,
    /// The verifier's producer key (PKCS#8 PEM); the producer policy must
    /// list it under a principal with role "verifier".
    #[arg(long, value_name = "VERIFIER_KEY")]
    pub(crate) key: PathBuf,
    /// The offline OSV database: a directory of OSV JSON files as osv.dev
    /// exports them per ecosystem (crates.io/, npm/, PyPI/, Go/ …; any
    /// layout, every *.json file under it is read).
    #[arg(long, value_name = "DIR")]
    pub(crate) osv: PathBuf,
    /// A lockfile to check, told by its name: Cargo.lock,
    /// package-lock.json (v2/v3), requirements*.txt (pinned with ==),
    /// poetry.lock or go.sum. Repeatable.
    #[arg(long = "lockfile", value_name = "FILE")]
    pub(crate) lockfiles: Vec<PathBuf>,
    /// A TOML calendar of change-freeze windows (see the example above).
    #[arg(long, value_name = "FILE")]
    pub(crate) freeze: Option<PathBuf>,
    /// A custom check: NAME (letters, digits, '.', '_', '-') and a command
    /// run by `sh -c`, whose exit status 0 passes. Repeatable.
    #[arg(long = "check", value_name = "NAME=CMD")]
    pub(crate) checks: Vec<String>,
    /// When the pre-flight runs: before a credential is issued, or before
    /// a change is promoted.
    #[arg(long, value_enum, default_value_t = StageArg::Issuance)]
    pub(crate) stage: StageArg,
    /// The time of the change, to judge the freeze windows at (RFC 3339,
    /// such as 2026-12-24T09:00:00Z). The record's own time is always now.
    /// [default: now]
    #[arg(long, value_name = "RFC3339", value_parser = parse_timestamp)]
    pub(crate) at: Option<jiff::Timestamp>,
    /// Print the signed record (and its leaf hash) instead of submitting
    /// it.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

/// `--stage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum StageArg {
    /// Before a credential is issued.
    Issuance,
    /// Before a change is promoted.
    Promotion,
}

impl From<StageArg> for Stage {
    fn from(stage: StageArg) -> Stage {
        match stage {
            StageArg::Issuance => Stage::Issuance,
            StageArg::Promotion => Stage::Promotion,
        }
    }
}

fn parse_timestamp(text: &str) -> Result<jiff::Timestamp, String> {
    text.parse()
        .map_err(|e| format!("{e}; write RFC 3339 with an offset, such as 2026-12-24T09:00:00Z"))
}

#[derive(Subcommand, Debug)]
pub(crate) enum RecordCommand {
    /// Signs a record (JSON, from FILE or stdin) with a producer key and
    /// prints the DSSE JSON envelope.
    Sign {
        /// The record kind.
        #[arg(long)]
        kind: Kind,
        /// The producer key (PKCS#8 PEM).
        #[arg(long)]
        key: PathBuf,
        /// The record JSON; stdin if absent or "-".
        file: Option<PathBuf>,
    },
    /// Decodes an entry of the log (--index) or an envelope file (DSSE
    /// JSON or entry bytes) to JSON: kind, record, signer key IDs, leaf hash.
    Show {
        /// The log's gRPC endpoint.
        #[arg(long, env = "CAUSEWAY_LOG", default_value = DEFAULT_LOG_URL)]
        log: String,
        /// An entry of the log.
        #[arg(long, conflicts_with = "file")]
        index: Option<u64>,
        /// An envelope file.
        file: Option<PathBuf>,
        /// One line of JSON instead of pretty JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        tls: TlsArgs,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum Prove {
    /// Proves that a leaf is in the tree of a signed checkpoint.
    Inclusion {
        #[command(flatten)]
        common: Common,
        /// The leaf's index.
        #[arg(long, required_unless_present_any = ["leaf_hash", "file"])]
        index: Option<u64>,
        /// The leaf's RFC 6962 hash, 64 hex digits (checked against --index if both are given).
        #[arg(long, conflicts_with = "file")]
        leaf_hash: Option<String>,
        /// A file whose content is the entry (its leaf hash is computed locally).
        #[arg(long)]
        file: Option<PathBuf>,
        /// The tree size of a published checkpoint to prove against; latest if absent.
        #[arg(long)]
        size: Option<u64>,
        /// Compute the proof from the log's tiles at this URL instead of
        /// asking the server for it (needs --index; the checkpoint comes
        /// from the tiles too, so --size is not allowed).
        #[arg(long = "from-tiles", value_name = "URL", conflicts_with = "size")]
        from_tiles: Option<String>,
        /// Without --size, wait up to this long (e.g. 5s, 1m, none) for a
        /// published checkpoint that includes the leaf: with witnesses, a
        /// just-submitted entry is published once a quorum cosigned.
        #[arg(long, default_value = "5s", value_parser = parse_age)]
        wait: Age,
    },
    /// Packs one record, its causal ancestors, their inclusion proofs, the
    /// checkpoint they are proved against (the latest anchored one that
    /// covers the record, if any) and its RFC 3161 anchor into one JSON
    /// file that `causeway verify` checks offline.
    Bundle {
        #[command(flatten)]
        common: Common,
        /// The record's leaf hash (64 hex digits).
        #[arg(long)]
        leaf_hash: String,
        /// Where to write the bundle.
        #[arg(long)]
        out: PathBuf,
    },
    /// Proves that one signed checkpoint's tree is a prefix of another's.
    Consistency {
        #[command(flatten)]
        common: Common,
        /// The old tree size (a size at which a checkpoint was published).
        #[arg(long)]
        old: u64,
        /// The new tree size; latest if absent.
        #[arg(long)]
        new: Option<u64>,
        /// Compute the proof from the log's tiles at this URL (the new
        /// checkpoint comes from the tiles; the old one from --log).
        #[arg(long = "from-tiles", value_name = "URL", conflicts_with = "new")]
        from_tiles: Option<String>,
    },
}
