//! Verify GitHub webhook deliveries and decode them into typed deliveries.
//!
//! `octohook` checks `X-Hub-Signature-256` (HMAC-SHA256 of the raw body) in constant
//! time, parses the delivery headers (`X-GitHub-Event`, `X-GitHub-Delivery`,
//! `X-GitHub-Hook-ID`, ...) into types, and only then gives access to the payload.
//! It does no I/O and needs no async runtime: the framework adapters
//! (`octohook-tower`, `octohook-actix`) feed it bodies as they stream in through a
//! [`BodyVerification`], and answer every failure as its [`Rejection`] says.
//!
//! ```
//! use bytes::Bytes;
//! use http::HeaderMap;
//! use octohook::{sign, EventKind, Verifier, WebhookSecret};
//!
//! let secret = WebhookSecret::new("It's a Secret to Everybody").unwrap();
//! let verifier = Verifier::new(secret.clone());
//!
//! // What GitHub sends (here signed locally with `sign`).
//! let body = Bytes::from_static(br#"{"action":"opened","number":1}"#);
//! let mut headers = HeaderMap::new();
//! headers.insert("x-github-event", "pull_request".parse().unwrap());
//! headers.insert("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap());
//! headers.insert("content-type", "application/json".parse().unwrap());
//! headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
//!
//! let delivery = verifier.verify(&headers, body).unwrap();
//! assert_eq!(delivery.event_kind(), &EventKind::PullRequest);
//! assert_eq!(delivery.action(), Some("opened"));
//!
//! // A tampered body is rejected with 401.
//! let tampered = Bytes::from_static(br#"{"action":"closed","number":1}"#);
//! let error = verifier.verify(&headers, tampered).unwrap_err();
//! assert_eq!(error.status(), http::StatusCode::UNAUTHORIZED);
//! ```
//!
//! Legacy SHA-1 signatures (`X-Hub-Signature`) are refused unless enabled with
//! [`Verifier::allow_legacy_sha1`], and never used when `X-Hub-Signature-256` is sent.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// First, so that every module below can define string enums.
#[macro_use]
#[doc(hidden)]
pub mod string_enum;

mod answer;
mod authentic_delivery;
mod body_budget;
mod body_verification;
mod client_bytes;
mod content_type;
mod delivery_headers;
mod delivery_record;
#[cfg(feature = "events-core")]
mod dispatcher;
mod error;
mod event_kind;
#[cfg(feature = "events-core")]
pub mod events;
pub mod header;
mod ids;
#[cfg(test)]
mod log_capture;
mod log_rate_limit;
#[cfg(feature = "metrics")]
pub mod metrics;
mod nesting;
mod payload_check;
mod pulled_delivery;
mod raw_headers;
mod receive;
mod rejection;
mod rejection_log;
mod secret;
mod signature;
mod verified_delivery;
mod verifier;

pub use answer::Answer;
pub use authentic_delivery::{AuthenticDelivery, Authenticity};
pub use body_budget::{BodyBudget, DEFAULT_BODY_BUDGET};
pub use body_verification::BodyVerification;
pub use client_bytes::ClientBytes;
pub use content_type::ContentType;
pub use delivery_headers::{DeliveryHeaders, EnterpriseServer, InstallationTarget, TargetType};
pub use delivery_record::{DeliveryRecord, RecordParts};
#[cfg(feature = "events-core")]
pub use dispatcher::{
    Delivered, DispatchError, Dispatched, Dispatcher, HandlerError, HandlerOutcome,
};
pub use error::Error;
pub use event_kind::EventKind;
#[cfg(feature = "events-core")]
pub use events::{Event, EventAction, EventError, Payload, WebhookEvent};
pub use ids::{DeliveryGuid, HookId, InvalidDeliveryGuid, InvalidHookId};
pub use log_rate_limit::LogRateLimit;
pub use nesting::DEFAULT_MAX_JSON_DEPTH;
pub use payload_check::PayloadCheck;
pub use pulled_delivery::PulledDelivery;
pub use raw_headers::{DroppedHeaders, RawHeaders};
pub use receive::{ReceiveDelivery, ReceiveFn, ReceiveFuture, receive_fn};
pub use rejection::Rejection;
pub use rejection_log::RejectionLog;
pub use secret::{EmptySecret, WebhookSecret};
pub use signature::{
    Signature1, Signature256, SignatureAlgorithm, SignatureFormatError, Signer, sign,
    sign_legacy_sha1,
};
pub use verified_delivery::VerifiedDelivery;
pub use verifier::{DEFAULT_BODY_LIMIT, PendingDelivery, SecretIndex, Verifier};

