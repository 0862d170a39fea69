//! The receiver battery and actix specifics, against real actix-web servers on
//! 127.0.0.1.

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, error, web};
use octohook::{RejectionLog, Verifier, WebhookSecret};
use octohook_actix::extract::{Verified, WebhookPayload};
use octohook_actix::{VerifyConfig, VerifyWebhook, WebhookRejection};
use octohook_test_battery::{AdversarialOptions, CapturedLogs, SECRET, TestDelivery};

fn secret() -> WebhookSecret {
    WebhookSecret::new(SECRET).unwrap()
}

fn verifier() -> Verifier {
    Verifier::new(secret())
}

/// Runs an app configured by `configure` on a free port of 127.0.0.1, on one worker.
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

/// Like [`serve`], with `timeout` for the request head (`client_request_timeout`)
/// and for idle keep-alive connections.
fn serve_with_timeout(
    timeout: Duration,
    configure: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
) -> SocketAddr {
    let server = HttpServer::new(move || App::new().configure(configure.clone()))
        .workers(1)
        .disable_signals()
        .client_request_timeout(timeout)
        .keep_alive(timeout)
        .bind(("127.0.0.1", 0))
        .unwrap();
    let address = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    address
}

/// Routes a POST to `/middleware`, verified by [`VerifyWebhook`], and to
/// `/standalone`, verified by the extractors, both with `config` and answered
/// by `handler`.
fn middleware_and_standalone<F, Args>(
    service: &mut web::ServiceConfig,
    config: VerifyConfig,
    handler: F,
) where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    service
        .service(
            web::resource("/middleware")
                .wrap(VerifyWebhook::new(config.clone()))
                .route(web::post().to(handler.clone())),
        )
        .service(
            web::resource("/standalone")
                .app_data(config)
                .route(web::post().to(handler)),
        );
}

/// What a handler that keeps the payload without deserialising it does: one
/// check (400 for a payload that is not a JSON object), then the answer.
async fn echo(Verified(delivery): Verified) -> Result<String, WebhookRejection> {
    delivery
        .check_payload()
        .map_err(|error| WebhookRejection(error.into()))?;
    Ok(format!(
        "{} {} {}",
        delivery.guid(),
        delivery.event_kind(),
        delivery.action().unwrap_or("-")
    ))
}

