//! `octohook serve --pull` run as a process against the stateful fake GitHub
//! shared with octohook-client's tests: it catches up on the deliveries
//! recorded while it was down, picks up the ones added while it runs, and a
//! push of some of the same GUIDs, before or after the pull, is stored once
//! and written once.

mod jsonl;
#[path = "../../octohook-client/tests/support/redelivery_fake.rs"]
mod redelivery_fake;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use jsonl::read_jsonl;
use octohook_inbox::{DeliveryOrigin, ListPages, ListQuery, SqliteStore};
use octohook_test_battery::{ReceiverProcess, TestDelivery};
use redelivery_fake::{Fault, Kind, Outcome, RedeliveryFake};
use serde_json::{Value, json};

const TOKEN: &str = "ghp_servePullTokenThatMustNeverLeak";
const HOOK: &str = "repos/o/r/hooks/7";
const MINUTE: Duration = Duration::from_secs(60);

fn guid(n: usize) -> String {
    format!("7a8b9c0d-0000-4000-8000-{n:012x}")
}

fn payload(n: usize) -> Value {
    json!({"action": "opened", "issue": {"number": n}})
}

fn record(fake: &RedeliveryFake, n: usize, age: Duration) {
    fake.add_event(HOOK, &guid(n), age, "issues", payload(n), Outcome::Ok);
}

/// Pushes delivery `n` to the receiver as GitHub would, signed, with hook 7.
async fn push(client: &reqwest::Client, receiver: &ReceiverProcess, n: usize) {
    let body = serde_json::to_vec(&payload(n)).unwrap();
    let delivery = TestDelivery::json("issues", body)
        .with_header("X-GitHub-Delivery", &guid(n))
        .with_header("X-GitHub-Hook-ID", "7");
    let url = format!("http://{}/", receiver.address());
    let (status, answer) = delivery.send(client, &url).await.unwrap();
    assert_eq!(status, 200, "push {n}: {answer}");
}

/// Waits (up to 20 s) until `out` holds `count` lines.
async fn wait_for_lines(out: &Path, count: usize) {
    let start = Instant::now();
    while read_jsonl(out).len() < count {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} of {count} lines in time",
            read_jsonl(out).len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn serve_pull_catches_up_follows_and_stores_pushed_and_pulled_guids_once() {
    let fake = RedeliveryFake::start().await;
    // Recorded while the receiver was down: 0..20.
    for n in 0..20 {
        record(&fake, n, MINUTE * (30 - n as u32));
    }
    // The first listing waits, so that pushes of 0..5 land before the pull
    // reaches them (push first).
    fake.fault(Kind::List, 0, Fault::Delay(Duration::from_millis(1500)));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let db = dir.path().join("inbox.db");
    let exec_log = dir.path().join("exec.log");
    let exec = format!(
        "echo \"$OCTOHOOK_DELIVERY ${{GITHUB_TOKEN:-none}}\" >> {}",
        exec_log.display()
    );
    let program = env!("CARGO_BIN_EXE_octohook");
    let mut command = Command::new(program);
    command
        .args(["serve", "--pull", "repo:o/r:7", "--interval", "300ms"])
        .arg("--db")
        .arg(&db)
        .arg("--out")
        .arg(&out)
        .args(["--exec", &exec])
        .env("GITHUB_API_URL", fake.url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("OCTOHOOK_LOG", "info");
    let receiver = ReceiverProcess::spawn(&mut command, program);
    let client = octohook_test_battery::http_client();
    for n in 0..5 {
        push(&client, &receiver, n).await;
    }
    // The catch-up: everything recorded while down.
    wait_for_lines(&out, 20).await;

    // Pull first: 10..15 were pulled; GitHub's push of them comes late.
    for n in 10..15 {
        push(&client, &receiver, n).await;
    }
    // Recorded while running: 20..25, found by a later poll; 25..28 pushed
    // before a poll finds them too (push first again, while following).
    for n in 20..28 {
        record(&fake, n, Duration::ZERO);
    }
    for n in 25..28 {
        push(&client, &receiver, n).await;
    }
    wait_for_lines(&out, 28).await;
    // A few more polls: nothing is written again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let written = read_jsonl(&out);
    receiver.kill();

    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for line in &written {
        *count
            .entry(line["delivery"].as_str().unwrap().to_owned())
            .or_default() += 1;
        let n = guid_number(line["delivery"].as_str().unwrap());
        assert_eq!(line["payload"], payload(n), "{line}");
        assert_eq!(line["event"], "issues");
    }
    assert_eq!(count.len(), 28, "{count:?}");
    assert!(count.values().all(|&c| c == 1), "written twice: {count:?}");

    // The --exec command ran on the pulled ones as on the pushed ones, and
    // never saw the token.
    let exec_lines = std::fs::read_to_string(&exec_log).unwrap();
    assert_eq!(exec_lines.lines().count(), 28, "{exec_lines}");
    assert!(
        exec_lines.lines().all(|l| l.ends_with(" none")),
        "{exec_lines}"
    );

    let store = SqliteStore::open(&db).await.unwrap();
    let stored = ListPages::new(&store, ListQuery::default().limit(500))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(stored.len(), 28);
    for delivery in &stored {
        let n = guid_number(delivery.key.guid.as_str());
        let pushed_first = n < 5 || (25..28).contains(&n);
        let expected = if pushed_first {
            DeliveryOrigin::Pushed
        } else {
            DeliveryOrigin::Pulled
        };
        assert_eq!(delivery.origin, expected, "delivery {n}");
    }
}

fn guid_number(guid: &str) -> usize {
    usize::from_str_radix(guid.rsplit('-').next().unwrap(), 16).unwrap()
}

/// The catch-up figure: `serve --pull` started over 1,000 deliveries recorded
/// while it was down; prints the seconds until all are written and the API
/// requests it made.
/// `cargo test -p octohook-cli --test serve_pull -- --ignored --nocapture`
#[tokio::test]
#[ignore = "a measurement"]
async fn serve_pull_catch_up_of_1000_deliveries() {
    let fake = RedeliveryFake::start().await;
    for n in 0..1000 {
        record(
            &fake,
            n,
            Duration::from_secs(3 * 3600) - MINUTE / 10 * n as u32,
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let program = env!("CARGO_BIN_EXE_octohook");
    let mut command = Command::new(program);
    command
        .args(["serve", "--pull", "repo:o/r:7", "--interval", "10s"])
        .arg("--db")
        .arg(dir.path().join("inbox.db"))
        .arg("--out")
        .arg(&out)
        .env("GITHUB_API_URL", fake.url())
        .env("GITHUB_TOKEN", TOKEN);
    let start = Instant::now();
    let receiver = ReceiverProcess::spawn(&mut command, program);
    let start_wait = Instant::now();
    while read_jsonl(&out).len() < 1000 {
        assert!(start_wait.elapsed() < Duration::from_secs(120));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = start.elapsed();
    receiver.kill();
    println!(
        "serve --pull caught up on 1000 deliveries in {:.2} s: {} list + {} read requests",
        elapsed.as_secs_f64(),
        fake.list_requests(),
        fake.get_requests()
    );
    assert_eq!(fake.get_requests(), 1000);
}
