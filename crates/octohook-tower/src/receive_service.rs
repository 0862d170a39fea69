//! [`ReceiveService`]: the service that hands verified deliveries to a
//! [`ReceiveDelivery`] and answers as it says.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use octohook::{Answer, ReceiveDelivery, Rejection, VerifiedDelivery};
use tower_service::Service;

/// A tower service, meant to sit behind [`VerifyWebhookLayer`](crate::VerifyWebhookLayer),
/// that hands each verified delivery to a [`ReceiveDelivery`] (a durable inbox,
/// a line writer, your own code) and answers with the [`Answer`] it gives.
///
/// The receiver decides what the sender hears: a store answers 2xx only once the
/// delivery is committed, 503 with `Retry-After` when it cannot keep it. Without
/// the layer in front, every request is answered 500
/// ([`Rejection::NotConfigured`]): the delivery was never verified.
///
/// ```
/// use axum::{Router, routing::post_service};
/// use octohook::{Answer, Verifier, WebhookSecret, receive_fn};
/// use octohook_tower::{ReceiveService, VerifyWebhookLayer};
///
/// let receiver = receive_fn(|delivery| async move {
///     println!("{} {}", delivery.guid(), delivery.event_kind());
///     Answer::ok()
/// });
/// let verifier = Verifier::new(WebhookSecret::new("s3cret").unwrap());
/// let app: Router = Router::new()
///     .route("/", post_service(ReceiveService::new(receiver)))
///     .layer(VerifyWebhookLayer::new(verifier));
/// ```
#[derive(Debug)]
pub struct ReceiveService<R> {
    receiver: Arc<R>,
}

impl<R: ReceiveDelivery> ReceiveService<R> {
    /// Hands deliveries to `receiver`.
    pub fn new(receiver: R) -> Self {
        Self {
            receiver: Arc::new(receiver),
        }
    }

    /// The receiver.
    pub fn receiver(&self) -> &R {
        &self.receiver
    }
}

// Not derived: the receiver is shared, so `R` need not be `Clone`.
impl<R> Clone for ReceiveService<R> {
    fn clone(&self) -> Self {
        Self {
            receiver: Arc::clone(&self.receiver),
        }
    }
}

impl<R: ReceiveDelivery, B> Service<Request<B>> for ReceiveService<R> {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let receiver = Arc::clone(&self.receiver);
        // The body was read (and verified) by the layer; only the parts remain.
        let (mut parts, _) = request.into_parts();
        Box::pin(async move {
            let answer = match parts.extensions.remove::<VerifiedDelivery>() {
                Some(delivery) => receiver.receive(delivery).await,
                None => Answer::from(&Rejection::NotConfigured),
            };
            Ok(answer.into_response())
        })
    }
}
