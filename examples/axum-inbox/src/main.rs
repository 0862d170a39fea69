//! Run with: GITHUB_WEBHOOK_SECRET=… cargo run -p example-axum-inbox
//!
//! An axum service with everything `octohook serve` has: each verified delivery
//! is stored once per (hook, GUID) in a SQLite inbox and answered 200 only after
//! the commit (503 when it cannot be stored, 200 to a duplicate); workers then
//! run a typed `Dispatcher` on it, with leases, retries and dead letters, and
//! the hardened server stops gracefully on Ctrl-C or SIGTERM. The handler prints
//! one JSON line per processed delivery, as `octohook serve --out` does:
//!
//! ```text
//! {"received_at":"…","delivery":"…","hook_id":42,"event":"issues","action":"opened","target":{…},"payload":{…}}
//! ```
//!
//! It reads `GITHUB_WEBHOOK_SECRET`, `OCTOHOOK_BIND` (default `127.0.0.1:3000`),
//! `OCTOHOOK_DB` (default `./octohook-inbox.db`), `OCTOHOOK_READ_TIMEOUT_SECS`
//! (default 10, what GitHub waits) and `RUST_LOG` (default `warn`).

use std::time::Duration;

use axum::{Router, routing::post_service};
use octohook::{Dispatcher, Verifier, WebhookSecret};
use octohook_inbox::handlers::{Dispatch, JsonLines};
use octohook_inbox::{Attempt, Inbox, SqliteStore, WorkerConfig};
use octohook_server::{ServerConfig, serve, shutdown_signal};
use octohook_tower::{StoreDelivery, VerifyWebhookLayer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let secret = WebhookSecret::new(std::env::var("GITHUB_WEBHOOK_SECRET")?)?;
    let bind = std::env::var("OCTOHOOK_BIND").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let db = std::env::var("OCTOHOOK_DB").unwrap_or_else(|_| "./octohook-inbox.db".into());
    let read_timeout = std::env::var("OCTOHOOK_READ_TIMEOUT_SECS")
        .ok()
        .and_then(|secs| secs.parse().ok());
    let read_timeout = Duration::from_secs(read_timeout.unwrap_or(10));

    let inbox = Inbox::new(SqliteStore::open(db).await?);
    let lines = JsonLines::stdout();
    let dispatcher = Dispatcher::new().on_any(move |event| {
        let lines = lines.clone();
        // Run by a worker: the attempt knows when the delivery was received.
        let received_at = Attempt::current().map(|attempt| attempt.received_at());
        async move {
            lines
                .write(
                    event.delivery(),
                    received_at.unwrap_or_else(std::time::SystemTime::now),
                )
                .await
        }
    });
    // After a crash, a delivery being handled is taken up again once its lease expires.
    let workers = WorkerConfig::for_this_process().lease(Duration::from_secs(10));
    let processing = inbox.process(Dispatch::new(dispatcher), 2, workers);

    let config = ServerConfig::default().with_read_timeout(read_timeout);
    let verify =
        VerifyWebhookLayer::new(Verifier::new(secret)).with_read_timeout(config.read_timeout());
    let app = Router::new()
        .route("/", post_service(StoreDelivery::new(inbox)))
        .layer(verify);
    let listener = tokio::net::TcpListener::bind(bind).await?;
    eprintln!("listening on http://{}/", listener.local_addr()?);
    serve(listener, app, &config, shutdown_signal()).await;
    processing.drain(Duration::from_secs(30)).await;
    Ok(())
}
