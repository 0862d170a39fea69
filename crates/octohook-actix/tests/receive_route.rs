//! The `receive` route on a real actix-web server on 127.0.0.1: it answers what
//! its receiver answers, only after the receiver has answered, and refuses what
//! was not verified.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpServer, web};
use http::StatusCode;
use octohook::{Answer, ReceiveDelivery, Rejection, Verifier, WebhookSecret, receive_fn};
use octohook_actix::{VerifyConfig, VerifyWebhook, receive};
use octohook_inbox::{DeliveryStore, Inbox, MemoryStore};
use octohook_test_battery::{SECRET, TestDelivery};

fn verifier() -> Verifier {
    Verifier::new(WebhookSecret::new(SECRET).unwrap())
}

/// Runs an app configured by `configure` on a free port of 127.0.0.1.
fn serve(configure: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static) -> SocketAddr {
    let server = HttpServer::new(move || App::new().configure(configure.clone()))
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
    let address = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    address
}

/// `/middleware` behind `VerifyWebhook`, `/standalone` verified by the route's
/// extractor with the app data's configuration, `/unverified` with neither.
fn serve_receiver<R: ReceiveDelivery + Clone>(receiver: R) -> SocketAddr {
    serve(move |config| {
        config
            .service(
                web::resource("/middleware")
                    .wrap(VerifyWebhook::new(verifier()))
                    .route(receive(receiver.clone())),
            )
            .service(
                web::resource("/standalone")
                    .app_data(VerifyConfig::new(verifier()))
                    .route(receive(receiver.clone())),
            )
            .service(web::resource("/unverified").route(receive(receiver.clone())));
    })
}

/// What a receiver saw of each delivery: its GUID and the raw headers it was
/// handed, as `name: value` lines.
type Seen = Arc<Mutex<Vec<(String, Vec<String>)>>>;

fn recording(answer: Answer) -> (Seen, impl ReceiveDelivery + Clone) {
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

async fn post(address: SocketAddr, path: &str, delivery: &TestDelivery) -> reqwest::Response {
    let client = octohook_test_battery::http_client();
    let mut request = client
        .post(format!("http://{address}{path}"))
        .body(delivery.body().to_vec());
    for (name, value) in delivery.headers() {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

#[actix_web::test]
async fn answers_200_once_the_receiver_has_the_delivery_with_its_headers() {
    let (seen, receiver) = recording(Answer::ok());
    let address = serve_receiver(receiver);
    for path in ["/middleware", "/standalone"] {
        let delivery = TestDelivery::json("push", br#"{"after":"abc"}"#.to_vec())
            .with_header("x-github-hook-id", "42")
            .with_header("cookie", "session=not-for-the-store");
        let response = post(address, path, &delivery).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        // The answer came from the receiver, so the receiver has run by now.
        let (guid, headers) = seen.lock().unwrap().pop().expect("received");
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
}

#[actix_web::test]
async fn the_receivers_503_and_retry_after_reach_the_sender() {
    let busy =
        Answer::new(StatusCode::SERVICE_UNAVAILABLE, "the store is down\n").with_retry_after(7);
    let (seen, receiver) = recording(busy);
    let address = serve_receiver(receiver);
    let response = post(
        address,
        "/middleware",
        &TestDelivery::json("ping", b"{}".to_vec()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(response.headers()["content-type"], Answer::CONTENT_TYPE);
    assert_eq!(response.text().await.unwrap(), "the store is down\n");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[actix_web::test]
async fn rejected_and_unverified_deliveries_never_reach_the_receiver() {
    let (seen, receiver) = recording(Answer::ok());
    let address = serve_receiver(receiver);
    let forged = TestDelivery::json("push", br#"{"zen":"forged"}"#.to_vec()).tampered();
    for path in ["/middleware", "/standalone"] {
        assert_eq!(post(address, path, &forged).await.status(), 401, "{path}");
    }
    let signed = TestDelivery::json("push", b"{}".to_vec());
    assert_eq!(post(address, "/unverified", &signed).await.status(), 500);
    assert!(seen.lock().unwrap().is_empty());
}

#[actix_web::test]
async fn the_route_passes_the_battery() {
    let (_seen, receiver) = recording(Answer::ok());
    let address = serve_receiver(receiver);
    let failures = octohook_test_battery::run(address, "/middleware").await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `inbox` as a receiver, answering as its receipt says.
// TODO(merge): Inbox implements ReceiveDelivery; pass the inbox itself.
fn inbox_receiver(inbox: Inbox) -> impl ReceiveDelivery + Clone {
    receive_fn(move |delivery| {
        let inbox = inbox.clone();
        async move {
            let headers = delivery.raw_headers().to_header_map();
            let receipt = inbox.receive(delivery, &headers).await;
            let answer = Answer::new(receipt.status(), receipt.body());
            match receipt.retry_after_secs() {
                Some(seconds) => answer.with_retry_after(seconds),
                None => answer,
            }
        }
    })
}

#[actix_web::test]
async fn over_an_inbox_the_stored_headers_stay_githubs_and_a_full_store_answers_503() {
    let store = Arc::new(MemoryStore::new());
    let address = serve_receiver(inbox_receiver(Inbox::from_shared(store.clone())));
    let failures =
        octohook_test_battery::check_stored_headers(address, "/middleware", &*store).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let full = Arc::new(MemoryStore::new().with_size_limit(1024));
    let address = serve_receiver(inbox_receiver(Inbox::from_shared(full.clone())));
    let big = TestDelivery::json(
        "push",
        format!(r#"{{"pad":"{}"}}"#, "p".repeat(4096)).into_bytes(),
    );
    let response = post(address, "/middleware", &big).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(full.counts().await.unwrap().total(), 0);
}
