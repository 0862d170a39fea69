//! The layer's read timeout, on tokio's paused clock: a body slower than the
//! timeout is answered 408 without reaching the inner service.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::channel::{Channel, Sender};
use http_body_util::{BodyExt, Full};
use octohook::{Verifier, WebhookSecret, sign};
use octohook_test_battery::SECRET;
use octohook_tower::{RequestBody, VerifyWebhookLayer};
use tokio::time::Instant;
use tower::{Layer, ServiceExt, service_fn};

const BODY: &[u8] = br#"{"zen":"Approachable is better than simple."}"#;
const TIMEOUT: Duration = Duration::from_secs(1);

fn layer() -> VerifyWebhookLayer {
    VerifyWebhookLayer::new(Verifier::new(WebhookSecret::new(SECRET).unwrap()))
}

/// A client that has sent the head; the body comes through the returned sender.
fn delivery() -> (Sender<Bytes>, Request<Channel<Bytes>>) {
    let (sender, body) = Channel::new(8);
    let secret = WebhookSecret::new(SECRET).unwrap();
    let request = Request::post("/")
        .header("x-github-event", "ping")
        .header("x-github-delivery", "d1")
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(&secret, BODY))
        .body(body)
        .unwrap();
    (sender, request)
}

/// Sends `BODY` in `pieces` chunks, `pace` apart, then ends it.
async fn send_slowly(mut sender: Sender<Bytes>, pieces: usize, pace: Duration) {
    for chunk in BODY.chunks(BODY.len().div_ceil(pieces)) {
        tokio::time::sleep(pace).await;
        if sender
            .send_data(Bytes::copy_from_slice(chunk))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Calls the layer around a service that echoes the verified body.
async fn call(layer: VerifyWebhookLayer, request: Request<Channel<Bytes>>) -> (StatusCode, String) {
    let echo = service_fn(|request: Request<RequestBody<Channel<Bytes>>>| async move {
        let body = request.into_body().collect().await.unwrap().to_bytes();
        Ok::<_, Infallible>(Response::new(Full::new(body)))
    });
    let response = layer.layer(echo).oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test(start_paused = true)]
async fn a_stalled_body_is_answered_408_when_the_timeout_passes() {
    let (mut sender, request) = delivery();
    sender
        .send_data(Bytes::from_static(&BODY[..10]))
        .await
        .unwrap();
    let started = Instant::now();
    let (status, text) = call(layer().with_read_timeout(TIMEOUT), request).await;
    assert_eq!(started.elapsed(), TIMEOUT);
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(text, "the request body did not arrive within 1s\n");
    drop(sender);
}

#[tokio::test(start_paused = true)]
async fn a_body_arriving_within_the_timeout_is_verified() {
    let (sender, request) = delivery();
    tokio::spawn(send_slowly(sender, 3, Duration::from_millis(300)));
    let (status, text) = call(layer().with_read_timeout(TIMEOUT), request).await;
    assert_eq!((status, text.as_bytes()), (StatusCode::OK, BODY));
}

#[tokio::test(start_paused = true)]
async fn the_timeout_runs_from_the_start_of_the_body_not_between_chunks() {
    let (sender, request) = delivery();
    // No gap reaches the timeout, but the whole body takes 1.5 s.
    tokio::spawn(send_slowly(sender, 5, Duration::from_millis(300)));
    let started = Instant::now();
    let (status, _) = call(layer().with_read_timeout(TIMEOUT), request).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(started.elapsed(), TIMEOUT);
}

#[tokio::test(start_paused = true)]
async fn without_a_timeout_the_layer_waits_for_the_body() {
    assert_eq!(layer().read_timeout(), None);
    let (sender, request) = delivery();
    let waited = tokio::time::timeout(Duration::from_secs(3600), call(layer(), request)).await;
    assert!(waited.is_err(), "answered {waited:?}");
    drop(sender);

    let (sender, request) = delivery();
    tokio::spawn(send_slowly(sender, 2, Duration::from_secs(60)));
    let (status, _) = call(layer(), request).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_complete_body_is_accepted_even_with_a_zero_timeout() {
    // The body is read before the clock is looked at: what has arrived counts.
    let (mut sender, request) = delivery();
    sender.send_data(Bytes::from_static(BODY)).await.unwrap();
    drop(sender);
    let (status, _) = call(layer().with_read_timeout(Duration::ZERO), request).await;
    assert_eq!(status, StatusCode::OK);
}
