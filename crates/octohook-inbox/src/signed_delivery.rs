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
    let headers = [
        ("x-github-event", event),
        ("x-github-delivery", guid),
        ("content-type", "application/json"),
    ];
    signed_with(&headers, body)
}

/// A delivery with `headers` and `body`, signed with [`secret`] and verified.
pub(crate) fn signed_with(
    headers: &[(&'static str, &str)],
    body: &'static [u8],
) -> VerifiedDelivery {
    let body = Bytes::from_static(body);
    let mut map = HeaderMap::new();
    for &(name, value) in headers {
        map.insert(name, value.parse().expect("a header value"));
    }
    let signature = sign(&secret(), &body).parse().expect("ASCII");
    map.insert("x-hub-signature-256", signature);
    verifier().verify(&map, body).expect("signed")
}
