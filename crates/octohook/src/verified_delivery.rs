//! A delivery whose signature has been verified: the only way to its payload.

use std::fmt;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, Visitor};

use crate::nesting::depth_within;
use crate::{
    ContentType, DeliveryGuid, DeliveryHeaders, Error, EventKind, HookId, InstallationTarget,
    SecretIndex, SignatureAlgorithm,
};

/// A delivery whose signature matched one of the configured secrets.
///
/// Only verification ([`Verifier::verify`](crate::Verifier::verify) or
/// [`PendingDelivery::finish`](crate::PendingDelivery::finish)) constructs it, so a
/// payload cannot be read before it is verified. Its payload is known to be a JSON
/// object nested no deeper than the verifier's
/// [limit](crate::Verifier::with_max_json_depth) (127 levels by default, which
/// `serde_json` and the typed events parse); typed access goes through
/// [`parse`](Self::parse).
#[derive(Clone)]
pub struct VerifiedDelivery {
    headers: DeliveryHeaders,
    raw_body: Bytes,
    payload: Bytes,
    action: Option<Box<str>>,
    secret: SecretIndex,
    algorithm: SignatureAlgorithm,
}

impl VerifiedDelivery {
    /// Decodes a verified body: extracts the JSON payload (from a form's `payload`
    /// field when form-encoded), checks that it nests no deeper than `max_depth`
    /// (in one pass, before any parsing), that it is a JSON object, and reads
    /// `action`.
    pub(crate) fn decode(
        headers: DeliveryHeaders,
        raw_body: Bytes,
        secret: SecretIndex,
        algorithm: SignatureAlgorithm,
        max_depth: usize,
    ) -> Result<Self, Error> {
        let payload = match headers.content_type() {
            ContentType::Json => raw_body.clone(),
            ContentType::Form => {
                Bytes::from(ContentType::Form.payload_json(&raw_body)?.into_owned())
            }
        };
        if depth_within(&payload, max_depth).is_none() {
            return Err(Error::PayloadTooDeep { limit: max_depth });
        }
        let Envelope { action } =
            serde_json::from_slice(&payload).map_err(Error::InvalidPayload)?;
        Ok(Self {
            headers,
            raw_body,
            payload,
            action,
            secret,
            algorithm,
        })
    }

    /// Rebuilds a delivery that was verified earlier and kept in the caller's own
    /// storage (a durable inbox, a queue), without its signature being checked
    /// again: `headers` are the request's delivery headers as stored, `raw_body`
    /// its body as received.
    ///
    /// The payload is decoded as [`Verifier::verify`](crate::Verifier::verify)
    /// does (a form's `payload` field, one JSON object), but without a nesting
    /// limit: the bytes met the verifier's when they arrived, and parsing stops
    /// with an error at `serde_json`'s own limit. Which secret matched is not
    /// stored: [`secret_index`](Self::secret_index) reports 0, and
    /// [`algorithm`](Self::algorithm) the strongest signature header stored.
    ///
    /// **Only for bytes that passed verification before**: this is how a stored
    /// delivery reaches the typed [`Dispatcher`](crate::Dispatcher). Never call
    /// it on a request.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use http::HeaderMap;
    /// use octohook::VerifiedDelivery;
    /// # let mut headers = HeaderMap::new();
    /// # headers.insert("x-github-event", "issues".parse().unwrap());
    /// # headers.insert("x-github-delivery", "a1".parse().unwrap());
    /// # headers.insert("content-type", "application/json".parse().unwrap());
    /// // `headers` and `body` as a receiver stored them after verifying them.
    /// let body = Bytes::from_static(br#"{"action":"opened"}"#);
    /// let delivery = VerifiedDelivery::restore(&headers, body).unwrap();
    /// assert_eq!(delivery.action(), Some("opened"));
    /// ```
    pub fn restore(headers: &http::HeaderMap, raw_body: Bytes) -> Result<Self, Error> {
        let algorithm = if headers.contains_key(crate::header::X_HUB_SIGNATURE_256)
            || !headers.contains_key(crate::header::X_HUB_SIGNATURE)
        {
            SignatureAlgorithm::Sha256
        } else {
            SignatureAlgorithm::LegacySha1
        };
        Self::decode(
            DeliveryHeaders::from_headers(headers)?,
            raw_body,
            SecretIndex(0),
            algorithm,
            usize::MAX,
        )
    }

    /// The delivery headers.
    pub fn headers(&self) -> &DeliveryHeaders {
        &self.headers
    }

    /// The event (`X-GitHub-Event`).
    pub fn event_kind(&self) -> &EventKind {
        self.headers.event()
    }

    /// The payload's `action` field, for events that have actions.
    pub fn action(&self) -> Option<&str> {
        self.action.as_deref()
    }

    /// The delivery's GUID (`X-GitHub-Delivery`).
    pub fn guid(&self) -> &DeliveryGuid {
        self.headers.guid()
    }

