//! `causeway-audit-bench`: what auditing a records log costs (issue 18).
//!
//! Starts a real `causeway-server` in records mode and writes it a log of
//! realistic shape through the gRPC API: several humans approve changes,
//! two verifiers pass them, two issuers give each an orchestrator
//! credential that delegates to a child and a grandchild (two levels),
//! the three session keys act, every credential is closed, and another
//! human reviews each change. Then, for each `--actions` size, it runs the
//! real `causeway audit` as a child (wall time, peak RSS from `wait4`,
//! report sizes), an audit with `--state`, another after 1% more entries,
//! and `causeway find`; and, as the ceiling, ECDSA P-256 verifications/s
//! on every core.
//!
//! ```text
//! cargo build --release -p causeway-server -p causeway-client -p causeway-bench --bins
//! target/release/causeway-audit-bench        # --actions 100000,1000000 --humans 5 --changes 50
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use causeway_bench::limit::{Implementation, VerifyLimit, verify_limit};
use causeway_bench::rusage::{Measured, wait_measured};
use causeway_bench::{RecordsLog, records_log};
use causeway_client::LogClient;
use causeway_client::demo::rfc3339;
use causeway_records::{Envelope, Kind, ProducerKey, Record};
use causeway_tlog::merkle::{Hash, leaf_hash};
use clap::Parser;
use serde_json::{Value, json};

/// Audit cost on a records log of realistic shape, against the
/// verification limit.
#[derive(Parser, Debug)]
#[command(name = "causeway-audit-bench", version, about)]
struct Args {
    /// Directory of the causeway-server and causeway binaries (default:
    /// next to this one).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Human principals (approvers, and each other's reviewers).
    #[arg(long, default_value_t = 5)]
    humans: usize,
    /// Changes (authorizations) written for each size.
    #[arg(long, default_value_t = 50)]
    changes: usize,
    /// Log sizes in actions, ascending; one row each. The log grows from
    /// one size to the next, so a later row reuses the earlier log.
    #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
    actions: Vec<usize>,
    /// Records per AddEntries call.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Concurrent clients writing the log.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// `causeway find` runs per size, for its median.
    #[arg(long, default_value_t = 20)]
    find_runs: usize,
    /// How long the verification limit is measured, in seconds.
    #[arg(long, default_value_t = 5)]
    limit_secs: u64,
    /// Keep the log, reports and states here (default: a temporary
    /// directory, removed at the end).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Print the results as one JSON object instead of tables.
    #[arg(long)]
    json: bool,
}

/// The long-lived producer keys (listed in the policy).
struct Keys {
    humans: Vec<ProducerKey>,
    issuers: [ProducerKey; 2],
    verifiers: [ProducerKey; 2],
}

/// Records in submission order: every record's parents are in an earlier
/// stage, so a stage may be written in parallel once the one before it
/// is acknowledged.
const STAGES: usize = 8;

/// Entries by stage.
type Staged = Vec<Vec<Vec<u8>>>;

fn human_name(i: usize) -> String {
    format!("human{i}@example.com")
}

fn spki_b64(key: &ProducerKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.public_spki_der())
}

fn signed(kind: Kind, value: Value, key: &ProducerKey) -> anyhow::Result<(Vec<u8>, Hash)> {
    let record = Record::from_json(kind, &value.to_string()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let bytes = Envelope::sign(&record, key).encode();
    let hash = leaf_hash(&bytes);
    Ok((bytes, hash))
}

/// A batch of changes written together: `changes` changes sharing
/// `actions` actions, their times in the hour before `now`.
struct Epoch<'a> {
    keys: &'a Keys,
    /// Makes tickets and serials unique across epochs.
    tag: String,
    changes: usize,
    actions: usize,
    now: i64,
}

/// One credential of a change: its hash, session key and action count.
struct Session {
    hash: Hash,
    key: ProducerKey,
    issued: i64,
    actions: u64,
}

