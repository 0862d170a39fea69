//! [`StoreDelivery`]: the service that stores verified deliveries in an inbox
//! (feature `inbox`).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use octohook::VerifiedDelivery;
use octohook_inbox::Inbox;
use tower_service::Service;

use crate::{Rejection, rejection_response};

/// A tower service, meant to sit behind [`VerifyWebhookLayer`](crate::VerifyWebhookLayer),
/// that stores each verified delivery once per (hook, GUID) in an [`Inbox`] and
/// answers as its [`Receipt`](octohook_inbox::Receipt) says: 200 once the
/// delivery is committed (or was stored before), 503 with `Retry-After` when the
/// store cannot commit it (down, read-only, full), never a 2xx before the commit
/// nor a 503 after one.
///
/// Workers started with [`Inbox::process`] then run the handlers. Without the
/// layer in front, every request is answered 500 (the delivery was never
/// verified).
///
/// ```
/// use axum::{Router, routing::post_service};
/// use octohook::{Verifier, WebhookSecret};
/// use octohook_inbox::Inbox;
/// use octohook_tower::{StoreDelivery, VerifyWebhookLayer};
///
/// let verifier = Verifier::new(WebhookSecret::new("s3cret").unwrap());
/// let inbox = Inbox::in_memory();
/// let app: Router = Router::new()
///     .route("/", post_service(StoreDelivery::new(inbox.clone())))
///     .layer(VerifyWebhookLayer::new(verifier));
/// ```
#[derive(Clone, Debug)]
pub struct StoreDelivery {
    inbox: Inbox,
}

impl StoreDelivery {
    /// Stores deliveries in `inbox`.
    pub fn new(inbox: Inbox) -> Self {
        Self { inbox }
    }
}

impl<B> Service<Request<B>> for StoreDelivery {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let inbox = self.inbox.clone();
        // The body was read (and verified) by the layer; only the parts remain.
        let (mut parts, _) = request.into_parts();
        Box::pin(async move {
            let Some(delivery) = parts.extensions.remove::<VerifiedDelivery>() else {
                return Ok(rejection_response(&Rejection::NotConfigured));
            };
            Ok(inbox.receive(delivery).await.answer().into_response())
        })
    }
}
