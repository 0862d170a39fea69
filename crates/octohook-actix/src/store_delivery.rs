//! [`store_delivery`]: the route that stores verified deliveries in an inbox
//! (feature `inbox`).

use actix_web::http::StatusCode;
use actix_web::http::header::{ContentType, RETRY_AFTER};
use actix_web::{HttpResponse, Route, web};
use octohook_inbox::Inbox;

use crate::extract::Webhook;

/// A `POST` route that stores each verified delivery once per (hook, GUID) in
/// `inbox` and answers as its [`Receipt`](octohook_inbox::Receipt) says: 200 once
/// the delivery is committed (or was stored before), 503 with `Retry-After` when
/// the store cannot commit it (down, read-only, full), never a 2xx before the commit nor a 503 after one.
///
/// Behind the [`VerifyWebhook`](crate::VerifyWebhook) middleware it reads the
/// delivery the middleware verified; alone, it verifies it with the
/// [`WebhookConfig`](crate::WebhookConfig) registered as app data. Workers
/// started with [`Inbox::process`] then run the handlers.
///
/// ```
/// use actix_web::{App, web};
/// use octohook::{Verifier, WebhookSecret};
/// use octohook_actix::{VerifyWebhook, store_delivery};
/// use octohook_inbox::Inbox;
///
/// let verifier = Verifier::new(WebhookSecret::new("s3cret").unwrap());
/// let inbox = Inbox::in_memory();
/// let app = App::new().service(
///     web::resource("/")
///         .wrap(VerifyWebhook::new(verifier))
///         .route(store_delivery(inbox.clone())),
/// );
/// ```
pub fn store_delivery(inbox: Inbox) -> Route {
    web::post().to(move |Webhook(delivery): Webhook| {
        let inbox = inbox.clone();
        async move {
            let answer = inbox.receive(delivery).await.answer();
            let status = StatusCode::from_u16(answer.status().as_u16())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = HttpResponse::build(status);
            if let Some(seconds) = answer.retry_after_secs() {
                response.insert_header((RETRY_AFTER, seconds));
            }
            if answer.body().is_empty() {
                response.finish()
            } else {
                response
                    .content_type(ContentType::plaintext())
                    .body(answer.body().to_owned())
            }
        }
    })
}