impl Epoch<'_> {
    fn ticket(&self, c: usize) -> String {
        format!("CHG-{}-{c:04}", self.tag)
    }

    /// Signs every change, on every core (signing a million actions
    /// takes a while on one).
    fn build(&self) -> anyhow::Result<Staged> {
        let threads = std::thread::available_parallelism()?.get();
        let parts = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        (t..self.changes)
                            .step_by(threads)
                            .map(|c| self.change(c))
                            .collect::<anyhow::Result<Vec<Staged>>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .map_err(|_| anyhow::anyhow!("a signing thread panicked"))?
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })?;
        let mut staged: Staged = vec![Vec::new(); STAGES];
        for change in parts.into_iter().flatten() {
            for (stage, entries) in staged.iter_mut().zip(change) {
                stage.extend(entries);
            }
        }
        Ok(staged)
    }

    /// Change `c`'s records, by stage.
    fn change(&self, c: usize) -> anyhow::Result<Staged> {
        let keys = self.keys;
        let humans = keys.humans.len();
        let approver = c % humans;
        let reviewer = (c + 1) % humans;
        let n = self.actions / self.changes + usize::from(c < self.actions % self.changes);
        // The chain runs in the hour before `now`: approvals spread over
        // its first 50 minutes, the sessions after them, reviews last.
        let base = self.now - 3600;
        let spread = |span: usize, i: usize, of: usize| (span * i / of.max(1)) as i64;
        let t_auth = base - 3000 + spread(2900, c, self.changes);
        let sso = "https://sso.example.com";
        let scope = json!({
            "change_class": "standard",
            "targets": ["prod/payments-api", "prod/vault/payments-db"],
            "actions": ["deploy", "rotate-credential", "read-logs"],
        });
        let mut staged: Staged = vec![Vec::new(); STAGES];

        let auth = signed(
            Kind::Authorization,
            json!({
                "approver": {"subject": human_name(approver), "issuer": sso},
                "authn": {"method": "oidc+webauthn", "mfa": true, "assurance": "aal2", "authenticated_at": rfc3339(t_auth - 60)},
                "plan": {
                    "objective": format!("Rotate the payments-api database credentials and roll the service ({})", self.ticket(c)),
                    "method": "Vault lease rotation runbook RB-112, applied through the deployment pipeline",
                    "test_approach": "Canary on one pod; the synthetic checkout probe must stay green for 10 minutes",
                    "backout": "Re-enable the previous lease and `helm rollback payments-api`"
                },
                "scope": scope,
                "ticket": self.ticket(c),
                "not_before": rfc3339(t_auth),
                "not_after": rfc3339(base + 8 * 3600),
                "time": rfc3339(t_auth),
            }),
            &keys.humans[approver],
        )?;
        staged[0].push(auth.0);
        let pre = signed(
            Kind::Preflight,
            json!({
                "subject": auth.1.to_hex(),
                "stage": "issuance",
                "checks": [
                    {"name": "sast", "result": "pass", "detail": "semgrep: 0 findings in the change", "cves": []},
                    {"name": "dependency-audit", "result": "pass", "detail": "no vulnerable versions in the lockfile", "cves": []}
                ],
                "verdict": "pass",
                "time": rfc3339(t_auth + 5),
            }),
            &keys.verifiers[c % 2],
        )?;
        staged[1].push(pre.0);

        // Root, child, grandchild: each narrower than its parent, each
        // signed by its parent's session key.
        let chain = [
            ("", "orchestrator", scope.clone(), 8),
            (
                ".1",
                "deployer",
                json!({"change_class": "standard", "targets": ["prod/payments-api"], "actions": ["deploy", "read-logs"]}),
                7,
            ),
            (
                ".1.1",
                "log-reader",
                json!({"change_class": "standard", "targets": ["prod/payments-api"], "actions": ["read-logs"]}),
                6,
            ),
        ];
        let mut sessions: Vec<Session> = Vec::with_capacity(3);
        for (level, (suffix, agent, scope, hours)) in chain.into_iter().enumerate() {
            let key = ProducerKey::generate(&mut rand::rngs::OsRng);
            let issued = base + 10 + 2 * level as i64;
            let mut body = json!({
                "serial": format!("jit-{}-{c}{suffix}", self.tag),
                "agent": {"id": format!("agent://{agent}-{}-{c}", self.tag), "model": "claude-sonnet-4.5", "version": "2026-10-01"},
                "authorization": auth.1.to_hex(),
                "preflight": pre.1.to_hex(),
                "scope": scope,
                "session_key": spki_b64(&key),
                "issued_at": rfc3339(issued),
                "expires_at": rfc3339(base + hours * 3600),
                "time": rfc3339(issued),
            });
            let signer = match sessions.last() {
                Some(parent) => {
                    body["parent"] = json!(parent.hash.to_hex());
                    &parent.key
                }
                None => &keys.issuers[c % 2],
            };
            let (bytes, hash) = signed(Kind::Credential, body, signer)?;
            staged[2 + level].push(bytes);
            sessions.push(Session {
                hash,
                key,
                issued,
                actions: 0,
            });
        }

        let tools = [
            [
                (
                    "vault",
                    "prod/vault/payments-db",
                    "renewed the database lease",
                ),
                ("kubectl", "prod/payments-api", "read the rollout status"),
            ],
            [
                (
                    "helm",
                    "prod/payments-api",
                    "upgraded the release with the new secret reference",
                ),
                ("kubectl", "prod/payments-api", "read the rollout status"),
            ],
            [
                (
                    "kubectl",
                    "prod/payments-api",
                    "read the pod logs of the canary",
                ),
                ("kubectl", "prod/payments-api", "read the pod events"),
            ],
        ];
        for i in 0..n {
            let s = &mut sessions[i % 3];
            s.actions += 1;
            let (tool, target, summary) = tools[i % 3][(i / 3) % 2];
            let (bytes, _) = signed(
                Kind::Action,
                json!({
                    "credential": s.hash.to_hex(),
                    "seq": s.actions,
                    "tool": tool,
                    "target": target,
                    "summary": summary,
                    "digest": format!("sha256:{}", leaf_hash(format!("{} {c} {i}", self.tag).as_bytes()).to_hex()),
                    "result": "ok",
                    "time": rfc3339(base + 20 + spread(3000, i, n)),
                }),
                &s.key,
            )?;
            staged[5].push(bytes);
        }

        // Grandchild and child close themselves; the issuer closes the root.
        let ended = base + 3030;
        let mut root_closure = None;
        for (level, s) in sessions.iter().enumerate().rev() {
            let signer = if level == 0 {
                &keys.issuers[c % 2]
            } else {
                &s.key
            };
            let (bytes, hash) = signed(
                Kind::Closure,
                json!({
                    "credential": s.hash.to_hex(),
                    "reason": "voluntary",
                    "started_at": rfc3339(s.issued),
                    "ended_at": rfc3339(ended),
                    "actions": s.actions,
                    "summary": "credentials rotated, canary healthy, rollout complete",
                    "time": rfc3339(ended + 10 - level as i64),
                }),
                signer,
            )?;
            staged[6].push(bytes);
            root_closure = Some(hash);
        }
        let root_closure = root_closure.context("a change without credentials")?;
        let finished = base + 3100 + spread(400, c, self.changes);
        let (review, _) = signed(
            Kind::Review,
            json!({
                "subject": root_closure.to_hex(),
                "reviewer": {"subject": human_name(reviewer), "issuer": sso},
                "verdict": "approved",
                "started_at": rfc3339(base + 3050),
                "finished_at": rfc3339(finished),
                "items": n as u64,
                "time": rfc3339(finished),
            }),
            &keys.humans[reviewer],
        )?;
        staged[7].push(review);
        Ok(staged)
    }
}

