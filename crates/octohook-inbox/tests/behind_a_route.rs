//! An [`Inbox`] as the receiver of both adapters' receiving routes, on real
//! servers on 127.0.0.1 (`octohook_tower::ReceiveService` behind axum,
//! `octohook_actix::receive`): 200 only after the commit, a redelivery stored
//! once, and what a sender with one captured delivery can make a memory inbox
//! hold. Its stored headers stay GitHub's, within the cap, and its bytes within
//! the store's size limit, past which deliveries are answered 503 with
//! `Retry-After`.
//!
//! These tests live here, not in the adapters: the adapters know only
//! `octohook::ReceiveDelivery`, and do not depend on this crate.

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use axum::Router;
use axum::routing::post_service;
use octohook::{Verifier, WebhookSecret};
use octohook_actix::{VerifyWebhook, receive};
use octohook_inbox::{DeliveryStore, Inbox, MemoryStore};
use octohook_test_battery::{SECRET, TestDelivery};
use octohook_tower::{ReceiveService, VerifyWebhookLayer};

fn verifier() -> Verifier {
    Verifier::new(WebhookSecret::new(SECRET).unwrap())
}

/// Serves `ReceiveService` over `store` (no workers: every delivery stays
/// pending).
async fn serve(store: Arc<MemoryStore>) -> SocketAddr {
    let inbox = Inbox::from_shared(store);
    let app = Router::new()
        .route("/", post_service(ReceiveService::new(inbox)))
        .layer(VerifyWebhookLayer::new(verifier()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn padding_headers_are_not_stored_in_memory() {
    let store = Arc::new(MemoryStore::new());
    let address = serve(Arc::clone(&store)).await;
    let failures = octohook_test_battery::check_stored_headers(address, "/", &*store).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Each stored delivery holds its small body and GitHub's headers only.
    let held = store.held_bytes();
    assert!(held < 2 * 1024, "{held} bytes held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_size_limit_the_memory_inbox_answers_503_with_retry_after() {
    const LIMIT: u64 = 256 * 1024;
    let store = Arc::new(MemoryStore::new().with_size_limit(LIMIT));
    let address = serve(Arc::clone(&store)).await;
    let client = octohook_test_battery::http_client();
    let url = format!("http://{address}/");
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..12 {
        let body = format!(r#"{{"pad":"{}"}}"#, "p".repeat(40_000)).into_bytes();
        let delivery = TestDelivery::json("push", body);
        let mut request = client.post(&url).body(delivery.body().to_vec());
        for (name, value) in delivery.headers() {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        match response.status().as_u16() {
            200 => accepted += 1,
            503 => {
                let retry_after = response.headers().get("retry-after");
                assert!(
                    retry_after.is_some_and(|value| value.to_str().unwrap().parse::<u64>().is_ok()),
                    "503 with Retry-After {retry_after:?}"
                );
                refused += 1;
            }
            other => panic!("answered {other}"),
        }
        assert!(store.held_bytes() <= LIMIT, "{} held", store.held_bytes());
    }
    // 40 KB bodies and their headers: six fit in 256 KiB, the rest are refused.
    assert_eq!((accepted, refused), (6, 6));
    assert_eq!(store.counts().await.unwrap().pending, 6);
}

/// Serves actix's `receive` route over `store` on one worker.
fn serve_actix(store: Arc<MemoryStore>) -> SocketAddr {
    let inbox = Inbox::from_shared(store);
    let server = HttpServer::new(move || {
        App::new().service(
            web::resource("/")
                .wrap(VerifyWebhook::new(verifier()))
                .route(receive(inbox.clone())),
        )
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let address = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    address
}

#[actix_web::test]
async fn behind_actix_deliveries_are_stored_once_and_a_full_store_answers_503() {
    let client = octohook_test_battery::http_client();
    // 200 after the commit, and 200 to a redelivery without storing it again.
    let store = Arc::new(MemoryStore::new());
    let url = format!("http://{}/", serve_actix(Arc::clone(&store)));
    let delivery = TestDelivery::json("push", br#"{"after":"abc"}"#.to_vec());
    for _ in 0..2 {
        assert_eq!(delivery.send(&client, &url).await.unwrap().0, 200);
    }
    assert_eq!(store.counts().await.unwrap().total(), 1);

    let full = Arc::new(MemoryStore::new().with_size_limit(1024));
    let url = format!("http://{}/", serve_actix(Arc::clone(&full)));
    let big = TestDelivery::json(
        "push",
        format!(r#"{{"pad":"{}"}}"#, "p".repeat(4096)).into_bytes(),
    );
    assert_eq!(big.send(&client, &url).await.unwrap().0, 503);
    assert_eq!(full.counts().await.unwrap().total(), 0);
}
