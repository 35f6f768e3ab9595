//! The real MCP parts the gateway's tests drive (`tests/mcp`), proved
//! directly, without the gateway: each SDK's agent against the Python SDK's
//! upstream over stdio and over Streamable HTTP, and the TypeScript agent
//! against npm's reference filesystem and everything servers. What these
//! establish (tools listed, results and tool errors passed through, every
//! received call journaled before it ran, even across `kill -9`) is what
//! the gateway's tests lean on when they put the gateway in between.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use causeway_tests::mcp::{
    Agent, JournalEntry, Transport, Upstream, agent_command, everything_server_command,
    filesystem_server_command, read_journal, run_agent, run_agent_output, run_bench,
    upstream_stdio_command,
};
use serde_json::{Value, json};

const UPSTREAM_TOOLS: [&str; 5] = ["deploy", "echo", "fail", "git_commit", "slow"];

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos()
}

/// The text of a tool result's only content block.
fn text(answer: &Value) -> &str {
    let content = answer["content"].as_array().expect("content is a list");
    assert_eq!(content.len(), 1, "one content block: {answer}");
    assert_eq!(content[0]["type"], "text", "{answer}");
    content[0]["text"].as_str().expect("text")
}

/// The tools/list answer's names, sorted.
fn tool_names(answer: &Value) -> Vec<String> {
    let mut names: Vec<String> = answer["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("not a tools answer: {answer}"))
        .iter()
        .map(|n| n.as_str().expect("a name").to_owned())
        .collect();
    names.sort();
    names
}

/// One agent through the upstream's tools, checking every answer and the
/// journal: each call is there, in order, with its arguments, stamped
/// after the script started and — for `slow` — at least its sleep before
/// the agent had its answer, i.e. before the tool finished running.
fn exercise_upstream(agent: Agent, transport: &Transport, journal: &Path) {
    let before = now_ns();
    let answers = run_agent(
        agent,
        transport,
        &json!([
            {"list": true},
            {"call": "echo", "arguments": {"text": "héllo, upstream"}},
            {"call": "fail", "arguments": {"reason": "disk on fire"}},
            {"call": "git_commit", "arguments": {"repo": "ledger", "message": "fix rounding"}},
            {"call": "deploy", "arguments": {"service": "ledger", "env": "staging"}},
            {"call": "slow", "arguments": {"ms": 400}},
            {"sleep_ms": 10},
        ]),
    );
    let after = now_ns();
    assert_eq!(answers.len(), 7, "one line per step: {answers:?}");
    assert_eq!(tool_names(&answers[0]), UPSTREAM_TOOLS);

    assert_eq!(answers[1]["ok"], true, "{}", answers[1]);
    assert_eq!(answers[1]["isError"], false, "{}", answers[1]);
    assert_eq!(text(&answers[1]), "héllo, upstream");

    // A tool error is a result with isError, not a JSON-RPC error.
    assert_eq!(answers[2]["ok"], true, "{}", answers[2]);
    assert_eq!(answers[2]["isError"], true, "{}", answers[2]);
    assert!(
        text(&answers[2]).contains("failed: disk on fire"),
        "{}",
        answers[2]
    );

    assert_eq!(text(&answers[3]), "committed to ledger: fix rounding");
    assert_eq!(text(&answers[4]), "deployed ledger to staging");
    assert_eq!(text(&answers[5]), "slept 400 ms");
    assert_eq!(answers[6], json!({"slept_ms": 10}));

    let entries = read_journal(journal);
    let calls: Vec<(&str, Value)> = entries
        .iter()
        .map(|e| (e.tool.as_str(), e.arguments.clone()))
        .collect();
    assert_eq!(
        calls,
        [
            ("echo", json!({"text": "héllo, upstream"})),
            ("fail", json!({"reason": "disk on fire"})),
            (
                "git_commit",
                json!({"repo": "ledger", "message": "fix rounding"})
            ),
            ("deploy", json!({"service": "ledger", "env": "staging"})),
            ("slow", json!({"ms": 400})),
        ],
        "the journal holds each call, in order, as sent"
    );
    for pair in entries.windows(2) {
        assert!(pair[0].received_at_ns <= pair[1].received_at_ns, "{pair:?}");
    }
    assert!(
        entries
            .iter()
            .all(|e| (before..=after).contains(&e.received_at_ns)),
        "journaled during the run: {before}..{after}: {entries:?}"
    );
    let slow = &entries[4];
    assert!(
        slow.received_at_ns + 400_000_000 <= after,
        "slow was journaled before it slept, not after: {slow:?}, agent done at {after}"
    );
}

#[test]
fn python_agent_and_upstream_over_stdio() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let (program, args) = upstream_stdio_command(&journal);
    exercise_upstream(Agent::Python, &Transport::Stdio(program, args), &journal);
}