/// The policy: the principals, and thresholds loose enough for a log
/// whose every change happens in the same hour (the shape is what is
/// measured here, not the judgement).
fn policy(keys: &Keys) -> String {
    let mut p = String::from(
        "max_past_skew = \"30d\"\n\n[audit]\nworking_hours = \"00:00-24:00\"\n\
         working_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n\
         max_approvals_per_hour = 1000\nmax_reviews_per_hour = 1000\n\
         min_review_seconds_per_item = 0\nhuman_max_records_per_minute = 60\n",
    );
    let mut principal = |name: String, role: &str, key: &ProducerKey| {
        p.push_str(&format!(
            "\n[[principal]]\nname = {name:?}\nrole = {role:?}\nkeys = [{:?}]\n",
            spki_b64(key)
        ));
    };
    for (i, k) in keys.humans.iter().enumerate() {
        principal(human_name(i), "human", k);
    }
    for (i, k) in keys.issuers.iter().enumerate() {
        principal(format!("issuer{i}"), "issuer", k);
    }
    for (i, k) in keys.verifiers.iter().enumerate() {
        principal(format!("verifier{i}"), "verifier", k);
    }
    p
}

/// Writes `staged` stage by stage, each in `batch`-sized AddEntries
/// calls spread over `clients` connections; returns the time taken.
async fn write(
    url: &str,
    staged: Staged,
    batch: usize,
    clients: usize,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for stage in staged {
        let clients = clients.max(1);
        let mut parts: Vec<Vec<Vec<Vec<u8>>>> = vec![Vec::new(); clients];
        let mut entries = stage.into_iter().peekable();
        let mut i = 0;
        while entries.peek().is_some() {
            let chunk: Vec<Vec<u8>> = entries.by_ref().take(batch.max(1)).collect();
            parts[i % clients].push(chunk);
            i += 1;
        }
        let mut tasks = Vec::new();
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let url = url.to_owned();
            tasks.push(tokio::spawn(async move {
                let mut c = LogClient::connect(&url).await?;
                for chunk in part {
                    let sent = chunk.len();
                    let added = c.add_entries(chunk).await?;
                    if added.entries.iter().any(|e| e.duplicate) || added.entries.len() != sent {
                        bail!("the log took a batch as duplicates");
                    }
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
    }
    Ok(started.elapsed())
}

/// Everything the benchmark's children need.
struct Ctx {
    causeway: PathBuf,
    log: RecordsLog,
    policy: PathBuf,
    work: PathBuf,
}

/// One `causeway audit` run.
struct AuditRun {
    measured: Measured,
    tree_size: u64,
    verified: bool,
    red_flags: u64,
    /// index.html, report.json, actions.jsonl, findings.jsonl, in bytes.
    sizes: [u64; 4],
}

const REPORT_FILES: [&str; 4] = [
    "index.html",
    "report.json",
    "actions.jsonl",
    "findings.jsonl",
];

impl Ctx {
    /// Runs `causeway audit --json` writing to `work/name`, with `--state`
    /// if given.
    fn audit(&self, name: &str, state: Option<&Path>) -> anyhow::Result<AuditRun> {
        let out = self.work.join(name);
        let stdout = self.work.join(format!("{name}.stdout"));
        let stderr = self.work.join(format!("{name}.stderr"));
        let mut cmd = Command::new(&self.causeway);
        cmd.args([
            "audit",
            "--json",
            "--log",
            &self.log.grpc,
            "--tiles",
            &self.log.tiles,
        ])
        .arg("--policy")
        .arg(&self.policy)
        .arg("--out")
        .arg(&out);
        for v in &self.log.vkeys {
            cmd.args(["--vkey", v]);
        }
        if let Some(s) = state {
            cmd.arg("--state").arg(s);
        }
        cmd.env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout)?)
            .stderr(std::fs::File::create(&stderr)?);
        let started = Instant::now();
        let child = cmd.spawn().context("starting causeway audit")?;
        let measured = wait_measured(child, started)?;
        let text = std::fs::read_to_string(&stdout)?;
        let summary: Value = serde_json::from_str(&text).with_context(|| {
            format!(
                "causeway audit ({}) printed no JSON; stderr: {}",
                measured.status,
                std::fs::read_to_string(&stderr).unwrap_or_default()
            )
        })?;
        let sizes = REPORT_FILES.map(|f| std::fs::metadata(out.join(f)).map_or(0, |m| m.len()));
        Ok(AuditRun {
            measured,
            tree_size: summary["tree_size"].as_u64().unwrap_or(0),
            verified: summary["verified"].as_bool().unwrap_or(false),
            red_flags: summary["red_flags_total"]
                .as_u64()
                .or_else(|| summary["red_flags"].as_array().map(|a| a.len() as u64))
                .unwrap_or(0),
            sizes,
        })
    }

    /// The median wall time of `runs` `causeway find --ticket --json`
    /// runs over `tickets`, and how many changes the first one found.
    fn find(
        &self,
        state: &Path,
        tickets: &[String],
        runs: usize,
    ) -> anyhow::Result<(Duration, usize)> {
        let mut times = Vec::with_capacity(runs);
        let mut found = 0;
        for i in 0..runs.max(1) {
            let ticket = &tickets[i % tickets.len()];
            let started = Instant::now();
            let out = Command::new(&self.causeway)
                .arg("find")
                .arg("--state")
                .arg(state)
                .args(["--ticket", ticket, "--json"])
                .stdin(Stdio::null())
                .output()
                .context("starting causeway find")?;
            times.push(started.elapsed());
            if !out.status.success() {
                bail!(
                    "causeway find --ticket {ticket}: {}; {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            if i == 0 {
                let v: Value = serde_json::from_slice(&out.stdout).context("find --json")?;
                found = v.as_array().map_or(0, Vec::len);
            }
        }
        times.sort();
        Ok((times[times.len() / 2], found))
    }
}

/// One size's figures.
struct Row {
    actions: usize,
    written: u64,
    write_time: Duration,
    full: AuditRun,
    first: AuditRun,
    added: u64,
    again: AuditRun,
    find_p50: Duration,
    find_found: usize,
}

const MIB: f64 = 1024.0 * 1024.0;

fn rate(run: &AuditRun) -> f64 {
    run.tree_size as f64 / run.measured.wall.as_secs_f64()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.humans == 0 || args.changes == 0 || args.actions.is_empty() {
        bail!("--humans, --changes and --actions must not be zero or empty");
    }
    if args.actions.windows(2).any(|w| w[0] >= w[1]) {
        bail!("--actions must be ascending (the log grows from one size to the next)");
    }
    let bins = causeway_bench::bin_dir(args.bin_dir.as_deref())?;
    let temp = tempfile::tempdir()?;
    let work = match &args.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => temp.path().to_owned(),
    };
    let mut rng = rand::rngs::OsRng;
    let keys = Keys {
        humans: (0..args.humans)
            .map(|_| ProducerKey::generate(&mut rng))
            .collect(),
        issuers: [
            ProducerKey::generate(&mut rng),
            ProducerKey::generate(&mut rng),
        ],
        verifiers: [
            ProducerKey::generate(&mut rng),
            ProducerKey::generate(&mut rng),
        ],
    };
    let policy = work.join("policy.toml");
    std::fs::write(&policy, self::policy(&keys))?;
    let log = records_log(&bins, &work.join("log"), "bench.causeway/audit", &policy)?;
    let ctx = Ctx {
        causeway: bins.join("causeway"),
        log,
        policy,
        work: work.clone(),
    };

    let now = || -> anyhow::Result<i64> {
        Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs() as i64)
    };
    let mut in_log = 0usize;
    let mut rows = Vec::new();
    for (k, &size) in args.actions.iter().enumerate() {
        let epoch = Epoch {
            keys: &keys,
            tag: format!("s{k}"),
            changes: args.changes,
            actions: size.saturating_sub(in_log),
            now: now()?,
        };
        let t = Instant::now();
        let staged = epoch.build()?;
        let written: u64 = staged.iter().map(|s| s.len() as u64).sum();
        eprintln!(
            "size {size}: signed {written} records in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let write_time = write(&ctx.log.grpc, staged, args.batch, args.clients).await?;
        in_log += epoch.actions;
        eprintln!(
            "size {size}: written in {:.1} s; auditing",
            write_time.as_secs_f64()
        );
        let full = ctx.audit(&format!("full-{k}"), None)?;
        eprintln!(
            "size {size}: full audit {:.1} s",
            full.measured.wall.as_secs_f64()
        );
        let state = work.join(format!("state-{k}"));
        let first = ctx.audit(&format!("state-first-{k}"), Some(&state))?;
        eprintln!(
            "size {size}: first audit with --state {:.1} s",
            first.measured.wall.as_secs_f64()
        );

        // 1% more entries: a tenth of the changes, with as many actions
        // as bring the increment to 1% of the log.
        let changes = args.changes.div_ceil(10);
        let target = (first.tree_size / 100) as usize;
        let more = Epoch {
            keys: &keys,
            tag: format!("s{k}i"),
            changes,
            actions: target.saturating_sub(9 * changes).max(changes),
            now: now()?,
        };
        let staged = more.build()?;
        let added: u64 = staged.iter().map(|s| s.len() as u64).sum();
        write(&ctx.log.grpc, staged, args.batch, args.clients).await?;
        in_log += more.actions;
        let again = ctx.audit(&format!("state-again-{k}"), Some(&state))?;
        eprintln!(
            "size {size}: re-audit after {added} more entries {:.1} s",
            again.measured.wall.as_secs_f64()
        );

        let tickets: Vec<String> = (0..args.changes).map(|c| epoch.ticket(c)).collect();
        let (find_p50, find_found) = ctx.find(&state, &tickets, args.find_runs)?;
        rows.push(Row {
            actions: size,
            written,
            write_time,
            full,
            first,
            added,
            again,
            find_p50,
            find_found,
        });
    }
    drop(ctx);
    eprintln!("measuring the verification limit for {} s", args.limit_secs);
    let window = Duration::from_secs(args.limit_secs);
    let limit = verify_limit(Implementation::Ring, window)?;
    let portable = verify_limit(Implementation::P256Crate, window)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&args, &rows, &limit, &portable))?
        );
    } else {
        print_tables(&args, &rows, &limit, &portable);
    }
    Ok(())
}

