//! Verify GitHub webhook deliveries and decode them into typed deliveries.
//!
//! `octohook` checks `X-Hub-Signature-256` (HMAC-SHA256 of the raw body) in constant
//! time, parses the delivery headers (`X-GitHub-Event`, `X-GitHub-Delivery`,
//! `X-GitHub-Hook-ID`, ...) into types, and only then gives access to the payload.
//! It does no I/O and needs no async runtime: the framework adapters
//! (`octohook-tower`, `octohook-actix`) feed it bodies as they stream in.
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

mod content_type;
mod delivery_headers;
mod error;
mod event_kind;
pub mod header;
mod ids;
mod secret;
mod signature;
mod verified_delivery;
mod verifier;

pub use content_type::ContentType;
pub use delivery_headers::{DeliveryHeaders, EnterpriseServer, InstallationTarget, TargetType};
pub use error::Error;
pub use event_kind::EventKind;
pub use ids::{DeliveryGuid, HookId, InvalidDeliveryGuid, InvalidHookId};
pub use secret::{EmptySecret, WebhookSecret};
pub use signature::{
    Signature1, Signature256, SignatureAlgorithm, SignatureFormatError, Signer, sign,
    sign_legacy_sha1,
};
pub use verified_delivery::VerifiedDelivery;
pub use verifier::{DEFAULT_BODY_LIMIT, PendingDelivery, SecretIndex, Verifier};

/// Entry points for the fuzz targets; not part of the public API.
#[doc(hidden)]
pub mod internal {
    use bytes::Bytes;
    use http::HeaderMap;

    use crate::{ContentType, DeliveryHeaders, Signature1, Signature256, Verifier, WebhookSecret};

    /// Parses arbitrary bytes as both signature headers.
    pub fn fuzz_signature_header(data: &[u8]) {
        let _ = Signature256::parse(data);
        let _ = Signature1::parse(data);
    }

    /// Parses arbitrary bytes as a form body and as a `Content-Type` value.
    pub fn fuzz_form_body(data: &[u8]) {
        let _ = ContentType::from_header(data);
        let _ = ContentType::Form.payload_json(data);
    }

    /// Builds a header map from `name\0value\n` records and parses the delivery
    /// headers, then verifies the remaining bytes as a body under a fixed secret.
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
                http::HeaderValue::from_bytes(value),
            ) {
                headers.append(name, value);
            }
        }
        let _ = DeliveryHeaders::from_headers(&headers);
        let secret = WebhookSecret::new("fuzz").expect("non-empty");
        let verifier = Verifier::new(secret)
            .allow_legacy_sha1()
            .with_body_limit(1 << 16);
        let _ = verifier.verify(&headers, Bytes::copy_from_slice(body));
    }
}
