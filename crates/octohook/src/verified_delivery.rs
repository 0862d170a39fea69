//! A delivery whose signature has been verified: the only way to its payload.

use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};

use crate::nesting::depth_within;
use crate::{
    ContentType, DeliveryGuid, DeliveryHeaders, Error, EventKind, HookId, InstallationTarget,
    RawHeaders, SecretIndex, SignatureAlgorithm,
};

/// A delivery whose signature matched one of the configured secrets.
///
/// Only verification constructs it: [`Verifier::verify`](crate::Verifier::verify)
/// and [`PendingDelivery::finish`](crate::PendingDelivery::finish), each after a
/// constant-time MAC check of the body against a configured secret. No other
/// function makes one, so a payload cannot be read before it is verified, and
/// holding a `VerifiedDelivery` proves the check. A delivery kept in storage (a
/// durable inbox, a queue) comes back the same way: its stored body and headers,
/// signature included, are verified again (`octohook_inbox::StoredDelivery::verify`),
/// so a row changed in the store, or signed with a secret since rotated out,
/// never reaches a handler as verified.
///
/// # What it guarantees about the payload
///
/// The signature matched the body, the delivery headers parsed, and the body is
/// within the verifier's limit. A form body's `payload` field is already decoded.
/// By default that is all: **the JSON is parsed once, where it is read**, so a
/// handler that deserialises the payload does not pay for a second pass. Each way
/// of reading it refuses a payload that is not a JSON object with
/// [`Error::InvalidPayload`] (400), nesting included: `serde_json` stops at 127
/// levels, and never recurses deeper:
///
/// - [`parse`](Self::parse), [`event`](Self::event) and the extractors and
///   dispatchers built on them;
/// - [`check_payload`](Self::check_payload), one pass that reads only `action`,
///   for a receiver that keeps the payload without deserialising it (a durable
///   inbox, a line writer). It is run at most once per delivery: its result is
///   kept, and shared by clones made after it.
///
/// With [`PayloadCheck::OnVerify`](crate::PayloadCheck::OnVerify), verification
/// itself runs `check_payload` (after a nesting count with its own limit), and a
/// delivery that exists is known to carry a JSON object.
#[derive(Clone)]
pub struct VerifiedDelivery {
    headers: DeliveryHeaders,
    /// GitHub's headers as received (what a store keeps, a forward replays).
    raw_headers: RawHeaders,
    raw_body: Bytes,
    payload: Bytes,
    /// The payload's `action`, once the payload has been checked.
    envelope: OnceLock<Envelope>,
    secret: SecretIndex,
    algorithm: SignatureAlgorithm,
}

impl VerifiedDelivery {
    /// Decodes a verified body: extracts the JSON payload (from a form's `payload`
    /// field when form-encoded) and, when `check` is `Some(max_depth)`, checks that
    /// it nests no deeper than that (in one pass, before any parsing) and is a JSON
    /// object.
    pub(crate) fn decode(
        headers: DeliveryHeaders,
        raw_headers: RawHeaders,
        raw_body: Bytes,
        secret: SecretIndex,
        algorithm: SignatureAlgorithm,
        check: Option<usize>,
    ) -> Result<Self, Error> {
        let payload = match headers.content_type() {
            ContentType::Json => raw_body.clone(),
            ContentType::Form => {
                Bytes::from(ContentType::Form.payload_json(&raw_body)?.into_owned())
            }
        };
        let delivery = Self {
            headers,
            raw_headers,
            raw_body,
            payload,
            envelope: OnceLock::new(),
            secret,
            algorithm,
        };
        if let Some(max_depth) = check {
            if depth_within(&delivery.payload, max_depth).is_none() {
                return Err(Error::PayloadTooDeep { limit: max_depth });
            }
            delivery.check_payload()?;
        }
        Ok(delivery)
    }

    /// The delivery headers.
    pub fn headers(&self) -> &DeliveryHeaders {
        &self.headers
    }