/// Entry points for the fuzz targets and property tests; not part of the public API.
///
/// Besides "never panics", each checks an invariant with `assert!`, so the fuzzer
/// also reports wrong answers.
#[doc(hidden)]
pub mod internal {
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue};

    use crate::header::{X_HUB_SIGNATURE, X_HUB_SIGNATURE_256};
    use crate::{
        ContentType, DeliveryHeaders, DroppedHeaders, Error, RawHeaders, Signature1, Signature256,
        VerifiedDelivery, Verifier, WebhookSecret, sign,
    };

    /// Parses arbitrary bytes as both signature headers; what parses must print back
    /// as the input (digits lower-cased).
    pub fn fuzz_signature_header(data: &[u8]) {
        if let Ok(signature) = Signature256::parse(data) {
            assert_eq!(signature.to_string().as_bytes(), data.to_ascii_lowercase());
        }
        if let Ok(signature) = Signature1::parse(data) {
            assert_eq!(signature.to_string().as_bytes(), data.to_ascii_lowercase());
        }
    }

    /// Parses arbitrary bytes as a `Content-Type` value and as a form body, then
    /// verifies them as a correctly signed form-encoded delivery.
    pub fn fuzz_form_body(data: &[u8]) {
        if let Ok(content_type) = ContentType::from_header(data) {
            assert_eq!(
                ContentType::from_header(content_type.as_str().as_bytes()).ok(),
                Some(content_type)
            );
        }
        let payload = ContentType::Form.payload_json(data);
        let mut headers = HeaderMap::new();
        headers.insert("x-github-event", HeaderValue::from_static("push"));
        headers.insert("x-github-delivery", HeaderValue::from_static("fuzz"));
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let (verifier, secret) = verifier();
        let signature = HeaderValue::from_str(&sign(&secret, data)).expect("ASCII signature");
        headers.insert(X_HUB_SIGNATURE_256, signature);
        match verifier.verify(&headers, Bytes::copy_from_slice(data)) {
            Ok(delivery) => {
                assert_eq!(Some(&delivery.payload()[..]), payload.as_deref().ok());
                assert_eq!(payload_fields(data), 1);
                check_payload_agrees_with_serde_json(&delivery);
            }
            Err(Error::MissingFormPayload) => {
                assert!(payload.is_err());
                assert_eq!(payload_fields(data), 0);
            }
            Err(Error::RepeatedFormPayload) => {
                assert!(payload.is_err());
                assert!(payload_fields(data) > 1);
            }
            Err(Error::FormPayloadNotUtf8) => {
                assert!(payload.is_err());
                assert_eq!(payload_fields(data), 1);
            }
            Err(Error::InvalidPayload(_) | Error::PayloadTooDeep { .. }) => {
                assert!(payload.is_ok())
            }
            Err(Error::BodyTooLarge { limit }) => assert!(data.len() as u64 > limit),
            Err(other) => panic!("a signed form body failed with {other:?}"),
        }
    }

    /// How many fields named `payload` a form body has.
    fn payload_fields(body: &[u8]) -> usize {
        form_urlencoded::parse(body)
            .filter(|(name, _)| name == "payload")
            .count()
    }

    /// Parses arbitrary bytes as the payload of an event (the first byte picks one of
    /// the known events): nothing panics, a payload that parses strictly parses with
    /// no warning, and one that parses with warnings fails strict parsing.
    #[cfg(feature = "events-core")]
    pub fn fuzz_event_payload(data: &[u8]) {
        use crate::EventKind;
        use crate::events::Event;

        let Some((pick, payload)) = data.split_first() else {
            return;
        };
        let kind = &EventKind::KNOWN[usize::from(*pick) % EventKind::KNOWN.len()];
        let payload = Bytes::copy_from_slice(payload);
        let strict = Event::parse_strict(kind, payload.clone());
        match Event::parse(kind, payload) {
            Ok(event) if event.warnings().is_empty() => assert!(strict.is_ok()),
            Ok(_) => assert!(strict.is_err()),
            Err(_) => assert!(strict.is_err()),
        }
    }

    /// Measures the nesting depth of arbitrary bytes. On anything `serde_json`
    /// parses, the one-pass count equals the depth `serde_json` itself walks (every
    /// value, including those under a repeated key), and a payload within the
    /// default limit never meets the recursion limit of `serde_json` parsing.
    pub fn fuzz_json_depth(data: &[u8]) {
        let depth = crate::nesting::depth_within(data, usize::MAX).expect("no limit");
        if let Ok(ParsedDepth(parsed)) = serde_json::from_slice::<ParsedDepth>(data) {
            assert_eq!(depth, parsed);
        }
        let within = crate::nesting::depth_within(data, crate::DEFAULT_MAX_JSON_DEPTH);
        assert_eq!(within.is_some(), depth <= crate::DEFAULT_MAX_JSON_DEPTH);
        let mut headers = HeaderMap::new();
        headers.insert("x-github-event", HeaderValue::from_static("push"));
        headers.insert("x-github-delivery", HeaderValue::from_static("fuzz"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        // Signed and verified: verification is the only way to a delivery. The
        // default verifier checks no payload, and its body limit is far above
        // a fuzz input.
        let secret = WebhookSecret::new("fuzz").expect("non-empty");
        let signature = HeaderValue::from_str(&sign(&secret, data)).expect("ASCII signature");
        headers.insert(X_HUB_SIGNATURE_256, signature);
        let delivery = Verifier::new(secret)
            .verify(&headers, Bytes::copy_from_slice(data))
            .expect("a signed JSON delivery verifies");
        check_payload_agrees_with_serde_json(&delivery);
        // Within the default limit, a payload that passes the check parses.
        if delivery.check_payload().is_ok() {
            assert!(within.is_some());
        }
        // Within the limit, serde_json never reaches its own recursion limit (it may
        // still refuse the bytes for other reasons: invalid UTF-8, `1e400`).
        if within.is_some()
            && let Err(error) = serde_json::from_slice::<serde_json::Value>(data)
        {
            assert!(!error.to_string().contains("recursion limit"), "{error}");
        }
    }

    /// The one-pass payload check accepts exactly the JSON objects `serde_json`
    /// parses into a `Value` (nesting included), and reads a string `action`
    /// (the first, where `Value` keeps the last of repeated keys).
    fn check_payload_agrees_with_serde_json(delivery: &VerifiedDelivery) {
        let value = serde_json::from_slice::<serde_json::Value>(delivery.payload());
        let object = value.as_ref().ok().and_then(serde_json::Value::as_object);
        assert_eq!(
            delivery.check_payload().is_ok(),
            object.is_some(),
            "{value:?}"
        );
        if let Some(action) = delivery.action() {
            assert!(object.is_some_and(|object| object.contains_key("action")));
            let _ = action;
        }
    }

    /// The nesting depth of a JSON document as `serde_json` walks it. Unlike a
    /// [`serde_json::Value`], which keeps only the last of repeated keys, it visits
    /// every value. `serde_json`'s recursion limit bounds the recursion.
    struct ParsedDepth(usize);

    impl<'de> serde::Deserialize<'de> for ParsedDepth {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(DepthVisitor).map(ParsedDepth)
        }
    }

    struct DepthVisitor;

    impl<'de> serde::de::Visitor<'de> for DepthVisitor {
        type Value = usize;

        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("any JSON value")
        }

        fn visit_bool<E>(self, _: bool) -> Result<usize, E> {
            Ok(0)
        }
        fn visit_i64<E>(self, _: i64) -> Result<usize, E> {
            Ok(0)
        }
        fn visit_u64<E>(self, _: u64) -> Result<usize, E> {
            Ok(0)
        }
        fn visit_f64<E>(self, _: f64) -> Result<usize, E> {
            Ok(0)
        }
        fn visit_str<E>(self, _: &str) -> Result<usize, E> {
            Ok(0)
        }
        fn visit_unit<E>(self) -> Result<usize, E> {
            Ok(0)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
            let mut deepest = 0;
            while let Some(ParsedDepth(depth)) = seq.next_element()? {
                deepest = deepest.max(depth);
            }
            Ok(1 + deepest)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
            let mut deepest = 0;
            while let Some((serde::de::IgnoredAny, ParsedDepth(depth))) = map.next_entry()? {
                deepest = deepest.max(depth);
            }
            Ok(1 + deepest)
        }
    }

    /// Builds a header map from `name\0value\n` records (the bytes after the first
    /// `0xff` are the body), parses the delivery headers and verifies the delivery,
    /// signing the body when the input carries no signature header. Verifying the
    /// body in one piece and in two chunks must agree, and the headers kept with
    /// the delivery must follow [`RawHeaders`]' rules.
    pub fn fuzz_delivery_headers(data: &[u8]) {
        let (head, body) = match data.iter().position(|b| *b == 0xff) {
            Some(split) => (&data[..split], &data[split + 1..]),
            None => (data, &[][..]),
        };
        let mut headers = HeaderMap::new();
        for record in head.split(|b| *b == b'\n') {
            let mut parts = record.splitn(2, |b| *b == 0);
            let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
                continue;
            };
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name),
                HeaderValue::from_bytes(value),
            ) {
                headers.append(name, value);
            }
        }
        let _ = DeliveryHeaders::from_headers(&headers);
        let (verifier, secret) = verifier();
        if !headers.contains_key(X_HUB_SIGNATURE_256) && !headers.contains_key(X_HUB_SIGNATURE) {
            let value = HeaderValue::from_str(&sign(&secret, body)).expect("ASCII signature");
            headers.insert(X_HUB_SIGNATURE_256, value);
        }
        let one_shot = verifier.verify(&headers, Bytes::copy_from_slice(body));
        let streamed = verifier.begin(&headers).and_then(|mut pending| {
            let (first, second) = body.split_at(body.len() / 3);
            pending.update(Bytes::copy_from_slice(first))?;
            pending.update(Bytes::copy_from_slice(second))?;
            pending.finish()
        });
        assert_eq!(outcome(&one_shot), outcome(&streamed));
        check_raw_headers(&headers, &one_shot);
    }

    /// What is kept of a request's headers is the same by either path (a map,
    /// or pairs as actix-web hands them over), within the cap, replays to
    /// itself, and is what a verified delivery carries.
    fn check_raw_headers(headers: &HeaderMap, verified: &Result<VerifiedDelivery, Error>) {
        let kept = RawHeaders::keep(headers);
        let pairs = headers.iter().map(|(name, value)| (name.as_str(), value));
        assert_eq!(RawHeaders::from_pairs(pairs), kept);
        assert!(kept.byte_len() <= RawHeaders::MAX_BYTES);
        let replayed = RawHeaders::keep(&kept.to_header_map());
        assert!(replayed.iter().eq(kept.iter()));
        assert_eq!(replayed.dropped(), DroppedHeaders::default());
        if let Ok(delivery) = verified {
            assert_eq!(delivery.raw_headers(), &kept);
        }
    }

    fn verifier() -> (Verifier, WebhookSecret) {
        let secret = WebhookSecret::new("fuzz").expect("non-empty");
        let verifier = Verifier::new(secret.clone())
            .allow_legacy_sha1()
            .with_body_limit(1 << 16);
        (verifier, secret)
    }

    fn outcome(result: &Result<VerifiedDelivery, Error>) -> String {
        match result {
            Ok(delivery) => format!(
                "{:?} {:?} {:?} {:?}",
                delivery.raw_body(),
                delivery.payload(),
                delivery.action(),
                delivery.secret_index()
            ),
            Err(error) => format!("error: {error}"),
        }
    }
}

/// The README's examples, compiled as doctests so they stay true.
#[cfg(all(doctest, feature = "events"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
