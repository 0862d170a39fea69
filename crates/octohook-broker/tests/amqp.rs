//! AmqpPublisher against the real RabbitMQ on 127.0.0.1:5672 (guest/guest),
//! directly and through a TCP proxy in the test that cuts the connection.
//! Each test declares its own exchange and queue, with a random suffix, and
//! deletes them.
#![cfg(feature = "amqp")]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use lapin::options::BasicGetOptions;
use octohook::{Verifier, WebhookSecret, sign};
use octohook_broker::{AmqpPublisher, AmqpTarget, BrokerError, PublishTarget};
use octohook_inbox::{Backoff, Inbox, WorkerConfig};
use octohook_test_battery::{TestQueue, random_suffix};
use support::wait_done;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

mod support;

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The target that publishes to `queue`'s exchange through the broker at
/// `address`, with the routing key `gh.EVENT.ACTION`.
fn target(queue: &TestQueue, address: &str) -> AmqpTarget {
    let url = format!(
        "amqp://guest:guest@{address}/%2f?exchange={}&routing_key=gh.{{event}}.{{action}}",
        queue.exchange()
    );
    let PublishTarget::Amqp(target) = url.parse().unwrap() else {
        unreachable!()
    };
    target
}

/// Every message in `queue`, taken out of it: (routing key, message_id,
/// idempotency header, body).
async fn drain(queue: &TestQueue) -> Vec<(String, String, Option<String>, Bytes)> {
    let mut messages = Vec::new();
    while let Some(message) = queue
        .channel()
        .basic_get(queue.queue().into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        let delivery = &message.delivery;
        assert_eq!(delivery.properties.delivery_mode(), &Some(2), "persistent");
        let received = octohook_broker::amqp::received(&delivery.properties, &delivery.data);
        messages.push((
            delivery.routing_key.to_string(),
            delivery
                .properties
                .message_id()
                .as_ref()
                .unwrap()
                .to_string(),
            received.idempotency_key().map(str::to_owned),
            received.body().clone(),
        ));
    }
    messages
}

fn signed(secret: &WebhookSecret, guid: &str, n: usize) -> (HeaderMap, Bytes) {
    let body = Bytes::from(format!(
        r#"{{"action":"opened","issue":{{"id":{n},"number":{n}}},"repository":{{}},"sender":{{}}}}"#
    ));
    let mut headers = HeaderMap::new();
    headers.insert("x-github-event", "issues".parse().unwrap());
    headers.insert("x-github-delivery", guid.parse().unwrap());
    headers.insert("x-github-hook-id", "5".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("x-hub-signature-256", sign(secret, &body).parse().unwrap());
    (headers, body)
}

async fn receive_all(inbox: &Inbox, count: usize) -> BTreeMap<String, Bytes> {
    let secret = WebhookSecret::new("s3cret").unwrap();
    let verifier = Verifier::new(secret.clone());
    let mut sent = BTreeMap::new();
    for n in 0..count {
        let guid = format!("g-{n}");
        let (headers, body) = signed(&secret, &guid, n);
        let receipt = inbox
            .receive(verifier.verify(&headers, body.clone()).unwrap())
            .await;
        assert!(receipt.is_committed());
        sent.insert(format!("5:{guid}"), body);
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_delivery_is_queued_persistent_with_its_key_as_message_id() {
    let queue = TestQueue::new(AMQP, "#").await;
    let publisher = AmqpPublisher::connect(&target(&queue, "127.0.0.1:5672"))
        .await
        .unwrap();
    let inbox = Inbox::in_memory();
    let sent = receive_all(&inbox, 15).await;
    let processing = inbox.process(publisher, 3, WorkerConfig::new("w"));
    wait_done(&inbox, 15).await;
    processing.drain(Duration::from_secs(5)).await;
    let messages = drain(&queue).await;
    assert_eq!(messages.len(), 15);
    for (routing_key, id, header, body) in messages {
        assert_eq!(routing_key, "gh.issues.opened");
        assert_eq!(header.as_deref(), Some(id.as_str()));
        assert_eq!(body, sent[&id], "{id}: bytes changed");
    }
    queue.delete().await;
}

#[tokio::test]
async fn a_missing_exchange_is_a_start_up_error_naming_it() {
    let queue = TestQueue::new(AMQP, "#").await;
    let url = format!("{AMQP}?exchange=nowhere-{}&routing_key=k", random_suffix());
    let PublishTarget::Amqp(target) = url.parse().unwrap() else {
        unreachable!()
    };
    let error = AmqpPublisher::connect(&target).await.unwrap_err();
    assert!(matches!(error, BrokerError::NoExchange { .. }), "{error}");
    assert!(error.to_string().contains(target.exchange()), "{error}");

    let PublishTarget::Amqp(wrong) = format!(
        "amqp://guest:hunter2@127.0.0.1:5672/%2f?exchange={}&routing_key=k",
        queue.exchange()
    )
    .parse()
    .unwrap() else {
        unreachable!()
    };
    let error = AmqpPublisher::connect(&wrong).await.unwrap_err();
    assert!(
        matches!(error, BrokerError::Connect { broker: "amqp", .. }),
        "{error}"
    );
    assert!(!error.to_string().contains("hunter2"), "{error}");
    queue.delete().await;
}

/// A TCP proxy to RabbitMQ that can cut every connection and refuse new ones.
struct CuttingProxy {
    address: String,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<JoinSet<()>>>,
}

impl CuttingProxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<JoinSet<()>>> = Arc::default();
        let (accepting, tasks) = (open.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                tasks.lock().unwrap().spawn(async move {
                    let Ok(mut server) = TcpStream::connect("127.0.0.1:5672").await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
        Self {
            address,
            open,
            links,
        }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.links.lock().unwrap().abort_all();
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_delays_publishing_and_loses_nothing() {
    let queue = TestQueue::new(AMQP, "#").await;
    let proxy = CuttingProxy::start().await;
    let publisher = AmqpPublisher::connect(&target(&queue, &proxy.address))
        .await
        .unwrap();
    let inbox = Inbox::in_memory();
    let sent = receive_all(&inbox, 60).await;
    let config = WorkerConfig::new("w")
        .max_attempts(50)
        .backoff(Backoff::new(
            Duration::from_millis(50),
            2,
            Duration::from_millis(400),
        ));
    // Cut before the workers start: the first attempts all fail.
    proxy.cut();
    let processing = inbox.process(publisher, 2, config);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let counts = inbox.store().counts().await.unwrap();
    assert_eq!(
        counts.done, 0,
        "published through a cut connection: {counts:?}"
    );
    proxy.restore();
    // And once more in the middle.
    let deadline = Instant::now() + Duration::from_secs(20);
    while inbox.store().counts().await.unwrap().done < 20 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.restore();
    wait_done(&inbox, 60).await;
    processing.drain(Duration::from_secs(5)).await;

    let mut copies = BTreeMap::<String, usize>::new();
    for (_, id, header, body) in drain(&queue).await {
        assert_eq!(header.as_deref(), Some(id.as_str()));
        assert_eq!(body, sent[&id]);
        *copies.entry(id).or_default() += 1;
    }
    assert_eq!(copies.len(), 60, "every delivery queued");
    // A second copy only for the publishes in flight at the cut.
    let twice = copies.values().filter(|&&count| count > 1).count();
    assert!(twice <= 2, "{copies:?}");
    queue.delete().await;
}
