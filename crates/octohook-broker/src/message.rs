//! [`BrokerMessage`]: what a stored delivery becomes on a broker: its body
//! byte for byte and its headers.

use std::time::SystemTime;

use bytes::Bytes;
use octohook_inbox::{DeliveryKey, StoredDelivery};

use crate::NameTemplate;

/// The message header holding the idempotency key, `HOOK:GUID` (`-:GUID`
/// without a hook id): the same for every publish of one delivery. JetStream
/// also gets it as `Nats-Msg-Id`, AMQP as the `message_id` property.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Octohook-Idempotency-Key";
/// The message header holding the payload's `action`, when it has one.
pub const ACTION_HEADER: &str = "Octohook-Action";
/// The message header holding when the receiver got the delivery, RFC 3339 in
/// UTC with milliseconds (`2026-12-06T09:10:08.123Z`).
pub const RECEIVED_AT_HEADER: &str = "Octohook-Received-At";

/// GitHub's own spelling of the delivery headers a message carries (the
/// inbox keeps them lowercase).
const GITHUB_SPELLING: [(&str, &str); 11] = [
    ("content-type", "Content-Type"),
    ("user-agent", "User-Agent"),
    ("x-github-event", "X-GitHub-Event"),
    ("x-github-delivery", "X-GitHub-Delivery"),
    ("x-github-hook-id", "X-GitHub-Hook-ID"),
    (
        "x-github-hook-installation-target-type",
        "X-GitHub-Hook-Installation-Target-Type",
    ),
    (
        "x-github-hook-installation-target-id",
        "X-GitHub-Hook-Installation-Target-ID",
    ),
    ("x-hub-signature", "X-Hub-Signature"),
    ("x-hub-signature-256", "X-Hub-Signature-256"),
    ("x-github-enterprise-version", "X-GitHub-Enterprise-Version"),
    ("x-github-enterprise-host", "X-GitHub-Enterprise-Host"),
];

/// A delivery as published: the body exactly as GitHub sent it (the
/// signatures cover it), GitHub's delivery headers as the inbox kept them
/// (event, GUID, hook id, installation target, both signatures, content type,
/// user agent), and octohook's own: [`IDEMPOTENCY_KEY_HEADER`],
/// [`ACTION_HEADER`], [`RECEIVED_AT_HEADER`].
///
/// The header list is open: [`push_header`](Self::push_header) adds one (a W3C
/// `traceparent`, say) before the message is published.
///
/// ```
/// # use std::time::SystemTime;
/// use octohook::EventKind;
/// use octohook_broker::{BrokerMessage, NameRules, NameTemplate};
/// use octohook_inbox::{DeliveryKey, NewDelivery, Inbox, WorkerConfig, StoredDelivery, AttemptError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let inbox = Inbox::in_memory();
/// let key = DeliveryKey::new(Some(octohook::HookId::new(7)), "a1".parse().unwrap());
/// inbox.insert(NewDelivery::new(key.clone(), EventKind::Ping, r#"{"zen":"z"}"#)).await.unwrap();
/// let stored = inbox.store().get(&key).await.unwrap().unwrap();
///
/// let mut message = BrokerMessage::from_stored(&stored);
/// assert_eq!(message.idempotency_key(), "7:a1");
/// assert_eq!(message.header("x-github-event"), Some("ping"));
/// assert_eq!(message.body().as_ref(), br#"{"zen":"z"}"#);
/// message.push_header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// let subject = NameTemplate::parse("github.{event}.{action}", NameRules::NatsSubject).unwrap();
/// assert_eq!(message.name(&subject), "github.ping.none");
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerMessage {
    key: DeliveryKey,
    idempotency_key: String,
    event: String,
    action: Option<String>,
    received_at: SystemTime,
    headers: Vec<(String, String)>,
    body: Bytes,
}

/// The W3C trace-context header.
#[cfg(feature = "otel")]
const TRACEPARENT: &str = "traceparent";

