//! `causeway-gate` between real MCP agents (the Python SDK's client, the
//! TypeScript SDK's) and a real upstream (a Python SDK server that
//! journals, fsynced, every call it receives), against a real log and
//! issuer on 127.0.0.1. Each attack or failure is replayed against the
//! real binaries: out-of-scope and unknown calls, revocation and expiry
//! mid-session, a sub-agent, `kill -9` of the gate mid-call, the log down.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use causeway_records::Kind;
use causeway_tests::binary;
use causeway_tests::gate::{GateDeployment, GateProcess, jcs_digest};
use causeway_tests::mcp::{
    Agent, Transport, Upstream, filesystem_server_command, read_journal, run_agent,
    run_agent_output, upstream_stdio_command,
};
use causeway_tlog::merkle::Hash;
use serde_json::{Value, json};

/// What the approval allows: commits to one repo, the harmless tools.
const TARGETS: &[&str] = &["repo:acme/api", "dev"];
const ACTIONS: &[&str] = &["git.commit", "dev.echo", "dev.fail", "dev.slow"];

/// The upstream at `upstream` (a command or URL line) and its tool maps:
/// `git_commit` is `git.commit` on `repo:<repo>` with the message
/// redacted; `deploy` is `deploy.run`, which no scope here allows.
fn upstream_tables(upstream: &str) -> String {
    format!(
        "[[upstream]]\nname = \"dev\"\n{upstream}\n\n\
         [[tool]]\nupstream = \"dev\"\nname = \"git_commit\"\naction = \"git.commit\"\n\
         target = \"repo:{{arguments.repo}}\"\nsummary = [\"repo\", \"message\"]\nredact = [\"message\"]\n\n\
         [[tool]]\nupstream = \"dev\"\nname = \"deploy\"\naction = \"deploy.run\"\n\
         target = \"svc:{{arguments.service}}\"\n"
    )
}

fn stdio_upstream(journal: &Path) -> String {
    stdio_upstream_with(journal, &[])
}

/// [`stdio_upstream`] with more arguments for `upstream.py`.
fn stdio_upstream_with(journal: &Path, extra: &[String]) -> String {
    let (program, args) = upstream_stdio_command(journal);
    let command: Vec<String> = std::iter::once(program)
        .chain(args)
        .chain(extra.iter().cloned())
        .map(|s| format!("{s:?}"))
        .collect();
    upstream_tables(&format!("command = [{}]", command.join(", ")))
}

/// A deployment with change `ticket` approved for [`TARGETS`] and
/// [`ACTIONS`], and a gate config (`top`, `ttl`) for it in front of
/// `upstream.py` over stdio: the deployment, the upstream's journal and
/// the config.
async fn stdio_gate(ticket: &str, top: &str, ttl: &str) -> (GateDeployment, PathBuf, PathBuf) {
    let d = GateDeployment::start();
    let approved = d.approved(ticket, TARGETS, ACTIONS).await;
    let journal = d.dir.path().join("journal.jsonl");
    let config = d.config(
        "gate",
        top,
        approved,
        TARGETS,
        ACTIONS,
        ttl,
        &stdio_upstream(&journal),
    );
    (d, journal, config)
}

