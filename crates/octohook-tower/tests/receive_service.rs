//! `ReceiveService` on a real axum server on 127.0.0.1: it answers what its
//! receiver answers, only after the receiver has answered, and refuses what the
//! layer did not verify.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::post_service;
use http::StatusCode;
use octohook::{Answer, ReceiveDelivery, Rejection, Verifier, WebhookSecret, receive_fn};
use octohook_test_battery::{SECRET, TestDelivery};
use octohook_tower::{ReceiveService, VerifyWebhookLayer};

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

fn verified_route(receiver: impl ReceiveDelivery) -> Router {
    Router::new()
        .route("/", post_service(ReceiveService::new(receiver)))
        .layer(VerifyWebhookLayer::new(Verifier::new(
            WebhookSecret::new(SECRET).unwrap(),
        )))
}

/// What a receiver saw of each delivery: its GUID and the raw headers it was
/// handed, as `name: value` lines.
type Seen = Arc<Mutex<Vec<(String, Vec<String>)>>>;

fn recording(answer: Answer) -> (Seen, impl ReceiveDelivery) {
    let seen = Seen::default();
    let log = Arc::clone(&seen);
    let receiver = receive_fn(move |delivery| {
        let headers = delivery
            .raw_headers()
            .iter()
            .map(|(name, value)| format!("{name}: {value}"))
            .collect();
        log.lock()
            .unwrap()
            .push((delivery.guid().to_string(), headers));
        // As a store does, it keeps only payloads that are JSON objects.
        let answer = match delivery.check_payload() {
            Ok(()) => answer.clone(),
            Err(error) => Answer::from(&Rejection::from(error)),
        };
        async move { answer }
    });
    (seen, receiver)
}

async fn post(address: SocketAddr, delivery: &TestDelivery) -> reqwest::Response {
    let client = octohook_test_battery::http_client();
    let mut request = client
        .post(format!("http://{address}/"))
        .body(delivery.body().to_vec());
    for (name, value) in delivery.headers() {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_200_once_the_receiver_has_the_delivery_with_its_headers() {
    let (seen, receiver) = recording(Answer::ok());
    let address = serve(verified_route(receiver)).await;
    let delivery = TestDelivery::json("push", br#"{"after":"abc"}"#.to_vec())
        .with_header("x-github-hook-id", "42")
        .with_header("cookie", "session=not-for-the-store");
    let response = post(address, &delivery).await;
    assert_eq!(response.status(), StatusCode::OK);
    // The answer came from the receiver, so the receiver has run by now.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (guid, headers) = &seen[0];
    assert_eq!(guid, delivery.guid());
    assert!(
        headers.contains(&"x-github-event: push".to_owned()),
        "{headers:?}"
    );
    assert!(
        headers.contains(&"x-github-hook-id: 42".to_owned()),
        "{headers:?}"
    );
    assert!(
        headers.iter().all(|line| !line.starts_with("cookie")),
        "only GitHub's headers travel: {headers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receivers_503_and_retry_after_reach_the_sender() {
    let busy =
        Answer::new(StatusCode::SERVICE_UNAVAILABLE, "the store is down\n").with_retry_after(7);
    let (seen, receiver) = recording(busy);
    let address = serve(verified_route(receiver)).await;
    let response = post(address, &TestDelivery::json("ping", b"{}".to_vec())).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(response.headers()["content-type"], Answer::CONTENT_TYPE);
    assert_eq!(response.text().await.unwrap(), "the store is down\n");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_deliveries_never_reach_the_receiver() {
    let (seen, receiver) = recording(Answer::ok());
    let address = serve(verified_route(receiver)).await;
    let forged = TestDelivery::json("push", br#"{"zen":"forged"}"#.to_vec()).tampered();
    assert_eq!(
        post(address, &forged).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_layer_every_request_is_a_server_error() {
    let (seen, receiver) = recording(Answer::ok());
    let app = Router::new().route("/", post_service(ReceiveService::new(receiver)));
    let address = serve(app).await;
    let response = post(address, &TestDelivery::json("push", b"{}".to_vec())).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_passes_the_battery() {
    let (_seen, receiver) = recording(Answer::ok());
    let address = serve(verified_route(receiver)).await;
    let failures = octohook_test_battery::run(address, "/").await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
