//! `octohook serve`'s traces, through the real binary over loopback: one trace
//! per delivery (`receive` → `store` → `attempt`, then `publish` and a
//! consumer's `consume` over NATS JetStream) at a test OTLP collector;
//! no exporter at all when nothing configures one; a collector that never
//! answers delays no answer; and the spans still queued are exported at a
//! graceful shutdown.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use octohook_test_battery::otlp::{CollectedSpan, OtlpCollector, SilentCollector, traces};
use octohook_test_battery::{SECRET, TestDelivery, TestStream, random_suffix};

const BIN: &str = env!("CARGO_BIN_EXE_octohook");
const PATIENCE: Duration = Duration::from_secs(30);

/// A running `octohook serve` with a SQLite inbox, its address, its standard
/// output (one line per processed delivery) and standard error.
struct Served {
    child: Child,
    address: SocketAddr,
    lines: mpsc::Receiver<String>,
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Served {
    /// Starts `octohook serve` with a clean environment and `env`.
    fn start(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(BIN)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GITHUB_WEBHOOK_SECRET", SECRET)
            .env("OCTOHOOK_BIND", "127.0.0.1:0")
            .env("OCTOHOOK_DB", dir.path().join("inbox.db"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("octohook starts");
        let (line_sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = line_sender.send(line);
            }
        });
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (found, addresses) = mpsc::channel();
        let kept = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some((_, rest)) = line.split_once("listening on http://") {
                    let address: SocketAddr = rest.split('/').next().unwrap().parse().unwrap();
                    let _ = found.send(address);
                }
                kept.lock().unwrap().push(line);
            }
        });
        let address = addresses.recv_timeout(PATIENCE).unwrap_or_else(|_| {
            panic!(
                "serve did not say where it listens:\n{}",
                log.lock().unwrap().join("\n")
            )
        });
        Self {
            child,
            address,
            lines,
            log,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits for `count` lines on standard output: that many deliveries
    /// processed.
    fn processed(&self, count: usize) -> Vec<String> {
        (0..count)
            .map(|n| {
                self.lines.recv_timeout(PATIENCE).unwrap_or_else(|_| {
                    panic!("only {n} of {count} deliveries processed:\n{}", self.log())
                })
            })
            .collect()
    }

    /// SIGTERM, then waits for the process to exit.
    fn terminate(mut self) -> (ExitStatus, Duration) {
        let started = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = started + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            assert!(
                Instant::now() < deadline,
                "serve did not stop:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn issue(n: usize) -> TestDelivery {
    TestDelivery::json(
        "issues",
        format!(r#"{{"action":"opened","issue":{{"number":{n}}}}}"#).into_bytes(),
    )
}

/// The one span named `name` among `spans`.
fn only<'a>(spans: &'a [CollectedSpan], name: &str) -> &'a CollectedSpan {
    let named: Vec<_> = spans.iter().filter(|span| span.name == name).collect();
    assert_eq!(named.len(), 1, "one {name} span in {spans:#?}");
    named[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_delivery_is_one_trace_of_receive_store_and_attempt() {
    const DELIVERIES: usize = 20;
    let collector = OtlpCollector::start();
    let served = Served::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint()),
        ("OTEL_SERVICE_NAME", "hooks-under-test"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ]);
    let client = octohook_test_battery::http_client();
    let url = served.url();
    let deliveries: Vec<TestDelivery> = (0..DELIVERIES).map(issue).collect();
    for delivery in &deliveries {
        delivery.expect_accepted(&client, &url).await.unwrap();
    }
    // Refused requests make no span: a bad signature, and no signature.
    for _ in 0..5 {
        issue(0)
            .tampered()
            .expect_status(&client, &url, 401)
            .await
            .unwrap();
        issue(0)
            .without("x-hub-signature-256")
            .without("x-hub-signature")
            .expect_status(&client, &url, 401)
            .await
            .unwrap();
    }
    // A redelivery is a trace of its own: received and stored (as a
    // duplicate), never attempted again.
    deliveries[0].expect_accepted(&client, &url).await.unwrap();
    served.processed(DELIVERIES);

    let attempts = |spans: &[CollectedSpan]| {
        spans.iter().filter(|span| span.name == "attempt").count() >= DELIVERIES
            && spans.iter().filter(|span| span.name == "receive").count() > DELIVERIES
    };
    let spans = collector
        .wait_for(PATIENCE, attempts)
        .unwrap_or_else(|spans| panic!("not every span arrived: {spans:#?}\n{}", served.log()));
    let traces = traces(&spans);
    assert_eq!(traces.len(), DELIVERIES + 1, "{traces:#?}");
    assert!(
        spans
            .iter()
            .all(|span| span.service_name == "hooks-under-test")
    );
    let mut traced_guids = Vec::new();
    for (trace_id, spans) in &traces {
        let receive = only(spans, "receive");
        let store = only(spans, "store");
        assert_eq!(
            receive.parent_span_id, None,
            "receive is the root: {spans:#?}"
        );
        assert_eq!(receive.kind, 2, "receive is a server span");
        assert!(store.is_child_of(receive), "{spans:#?}");
        let guid = receive.attribute("delivery").unwrap().to_owned();
        assert_eq!(receive.attribute("event"), Some("issues"));
        assert_eq!(receive.attribute("hook_id"), Some("42"));
        let attempts: Vec<_> = spans.iter().filter(|span| span.name == "attempt").collect();
        if attempts.is_empty() {
            // The redelivery.
            assert_eq!(guid, deliveries[0].guid(), "trace {trace_id}: {spans:#?}");
        } else {
            assert_eq!(attempts.len(), 1, "{spans:#?}");
            let attempt = attempts[0];
            assert!(attempt.is_child_of(store), "{spans:#?}");
            assert_eq!(attempt.attribute("delivery"), Some(guid.as_str()));
            assert_eq!(attempt.attribute("attempt"), Some("1"));
            assert!(attempt.start_end_nanos.0 >= store.start_end_nanos.0);
            traced_guids.push(guid);
        }
        assert_eq!(spans.len(), 2 + attempts.len(), "nothing else: {spans:#?}");
    }
    traced_guids.sort();
    let mut sent: Vec<String> = deliveries.iter().map(|d| d.guid().to_owned()).collect();
    sent.sort();
    assert_eq!(traced_guids, sent);
    // The spans stay out of the log lines; the exporter says where it sends.
    let log = served.log();
    assert!(log.contains("exporting traces over OTLP"), "{log}");
    assert!(
        !log.contains("receive{") && !log.contains("store:"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_configured_runs_no_exporter() {
    // Where an exporter would go by default (localhost:4318), a listener that
    // counts connections; and a collector no variable points at.
    let default_port = std::net::TcpListener::bind("127.0.0.1:4318")
        .expect("port 4318 (OTLP/HTTP's default) is free for this test");
    default_port.set_nonblocking(true).unwrap();
    let collector = OtlpCollector::start();
    let served = Served::start(&[
        // Everything but an endpoint: still no exporter.
        ("OTEL_SERVICE_NAME", "hooks-under-test"),
        ("OTEL_BSP_SCHEDULE_DELAY", "10"),
    ]);
    let client = octohook_test_battery::http_client();
    for n in 0..5 {
        issue(n)
            .expect_accepted(&client, &served.url())
            .await
            .unwrap();
    }
    served.processed(5);
    let log = served.log();
    let (status, _) = served.terminate();
    assert!(status.success(), "{log}");
    assert!(!log.contains("exporting traces"), "{log}");
    assert!(
        default_port.accept().is_err(),
        "something connected to the default OTLP port"
    );
    assert_eq!(collector.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_never_answers_delays_no_answer() {
    const DELIVERIES: usize = 200;
    let silent = SilentCollector::start();
    let served = Served::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &silent.endpoint()),
        // Export as often as possible, each export hanging for its timeout.
        ("OTEL_BSP_SCHEDULE_DELAY", "10"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "16"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "20000"),
    ]);
    let client = octohook_test_battery::http_client();
    let url = served.url();
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    for n in 0..DELIVERIES {
        let sent = Instant::now();
        issue(n).expect_accepted(&client, &url).await.unwrap();
        slowest = slowest.max(sent.elapsed());
    }
    let total = started.elapsed();
    eprintln!(
        "{DELIVERIES} deliveries against a collector that never answers: \
         slowest answer {slowest:?}, all in {total:?}"
    );
    served.processed(DELIVERIES);
    assert!(
        silent.accepted() >= 1,
        "the exporter never reached the collector:\n{}",
        served.log()
    );
    // Each answer waits for a SQLite commit only (a few ms), never for the
    // collector's 20 s timeout.
    assert!(
        slowest < Duration::from_secs(2),
        "slowest answer {slowest:?}"
    );
    assert!(
        total < Duration::from_secs(20),
        "{DELIVERIES} answers took {total:?}"
    );
    // A graceful shutdown waits a bounded time for the collector.
    let (status, stopping) = served.terminate();
    assert!(status.success());
    eprintln!("stopped in {stopping:?} (the flush waits 5 s at most)");
    assert!(
        stopping < Duration::from_secs(15),
        "stopping took {stopping:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_exports_the_queued_spans() {
    let collector = OtlpCollector::start();
    let served = Served::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint()),
        // No export before the shutdown.
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
    ]);
    let client = octohook_test_battery::http_client();
    for n in 0..3 {
        issue(n)
            .expect_accepted(&client, &served.url())
            .await
            .unwrap();
    }
    served.processed(3);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(collector.requests(), 0, "exported before the shutdown");
    let (status, _) = served.terminate();
    assert!(status.success());
    let spans = collector.spans();
    let traces = traces(&spans);
    assert_eq!(traces.len(), 3, "{spans:#?}");
    for spans in traces.values() {
        let mut names: Vec<_> = spans.iter().map(|span| span.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["attempt", "receive", "store"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_delivery_and_its_consumer_join_the_receivers_trace() {
    use async_nats::jetstream::{self, consumer::AckPolicy};
    use futures_util::StreamExt;
    use tracing_subscriber::layer::SubscriberExt;

    const DELIVERIES: usize = 3;
    let collector = OtlpCollector::start();
    // A stream of the test's own on the machine's NATS server (with the
    // server's default duplicate window, 2 minutes).
    let stream = TestStream::new("127.0.0.1:4222", Duration::from_secs(120)).await;
    let js_stream = stream.context().get_stream(stream.name()).await.unwrap();
    let publish = format!(
        "nats://127.0.0.1:4222/{}.{{event}}.{{action}}",
        stream.prefix()
    );
    let served = Served::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint()),
        ("OTEL_SERVICE_NAME", "receiver"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OCTOHOOK_PUBLISH", &publish),
    ]);
    let client = octohook_test_battery::http_client();
    // GitHub's own examples: the consumer dispatches them as typed events.
    let deliveries: Vec<TestDelivery> = octohook_test_battery::github_examples()
        .into_iter()
        .filter(|example| example.event == "issues")
        .take(DELIVERIES)
        .map(|example| TestDelivery::json("issues", example.body))
        .collect();
    assert_eq!(deliveries.len(), DELIVERIES);
    for delivery in &deliveries {
        delivery
            .expect_accepted(&client, &served.url())
            .await
            .unwrap();
    }
    served.processed(DELIVERIES);

    // The consumer, in this process, exports to the same collector.
    let telemetry = octohook_server::Telemetry::builder()
        .endpoint(&collector.endpoint())
        .unwrap()
        .service_name("consumer")
        .build()
        .unwrap();
    let subscriber = tracing::Dispatch::new(tracing_subscriber::registry().with(telemetry.layer()));
    let secret = octohook::WebhookSecret::new(SECRET).unwrap();
    let consumer = octohook_broker::Consumer::new(
        octohook::Verifier::new(secret),
        octohook::Dispatcher::new().on_any(|_| async {}),
    );
    let pull = js_stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some(format!("c{}", random_suffix())),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut consumed = 0;
    let deadline = Instant::now() + PATIENCE;
    while consumed < DELIVERIES && Instant::now() < deadline {
        let mut batch = pull
            .fetch()
            .max_messages(DELIVERIES)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .unwrap();
        while let Some(message) = batch.next().await {
            let message = message.unwrap();
            let received = octohook_broker::jetstream::received(&message);
            // The span is made on this thread, under the test's subscriber.
            let default = tracing::dispatcher::set_default(&subscriber);
            consumer
                .consume(&received)
                .await
                .expect("verified and dispatched");
            drop(default);
            message.ack().await.unwrap();
            consumed += 1;
        }
    }
    assert_eq!(consumed, DELIVERIES, "{}", served.log());
    telemetry.shutdown().unwrap();

    let complete = |spans: &[CollectedSpan]| {
        spans.iter().filter(|span| span.name == "consume").count() >= DELIVERIES
            && spans.iter().filter(|span| span.name == "publish").count() >= DELIVERIES
    };
    let spans = collector
        .wait_for(PATIENCE, complete)
        .unwrap_or_else(|spans| panic!("not every span arrived: {spans:#?}\n{}", served.log()));
    let traces = traces(&spans);
    assert_eq!(
        traces.len(),
        DELIVERIES,
        "one trace per delivery: {traces:#?}"
    );
    for spans in traces.values() {
        let receive = only(spans, "receive");
        let store = only(spans, "store");
        let attempt = only(spans, "attempt");
        let publish = only(spans, "publish");
        let consume = only(spans, "consume");
        assert!(store.is_child_of(receive), "{spans:#?}");
        assert!(attempt.is_child_of(store), "{spans:#?}");
        assert!(publish.is_child_of(attempt), "{spans:#?}");
        assert!(consume.is_child_of(publish), "{spans:#?}");
        assert_eq!(publish.service_name, "receiver");
        assert_eq!(consume.service_name, "consumer");
        assert_eq!(
            consume.attribute("delivery"),
            receive.attribute("delivery"),
            "{spans:#?}"
        );
    }
    stream.delete().await;
}
