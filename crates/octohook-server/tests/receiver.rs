//! The `Receiver` over real sockets on 127.0.0.1: what it answers,
//! stores and writes, with and without an inbox, its admin endpoints, and its
//! shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use octohook::{Verifier, WebhookSecret};
use octohook_inbox::handlers::JsonLines;
use octohook_server::{Receiver, ReceiverConfig, ReceiverError, StoreConfig};
use octohook_test_battery::{SECRET, TestDelivery};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);

fn verifier() -> Verifier {
    Verifier::new(WebhookSecret::new(SECRET).unwrap())
}

/// The configuration of these tests: lines to `lines`.
fn config(lines: &Path) -> ReceiverConfig {
    ReceiverConfig {
        lines: Some(JsonLines::append_to(lines).unwrap()),
        ..ReceiverConfig::default()
    }
}

/// A started receiver, served on a free port until `stop` is sent.
struct Running {
    address: SocketAddr,
    admin: Option<SocketAddr>,
    stop: oneshot::Sender<()>,
    served: JoinHandle<()>,
}

impl Running {
    async fn start(config: ReceiverConfig) -> Self {
        let receiver = Receiver::start(verifier(), config)
            .await
            .expect("the receiver starts");
        let admin = receiver.admin_address();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(receiver.serve(listener, async {
            let _ = stopped.await;
        }));
        Self {
            address,
            admin,
            stop,
            served,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Stops the receiver and waits until `serve` has returned.
    async fn shut_down(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(PATIENCE, self.served)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
    }
}

fn lines_in(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits until `path` holds `count` lines.
async fn wait_for_lines(path: &Path, count: usize) -> Vec<String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let lines = lines_in(path);
        if lines.len() >= count || Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A SQLite store at `path`, created.
#[cfg(feature = "sqlite")]
fn sqlite(path: &Path) -> StoreConfig {
    StoreConfig::Sqlite {
        path: path.to_owned(),
        size_limit: None,
        create: true,
        read_only: false,
    }
}

/// `config` with the admin endpoints on a free port.
fn with_admin(config: ReceiverConfig) -> ReceiverConfig {
    // A recorder of the test's own: the process may hold only one global one.
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .build_recorder()
        .handle();
    ReceiverConfig {
        admin: Some("127.0.0.1:0".parse().unwrap()),
        prometheus: Some(prometheus),
        ..config
    }
}

fn temp_file(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_delivery_is_stored_answered_200_and_written_by_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    let out = temp_file(&dir, "out.jsonl");
    let db = temp_file(&dir, "inbox.db");
    let running = Running::start(ReceiverConfig {
        path: "/hooks".to_owned(),
        store: sqlite(&db),
        ..config(&out)
    })
    .await;
    let client = octohook_test_battery::http_client();
    let delivery = TestDelivery::json("issues", br#"{"action":"opened"}"#.to_vec());
    let (status, body) = delivery
        .send(&client, &running.url("/hooks"))
        .await
        .unwrap();
    assert_eq!((status, body.as_str()), (200, ""));
    // A redelivery is answered alike, and not stored (nor written) again.
    let (status, _) = delivery
        .send(&client, &running.url("/hooks"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    // A forged one never reaches the store.
    let (status, _) = delivery
        .clone()
        .tampered()
        .send(&client, &running.url("/hooks"))
        .await
        .unwrap();
    assert_eq!(status, 401);
    let lines = wait_for_lines(&out, 1).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    delivery.expect_record(&lines[0]).unwrap();
    running.shut_down().await;

    let store = octohook_inbox::SqliteStore::open(&db).await.unwrap();
    let counts = octohook_inbox::DeliveryStore::counts(&store).await.unwrap();
    assert_eq!((counts.total(), counts.done), (1, 1));
    assert_eq!(lines_in(&out).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_inbox_the_line_is_written_before_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let out = temp_file(&dir, "out.jsonl");
    let running = Running::start(ReceiverConfig {
        store: StoreConfig::None,
        ..config(&out)
    })
    .await;
    let client = octohook_test_battery::http_client();
    let delivery = TestDelivery::json("push", br#"{"ref":"refs/heads/main"}"#.to_vec());
    let (status, _) = delivery.send(&client, &running.url("/")).await.unwrap();
    assert_eq!(status, 200);
    let lines = lines_in(&out);
    assert_eq!(lines.len(), 1, "written before the 200: {lines:?}");
    delivery.expect_record(&lines[0]).unwrap();
    // Without deduplication, a redelivery is written again.
    delivery.send(&client, &running.url("/")).await.unwrap();
    assert_eq!(lines_in(&out).len(), 2);
    // Signed, but not a JSON object: refused, and nothing written.
    let array = TestDelivery::json("push", b"[1, 2]".to_vec());
    let (status, body) = array.send(&client, &running.url("/")).await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.starts_with("invalid payload:"), "{body}");
    assert_eq!(lines_in(&out).len(), 2);
    running.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_battery_passes_with_and_without_an_inbox() {
    let dir = tempfile::tempdir().unwrap();
    for store in [StoreConfig::Memory { size_limit: None }, StoreConfig::None] {
        let out = temp_file(&dir, "out.jsonl");
        let running = Running::start(ReceiverConfig {
            store: store.clone(),
            ..config(&out)
        })
        .await;
        let failures = octohook_test_battery::run(running.address, "/").await;
        assert!(
            failures.is_empty(),
            "{}:\n{}",
            store.describe(),
            failures.join("\n")
        );
        running.shut_down().await;
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_keeps_only_githubs_headers() {
    let dir = tempfile::tempdir().unwrap();
    let out = temp_file(&dir, "out.jsonl");
    let db = temp_file(&dir, "inbox.db");
    let running = Running::start(ReceiverConfig {
        store: sqlite(&db),
        ..config(&out)
    })
    .await;
    let store = octohook_inbox::SqliteStore::open(&db).await.unwrap();
    let failures = octohook_test_battery::check_stored_headers(running.address, "/", &store).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    running.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_endpoints_answer_on_their_own_listener() {
    let dir = tempfile::tempdir().unwrap();
    let out = temp_file(&dir, "out.jsonl");
    let running = Running::start(with_admin(config(&out))).await;
    let admin = running.admin.expect("an admin address");
    assert_ne!(admin, running.address);
    let client = octohook_test_battery::http_client();
    let health = client
        .get(format!("http://{admin}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    let metrics = client
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert_eq!(
        metrics.headers()["content-type"],
        octohook_server::admin::METRICS_CONTENT_TYPE
    );
    // Deliveries are not served there.
    let delivery = TestDelivery::json("ping", b"{}".to_vec());
    let (status, _) = delivery
        .send(&client, &format!("http://{admin}/"))
        .await
        .unwrap();
    assert_eq!(status, 404);
    running.shut_down().await;
    // Stopped with the receiver.
    let deadline = Instant::now() + PATIENCE;
    while tokio::net::TcpStream::connect(admin).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the admin listener still accepts"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A SQLite inbox at its size limit answers deliveries 503, and `/healthz`
/// says so too (it answered 200 while every delivery was refused), naming the
/// limit.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_503_while_the_sqlite_inbox_is_full() {
    const LIMIT: u64 = 256 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let out = temp_file(&dir, "out.jsonl");
    let db = temp_file(&dir, "inbox.db");
    let running = Running::start(with_admin(ReceiverConfig {
        store: StoreConfig::Sqlite {
            path: db,
            size_limit: Some(LIMIT),
            create: true,
            read_only: false,
        },
        ..config(&out)
    }))
    .await;
    let admin = running.admin.expect("an admin address");
    let client = octohook_test_battery::http_client();
    let healthz = || async {
        let response = client
            .get(format!("http://{admin}/healthz"))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    assert_eq!(healthz().await.0, 200);
    let mut accepted = 0;
    loop {
        let body = format!(r#"{{"n":{accepted},"pad":"{}"}}"#, "p".repeat(8 * 1024));
        let delivery = TestDelivery::json("push", body.into_bytes());
        match delivery.send(&client, &running.url("/")).await.unwrap().0 {
            200 => accepted += 1,
            503 => break,
            other => panic!("answered {other}"),
        }
        assert!(accepted < 100, "the size limit was never reached");
    }
    let (status, text) = healthz().await;
    assert_eq!(status, 503, "{text}");
    assert!(
        text.contains("full") && text.contains(&format!("{LIMIT} bytes")),
        "{text}"
    );
    running.shut_down().await;
}

#[cfg(all(unix, feature = "exec"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_running_handler_finish() {
    let dir = tempfile::tempdir().unwrap();
    let out = temp_file(&dir, "out.jsonl");
    let started = temp_file(&dir, "started");
    let finished = temp_file(&dir, "finished");
    let command = format!(
        "touch '{}' && sleep 1 && cat > '{}'",
        started.display(),
        finished.display()
    );
    let processing = octohook_server::ProcessingConfig {
        exec: Some(command),
        shutdown_timeout: PATIENCE,
        ..octohook_server::ProcessingConfig::default()
    };
    let running = Running::start(ReceiverConfig {
        processing,
        ..config(&out)
    })
    .await;
    let client = octohook_test_battery::http_client();
    let delivery = TestDelivery::json("ping", br#"{"zen":"Keep it logically awesome."}"#.to_vec());
    let (status, _) = delivery.send(&client, &running.url("/")).await.unwrap();
    assert_eq!(status, 200);
    let deadline = Instant::now() + PATIENCE;
    while !started.exists() {
        assert!(Instant::now() < deadline, "the command never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!finished.exists());
    running.shut_down().await;
    // serve returned only once the command had finished.
    let payload = std::fs::read(&finished).expect("the command finished");
    assert_eq!(payload, delivery.body());
}

#[tokio::test]
async fn a_bad_configuration_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let out = temp_file(&dir, "out.jsonl");
    let bad_path = ReceiverConfig {
        path: "hooks".to_owned(),
        ..config(&out)
    };
    let error = Receiver::start(verifier(), bad_path).await.unwrap_err();
    assert!(matches!(error, ReceiverError::Path), "{error}");
    #[cfg(feature = "exec")]
    {
        let exec_without_inbox = ReceiverConfig {
            store: StoreConfig::None,
            processing: octohook_server::ProcessingConfig {
                exec: Some("true".to_owned()),
                ..octohook_server::ProcessingConfig::default()
            },
            ..config(&out)
        };
        let error = Receiver::start(verifier(), exec_without_inbox)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "--exec, --forward and --publish need an inbox: drop --no-inbox"
        );
    }
    #[cfg(feature = "sqlite")]
    {
        let missing = temp_file(&dir, "missing.db");
        let missing_file = ReceiverConfig {
            store: StoreConfig::Sqlite {
                path: missing.clone(),
                size_limit: None,
                create: false,
                read_only: true,
            },
            ..config(&out)
        };
        let error = Receiver::start(verifier(), missing_file).await.unwrap_err();
        assert!(matches!(error, ReceiverError::Store(_)), "{error}");
        assert!(!missing.exists());
    }
}
