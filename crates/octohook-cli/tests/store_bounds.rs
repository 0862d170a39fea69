//! What a stranger can make `octohook serve`'s inbox spend, through the real
//! binary over loopback: `/metrics` scrapes beside a large SQLite inbox leave
//! deliveries and `/healthz` alone, and the memory inbox stops at its size limit
//! with 503 and `Retry-After`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use octohook_test_battery::{TempDb, TestDelivery};
use serve::Serve;

mod serve;

/// Starts `octohook serve --admin-bind 127.0.0.1:0 ARGS`.
fn serve_with_admin(args: &[&str]) -> Serve {
    Serve::start(&[&["--admin-bind", "127.0.0.1:0"], args].concat())
}

/// Fills a new inbox at `path` with `rows` finished deliveries, in one
/// transaction of plain SQL: seconds, where the store's API would take minutes.
async fn fill_inbox(path: &Path, rows: u32) {
    drop(octohook_inbox::SqliteStore::open(path).await.unwrap());
    let connection = rusqlite::Connection::open(path).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // About what GitHub's headers take in a row.
    let headers = serde_json::to_string(&[
        ["content-type", "application/json"],
        ["user-agent", "GitHub-Hookshot/044aadd"],
        ["x-github-event", "push"],
        ["x-github-hook-id", "42"],
        ["x-github-hook-installation-target-type", "repository"],
        ["x-github-hook-installation-target-id", "7"],
        ["x-hub-signature", &format!("sha1={}", "ab".repeat(20))],
        [
            "x-hub-signature-256",
            &format!("sha256={}", "ab".repeat(32)),
        ],
    ])
    .unwrap();
    connection
        .execute_batch("PRAGMA synchronous = OFF; BEGIN;")
        .unwrap();
    connection
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
             INSERT INTO octohook_deliveries (id, hook_id, has_hook_id, guid, event, \
               content_type, headers, body, received_at, status, attempts, claim_seq, \
               updated_at) \
             SELECT i, 42, 1, 'filler-' || i, 'push', 'application/json', ?2, x'', ?3, \
               'done', 1, 1, ?3 FROM n",
            rusqlite::params![rows, headers, now],
        )
        .unwrap();
    connection
        .execute_batch(
            "INSERT INTO octohook_delivery_bodies (id, body) \
               SELECT id, CAST('{\"ref\":\"refs/heads/main\"}' AS BLOB) FROM octohook_deliveries; \
             COMMIT;",
        )
        .unwrap();
}

/// Posts one new delivery; its status and how long the answer took.
async fn deliver(client: &reqwest::Client, address: SocketAddr) -> (u16, Duration) {
    let delivery = TestDelivery::json("push", br#"{"ref":"refs/heads/main"}"#.to_vec());
    let started = Instant::now();
    let (status, _) = delivery
        .send(client, &format!("http://{address}/"))
        .await
        .unwrap();
    (status, started.elapsed())
}

/// The 99th percentile of `latencies`.
fn p99(mut latencies: Vec<Duration>) -> Duration {
    latencies.sort_unstable();
    let rank = (latencies.len() * 99).div_ceil(100).max(1);
    latencies[rank - 1]
}

/// `rounds` deliveries one after another; their latencies.
async fn latencies(client: &reqwest::Client, address: SocketAddr, rounds: usize) -> Vec<Duration> {
    let mut taken = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let (status, elapsed) = deliver(client, address).await;
        assert_eq!(status, 200);
        taken.push(elapsed);
    }
    taken
}