/// The tool names a `{"list": true}` step printed, sorted.
fn tool_names(line: &Value) -> Vec<&str> {
    let mut tools: Vec<&str> = line["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    tools.sort_unstable();
    tools
}

fn gate_stdio(config: &Path) -> Transport {
    Transport::Stdio(
        binary("causeway-gate").to_string_lossy().into_owned(),
        vec!["--config".into(), config.to_string_lossy().into_owned()],
    )
}

/// The credential records' leaf hashes, in log order.
async fn credentials(d: &GateDeployment) -> Vec<(Hash, Value)> {
    d.of_kind(Kind::Credential)
        .await
        .into_iter()
        .map(|(_, h, v)| (h, v))
        .collect()
}

/// Waits until the log holds `n` actions.
async fn wait_for_actions(d: &GateDeployment, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while d.of_kind(Kind::Action).await.len() < n {
        assert!(Instant::now() < deadline, "the log never held {n} actions");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn refused<'a>(line: &'a Value, rule: &str, needles: &[&str]) -> &'a Value {
    assert_eq!(line["ok"], false, "expected a refusal: {line}");
    assert_eq!(line["code"], -32001, "{line}");
    let message = line["message"].as_str().unwrap_or_default();
    for n in needles {
        assert!(message.contains(n), "{message:?} does not mention {n:?}");
    }
    // The data says which rule refused it (agents that parse errors).
    if let Some(data) = line.get("data") {
        assert_eq!(data["refused"], rule, "{line}");
    }
    line
}

fn text_of(line: &Value) -> String {
    line["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("")
}

#[tokio::test(flavor = "multi_thread")]
async fn in_scope_calls_are_logged_before_they_are_forwarded_and_the_rest_refused() {
    let d = GateDeployment::start();
    let approved = d.approved("CHG-100", TARGETS, ACTIONS).await;
    let journal = d.dir.path().join("journal.jsonl");
    // The upstream notes the log's size as each call arrives.
    let checkpoint = format!("{}/checkpoint", d.server.tiles_url);
    let config = d.config(
        "gate",
        "",
        approved,
        TARGETS,
        ACTIONS,
        "10m",
        &stdio_upstream_with(&journal, &["--log-checkpoint".into(), checkpoint]),
    );
    let secret = "fix: rotate token hunter2-secret";
    let steps = json!([
        {"list": true},
        {"call": "echo", "arguments": {"text": "hello"}},
        {"call": "git_commit", "arguments": {"repo": "acme/api", "message": secret}},
        {"call": "deploy", "arguments": {"service": "billing", "env": "prod"}},
        {"call": "git_commit", "arguments": {"repo": "acme/other", "message": "x"}},
        {"call": "no_such_tool", "arguments": {}},
        {"call": "fail", "arguments": {"reason": "boom"}},
    ]);
    let lines = run_agent(Agent::Python, &gate_stdio(&config), &steps);
    assert_eq!(lines.len(), 7, "{lines:?}");

    // tools/list shows only what the scope allows: deploy is hidden.
    assert_eq!(
        tool_names(&lines[0]),
        ["echo", "fail", "git_commit", "slow"]
    );
    assert_eq!(lines[1]["ok"], true, "{}", lines[1]);
    assert!(text_of(&lines[1]).contains("hello"), "{}", lines[1]);
    assert_eq!(lines[2]["ok"], true, "{}", lines[2]);
    refused(&lines[3], "out_of_scope", &["deploy.run", "scope.actions"]);
    refused(
        &lines[4],
        "out_of_scope",
        &["repo:acme/other", "scope.targets"],
    );
    refused(&lines[5], "unknown_tool", &["no_such_tool"]);
    assert_eq!(lines[6]["ok"], true, "{}", lines[6]);
    assert_eq!(lines[6]["isError"], true, "{}", lines[6]);

    // The upstream received exactly the three calls in scope.
    let received = read_journal(&journal);
    let names: Vec<&str> = received.iter().map(|e| e.tool.as_str()).collect();
    assert_eq!(names, ["echo", "git_commit", "fail"]);

    // Each has its action, signed under the session's credential, with
    // the digest of its canonical arguments, before its outcome.
    let creds = credentials(&d).await;
    assert_eq!(creds.len(), 1, "{creds:?}");
    let cred = creds[0].0;
    let actions = d.of_kind(Kind::Action).await;
    assert_eq!(actions.len(), 3, "{actions:?}");
    for ((index, _, a), call) in actions.iter().zip(&received) {
        // The log already held the action when the upstream got the call.
        let size = call.log_size.expect("the upstream read the log's size");
        assert!(
            *index < size,
            "action {index} was not in the log (size {size}) when the upstream saw the call"
        );
        assert_eq!(a["credential"], cred.to_hex());
        assert_eq!(a["tool"], call.tool.as_str());
        assert_eq!(a["digest"], jcs_digest(&call.arguments), "{a}");
    }
    let seqs: Vec<u64> = actions
        .iter()
        .map(|(_, _, a)| a["seq"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(actions[0].2["operation"], "dev.echo");
    assert_eq!(actions[0].2["target"], "dev");
    assert_eq!(actions[1].2["operation"], "git.commit");
    assert_eq!(actions[1].2["target"], "repo:acme/api");
    let summary = actions[1].2["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("repo=acme/api") && summary.contains("message=[redacted]"),
        "{summary}"
    );
    let outcomes = d.of_kind(Kind::Outcome).await;
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    for ((ai, ah, _), (oi, _, o)) in actions.iter().zip(&outcomes) {
        assert_eq!(o["action"], ah.to_hex());
        assert!(oi > ai, "outcome {oi} before its action {ai}");
    }
    let statuses: Vec<&str> = outcomes
        .iter()
        .map(|(_, _, o)| o["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(statuses, ["ok", "ok", "error"]);

    // Each refusal is an exception signed by the gate, naming the call.
    let exceptions = d.of_kind(Kind::Exception).await;
    assert_eq!(exceptions.len(), 3, "{exceptions:?}");
    assert_eq!(
        exceptions[0].2["call_digest"],
        jcs_digest(&json!({"name": "deploy", "arguments": {"service": "billing", "env": "prod"}}))
    );
    assert!(exceptions.iter().all(|(_, _, e)| e["revoked"] == false));

    // The agent went away: the session is closed with its count.
    let closures = d.of_kind(Kind::Closure).await;
    assert_eq!(closures.len(), 1, "{closures:?}");
    assert_eq!(closures[0].2["actions"], 3);
    assert_eq!(closures[0].2["reason"], "voluntary");

    // Arguments are never in the log in clear.
    let mut log = d.log().await;
    for entry in log.entries(0, 1000).await.expect("entries") {
        let text = String::from_utf8_lossy(&entry);
        assert!(
            !text.contains("hunter2"),
            "an argument is in the log in clear"
        );
    }

    // The audit names alice for every action; the refusals are its only
    // findings.
    let audit = d.audit();
    assert_eq!(audit["verified"], true, "{audit}");
    assert_eq!(audit["summary"]["actions_with_named_human"], 3, "{audit}");
    assert_eq!(
        GateDeployment::flag_kinds(&audit),
        ["call_refused", "call_refused", "call_refused"],
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_session_over_http_audits_clean_and_names_the_human() {
    let d = GateDeployment::start();
    let approved = d.approved("CHG-200", TARGETS, ACTIONS).await;
    let journal = d.dir.path().join("journal.jsonl");
    let upstream = Upstream::start_http(&journal).expect("upstream");
    let config = d.config(
        "gate",
        "",
        approved,
        TARGETS,
        ACTIONS,
        "10m",
        &upstream_tables(&format!("url = {:?}", upstream.url)),
    );
    let gate = GateProcess::start_http(&config);
    let steps = json!([
        {"list": true},
        {"call": "echo", "arguments": {"text": "from node"}},
        {"call": "git_commit", "arguments": {"repo": "acme/api", "message": "m"}},
    ]);
    let lines = run_agent(Agent::Node, &Transport::Http(gate.url.clone()), &steps);
    assert!(text_of(&lines[1]).contains("from node"), "{lines:?}");
    assert_eq!(lines[2]["ok"], true, "{lines:?}");
    assert_eq!(read_journal(&journal).len(), 2);
    assert!(gate.terminate().success());

    let closures = d.of_kind(Kind::Closure).await;
    assert_eq!(closures.len(), 1, "{closures:?}");
    assert_eq!(closures[0].2["actions"], 2);
    let audit = d.audit();
    assert_eq!(audit["verified"], true, "{audit}");
    assert_eq!(
        GateDeployment::flag_kinds(&audit),
        Vec::<String>::new(),
        "{audit}"
    );
    assert_eq!(audit["summary"]["actions_with_named_human"], 2, "{audit}");
}

/// Runs `steps` with the Python agent through a stdio gate on `config`,
/// in a thread (the test acts while the agent sleeps).
fn agent_in_background(
    config: &Path,
    steps: Value,
) -> std::thread::JoinHandle<causeway_tests::mcp::AgentRun> {
    let transport = gate_stdio(config);
    std::thread::spawn(move || run_agent_output(Agent::Python, &transport, &steps))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credential_revoked_mid_session_stops_the_next_call() {
    let (d, journal, config) = stdio_gate("CHG-300", "", "10m").await;
    let agent = agent_in_background(
        &config,
        json!([
            {"call": "echo", "arguments": {"text": "one"}},
            {"sleep_ms": 4000},
            {"call": "echo", "arguments": {"text": "two"}},
        ]),
    );
    wait_for_actions(&d, 1).await;
    // Someone revokes the credential through the issuer (an incident).
    let cred = credentials(&d).await[0].0;
    let tls = d.pki.settings(Some(&d.gate_cert));
    let mut issuer = causeway_client::issuer::IssuerClient::connect(&d.issuer.url, &tls)
        .await
        .expect("issuer");
    issuer
        .revoke(cred, "incident INC-9")
        .await
        .expect("revoked");
    let run = agent.join().expect("agent thread");
    assert_eq!(run.lines.len(), 3, "{:?}\n{}", run.lines, run.stderr);
    assert_eq!(run.lines[0]["ok"], true);
    refused(&run.lines[2], "revoked", &["revoked"]);
    assert_eq!(
        read_journal(&journal).len(),
        1,
        "the refused call reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_violation_revoke_revokes_and_ends_the_session() {
    let (d, journal, config) = stdio_gate("CHG-310", "on_violation = \"revoke\"", "10m").await;
    let run = run_agent_output(
        Agent::Python,
        &gate_stdio(&config),
        &json!([
            {"call": "echo", "arguments": {"text": "one"}},
            {"call": "deploy", "arguments": {"service": "billing", "env": "prod"}},
            {"call": "echo", "arguments": {"text": "two"}},
        ]),
    );
    let first_refusal = run.lines.get(1).unwrap_or_else(|| {
        panic!(
            "no answer to the deploy call: {:?}\n{}",
            run.lines, run.stderr
        )
    });
    refused(first_refusal, "out_of_scope", &["revoked the credential"]);
    // The session is over: the next call gets no answer from upstream.
    assert!(
        run.lines.get(2).is_none_or(|l| l["ok"] == false),
        "{:?}",
        run.lines
    );
    assert_eq!(read_journal(&journal).len(), 1);
    let exceptions = d.of_kind(Kind::Exception).await;
    assert!(
        exceptions.iter().any(|(_, _, e)| e["revoked"] == true),
        "{exceptions:?}"
    );
    // The revocation ends the session: the issuer writes no closure for a
    // revoked credential, and the gate's key can write nothing more.
    assert_eq!(d.of_kind(Kind::Closure).await.len(), 0);
    let flags = GateDeployment::flag_kinds(&d.audit());
    assert!(
        !flags.contains(&"session_without_closure".to_owned()),
        "{flags:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_credential_stops_the_agent_and_closes_the_session() {
    let (d, journal, config) = stdio_gate("CHG-400", "", "4s").await;
    let run = run_agent_output(
        Agent::Python,
        &gate_stdio(&config),
        &json!([
            {"call": "echo", "arguments": {"text": "one"}},
            {"sleep_ms": 6500},
            {"call": "echo", "arguments": {"text": "two"}},
        ]),
    );
    assert_eq!(run.lines.len(), 3, "{:?}\n{}", run.lines, run.stderr);
    assert_eq!(run.lines[0]["ok"], true);
    refused(&run.lines[2], "expired", &["expired"]);
    assert_eq!(read_journal(&journal).len(), 1);
    let closures = d.of_kind(Kind::Closure).await;
    assert_eq!(closures.len(), 1, "{closures:?}");
    assert_eq!(closures[0].2["reason"], "expired");
    assert_eq!(closures[0].2["actions"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sub_agent_acts_under_a_delegated_credential_that_traces_to_the_approval() {
    let d = GateDeployment::start();
    let approved = d.approved("CHG-500", TARGETS, ACTIONS).await;
    let journal = d.dir.path().join("journal.jsonl");
    let upstream = Upstream::start_http(&journal).expect("upstream");
    let delegate = "[[delegate]]\nname = \"reviewer\"\nagent = \"agent://acme/reviewer\"\n\
                    targets = [\"dev\"]\nactions = [\"dev.echo\"]\nttl = \"5m\"\n";
    let config = d.config(
        "gate",
        "",
        approved,
        TARGETS,
        ACTIONS,
        "10m",
        &format!(
            "{}\n{delegate}",
            upstream_tables(&format!("url = {:?}", upstream.url))
        ),
    );
    let gate = GateProcess::start_http(&config);
    let sub = Transport::Http(format!("{}/reviewer", gate.url));
    let lines = run_agent(
        Agent::Node,
        &sub,
        &json!([
            {"list": true},
            {"call": "echo", "arguments": {"text": "reviewing"}},
            {"call": "git_commit", "arguments": {"repo": "acme/api", "message": "m"}},
        ]),
    );
    assert_eq!(lines[0]["tools"], json!(["echo"]), "{lines:?}");
    assert_eq!(lines[1]["ok"], true, "{lines:?}");
    refused(&lines[2], "out_of_scope", &["git.commit"]);
    let stderr = gate.stderr();
    assert!(gate.terminate().success(), "{stderr}");

    let creds = credentials(&d).await;
    assert_eq!(creds.len(), 2, "{creds:?}");
    let (root, child) = (&creds[0], &creds[1]);
    assert_eq!(child.1["parent"], root.0.to_hex(), "{creds:?}");
    assert_eq!(child.1["authorization"], approved.0.to_hex());
    assert_eq!(child.1["agent"]["id"], "agent://acme/reviewer");
    let actions = d.of_kind(Kind::Action).await;
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].2["credential"], child.0.to_hex());
    // Both sessions are closed; the audit traces the sub-agent's action to
    // alice and finds nothing wrong with the delegation itself.
    let closures = d.of_kind(Kind::Closure).await;
    assert_eq!(
        closures.len(),
        2,
        "{closures:?}\n{}",
        std::fs::read_to_string(config.with_extension("stderr")).unwrap_or_default()
    );
    let audit = d.audit();
    assert_eq!(audit["summary"]["actions_with_named_human"], 1, "{audit}");
    let flags = GateDeployment::flag_kinds(&audit);
    assert!(
        !flags.iter().any(|f| f.starts_with("delegation")),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_the_gate_mid_call_leaves_no_call_unrecorded() {
    let (d, journal, config) = stdio_gate("CHG-600", "", "10m").await;
    let agent = agent_in_background(
        &config,
        json!([
            {"call": "echo", "arguments": {"text": "one"}},
            {"call": "slow", "arguments": {"ms": 20000}},
        ]),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !read_journal(&journal).iter().any(|e| e.tool == "slow") {
        assert!(
            Instant::now() < deadline,
            "the slow call never reached the upstream"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pattern = format!("causeway-gate --config {}", config.display());
    let killed = std::process::Command::new("pkill")
        .args(["-9", "-f", &pattern])
        .status()
        .expect("pkill");
    assert!(killed.success(), "no gate process to kill");
    let _ = agent.join();

    // Every call the upstream received has its acknowledged action.
    let received = read_journal(&journal);
    assert_eq!(received.len(), 2);
    let actions = d.of_kind(Kind::Action).await;
    for call in &received {
        assert!(
            actions
                .iter()
                .any(|(_, _, a)| a["digest"] == jcs_digest(&call.arguments)
                    && a["tool"] == call.tool.as_str()),
            "{} reached the upstream without an action in the log",
            call.tool
        );
    }
    // The interrupted call has no outcome, and the audit says so.
    assert_eq!(d.of_kind(Kind::Outcome).await.len(), 1);
    let flags = GateDeployment::flag_kinds(&d.audit());
    assert!(
        flags.contains(&"action_without_outcome".to_owned()),
        "{flags:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_log_down_calls_are_refused_and_never_forwarded() {
    let (d, journal, config) = stdio_gate("CHG-700", "", "10m").await;
    let agent = agent_in_background(
        &config,
        json!([
            {"call": "echo", "arguments": {"text": "one"}},
            {"sleep_ms": 3000},
            {"call": "echo", "arguments": {"text": "two"}},
        ]),
    );
    wait_for_actions(&d, 1).await;
    d.server.signal("KILL");
    let run = agent.join().expect("agent thread");
    assert_eq!(run.lines.len(), 3, "{:?}\n{}", run.lines, run.stderr);
    assert_eq!(run.lines[0]["ok"], true);
    refused(&run.lines[2], "log_unavailable", &["not forwarded", "log"]);
    assert_eq!(
        read_journal(&journal).len(),
        1,
        "a call was forwarded unlogged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_coding_agent_behind_the_gate_touches_only_the_files_its_approval_names() {
    // npm's reference filesystem server would serve any file under its
    // root; the approval names one.
    let d = GateDeployment::start();
    let root = d.dir.path().join("repo");
    std::fs::create_dir_all(&root).expect("root");
    let root = root.canonicalize().expect("root");
    let notes = root.join("notes.txt");
    let secrets = root.join("secrets.txt");
    std::fs::write(&notes, "release notes v2\n").expect("notes");
    std::fs::write(&secrets, "TOPSECRET\n").expect("secrets");
    let target = format!("fs:{}", notes.display());
    let targets = [target.as_str()];
    let actions = ["fs.read_text_file", "fs.write_file"];
    let approved = d.approved("CHG-800", &targets, &actions).await;
    let (program, args) = filesystem_server_command(&root);
    let command: Vec<String> = std::iter::once(program)
        .chain(args)
        .map(|s| format!("{s:?}"))
        .collect();
    let tables = format!(
        "[[upstream]]\nname = \"fs\"\ncommand = [{}]\n\n\
         [[tool]]\nupstream = \"fs\"\nname = \"read_text_file\"\ntarget = \"fs:{{arguments.path}}\"\n\
         summary = [\"path\"]\n\n\
         [[tool]]\nupstream = \"fs\"\nname = \"write_file\"\ntarget = \"fs:{{arguments.path}}\"\n\
         summary = [\"path\"]\n",
        command.join(", ")
    );
    let config = d.config("gate", "", approved, &targets, &actions, "10m", &tables);
    let lines = run_agent(
        Agent::Node,
        &gate_stdio(&config),
        &json!([
            {"list": true},
            {"call": "read_text_file", "arguments": {"path": notes}},
            {"call": "read_text_file", "arguments": {"path": secrets}},
            {"call": "write_file", "arguments": {"path": notes, "content": "rewritten by the agent"}},
            {"call": "list_directory", "arguments": {"path": root}},
        ]),
    );
    assert_eq!(
        tool_names(&lines[0]),
        ["read_text_file", "write_file"],
        "{lines:?}"
    );
    assert!(text_of(&lines[1]).contains("release notes v2"), "{lines:?}");
    refused(&lines[2], "out_of_scope", &["secrets.txt", "scope.targets"]);
    assert!(!text_of(&lines[2]).contains("TOPSECRET"));
    assert_eq!(lines[3]["ok"], true, "{lines:?}");
    refused(
        &lines[4],
        "out_of_scope",
        &["fs.list_directory", "scope.actions"],
    );
    assert_eq!(
        std::fs::read_to_string(&notes).expect("notes"),
        "rewritten by the agent"
    );
    let actions_logged = d.of_kind(Kind::Action).await;
    let ops: Vec<&str> = actions_logged
        .iter()
        .map(|(_, _, a)| a["operation"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ops, ["fs.read_text_file", "fs.write_file"]);
    assert!(
        actions_logged
            .iter()
            .all(|(_, _, a)| a["target"] == target.as_str())
    );
    // The file's new content is in no record.
    let mut log = d.log().await;
    for entry in log.entries(0, 1000).await.expect("entries") {
        assert!(!String::from_utf8_lossy(&entry).contains("rewritten by the agent"));
    }
}

/// The README's "Putting an agent behind the gate" config, as written.
const CODING_AGENT: &str = include_str!("../../gate/examples/coding-agent.toml");

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_coding_agent_config_works_with_the_real_filesystem_and_git_servers() {
    let readme = include_str!("../../README.md");
    assert!(
        readme.contains(CODING_AGENT),
        "README.md must show gate/examples/coding-agent.toml verbatim"
    );
    let d = GateDeployment::start();
    // The repository the agent works on.
    let repo = d.dir.path().join("api");
    std::fs::create_dir_all(repo.join("src")).expect("repo");
    let repo = repo.canonicalize().expect("repo");
    std::fs::write(repo.join("src/lib.rs"), "pub fn v() -> u32 { 1 }\n").expect("lib.rs");
    for args in [
        &["init", "-q"][..],
        &["config", "user.email", "coder@acme.example"],
        &["config", "user.name", "coder"],
        &["add", "."],
        &["commit", "-q", "-m", "init"],
    ] {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(&repo)
            .status()
            .expect("git");
        assert!(ok.success(), "git {args:?}");
    }
    let repo_s = repo.to_string_lossy().into_owned();
    let lib = format!("{repo_s}/src/lib.rs");
    let targets = [format!("repo:{repo_s}"), format!("fs:{lib}")];
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let actions = [
        "git.status",
        "git.diff*",
        "git.add",
        "git.commit",
        "fs.read_text_file",
        "fs.write_file",
    ];
    let (auth, pre) = d.approved("CHG-900", &targets, &actions).await;
    // The example with this deployment's addresses, files and programs.
    let (node, fs_args) = causeway_tests::mcp::filesystem_server_command(&repo);
    let fs_server = &fs_args[0];
    let python = causeway_tests::mcp::python().to_string_lossy().into_owned();
    let config = CODING_AGENT
        .replace("\"gate.pem\"", &format!("{:?}", d.gate_key))
        .replace("http://127.0.0.1:7400", &d.server.url)
        .replace("https://127.0.0.1:7420", &d.issuer.url)
        .replace("\"issuer-ca.pem\"", &format!("{:?}", d.pki.ca()))
        .replace("\"gate-cert.pem\"", &format!("{:?}", d.gate_cert.0))
        .replace("\"gate-cert.key\"", &format!("{:?}", d.gate_cert.1))
        .replace("AUTHORIZATION_LEAF_HASH", &auth.to_hex())
        .replace("PREFLIGHT_LEAF_HASH", &pre.to_hex())
        .replace(
            "\"npx\", \"-y\", \"@modelcontextprotocol/server-filesystem\"",
            &format!("{node:?}, {fs_server:?}"),
        )
        .replace("\"python3\"", &format!("{python:?}"))
        .replace("/srv/acme/api", &repo_s);
    let path = d.dir.path().join("coding-agent.toml");
    std::fs::write(&path, config).expect("config");

    let lines = run_agent(
        Agent::Python,
        &gate_stdio(&path),
        &json!([
            {"list": true},
            {"call": "read_text_file", "arguments": {"path": lib}},
            {"call": "write_file", "arguments": {"path": lib, "content": "pub fn v() -> u32 { 2 }\n"}},
            {"call": "git_diff_unstaged", "arguments": {"repo_path": repo_s}},
            {"call": "git_add", "arguments": {"repo_path": repo_s, "files": ["src/lib.rs"]}},
            {"call": "git_commit", "arguments": {"repo_path": repo_s, "message": "v2 (CHG-900)"}},
            {"call": "git_checkout", "arguments": {"repo_path": repo_s, "branch_name": "main"}},
            {"call": "read_text_file", "arguments": {"path": format!("{repo_s}/.git/config")}},
        ]),
    );
    assert_eq!(
        tool_names(&lines[0]),
        [
            "git_add",
            "git_commit",
            "git_diff_unstaged",
            "git_status",
            "read_text_file",
            "write_file"
        ],
        "{lines:?}"
    );
    assert!(text_of(&lines[1]).contains("{ 1 }"), "{lines:?}");
    for line in &lines[2..6] {
        assert_eq!(line["ok"], true, "{lines:?}");
        assert_ne!(line["isError"], true, "{lines:?}");
    }
    assert!(text_of(&lines[3]).contains("{ 2 }"), "{lines:?}");
    refused(
        &lines[6],
        "out_of_scope",
        &["git.git_checkout", "scope.actions"],
    );
    refused(&lines[7], "out_of_scope", &[".git/config", "scope.targets"]);
    // The commit is real.
    let log = std::process::Command::new("git")
        .args(["log", "--format=%s", "-1"])
        .current_dir(&repo)
        .output()
        .expect("git log");
    assert_eq!(String::from_utf8_lossy(&log.stdout).trim(), "v2 (CHG-900)");
    // Five calls logged, each with its outcome; two refusals; the audit
    // names alice for every call and flags exactly the two refusals.
    assert_eq!(d.of_kind(Kind::Action).await.len(), 5);
    assert_eq!(d.of_kind(Kind::Outcome).await.len(), 5);
    let audit = d.audit();
    assert_eq!(audit["summary"]["actions_with_named_human"], 5, "{audit}");
    assert_eq!(
        GateDeployment::flag_kinds(&audit),
        ["call_refused", "call_refused"],
        "{audit}"
    );
}
