//! Behaviour against an in-process fake GitHub over real HTTP: pagination, `Link`
//! cursors, rate limits, 5xx retries, 422 details, `ensure_hook` idempotency and
//! credential redaction.

#[path = "support/fake_github.rs"]
mod fake_github;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::http::Method;
use fake_github::{FakeGitHub, Injected};
use futures_util::{StreamExt, TryStreamExt};
use octohook_client::{
    AppJwt, Client, ClientError, ClientOptions, ConfigUpdate, DeliveryCursor, DeliveryId,
    DeliveryOutcome, DeliveryQuery, EnsureAction, EventKind, HookContentType, HookId, HookRef,
    HookTarget, HookUpdate, NewHook, RateLimitKind, RetryOptions, Token, WebhookSecret,
};
use serde_json::json;

const TOKEN: &str = "ghp_behaviourTestTokenThatMustNeverLeak";

fn options(fake: &FakeGitHub) -> ClientOptions {
    ClientOptions {
        base_url: fake.url(),
        timeout: Duration::from_secs(5),
        retry: RetryOptions {
            max_retries: 3,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_secs(3),
            deadline: Duration::from_secs(15),
        },
        ..ClientOptions::default()
    }
}

fn client(fake: &FakeGitHub) -> Client {
    Client::new(Token::new(TOKEN), options(fake)).unwrap()
}

