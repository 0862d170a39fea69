//! Run with: cargo run -p example-actix-receiver
//!
//! An actix-web service that receives GitHub webhook deliveries on `/`, verifies
//! them with `octohook-actix`'s middleware, and prints each accepted one as a JSON
//! line on standard output, exactly as `octohook serve --out` writes them:
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
//! Slow clients are cut off after 10 seconds (GitHub gives up after 10 seconds
//! anyway): actix-web answers 408 to a request head not received in time
//! (`client_request_timeout`) and closes connections idle that long
//! (`keep_alive`); the middleware answers 408 to a body not received in time
//! (`VerifyConfig::with_read_timeout`).

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use actix_web::{App, HttpResponse, HttpServer, web};
use example_support::ReceiverEnv;
use octohook::{Answer, DeliveryRecord, Rejection, Verifier};
use octohook_actix::extract::Verified;
use octohook_actix::{VerifyConfig, VerifyWebhook, answer_response};

/// How long a client has to send a request head, then its body; and how long an
/// idle connection stays open.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

async fn accept(Verified(delivery): Verified) -> HttpResponse {
    // The line embeds the payload as it is: this one pass checks that it is a
    // JSON object (400 if not), since nothing here deserialises it.
    if let Err(error) = delivery.check_payload() {
        return answer_response(Answer::from(&Rejection::from(error)));
    }
    let mut out = std::io::stdout().lock();
    let written = DeliveryRecord::new(&delivery, SystemTime::now())
        .write_line(&mut out)
        .and_then(|()| out.flush());
    match written {
        Ok(()) => HttpResponse::Ok().finish(),
        // GitHub redelivers on a 5xx: better than losing the delivery.
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

#[actix_web::main]
async fn main() -> ExitCode {
    let ReceiverEnv { secret, bind } = ReceiverEnv::init();
    let config = VerifyConfig::new(Verifier::new(secret)).with_read_timeout(READ_TIMEOUT);
    let server = HttpServer::new(move || {
        App::new().service(
            web::resource("/")
                .wrap(VerifyWebhook::new(config.clone()))
                .route(web::post().to(accept)),
        )
    })
    .client_request_timeout(READ_TIMEOUT)
    .keep_alive(READ_TIMEOUT)
    .bind(bind);
    let server = match server {
        Ok(server) => server,
        Err(error) => {
            eprintln!("cannot listen on {bind}: {error}");
            return ExitCode::FAILURE;
        }
    };
    for address in server.addrs() {
        eprintln!("listening on http://{address}/");
    }
    match server.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("server failed: {error}");
            ExitCode::FAILURE
        }
    }
}
