//! A one-worker actix-web server for the loopback benchmark (`benches/actix-loopback`).
//!
//! Run with: cargo run --release -p octohook-actix --example loopback-server -- MODE [ADDRESS]
//!
//! `MODE` is how deliveries on `/` are handled, each answering an empty 200:
//! - `plain`: no verification, the handler reads the body (`web::Bytes`);
//! - `middleware`: [`VerifyWebhook`] wraps the resource, the handler takes `Verified`;
//! - `extractor`: the `Verified` extractor verifies with the app's `VerifyConfig`.
//!
//! `ADDRESS` defaults to 127.0.0.1:3000; the secret is `GITHUB_WEBHOOK_SECRET`.

use actix_web::{App, HttpResponse, HttpServer, web};
use octohook::{Verifier, WebhookSecret};
use octohook_actix::extract::Verified;
use octohook_actix::{VerifyConfig, VerifyWebhook};

async fn plain(body: web::Bytes) -> HttpResponse {
    std::hint::black_box(body);
    HttpResponse::Ok().finish()
}

async fn verified(Verified(delivery): Verified) -> HttpResponse {
    std::hint::black_box(delivery);
    HttpResponse::Ok().finish()
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let address = args.next().unwrap_or_else(|| "127.0.0.1:3000".into());
    let secret = std::env::var("GITHUB_WEBHOOK_SECRET")
        .ok()
        .and_then(|secret| WebhookSecret::new(secret).ok())
        .ok_or_else(|| std::io::Error::other("set GITHUB_WEBHOOK_SECRET"))?;
    let verifier = Verifier::new(secret);
    if !["plain", "middleware", "extractor"].contains(&mode.as_str()) {
        return Err(std::io::Error::other(
            "MODE must be plain, middleware or extractor",
        ));
    }
    // One worker, the app built inline per mode, so `plain` has no middleware at all.
    macro_rules! serve {
        ($app:expr) => {{
            let server = HttpServer::new($app).workers(1).bind(&address)?;
            for address in server.addrs() {
                eprintln!("listening on http://{address}/");
            }
            server.run().await
        }};
    }
    actix_web::rt::System::new().block_on(async move {
        match mode.as_str() {
            "plain" => serve!(|| App::new().route("/", web::post().to(plain))),
            "middleware" => serve!(move || {
                App::new().service(
                    web::resource("/")
                        .wrap(VerifyWebhook::new(verifier.clone()))
                        .route(web::post().to(verified)),
                )
            }),
            _ => serve!(move || {
                App::new()
                    .app_data(VerifyConfig::new(verifier.clone()))
                    .route("/", web::post().to(verified))
            }),
        }
    })
}
