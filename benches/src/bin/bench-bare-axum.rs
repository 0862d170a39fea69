//! Bench fixture: an axum server whose `POST /` reads the whole body and answers
//! 200, verifying nothing. The floor the verifying servers are compared with in
//! `benches/compare/e2e`; command line and environment in
//! [`octohook_benches::loopback`].

use std::process::ExitCode;

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;

async fn accept(_body: Bytes) -> StatusCode {
    StatusCode::OK
}

fn main() -> ExitCode {
    octohook_benches::loopback::serve(|_secret| Ok(Router::new().route("/", post(accept))))
}
