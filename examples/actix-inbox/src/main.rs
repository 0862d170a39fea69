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
use example_support::{InboxEnv, print_deliveries};
use octohook_actix::{VerifyConfig, VerifyWebhook, receive};
use octohook_inbox::{Inbox, SqliteStore};

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = InboxEnv::init();
    let inbox = Inbox::new(SqliteStore::open(env.db).await?);
    let processing = print_deliveries(&inbox, env.verifier.clone());

    let config = VerifyConfig::new(env.verifier).with_read_timeout(env.read_timeout);
    let server = HttpServer::new(move || {
        App::new().service(
            web::resource("/")
                .wrap(VerifyWebhook::new(config.clone()))
                .route(receive(inbox.clone())),
        )
    })
    .client_request_timeout(env.read_timeout)
    .keep_alive(env.read_timeout)
    .bind(env.bind)?;
    eprintln!("listening on http://{}/", server.addrs()[0]);
    server.run().await?;
    processing.drain(Duration::from_secs(30)).await;
    Ok(())
}
