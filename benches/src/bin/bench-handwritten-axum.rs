//! Bench fixture: the verifier a user writes without octohook. An axum handler
//! takes the headers and the whole body, hex-decodes `X-Hub-Signature-256`, keys
//! an HMAC-SHA256 with the secret for each request and checks the signature with
//! `verify_slice`: 200 when it matches, 401 otherwise. The reference the tower
//! layer is compared with in `benches/compare/e2e`; command line and environment
//! in [`octohook_benches::loopback`].
//!
//! With `OCTOHOOK_BENCH_CHECK_JSON=1` it also checks, after the signature, that
//! the body is valid JSON (400 otherwise), as the layer does before any handler
//! runs: the same work as the layer, written by hand.

use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use serde::de::IgnoredAny;
use sha2::Sha256;

#[derive(Clone)]
struct Config {
    secret: Arc<[u8]>,
    check_json: bool,
}

async fn accept(State(config): State<Config>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("sha256="))
        .and_then(|hex_digest| hex::decode(hex_digest).ok());
    let Some(signature) = signature else {
        return StatusCode::UNAUTHORIZED;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&config.secret) else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    mac.update(&body);
    if mac.verify_slice(&signature).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    if config.check_json && serde_json::from_slice::<IgnoredAny>(&body).is_err() {
        return StatusCode::BAD_REQUEST;
    }
    StatusCode::OK
}

fn main() -> ExitCode {
    octohook_benches::loopback::serve(|secret| {
        let config = Config {
            secret: secret.into(),
            check_json: std::env::var_os("OCTOHOOK_BENCH_CHECK_JSON")
                .is_some_and(|value| value == "1"),
        };
        Ok(Router::new().route("/", post(accept)).with_state(config))
    })
}
