//! Run with: cargo run -p example-axum-receiver
//!
//! An axum service that receives GitHub webhook deliveries on `/`, verifies them
//! with `octohook-tower`'s layer, and prints each accepted one as a JSON line on
//! standard output, exactly as `octohook serve --out` writes them:
//!
//! ```text
//! {"received_at":"…","delivery":"…","hook_id":42,"event":"issues","action":"opened","target":{…},"payload":{…}}
//! ```
//!
//! It reads:
//! - `GITHUB_WEBHOOK_SECRET`: the hook's secret;
//! - `OCTOHOOK_BIND` (optional): the address to listen on, `127.0.0.1:3000` by
//!   default (port 0 picks a free one);
//! - `RUST_LOG` (optional): log filter for standard error, `warn` by default, so
//!   rejected deliveries are logged.
//!
//! A body that has not fully arrived 10 seconds after the layer starts reading it
//! is answered 408 (GitHub gives up after 10 seconds anyway). `axum::serve` has no
//! timeout for the request head, though: a client may trickle its head, or connect
//! and send nothing, for as long as it likes. Before exposing a receiver, serve it
//! with hyper's own connection builder and a timer, as `octohook serve` does:
//!
//! ```text
//! let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
//! builder.http1().timer(TokioTimer::new()).header_read_timeout(READ_TIMEOUT);
//! // For each accepted stream:
//! builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone())).await
//! ```
//!
//! (hyper-util's features `server-auto`, `tokio` and `service`; its automatic
//! protocol detection waits for the first bytes without a timeout, so either time
//! that wait too or use `http1_only()`.)

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use octohook::{DeliveryRecord, Verifier, WebhookSecret};
use octohook_tower::VerifyWebhookLayer;
use octohook_tower::extract::Webhook;

/// How long a client has to send a delivery's body.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

async fn accept(Webhook(delivery): Webhook) -> StatusCode {
    let mut out = std::io::stdout().lock();
    let written = DeliveryRecord::new(&delivery, SystemTime::now())
        .write_line(&mut out)
        .and_then(|()| out.flush());
    match written {
        Ok(()) => StatusCode::OK,
        // GitHub redelivers on a 5xx: better than losing the delivery.
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let secret = match std::env::var("GITHUB_WEBHOOK_SECRET").map(WebhookSecret::new) {
        Ok(Ok(secret)) => secret,
        _ => {
            eprintln!("set GITHUB_WEBHOOK_SECRET to the hook's (non-empty) secret");
            return ExitCode::FAILURE;
        }
    };
    let bind = std::env::var("OCTOHOOK_BIND").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let Ok(bind) = bind.parse::<SocketAddr>() else {
        eprintln!("OCTOHOOK_BIND is not a socket address: {bind}");
        return ExitCode::FAILURE;
    };

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
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("server failed: {error}");
            ExitCode::FAILURE
        }
    }
}
