//! [`receive`]: the route that hands verified deliveries to a
//! [`ReceiveDelivery`] and answers as it says.

use std::sync::Arc;

use actix_web::{Route, web};
use octohook::ReceiveDelivery;

use crate::answer_response;
use crate::extract::Verified;

/// A `POST` route that hands each verified delivery to `receiver` (a durable
/// inbox, a line writer, your own code) and answers with the
/// [`Answer`](octohook::Answer) it gives, once it has given it: a store answers
/// 2xx only once the delivery is committed, 503 with `Retry-After` when it
/// cannot keep it.
///
/// Behind the [`VerifyWebhook`](crate::VerifyWebhook) middleware it reads the
/// delivery the middleware verified; alone, it verifies it with the
/// [`VerifyConfig`](crate::VerifyConfig) registered as app data (and answers 500
/// without one).
///
/// ```
/// use actix_web::{App, web};
/// use octohook::{Answer, Verifier, WebhookSecret, receive_fn};
/// use octohook_actix::{VerifyWebhook, receive};
///
/// let receiver = receive_fn(|delivery| async move {
///     println!("{} {}", delivery.guid(), delivery.event_kind());
///     Answer::ok()
/// });
/// let verifier = Verifier::new(WebhookSecret::new("s3cret").unwrap());
/// let app = App::new().service(
///     web::resource("/")
///         .wrap(VerifyWebhook::new(verifier))
///         .route(receive(receiver)),
/// );
/// ```
pub fn receive(receiver: impl ReceiveDelivery) -> Route {
    let receiver = Arc::new(receiver);
    web::post().to(move |Verified(delivery): Verified| {
        let receiver = Arc::clone(&receiver);
        async move { answer_response(receiver.receive(delivery).await) }
    })
}
