//! [`NewDelivery`]: what a receiver hands a store.

use std::time::SystemTime;

use bytes::Bytes;
use octohook::{ContentType, EventKind, PulledDelivery, RawHeaders, VerifiedDelivery};

use crate::{DeliveryKey, DeliveryOrigin, TraceParent};

/// A delivery to store: everything a handler, `--exec` or `--forward` needs later.
///
/// Build it from a verified delivery with [`from_verified`](Self::from_verified):
/// the headers it keeps are the ones the delivery was verified with
/// ([`VerifiedDelivery::raw_headers`]), so that a forwarder can replay them and a
/// worker can verify the stored delivery again.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NewDelivery {
    /// The deduplication key.
    pub key: DeliveryKey,
    /// The event (`X-GitHub-Event`).
    pub event: EventKind,
    /// The payload's `action`, when it has one.
    pub action: Option<String>,
    /// How the body is encoded.
    pub content_type: ContentType,
    /// GitHub's headers of the request, as received and bounded (see
    /// [`RawHeaders`]); the signature header among them.
    pub headers: RawHeaders,
    /// The body exactly as received (what the signature covers).
    pub body: Bytes,
    /// When the receiver got it.
    pub received_at: SystemTime,
    /// The trace the delivery belongs to: the context of the span that stored
    /// it, which each attempt's span is then a child of (see
    /// [`trace_context`](crate::trace_context)). [`Inbox`](crate::Inbox) sets
    /// it with the `otel` feature; `None` otherwise.
    pub trace_parent: Option<TraceParent>,
    /// Whether GitHub pushed it (signed) or it was pulled from GitHub's API.
    pub origin: DeliveryOrigin,
}

impl NewDelivery {
    /// A JSON delivery of `event` with `body`, received now, with no action and
    /// no headers; set the other fields directly.
    pub fn new(key: DeliveryKey, event: EventKind, body: impl Into<Bytes>) -> Self {
        Self {
            key,
            event,
            action: None,
            content_type: ContentType::Json,
            headers: RawHeaders::default(),
            body: body.into(),
            received_at: SystemTime::now(),
            trace_parent: None,
            origin: DeliveryOrigin::Pushed,
        }
    }

    /// What to store of a verified delivery, received now: its key, event,
    /// action, encoding, body, and the headers it was verified with (the
    /// signature included, so that it can be verified again).
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use http::HeaderMap;
    /// use octohook::{sign, Verifier, WebhookSecret};
    /// use octohook_inbox::NewDelivery;
    ///
    /// let secret = WebhookSecret::new("s3cret").unwrap();
    /// let body = Bytes::from_static(br#"{"action":"opened"}"#);
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-github-event", "issues".parse().unwrap());
    /// headers.insert("x-github-delivery", "a1".parse().unwrap());
    /// headers.insert("content-type", "application/json".parse().unwrap());
    /// headers.insert("cookie", "session=1".parse().unwrap());
    /// headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
    /// let delivery = Verifier::new(secret).verify(&headers, body).unwrap();
    ///
    /// let new = NewDelivery::from_verified(&delivery);
    /// assert_eq!(new.action.as_deref(), Some("opened"));
    /// assert!(new.headers.get("x-hub-signature-256").is_some());
    /// assert_eq!(new.headers.get("cookie"), None);
    /// ```
    pub fn from_verified(delivery: &VerifiedDelivery) -> Self {
        Self {
            key: DeliveryKey::of(delivery),
            event: delivery.event_kind().clone(),
            action: delivery.action().map(str::to_owned),
            content_type: delivery.headers().content_type(),
            headers: delivery.raw_headers().clone(),
            body: delivery.raw_body().clone(),
            received_at: SystemTime::now(),
            trace_parent: None,
            origin: DeliveryOrigin::Pushed,
        }
    }

    /// What to store of a delivery pulled from GitHub's API, received now: its
    /// key, event, action, the recorded headers (without a signature, see
    /// [`PulledDelivery`]) and the re-serialised payload as a JSON body, with
    /// [`DeliveryOrigin::Pulled`]. Its key is the one a pushed copy of the same
    /// delivery has, so whichever is stored first is the one kept.
    ///
    /// ```
    /// use octohook::PulledDelivery;
    /// use octohook_inbox::{DeliveryOrigin, NewDelivery};
    ///
    /// let headers = [("X-GitHub-Event", "issues"), ("X-GitHub-Delivery", "a1"), ("X-GitHub-Hook-ID", "9")];
    /// let pulled = PulledDelivery::from_github_api(headers, &serde_json::json!({"action": "opened"})).unwrap();
    /// let new = NewDelivery::from_pulled(&pulled);
    /// assert_eq!(new.origin, DeliveryOrigin::Pulled);
    /// assert_eq!(new.key.to_string(), "9:a1");
    /// assert_eq!(new.body.as_ref(), br#"{"action":"opened"}"#);
    /// ```
    pub fn from_pulled(delivery: &PulledDelivery) -> Self {
        Self {
            key: DeliveryKey::new(delivery.hook_id(), delivery.guid().clone()),
            event: delivery.event_kind().clone(),
            action: delivery.action().map(str::to_owned),
            content_type: ContentType::Json,
            headers: delivery.raw_headers().clone(),
            body: delivery.payload().clone(),
            received_at: SystemTime::now(),
            origin: DeliveryOrigin::Pulled,
            trace_parent: None,
        }
    }

    /// Sets when the delivery was received.
    pub fn received_at(mut self, at: SystemTime) -> Self {
        self.received_at = at;
        self
    }
}
