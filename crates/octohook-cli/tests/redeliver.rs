//! `octohook redeliver` run as a process against the stateful fake GitHub shared
//! with octohook-client's tests: the report, exit codes, dry runs, and crash
//! safety under SIGKILL at many points of a run.

#[path = "../../octohook-client/tests/support/redelivery_fake.rs"]
mod redelivery_fake;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use redelivery_fake::{Fault, Kind, RedeliveryFake};
use serde_json::Value;

const TOKEN: &str = "ghp_redeliverCliTokenThatMustNeverLeak";
const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const HOOK: &str = "repos/o/r/hooks/7";

fn command(fake: &RedeliveryFake, state: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_octohook"));
    command
        .args(["redeliver", "--repo", "o/r", "--hook", "7", "--state"])
        .arg(state)
        .args(extra)
        .env("GITHUB_API_URL", fake.url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("OCTOHOOK_LOG", "debug");
    command
}

/// Runs `octohook redeliver` to the end without blocking the fake's runtime.
async fn redeliver(fake: &RedeliveryFake, state: &Path, extra: &[&str]) -> Output {
    let mut command = command(fake, state, extra);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(&TOKEN[4..]), "the token leaked: {stderr}");
    // stdout is a pipe: no progress bar.
    assert!(!stderr.contains("scanning deliveries ["), "{stderr}");
    output
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[tokio::test]
async fn a_run_prints_its_report_and_a_second_run_redelivers_nothing() {
    let fake = RedeliveryFake::start().await;
    let expected = fake.seed_mixed(HOOK, 200, DAY * 2);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");

    let output = redeliver(&fake, &state, &[]).await;
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name:?} in {stdout}"))
            .split_whitespace()
            .last()
            .unwrap()
            .to_owned()
    };
    assert_eq!(line("redelivered"), expected.redeliver.len().to_string());
    assert_eq!(line("skipped: succeeded"), expected.succeeded.to_string());
    assert_eq!(
        line("skipped: already redelivered"),
        expected.already_redelivered.to_string()
    );
    assert_eq!(line("pages scanned"), "3");
    assert_eq!(line("errors"), "0");
    assert!(stdout.contains(&format!("{}/repos/o/r/hooks/7", fake.url())));
    fake.assert_redelivered_once(&expected.redeliver);

    let posts = fake.post_requests();
    let output = redeliver(&fake, &state, &["--json"]).await;
    assert!(output.status.success());
    let report = json(&output);
    assert_eq!(report["redelivered"], 0);
    assert_eq!(report["errors"], serde_json::json!([]));
    assert_eq!(fake.post_requests(), posts);
}

#[tokio::test]
async fn dry_runs_write_nothing_and_rejected_requests_fail_the_run() {
    let fake = RedeliveryFake::start().await;
    let expected = fake.seed_mixed(HOOK, 100, DAY * 2);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");

    let output = redeliver(&fake, &state, &["--dry-run", "--json"]).await;
    assert!(output.status.success());
    let report = json(&output);
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["redelivered"], expected.redeliver.len() as u64);
    assert_eq!(fake.post_requests(), 0);
    assert!(!state.exists(), "a dry run created the state file");

    // --since bounds the first scan: events older than a day are not looked at.
    let output = redeliver(&fake, &state, &["--dry-run", "--json", "--since", "1day"]).await;
    let within_a_day = json(&output)["redelivered"].as_u64().unwrap();
    assert!(
        within_a_day > 0 && within_a_day < expected.redeliver.len() as u64,
        "{within_a_day}"
    );

    // GitHub refuses one request: the others go through, the exit code says so.
    fake.fault(Kind::Redeliver, 3, Fault::Status(422));
    let output = redeliver(&fake, &state, &["--max", "10"]).await;
    // 6: partly done (exit_status.rs).
    assert_eq!(output.status.code(), Some(6), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("error: "), "{stdout}");
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("1 redelivery request(s) were not accepted")
    );
    let output = redeliver(&fake, &state, &["--json"]).await;
    assert!(output.status.success());
    fake.assert_redelivered_once(&expected.redeliver);
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Waits until `ready` or the child's exit; says whether it is still running.
async fn wait_for(child: &mut std::process::Child, ready: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("octohook redeliver neither reached the kill point nor exited");
}

fn kill(child: &mut std::process::Child) -> bool {
    let running = child.try_wait().unwrap().is_none();
    // SIGKILL: no destructor, no flush, no rollback.
    child.kill().unwrap();
    child.wait().unwrap();
    running
}

#[tokio::test]
async fn sigkill_at_many_points_still_redelivers_each_failed_event_once() {
    let fake = RedeliveryFake::start().await;
    let expected = fake.seed_mixed(HOOK, 300, DAY * 2);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    // GitHub lists a redelivery a little after accepting it: a run right after
    // a kill cannot see it yet, and must rely on its open intent.
    fake.list_redeliveries_after(Duration::from_millis(300));
    let settle = ["--settle", "2s"];
    let mut rng = Lcg(0x5eed_2026);
    let mut in_flight_kills = 0;
    let mut timed_kills = 0;

    // Kill while a POST is in flight: half of them GitHub acted on (the answer
    // is lost), half it never saw.
    for round in 0..24u64 {
        fake.stall_post(rng.below(3), round % 2 == 0);
        let stalled = fake.stalled();
        let mut child = command(&fake, &state, &settle)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let reached = wait_for(&mut child, || fake.stalled() > stalled).await;
        if kill(&mut child) && reached {
            in_flight_kills += 1;
        }
        fake.clear_stall();
    }
    // Kill at random moments: while scanning, between the intent and the POST,
    // while recording the answer or the checkpoint.
    // The window shrinks whenever a run ended before its kill, so that kills
    // keep landing however fast the machine is.
    let mut window_ms = 200;
    for _ in 0..100 {
        if timed_kills == 24 {
            break;
        }
        let mut child = command(&fake, &state, &settle)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5 + rng.below(window_ms))).await;
        if kill(&mut child) {
            timed_kills += 1;
        } else {
            window_ms = (window_ms / 2).max(10);
        }
    }
    assert!(
        in_flight_kills >= 20,
        "only {in_flight_kills} in-flight kills"
    );
    assert_eq!(timed_kills, 24);

    // Past the settle time, a run to the end finishes the job.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let output = redeliver(&fake, &state, &["--settle", "2s", "--json"]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let output = redeliver(&fake, &state, &["--settle", "2s", "--json"]).await;
    assert!(output.status.success());
    assert_eq!(json(&output)["redelivered"], 0);
    println!(
        "{in_flight_kills} kills with a POST in flight, {timed_kills} at random moments; \
         {} POSTs for {} failed events",
        fake.post_requests(),
        expected.redeliver.len()
    );
    fake.assert_redelivered_once(&expected.redeliver);
}