#[test]
fn node_agent_and_upstream_over_stdio() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let (program, args) = upstream_stdio_command(&journal);
    exercise_upstream(Agent::Node, &Transport::Stdio(program, args), &journal);
}

#[test]
fn python_agent_and_upstream_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let upstream = Upstream::start_http(&journal).unwrap();
    assert!(
        upstream.url.starts_with("http://127.0.0.1:") && upstream.url.ends_with("/mcp"),
        "{}",
        upstream.url
    );
    exercise_upstream(Agent::Python, &upstream.transport(), &journal);
}

#[test]
fn node_agent_and_upstream_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let upstream = Upstream::start_http(&journal).unwrap();
    exercise_upstream(Agent::Node, &upstream.transport(), &journal);
}

/// Waits until the journal holds `n` entries.
fn journal_reaches(journal: &Path, n: usize) -> Vec<JournalEntry> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let entries = read_journal(journal);
        if entries.len() >= n {
            return entries;
        }
        assert!(
            Instant::now() < deadline,
            "the journal has {entries:?}, not {n} entries, after 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A call in flight when the upstream is SIGKILLed is in the journal
/// (written and fsynced before the tool ran, and the tool never finished),
/// and each agent reports the broken connection for it: exit 3 and a
/// transport error line, after the answers it did get. Over HTTP and over
/// stdio (where the agent's child is the upstream itself: `sh` records its
/// pid, then becomes it with exec).
#[test]
fn a_call_cut_off_by_kill_9_is_journaled_and_the_agents_say_so() {
    for agent in [Agent::Python, Agent::Node] {
        for http in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let journal = dir.path().join("journal.jsonl");
            let script = dir.path().join("script.json");
            std::fs::write(
                &script,
                json!([
                    {"call": "echo", "arguments": {"text": "first"}},
                    {"call": "slow", "arguments": {"ms": 60000}},
                    {"call": "echo", "arguments": {"text": "never sent"}},
                ])
                .to_string(),
            )
            .unwrap();
            let pid_file = dir.path().join("upstream.pid");
            let mut upstream = None;
            let transport = if http {
                let u = Upstream::start_http(&journal).unwrap();
                let t = u.transport();
                upstream = Some(u);
                t
            } else {
                let (program, args) = upstream_stdio_command(&journal);
                let quoted: Vec<String> = std::iter::once(program)
                    .chain(args)
                    .map(|a| format!("'{a}'"))
                    .collect();
                Transport::Stdio(
                    "sh".to_owned(),
                    vec![
                        "-c".to_owned(),
                        format!(
                            "echo $$ > '{}' && exec {}",
                            pid_file.display(),
                            quoted.join(" ")
                        ),
                    ],
                )
            };
            let child = agent_command(
                agent,
                &transport,
                &["--script".to_owned(), script.to_string_lossy().into_owned()],
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
            let entries = journal_reaches(&journal, 2);
            assert_eq!(entries[1].tool, "slow");
            assert_eq!(entries[1].arguments, json!({"ms": 60000}));
            match &mut upstream {
                Some(u) => u.kill9(),
                None => {
                    let pid = std::fs::read_to_string(&pid_file).unwrap();
                    let killed = std::process::Command::new("kill")
                        .args(["-KILL", pid.trim()])
                        .status()
                        .unwrap();
                    assert!(killed.success(), "kill -9 {pid}");
                }
            }
            let started = Instant::now();
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let case = format!("{agent:?} over {}", if http { "HTTP" } else { "stdio" });
            assert!(
                started.elapsed() < Duration::from_secs(50),
                "{case} waited for the dead upstream"
            );
            assert_eq!(out.status.code(), Some(3), "{case}: {stdout}\n{stderr}");
            let lines: Vec<Value> = stdout
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(lines.len(), 2, "{case}: {stdout}");
            assert_eq!(text(&lines[0]), "first");
            assert_eq!(lines[1]["ok"], false, "{case}: {stdout}");
            assert_eq!(lines[1]["transport"], true, "{case}: {stdout}");
            assert_eq!(
                read_journal(&journal).len(),
                2,
                "{case}: nothing after the cut"
            );
        }
    }
}

#[test]
fn node_agent_and_the_filesystem_server() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("notes.txt"), "inside the root\n").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "outside the root\n").unwrap();
    // The server compares real paths: give it the canonical root.
    let root = root.canonicalize().unwrap();
    let (program, args) = filesystem_server_command(&root);
    let answers = run_agent(
        Agent::Node,
        &Transport::Stdio(program, args),
        &json!([
            {"list": true},
            {"call": "read_text_file", "arguments": {"path": root.join("notes.txt")}},
            {"call": "read_text_file", "arguments": {"path": root.join("../secret.txt")}},
            {"call": "list_allowed_directories", "arguments": {}},
        ]),
    );
    let tools = tool_names(&answers[0]);
    for tool in [
        "read_text_file",
        "write_file",
        "list_directory",
        "edit_file",
    ] {
        assert!(tools.iter().any(|t| t == tool), "{tool} in {tools:?}");
    }
    assert_eq!(answers[1]["isError"], false, "{}", answers[1]);
    assert_eq!(text(&answers[1]), "inside the root\n");
    // Outside the root: refused as a tool error, and the content not read.
    assert_eq!(answers[2]["ok"], true, "{}", answers[2]);
    assert_eq!(answers[2]["isError"], true, "{}", answers[2]);
    assert!(
        text(&answers[2]).contains("Access denied"),
        "{}",
        answers[2]
    );
    assert!(!answers[2].to_string().contains("outside the root"));
    assert!(
        text(&answers[3]).contains(root.to_str().unwrap()),
        "{}",
        answers[3]
    );
}

