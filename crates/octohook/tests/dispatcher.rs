//! The dispatcher's fallback and its failure log.
//!
//! `Dispatcher::on_unmatched`: the fallback runs only for deliveries no event or
//! action route matched; `on_any` still runs for every delivery and is no match.
//! `DispatchError::log`: one bounded, escaped, rate-limited line per failure.
#![cfg(feature = "events")]

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::HeaderMap;
use octohook::events::{IssuesAction, PushEvent};
use octohook::{DispatchError, Dispatcher, Verifier, WebhookSecret, sign};

fn delivery(event: &str, body: &'static [u8]) -> octohook::VerifiedDelivery {
    let secret = WebhookSecret::new("s3cret").unwrap();
    let body = Bytes::from_static(body);
    let mut headers = HeaderMap::new();
    headers.insert("x-github-event", event.parse().unwrap());
    headers.insert("x-github-delivery", "d-1".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
    Verifier::new(secret).verify(&headers, body).unwrap()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

const ISSUE_OPENED: &[u8] =
    br#"{"action":"opened","issue":{"id":1,"number":7},"repository":{},"sender":{}}"#;
const ISSUE_CLOSED: &[u8] =
    br#"{"action":"closed","issue":{"id":1,"number":7},"repository":{},"sender":{}}"#;
const PUSH: &[u8] = br#"{"ref":"refs/heads/main","repository":{},"sender":{}}"#;
const STAR: &[u8] = br#"{"action":"created","repository":{},"sender":{}}"#;

/// A dispatcher with the fallback registered first, an action route, an event
/// route and `on_any`; every handler logs what it saw.
fn logging() -> (Arc<Mutex<Vec<String>>>, Dispatcher) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (fallback, opened, push, any) = (log.clone(), log.clone(), log.clone(), log.clone());
    let dispatcher = Dispatcher::new()
        // Registered before the routes it falls back from: matching is decided
        // before any handler runs.
        .on_unmatched(move |event| {
            let log = fallback.clone();
            let action = event.action().unwrap_or("-").to_owned();
            async move {
                log.lock()
                    .unwrap()
                    .push(format!("unmatched {}.{action}", event.kind()))
            }
        })
        .on_action(IssuesAction::Opened, move |issues| {
            let log = opened.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push(format!("opened #{}", issues.issue.number))
            }
        })
        .on::<PushEvent, _, _, _>(move |event| {
            let log = push.clone();
            async move { log.lock().unwrap().push(format!("push {}", event.r#ref)) }
        })
        .on_any(move |event| {
            let log = any.clone();
            async move { log.lock().unwrap().push(format!("any {}", event.kind())) }
        });
    (log, dispatcher)
}

fn run(dispatcher: &Dispatcher, event: &str, body: &'static [u8]) -> usize {
    block_on(dispatcher.dispatch(delivery(event, body)))
        .unwrap_or_else(|e| panic!("{event}: {e}"))
        .handlers_run()
}

#[test]
fn a_matched_event_or_action_runs_its_route_and_not_the_fallback() {
    let (log, dispatcher) = logging();
    assert_eq!(run(&dispatcher, "issues", ISSUE_OPENED), 2);
    assert_eq!(run(&dispatcher, "push", PUSH), 2);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "opened #7",
            "any issues",
            "push refs/heads/main",
            "any push"
        ]
    );
}

#[test]
fn an_unmatched_action_of_a_routed_event_runs_the_fallback() {
    let (log, dispatcher) = logging();
    assert_eq!(run(&dispatcher, "issues", ISSUE_CLOSED), 2);
    assert_eq!(
        *log.lock().unwrap(),
        ["unmatched issues.closed", "any issues"]
    );
}

#[test]
fn an_unmatched_event_and_an_unknown_event_run_the_fallback() {
    let (log, dispatcher) = logging();
    assert_eq!(run(&dispatcher, "star", STAR), 2);
    assert_eq!(run(&dispatcher, "brand_new_event", br#"{"zen":"x"}"#), 2);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "unmatched star.created",
            "any star",
            "unmatched brand_new_event.-",
            "any brand_new_event"
        ]
    );
}

#[test]
fn on_any_alone_is_no_match_and_runs_for_every_delivery() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (any, fallback) = (log.clone(), log.clone());
    let dispatcher = Dispatcher::new()
        .on_any(move |event| {
            let log = any.clone();
            async move { log.lock().unwrap().push(format!("any {}", event.kind())) }
        })
        .on_unmatched(move |event| {
            let log = fallback.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push(format!("unmatched {}", event.kind()))
            }
        });
    assert_eq!(run(&dispatcher, "push", PUSH), 2);
    assert_eq!(*log.lock().unwrap(), ["any push", "unmatched push"]);
}

#[test]
fn a_payload_that_does_not_fit_runs_no_fallback() {
    let (log, dispatcher) = logging();
    let bad: &[u8] = br#"{"action":"opened","issue":{"number":"seven"}}"#;
    let error = block_on(dispatcher.dispatch(delivery("issues", bad))).unwrap_err();
    assert!(matches!(error, DispatchError::Parse { .. }), "{error:?}");
    assert!(log.lock().unwrap().is_empty());
}

#[test]
fn a_failing_fallback_is_reported_like_any_handler() {
    let dispatcher = Dispatcher::new()
        .on::<PushEvent, _, _, _>(|_| async {})
        .on_unmatched(|_| async { Err::<(), _>("no route for this") });
    assert_eq!(run(&dispatcher, "push", PUSH), 1);
    let error = block_on(dispatcher.dispatch(delivery("star", STAR))).unwrap_err();
    match error {
        DispatchError::Handlers { failures, .. } => {
            assert_eq!(failures.len(), 1);
            assert_eq!(failures[0].to_string(), "no route for this");
        }
        other => panic!("expected a handler failure, got {other:?}"),
    }
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failed_dispatch_is_logged_in_bounded_escaped_lines_at_a_limited_rate() {
    // A handler fails on a `star` delivery whose action, which the error
    // names, is a stranger's tab, escape sequence and 4 KiB.
    let body: &'static [u8] = Box::leak(
        format!(
            r#"{{"action":"\t\u001b[31m{}","repository":{{}},"sender":{{}}}}"#,
            "A".repeat(4096)
        )
        .into_bytes()
        .into_boxed_slice(),
    );
    let dispatcher = Dispatcher::new().on_any(|_| async { Err::<(), _>("handler gave up") });
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..1000 {
            let delivery = delivery("star", body);
            let guid = delivery.guid().clone();
            let error = block_on(dispatcher.dispatch(delivery)).unwrap_err();
            assert!(matches!(error, DispatchError::Handlers { .. }), "{error:?}");
            error.log(&guid);
        }
    });
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let failures = lines
        .iter()
        .filter(|line| line.contains("webhook dispatch failed"))
        .count();
    // Ten a second, and the loop may straddle a second boundary.
    assert!((1..=20).contains(&failures), "{failures} lines:\n{text}");
    for line in &lines {
        assert!(line.len() < 600, "{} bytes: {line}", line.len());
        assert!(!line.contains('\t') && !line.contains('\u{1b}'), "{line:?}");
    }
    assert!(text.contains("delivery=d-1 status=500"), "{text}");
    assert!(text.contains(r"star.\x09\x1b[31mAAAA"), "{text}");
}
