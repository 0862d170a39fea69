//! JetStreamPublisher and the consumer side against the real NATS server on
//! 127.0.0.1:4222 (JetStream on). Each test makes its own stream, with a
//! random name and subjects, and deletes it.
#![cfg(feature = "nats")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::AckPolicy};
use bytes::Bytes;
use futures_util::StreamExt;
use http::HeaderMap;
use octohook::{Dispatcher, Verifier, WebhookSecret, sign};
use octohook_broker::jetstream::Settled;
use octohook_broker::{
    BrokerError, BrokerMessage, Consumer, JetStreamPublisher, NameRules, NameTemplate,
    PublishTarget, RetrySchedule,
};
use octohook_inbox::{Backoff, Inbox, WorkerConfig};
use octohook_test_battery::{TestStream, random_suffix};
use support::wait_done;

mod support;

const NATS: &str = "127.0.0.1:4222";

/// Every message in `stream`: (subject, headers, body).
async fn subject_headers_and_body(
    stream: &TestStream,
) -> Vec<(String, HashMap<String, String>, Bytes)> {
    let messages = stream.messages().await.into_iter();
    messages
        .map(|message| {
            let headers = message
                .headers
                .iter()
                .map(|(name, values)| (name.to_string(), values[0].to_string()))
                .collect();
            (message.subject.to_string(), headers, message.payload)
        })
        .collect()
}

