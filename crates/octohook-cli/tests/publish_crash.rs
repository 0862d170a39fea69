//! `octohook serve --publish` through the real binary, against the real
//! brokers on 127.0.0.1 (NATS with JetStream on 4222, RabbitMQ on 5672) and a
//! private `nats-server`: SIGKILLs while publishing, and a broker going down
//! while deliveries arrive. Each test uses its own stream or exchange and
//! queue, with a random suffix, and deletes them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use load::{Load, all_answered, issue_posts, key};
use octohook_test_battery::{SECRET, TestDelivery, TestQueue, TestStream, random_suffix};
use serve::Serve;

mod load;
mod serve;

const BIN: &str = env!("CARGO_BIN_EXE_octohook");
const NATS: &str = "127.0.0.1:4222";
const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// `unique` signed `issues` deliveries, with every fourth one posted twice,
/// and the bytes of each by key.
fn posts(unique: usize) -> (Vec<TestDelivery>, HashMap<String, Bytes>) {
    let posts = issue_posts(unique, |n| 256 + n % 7);
    let bodies = posts
        .iter()
        .map(|post| (key(post), Bytes::copy_from_slice(post.body())))
        .collect();
    (posts, bodies)
}

/// How long the load may take to reach the next number of answers.
const PATIENCE: Duration = Duration::from_secs(30);

/// Every message of `stream`: (Nats-Msg-Id, body).
async fn id_and_body(stream: &TestStream) -> Vec<(String, Bytes)> {
    let messages = stream.messages().await.into_iter();
    messages
        .map(|message| {
            let id = message.headers.get("Nats-Msg-Id").expect("Nats-Msg-Id");
            (id.to_string(), message.payload)
        })
        .collect()
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

/// Runs `octohook serve --publish PUBLISH`, storing in `db`, while `posts` are
/// posted from 8 connections, and SIGKILLs it KILLS times evenly through the
/// load, restarting it at once on the same file; `at_kill` runs between each
/// kill and the restart. Returns the last receiver, the load and every key
/// answered 200.
async fn publish_through_kills(
    db: &Path,
    publish: &str,
    posts: Vec<TestDelivery>,
    mut at_kill: impl AsyncFnMut(),
) -> (Serve, Arc<Load>, BTreeSet<String>) {
    let workers = WORKERS.to_string();
    let args = [
        "--db",
        db.to_str().unwrap(),
        "--out",
        "/dev/null",
        "--publish",
        publish,
        "--workers",
        &workers,
        "--lease",
        "1s",
        "--retry-backoff",
        "100ms",
        "--max-attempts",
        "20",
    ];
    let total = posts.len();
    let mut serve = Serve::start(&args);
    let (load, mut tasks) = Load::start(serve.url(), posts, 8);
    for kill in 1..=KILLS {
        load.wait_answered(total * kill / (KILLS + 1), PATIENCE)
            .await;
        serve.kill();
        at_kill().await;
        serve = Serve::start(&args);
        load.follow(serve.url());
    }
    let answered = all_answered(&mut tasks).await;
    (serve, load, answered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkills_while_publishing_to_jetstream_leave_each_delivery_in_the_stream_once() {
    let started = Instant::now();
    let stream = TestStream::new(NATS, Duration::from_secs(120)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let publish = format!("nats://{NATS}/{}.{{event}}.{{action}}", stream.prefix());
    let (posts, bodies) = posts(UNIQUE);
    let total = posts.len();
    let mut in_stream_at_kills = Vec::new();
    let (serve, load, answered) = publish_through_kills(&db, &publish, posts, async || {
        in_stream_at_kills.push(stream.count().await);
    })
    .await;
    assert_eq!(answered.len(), UNIQUE);
    let count = stream.wait_for(UNIQUE as u64).await;
    assert_eq!(count, UNIQUE as u64, "{}", serve.log());
    let copies = assert_exactly_once(&id_and_body(&stream).await, &answered, &bodies);
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
        load.non_200(),
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
    let stream = TestStream::new(&server, Duration::from_secs(120)).await;
    let db = dir.path().join("inbox.db");
    let db_arg = db.to_str().unwrap().to_owned();
    let publish = format!("nats://{server}/{}.{{event}}.{{action}}", stream.prefix());
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
    let (load, mut tasks) = Load::start(serve.url(), posts, 8);

    load.wait_answered(total / 4, PATIENCE).await;
    nats.stop();
    let answered_when_down = load.answered();
    // Down for a while as deliveries keep arriving: each is answered 200
    // from the inbox.
    load.wait_answered(total * 3 / 4, PATIENCE).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answered_while_down = load.answered() - answered_when_down;
    assert_eq!(load.non_200(), 0);
    nats.restart();

    let answered = all_answered(&mut tasks).await;
    assert_eq!(answered.len(), 120);
    assert_eq!(load.non_200(), 0, "a non-200 answer");
    // The test's own client reconnects too.
    let count = stream.wait_for(120).await;
    assert_eq!(count, 120, "{}", serve.log());
    assert_exactly_once(&id_and_body(&stream).await, &answered, &bodies);
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
    let subject = format!("nostream-{}", random_suffix());
    // `octohook serve --publish PUBLISH`, which must refuse to start: what it
    // says on standard error.
    let refusal = |publish: &str| {
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
            .args(["--publish", publish])
            .env_remove("OCTOHOOK_DATABASE_URL")
            .env("GITHUB_WEBHOOK_SECRET", SECRET)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = refusal(&format!("nats://{NATS}/{subject}.{{event}}"));
    assert!(stderr.contains(&format!("{subject}.*")), "{stderr}");
    assert!(stderr.contains("no JetStream stream covers"), "{stderr}");

    let stderr = refusal("amqp://guest:hunter2@127.0.0.1:1/%2f?exchange=x");
    assert!(stderr.contains("routing_key"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publish_url_from_the_environment_is_used_never_printed_nor_inherited() {
    let stream = TestStream::new(NATS, Duration::from_secs(120)).await;
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
        stream.prefix()
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
    use lapin::options::BasicGetOptions;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sigkills_while_publishing_to_rabbitmq_leave_each_delivery_queued_at_least_once_with_one_id()
     {
        let started = Instant::now();
        let test_queue = TestQueue::new(AMQP, "issues.*").await;
        let (channel, exchange, queue) = (
            test_queue.channel(),
            test_queue.exchange(),
            test_queue.queue(),
        );

        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("inbox.db");
        let publish = format!("{AMQP}?exchange={exchange}&routing_key={{event}}.{{action}}");
        let (posts, bodies) = posts(UNIQUE);
        let total = posts.len();
        let (serve, _, answered) = publish_through_kills(&db, &publish, posts, async || {}).await;
        assert_eq!(answered.len(), UNIQUE);

        // Read the queue until every answered key showed up, then drain it.
        let mut copies = BTreeMap::<String, usize>::new();
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            let got = channel
                .basic_get(queue.into(), BasicGetOptions { no_ack: true })
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
        test_queue.delete().await;
    }
}