fn injected(status: u16, headers: &[(&'static str, String)], body: serde_json::Value) -> Injected {
    Injected {
        status,
        headers: headers.to_vec(),
        body,
    }
}

#[tokio::test]
async fn every_request_sends_githubs_headers() {
    let fake = FakeGitHub::start().await;
    let hooks = client(&fake).repo_hooks("o", "r");
    hooks.list().await.unwrap();
    let request = &fake.requests()[0];
    assert_eq!(request.headers["accept"], "application/vnd.github+json");
    assert_eq!(request.headers["x-github-api-version"], "2022-11-28");
    assert!(
        request.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("octohook-client/")
    );
    assert_eq!(
        request.headers["authorization"],
        format!("Bearer {TOKEN}").as_str()
    );
    assert_eq!(request.path, "repos/o/r/hooks");
}

#[tokio::test]
async fn hook_lists_page_by_number_and_stream_across_pages() {
    let fake = FakeGitHub::start().await;
    for n in 0..230 {
        fake.add_hook(
            "orgs/acme",
            &format!("https://h.example.com/{n}"),
            &["push"],
            None,
        );
    }
    let hooks = client(&fake).org_hooks("acme");

    let first = hooks.page(50, 1).await.unwrap();
    assert_eq!(first.items.len(), 50);
    assert_eq!(first.next, Some(2));
    let last = hooks.page(50, 5).await.unwrap();
    assert_eq!(last.items.len(), 30);
    assert_eq!(last.next, None);

    fake.clear_requests();
    let all = hooks.list().await.unwrap();
    assert_eq!(all.len(), 230);
    let ids: Vec<u64> = all.iter().map(|h| h.id.get()).collect();
    assert_eq!(ids, (1..=230).collect::<Vec<_>>());
    let queries: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r.query.clone().unwrap())
        .collect();
    assert_eq!(
        queries,
        [
            "per_page=100&page=1",
            "per_page=100&page=2",
            "per_page=100&page=3"
        ]
    );

    // The stream is lazy: taking 3 hooks fetches one page only.
    fake.clear_requests();
    let three: Vec<_> = hooks.stream().take(3).collect().await;
    assert_eq!(three.len(), 3);
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn deliveries_page_by_link_cursor() {
    let fake = FakeGitHub::start().await;
    fake.add_deliveries("repos/o/r/hooks/7", 250);
    let deliveries = client(&fake)
        .repo_hooks("o", "r")
        .deliveries(HookId::new(7));

    // Page by page, as a redelivery scanner does.
    let mut query = DeliveryQuery::default();
    let mut pages = Vec::new();
    loop {
        let page = deliveries.page(&query).await.unwrap();
        pages.push(page.items.len());
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, [100, 100, 50]);
    let queries: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r.query.clone().unwrap())
        .collect();
    // The cursor is taken from the Link header and sent back, re-encoded.
    assert_eq!(queries[1], "per_page=100&cursor=v1%2B999900");

    // A stored cursor resumes a scan.
    let resumed = deliveries
        .page(&DeliveryQuery {
            per_page: 10,
            cursor: Some(DeliveryCursor::new("v1+999800")),
            ..DeliveryQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(resumed.items[0].id, DeliveryId::new(999_800));

    // The stream yields everything, newest first.
    let all: Vec<_> = deliveries
        .stream(DeliveryQuery {
            per_page: 30,
            ..DeliveryQuery::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 250);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
}

#[tokio::test]
async fn deliveries_filter_by_status_and_redelivery() {
    let fake = FakeGitHub::start().await;
    fake.add_deliveries("repos/o/r/hooks/7", 90);
    let deliveries = client(&fake)
        .repo_hooks("o", "r")
        .deliveries(HookId::new(7));
    let failures: Vec<_> = deliveries
        .stream(DeliveryQuery {
            per_page: 7,
            status: Some(DeliveryOutcome::Failure),
            ..DeliveryQuery::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(failures.len(), 30);
    assert!(failures.iter().all(|d| !d.succeeded()));
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.query.as_deref().unwrap().contains("status=failure"))
    );

    // The fake ignores `redelivery`, as some GitHub versions do: the client filters.
    let first_attempts: Vec<_> = deliveries
        .stream(DeliveryQuery {
            redelivery: Some(false),
            ..DeliveryQuery::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(first_attempts.len(), 72);
    assert!(first_attempts.iter().all(|d| !d.redelivery));
}

#[tokio::test]
async fn delivery_details_and_redelivery() {
    let fake = FakeGitHub::start().await;
    fake.add_deliveries("repos/o/r/hooks/7", 3);
    fake.add_hook("repos/o/r", "https://h.example.com", &["push"], None);
    let deliveries = client(&fake)
        .repo_hooks("o", "r")
        .deliveries(HookId::new(7));
    let delivery = deliveries.get(DeliveryId::new(999_999)).await.unwrap();
    assert_eq!(delivery.summary.event, EventKind::Push);
    assert_eq!(delivery.response.payload.as_deref(), Some("ok"));
    deliveries
        .redeliver(DeliveryId::new(999_999))
        .await
        .unwrap();
    assert_eq!(
        fake.redelivered(),
        [("repos/o/r/hooks/7".to_owned(), 999_999)]
    );
    let missing = deliveries.get(DeliveryId::new(1)).await.unwrap_err();
    assert!(matches!(missing, ClientError::NotFound(_)), "{missing:?}");
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_until_success() {
    let fake = FakeGitHub::start().await;
    for status in [502, 503] {
        fake.inject(
            None,
            "repos/o/r/hooks",
            injected(status, &[], json!({"message": "Server Error"})),
        );
    }
    let hooks = client(&fake).repo_hooks("o", "r");
    assert!(hooks.list().await.unwrap().is_empty());
    assert_eq!(fake.requests().len(), 3);

    // More failures than retries: the last one is returned.
    fake.clear_requests();
    for _ in 0..4 {
        fake.inject(
            None,
            "repos/o/r/hooks",
            injected(500, &[], json!({"message": "boom"})),
        );
    }
    let error = hooks.list().await.unwrap_err();
    assert!(
        matches!(&error, ClientError::Server(api) if api.status == 500),
        "{error:?}"
    );
    assert_eq!(fake.requests().len(), 4);
}

#[tokio::test]
async fn hook_creation_is_not_retried_on_server_errors() {
    let fake = FakeGitHub::start().await;
    fake.inject(
        Some(Method::POST),
        "repos/o/r/hooks",
        injected(502, &[], json!({})),
    );
    let error = client(&fake)
        .repo_hooks("o", "r")
        .create(&NewHook::new("https://h.example.com"))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(502));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn the_deadline_bounds_retries() {
    let fake = FakeGitHub::start().await;
    for _ in 0..4 {
        fake.inject(None, "repos", injected(503, &[], json!({})));
    }
    let mut options = options(&fake);
    options.retry = RetryOptions {
        max_retries: 10,
        initial_backoff: Duration::from_millis(400),
        max_backoff: Duration::from_secs(2),
        deadline: Duration::from_millis(500),
    };
    let started = Instant::now();
    let error = Client::new(Token::new(TOKEN), options)
        .unwrap()
        .repo_hooks("o", "r")
        .list()
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(error, ClientError::Server(_)), "{error:?}");
    assert!(fake.requests().len() <= 2);
}

#[tokio::test]
async fn secondary_rate_limits_wait_for_retry_after() {
    let fake = FakeGitHub::start().await;
    fake.inject(
        None,
        "repos",
        injected(
            429,
            &[("retry-after", "1".into())],
            json!({"message": "You have exceeded a secondary rate limit."}),
        ),
    );
    let started = Instant::now();
    client(&fake).repo_hooks("o", "r").list().await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn primary_rate_limits_wait_for_the_reset_or_report_it() {
    let fake = FakeGitHub::start().await;
    let epoch = |from_now: u64| {
        (SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + from_now)
            .to_string()
    };
    let exhausted = |reset: String| {
        injected(
            403,
            &[
                ("x-ratelimit-limit", "5000".into()),
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", reset),
            ],
            json!({"message": "API rate limit exceeded for user ID 1."}),
        )
    };

    // Resets within the backoff cap: waited for, then retried.
    fake.inject(None, "repos", exhausted(epoch(1)));
    client(&fake).repo_hooks("o", "r").list().await.unwrap();
    assert_eq!(fake.requests().len(), 2);

    // Resets in an hour: reported at once, with the reset time.
    fake.clear_requests();
    fake.inject(None, "repos", exhausted(epoch(3_600)));
    let started = Instant::now();
    let error = client(&fake).repo_hooks("o", "r").list().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    let limit = error.rate_limit().expect("a rate limit");
    assert_eq!(limit.kind, RateLimitKind::Primary);
    assert_eq!(limit.remaining, Some(0));
    assert_eq!(limit.limit, Some(5000));
    let wait = limit.wait_from(SystemTime::now()).unwrap();
    assert!(wait > Duration::from_secs(3_500) && wait <= Duration::from_secs(3_600));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn validation_errors_carry_githubs_details() {
    let fake = FakeGitHub::start().await;
    let hooks = client(&fake).repo_hooks("o", "r");
    hooks
        .create(&NewHook::new("https://h.example.com"))
        .await
        .unwrap();
    let error = hooks
        .create(&NewHook::new("https://h.example.com"))
        .await
        .unwrap_err();
    let ClientError::Validation(validation) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(validation.api.status, 422);
    assert_eq!(validation.api.message.as_deref(), Some("Validation Failed"));
    assert_eq!(validation.errors[0].code.as_deref(), Some("custom"));
    assert_eq!(
        validation.errors[0].message.as_deref(),
        Some("Hook already exists on this repository")
    );
    assert!(error.to_string().contains("Hook already exists"), "{error}");
}

#[tokio::test]
async fn hook_crud_config_ping_and_test() {
    let fake = FakeGitHub::start().await;
    let hooks = client(&fake).repo_hooks("o", "r");
    let mut new = NewHook::new("https://h.example.com/a");
    new.events = vec![EventKind::Push];
    new.secret = Some(WebhookSecret::new("first secret").unwrap());
    new.content_type = Some(HookContentType::Json);
    let created = hooks.create(&new).await.unwrap();
    assert!(created.config.has_secret);
    assert_eq!(
        fake.secret_of(created.id.get()).as_deref(),
        Some("first secret")
    );

    let mut update = HookUpdate::default();
    update.add_events = vec![EventKind::Issues];
    let updated = hooks.update(created.id, &update).await.unwrap();
    assert_eq!(updated.events, [EventKind::Push, EventKind::Issues]);

    let mut config = ConfigUpdate::default();
    config.secret = Some(WebhookSecret::new("rotated").unwrap());
    let config = hooks.update_config(created.id, &config).await.unwrap();
    assert!(config.has_secret);
    assert_eq!(config.url.as_deref(), Some("https://h.example.com/a"));
    assert_eq!(fake.secret_of(created.id.get()).as_deref(), Some("rotated"));
    assert_eq!(hooks.config(created.id).await.unwrap(), config);
    // The same hook, chosen at run time.
    let hook = HookRef::repository("o", "r", created.id);
    assert_eq!(client(&fake).hook_config(&hook).await.unwrap(), config);
    let mut url = ConfigUpdate::default();
    url.url = Some("https://h.example.com/b".into());
    let moved = client(&fake).update_hook_config(&hook, &url).await.unwrap();
    assert_eq!(moved.url.as_deref(), Some("https://h.example.com/b"));
    assert_eq!(fake.secret_of(created.id.get()).as_deref(), Some("rotated"));
    assert_eq!(hooks.config(created.id).await.unwrap(), moved);

    hooks.ping(created.id).await.unwrap();
    hooks.test(created.id).await.unwrap();
    hooks.delete(created.id).await.unwrap();
    assert!(matches!(
        hooks.get(created.id).await,
        Err(ClientError::NotFound(_))
    ));

    // Organization hooks have no test endpoint; nothing is sent.
    let before = fake.requests().len();
    let error = client(&fake)
        .org_hooks("acme")
        .test(HookId::new(1))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::InvalidInput(_)));
    assert_eq!(fake.requests().len(), before);
}

#[tokio::test]
async fn organization_event_changes_are_applied_to_the_current_list() {
    let fake = FakeGitHub::start().await;
    let id = fake.add_hook(
        "orgs/acme",
        "https://h.example.com",
        &["push", "issues"],
        None,
    );
    let mut update = HookUpdate::default();
    update.add_events = vec![EventKind::PullRequest];
    update.remove_events = vec![EventKind::Issues];
    let hook = client(&fake)
        .org_hooks("acme")
        .update(HookId::new(id), &update)
        .await
        .unwrap();
    assert_eq!(hook.events, [EventKind::Push, EventKind::PullRequest]);
    let patch = fake
        .requests()
        .into_iter()
        .find(|r| r.method == Method::PATCH)
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&patch.body).unwrap();
    assert_eq!(body, json!({"events": ["push", "pull_request"]}));
}

#[tokio::test]
async fn ensure_hook_creates_once_then_leaves_or_updates() {
    let fake = FakeGitHub::start().await;
    let client = client(&fake);
    let target = HookTarget::repository("o", "r");
    let secret = WebhookSecret::new("s3cret").unwrap();
    let url = "https://service.example.com/github";
    let events = [EventKind::Push, EventKind::PullRequest];

    let first = client
        .ensure_hook(&target, url, &events, Some(&secret), HookContentType::Json)
        .await
        .unwrap();
    assert_eq!(first.action, EnsureAction::Created);
    assert_eq!(
        fake.secret_of(first.hook.id.get()).as_deref(),
        Some("s3cret")
    );

    // Same again, with the events in another order: nothing is written.
    fake.clear_requests();
    let reversed = [EventKind::PullRequest, EventKind::Push];
    let second = client
        .ensure_hook(
            &target,
            url,
            &reversed,
            Some(&secret),
            HookContentType::Json,
        )
        .await
        .unwrap();
    assert_eq!(second.action, EnsureAction::Unchanged);
    assert_eq!(second.hook.id, first.hook.id);
    assert!(fake.requests().iter().all(|r| r.method == Method::GET));

    // Other events: only the events are written; the secret stays.
    fake.clear_requests();
    let third = client
        .ensure_hook(
            &target,
            url,
            &[EventKind::Push],
            Some(&secret),
            HookContentType::Json,
        )
        .await
        .unwrap();
    assert_eq!(third.action, EnsureAction::Updated);
    assert_eq!(third.hook.events, [EventKind::Push]);
    assert!(third.hook.config.has_secret);
    let writes: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method != Method::GET)
        .collect();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].method, Method::PATCH);
    assert!(!String::from_utf8_lossy(&writes[0].body).contains("config"));

    // Another content type: the config is written, secret included.
    let fourth = client
        .ensure_hook(
            &target,
            url,
            &[EventKind::Push],
            Some(&secret),
            HookContentType::Form,
        )
        .await
        .unwrap();
    assert_eq!(fourth.action, EnsureAction::Updated);
    assert_eq!(fourth.hook.config.content_type, Some(HookContentType::Form));
    assert_eq!(
        fake.secret_of(first.hook.id.get()).as_deref(),
        Some("s3cret")
    );

    assert_eq!(fake.hooks("repos/o/r").len(), 1);
}

#[tokio::test]
async fn ensure_hook_adopts_the_oldest_existing_hook() {
    let fake = FakeGitHub::start().await;
    for n in 0..120 {
        fake.add_hook(
            "orgs/acme",
            &format!("https://other.example.com/{n}"),
            &["push"],
            None,
        );
    }
    let oldest = fake.add_hook(
        "orgs/acme",
        "https://service.example.com",
        &["push"],
        Some("x"),
    );
    fake.add_hook(
        "orgs/acme",
        "https://service.example.com",
        &["issues"],
        Some("x"),
    );
    let ensured = client(&fake)
        .ensure_hook(
            &HookTarget::organization("acme"),
            "https://service.example.com",
            &[EventKind::Push],
            None,
            HookContentType::Json,
        )
        .await
        .unwrap();
    assert_eq!(ensured.hook.id.get(), oldest);
    assert_eq!(ensured.action, EnsureAction::Unchanged);
    assert_eq!(fake.hooks("orgs/acme").len(), 122);
}

#[tokio::test]
async fn concurrent_ensure_hook_calls_share_one_hook() {
    let fake = FakeGitHub::start().await;
    let client = client(&fake);
    let target = HookTarget::repository("o", "r");
    let ensure = || {
        client.ensure_hook(
            &target,
            "https://service.example.com",
            &[EventKind::Push],
            None,
            HookContentType::Json,
        )
    };
    let (a, b, c) = tokio::join!(ensure(), ensure(), ensure());
    let ids = [a.unwrap().hook.id, b.unwrap().hook.id, c.unwrap().hook.id];
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(fake.hooks("repos/o/r").len(), 1);
}

#[tokio::test]
async fn app_hook_authenticates_with_a_signed_jwt() {
    let public = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/test-app-key.pub.pem"
    ))
    .unwrap();
    let fake = FakeGitHub::start_with_app_key(Some(public)).await;
    let auth = AppJwt::from_pem_file(
        "4242",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/test-app-key.pem"
        ),
    )
    .unwrap();
    assert!(!format!("{auth:?}").contains("PRIVATE"));
    let client = Client::new(auth, options(&fake)).unwrap();
    let app = client.app_hook();
    assert!(app.config().await.unwrap().has_secret);
    let mut update = ConfigUpdate::default();
    update.content_type = Some(HookContentType::Form);
    assert_eq!(
        app.update_config(&update).await.unwrap().content_type,
        Some(HookContentType::Form)
    );
    fake.add_deliveries("app/hook", 5);
    let page = app
        .deliveries()
        .page(&DeliveryQuery::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 5);
    app.deliveries().get(page.items[0].id).await.unwrap();
    // The same hook, chosen at run time.
    let by_ref = client
        .hook_deliveries(&HookRef::App)
        .page(&DeliveryQuery::default())
        .await
        .unwrap();
    assert_eq!(by_ref.items, page.items);
    assert_eq!(
        client.hook_config(&HookRef::App).await.unwrap(),
        app.config().await.unwrap()
    );
    app.deliveries().redeliver(page.items[0].id).await.unwrap();
    // One JWT is signed and reused for every request.
    let authorizations: std::collections::BTreeSet<_> = fake
        .requests()
        .iter()
        .map(|r| r.headers["authorization"].clone())
        .collect();
    assert_eq!(authorizations.len(), 1);

    // A token is not a JWT: the fake refuses it as GitHub does.
    let error = Client::new(Token::new(TOKEN), options(&fake))
        .unwrap()
        .app_hook()
        .config()
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Unauthorized(_)), "{error:?}");
}

