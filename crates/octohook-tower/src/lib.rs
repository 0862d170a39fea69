//! Verify GitHub webhook deliveries in a tower stack, as their bodies stream in.
//!
//! [`VerifyWebhookLayer`] wraps any tower service (an axum router, a hyper
//! service): it rejects bad deliveries with a short `text/plain` response (400, 401,
//! 413 or 415, and 408 for a body slower than the
//! [read timeout](VerifyWebhookLayer::with_read_timeout)), translated from the
//! core's [`Rejection`] through an [`Answer`](octohook::Answer), and hands the
//! inner service the [`VerifiedDelivery`](octohook::VerifiedDelivery) as a
//! request extension. With the `axum` feature, [`extract`] has extractors for the
//! delivery and its payload. [`ReceiveService`] hands verified deliveries to any
//! [`ReceiveDelivery`](octohook::ReceiveDelivery) (a durable inbox, your own
//! code) and answers as it says.
//!
//! ```
//! use axum::{Router, routing::post};
//! use octohook::{Verifier, WebhookSecret};
//! use octohook_tower::VerifyWebhookLayer;
//! use octohook_tower::extract::Verified;
//!
//! async fn handle(Verified(delivery): Verified) -> String {
//!     format!("{} {}", delivery.event_kind(), delivery.guid())
//! }
//!
//! let secret = WebhookSecret::new(std::env::var("GITHUB_WEBHOOK_SECRET").unwrap_or("s3cret".into())).unwrap();
//! let app: Router = Router::new()
//!     .route("/", post(handle))
//!     .layer(VerifyWebhookLayer::new(Verifier::new(secret)));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
#[cfg(feature = "axum")]
pub mod extract;
mod future;
mod layer;
mod receive_service;
mod rejection;
mod verify_body;
mod verify_webhook_service;

pub use body::{LayerBody, RequestBody, ResponseBody};
pub use future::ResponseFuture;
pub use layer::VerifyWebhookLayer;
pub use receive_service::ReceiveService;
pub use rejection::Rejection;
pub use verify_body::VerifyBody;
pub use verify_webhook_service::VerifyWebhookService;

/// The README's examples, compiled as doctests so they stay true.
#[cfg(all(doctest, feature = "axum"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