#[test]
fn both_agents_and_the_everything_server() {
    for agent in [Agent::Node, Agent::Python] {
        let (program, args) = everything_server_command();
        let answers = run_agent(
            agent,
            &Transport::Stdio(program, args),
            &json!([
                {"list": true},
                {"call": "echo", "arguments": {"message": "through the reference server"}},
                {"call": "get-sum", "arguments": {"a": 40, "b": 2}},
            ]),
        );
        let tools = tool_names(&answers[0]);
        assert!(tools.iter().any(|t| t == "echo"), "{agent:?}: {tools:?}");
        assert_eq!(text(&answers[1]), "Echo: through the reference server");
        assert!(
            text(&answers[2]).contains("42"),
            "{agent:?}: {}",
            answers[2]
        );
    }
}

/// Both SDKs' servers answer an unknown tool with a tool error (isError),
/// not a JSON-RPC error, and the upstream journals it all the same; an
/// agent that cannot reach its server exits 2 with a message.
#[test]
fn unknown_tools_and_unreachable_servers() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let (program, args) = upstream_stdio_command(&journal);
    for agent in [Agent::Python, Agent::Node] {
        let answers = run_agent(
            agent,
            &Transport::Stdio(program.clone(), args.clone()),
            &json!([{"call": "no_such_tool", "arguments": {}}]),
        );
        assert_eq!(answers[0]["isError"], true, "{agent:?}: {}", answers[0]);
        assert!(
            text(&answers[0]).contains("Unknown tool: no_such_tool"),
            "{agent:?}: {}",
            answers[0]
        );

        // Nothing listens on port 1: exit 2 and a message, no output.
        let run = run_agent_output(
            agent,
            &Transport::Http("http://127.0.0.1:1/mcp".to_owned()),
            &json!([{"list": true}]),
        );
        assert_eq!(run.status.code(), Some(2), "{agent:?}: {run:?}");
        assert!(run.lines.is_empty(), "{agent:?}: {run:?}");
        assert!(run.stderr.contains("cannot connect"), "{agent:?}: {run:?}");
    }
    assert_eq!(
        read_journal(&journal).len(),
        2,
        "the upstream got both calls"
    );
}

/// The bench mode the gateway's benchmark uses for its baseline: every
/// call made and answered, with sane percentiles.
#[test]
fn bench_mode_of_both_agents() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let upstream = Upstream::start_http(&journal).unwrap();
    for agent in [Agent::Python, Agent::Node] {
        let line = run_bench(
            agent,
            &upstream.transport(),
            40,
            4,
            "echo",
            &json!({"text": "bench"}),
        );
        assert_eq!(line["calls"], 40, "{agent:?}: {line}");
        assert_eq!(line["errors"], 0, "{agent:?}: {line}");
        let p50 = line["p50_ms"].as_f64().unwrap();
        let p99 = line["p99_ms"].as_f64().unwrap();
        assert!(p50 > 0.0 && p50 <= p99, "{agent:?}: {line}");
        assert!(line["seconds"].as_f64().unwrap() > 0.0, "{agent:?}: {line}");
    }
    assert_eq!(read_journal(&journal).len(), 80);
}