#[actix_web::test]
async fn middleware_passes_the_battery() {
    let address = serve(|config| {
        config.service(
            web::scope("/hooks")
                .wrap(VerifyWebhook::new(verifier()))
                .route("/github", web::post().to(echo)),
        );
    });
    let failures = octohook_test_battery::run(address, "/hooks/github").await;
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[actix_web::test]
async fn read_timeouts_withstand_hostile_clients_and_nothing_logs_a_secret() {
    let logs = CapturedLogs::install();
    // A budget of its own: the flood of the battery must not starve the other
    // tests of this process, which share the default one.
    fn own_budget() -> octohook::BodyBudget {
        static BUDGET: std::sync::OnceLock<octohook::BodyBudget> = std::sync::OnceLock::new();
        BUDGET
            .get_or_init(|| octohook::BodyBudget::new(octohook::DEFAULT_BODY_BUDGET))
            .clone()
    }
    // Every line, for the checks below.
    fn every_rejection() -> RejectionLog {
        static LOG: std::sync::OnceLock<RejectionLog> = std::sync::OnceLock::new();
        LOG.get_or_init(|| RejectionLog::per_second(u32::MAX))
            .clone()
    }
    let config = |timeout, verifier: Verifier| {
        VerifyConfig::new(verifier.with_body_budget(own_budget()))
            .with_read_timeout(timeout)
            .with_rejection_log(every_rejection())
    };
    // The whole battery, with a read timeout long enough for its 25 MiB body in a
    // debug build; then the hostile clients against a 1 s timeout, through the
    // middleware and through the extractor alone.
    let patient = Duration::from_secs(30);
    let address = serve_with_timeout(patient, move |service| {
        service.service(
            web::resource("/")
                .wrap(VerifyWebhook::new(config(patient, verifier())))
                .route(web::post().to(echo)),
        );
    });
    let mut failures = octohook_test_battery::run(address, "/").await;
    let timeout = Duration::from_secs(1);
    let address = serve_with_timeout(timeout, move |service| {
        middleware_and_standalone(service, config(timeout, verifier()), echo);
    });
    // actix-web answers `Expect: 100-continue` before any middleware runs.
    let options = AdversarialOptions::new(timeout).continue_before_verifying();
    for path in ["/middleware", "/standalone"] {
        let started = std::time::Instant::now();
        let path_failures = octohook_test_battery::run_adversarial(address, path, &options).await;
        eprintln!("adversarial battery on {path}: {:.1?}", started.elapsed());
        failures.extend(
            path_failures
                .into_iter()
                .map(|failure| format!("{path}: {failure}")),
        );
    }
    let sha1 = serve_with_timeout(timeout, move |service| {
        service.service(
            web::resource("/")
                .wrap(VerifyWebhook::new(config(
                    timeout,
                    verifier().allow_legacy_sha1(),
                )))
                .route(web::post().to(echo)),
        );
    });
    failures.extend(octohook_test_battery::run_downgrade(sha1, "/", true).await);
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

#[actix_web::test]
async fn rejections_are_logged_bounded_and_escaped() {
    let logs = CapturedLogs::install();
    let address = serve(|service| {
        let config = VerifyConfig::new(verifier()).with_rejection_log(RejectionLog::per_second(5));
        middleware_and_standalone(service, config, echo);
    });
    let mut failures = Vec::new();
    for path in ["/middleware", "/standalone"] {
        let log = || logs.text();
        let found = octohook_test_battery::check_log_bounds(address, path, &log).await;
        failures.extend(
            found
                .into_iter()
                .map(|failure| format!("{path}: {failure}")),
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[actix_web::test]
async fn extractor_with_app_data_config_passes_the_battery() {
    let address = serve(|config| {
        config
            .app_data(VerifyConfig::new(verifier()))
            .route("/", web::post().to(echo));
    });
    let failures = octohook_test_battery::run(address, "/").await;
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[actix_web::test]
async fn extractor_with_config_in_web_data_passes_the_battery() {
    let address = serve(|config| {
        config
            .app_data(web::Data::new(VerifyConfig::new(verifier())))
            .route("/", web::post().to(echo));
    });
    let failures = octohook_test_battery::run(address, "/").await;
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

async fn push_ref(WebhookPayload(push): WebhookPayload<Push>) -> String {
    push.git_ref
}

#[actix_web::test]
async fn payload_extractor_deserializes_or_rejects_with_400() {
    let address = serve(|service| {
        middleware_and_standalone(service, VerifyConfig::new(verifier()), push_ref);
    });
    let client = http_client();
    for path in ["/middleware", "/standalone"] {
        let url = format!("http://{address}{path}");
        let push = TestDelivery::json("push", br#"{"ref":"refs/heads/main"}"#.to_vec());
        assert_eq!(
            push.send(&client, &url).await.unwrap(),
            (200, "refs/heads/main".into()),
            "{path}"
        );
        let not_a_push = TestDelivery::json("push", br#"{"ref":7}"#.to_vec());
        let (status, text) = not_a_push.send(&client, &url).await.unwrap();
        assert_eq!(status, 400, "{path}");
        assert!(
            text.starts_with("invalid payload: ") && text.ends_with('\n'),
            "{path}: {text}"
        );
        let unsigned = push
            .clone()
            .without("x-hub-signature-256")
            .without("x-hub-signature");
        assert_eq!(
            unsigned.send(&client, &url).await.unwrap(),
            (401, "missing X-Hub-Signature-256 header\n".into()),
            "{path}"
        );
    }
}

#[actix_web::test]
async fn handlers_behind_the_middleware_see_the_verified_body_and_every_extractor() {
    async fn everything(
        Verified(delivery): Verified,
        WebhookPayload(push): WebhookPayload<Push>,
        body: web::Bytes,
    ) -> String {
        assert_eq!(&body, delivery.raw_body());
        format!("{} {}", push.git_ref, body.len())
    }
    let address = serve(|config| {
        config.service(
            web::resource("/")
                .wrap(VerifyWebhook::new(verifier()))
                .route(web::post().to(everything)),
        );
    });
    let body = br#"{"ref":"refs/heads/main"}"#.to_vec();
    let length = body.len();
    let delivery = TestDelivery::json("push", body);
    let response = delivery
        .send(&http_client(), &format!("http://{address}/"))
        .await;
    assert_eq!(
        response.unwrap(),
        (200, format!("refs/heads/main {length}"))
    );
}

#[actix_web::test]
async fn other_methods_pass_through_the_middleware() {
    let address = serve(|config| {
        config.service(
            web::resource("/")
                .wrap(VerifyWebhook::new(verifier()))
                .route(web::post().to(echo))
                .route(web::get().to(|| async { "status page" })),
        );
    });
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

#[actix_web::test]
async fn extractor_without_middleware_or_secret_is_a_server_error() {
    let address = serve(|config| {
        config.route("/", web::post().to(echo)).service(
            web::resource("/no-secret")
                .wrap(VerifyWebhook::new(VerifyConfig::DEFAULT))
                .route(web::post().to(echo)),
        );
    });
    let client = http_client();
    for path in ["/", "/no-secret"] {
        let delivery = TestDelivery::json("push", b"{}".to_vec());
        let (status, text) = delivery
            .send(&client, &format!("http://{address}{path}"))
            .await
            .unwrap();
        assert_eq!(status, 500, "{path}");
        assert_eq!(
            text, "webhook verification is not configured for this route\n",
            "{path}"
        );
    }
}

#[actix_web::test]
async fn configured_limit_applies_to_announced_and_streamed_bodies() {
    let address = serve(|service| {
        let config = VerifyConfig::new(verifier().with_body_limit(1024));
        middleware_and_standalone(service, config, echo);
    });
    let client = http_client();
    for path in ["/middleware", "/standalone"] {
        let url = format!("http://{address}{path}");
        let padding = " ".repeat(1024 - 2);
        let at_limit = TestDelivery::json("push", format!("{{{padding}}}").into_bytes());
        assert_eq!(at_limit.send(&client, &url).await.unwrap().0, 200, "{path}");
        let over = TestDelivery::json("push", format!("{{ {padding}}}").into_bytes());
        assert_eq!(
            over.send(&client, &url).await.unwrap(),
            (413, "body exceeds the limit of 1024 bytes\n".into()),
            "{path}"
        );
        // Streamed without a Content-Length: the limit is enforced as it arrives.
        let chunks = (0..2).map(|_| Ok::<_, std::io::Error>(vec![b' '; 700]));
        let response = client
            .post(&url)
            .header("x-github-event", "push")
            .header("x-github-delivery", "streamed")
            .header("content-type", "application/json")
            .header(
                "x-hub-signature-256",
                octohook::sign(&secret(), &[b' '; 1400]),
            )
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{path}");
    }
}

#[actix_web::test]
async fn rotated_secrets_both_verify() {
    async fn which(Verified(delivery): Verified) -> String {
        delivery.secret_index().0.to_string()
    }
    let address = serve(|service| {
        let old = WebhookSecret::new("the old secret").unwrap();
        let config = VerifyConfig::new(verifier().with_secret(old));
        middleware_and_standalone(service, config, which);
    });
    let client = http_client();
    for path in ["/middleware", "/standalone"] {
        let url = format!("http://{address}{path}");
        let new = TestDelivery::json("push", b"{}".to_vec());
        assert_eq!(
            new.send(&client, &url).await.unwrap(),
            (200, "0".into()),
            "{path}"
        );
        let old = TestDelivery::json("push", b"{}".to_vec()).signed_with("the old secret");
        assert_eq!(
            old.send(&client, &url).await.unwrap(),
            (200, "1".into()),
            "{path}"
        );
    }
}

#[actix_web::test]
async fn legacy_sha1_only_when_enabled() {
    let address = serve(|config| {
        config.service(
            web::resource("/middleware")
                .wrap(VerifyWebhook::new(VerifyConfig::new(
                    verifier().allow_legacy_sha1(),
                )))
                .route(web::post().to(echo)),
        );
        config.service(
            web::resource("/standalone")
                .app_data(VerifyConfig::new(verifier().allow_legacy_sha1()))
                .route(web::post().to(echo)),
        );
        config.service(
            web::resource("/sha256-only")
                .app_data(VerifyConfig::new(verifier()))
                .route(web::post().to(echo)),
        );
    });
    let client = http_client();
    let sha1_only = TestDelivery::json("push", b"{}".to_vec()).without("x-hub-signature-256");
    for path in ["/middleware", "/standalone"] {
        let url = format!("http://{address}{path}");
        assert_eq!(
            sha1_only.send(&client, &url).await.unwrap().0,
            200,
            "{path}"
        );
    }
    let url = format!("http://{address}/sha256-only");
    assert_eq!(sha1_only.send(&client, &url).await.unwrap().0, 401);
}

#[actix_web::test]
async fn error_handler_shapes_rejections() {
    fn not_found(
        rejection: octohook_actix::Rejection,
        _: &actix_web::HttpRequest,
    ) -> actix_web::Error {
        error::InternalError::from_response(
            rejection,
            HttpResponse::NotFound().body("nothing here"),
        )
        .into()
    }
    let address = serve(|config| {
        config.service(
            web::resource("/middleware")
                .wrap(VerifyWebhook::new(
                    VerifyConfig::new(verifier()).with_error_handler(not_found),
                ))
                .route(web::post().to(echo)),
        );
        config.service(
            web::resource("/standalone")
                .app_data(VerifyConfig::new(verifier()).with_error_handler(not_found))
                .route(web::post().to(push_ref)),
        );
    });
    let client = http_client();
    for path in ["/middleware", "/standalone"] {
        let url = format!("http://{address}{path}");
        let forged = TestDelivery::json("push", br#"{"ref":"x"}"#.to_vec()).signed_with("guess");
        assert_eq!(
            forged.send(&client, &url).await.unwrap(),
            (404, "nothing here".into()),
            "{path}"
        );
        let good = TestDelivery::json("push", br#"{"ref":"x"}"#.to_vec());
        assert_eq!(good.send(&client, &url).await.unwrap().0, 200, "{path}");
    }
    // A payload that does not fit the type goes through the handler too.
    let url = format!("http://{address}/standalone");
    let not_a_push = TestDelivery::json("push", br#"{"ref":7}"#.to_vec());
    assert_eq!(not_a_push.send(&client, &url).await.unwrap().0, 404);
}

#[actix_web::test]
async fn connection_is_reused_after_a_rejection_with_a_fully_sent_body() {
    // reqwest keeps one pooled connection: a rejection after the body was read
    // must leave it usable, and one before must not wedge the next request.
    let address = serve(|config| {
        config.service(
            web::resource("/")
                .wrap(VerifyWebhook::new(verifier()))
                .route(web::post().to(echo)),
        );
    });
    let client = octohook_test_battery::http_client_builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let url = format!("http://{address}/");
    for _ in 0..3 {
        let tampered = TestDelivery::json("push", br#"{"ref":"a"}"#.to_vec()).tampered();
        assert_eq!(tampered.send(&client, &url).await.unwrap().0, 401);
        let wrong_type =
            TestDelivery::json("push", b"{}".to_vec()).with_header("content-type", "text/plain");
        assert_eq!(wrong_type.send(&client, &url).await.unwrap().0, 415);
        let good = TestDelivery::json("push", b"{}".to_vec());
        assert_eq!(good.send(&client, &url).await.unwrap().0, 200);
    }
}

#[cfg(feature = "events")]
#[actix_web::test]
async fn typed_event_extractor_parses_every_github_example() {
    use octohook_actix::extract::TypedEvent;
    async fn kind(TypedEvent(event): TypedEvent) -> String {
        format!("{} {}", event.kind(), event.action().unwrap_or("-"))
    }
    let address = serve(|service| {
        middleware_and_standalone(service, VerifyConfig::new(verifier()), kind);
    });
    let client = http_client();
    for path in ["/middleware", "/standalone"] {
        let url = format!("http://{address}{path}");
        for example in octohook_test_battery::github_examples()
            .into_iter()
            .step_by(7)
        {
            let action =
                serde_json::from_slice::<serde_json::Value>(&example.body).unwrap()["action"]
                    .as_str()
                    .unwrap_or("-")
                    .to_owned();
            let delivery = TestDelivery::json(&example.event, example.body);
            let expected = (200, format!("{} {action}", example.event));
            assert_eq!(
                delivery.send(&client, &url).await.unwrap(),
                expected,
                "{path}"
            );
        }
        // Signed, but not an issues payload: 400, naming where it failed.
        let wrong = TestDelivery::json("issues", br#"{"action":"opened","issue":7}"#.to_vec());
        let (status, text) = wrong.send(&client, &url).await.unwrap();
        assert_eq!(status, 400, "{path}: {text}");
        assert!(
            text.starts_with("invalid payload: ") && text.contains("issue"),
            "{path}: {text}"
        );
    }
}

#[actix_web::test]
async fn dispatch_answers_by_outcome_and_hides_handler_errors() {
    use octohook::Dispatcher;
    use octohook::events::{IssuesAction, PushEvent};
    use octohook_actix::extract::dispatch;

    let address = serve(|config| {
        let dispatcher = web::Data::new(
            Dispatcher::new()
                .on::<PushEvent, _, _, _>(|_push| async move {})
                .on_action(IssuesAction::Opened, |_issues| async move {
                    Err::<(), _>("the tracker is down: internal detail")
                }),
        );
        config.service(
            web::resource("/")
                .app_data(dispatcher)
                .wrap(VerifyWebhook::new(verifier()))
                .route(web::post().to(
                    |Verified(delivery): Verified, dispatcher: web::Data<Dispatcher>| async move {
                        dispatch(&dispatcher, delivery).await
                    },
                )),
        );
    });
    let client = http_client();
    let url = format!("http://{address}/");
    let example = |event: &str, needle: &[u8]| {
        octohook_test_battery::github_examples()
            .into_iter()
            .find(|e| e.event == event && e.body.windows(needle.len()).any(|w| w == needle))
            .expect("a matching example")
            .body
    };
    let push = TestDelivery::json("push", example("push", b"\"after\""));
    assert_eq!(push.send(&client, &url).await.unwrap().0, 200);
    // One odd field gives way (a warning on the event), so the push is dispatched.
    let odd_push = TestDelivery::json("push", br#"{"after":7}"#.to_vec());
    assert_eq!(odd_push.send(&client, &url).await.unwrap().0, 200);
    // An issue without its number does not identify an issue: 400.
    let no_number = TestDelivery::json(
        "issues",
        br#"{"action":"opened","issue":{"id":1}}"#.to_vec(),
    );
    assert_eq!(no_number.send(&client, &url).await.unwrap().0, 400);
    let opened = TestDelivery::json("issues", example("issues", br#""action":"opened""#));
    let (status, text) = opened.send(&client, &url).await.unwrap();
    assert_eq!(status, 500);
    assert!(!text.contains("internal detail"), "{text}");
}

fn http_client() -> reqwest::Client {
    octohook_test_battery::http_client_builder()
        .build()
        .expect("an HTTP client")
}

#[actix_web::test]
async fn the_receive_route_answers_what_its_receiver_answers_after_it() {
    use octohook::Answer;
    use octohook_actix::receive;
    use octohook_test_battery::RecordingReceiver;

    let busy = Answer::new(http::StatusCode::SERVICE_UNAVAILABLE, "the store is down\n")
        .with_retry_after(7);
    let mut failures = Vec::new();
    for answer in [Answer::ok(), busy] {
        let receiver = RecordingReceiver::answering(answer);
        let route = receiver.clone();
        let address = serve(move |config| {
            config
                .service(
                    web::resource("/middleware")
                        .wrap(VerifyWebhook::new(verifier()))
                        .route(receive(route.clone())),
                )
                .service(
                    web::resource("/standalone")
                        .app_data(VerifyConfig::new(verifier()))
                        .route(receive(route.clone())),
                )
                .service(web::resource("/unverified").route(receive(route.clone())));
        });
        for path in ["/middleware", "/standalone"] {
            let path_failures =
                octohook_test_battery::check_receiving_route(address, path, &receiver).await;
            failures.extend(
                path_failures
                    .into_iter()
                    .map(|failure| format!("{path}: {failure}")),
            );
        }
        failures.extend(
            octohook_test_battery::check_unverified_route(
                &format!("http://{address}/unverified"),
                &receiver,
            )
            .await,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