    /// The hook's id (`X-GitHub-Hook-ID`), when sent.
    pub fn hook_id(&self) -> Option<HookId> {
        self.headers.hook_id()
    }

    /// The resource the hook is installed on, when sent.
    pub fn target(&self) -> Option<&InstallationTarget> {
        self.headers.target()
    }

    /// Which configured secret verified the delivery.
    pub fn secret_index(&self) -> SecretIndex {
        self.secret
    }

    /// Which signature header verified the delivery.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The body exactly as received (what the signature covers).
    pub fn raw_body(&self) -> &Bytes {
        &self.raw_body
    }

    /// The JSON payload: the body itself, or a form body's decoded `payload` field.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Deserializes the payload into `T`, which may borrow from it.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use http::HeaderMap;
    /// # use octohook::{sign, Verifier, WebhookSecret};
    /// #[derive(serde::Deserialize)]
    /// struct Issues<'a> {
    ///     action: &'a str,
    ///     issue: Issue,
    /// }
    /// #[derive(serde::Deserialize)]
    /// struct Issue {
    ///     number: u64,
    /// }
    /// # let secret = WebhookSecret::new("s3cret").unwrap();
    /// # let body = Bytes::from_static(br#"{"action":"opened","issue":{"number":7}}"#);
    /// # let mut headers = HeaderMap::new();
    /// # headers.insert("x-github-event", "issues".parse().unwrap());
    /// # headers.insert("x-github-delivery", "a1".parse().unwrap());
    /// # headers.insert("content-type", "application/json".parse().unwrap());
    /// # headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
    /// let delivery = Verifier::new(secret).verify(&headers, body).unwrap();
    /// let issues: Issues<'_> = delivery.parse().unwrap();
    /// assert_eq!((issues.action, issues.issue.number), ("opened", 7));
    /// ```
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, Error> {
        serde_json::from_slice(&self.payload).map_err(Error::InvalidPayload)
    }

    /// Deserializes the payload into an owned `T`.
    pub fn parse_owned<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.parse()
    }

    /// The payload as a [`serde_json::Value`].
    pub fn json_value(&self) -> Result<serde_json::Value, Error> {
        self.parse()
    }

    /// Parses the payload into its typed [`Event`](crate::events::Event): the variant
    /// for the delivery's event, or `Event::Unknown` (with the raw JSON) for an event
    /// this version does not know. The parsed event shares the payload's bytes, so
    /// its raw JSON stays reachable ([`Event::raw`](crate::events::Event::raw)).
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use http::HeaderMap;
    /// # use octohook::{sign, Verifier, WebhookSecret};
    /// use octohook::events::{Event, IssuesAction};
    /// # let secret = WebhookSecret::new("s3cret").unwrap();
    /// # let body = Bytes::from_static(br#"{"action":"opened","issue":{"id":1,"number":7},"repository":{},"sender":{}}"#);
    /// # let mut headers = HeaderMap::new();
    /// # headers.insert("x-github-event", "issues".parse().unwrap());
    /// # headers.insert("x-github-delivery", "a1".parse().unwrap());
    /// # headers.insert("content-type", "application/json".parse().unwrap());
    /// # headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
    /// let delivery = Verifier::new(secret).verify(&headers, body).unwrap();
    /// match delivery.event().unwrap() {
    ///     Event::Issues(issues) if issues.action == IssuesAction::Opened => {
    ///         assert_eq!(issues.issue.number, 7);
    ///     }
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// ```
    #[cfg(feature = "events-core")]
    pub fn event(&self) -> Result<crate::events::Event, crate::events::EventError> {
        crate::events::Event::parse(self.event_kind(), self.payload.clone())
    }
}

impl fmt::Debug for VerifiedDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedDelivery")
            .field("headers", &self.headers)
            .field("action", &self.action)
            .field("body_len", &self.raw_body.len())
            .field("secret", &self.secret)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

/// What verification reads of a payload: that it is one JSON object, and its
/// `action`. Every other value is skipped, but still checked for syntax.
struct Envelope {
    action: Option<Box<str>>,
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
        let mut action = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "action" && action.is_none() {
                // A non-string action (GitHub never sends one) reads as no action.
                action = map.next_value::<ActionValue>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Envelope { action })
    }
}

struct ActionValue(Option<Box<str>>);

impl<'de> Deserialize<'de> for ActionValue {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ActionVisitor;
        impl<'de> Visitor<'de> for ActionVisitor {
            type Value = ActionValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ActionValue, E> {
                Ok(ActionValue(Some(v.into())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ActionValue, E> {
                Ok(ActionValue(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<ActionValue, E> {
                Ok(ActionValue(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<ActionValue, E> {
                Ok(ActionValue(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<ActionValue, E> {
                Ok(ActionValue(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<ActionValue, E> {
                Ok(ActionValue(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ActionValue, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ActionValue(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ActionValue, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ActionValue(None))
            }
        }
        deserializer.deserialize_any(ActionVisitor)
    }
}
