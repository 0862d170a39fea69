//! Deliveries signed and verified for the unit tests: the only way to a
//! [`VerifiedDelivery`] is a signature check, so tests take it too.

use bytes::Bytes;
use http::HeaderMap;
use octohook::{VerifiedDelivery, Verifier, WebhookSecret, sign};

/// The secret the test deliveries are signed with.
pub(crate) fn secret() -> WebhookSecret {
    WebhookSecret::new("test-secret").expect("non-empty")
}

/// A verifier that knows [`secret`].
pub(crate) fn verifier() -> Verifier {
    Verifier::new(secret())
}

/// A JSON delivery of `event` with GUID `guid` and `body`, signed with
/// [`secret`] and verified.
pub(crate) fn signed(event: &str, guid: &str, body: &'static [u8]) -> VerifiedDelivery {
    let body = Bytes::from_static(body);
    let mut headers = HeaderMap::new();
    headers.insert("x-github-event", event.parse().expect("event name"));
    headers.insert("x-github-delivery", guid.parse().expect("GUID"));
    headers.insert("content-type", "application/json".parse().expect("ASCII"));
    headers.insert(
        "x-hub-signature-256",
        sign(&secret(), &body).parse().expect("ASCII"),
    );
    verifier().verify(&headers, body).expect("signed")
}