fn signed(
    secret: &WebhookSecret,
    event: &str,
    guid: &str,
    hook: u64,
    body: &str,
) -> (HeaderMap, Bytes) {
    let body = Bytes::from(body.to_owned());
    let mut headers = HeaderMap::new();
    headers.insert("x-github-event", event.parse().unwrap());
    headers.insert("x-github-delivery", guid.parse().unwrap());
    headers.insert("x-github-hook-id", hook.to_string().parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("user-agent", "GitHub-Hookshot/test".parse().unwrap());
    headers.insert("x-hub-signature-256", sign(secret, &body).parse().unwrap());
    (headers, body)
}

fn issue_body(n: usize) -> String {
    format!(
        r#"{{"action":"opened","issue":{{"id":{n},"number":{n}}},"repository":{{}},"sender":{{}},"pad":"{}"}}"#,
        "é".repeat(n % 5)
    )
}

fn target(prefix: &str) -> octohook_broker::NatsTarget {
    let PublishTarget::Nats(target) = format!("nats://{NATS}/{prefix}.{{event}}.{{action}}")
        .parse()
        .unwrap()
    else {
        unreachable!()
    };
    target
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_delivery_is_in_the_stream_once_with_its_exact_bytes_and_headers() {
    let stream = TestStream::new(NATS, Duration::from_secs(120)).await;
    let secret = WebhookSecret::new("s3cret").unwrap();
    let verifier = Verifier::new(secret.clone());
    let publisher = JetStreamPublisher::connect(&target(stream.prefix()), RetrySchedule::default())
        .await
        .unwrap();
    assert_eq!(publisher.stream(), stream.name());
    assert_eq!(publisher.duplicate_window(), Duration::from_secs(120));

    let inbox = Inbox::in_memory();
    let mut sent = HashMap::new();
    for n in 0..20 {
        let guid = format!("guid-{n}");
        let (headers, body) = if n % 4 == 0 {
            signed(
                &secret,
                "ping",
                &guid,
                7,
                &format!(r#"{{"zen":"z{n}","hook_id":7}}"#),
            )
        } else {
            signed(&secret, "issues", &guid, 7, &issue_body(n))
        };
        assert!(
            inbox
                .receive(verifier.verify(&headers, body.clone()).unwrap())
                .await
                .is_committed()
        );
        sent.insert(format!("7:{guid}"), (headers, body));
    }
    let processing = inbox.process(publisher.clone(), 4, WorkerConfig::new("w"));
    wait_done(&inbox, 20).await;
    processing.drain(Duration::from_secs(5)).await;

    // Publishing every delivery again (a crash before the inbox recorded
    // them, say) adds nothing: the stream drops the copies.
    for key in sent.keys() {
        let key: octohook_inbox::DeliveryKey = key.parse().unwrap();
        let stored = inbox.store().get(&key).await.unwrap().unwrap();
        let again = publisher
            .publish(&BrokerMessage::from_stored(&stored))
            .await
            .unwrap();
        assert!(again.duplicate, "{key}");
    }

    let messages = subject_headers_and_body(&stream).await;
    assert_eq!(messages.len(), 20);
    for (subject, headers, body) in messages {
        let key = &headers["Nats-Msg-Id"];
        let (sent_headers, sent_body) = &sent[key];
        assert_eq!(&body, sent_body, "{key}: bytes changed");
        assert_eq!(headers["Octohook-Idempotency-Key"], *key);
        assert_eq!(
            headers["X-Hub-Signature-256"],
            sent_headers["x-hub-signature-256"]
        );
        assert_eq!(headers["X-GitHub-Hook-ID"], "7");
        assert_eq!(headers["User-Agent"], "GitHub-Hookshot/test");
        assert!(headers["Octohook-Received-At"].ends_with('Z'));
        if headers["X-GitHub-Event"] == "ping" {
            assert_eq!(subject, format!("{}.ping.none", stream.prefix()));
            assert!(!headers.contains_key("Octohook-Action"));
        } else {
            assert_eq!(subject, format!("{}.issues.opened", stream.prefix()));
            assert_eq!(headers["Octohook-Action"], "opened");
        }
    }
    stream.delete().await;
}

#[tokio::test]
async fn a_subject_no_stream_covers_is_a_start_up_error_naming_it() {
    let stream = TestStream::new(NATS, Duration::from_secs(120)).await;
    // The stream covers `PREFIX.>`; a template outside it, or one token
    // short of it, is not covered.
    for subject in [
        format!("elsewhere-{}.{{event}}", random_suffix()),
        stream.prefix().to_owned(),
    ] {
        let PublishTarget::Nats(target) = format!("nats://{NATS}/{subject}").parse().unwrap()
        else {
            unreachable!()
        };
        let error = JetStreamPublisher::connect(&target, RetrySchedule::default())
            .await
            .unwrap_err();
        let wildcard = subject.replace("{event}", "*");
        assert_eq!(
            error,
            BrokerError::NoStream {
                subject: wildcard.clone()
            }
        );
        assert!(error.to_string().contains(&wildcard), "{error}");
    }
    stream.delete().await;
}

#[tokio::test]
async fn an_unreachable_server_is_a_start_up_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let PublishTarget::Nats(target) = format!("nats://u:hunter2@127.0.0.1:{port}/a.b")
        .parse()
        .unwrap()
    else {
        unreachable!()
    };
    let error = JetStreamPublisher::connect(&target, RetrySchedule::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, BrokerError::Connect { broker: "nats", .. }),
        "{error}"
    );
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

/// Log lines, captured.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_duplicate_window_shorter_than_the_retries_is_warned_about() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // A current-thread runtime: the subscriber sees everything the test runs.
    let _guard = tracing::subscriber::set_default(subscriber);
    let short = TestStream::new(NATS, Duration::from_secs(1)).await;
    let schedule = RetrySchedule::new(Backoff::exponential(Duration::from_secs(5)), 5);
    assert_eq!(schedule.longest(), Duration::from_secs(75));
    let publisher = JetStreamPublisher::connect(&target(short.prefix()), schedule)
        .await
        .unwrap();
    assert_eq!(publisher.duplicate_window(), Duration::from_secs(1));
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains("duplicate_window=1s"), "{log}");
    assert!(log.contains("retries_span=1m 15s"), "{log}");
    short.delete().await;

    // A window as long as the retries: no warning.
    captured.0.lock().unwrap().clear();
    let long = TestStream::new(NATS, Duration::from_secs(75)).await;
    JetStreamPublisher::connect(&target(long.prefix()), schedule)
        .await
        .unwrap();
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(!log.contains("WARN"), "{log}");
    long.delete().await;
}