/// Collects what `tracing` writes while a test runs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_never_appears_in_errors_debug_or_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = FakeGitHub::start().await;
    let client = client(&fake);
    let hooks = client.repo_hooks("o", "r");
    let mut errors: Vec<ClientError> = Vec::new();
    fake.inject(
        None,
        "repos",
        injected(502, &[], json!({"message": "Server Error"})),
    );
    fake.inject(
        None,
        "repos",
        injected(429, &[("retry-after", "0".into())], json!({})),
    );
    hooks.list().await.unwrap();
    fake.inject(
        None,
        "repos",
        injected(403, &[], json!({"message": "Must have admin rights"})),
    );
    errors.push(hooks.list().await.unwrap_err());
    fake.inject(None, "repos", injected(200, &[], json!({"not": "a list"})));
    errors.push(hooks.list().await.unwrap_err());
    errors.push(hooks.get(HookId::new(99)).await.unwrap_err());
    errors.push(hooks.create(&NewHook::new("")).await.unwrap_err());
    let revoked = Client::new(Token::new("revoked"), options(&fake)).unwrap();
    errors.push(revoked.repo_hooks("o", "r").list().await.unwrap_err());
    // Nothing listens on port 9 of 127.0.0.1 (discard): a transport error.
    let mut unreachable = options(&fake);
    unreachable.base_url = "http://127.0.0.1:9".into();
    unreachable.retry.max_retries = 0;
    errors.push(
        Client::new(Token::new(TOKEN), unreachable)
            .unwrap()
            .repo_hooks("o", "r")
            .list()
            .await
            .unwrap_err(),
    );

    let kinds: Vec<String> = errors
        .iter()
        .map(|e| format!("{e:?}"))
        .map(|d| d[..8].to_owned())
        .collect();
    assert_eq!(errors.len(), 6, "{kinds:?}");
    assert!(matches!(errors[0], ClientError::Forbidden(_)));
    assert!(matches!(errors[1], ClientError::Decode(_)));
    assert!(matches!(errors[2], ClientError::NotFound(_)));
    assert!(matches!(errors[3], ClientError::Validation(_)));
    assert!(matches!(errors[4], ClientError::Unauthorized(_)));
    assert!(matches!(errors[5], ClientError::Transport(_)));

    let mut texts = vec![format!("{client:?}"), format!("{hooks:?}")];
    for error in &errors {
        texts.push(error.to_string());
        texts.push(format!("{error:?}"));
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            texts.push(format!("{inner} {inner:?}"));
            source = inner.source();
        }
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("retrying GitHub request"),
        "the retries were logged: {logs}"
    );
    texts.push(logs);
    let secret_part = &TOKEN[4..];
    for text in texts {
        assert!(!text.contains(secret_part), "the token leaked into: {text}");
    }
}
