//! Run with: GITHUB_WEBHOOK_SECRET=… cargo run -p example-actix-inbox
//!
//! The actix-web twin of `example-axum-inbox`: each verified delivery is stored
//! once per (hook, GUID) in a SQLite inbox and answered 200 only after the commit
//! (503 when it cannot be stored, 200 to a duplicate); workers then run a typed
//! `Dispatcher` on it, with leases, retries and dead letters. The handler prints
//! one JSON line per processed delivery, as `octohook serve --out` does.
//!
//! actix-web's own server already bounds what a client controls: 10 s for the
//! request head (`client_request_timeout`), an idle keep-alive timeout, and the
//! middleware's 10 s for the body; it stops gracefully on Ctrl-C or SIGTERM,
//! after which the workers drain.
//!
//! It reads `GITHUB_WEBHOOK_SECRET`, `OCTOHOOK_BIND` (default `127.0.0.1:3000`),
//! `OCTOHOOK_DB` (default `./octohook-inbox.db`), `OCTOHOOK_READ_TIMEOUT_SECS`
//! (default 10, what GitHub waits) and `RUST_LOG` (default `warn`).

use std::time::Duration;

use actix_web::{App, HttpServer, web};
use octohook::{Dispatcher, Verifier, WebhookSecret};
use octohook_actix::{VerifyWebhook, WebhookConfig, store_delivery};
use octohook_inbox::handlers::{Dispatch, JsonLines};
use octohook_inbox::{Attempt, Inbox, SqliteStore, WorkerConfig};

#[actix_web::main]
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
    // Each stored delivery is verified again before the dispatcher sees it.
    let processing = inbox.process(
        Dispatch::new(dispatcher, Verifier::new(secret.clone())),
        2,
        workers,
    );

    let config = WebhookConfig::new()
        .secret(secret)
        .read_timeout(read_timeout);
    let server = HttpServer::new(move || {
        App::new().service(
            web::resource("/")
                .wrap(VerifyWebhook::new(config.clone()))
                .route(store_delivery(inbox.clone())),
        )
    })
    .client_request_timeout(read_timeout)
    .keep_alive(read_timeout)
    .bind(bind)?;
    eprintln!("listening on http://{}/", server.addrs()[0]);
    server.run().await?;
    processing.drain(Duration::from_secs(30)).await;
    Ok(())
}
