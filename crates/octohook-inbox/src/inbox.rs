//! [`Inbox`]: the hand-off between a receiver and its workers.

use std::sync::Arc;

use octohook::{ReceiveDelivery, ReceiveFuture, VerifiedDelivery};
use tokio::sync::Notify;

use crate::insert_queue::InsertQueue;
use crate::{
    DeliveryStore, Handler, InsertBatching, Inserted, MemoryStore, NewDelivery, Processing,
    Receipt, StatusCounts, StoreError, Worker, WorkerConfig,
};

/// A [`DeliveryStore`] shared by a receiver, which accepts verified deliveries
/// into it, and the [`Worker`]s that process them.
///
/// The receiver answers GitHub from the result of [`accept`](Self::accept):
///
/// | result | answer |
/// | --- | --- |
/// | `Ok(Inserted::New { .. })` | 2xx: the delivery is committed |
/// | `Ok(Inserted::Duplicate { .. })` | 2xx: already stored, not stored again |
/// | `Err(_)` | 503: not committed; GitHub records a failure and the delivery can be redelivered |
///
/// Concurrent callers' deliveries are stored together: each is queued, and a
/// task stores whatever is queued with one
/// [`insert_batch`](DeliveryStore::insert_batch) (one transaction and one disk
/// flush, or one round trip), then answers each caller with its own result.
/// A lone caller is not held back; see [`InsertBatching`] for the bounds.
///
/// Accepting a new delivery wakes one idle worker at once: through the store's
/// [`wakeups`](DeliveryStore::wakeups) (for PostgreSQL, a `NOTIFY` that wakes
/// workers on every machine), or, for a store that gives none, one of this
/// inbox's workers.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use bytes::Bytes;
/// use http::{HeaderMap, StatusCode};
/// use octohook::{sign, Verifier, WebhookSecret};
/// use octohook_inbox::Inbox;
///
/// let secret = WebhookSecret::new("s3cret").unwrap();
/// let body = Bytes::from_static(br#"{"zen":"Design for failure."}"#);
/// let mut headers = HeaderMap::new();
/// headers.insert("x-github-event", "ping".parse().unwrap());
/// headers.insert("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap());
/// headers.insert("x-github-hook-id", "42".parse().unwrap());
/// headers.insert("content-type", "application/json".parse().unwrap());
/// headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
/// let delivery = Verifier::new(secret).verify(&headers, body).unwrap();
///
/// let inbox = Inbox::in_memory();
/// let answer = |accepted: Result<_, _>| match accepted {
///     Ok(_) => StatusCode::ACCEPTED,
///     Err(_) => StatusCode::SERVICE_UNAVAILABLE,
/// };
/// let first = inbox.accept(&delivery).await;
/// assert!(matches!(first, Ok(ref inserted) if !inserted.is_duplicate()));
/// assert_eq!(answer(first), StatusCode::ACCEPTED);
/// let redelivery = inbox.accept(&delivery).await;
/// assert!(matches!(redelivery, Ok(ref inserted) if inserted.is_duplicate()));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Inbox {
    store: Arc<dyn DeliveryStore>,
    /// Wakes this inbox's workers when the store gives no wakeups of its own.
    wakeup: Option<Arc<Notify>>,
    /// Where concurrent inserts meet to be stored together.
    pub(crate) inserts: Arc<InsertQueue>,
}

impl Default for Inbox {
    /// An inbox over a [`MemoryStore`] with its default limits.
    fn default() -> Self {
        Self::in_memory()
    }
}

impl Inbox {
    /// An inbox over `store`.
    pub fn new(store: impl DeliveryStore) -> Self {
        Self::from_shared(Arc::new(store))
    }

    /// An inbox over a store already shared (such as one chosen at run time).
    pub fn from_shared(store: Arc<dyn DeliveryStore>) -> Self {
        let wakeup = match store.wakeups() {
            Some(_) => None,
            None => Some(Arc::new(Notify::new())),
        };
        Self {
            store,
            wakeup,
            inserts: Arc::new(InsertQueue::new(InsertBatching::default())),
        }
    }

