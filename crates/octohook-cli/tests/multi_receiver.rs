//! Three `octohook serve` processes on one PostgreSQL schema, as receivers scaled
//! out behind a load balancer that retries: each delivery is sent to two of them
//! at once, and the receivers are killed with SIGKILL in turn (and restarted at
//! once on a new port) while the load runs.
//!
//! What must hold: every delivery is acknowledged (2xx) in the end, stored once
//! (one row per hook and GUID across the receivers) and processed; a delivery is
//! processed a second time only when its handler had started on a receiver that
//! was then killed, and never a third time.
//!
//! Losing an acknowledged delivery on one receiver is the single-receiver crash
//! test's subject (`inbox.rs`); here the second copy of each delivery would mask
//! it, and the subject is what several receivers share: the deduplication, the
//! claims and the leases.

#[path = "../../octohook-inbox/tests/inbox/pg.rs"]
#[allow(dead_code)] // Only the schema and the server's address are used here.
mod pg;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use octohook_test_battery::{ReceiverProcess, TestDelivery};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_octohook");
const RECEIVERS: usize = 3;
/// SIGKILLs per run, one receiver after the other.
const KILLS: usize = 4;
/// Deliveries in flight at once (each to two receivers).
const SENDERS: usize = 6;
const WORKERS: &str = "2";
/// Long enough that a busy machine does not let a lease lapse under a running
/// handler; the kills are spaced by more than this.
const LEASE: Duration = Duration::from_secs(2);

/// The receivers' current addresses, by slot; a restarted receiver takes over
/// its predecessor's slot.
struct Load {
    urls: RwLock<Vec<String>>,
    next: AtomicUsize,
    acknowledged: AtomicUsize,
    retried: AtomicUsize,
    stop: AtomicBool,
}

/// `octohook serve` on the schema, each handler run logged to `started` and
/// `finished` as "KEY RECEIVER", where RECEIVER is `receiver`, a number the
/// test gives each receiver it starts. (The handler learns it from its
/// environment: `$PPID` would read 1 in a handler that starts as its receiver
/// is killed, once it has been handed to init.)
fn start_receiver(
    url: &str,
    schema: &str,
    started: &Path,
    finished: &Path,
    receiver: u32,
) -> ReceiverProcess {
    let exec = format!(
        "echo \"$OCTOHOOK_IDEMPOTENCY_KEY $TEST_RECEIVER\" >> '{}'; cat > /dev/null; sleep 0.01; \
         echo \"$OCTOHOOK_IDEMPOTENCY_KEY $TEST_RECEIVER\" >> '{}'",
        started.display(),
        finished.display()
    );
    let lease = format!("{}s", LEASE.as_secs());
    let mut command = Command::new(BIN);
    command
        .env_remove("OCTOHOOK_DATABASE_URL")
        .env_remove("OCTOHOOK_DATABASE_SCHEMA")
        .env("OCTOHOOK_LOG", "warn")
        .env("TEST_RECEIVER", receiver.to_string())
        .args(["serve", "--database-url", url, "--database-schema", schema])
        .args(["--out", "/dev/null", "--exec", &exec])
        .args(["--workers", WORKERS, "--lease", &lease]);
    // Starting waits for the receiver's address: not on the runtime's threads.
    tokio::task::block_in_place(|| ReceiverProcess::spawn(&mut command, BIN))
}

/// Sends `delivery` to the receiver in `slot` until it answers 2xx (retrying
/// after 503 or a connection lost to a kill, as GitHub's redelivery would).
async fn send_until_acknowledged(
    load: &Load,
    client: &reqwest::Client,
    slot: usize,
    delivery: &TestDelivery,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let url = load.urls.read().unwrap()[slot].clone();
        match delivery.send(client, &url).await {
            Ok((status, _)) if (200..300).contains(&status) => return Ok(()),
            Ok((503, _)) | Err(_) => {}
            Ok((status, body)) => return Err(format!("receiver {slot} answered {status}: {body}")),
        }
        if Instant::now() > deadline {
            return Err(format!("{} unacknowledged after 60 s", delivery.guid()));
        }
        load.retried.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every stored delivery (`octohook inbox list --json`), over all statuses.
fn stored(url: &str, schema: &str) -> Vec<Value> {
    let output = Command::new(BIN)
        .env_remove("OCTOHOOK_DATABASE_URL")
        .args(["inbox", "list", "--json", "--limit", "1000000"])
        .args(["--database-url", url, "--database-schema", schema])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "octohook inbox list failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a JSON array")
}