    /// GitHub's headers of the request, as received and within
    /// [`RawHeaders::MAX_BYTES`]: what a store keeps with the delivery, and what
    /// a forward replays (the signature header included).
    pub fn raw_headers(&self) -> &RawHeaders {
        &self.raw_headers
    }

    /// The event (`X-GitHub-Event`).
    pub fn event_kind(&self) -> &EventKind {
        self.headers.event()
    }

    /// The payload's `action` field, for events that have actions.
    ///
    /// Read by [`check_payload`](Self::check_payload) on first use, unless the
    /// payload was checked already; `None` also when the payload is not a JSON
    /// object (`check_payload` says why).
    pub fn action(&self) -> Option<&str> {
        self.check_payload().ok()?;
        self.envelope.get()?.action.as_deref()
    }

    /// Checks, in one pass and without building anything, that the payload is a
    /// JSON object nested no deeper than `serde_json` parses (127 levels), and
    /// reads its `action`. Done once: later calls, and clones made after a
    /// successful one, answer at once.
    ///
    /// A receiver that stores or forwards the payload without deserialising it
    /// calls this before answering 2xx (a refusal is a 400): the durable inbox and
    /// [`DeliveryRecord`](crate::DeliveryRecord) do. A handler that deserialises
    /// the payload need not: parsing checks it as well.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use http::HeaderMap;
    /// # use octohook::{sign, Error, Verifier, WebhookSecret};
    /// # let secret = WebhookSecret::new("s3cret").unwrap();
    /// # let body = Bytes::from_static(b"[1, 2");
    /// # let mut headers = HeaderMap::new();
    /// # headers.insert("x-github-event", "issues".parse().unwrap());
    /// # headers.insert("x-github-delivery", "a1".parse().unwrap());
    /// # headers.insert("content-type", "application/json".parse().unwrap());
    /// # headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
    /// // A correctly signed body that is not JSON still verifies...
    /// let delivery = Verifier::new(secret).verify(&headers, body).unwrap();
    /// // ...and is refused where it is first read.
    /// let error = delivery.check_payload().unwrap_err();
    /// assert!(matches!(error, Error::InvalidPayload(_)));
    /// assert_eq!(error.status(), 400);
    /// ```
    pub fn check_payload(&self) -> Result<(), Error> {
        if self.envelope.get().is_none() {
            let envelope: Envelope =
                serde_json::from_slice(&self.payload).map_err(Error::InvalidPayload)?;
            // Another thread may have set it meanwhile, to the same value.
            let _ = self.envelope.set(envelope);
        }
        Ok(())
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
            .field("action", &self.envelope.get().map(|e| &e.action))
            .field("body_len", &self.raw_body.len())
            .field("secret", &self.secret)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

/// What [`VerifiedDelivery::check_payload`] reads of a payload: that it is one
/// JSON object, and its `action`. Every other value is skipped, but still checked
/// for syntax and counted against `serde_json`'s recursion limit.
#[derive(Clone)]
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
                map.next_value::<Skip>()?;
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
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ActionValue, A::Error> {
                SkipVisitor.visit_seq(seq).map(|()| ActionValue(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ActionValue, A::Error> {
                SkipVisitor.visit_map(map).map(|()| ActionValue(None))
            }
        }
        deserializer.deserialize_any(ActionVisitor)
    }
}

/// Any JSON value, checked and dropped. Unlike [`serde::de::IgnoredAny`], which
/// `serde_json` skips without a depth limit (nor a check of its strings' UTF-8),
/// it goes through `deserialize_any`, so each level
/// of nesting counts against `serde_json`'s recursion limit: a payload that passes
/// [`VerifiedDelivery::check_payload`] also parses into a typed event.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SkipVisitor).map(|()| Skip)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Keys too go through `deserialize_any`, which checks their UTF-8 and
        // escapes as a typed parse would (skipping them would not).
        while map.next_key::<Skip>()?.is_some() {
            map.next_value::<Skip>()?;
        }
        Ok(())
    }
}
