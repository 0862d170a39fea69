//! Verify GitHub webhook deliveries in actix-web, as their bodies stream in.
//!
//! Two ways in, which behave alike (and like `octohook-tower`: same checks, same
//! statuses, same short `text/plain` rejections, all from the core's
//! [`Rejection`], answered through [`answer_response`]):
//!
//! - [`VerifyWebhook`], a middleware: wrap an app, scope or resource and no handler
//!   in it runs for a delivery that fails verification. Handlers read the delivery
//!   with the [`extract::Verified`] and [`extract::WebhookPayload`] extractors, or
//!   hand it to any [`ReceiveDelivery`](octohook::ReceiveDelivery) with the
//!   [`receive`] route.
//! - The same extractors alone: they verify the payload themselves with the
//!   [`VerifyConfig`] registered as app data.
//!
//! Either way the headers and the announced `Content-Length` are checked before any
//! of the body is read (413 at once for an oversized one), and the HMAC is fed as
//! the body streams in, which stops at the body limit (25 MiB by default, GitHub's
//! cap). Rejections are logged with `tracing` through a
//! [`RejectionLog`](octohook::RejectionLog) (status, reason, the delivery GUID
//! when valid, the event name cut and escaped; 10 lines per second by default,
//! then one line counting the rest), never with a secret.
//!
//! ```
//! use actix_web::{App, HttpServer, web};
//! use octohook::{Verifier, WebhookSecret};
//! use octohook_actix::VerifyWebhook;
//! use octohook_actix::extract::Verified;
//!
//! async fn handle(Verified(delivery): Verified) -> String {
//!     format!("{} {}", delivery.event_kind(), delivery.guid())
//! }
//!
//! fn app() -> App<
//!     impl actix_web::dev::ServiceFactory<
//!         actix_web::dev::ServiceRequest,
//!         Config = (),
//!         Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
//!         Error = actix_web::Error,
//!         InitError = (),
//!     >,
//! > {
//!     let secret = std::env::var("GITHUB_WEBHOOK_SECRET").unwrap_or("s3cret".into());
//!     let verifier = Verifier::new(WebhookSecret::new(secret).unwrap());
//!     App::new().service(
//!         web::resource("/").wrap(VerifyWebhook::new(verifier)).route(web::post().to(handle)),
//!     )
//! }
//!
//! # fn main() -> std::io::Result<()> {
//! let server = HttpServer::new(app).bind(("127.0.0.1", 0))?;
//! # drop(server);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod extract;
mod headers;
mod middleware;
mod receive;
mod rejection;
mod verify_config;
mod verify_payload;

pub use middleware::{VerifyWebhook, VerifyWebhookFuture, VerifyWebhookMiddleware};
pub use receive::receive;
pub use rejection::{Rejection, WebhookRejection, answer_response};
pub use verify_config::VerifyConfig;
pub use verify_payload::VerifyPayload;

/// The README's examples, compiled as doctests so they stay true.
#[cfg(all(doctest, feature = "events"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