/// With 200,000 deliveries in the inbox, eight clients scraping `/metrics`
/// without pause (a count on the write path took every delivery hostage) leave
/// the p99 delivery latency within 3x of the idle one (or 50 ms, on a loaded
/// machine), and `/healthz` answering 200 throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_scrapes_beside_a_large_inbox_slow_no_delivery() {
    const ROUNDS: usize = 300;
    let db = TempDb::new();
    fill_inbox(db.path(), 200_000).await;
    let served = serve_with_admin(&["--db", db.path_str()]);
    let client = octohook_test_battery::http_client();
    // Warm: connections, statement caches, pages.
    latencies(&client, served.address(), 20).await;
    let idle = p99(latencies(&client, served.address(), ROUNDS).await);

    let stop = Arc::new(AtomicBool::new(false));
    let scrapes = Arc::new(AtomicUsize::new(0));
    let mut scrapers = Vec::new();
    for _ in 0..8 {
        let (client, stop, scrapes) = (client.clone(), Arc::clone(&stop), Arc::clone(&scrapes));
        let url = format!("http://{}/metrics", served.admin());
        scrapers.push(tokio::spawn(async move {
            let mut counted = None;
            while !stop.load(Ordering::Relaxed) {
                let response = client.get(&url).send().await.unwrap();
                assert_eq!(response.status(), 200);
                let text = response.text().await.unwrap();
                counted = counted.or(text
                    .lines()
                    .find_map(|line| {
                        line.strip_prefix(r#"octohook_inbox_deliveries{status="done"} "#)
                    })
                    .map(|value| value.trim().parse::<f64>().unwrap()));
                scrapes.fetch_add(1, Ordering::Relaxed);
                // Each as fast as its answers come, give or take: a pause
                // keeps the test about the store, not about rendering 8
                // expositions at once on 2 cores.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            counted
        }));
    }
    let health = {
        let (client, stop) = (client.clone(), Arc::clone(&stop));
        let url = format!("http://{}/healthz", served.admin());
        tokio::spawn(async move {
            let mut answers = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                answers.push(client.get(&url).send().await.unwrap().status().as_u16());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            answers
        })
    };
    // Timed from the first scrape on: the count it starts (the inbox was never
    // counted) runs while deliveries are timed.
    let loaded = p99(latencies(&client, served.address(), ROUNDS).await);
    stop.store(true, Ordering::Relaxed);
    let mut counted = None;
    for scraper in scrapers {
        counted = counted.or(scraper.await.unwrap());
    }
    let health = health.await.unwrap();

    eprintln!(
        "p99 idle {idle:?}, with 8 scrapers {loaded:?}; {} scrapes, {} health checks",
        scrapes.load(Ordering::Relaxed),
        health.len()
    );
    assert!(
        counted.is_some_and(|done| done >= 200_000.0),
        "/metrics did not count the inbox: {counted:?}"
    );
    assert!(
        health.iter().all(|&status| status == 200),
        "/healthz answered {health:?}"
    );
    let bound = (idle * 3).max(Duration::from_millis(50));
    assert!(
        loaded <= bound,
        "p99 with scrapers {loaded:?} > {bound:?} (idle p99 {idle:?})"
    );
}

/// `--db-size-limit` bounds the memory inbox: with its workers busy, deliveries
/// past the limit are answered 503 with `Retry-After`, and those taken fit in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_inbox_answers_503_with_retry_after_past_its_size_limit() {
    const LIMIT: usize = 1 << 20;
    const BODY: usize = 200_000;
    let served = serve_with_admin(&[
        "--memory-inbox",
        "--db-size-limit",
        "1MiB",
        "--exec",
        "sleep 30",
        "--workers",
        "1",
    ]);
    let client = octohook_test_battery::http_client();
    let url = format!("http://{}/", served.address());
    let mut accepted = 0;
    let mut refused = 0;
    for _ in 0..10 {
        let body = format!(r#"{{"pad":"{}"}}"#, "p".repeat(BODY - 10)).into_bytes();
        let delivery = TestDelivery::json("push", body);
        let mut request = client.post(&url).body(delivery.body().to_vec());
        for (name, value) in delivery.headers() {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        match response.status().as_u16() {
            200 => accepted += 1,
            503 => {
                assert!(
                    response.headers().contains_key("retry-after"),
                    "503 without Retry-After"
                );
                refused += 1;
            }
            other => panic!("answered {other}"),
        }
    }
    assert!(
        accepted >= 1 && accepted * BODY <= LIMIT,
        "{accepted} accepted"
    );
    assert_eq!(accepted + refused, 10);
    assert!(refused >= 4, "{refused} refused");
}

/// The resident memory of process `pid`, in bytes.
#[cfg(target_os = "linux")]
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .map(|kib| kib.trim().parse().unwrap())
        .unwrap();
    kib * 1024
}

/// Replays of one small delivery with 70 padding headers of 5 KB (350 KB of
/// request head each) leave the memory inbox's resident memory about flat: the
/// padding is not stored, nor is the read buffer it came in, which a body
/// sliced from it would keep alive (150 replays held 50 MB that way).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_padding_header_flood_leaves_the_memory_inbox_rss_flat() {
    let served = serve_with_admin(&["--memory-inbox"]);
    let client = octohook_test_battery::http_client();
    let url = format!("http://{}/", served.address());
    let padded = || {
        (0..70).fold(
            TestDelivery::json("push", br#"{"ref":"refs/heads/main"}"#.to_vec()),
            |delivery, n| {
                delivery.with_added_header(&format!("x-github-padding-{n}"), &"p".repeat(5_000))
            },
        )
    };
    // Warm: the connection's buffers and the allocator's arenas.
    for _ in 0..20 {
        assert_eq!(padded().send(&client, &url).await.unwrap().0, 200);
    }
    let before = rss(served.id());
    for _ in 0..150 {
        assert_eq!(padded().send(&client, &url).await.unwrap().0, 200);
    }
    let grown = rss(served.id()).saturating_sub(before);
    assert!(grown < 20 << 20, "RSS grew by {} KiB", grown >> 10);
}