    /// The same inbox, batching concurrent inserts within `batching`'s bounds
    /// (instead of [`InsertBatching::default`]). Set it before cloning the
    /// inbox: clones share one queue.
    ///
    /// ```
    /// use octohook_inbox::{Inbox, InsertBatching};
    ///
    /// let inbox = Inbox::in_memory().insert_batching(InsertBatching::default().max_batch(1));
    /// assert_eq!(inbox.batching().max_batch, 1);
    /// ```
    pub fn insert_batching(mut self, batching: InsertBatching) -> Self {
        self.inserts = Arc::new(InsertQueue::new(batching));
        self
    }

    /// How concurrent inserts are batched.
    pub fn batching(&self) -> InsertBatching {
        self.inserts.limits()
    }

    /// How many deliveries are queued to be stored, or being stored, now (at
    /// most [`InsertBatching::max_queued`]).
    pub fn queued_inserts(&self) -> usize {
        self.inserts.queued()
    }

    /// An inbox over a new [`MemoryStore`]: deduplication and hand-off without
    /// durability.
    pub fn in_memory() -> Self {
        Self::new(MemoryStore::new())
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn DeliveryStore> {
        &self.store
    }

    /// Stores a verified delivery once per (hook, GUID), with the headers it
    /// was verified with (see [`NewDelivery::from_verified`]), and returns once
    /// it is committed.
    ///
    /// The payload is stored as it is: [`receive`](Self::receive) first
    /// [checks](VerifiedDelivery::check_payload) that it is a JSON object, and a
    /// caller of `accept` should too (unless its verifier checks payloads, see
    /// [`PayloadCheck`](octohook::PayloadCheck)).
    ///
    /// With the `otel` feature, the insert runs in a `store` span, whose
    /// context the delivery keeps (see [`trace_context`](crate::trace_context)).
    pub async fn accept(&self, delivery: &VerifiedDelivery) -> Result<Inserted, StoreError> {
        self.insert_traced(new_delivery(delivery)).await
    }

    /// [`accept`](Self::accept), with the answer it calls for and a log line:
    /// what a receiver's request handler does with a verified delivery. The
    /// framework adapters answer with it, through this inbox's
    /// [`ReceiveDelivery`] implementation.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use bytes::Bytes;
    /// # use http::HeaderMap;
    /// # use octohook::{sign, Verifier, WebhookSecret};
    /// use octohook_inbox::{Inbox, Receipt};
    /// # let secret = WebhookSecret::new("s3cret").unwrap();
    /// # let body = Bytes::from_static(br#"{"zen":"Design for failure."}"#);
    /// # let mut headers = HeaderMap::new();
    /// # headers.insert("x-github-event", "ping".parse().unwrap());
    /// # headers.insert("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap());
    /// # headers.insert("content-type", "application/json".parse().unwrap());
    /// # headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
    /// # let delivery = Verifier::new(secret).verify(&headers, body).unwrap();
    /// let inbox = Inbox::in_memory();
    /// let receipt = inbox.receive(delivery.clone()).await;
    /// assert!(matches!(receipt, Receipt::Stored { .. }));
    /// assert_eq!(receipt.answer().status(), 200);
    /// let again = inbox.receive(delivery).await;
    /// assert!(matches!(again, Receipt::Duplicate { .. }));
    /// # }
    /// ```
    ///
    /// It takes the delivery by value: once the store has it, its body is
    /// dropped, so a worker reading it back does not overlap with the request's
    /// copy (one 25 MiB delivery then costs about one copy of its body, not two).
    pub async fn receive(&self, delivery: VerifiedDelivery) -> Receipt {
        let hook_id = delivery.hook_id().map(|id| id.get());
        let event = delivery.event_kind().clone();
        let guid = delivery.guid().clone();
        let receipt = match delivery.check_payload() {
            Ok(()) => {
                let new = new_delivery(&delivery);
                drop(delivery);
                self.receipt(new, &event, &guid, hook_id).await
            }
            Err(error) => {
                // A signed delivery, but GitHub sends none of these: at most a
                // few lines per second, and the error (which may quote the
                // payload) cut.
                if refusals().admit(refusal_reason(&error)) {
                    let text = error.to_string();
                    tracing::warn!(
                        error = %octohook::ClientBytes::new(text.as_bytes()).quoted().with_limit(200),
                        delivery = %guid,
                        hook_id,
                        "refused a payload that is not a JSON object"
                    );
                }
                Receipt::Refused(error)
            }
        };
        #[cfg(feature = "metrics")]
        crate::metrics::record_receipt(&event, &receipt);
        receipt
    }

    async fn receipt(
        &self,
        new: NewDelivery,
        event: &octohook::EventKind,
        guid: &octohook::DeliveryGuid,
        hook_id: Option<u64>,
    ) -> Receipt {
        let action = new.action.clone();
        match self.insert_traced(new).await {
            Ok(Inserted::New { id }) => {
                tracing::info!(
                    %event,
                    action = action.as_deref().unwrap_or("-"),
                    delivery = %guid,
                    hook_id,
                    id = id.get(),
                    "stored delivery"
                );
                Receipt::Stored { id }
            }
            Ok(Inserted::Duplicate { id }) => {
                tracing::info!(
                    %event,
                    delivery = %guid,
                    hook_id,
                    id = id.get(),
                    "duplicate delivery"
                );
                Receipt::Duplicate { id }
            }
            Err(error) => {
                tracing::error!(
                    %error,
                    delivery = %guid,
                    hook_id,
                    "cannot store the delivery; answering 503"
                );
                Receipt::Unavailable(error)
            }
        }
    }

    /// How many deliveries are in each status (see
    /// [`metrics::record_counts`](crate::metrics::record_counts)).
    pub async fn counts(&self) -> Result<StatusCounts, StoreError> {
        self.store.counts().await
    }

    /// Succeeds when a delivery could be stored now: the store is reachable and
    /// writable (see [`DeliveryStore::health`]). What a health check asks.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let inbox = octohook_inbox::Inbox::in_memory();
    /// assert!(inbox.health().await.is_ok());
    /// # }
    /// ```
    pub async fn health(&self) -> Result<(), StoreError> {
        self.store.health().await
    }

    /// [`insert`](Self::insert), in the `store` span whose context the
    /// delivery keeps (with the `otel` feature).
    async fn insert_traced(&self, delivery: NewDelivery) -> Result<Inserted, StoreError> {
        #[cfg(feature = "otel")]
        return crate::trace_context::store_in_span(delivery, |delivery| self.insert(delivery))
            .await;
        #[cfg(not(feature = "otel"))]
        self.insert(delivery).await
    }

    /// Stores `delivery` once per key, and returns once it is committed: in
    /// one batch with the deliveries of concurrent callers (see
    /// [`InsertBatching`]).
    pub async fn insert(&self, delivery: NewDelivery) -> Result<Inserted, StoreError> {
        let stored = self.inserts.insert(&self.store, delivery).await?;
        // A delivery a pool took on as it was stored needs no worker woken.
        if let Some(wakeup) = &self.wakeup
            && !stored.inserted.is_duplicate()
            && !stored.handed_off
        {
            wakeup.notify_one();
        }
        Ok(stored.inserted)
    }

    /// Starts a pool of `workers` workers (at least one) that run `handler` on
    /// this inbox's deliveries, configured as `config`: up to `workers`
    /// deliveries at once, claimed and finished in batches (see
    /// [`Processing`]). Call it inside a tokio runtime.
    pub fn process<H: Handler>(
        &self,
        handler: H,
        workers: usize,
        config: WorkerConfig,
    ) -> Processing {
        Processing::start(self, handler, workers, &config)
    }

    /// A worker over this inbox's store, woken when a delivery is accepted.
    pub fn worker(&self, config: WorkerConfig) -> Worker {
        let worker = Worker::new(Arc::clone(&self.store), config);
        match &self.wakeup {
            Some(wakeup) => worker.with_wakeup(Arc::clone(wakeup)),
            None => worker,
        }
    }
}

/// The stored form of `delivery`, counting (in a debug line and the metrics)
/// the headers of GitHub's namespace its [`RawHeaders`](octohook::RawHeaders)
/// left out: a stream of them is someone replaying a captured delivery with
/// padding headers.
fn new_delivery(delivery: &VerifiedDelivery) -> NewDelivery {
    let headers = delivery.raw_headers();
    let dropped = headers.dropped();
    if dropped.headers > 0 {
        tracing::debug!(
            dropped_headers = dropped.headers,
            dropped_bytes = dropped.bytes,
            kept_headers = headers.len(),
            "did not store headers that GitHub does not send, repeats, or those past the cap"
        );
        #[cfg(feature = "metrics")]
        crate::metrics::record_dropped_headers(dropped);
    }
    NewDelivery::from_verified(delivery)
}

/// Receives deliveries for the framework adapters' routes
/// (`octohook_tower::ReceiveService`, `octohook_actix::receive`): the
/// [`Receipt`] of [`Inbox::receive`], as its [`answer`](Receipt::answer).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # use bytes::Bytes;
/// # use http::HeaderMap;
/// use octohook::{sign, ReceiveDelivery, Verifier, WebhookSecret};
/// use octohook_inbox::Inbox;
/// # let secret = WebhookSecret::new("s3cret").unwrap();
/// # let body = Bytes::from_static(br#"{"zen":"Design for failure."}"#);
/// # let mut headers = HeaderMap::new();
/// # headers.insert("x-github-event", "ping".parse().unwrap());
/// # headers.insert("x-github-delivery", "d1".parse().unwrap());
/// # headers.insert("content-type", "application/json".parse().unwrap());
/// # headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
/// # let delivery = Verifier::new(secret).verify(&headers, body).unwrap();
/// let receiver: Box<dyn ReceiveDelivery> = Box::new(Inbox::in_memory());
/// assert_eq!(receiver.receive(delivery).await.status(), 200);
/// # }
/// ```
impl ReceiveDelivery for Inbox {
    fn receive(&self, delivery: VerifiedDelivery) -> ReceiveFuture<'_> {
        Box::pin(async move { Inbox::receive(self, delivery).await.answer() })
    }
}

