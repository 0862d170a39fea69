//! Bench fixture: an axum server behind `octohook_tower::VerifyWebhookLayer`,
//! whose `POST /` handler takes the verified delivery and does nothing with it
//! (200). Compared with the hand-written verifier in `benches/compare/e2e`;
//! command line and environment in [`octohook_benches::loopback`].

use std::process::ExitCode;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use octohook::{Verifier, WebhookSecret};
use octohook_tower::VerifyWebhookLayer;
use octohook_tower::extract::Verified;

async fn accept(Verified(_delivery): Verified) -> StatusCode {
    StatusCode::OK
}

fn main() -> ExitCode {
    octohook_benches::loopback::serve(|secret| {
        let verifier = Verifier::new(WebhookSecret::new(secret)?);
        Ok(Router::new()
            .route("/", post(accept))
            .layer(VerifyWebhookLayer::new(verifier)))
    })
}