fn to_json(args: &Args, rows: &[Row], limit: &VerifyLimit, portable: &VerifyLimit) -> Value {
    let audit = |r: &AuditRun| {
        json!({
            "entries": r.tree_size,
            "seconds": r.measured.wall.as_secs_f64(),
            "records_per_second": rate(r),
            "peak_rss_bytes": r.measured.max_rss,
            "exit": r.measured.status.code(),
            "verified": r.verified,
            "red_flags_total": r.red_flags,
            "bytes": REPORT_FILES.iter().zip(r.sizes).map(|(f, s)| (f.to_string(), json!(s))).collect::<serde_json::Map<_, _>>(),
        })
    };
    json!({
        "humans": args.humans,
        "issuers": 2,
        "verifiers": 2,
        "changes_per_size": args.changes,
        "batch": args.batch,
        "clients": args.clients,
        "limit": {"ring_p256_verifications_per_second": limit.per_second, "threads": limit.threads},
        "p256_crate_verifications_per_second": portable.per_second,
        "sizes": rows.iter().map(|r| json!({
            "actions": r.actions,
            "written": r.written,
            "write_seconds": r.write_time.as_secs_f64(),
            "full": audit(&r.full),
            "state_first": audit(&r.first),
            "added_entries": r.added,
            "state_again": audit(&r.again),
            "reaudit_fraction_of_full": r.again.measured.wall.as_secs_f64() / r.first.measured.wall.as_secs_f64(),
            "find_p50_ms": r.find_p50.as_secs_f64() * 1000.0,
            "find_changes_found": r.find_found,
            "ratio_to_limit": rate(&r.full) / limit.per_second,
        })).collect::<Vec<_>>(),
    })
}

