//! `octohook pull` run as a process against the stateful fake GitHub shared
//! with octohook-client's tests: `--once` writes every delivery of the window
//! once (and `--exec` runs on each), a second run writes nothing, and SIGKILL
//! during a pull, four times, loses nothing and stores nothing twice.

mod jsonl;
#[path = "../../octohook-client/tests/support/redelivery_fake.rs"]
mod redelivery_fake;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use jsonl::read_jsonl;
use octohook_inbox::{DeliveryOrigin, ListPages, ListQuery, SqliteStore};
use redelivery_fake::{Fault, Kind, Outcome, RedeliveryFake};
use serde_json::{Value, json};

const TOKEN: &str = "ghp_pullCliTokenThatMustNeverLeak";
const HOOK: &str = "repos/o/r/hooks/7";
const MINUTE: Duration = Duration::from_secs(60);

fn guid(n: usize) -> String {
    format!("5e6f7a8b-0000-4000-8000-{n:012x}")
}

/// Seeds `count` deliveries over the last hours; returns GUID → (event, payload).
fn seed(fake: &RedeliveryFake, count: usize) -> BTreeMap<String, (String, Value)> {
    let mut expected = BTreeMap::new();
    for n in 0..count {
        let age = MINUTE * (10 + (count - n) as u32);
        let (event, payload) = if n % 2 == 0 {
            (
                "issues",
                json!({"action": "opened", "issue": {"number": n, "title": "é \"q\""}}),
            )
        } else {
            (
                "push",
                json!({"ref": "refs/heads/main", "size": n, "ratio": 0.25}),
            )
        };
        fake.add_event(HOOK, &guid(n), age, event, payload.clone(), Outcome::Ok);
        expected.insert(guid(n), (event.to_owned(), payload));
    }
    expected
}

fn command(fake: &RedeliveryFake, dir: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_octohook"));
    command
        .args(["pull", "--repo", "o/r", "--hook", "7", "--db"])
        .arg(dir.join("inbox.db"))
        .arg("--out")
        .arg(dir.join("out.jsonl"))
        .args(extra)
        .env("GITHUB_API_URL", fake.url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("OCTOHOOK_LOG", "info")
        .stdin(Stdio::null());
    command
}

async fn pull_once(fake: &RedeliveryFake, dir: &Path, extra: &[&str]) -> Output {
    let mut command = command(fake, dir, &[&["--once"], extra].concat());
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(&TOKEN[4..]), "the token leaked: {stderr}");
    assert!(output.status.success(), "{stderr}");
    output
}

/// Every line is a pulled delivery of the seed, as GitHub recorded it.
fn assert_lines_match(lines: &[Value], expected: &BTreeMap<String, (String, Value)>) {
    for line in lines {
        let guid = line["delivery"].as_str().unwrap();
        let (event, payload) = &expected[guid];
        assert_eq!(line["origin"], "pulled", "{line}");
        assert_eq!(line["event"], event.as_str());
        assert_eq!(line["hook_id"], 7);
        assert_eq!(&line["payload"], payload);
        assert_eq!(
            line["action"],
            payload.get("action").cloned().unwrap_or(Value::Null)
        );
    }
}

#[tokio::test]
async fn once_writes_every_delivery_once_and_runs_exec_and_a_second_run_writes_nothing() {
    let fake = RedeliveryFake::start().await;
    let expected = seed(&fake, 30);
    let dir = tempfile::tempdir().unwrap();
    let exec_log = dir.path().join("exec.log");
    let exec = format!(
        "printf '%s %s ' \"$OCTOHOOK_DELIVERY\" \"$OCTOHOOK_EVENT\" >> {0}; cat >> {0}; echo >> {0}",
        exec_log.display()
    );
    // One worker: the command's three appends of one delivery stay together.
    pull_once(&fake, dir.path(), &["--exec", &exec, "--workers", "1"]).await;
    let written = read_jsonl(&dir.path().join("out.jsonl"));
    assert_eq!(written.len(), 30);
    assert_lines_match(&written, &expected);
    let guids: BTreeSet<&str> = written
        .iter()
        .map(|l| l["delivery"].as_str().unwrap())
        .collect();
    assert_eq!(guids.len(), 30);
    // --exec saw each delivery once, its payload on standard input.
    let exec_lines = std::fs::read_to_string(&exec_log).unwrap();
    assert_eq!(exec_lines.lines().count(), 30);
    for line in exec_lines.lines() {
        let mut parts = line.splitn(3, ' ');
        let (guid, event, payload) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let (expected_event, expected_payload) = &expected[guid];
        assert_eq!(event, expected_event);
        assert_eq!(
            &serde_json::from_str::<Value>(payload).unwrap(),
            expected_payload
        );
    }

    fake.reset_counters();
    pull_once(&fake, dir.path(), &[]).await;
    assert_eq!(
        read_jsonl(&dir.path().join("out.jsonl")).len(),
        30,
        "a second run wrote again"
    );
    assert_eq!(fake.get_requests(), 0);
}

#[tokio::test]
async fn sigkill_during_a_pull_four_times_loses_nothing_and_stores_nothing_twice() {
    let fake = RedeliveryFake::start().await;
    let expected = seed(&fake, 120);
    let dir = tempfile::tempdir().unwrap();
    for round in 0..4u64 {
        // Slow reads, so that the kill lands mid-run.
        for skip in 0..40 {
            fake.fault(Kind::Get, skip, Fault::Delay(Duration::from_millis(15)));
        }
        let mut child = command(&fake, dir.path(), &["--once"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(400 + 250 * round)).await;
        // SIGKILL: no chance to clean up.
        child.kill().unwrap();
        child.wait().unwrap();
    }
    pull_once(&fake, dir.path(), &[]).await;

    // Processed at least once: every GUID has its line.
    let written = read_jsonl(&dir.path().join("out.jsonl"));
    assert_lines_match(&written, &expected);
    let guids: BTreeSet<&str> = written
        .iter()
        .map(|l| l["delivery"].as_str().unwrap())
        .collect();
    let missing: Vec<_> = expected
        .keys()
        .filter(|g| !guids.contains(g.as_str()))
        .collect();
    assert!(missing.is_empty(), "never written: {missing:?}");
    // Stored once each.
    let store = SqliteStore::open(dir.path().join("inbox.db"))
        .await
        .unwrap();
    let stored = ListPages::new(&store, ListQuery::default().limit(500))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(stored.len(), 120);
    assert!(stored.iter().all(|d| d.origin == DeliveryOrigin::Pulled));
}