impl BrokerMessage {
    /// The message for a stored delivery.
    pub fn from_stored(delivery: &StoredDelivery) -> Self {
        let idempotency_key = delivery.key.to_string();
        let mut headers: Vec<(String, String)> = delivery
            .headers
            .iter()
            .map(|(name, value)| (github_spelling(name).to_owned(), value.to_owned()))
            .collect();
        // Rows stored by older versions may lack some delivery headers; the
        // store's typed columns hold them (as `StoredDelivery::verify` does).
        let hook_id = delivery.key.hook_id.map(|id| id.get().to_string());
        let essentials = [
            ("Content-Type", Some(delivery.content_type.as_str())),
            ("X-GitHub-Event", Some(delivery.event.as_str())),
            ("X-GitHub-Delivery", Some(delivery.key.guid.as_str())),
            ("X-GitHub-Hook-ID", hook_id.as_deref()),
        ];
        for (name, value) in essentials {
            if let Some(value) = value
                && !headers.iter().any(|(kept, _)| kept == name)
            {
                headers.push((name.to_owned(), value.to_owned()));
            }
        }
        headers.push((IDEMPOTENCY_KEY_HEADER.to_owned(), idempotency_key.clone()));
        if let Some(action) = &delivery.action {
            headers.push((ACTION_HEADER.to_owned(), action.clone()));
        }
        headers.push((
            RECEIVED_AT_HEADER.to_owned(),
            humantime::format_rfc3339_millis(delivery.received_at).to_string(),
        ));
        // The trace the delivery belongs to (its `store` span), as W3C
        // `traceparent`; with the `otel` feature the publish replaces it with
        // its own span (see `headers_within`).
        if let Some(parent) = &delivery.trace_parent {
            parent.inject(|name, value| headers.push((name.to_owned(), value)));
        }
        Self {
            key: delivery.key.clone(),
            idempotency_key,
            event: delivery.event.as_str().to_owned(),
            action: delivery.action.clone(),
            received_at: delivery.received_at,
            headers,
            body: delivery.body.clone(),
        }
    }

    /// The delivery's key.
    pub fn key(&self) -> &DeliveryKey {
        &self.key
    }

    /// `HOOK:GUID`: the `Nats-Msg-Id`, the AMQP `message_id`, and the value of
    /// [`IDEMPOTENCY_KEY_HEADER`].
    pub fn idempotency_key(&self) -> &str {
        &self.idempotency_key
    }

    /// The event (`X-GitHub-Event`).
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The payload's `action`, when it has one.
    pub fn action(&self) -> Option<&str> {
        self.action.as_deref()
    }

    /// When the receiver got the delivery.
    pub fn received_at(&self) -> SystemTime {
        self.received_at
    }

    /// The headers, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of header `name` (compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        first_header(&self.headers, name)
    }

    /// The headers to send from within `span`, in order. With the `otel`
    /// feature, when `span` is traced, its `traceparent` replaces the stored
    /// delivery's, so that a consumer's span is a child of the publish;
    /// otherwise the headers as they are.
    pub(crate) fn headers_within(
        &self,
        span: &tracing::Span,
    ) -> std::borrow::Cow<'_, [(String, String)]> {
        #[cfg(feature = "otel")]
        if let Some(parent) = octohook_inbox::TraceParent::of(span) {
            let mut headers: Vec<(String, String)> = self
                .headers
                .iter()
                .filter(|(name, _)| !name.eq_ignore_ascii_case(TRACEPARENT))
                .cloned()
                .collect();
            parent.inject(|name, value| headers.push((name.to_owned(), value)));
            return std::borrow::Cow::Owned(headers);
        }
        let _ = span;
        std::borrow::Cow::Borrowed(&self.headers)
    }

    /// Adds a header (after the others).
    pub fn push_header(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.headers.push((name.into(), value.into()));
    }

    /// The body, byte for byte as received.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The subject or routing key `template` gives this message.
    pub fn name(&self, template: &NameTemplate) -> String {
        template.render(&self.event, self.action.as_deref())
    }
}

/// The first value of header `name` in `headers` (compared without case): how
/// both sides of the broker read a message's headers.
pub(crate) fn first_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(kept, _)| kept.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

fn github_spelling(lowercase: &str) -> &str {
    GITHUB_SPELLING
        .iter()
        .find(|(name, _)| *name == lowercase)
        .map_or(lowercase, |(_, spelled)| spelled)
}

#[cfg(test)]
mod tests {
    use octohook::header::DELIVERY_HEADERS;

    use super::*;

    #[test]
    fn every_kept_header_has_githubs_spelling() {
        for name in &DELIVERY_HEADERS {
            let spelled = github_spelling(name.as_str());
            assert_ne!(spelled, name.as_str(), "{name}");
            assert!(spelled.eq_ignore_ascii_case(name.as_str()));
        }
    }
}