/// "KEY RECEIVER" lines of a handler log, in the order written.
fn runs(path: &Path) -> Vec<(String, u32)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let (key, receiver) = line.rsplit_once(' ').expect("KEY RECEIVER");
            (
                key.to_owned(),
                receiver.parse().expect("a receiver's number"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_receivers_killed_in_turn_store_each_delivery_once_and_lose_none() {
    let database = pg::PgSchema::new().await;
    let (url, schema) = (database.url.clone(), database.schema.clone());
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started.log");
    let finished = dir.path().join("finished.log");

    // Receivers by slot, each with its number (0, 1, 2, then one more per
    // restart).
    let mut receivers: Vec<(u32, ReceiverProcess)> = (0..RECEIVERS as u32)
        .map(|number| {
            let receiver = start_receiver(&url, &schema, &started, &finished, number);
            (number, receiver)
        })
        .collect();
    let load = Arc::new(Load {
        urls: RwLock::new(
            receivers
                .iter()
                .map(|(_, receiver)| format!("http://{}/", receiver.address()))
                .collect(),
        ),
        next: AtomicUsize::new(0),
        acknowledged: AtomicUsize::new(0),
        retried: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
    });

    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..SENDERS {
        let load = Arc::clone(&load);
        senders.spawn(async move {
            let client = octohook_test_battery::http_client_builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut acknowledged = Vec::new();
            while !load.stop.load(Ordering::SeqCst) {
                let n = load.next.fetch_add(1, Ordering::SeqCst);
                let body = format!(
                    r#"{{"action":"opened","issue":{{"number":{n}}},"pad":"{}"}}"#,
                    "x".repeat(256)
                );
                let delivery = TestDelivery::json("issues", body.into_bytes());
                // Receivers 0+1, 1+2, 2+0, ...: every pair shares deliveries.
                let (first, second) = (n % RECEIVERS, (n + 1) % RECEIVERS);
                let (a, b) = tokio::join!(
                    send_until_acknowledged(&load, &client, first, &delivery),
                    send_until_acknowledged(&load, &client, second, &delivery),
                );
                a?;
                b?;
                load.acknowledged.fetch_add(1, Ordering::SeqCst);
                acknowledged.push(format!("42:{}", delivery.guid()));
            }
            Ok::<_, String>(acknowledged)
        });
    }

    // Kill the receivers in turn while the load runs, each restarted at once on
    // the same schema; the kills are spaced by more than a lease, so that what a
    // killed receiver held is taken over before the next kill.
    let mut killed = BTreeSet::new();
    let mut acknowledged_at_kills = Vec::new();
    tokio::time::sleep(Duration::from_secs(1)).await;
    for round in 0..KILLS {
        let slot = round % RECEIVERS;
        let before = load.acknowledged.load(Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(30);
        while load.acknowledged.load(Ordering::SeqCst) < before + 20 {
            assert!(Instant::now() < deadline, "the load is stuck");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (number, victim) = receivers.remove(slot);
        killed.insert(number);
        tokio::task::block_in_place(|| victim.kill());
        acknowledged_at_kills.push(load.acknowledged.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let number = (RECEIVERS + round) as u32;
        let successor = start_receiver(&url, &schema, &started, &finished, number);
        load.urls.write().unwrap()[slot] = format!("http://{}/", successor.address());
        receivers.insert(slot, (number, successor));
        tokio::time::sleep(LEASE + Duration::from_millis(500)).await;
    }
    let before = load.acknowledged.load(Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(30);
    while load.acknowledged.load(Ordering::SeqCst) < before + 20 {
        assert!(
            Instant::now() < deadline,
            "the load is stuck after the kills"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    load.stop.store(true, Ordering::SeqCst);
    let mut acknowledged = BTreeSet::new();
    while let Some(keys) = senders.join_next().await {
        let keys = keys.unwrap().unwrap_or_else(|error| panic!("{error}"));
        acknowledged.extend(keys);
    }
    let sent = load.next.load(Ordering::SeqCst);
    assert_eq!(
        acknowledged.len(),
        sent,
        "every delivery sent was acknowledged"
    );

    // Every delivery stored once and finished.
    let deadline = Instant::now() + Duration::from_secs(120);
    let rows = loop {
        let rows = tokio::task::block_in_place(|| stored(&url, &schema));
        let finished = rows
            .iter()
            .all(|row| row["status"] == "done" || row["status"] == "failed");
        if finished && rows.len() >= acknowledged.len() {
            break rows;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} deliveries stored, not all finished after 120 s",
            rows.len(),
            acknowledged.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(receivers);
    let mut stored_keys = BTreeMap::<String, usize>::new();
    for row in &rows {
        assert_eq!(row["status"], "done", "{row}");
        *stored_keys
            .entry(row["key"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let twice: Vec<_> = stored_keys.iter().filter(|&(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    assert_eq!(
        stored_keys.keys().cloned().collect::<BTreeSet<_>>(),
        acknowledged,
        "exactly the acknowledged deliveries are stored"
    );

    // Processed: at least once each; again only after a start on a receiver that
    // was killed (all starts but the last on killed receivers), at most twice.
    let mut finishes = BTreeMap::<String, usize>::new();
    for (key, _) in runs(&finished) {
        *finishes.entry(key).or_default() += 1;
    }
    let mut starts = BTreeMap::<String, Vec<u32>>::new();
    for (key, receiver) in runs(&started) {
        starts.entry(key).or_default().push(receiver);
    }
    for key in &acknowledged {
        assert!(finishes.contains_key(key), "{key} never processed");
    }
    let mut rerun = 0;
    for (key, started_on) in &starts {
        assert!(acknowledged.contains(key), "{key} processed but never sent");
        assert!(
            started_on.len() <= 2,
            "{key} started {} times: {started_on:?}",
            started_on.len()
        );
        let (_, earlier) = started_on.split_last().unwrap();
        for receiver in earlier {
            assert!(
                killed.contains(receiver),
                "{key} started again after a start on receiver {receiver}, which was not killed \
                 (killed: {killed:?})"
            );
        }
        rerun += earlier.len();
    }
    for (key, &count) in &finishes {
        assert!(count <= 2, "{key} processed {count} times");
    }
    eprintln!(
        "multi-receiver test: {sent} deliveries to two of {RECEIVERS} receivers each, \
         {KILLS} SIGKILLs (at {acknowledged_at_kills:?} acknowledged), {} retried requests, \
         {} stored, {rerun} handlers started again after a kill",
        load.retried.load(Ordering::Relaxed),
        rows.len(),
    );
}
