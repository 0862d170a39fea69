//! Run with: cargo run -p example-axum-receiver
//!
//! An axum service that receives GitHub webhook deliveries on `/`, verifies them
//! with `octohook-tower`'s layer, and prints each accepted one as a JSON line on
//! standard output, exactly as `octohook serve --out` writes them:
//!
//! ```text
//! {"received_at":"…","delivery":"…","hook_id":42,"event":"issues","action":"opened","target":{…},"origin":"pushed","payload":{…}}
//! ```
//!
//! It reads:
//! - `GITHUB_WEBHOOK_SECRET`: the hook's secret;
//! - `OCTOHOOK_BIND` (optional): the address to listen on, `127.0.0.1:3000` by
//!   default (port 0 picks a free one);
//! - `RUST_LOG` (optional): log filter for standard error, `warn` by default, so
//!   rejected deliveries are logged.
//!
//! It runs on `octohook_server::serve`, the hardened server of `octohook
//! serve`: 10 seconds to send a request head, then the body (408 after that),
//! idle connections closed after 10 seconds, and a graceful shutdown on Ctrl-C
//! or SIGTERM. (`axum::serve` has no timeout for the request head.)

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use example_support::ReceiverEnv;
use octohook::{DeliveryRecord, Verifier};
use octohook_server::{ServerConfig, serve, shutdown_signal};
use octohook_tower::VerifyWebhookLayer;
use octohook_tower::extract::{Verified, WebhookRejection};

/// How long a client has to send a delivery's body.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

async fn accept(Verified(delivery): Verified) -> Result<StatusCode, WebhookRejection> {
    // The line embeds the payload as it is: this one pass checks that it is a
    // JSON object (400 if not), since nothing here deserialises it.
    delivery.check_payload()?;
    let mut out = std::io::stdout().lock();
    let written = DeliveryRecord::new(&delivery, SystemTime::now())
        .write_line(&mut out)
        .and_then(|()| out.flush());
    Ok(match written {
        Ok(()) => StatusCode::OK,
        // GitHub redelivers on a 5xx: better than losing the delivery.
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let ReceiverEnv { secret, bind } = ReceiverEnv::init();
    let app = Router::new()
        .route("/", post(accept))
        .layer(VerifyWebhookLayer::new(Verifier::new(secret)).with_read_timeout(READ_TIMEOUT));
    let listener = match tokio::net::TcpListener::bind(bind).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on {bind}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(address) => eprintln!("listening on http://{address}/"),
        Err(error) => eprintln!("listening (address unknown: {error})"),
    }
    let config = ServerConfig::default().with_read_timeout(READ_TIMEOUT);
    serve(listener, app, &config, shutdown_signal()).await;
    ExitCode::SUCCESS
}
