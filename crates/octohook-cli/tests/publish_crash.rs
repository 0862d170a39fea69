//! `octohook serve --publish` through the real binary, against the real
//! brokers on 127.0.0.1 (NATS with JetStream on 4222, RabbitMQ on 5672) and a
//! private `nats-server`: SIGKILLs while publishing, and a broker going down
//! while deliveries arrive. Each test uses its own stream or exchange and
//! queue, with a random suffix, and deletes them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use octohook_test_battery::{SECRET, TestDelivery};

const BIN: &str = env!("CARGO_BIN_EXE_octohook");
const NATS: &str = "127.0.0.1:4222";
const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// A running `octohook serve`, SIGKILLed when dropped.
struct Serve {
    child: Child,
    address: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    fn start_with_env(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        command
            .env_remove("OCTOHOOK_DATABASE_URL")
            .env_remove("OCTOHOOK_PUBLISH");
        for (name, value) in envs {
            command.env(name, value);
        }
        let mut child = command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .env("GITHUB_WEBHOOK_SECRET", SECRET)
            .env("OCTOHOOK_LOG", "info")
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("octohook starts");
        let stderr = child.stderr.take().expect("piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (found, address) = mpsc::channel();
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("octohook: listening on http://") {
                    let address: SocketAddr = rest.split('/').next().unwrap().parse().unwrap();
                    if let Some(found) = found.take() {
                        let _ = found.send(address);
                    }
                }
                lines.lock().unwrap().push(line);
            }
        });
        let Ok(address) = address.recv_timeout(Duration::from_secs(20)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "octohook serve did not start:\n{}",
                log.lock().unwrap().join("\n")
            );
        };
        Self {
            child,
            address,
            log,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn suffix() -> String {
    use std::hash::{BuildHasher, RandomState};
    format!("{:016x}", RandomState::new().hash_one(Instant::now()))
}

fn key(delivery: &TestDelivery) -> String {
    format!("42:{}", delivery.guid())
}

/// `unique` signed `issues` deliveries, with every fourth one posted twice.
fn posts(unique: usize) -> (Vec<TestDelivery>, HashMap<String, Bytes>) {
    let mut posts = Vec::new();
    for n in 0..unique {
        let body = format!(
            r#"{{"action":"opened","issue":{{"number":{n}}},"pad":"{}"}}"#,
            "x".repeat(256 + n % 7)
        );
        posts.push(TestDelivery::json("issues", body.into_bytes()));
        if n % 4 == 3 {
            posts.push(posts[posts.len() - 3].clone());
        }
    }
    let bodies = posts
        .iter()
        .map(|post| (key(post), Bytes::copy_from_slice(post.body())))
        .collect();
    posts.reverse(); // popped from the end: posted in order.
    (posts, bodies)
}

/// Posts from 8 connections, following the receiver to its new port after a
/// restart, until each post is answered 200.
struct Load {
    url: RwLock<String>,
    queue: Mutex<Vec<TestDelivery>>,
    answered: AtomicUsize,
    non_200: AtomicUsize,
}

impl Load {
    fn start(
        url: String,
        posts: Vec<TestDelivery>,
    ) -> (Arc<Self>, tokio::task::JoinSet<Vec<String>>) {
        let load = Arc::new(Self {
            url: RwLock::new(url),
            queue: Mutex::new(posts),
            answered: AtomicUsize::new(0),
            non_200: AtomicUsize::new(0),
        });
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let load = Arc::clone(&load);
            tasks.spawn(async move {
                let client = octohook_test_battery::http_client_builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                let mut answered = Vec::new();
                loop {
                    let Some(delivery) = load.queue.lock().unwrap().pop() else {
                        return answered;
                    };
                    loop {
                        let url = load.url.read().unwrap().clone();
                        match delivery.send(&client, &url).await {
                            Ok((200, _)) => break,
                            Ok((status, _)) => {
                                load.non_200.fetch_add(1, Ordering::Relaxed);
                                assert_eq!(status, 503);
                            }
                            Err(_) => {}
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    load.answered.fetch_add(1, Ordering::SeqCst);
                    answered.push(key(&delivery));
                }
            });
        }
        (load, tasks)
    }

    async fn wait_answered(&self, at_least: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.answered.load(Ordering::SeqCst) < at_least {
            assert!(Instant::now() < deadline, "the load is stuck");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

async fn all_answered(tasks: &mut tokio::task::JoinSet<Vec<String>>) -> BTreeSet<String> {
    let mut answered = BTreeSet::new();
    while let Some(keys) = tasks.join_next().await {
        answered.extend(keys.unwrap());
    }
    answered
}

/// A JetStream stream of the test's own on `server`.
struct TestStream {
    context: jetstream::Context,
    name: String,
    prefix: String,
}

impl TestStream {
    async fn new(server: &str) -> Self {
        let client = async_nats::connect(server).await.expect("NATS server");
        let context = jetstream::new(client);
        let id = suffix();
        let (name, prefix) = (format!("OCTOCRASH_{id}"), format!("octocrash-{id}"));
        context
            .create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![format!("{prefix}.>")],
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .unwrap();
        Self {
            context,
            name,
            prefix,
        }
    }

    async fn count(&self) -> u64 {
        let mut stream = self.context.get_stream(&self.name).await.unwrap();
        stream.info().await.unwrap().state.messages
    }

    /// Every message: (Nats-Msg-Id, body).
    async fn messages(&self) -> Vec<(String, Bytes)> {
        let mut stream = self.context.get_stream(&self.name).await.unwrap();
        let state = stream.info().await.unwrap().state.clone();
        let mut messages = Vec::new();
        if state.messages == 0 {
            return messages;
        }
        for sequence in state.first_sequence..=state.last_sequence {
            let message = stream.get_raw_message(sequence).await.unwrap();
            let id = message
                .headers
                .get("Nats-Msg-Id")
                .expect("Nats-Msg-Id")
                .to_string();
            messages.push((id, message.payload));
        }
        messages
    }

    /// Waits until the stream holds `expected` messages, and a moment more
    /// (so that a late second copy would show).
    async fn wait_for(&self, expected: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(45);
        while self.count().await < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        self.count().await
    }

    async fn delete(self) {
        let _ = self.context.delete_stream(&self.name).await;
    }
}

/// Each answered key is in `messages` exactly once, with the bytes posted.
fn assert_exactly_once(
    messages: &[(String, Bytes)],
    answered: &BTreeSet<String>,
    bodies: &HashMap<String, Bytes>,
) -> BTreeMap<String, usize> {
    let mut copies = BTreeMap::<String, usize>::new();
    for (id, body) in messages {
        assert_eq!(body, &bodies[id], "{id}: bytes changed");
        *copies.entry(id.clone()).or_default() += 1;
    }
    let twice: Vec<_> = copies.iter().filter(|(_, count)| **count > 1).collect();
    assert!(twice.is_empty(), "in the stream twice: {twice:?}");
    assert_eq!(&copies.keys().cloned().collect::<BTreeSet<_>>(), answered);
    copies
}

const UNIQUE: usize = 400;
const KILLS: usize = 4;
const WORKERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkills_while_publishing_to_jetstream_leave_each_delivery_in_the_stream_once() {
    let started = Instant::now();
    let stream = TestStream::new(NATS).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let db_arg = db.to_str().unwrap().to_owned();
    let publish = format!("nats://{NATS}/{}.{{event}}.{{action}}", stream.prefix);
    let workers = WORKERS.to_string();
    let args = [
        "--db",
        &db_arg,
        "--out",
        "/dev/null",
        "--publish",
        &publish,
        "--workers",
        &workers,
        "--lease",
        "1s",
        "--retry-backoff",
        "100ms",
        "--max-attempts",
        "20",
    ];
    let (posts, bodies) = posts(UNIQUE);
    let total = posts.len();
    let mut serve = Serve::start(&args);
    let (load, mut tasks) = Load::start(serve.url(), posts);

    let mut in_stream_at_kills = Vec::new();
    for kill in 1..=KILLS {
        load.wait_answered(total * kill / (KILLS + 1)).await;
        serve.kill();
        in_stream_at_kills.push(stream.count().await);
        serve = Serve::start(&args);
        *load.url.write().unwrap() = serve.url();
    }
    let answered = all_answered(&mut tasks).await;
    assert_eq!(answered.len(), UNIQUE);
    let count = stream.wait_for(UNIQUE as u64).await;
    assert_eq!(count, UNIQUE as u64, "{}", serve.log());
    let copies = assert_exactly_once(&stream.messages().await, &answered, &bodies);
    // The kills came while publishing: the stream was neither empty nor full.
    assert!(
        in_stream_at_kills
            .iter()
            .any(|&n| n > 0 && n < UNIQUE as u64),
        "{in_stream_at_kills:?}"
    );
    eprintln!(
        "jetstream crash test: {total} posts ({UNIQUE} unique) from 8 connections, {KILLS} SIGKILLs \
         (stream held {in_stream_at_kills:?} at the kills), {} non-200 answers; messages per \
         (hook, GUID): {} keys x 1, max {} ({:.1?})",
        load.non_200.load(Ordering::Relaxed),
        copies.len(),
        copies.values().max().unwrap(),
        started.elapsed()
    );
    stream.delete().await;
}

/// A private `nats-server` with JetStream, on a port of its own.
struct PrivateNats {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl PrivateNats {
    fn start(port: u16, dir: &std::path::Path) -> Self {
        let child = Command::new("/usr/sbin/nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("/usr/sbin/nats-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            port,
            dir: dir.to_owned(),
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.stop();
        *self = Self::start(self.port, &self.dir.clone());
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_server_down_while_deliveries_arrive_loses_nothing_and_stores_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("jetstream");
    std::fs::create_dir(&store).unwrap();
    let mut nats = PrivateNats::start(free_port(), &store);
    let server = format!("127.0.0.1:{}", nats.port);
    let stream = TestStream::new(&server).await;
    let db = dir.path().join("inbox.db");
    let db_arg = db.to_str().unwrap().to_owned();
    let publish = format!("nats://{server}/{}.{{event}}.{{action}}", stream.prefix);
    let args = [
        "--db",
        &db_arg,
        "--out",
        "/dev/null",
        "--publish",
        &publish,
        "--workers",
        "4",
        "--retry-backoff",
        "200ms",
        "--max-attempts",
        "30",
    ];
    let (posts, bodies) = posts(120);
    let total = posts.len();
    let serve = Serve::start(&args);
    let (load, mut tasks) = Load::start(serve.url(), posts);

    load.wait_answered(total / 4).await;
    nats.stop();
    let answered_when_down = load.answered.load(Ordering::SeqCst);
    // Down for a while as deliveries keep arriving: each is answered 200
    // from the inbox.
    load.wait_answered(total * 3 / 4).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answered_while_down = load.answered.load(Ordering::SeqCst) - answered_when_down;
    assert_eq!(load.non_200.load(Ordering::Relaxed), 0);
    nats.restart();

    let answered = all_answered(&mut tasks).await;
    assert_eq!(answered.len(), 120);
    assert_eq!(load.non_200.load(Ordering::Relaxed), 0, "a non-200 answer");
    // The test's own client reconnects too.
    let count = stream.wait_for(120).await;
    assert_eq!(count, 120, "{}", serve.log());
    assert_exactly_once(&stream.messages().await, &answered, &bodies);
    eprintln!(
        "broker-down test: {total} posts, {answered_while_down} answered 200 while nats-server was down; \
         120 messages in the stream, each once"
    );
    drop(serve);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_stream_stops_serve_at_start_naming_the_subject() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let subject = format!("nostream-{}", suffix());
    let output = Command::new(BIN)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--out",
            "/dev/null",
            "--db",
        ])
        .arg(&db)
        .args(["--publish", &format!("nats://{NATS}/{subject}.{{event}}")])
        .env_remove("OCTOHOOK_DATABASE_URL")
        .env("GITHUB_WEBHOOK_SECRET", SECRET)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("{subject}.*")), "{stderr}");
    assert!(stderr.contains("no JetStream stream covers"), "{stderr}");

    let output = Command::new(BIN)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--out",
            "/dev/null",
            "--db",
        ])
        .arg(&db)
        .args([
            "--publish",
            "amqp://guest:hunter2@127.0.0.1:1/%2f?exchange=x",
        ])
        .env("GITHUB_WEBHOOK_SECRET", SECRET)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("routing_key"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publish_url_from_the_environment_is_used_never_printed_nor_inherited() {
    let stream = TestStream::new(NATS).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let (own, parent) = (dir.path().join("own"), dir.path().join("parent"));
    let exec = format!(
        "tr '\\0' '\\n' < /proc/$PPID/environ > '{}'; env > '{}'; cat > /dev/null",
        parent.display(),
        own.display()
    );
    let publish = format!(
        "nats://watcher:pw-of-the-publish@{NATS}/{}.{{event}}.{{action}}",
        stream.prefix
    );
    let serve = Serve::start_with_env(
        &[
            "--db",
            db.to_str().unwrap(),
            "--out",
            "/dev/null",
            "--exec",
            &exec,
        ],
        &[("OCTOHOOK_PUBLISH", &publish)],
    );
    let delivery = TestDelivery::json("issues", br#"{"action":"opened"}"#.to_vec());
    let client = octohook_test_battery::http_client_builder()
        .build()
        .unwrap();
    assert_eq!(delivery.send(&client, &serve.url()).await.unwrap().0, 200);
    assert_eq!(stream.wait_for(1).await, 1, "{}", serve.log());
    for file in [&own, &parent] {
        let environ = std::fs::read_to_string(file).unwrap();
        assert!(!environ.is_empty());
        assert!(!environ.contains("OCTOHOOK_PUBLISH"), "{environ}");
        assert!(!environ.contains("pw-of-the-publish"), "{environ}");
    }
    let log = serve.log();
    assert!(log.contains("watcher:***@"), "{log}");
    assert!(!log.contains("pw-of-the-publish"), "{log}");
    stream.delete().await;
}

#[cfg(test)]
mod rabbitmq {
    use lapin::options::{
        BasicGetOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
        QueueDeclareOptions, QueueDeleteOptions,
    };
    use lapin::types::FieldTable;
    use lapin::{Connection, ConnectionProperties, ExchangeKind};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sigkills_while_publishing_to_rabbitmq_leave_each_delivery_queued_at_least_once_with_one_id()
     {
        let started = Instant::now();
        let connection = Connection::connect(AMQP, ConnectionProperties::default())
            .await
            .expect("RabbitMQ on 127.0.0.1:5672");
        let channel = connection.create_channel().await.unwrap();
        let id = suffix();
        let (exchange, queue) = (format!("octocrash-x-{id}"), format!("octocrash-q-{id}"));
        channel
            .exchange_declare(
                exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                "issues.*".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();

        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("inbox.db");
        let db_arg = db.to_str().unwrap().to_owned();
        let publish = format!("{AMQP}?exchange={exchange}&routing_key={{event}}.{{action}}");
        let workers = WORKERS.to_string();
        let args = [
            "--db",
            &db_arg,
            "--out",
            "/dev/null",
            "--publish",
            &publish,
            "--workers",
            &workers,
            "--lease",
            "1s",
            "--retry-backoff",
            "100ms",
            "--max-attempts",
            "20",
        ];
        let (posts, bodies) = posts(UNIQUE);
        let total = posts.len();
        let mut serve = Serve::start(&args);
        let (load, mut tasks) = Load::start(serve.url(), posts);
        for kill in 1..=KILLS {
            load.wait_answered(total * kill / (KILLS + 1)).await;
            serve.kill();
            serve = Serve::start(&args);
            *load.url.write().unwrap() = serve.url();
        }
        let answered = all_answered(&mut tasks).await;
        assert_eq!(answered.len(), UNIQUE);

        // Read the queue until every answered key showed up, then drain it.
        let mut copies = BTreeMap::<String, usize>::new();
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            let got = channel
                .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap();
            let Some(message) = got else {
                if copies.len() >= UNIQUE || Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let properties = &message.delivery.properties;
            let id = properties
                .message_id()
                .as_ref()
                .expect("message_id")
                .to_string();
            assert_eq!(properties.delivery_mode(), &Some(2), "persistent");
            let received = octohook_broker::amqp::received(properties, &message.delivery.data);
            assert_eq!(
                received.idempotency_key(),
                Some(id.as_str()),
                "one id per copy"
            );
            assert_eq!(received.body(), &bodies[&id], "{id}: bytes changed");
            *copies.entry(id).or_default() += 1;
        }
        assert_eq!(
            copies.keys().cloned().collect::<BTreeSet<_>>(),
            answered,
            "{}",
            serve.log()
        );
        // A second copy only for a delivery in flight at a kill: at most one
        // per worker per kill.
        let twice = copies.values().filter(|&&count| count > 1).count();
        assert!(twice <= KILLS * WORKERS, "{twice} keys queued twice");
        eprintln!(
            "rabbitmq crash test: {total} posts ({UNIQUE} unique) from 8 connections, {KILLS} SIGKILLs; \
             messages per (hook, GUID): {} keys, {twice} of them twice, max {} ({:.1?})",
            copies.len(),
            copies.values().max().unwrap(),
            started.elapsed()
        );
        drop(serve);
        let _ = channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await;
        let _ = channel
            .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await;
    }
}