/// The example consumer's loop: a durable pull consumer with explicit acks,
/// NAK with a delay on a handler failure, TERM for a message that does not
/// verify, at most `max_deliver` deliveries.
async fn consume_all(stream: &TestStream, consumer: Consumer, expected: usize) -> (usize, usize) {
    let js_stream = stream.context().get_stream(stream.name()).await.unwrap();
    let pull = js_stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some(format!("c{}", random_suffix())),
            ack_policy: AckPolicy::Explicit,
            max_deliver: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    let (mut dispatched, mut refused) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    while dispatched + refused < expected && Instant::now() < deadline {
        let mut batch = pull
            .fetch()
            .max_messages(50)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .unwrap();
        while let Some(message) = batch.next().await {
            let message = message.unwrap();
            let settled =
                octohook_broker::jetstream::settle(&consumer, &message, Duration::from_millis(100))
                    .await
                    .unwrap();
            match settled {
                Settled::Acked => dispatched += 1,
                Settled::Terminated => refused += 1,
                Settled::Nacked => {}
                _ => unreachable!(),
            }
        }
    }
    (dispatched, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_dispatches_every_message_once_and_refuses_them_all_with_a_wrong_secret() {
    let stream = TestStream::new(NATS, Duration::from_secs(120)).await;
    let secret = WebhookSecret::new("s3cret").unwrap();
    let verifier = Verifier::new(secret.clone());
    let publisher = JetStreamPublisher::connect(&target(stream.prefix()), RetrySchedule::default())
        .await
        .unwrap();
    let inbox = Inbox::in_memory();
    for n in 0..12 {
        let (headers, body) = signed(&secret, "issues", &format!("g{n}"), 9, &issue_body(n));
        assert!(
            inbox
                .receive(verifier.verify(&headers, body).unwrap())
                .await
                .is_committed()
        );
    }
    let processing = inbox.process(publisher, 2, WorkerConfig::new("w"));
    wait_done(&inbox, 12).await;
    processing.drain(Duration::from_secs(5)).await;

    // The typed handler fails each issue once: the NAK brings it back.
    let seen: Arc<Mutex<HashMap<u64, usize>>> = Arc::default();
    let failed_once: Arc<Mutex<Vec<u64>>> = Arc::default();
    let (counter, failures) = (seen.clone(), failed_once.clone());
    let dispatcher =
        Dispatcher::new().on::<octohook::events::IssuesEvent, _, _, _>(move |issues| {
            let (counter, failures) = (counter.clone(), failures.clone());
            async move {
                let number = issues.issue.number as u64;
                let mut failures = failures.lock().unwrap();
                if !failures.contains(&number) {
                    failures.push(number);
                    return Err("first try fails");
                }
                *counter.lock().unwrap().entry(number).or_default() += 1;
                Ok(())
            }
        });
    let (dispatched, refused) = consume_all(&stream, Consumer::new(verifier, dispatcher), 12).await;
    assert_eq!((dispatched, refused), (12, 0));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 12);
    assert!(seen.values().all(|&count| count == 1), "{seen:?}");

    let wrong = Verifier::new(WebhookSecret::new("not-the-secret").unwrap());
    let never: Arc<Mutex<usize>> = Arc::default();
    let ran = never.clone();
    let dispatcher = Dispatcher::new().on_any(move |_| {
        let ran = ran.clone();
        async move { *ran.lock().unwrap() += 1 }
    });
    let (dispatched, refused) = consume_all(&stream, Consumer::new(wrong, dispatcher), 12).await;
    assert_eq!((dispatched, refused), (0, 12));
    assert_eq!(*never.lock().unwrap(), 0);
    stream.delete().await;
}

#[test]
fn templates_for_the_tests_parse() {
    assert!(NameTemplate::parse("octotest-x.{event}.{action}", NameRules::NatsSubject).is_ok());
}
