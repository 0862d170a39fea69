//! [`VerifyWebhookLayer`]: the tower layer.

use octohook::Verifier;
use tower_layer::Layer;

use crate::VerifyWebhook;

/// Verifies GitHub webhook deliveries before the inner service sees them.
///
/// For each `POST` request it checks the delivery headers and the announced
/// `Content-Length` (413 before reading anything when it is over the limit), reads
/// the body while feeding the HMAC and enforcing the limit (chunked bodies too),
/// and then calls the inner service with the verified
/// [`VerifiedDelivery`](octohook::VerifiedDelivery) as a request extension and the
/// body as a [`Full<Bytes>`](http_body_util::Full). Rejected requests never reach
/// the inner service: they get a short `text/plain` response with 400, 401, 413 or
/// 415. Other methods pass through unverified and are the inner service's business.
///
/// ```
/// use axum::{Extension, Router, routing::post};
/// use octohook::{VerifiedDelivery, Verifier, WebhookSecret};
/// use octohook_tower::VerifyWebhookLayer;
///
/// async fn handle(Extension(delivery): Extension<VerifiedDelivery>) -> &'static str {
///     println!("{} {:?}", delivery.event_kind(), delivery.action());
///     "ok"
/// }
///
/// let verifier = Verifier::new(WebhookSecret::new("s3cret").unwrap());
/// let app: Router = Router::new()
///     .route("/webhook", post(handle))
///     .layer(VerifyWebhookLayer::new(verifier));
/// ```
#[derive(Clone, Debug)]
pub struct VerifyWebhookLayer {
    verifier: Verifier,
}

impl VerifyWebhookLayer {
    /// A layer verifying with `verifier` (its secrets, SHA-1 opt-in and body limit).
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier }
    }
}

impl<S> Layer<S> for VerifyWebhookLayer {
    type Service = VerifyWebhook<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VerifyWebhook::new(inner, self.verifier.clone())
    }
}
