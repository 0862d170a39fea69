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
//! {"received_at":"…","delivery":"…","hook_id":42,"event":"issues","action":"opened","target":{…},"origin":"pushed","payload":{…}}
//! ```
//!
//! It reads `GITHUB_WEBHOOK_SECRET`, `OCTOHOOK_BIND` (default `127.0.0.1:3000`),
//! `OCTOHOOK_DB` (default `./octohook-inbox.db`), `OCTOHOOK_READ_TIMEOUT_SECS`
//! (default 10, what GitHub waits) and `RUST_LOG` (default `warn`).

use std::time::Duration;

use axum::{Router, routing::post_service};
use example_support::{InboxEnv, print_deliveries};
use octohook_inbox::{Inbox, SqliteStore};
use octohook_server::{ServerConfig, serve, shutdown_signal};
use octohook_tower::{ReceiveService, VerifyWebhookLayer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = InboxEnv::init();
    let inbox = Inbox::new(SqliteStore::open(env.db).await?);
    let processing = print_deliveries(&inbox, env.verifier.clone());

    let config = ServerConfig::default().with_read_timeout(env.read_timeout);
    let verify = VerifyWebhookLayer::new(env.verifier).with_read_timeout(config.read_timeout());
    let app = Router::new()
        .route("/", post_service(ReceiveService::new(inbox)))
        .layer(verify);
    let listener = tokio::net::TcpListener::bind(env.bind).await?;
    eprintln!("listening on http://{}/", listener.local_addr()?);
    serve(listener, app, &config, shutdown_signal()).await;
    processing.drain(Duration::from_secs(30)).await;
    Ok(())
}
