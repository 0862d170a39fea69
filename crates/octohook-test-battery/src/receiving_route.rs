//! The checks of a receiving route (`octohook_tower::ReceiveService`,
//! `octohook_actix::receive`): what it hands its receiver, and that it answers
//! what the receiver answers, once the receiver has answered.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use octohook::{Answer, ReceiveDelivery, ReceiveFuture, Rejection, VerifiedDelivery};

use crate::TestDelivery;

/// What a [`RecordingReceiver`] was handed: the delivery's GUID and its raw
/// headers, as `(name, value)` pairs.
#[derive(Clone, Debug)]
pub struct Received {
    /// The delivery GUID.
    pub guid: String,
    /// `VerifiedDelivery::raw_headers`, as received.
    pub headers: Vec<(String, String)>,
}

/// A receiver that records every delivery it is handed and answers with one
/// fixed [`Answer`], except for a payload that is not a JSON object, which it
/// refuses with 400 as a store does. Clones share the record.
#[derive(Clone, Debug)]
pub struct RecordingReceiver {
    answer: Answer,
    received: Arc<Mutex<Vec<Received>>>,
}

impl RecordingReceiver {
    /// A receiver answering `answer`.
    pub fn answering(answer: Answer) -> Self {
        Self {
            answer,
            received: Arc::default(),
        }
    }

    /// What it was handed so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("not poisoned").clone()
    }
}

impl ReceiveDelivery for RecordingReceiver {
    fn receive(&self, delivery: VerifiedDelivery) -> ReceiveFuture<'_> {
        let headers = delivery
            .raw_headers()
            .iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        self.received.lock().expect("not poisoned").push(Received {
            guid: delivery.guid().to_string(),
            headers,
        });
        let answer = match delivery.check_payload() {
            Ok(()) => self.answer.clone(),
            Err(error) => Answer::from(&Rejection::from(error)),
        };
        Box::pin(std::future::ready(answer))
    }
}

async fn post(url: &str, delivery: &TestDelivery) -> Result<reqwest::Response, String> {
    let mut request = crate::http_client()
        .post(url)
        .body(delivery.body().to_vec());
    for (name, value) in delivery.headers() {
        request = request.header(name, value);
    }
    request.send().await.map_err(|error| error.to_string())
}

/// Checks the verified receiving route at `address` + `path`, which hands its
/// deliveries to `receiver`; returns one line per failure.
///
/// - A signed delivery is answered with the receiver's answer (status,
///   `Retry-After`, body), and the receiver got it once, with GitHub's headers
///   and without the others (a cookie).
/// - A forged delivery is answered 401 and never reaches the receiver.
/// - When the receiver answers 2xx, the route passes the whole battery
///   ([`run`](crate::run)).
pub async fn check_receiving_route(
    address: SocketAddr,
    path: &str,
    receiver: &RecordingReceiver,
) -> Vec<String> {
    let url = format!("http://{address}{path}");
    let mut failures = Vec::new();
    let delivery = TestDelivery::json("push", br#"{"after":"abc"}"#.to_vec())
        .with_header("x-github-hook-id", "42")
        .with_header("cookie", "session=not-for-the-receiver");
    let before = receiver.received().len();
    match post(&url, &delivery).await {
        Ok(response) => {
            let expected = &receiver.answer;
            if response.status().as_u16() != expected.status().as_u16() {
                failures.push(format!(
                    "answered {}, the receiver said {}",
                    response.status(),
                    expected.status()
                ));
            }
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse::<u64>().ok());
            if retry_after != expected.retry_after_secs() {
                failures.push(format!(
                    "Retry-After {retry_after:?}, the receiver said {:?}",
                    expected.retry_after_secs()
                ));
            }
            let body = response.text().await.unwrap_or_default();
            if body != expected.body() {
                failures.push(format!(
                    "answered {body:?}, the receiver said {:?}",
                    expected.body()
                ));
            }
        }
        Err(error) => failures.push(format!("signed delivery: {error}")),
    }
    // The answer came from the receiver, so the receiver has run by now.
    let received = receiver.received();
    match &received[before..] {
        [one] => {
            let has =
                |name: &str, value: &str| one.headers.iter().any(|(n, v)| n == name && v == value);
            if one.guid != delivery.guid() {
                failures.push(format!(
                    "the receiver got {}, not {}",
                    one.guid,
                    delivery.guid()
                ));
            }
            if !has("x-github-event", "push") || !has("x-github-hook-id", "42") {
                failures.push(format!("GitHub's headers missing: {:?}", one.headers));
            }
            if one.headers.iter().any(|(name, _)| name == "cookie") {
                failures.push(format!(
                    "a header not GitHub's reached the receiver: {:?}",
                    one.headers
                ));
            }
        }
        other => failures.push(format!(
            "the receiver got {} deliveries, not 1",
            other.len()
        )),
    }

    let forged = TestDelivery::json("push", br#"{"zen":"forged"}"#.to_vec()).tampered();
    let refused = expect_kept_out(&url, &forged, 401, receiver, "a forged delivery").await;
    failures.extend(refused);

    if receiver.answer.status().is_success() {
        failures.extend(crate::run(address, path).await);
    }
    failures
}

/// Checks a receiving route at `url` that nothing verifies (no middleware, no
/// configuration): a signed delivery is answered 500 and never reaches
/// `receiver`.
pub async fn check_unverified_route(url: &str, receiver: &RecordingReceiver) -> Vec<String> {
    let signed = TestDelivery::json("push", b"{}".to_vec());
    expect_kept_out(url, &signed, 500, receiver, "an unverified delivery").await
}

/// Posts `delivery` (`what`) and expects `status`, with nothing reaching
/// `receiver`; returns the failures.
async fn expect_kept_out(
    url: &str,
    delivery: &TestDelivery,
    status: u16,
    receiver: &RecordingReceiver,
    what: &str,
) -> Vec<String> {
    let before = receiver.received().len();
    let mut failures = Vec::new();
    match post(url, delivery).await {
        Ok(response) if response.status() == status => {}
        Ok(response) => failures.push(format!("{what}: answered {}", response.status())),
        Err(error) => failures.push(format!("{what}: {error}")),
    }
    if receiver.received().len() != before {
        failures.push(format!("{what} reached the receiver"));
    }
    failures
}
