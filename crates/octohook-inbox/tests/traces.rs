//! One delivery, one trace, whichever store handle (another process, another
//! machine) processes it: the `store` span's context travels with the stored
//! delivery, and each `attempt` span is its child. Spans are collected by an
//! OpenTelemetry SDK with an exporter that keeps them in memory.
#![cfg(feature = "otel")]

#[cfg(feature = "postgres")]
#[path = "inbox/pg.rs"]
mod pg;

use std::sync::{Arc, Mutex};

use octohook::{EventKind, VerifiedDelivery};
use octohook_inbox::{
    AttemptError, AttemptOutcome, DeliveryKey, Inbox, NewDelivery, StoredDelivery, TraceParent,
    WorkerConfig,
};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

/// Keeps every span it is handed.
#[derive(Clone, Debug, Default)]
struct Kept(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Kept {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

impl Kept {
    fn named(&self, name: &str) -> Vec<SpanData> {
        let spans = self.0.lock().unwrap();
        spans
            .iter()
            .filter(|span| span.name == name)
            .cloned()
            .collect()
    }
}

/// A subscriber exporting every span to `kept` (spans end synchronously).
fn traced(kept: &Kept) -> (impl tracing::Subscriber + Send + Sync, SdkTracerProvider) {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(kept.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    (tracing_subscriber::registry().with(layer), provider)
}

fn signed(guid: &str) -> VerifiedDelivery {
    use octohook::{Verifier, WebhookSecret, sign};
    let secret = WebhookSecret::new("s3cret").unwrap();
    let body = bytes::Bytes::from(format!(r#"{{"action":"opened","guid":"{guid}"}}"#));
    let mut headers = http::HeaderMap::new();
    headers.insert("x-github-event", "issues".parse().unwrap());
    headers.insert("x-github-delivery", guid.parse().unwrap());
    headers.insert("x-github-hook-id", "42".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
    Verifier::new(secret).verify(&headers, body).unwrap()
}

/// Receives `guid` through `receiving` in a `receive` span, then has a
/// worker of `processing` (another handle on the same data) run a handler
/// that records the trace context it runs in; checks the tree.
async fn one_trace_across(receiving: Inbox, processing: Inbox, guid: &str) {
    let kept = Kept::default();
    let (subscriber, provider) = traced(&kept);
    let _default = tracing::subscriber::set_default(subscriber);

    let receive = tracing::info_span!("receive");
    let receipt = receiving
        .receive(signed(guid))
        .instrument(receive.clone())
        .await;
    assert!(receipt.is_committed(), "{receipt:?}");
    drop(receive);

    let seen = Arc::new(Mutex::new(None));
    let handler = {
        let seen = Arc::clone(&seen);
        move |delivery: StoredDelivery| {
            let seen = Arc::clone(&seen);
            async move {
                // What a broker's publish handler would inject.
                *seen.lock().unwrap() = Some((TraceParent::current(), delivery.trace_parent));
                Ok::<(), AttemptError>(())
            }
        }
    };
    let worker = processing.worker(WorkerConfig::new("elsewhere"));
    let processed = worker.run_once(&handler).await.unwrap().unwrap();
    assert_eq!(processed.outcome, AttemptOutcome::Done);
    provider.force_flush().unwrap();

    let [receive] = &kept.named("receive")[..] else {
        panic!("one receive span: {:#?}", kept.0.lock().unwrap())
    };
    let [store] = &kept.named("store")[..] else {
        panic!("one store span")
    };
    let [attempt] = &kept.named("attempt")[..] else {
        panic!("one attempt span")
    };
    let trace_id = receive.span_context.trace_id();
    assert_eq!(store.span_context.trace_id(), trace_id);
    assert_eq!(store.parent_span_id, receive.span_context.span_id());
    assert_eq!(attempt.span_context.trace_id(), trace_id);
    assert_eq!(attempt.parent_span_id, store.span_context.span_id());
    assert!(
        attempt.parent_span_is_remote,
        "parented from the stored context"
    );

    let (current, stored) = seen.lock().unwrap().take().unwrap();
    let stored = stored.expect("the claimed delivery carries its trace context");
    assert_eq!(stored.trace_id(), trace_id.to_bytes());
    assert_eq!(stored.span_id(), store.span_context.span_id().to_bytes());
    let current = current.expect("the handler runs in the attempt span");
    assert_eq!(current.trace_id(), trace_id.to_bytes());
    assert_eq!(current.span_id(), attempt.span_context.span_id().to_bytes());
}

#[tokio::test(flavor = "current_thread")]
async fn a_delivery_is_one_trace_in_memory() {
    let inbox = Inbox::in_memory();
    one_trace_across(inbox.clone(), inbox, "memory-1").await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "current_thread")]
async fn a_delivery_is_one_trace_across_two_sqlite_handles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let open = || async { Inbox::new(octohook_inbox::SqliteStore::open(&path).await.unwrap()) };
    one_trace_across(open().await, open().await, "sqlite-1").await;
}

/// Two connection pools to one PostgreSQL schema: two receivers' machines.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "current_thread")]
async fn a_delivery_is_one_trace_across_two_postgres_pools() {
    let schema = pg::PgSchema::new().await;
    let receiving = Inbox::new(schema.open().await);
    let processing = Inbox::new(schema.open().await);
    one_trace_across(receiving, processing, "postgres-1").await;
}

/// Each attempt is a span of its own in the delivery's trace, numbered, with
/// its outcome; a failed one has an error status.
#[tokio::test(flavor = "current_thread")]
async fn every_attempt_joins_the_trace_with_its_outcome() {
    use opentelemetry::trace::Status;

    let kept = Kept::default();
    let (subscriber, provider) = traced(&kept);
    let _default = tracing::subscriber::set_default(subscriber);
    let inbox = Inbox::in_memory();
    let receipt = inbox
        .receive(signed("retried-1"))
        .instrument(tracing::info_span!("receive"))
        .await;
    assert!(receipt.is_committed());
    let fails_once = |delivery: StoredDelivery| async move {
        if delivery.attempt() == 1 {
            Err(AttemptError::retry("not yet"))
        } else {
            Ok(())
        }
    };
    let no_wait =
        octohook_inbox::Backoff::new(std::time::Duration::ZERO, 1, std::time::Duration::ZERO);
    let worker = inbox.worker(WorkerConfig::new("w").backoff(no_wait));
    let first = worker.run_once(&fails_once).await.unwrap().unwrap();
    assert!(matches!(first.outcome, AttemptOutcome::Retrying { .. }));
    let second = worker.run_once(&fails_once).await.unwrap().unwrap();
    assert_eq!(second.outcome, AttemptOutcome::Done);
    provider.force_flush().unwrap();

    let [store] = &kept.named("store")[..] else {
        panic!("one store span")
    };
    let attempts = kept.named("attempt");
    assert_eq!(attempts.len(), 2);
    let attribute = |span: &SpanData, key: &str| {
        span.attributes
            .iter()
            .find(|pair| pair.key.as_str() == key)
            .map(|pair| pair.value.to_string())
    };
    for (attempt, (number, outcome)) in attempts.iter().zip([("1", "retry"), ("2", "done")]) {
        assert_eq!(attempt.parent_span_id, store.span_context.span_id());
        assert_eq!(
            attempt.span_context.trace_id(),
            store.span_context.trace_id()
        );
        assert_eq!(attribute(attempt, "attempt").as_deref(), Some(number));
        assert_eq!(attribute(attempt, "outcome").as_deref(), Some(outcome));
    }
    assert!(
        matches!(attempts[0].status, Status::Error { .. }),
        "{:?}",
        attempts[0].status
    );
    assert_eq!(attempts[1].status, Status::Unset);
}

#[tokio::test(flavor = "current_thread")]
async fn without_an_opentelemetry_layer_nothing_is_traced_and_all_works() {
    let inbox = Inbox::in_memory();
    assert!(inbox.receive(signed("plain-1")).await.is_committed());
    let key = DeliveryKey::new(Some(octohook::HookId::new(42)), "plain-1".parse().unwrap());
    let stored = inbox.store().get(&key).await.unwrap().unwrap();
    assert_eq!(stored.trace_parent, None);
    assert_eq!(TraceParent::current(), None);

    // A delivery inserted with a context, processed without a layer: the
    // attempt runs as usual.
    let mut new = NewDelivery::new(
        DeliveryKey::new(None, "plain-2".parse().unwrap()),
        EventKind::Ping,
        "{}",
    );
    new.trace_parent = Some(TraceParent::new([7; 16], [9; 8], 1).unwrap());
    inbox.store().insert(new).await.unwrap();
    let worker = inbox.worker(WorkerConfig::new("w"));
    let handler = |_: StoredDelivery| async { Ok::<(), AttemptError>(()) };
    for _ in 0..2 {
        let processed = worker.run_once(&handler).await.unwrap().unwrap();
        assert_eq!(processed.outcome, AttemptOutcome::Done);
    }
}
