//! The receiver battery and axum specifics, against real axum servers on 127.0.0.1.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::post;
use octohook::{RejectionLog, Verifier, WebhookSecret};
use octohook_test_battery::{AdversarialOptions, CapturedLogs, SECRET, TestDelivery};
use octohook_tower::VerifyWebhookLayer;
use octohook_tower::extract::{
    StandaloneWebhook, StandaloneWebhookPayload, Verified, WebhookPayload, WebhookRejection,
};

fn verifier() -> Verifier {
    Verifier::new(WebhookSecret::new(SECRET).unwrap())
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

/// Serves `app` on hyper's HTTP/1 connections with a header read timeout, which
/// `axum::serve` does not set.
async fn serve_with_head_timeout(app: Router, timeout: Duration) -> SocketAddr {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = TowerToHyperService::new(app.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(timeout)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

/// What a handler that keeps the payload without deserialising it does: one
/// check (400 for a payload that is not a JSON object), then the answer.
async fn echo(Verified(delivery): Verified) -> Result<String, WebhookRejection> {
    delivery.check_payload()?;
    Ok(format!(
        "{} {} {}",
        delivery.guid(),
        delivery.event_kind(),
        delivery.action().unwrap_or("-")
    ))
}

async fn echo_standalone(
    StandaloneWebhook(delivery): StandaloneWebhook,
) -> Result<String, WebhookRejection> {
    delivery.check_payload()?;
    Ok(format!("{} {}", delivery.guid(), delivery.event_kind()))
}

#[derive(Clone, FromRef)]
struct AppState {
    verifier: Verifier,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_passes_the_battery() {
    let app = Router::new()
        .route("/hook", post(echo))
        .layer(VerifyWebhookLayer::new(verifier()));
    let failures = octohook_test_battery::run(serve(app).await, "/hook").await;
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_with_read_timeout_withstands_hostile_clients_and_logs_no_secret() {
    let logs = CapturedLogs::install();
    let app = |verifier: Verifier, timeout: Duration| {
        Router::new().route("/hook", post(echo)).layer(
            VerifyWebhookLayer::new(verifier)
                .with_read_timeout(timeout)
                // Every line, for the checks below.
                .with_rejection_log(RejectionLog::per_second(u32::MAX)),
        )
    };
    // The whole battery, with a read timeout long enough for its 25 MiB body in a
    // debug build; then the hostile clients against a 1 s timeout.
    let patient = Duration::from_secs(30);
    let address = serve_with_head_timeout(app(verifier(), patient), patient).await;
    let mut failures = octohook_test_battery::run(address, "/hook").await;
    let timeout = Duration::from_secs(1);
    // A budget of its own: the flood of the battery must not starve the other
    // tests of this process, which share the default one.
    let own_budget = octohook::BodyBudget::new(octohook::DEFAULT_BODY_BUDGET);
    let hostile = verifier().with_body_budget(own_budget);
    let address = serve_with_head_timeout(app(hostile, timeout), timeout).await;
    let started = std::time::Instant::now();
    let options = AdversarialOptions::new(timeout);
    failures.extend(octohook_test_battery::run_adversarial(address, "/hook", &options).await);
    eprintln!("adversarial battery: {:.1?}", started.elapsed());
    let sha1 = serve_with_head_timeout(app(verifier().allow_legacy_sha1(), timeout), timeout).await;
    failures.extend(octohook_test_battery::run_downgrade(sha1, "/hook", true).await);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );

    let text = logs.text();
    for expected in ["rejected webhook delivery", "status=401", "status=408"] {
        assert!(
            text.contains(expected),
            "no {expected:?} in the logs:\n{text}"
        );
    }
    // Both signatures of every body sent were recorded, and none appears.
    let sent = octohook_test_battery::sent_signatures().len();
    assert!(
        sent > 2 * octohook_test_battery::github_examples().len(),
        "{sent}"
    );
    let leaks = octohook_test_battery::find_leaks(&text);
    assert!(leaks.is_empty(), "the logs leak {}", leaks.join(", "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_are_logged_bounded_and_escaped() {
    let logs = CapturedLogs::install();
    let app = Router::new()
        .route("/hook", post(echo))
        .layer(VerifyWebhookLayer::new(verifier()).with_rejection_log(RejectionLog::per_second(5)));
    let address = serve(app).await;
    let failures = octohook_test_battery::check_log_bounds(address, "/hook", &|| logs.text()).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_extractor_passes_the_battery() {
    let app = Router::new()
        .route("/", post(echo_standalone))
        .with_state(AppState {
            verifier: verifier(),
        });
    let failures = octohook_test_battery::run(serve(app).await, "/").await;
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[derive(serde::Deserialize)]
struct Push {
    #[serde(rename = "ref")]
    git_ref: String,
}

#[tokio::test]
async fn payload_extractors_deserialize_or_reject_with_400() {
    async fn layered(WebhookPayload(push): WebhookPayload<Push>) -> String {
        push.git_ref
    }
    async fn standalone(StandaloneWebhookPayload(push): StandaloneWebhookPayload<Push>) -> String {
        push.git_ref
    }
    let app = Router::new()
        .route("/layered", post(layered))
        .layer(VerifyWebhookLayer::new(verifier()))
        .merge(
            Router::new()
                .route("/standalone", post(standalone))
                .with_state(AppState {
                    verifier: verifier(),
                }),
        );
    let address = serve(app).await;
    let client = http_client();
    for path in ["/layered", "/standalone"] {
        let url = format!("http://{address}{path}");
        let push = TestDelivery::json("push", br#"{"ref":"refs/heads/main"}"#.to_vec());
        assert_eq!(
            push.send(&client, &url).await.unwrap(),
            (200, "refs/heads/main".into()),
            "{path}"
        );
        let not_a_push = TestDelivery::json("push", br#"{"ref":7}"#.to_vec());
        assert_eq!(
            not_a_push.send(&client, &url).await.unwrap().0,
            400,
            "{path}"
        );
        let unsigned = push.clone().without("x-hub-signature-256");
        assert_eq!(unsigned.send(&client, &url).await.unwrap().0, 401, "{path}");
    }
}

#[tokio::test]
async fn other_methods_are_the_routers_business() {
    let app = Router::new()
        .route("/", post(echo).get(|| async { "status page" }))
        .layer(VerifyWebhookLayer::new(verifier()));
    let address = serve(app).await;
    let client = http_client();
    let get = client
        .get(format!("http://{address}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(get.text().await.unwrap(), "status page");
    let put = client
        .put(format!("http://{address}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);
}

#[tokio::test]
async fn extractor_without_layer_is_a_server_error() {
    let app = Router::new().route("/", post(echo));
    let address = serve(app).await;
    let delivery = TestDelivery::json("push", b"{}".to_vec());
    let (status, text) = delivery
        .send(&http_client(), &format!("http://{address}/"))
        .await
        .unwrap();
    assert_eq!(status, 500);
    assert!(text.contains("not configured"), "{text}");
}

#[tokio::test]
async fn configured_limit_applies_to_announced_and_streamed_bodies() {
    let app = Router::new()
        .route("/", post(echo))
        .layer(VerifyWebhookLayer::new(verifier().with_body_limit(1024)));
    let address = serve(app).await;
    let client = http_client();
    let url = format!("http://{address}/");
    let padding = " ".repeat(1024 - 2);
    let at_limit = TestDelivery::json("push", format!("{{{padding}}}").into_bytes());
    assert_eq!(at_limit.send(&client, &url).await.unwrap().0, 200);
    let over = TestDelivery::json("push", format!("{{ {padding}}}").into_bytes());
    assert_eq!(over.send(&client, &url).await.unwrap().0, 413);
}

#[tokio::test]
async fn rotated_secrets_both_verify() {
    let old = WebhookSecret::new("the old secret").unwrap();
    let verifier = verifier().with_secret(old);
    async fn which(Verified(delivery): Verified) -> String {
        delivery.secret_index().0.to_string()
    }
    let app = Router::new()
        .route("/", post(which))
        .layer(VerifyWebhookLayer::new(verifier));
    let address = serve(app).await;
    let client = http_client();
    let url = format!("http://{address}/");
    let new = TestDelivery::json("push", b"{}".to_vec());
    assert_eq!(new.send(&client, &url).await.unwrap(), (200, "0".into()));
    let old = TestDelivery::json("push", b"{}".to_vec()).signed_with("the old secret");
    assert_eq!(old.send(&client, &url).await.unwrap(), (200, "1".into()));
}

#[tokio::test]
async fn typed_event_and_dispatch_answer_by_outcome() {
    use octohook::events::{IssuesAction, PushEvent};
    use octohook::{Dispatcher, Event};
    use octohook_tower::extract::{TypedEvent, dispatch};

    async fn kind(TypedEvent(event): TypedEvent) -> String {
        match event {
            Event::Push(push) => format!("push {}", push.after),
            other => format!("other {}", other.kind()),
        }
    }
    let dispatcher = Dispatcher::new()
        .on::<PushEvent, _, _, _>(|_push| async move {})
        .on_action(IssuesAction::Opened, |_issues| async move {
            Err::<(), _>("the tracker is down: internal detail")
        });
    let app = Router::new()
        .route("/typed", post(kind))
        .route(
            "/dispatch",
            post(move |Verified(delivery): Verified| async move {
                dispatch(&dispatcher, delivery).await
            }),
        )
        .layer(VerifyWebhookLayer::new(verifier()));
    let address = serve(app).await;
    let client = http_client();
    let typed = format!("http://{address}/typed");
    let dispatch_url = format!("http://{address}/dispatch");

    let push = octohook_test_battery::github_examples()
        .into_iter()
        .find(|example| example.event == "push")
        .expect("a push example");
    let after = serde_json::from_slice::<serde_json::Value>(&push.body).unwrap()["after"]
        .as_str()
        .unwrap()
        .to_owned();
    let push = TestDelivery::json("push", push.body);
    assert_eq!(
        push.send(&client, &typed).await.unwrap(),
        (200, format!("push {after}"))
    );
    assert_eq!(push.send(&client, &dispatch_url).await.unwrap().0, 200);

    let unknown = TestDelivery::json("brand_new_event", b"{}".to_vec());
    assert_eq!(
        unknown.send(&client, &typed).await.unwrap(),
        (200, "other brand_new_event".into())
    );
    // One odd field gives way (a warning on the event), so the push is dispatched.
    let odd_push = TestDelivery::json("push", br#"{"after":7}"#.to_vec());
    assert_eq!(odd_push.send(&client, &typed).await.unwrap().0, 200);
    assert_eq!(odd_push.send(&client, &dispatch_url).await.unwrap().0, 200);
    // An issue without its number does not identify an issue: 400.
    let no_number = TestDelivery::json(
        "issues",
        br#"{"action":"opened","issue":{"id":1}}"#.to_vec(),
    );
    assert_eq!(no_number.send(&client, &typed).await.unwrap().0, 400);
    assert_eq!(no_number.send(&client, &dispatch_url).await.unwrap().0, 400);

    let issues = octohook_test_battery::github_examples()
        .into_iter()
        .find(|example| {
            example.event == "issues"
                && example
                    .body
                    .windows(17)
                    .any(|w| w == br#""action":"opened""#)
        })
        .expect("an issues.opened example");
    let (status, text) = TestDelivery::json("issues", issues.body)
        .send(&client, &dispatch_url)
        .await
        .unwrap();
    assert_eq!(status, 500);
    assert!(!text.contains("internal detail"), "{text}");
}

fn http_client() -> reqwest::Client {
    octohook_test_battery::http_client_builder()
        .build()
        .expect("an HTTP client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_service_answers_what_its_receiver_answers_after_it() {
    use axum::routing::post_service;
    use http::StatusCode;
    use octohook::Answer;
    use octohook_test_battery::RecordingReceiver;
    use octohook_tower::ReceiveService;

    let busy =
        Answer::new(StatusCode::SERVICE_UNAVAILABLE, "the store is down\n").with_retry_after(7);
    let mut failures = Vec::new();
    for answer in [Answer::ok(), busy] {
        let receiver = RecordingReceiver::answering(answer);
        let app = Router::new()
            .route("/", post_service(ReceiveService::new(receiver.clone())))
            .layer(VerifyWebhookLayer::new(verifier()));
        let address = serve(app).await;
        failures
            .extend(octohook_test_battery::check_receiving_route(address, "/", &receiver).await);
    }
    // Without the layer, nothing was verified: 500, and the receiver never runs.
    let receiver = RecordingReceiver::answering(Answer::ok());
    let app = Router::new().route("/", post_service(ReceiveService::new(receiver.clone())));
    let address = serve(app).await;
    failures.extend(
        octohook_test_battery::check_unverified_route(&format!("http://{address}/"), &receiver)
            .await,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