fn print_tables(args: &Args, rows: &[Row], limit: &VerifyLimit, portable: &VerifyLimit) {
    let mib = |b: u64| b as f64 / MIB;
    println!(
        "{} humans, 2 issuers, 2 verifiers; {} changes per size, each: authorization, pre-flight, \
         root + child + grandchild credential, actions over the three session keys, three closures, one review\n",
        args.humans, args.changes
    );
    println!(
        "| actions | entries in the log | written in this step | write s | records/s written |"
    );
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.1} | {:.0} |",
            r.actions,
            r.full.tree_size,
            r.written,
            r.write_time.as_secs_f64(),
            r.written as f64 / r.write_time.as_secs_f64()
        );
    }
    println!(
        "\n| actions | full audit s | records/s | / limit | peak RSS MiB | exit | red flags | index.html MB | report.json MB | actions.jsonl MB | findings.jsonl MB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let f = &r.full;
        println!(
            "| {} | {:.1} | {:.0} | {:.2} | {:.0} | {} | {} | {:.2} | {:.2} | {:.1} | {:.2} |",
            r.actions,
            f.measured.wall.as_secs_f64(),
            rate(f),
            rate(f) / limit.per_second,
            mib(f.measured.max_rss),
            f.measured
                .status
                .code()
                .map_or("signal".into(), |c| c.to_string()),
            f.red_flags,
            f.sizes[0] as f64 / 1e6,
            f.sizes[1] as f64 / 1e6,
            f.sizes[2] as f64 / 1e6,
            f.sizes[3] as f64 / 1e6,
        );
    }
    println!(
        "\n| actions | first audit --state s | its peak RSS MiB | entries added | re-audit s | re-audit / first | its peak RSS MiB | find --ticket p50 ms ({} runs) | changes found |",
        args.find_runs
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {:.1} | {:.0} | {} ({:.2}%) | {:.2} | {:.3} | {:.0} | {:.1} | {} |",
            r.actions,
            r.first.measured.wall.as_secs_f64(),
            mib(r.first.measured.max_rss),
            r.added,
            100.0 * r.added as f64 / r.first.tree_size.max(1) as f64,
            r.again.measured.wall.as_secs_f64(),
            r.again.measured.wall.as_secs_f64() / r.first.measured.wall.as_secs_f64(),
            mib(r.again.measured.max_rss),
            r.find_p50.as_secs_f64() * 1000.0,
            r.find_found,
        );
    }
    println!("\n| limit | per second |");
    println!("|---|---|");
    println!("{}", limit.row());
    println!("{}", portable.row());
    for r in rows {
        println!(
            "| full audit at {} actions, records/s ({:.2}x the limit) | {:.0} |",
            r.actions,
            rate(&r.full) / limit.per_second,
            rate(&r.full)
        );
    }
}