/// The rate limit of the process's "refused a payload" lines.
fn refusals() -> &'static octohook::LogRateLimit {
    static LIMIT: std::sync::OnceLock<octohook::LogRateLimit> = std::sync::OnceLock::new();
    LIMIT.get_or_init(|| {
        octohook::LogRateLimit::per_second(
            "refused payload",
            octohook::LogRateLimit::DEFAULT_LINES_PER_SECOND,
        )
    })
}

/// The reason of a refused payload, as [`Rejection::reason`](octohook::Rejection::reason)
/// names it.
fn refusal_reason(error: &octohook::Error) -> &'static str {
    match error {
        octohook::Error::PayloadTooDeep { .. } => "too_deep",
        _ => "bad_payload",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(guid: &str, body: &'static [u8]) -> VerifiedDelivery {
        crate::signed_delivery::signed("issues", guid, body)
    }

    #[tokio::test]
    async fn a_payload_that_is_not_a_json_object_is_refused_and_not_stored() {
        let inbox = Inbox::in_memory();
        for (guid, body) in [
            ("bad-1", &b"[1,2]"[..]),
            ("bad-2", b"{\"action\":"),
            ("bad-3", b"{\"a\":\"\xff\"}"),
        ] {
            let receipt = inbox.receive(delivery(guid, body)).await;
            assert!(
                matches!(receipt, Receipt::Refused(_)),
                "{guid}: {receipt:?}"
            );
            let answer = receipt.answer();
            assert_eq!(answer.status(), 400);
            assert!(!receipt.is_committed());
            assert_eq!(answer.body(), "the payload is not a JSON object\n");
        }
        assert_eq!(inbox.counts().await.unwrap().total(), 0);

        // The check reads the action that is stored, and a worker gets it back
        // without parsing the payload again.
        assert!(matches!(
            inbox
                .receive(delivery("good", br#"{"action":"opened","n":1}"#))
                .await,
            Receipt::Stored { .. }
        ));
        assert_eq!(inbox.counts().await.unwrap().total(), 1);
    }
}
