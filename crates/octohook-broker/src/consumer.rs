//! The consumer side: a message read from a broker becomes a delivery again,
//! verified with the webhook secret, and runs the typed `Dispatcher`.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use octohook::{DispatchError, Dispatched, Dispatcher, VerifiedDelivery, Verifier};
use tracing::Instrument;

use crate::message::{ACTION_HEADER, IDEMPOTENCY_KEY_HEADER, RECEIVED_AT_HEADER, first_header};

/// A message as a consumer read it from a broker: every header it carried (in
/// order, names as sent) and its body.
///
/// All headers are kept, not only GitHub's, so that a consumer can read its own
/// (a `traceparent` to join the receiver's trace, say).
///
/// ```
/// use octohook::{sign, Verifier, WebhookSecret};
/// use octohook_broker::ReceivedMessage;
///
/// let secret = WebhookSecret::new("s3cret").unwrap();
/// let body = br#"{"zen":"Keep it logically awesome."}"#;
/// let message = ReceivedMessage::new(
///     vec![
///         ("X-GitHub-Event".into(), "ping".into()),
///         ("X-GitHub-Delivery".into(), "a1".into()),
///         ("Content-Type".into(), "application/json".into()),
///         ("X-Hub-Signature-256".into(), sign(&secret, body)),
///         ("traceparent".into(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
///     ],
///     body.to_vec(),
/// );
/// assert!(message.header("TRACEPARENT").is_some());
/// let delivery = message.verify(&Verifier::new(secret)).unwrap();
/// assert_eq!(delivery.guid().as_str(), "a1");
/// let wrong = Verifier::new(WebhookSecret::new("other").unwrap());
/// assert!(message.verify(&wrong).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMessage {
    headers: Vec<(String, String)>,
    body: Bytes,
}

/// Why a consumer did not process a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumeError {
    /// The message does not verify: no signature, a wrong one (a wrong secret,
    /// a changed body), or missing delivery headers. No retry will change
    /// that: refuse it (terminate, or reject without requeue).
    #[error("the message is refused: {0}")]
    Refused(#[source] octohook::Error),
    /// The payload does not parse or a handler failed: worth a redelivery
    /// (NAK with a delay) until the broker's delivery limit.
    #[error("dispatch failed: {0}")]
    Dispatch(#[source] DispatchError),
}

impl ConsumeError {
    /// Whether a redelivery cannot help (the message is not authentic, or its
    /// payload does not fit its event's type).
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Refused(_) => true,
            Self::Dispatch(error) => matches!(error, DispatchError::Parse { .. }),
        }
    }
}

impl ReceivedMessage {
    /// A message with `headers` and `body`.
    pub fn new(headers: Vec<(String, String)>, body: impl Into<Bytes>) -> Self {
        Self {
            headers,
            body: body.into(),
        }
    }

    /// Every header, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of header `name` (compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        first_header(&self.headers, name)
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The idempotency key, `HOOK:GUID`, to deduplicate on (see the crate's
    /// docs on deduplicating AMQP messages).
    pub fn idempotency_key(&self) -> Option<&str> {
        self.header(IDEMPOTENCY_KEY_HEADER)
    }

    /// The payload's action, as the publisher read it.
    pub fn action(&self) -> Option<&str> {
        self.header(ACTION_HEADER)
    }

    /// When the receiver got the delivery (RFC 3339), as the publisher wrote it.
    pub fn received_at(&self) -> Option<&str> {
        self.header(RECEIVED_AT_HEADER)
    }

    /// The headers as an HTTP header map (those whose name or value HTTP does
    /// not allow are left out).
    pub fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                map.append(name, value);
            }
        }
        map
    }

    /// Verifies the message as the receiver verified the request: the
    /// signature over the body with `verifier`'s secrets, the delivery headers,
    /// the body limit. The headers and the body are the receiver's own, so the
    /// check proves the message is GitHub's delivery, whatever the broker and
    /// whoever could publish to it.
    pub fn verify(&self, verifier: &Verifier) -> Result<VerifiedDelivery, ConsumeError> {
        verifier
            .verify(&self.header_map(), self.body.clone())
            .map_err(ConsumeError::Refused)
    }
}

/// Verifies each message and runs a typed [`Dispatcher`] on it: the consumer's
/// side of [`JetStreamPublisher`](crate::JetStreamPublisher) and
/// [`AmqpPublisher`](crate::AmqpPublisher).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use octohook::{sign, Dispatcher, Verifier, WebhookSecret};
/// use octohook_broker::{ConsumeError, Consumer, ReceivedMessage};
///
/// let secret = WebhookSecret::new("s3cret").unwrap();
/// let dispatcher = Dispatcher::new().on_any(|delivery| async move {
///     println!("{} {}", delivery.kind(), delivery.delivery().guid());
/// });
/// let consumer = Consumer::new(Verifier::new(secret.clone()), dispatcher);
/// let body = br#"{"zen":"z"}"#;
/// let headers = vec![
///     ("X-GitHub-Event".to_owned(), "ping".to_owned()),
///     ("X-GitHub-Delivery".to_owned(), "a1".to_owned()),
///     ("Content-Type".to_owned(), "application/json".to_owned()),
///     ("X-Hub-Signature-256".to_owned(), sign(&secret, body)),
/// ];
/// let message = ReceivedMessage::new(headers.clone(), body.to_vec());
/// assert_eq!(consumer.consume(&message).await.unwrap().handlers_run(), 1);
///
/// let tampered = ReceivedMessage::new(headers, br#"{"zen":"y"}"#.to_vec());
/// let refused = consumer.consume(&tampered).await.unwrap_err();
/// assert!(matches!(refused, ConsumeError::Refused(_)) && refused.is_permanent());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Consumer {
    verifier: Verifier,
    dispatcher: Dispatcher,
}

impl Consumer {
    /// Verifies with `verifier`, dispatches with `dispatcher`.
    pub fn new(verifier: Verifier, dispatcher: Dispatcher) -> Self {
        Self {
            verifier,
            dispatcher,
        }
    }

    /// Verifies `message` and dispatches it.
    ///
    /// It runs in a `consume` span; with the `otel` feature, the span's parent
    /// is the message's `traceparent` (the receiver's publish), so that it joins
    /// the delivery's trace. The span names the delivery only once it is
    /// verified.
    pub async fn consume(&self, message: &ReceivedMessage) -> Result<Dispatched, ConsumeError> {
        let span = tracing::info_span!(
            "consume",
            delivery = tracing::field::Empty,
            event = tracing::field::Empty,
        );
        #[cfg(feature = "otel")]
        if let Some(parent) = octohook_inbox::TraceParent::extract(|name| message.header(name)) {
            parent.set_as_parent_of(&span);
        }
        async {
            let delivery = message.verify(&self.verifier)?;
            let current = tracing::Span::current();
            current.record("delivery", tracing::field::display(delivery.guid()));
            current.record("event", tracing::field::display(delivery.event_kind()));
            self.dispatcher
                .dispatch(delivery)
                .await
                .map_err(ConsumeError::Dispatch)
        }
        .instrument(span)
        .await
    }
}
