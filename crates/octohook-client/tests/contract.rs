//! Contract: every client operation against prism serving GitHub's own OpenAPI
//! description (`@octokit/openapi`, pinned in `tests/github-api-mock`). A recording
//! proxy in front of prism checks that no request breaks the description (prism
//! reports violations in an `sl-violations` header, and answers 422 to bad bodies),
//! and every answer must decode into the client's models.
//!
//! Needs `scripts/github-api-mock-setup` to have run; fails (never skips) if not.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use octohook_client::{
    AppHook, AppJwt, Client, ClientOptions, ConfigUpdate, DeliveryId, DeliveryOutcome,
    DeliveryQuery, EnsureAction, EventKind, HookContentType, HookTarget, HookUpdate, Hooks,
    InstallationToken, NewHook, RetryOptions, Token, WebhookSecret,
};

const SETUP: &str = "scripts/github-api-mock-setup";

fn mock_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/github-api-mock")
}

/// prism, killed by its PID when dropped.
struct Prism {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Prism {
    fn start() -> Self {
        let dir = mock_dir();
        let prism = dir.join("node_modules/.bin/prism");
        let spec = dir.join("spec/github-hooks.json");
        for needed in [&prism, &spec] {
            assert!(
                needed.exists(),
                "the GitHub API mock is not installed: {} is missing. Run `{SETUP}` \
                 from the repository root first (it needs Node 20 and npm).",
                needed.display()
            );
        }
        // A free port: bind, read it, release it for prism.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port on 127.0.0.1")
            .port();
        let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("prism-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("prism's log file");
        let child = Command::new(&prism)
            .args(["mock", "--multiprocess=false", "-h", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .arg(&spec)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}; run `{SETUP}`", prism.display()));
        Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        }
    }

    /// Waits until prism accepts connections.
    fn wait_ready(&mut self, limit: Duration) -> Duration {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "prism exited with {status} before answering; see {}",
                    self.log.display()
                );
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_ok() {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "prism did not answer within {limit:?}; see {}",
            self.log.display()
        );
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        // Child::kill signals exactly this PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone)]
struct Exchange {
    request: String,
    status: u16,
    violations: Vec<serde_json::Value>,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    log: Arc<Mutex<Vec<Exchange>>>,
}

/// Forwards to prism and records each exchange with prism's violations.
async fn forward(
    State(proxy): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = format!(
        "{}{}",
        proxy.upstream,
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    // The headers GitHub requires are checked here, then the vendor media type
    // is given to prism as `application/json`, the only one the description
    // lists (GitHub answers vnd.github+json requests with application/json).
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    assert_eq!(
        header("accept"),
        "application/vnd.github+json",
        "{method} {uri}"
    );
    assert_eq!(
        header("x-github-api-version"),
        "2022-11-28",
        "{method} {uri}"
    );
    assert!(
        header("user-agent").starts_with("octohook-client/"),
        "{method} {uri}"
    );
    assert!(
        header("authorization").starts_with("Bearer "),
        "{method} {uri}"
    );
    let mut request = proxy.http.request(method.clone(), &target).body(body);
    for (name, value) in &headers {
        if !matches!(name.as_str(), "host" | "content-length" | "accept") {
            request = request.header(name, value);
        }
    }
    request = request.header("accept", "application/json");
    let response = request.send().await.expect("prism answers");
    let status = response.status();
    let mut forwarded = HeaderMap::new();
    for name in ["content-type", "link"] {
        if let Some(value) = response.headers().get(name) {
            forwarded.insert(name, value.clone());
        }
    }
    let violations = response
        .headers()
        .get("sl-violations")
        .map(|v| serde_json::from_slice(v.as_bytes()).expect("sl-violations is JSON"))
        .unwrap_or_default();
    proxy.log.lock().unwrap().push(Exchange {
        request: format!("{method} {uri}"),
        status: status.as_u16(),
        violations,
    });
    let body = response.bytes().await.expect("prism's body");
    (
        StatusCode::from_u16(status.as_u16()).unwrap(),
        forwarded,
        body,
    )
        .into_response()
}

/// `example_url` is the URL of the hook in the description's list example.
async fn exercise_hooks(hooks: &Hooks, repository: bool, example_url: &str) {
    let list = hooks.page(30, 1).await.expect("list hooks");
    assert!(!list.items.is_empty());
    // prism sends the description's example `Link` (next: page 2) on every page;
    // the stream follows it once, then stops when page 2 names itself again.
    assert_eq!(list.next, Some(2));
    assert_eq!(
        hooks.list().await.expect("list every hook").len(),
        2 * list.items.len()
    );
    let id = list.items[0].id;

    let mut new = NewHook::new("https://service.example.com/github");
    new.events = vec![EventKind::Push, EventKind::PullRequest];
    new.content_type = Some(HookContentType::Json);
    new.secret = Some(WebhookSecret::new("s3cret").unwrap());
    hooks.create(&new).await.expect("create hook");
    hooks.get(id).await.expect("get hook");

    let mut events = HookUpdate::default();
    events.events = Some(vec![EventKind::Push]);
    events.active = Some(true);
    hooks.update(id, &events).await.expect("update events");
    let mut config = ConfigUpdate::default();
    config.url = Some("https://service.example.com/github".into());
    config.content_type = Some(HookContentType::Json);
    let mut full = HookUpdate::default();
    full.config = Some(config.clone());
    full.active = Some(false);
    hooks.update(id, &full).await.expect("update with config");
    if repository {
        let mut changes = HookUpdate::default();
        changes.add_events = vec![EventKind::Issues];
        changes.remove_events = vec![EventKind::Push];
        hooks
            .update(id, &changes)
            .await
            .expect("add and remove events");
    }
    hooks.delete(id).await.expect("delete hook");

    assert!(hooks.config(id).await.expect("get config").url.is_some());
    config.secret = Some(WebhookSecret::new("rotated").unwrap());
    hooks
        .update_config(id, &config)
        .await
        .expect("update config");

    hooks.ping(id).await.expect("ping");
    if repository {
        hooks.test(id).await.expect("test");
    }

    let deliveries = hooks.deliveries(id);
    exercise_deliveries(&deliveries).await;

    // prism answers the description's example hook (push and pull_request, json):
    // ensure_hook finds it.
    let ensured = hooks
        .ensure(
            example_url,
            &[EventKind::Push, EventKind::PullRequest],
            None,
            HookContentType::Json,
        )
        .await
        .expect("ensure an existing hook");
    assert_eq!(ensured.action, EnsureAction::Unchanged);
    let ensured = hooks
        .ensure(
            example_url,
            &[EventKind::Issues],
            Some(&WebhookSecret::new("s3cret").unwrap()),
            HookContentType::Form,
        )
        .await
        .expect("ensure with other settings");
    assert_eq!(ensured.action, EnsureAction::Updated);
    hooks
        .ensure(
            "https://not-there.example.com/hook",
            &[EventKind::Push],
            None,
            HookContentType::Json,
        )
        .await
        .expect("ensure a new hook");
}

async fn exercise_deliveries(deliveries: &octohook_client::Deliveries) {
    let page = deliveries
        .page(&DeliveryQuery::default())
        .await
        .expect("list deliveries");
    assert!(!page.items.is_empty());
    let filtered = DeliveryQuery {
        per_page: 50,
        status: Some(DeliveryOutcome::Failure),
        redelivery: Some(false),
        cursor: Some(octohook_client::DeliveryCursor::new("v1_12345")),
    };
    deliveries
        .page(&filtered)
        .await
        .expect("list filtered deliveries");
    let all: Vec<_> = deliveries
        .stream(DeliveryQuery::default())
        .try_collect()
        .await
        .expect("stream deliveries");
    assert_eq!(all.len(), page.items.len());
    let id: DeliveryId = page.items[0].id;
    deliveries.get(id).await.expect("get delivery");
    deliveries.redeliver(id).await.expect("redeliver");
}

async fn exercise_app(app: &AppHook) {
    assert!(app.config().await.expect("get app hook config").has_secret);
    let mut update = ConfigUpdate::default();
    update.content_type = Some(HookContentType::Json);
    update.secret = Some(WebhookSecret::new("s3cret").unwrap());
    update.url = Some("https://service.example.com/github".into());
    app.update_config(&update)
        .await
        .expect("update app hook config");
    exercise_deliveries(&app.deliveries()).await;
}

/// prism behind the recording proxy: what each test starts.
struct Mock {
    /// Kept for its `Drop`, which stops prism.
    _prism: Prism,
    ready: Duration,
    log: Arc<Mutex<Vec<Exchange>>>,
    /// Client options pointing at the proxy, without retries.
    options: ClientOptions,
}

impl Mock {
    async fn start() -> Self {
        let mut prism = Prism::start();
        let ready = prism.wait_ready(Duration::from_secs(60));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_addr = listener.local_addr().unwrap();
        let proxy = Proxy {
            upstream: format!("http://{}", prism.addr),
            http: {
                // reqwest is built without a default crypto provider in this workspace.
                let _ = rustls::crypto::ring::default_provider().install_default();
                reqwest::Client::new()
            },
            log: Arc::default(),
        };
        let log = proxy.log.clone();
        let app = axum::Router::new().fallback(forward).with_state(proxy);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let options = ClientOptions {
            base_url: format!("http://{proxy_addr}"),
            retry: RetryOptions {
                max_retries: 0,
                ..RetryOptions::default()
            },
            ..ClientOptions::default()
        };
        Self {
            _prism: prism,
            ready,
            log,
            options,
        }
    }

    /// Every exchange so far, failing the test if prism rejected a request.
    fn exchanges(&self) -> Vec<Exchange> {
        let exchanges = self.log.lock().unwrap().clone();
        let rejected: Vec<&Exchange> = exchanges
            .iter()
            .filter(|e| {
                e.status == 422 || e.violations.iter().any(|v| v["location"][0] == "request")
            })
            .collect();
        assert!(
            rejected.is_empty(),
            "prism rejected requests: {rejected:#?}"
        );
        exchanges
    }
}

#[tokio::test]
async fn every_operation_passes_githubs_openapi_description() {
    let started = Instant::now();
    let mock = Mock::start().await;
    let options = mock.options.clone();
    // prism does not check credentials; the JWT path is covered by the behaviour
    // tests, which verify its signature.
    let client = Client::new(Token::new("ghp_contract"), options.clone()).unwrap();

    exercise_hooks(
        &client.hooks(HookTarget::repository("octocat", "hello-world")),
        true,
        "https://example.com/webhook",
    )
    .await;
    exercise_hooks(
        &client.hooks(HookTarget::organization("octo-org")),
        false,
        "http://example.com",
    )
    .await;
    exercise_app(&client.app_hook()).await;

    // An installation token minted as GitHub's description says, then used.
    let app = AppJwt::from_pem_file(
        "1",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/test-app-key.pem"
        ),
    )
    .unwrap();
    let installation = Client::new(InstallationToken::new(app, 1), options).unwrap();
    installation
        .hooks(HookTarget::repository("octocat", "hello-world"))
        .list()
        .await
        .expect("list hooks with an installation token");

    let exchanges = mock.exchanges();
    let mints: Vec<&Exchange> = exchanges
        .iter()
        .filter(|e| e.request == "POST /app/installations/1/access_tokens")
        .collect();
    // The description's example token expired in 2016: each request mints anew.
    assert!(
        !mints.is_empty() && mints.iter().all(|e| e.status == 201),
        "{exchanges:#?}"
    );
    // Operations: 13 + 11 + 5 + 1 client calls, some of them several requests.
    assert!(exchanges.len() >= 40, "{}", exchanges.len());
    // Violations located in a response are GitHub's description contradicting its
    // own examples (the redelivery example is `null`, not an object): reported,
    // not failed on.
    let response_violations: Vec<_> = exchanges
        .iter()
        .filter(|e| !e.violations.is_empty())
        .map(|e| (&e.request, &e.violations))
        .collect();
    eprintln!(
        "contract: prism ready after {:?}; {} requests in {:?}; response-side violations in the description itself: {}",
        mock.ready,
        exchanges.len(),
        started.elapsed(),
        response_violations.len()
    );
}

/// The pull source, run once against the description's example responses for
/// each kind of hook, each into its own in-memory inbox. The listing and the
/// detail must parse; then the delivery the detail example describes is either
/// stored as a pulled delivery (origin `Pulled`, the example's event and GUID)
/// or, when its recorded request is not one a receiver could have accepted,
/// refused with the typed error that says what is missing, and not stored.
///
/// The examples (`@octokit/openapi` 23.0.2): the listing holds two attempts of
/// one GUID (the second a redelivery); the detail holds a complete request
/// (`X-GitHub-Event: issues`, `X-GitHub-Delivery`, `X-GitHub-Hook-ID: 42`, a
/// JSON object payload), so each run stores that one delivery.
#[cfg(feature = "pull")]
#[tokio::test]
async fn pull_source_stores_what_the_descriptions_examples_hold() {
    use std::collections::BTreeSet;

    use octohook::PulledDelivery;
    use octohook_client::pull::{PullOptions, PullSource, SkipReason};
    use octohook_client::{HookId, HookRef};
    use octohook_inbox::{DeliveryOrigin, Inbox, ListQuery};

    let mock = Mock::start().await;
    let client = Client::new(Token::new("ghp_contract"), mock.options.clone()).unwrap();
    // The examples were delivered in 2019: look back as far as there is.
    let options = PullOptions {
        since: Duration::MAX,
        ..PullOptions::default()
    };
    let hooks = [
        HookRef::repository("octocat", "hello-world", HookId::new(42)),
        HookRef::organization("octo-org", HookId::new(42)),
        HookRef::App,
    ];
    let mut stored_total = 0;
    for hook in hooks {
        // What the examples hold, read through the client the source uses.
        let deliveries = client.hook_deliveries(&hook);
        let listing = deliveries
            .page(&DeliveryQuery::default())
            .await
            .unwrap_or_else(|e| panic!("{hook}: the listing example does not parse: {e}"));
        let guids: BTreeSet<_> = listing.items.iter().map(|d| d.guid.clone()).collect();
        assert!(!guids.is_empty(), "{hook}: the listing example is empty");
        let oldest = listing
            .items
            .iter()
            .min_by_key(|d| (d.delivered_at, d.id))
            .unwrap();
        let detail = deliveries
            .get(oldest.id)
            .await
            .unwrap_or_else(|e| panic!("{hook}: the detail example does not parse: {e}"));
        assert!(
            guids.contains(&detail.summary.guid),
            "{hook}: the detail example's GUID {} is not listed",
            detail.summary.guid
        );
        // What a receiver would make of the recorded request: the same
        // function the source calls.
        // What a receiver would make of the recorded request: the function
        // the source calls (no headers recorded: none to parse; no payload:
        // `null`, which is not a JSON object).
        let no_headers = serde_json::Map::new();
        let expected = PulledDelivery::from_github_api(
            detail
                .request
                .headers
                .as_ref()
                .unwrap_or(&no_headers)
                .iter()
                .filter_map(|(name, value)| Some((name.as_str(), value.as_str()?))),
            detail
                .request
                .payload
                .as_ref()
                .unwrap_or(&serde_json::Value::Null),
        );

        let inbox = Inbox::in_memory();
        let source = PullSource::new(client.clone(), hook.clone(), inbox.clone(), options.clone());
        let report = source
            .run()
            .await
            .unwrap_or_else(|e| panic!("{hook}: the pull failed: {e}"));
        // One delivery per GUID, each read once; the cursor moves past them.
        assert_eq!(report.listed, guids.len() as u64, "{hook}: {report:?}");
        assert_eq!(report.fetched, guids.len() as u64, "{hook}: {report:?}");
        assert!(report.cursor_saved, "{hook}: {report:?}");
        let stored = inbox
            .store()
            .list(&ListQuery::default())
            .await
            .expect("list the inbox");
        match expected {
            Ok(pulled) => {
                assert_eq!(pulled.guid(), &detail.summary.guid, "{hook}");
                assert_eq!(pulled.event_kind(), &detail.summary.event, "{hook}");
                // Every attempt read carries the one example GUID: one row.
                assert_eq!(report.stored, 1, "{hook}: {report:?}");
                assert_eq!(report.unavailable, 0, "{hook}: {report:?}");
                assert_eq!(stored.len(), 1, "{hook}: {stored:#?}");
                let row = &stored[0];
                assert_eq!(row.origin, DeliveryOrigin::Pulled, "{hook}");
                assert_eq!(row.key.guid, detail.summary.guid, "{hook}");
                assert_eq!(row.event, detail.summary.event, "{hook}");
                assert_eq!(row.key.hook_id, pulled.hook_id(), "{hook}");
                assert_eq!(row.action, detail.summary.action, "{hook}");
                let body: serde_json::Value =
                    serde_json::from_slice(&row.body).expect("the stored body is JSON");
                assert_eq!(Some(&body), detail.request.payload.as_ref(), "{hook}");
                stored_total += 1;
            }
            Err(error) => {
                // Refused for a reason a receiver would give, naming it.
                assert!(
                    matches!(
                        error,
                        octohook::Error::MissingHeader(_)
                            | octohook::Error::InvalidHeader { .. }
                            | octohook::Error::MissingContentType
                            | octohook::Error::InvalidPayload(_)
                    ),
                    "{hook}: refused for an unexpected reason: {error}"
                );
                // A required header the recorded request lacks is the one named.
                let recorded = |wanted: &str| {
                    detail.request.headers.as_ref().is_some_and(|headers| {
                        headers.iter().any(|(name, value)| {
                            name.eq_ignore_ascii_case(wanted) && value.is_string()
                        })
                    })
                };
                if let Some(missing) = ["X-GitHub-Event", "X-GitHub-Delivery"]
                    .into_iter()
                    .find(|name| !recorded(name))
                {
                    assert!(
                        matches!(error, octohook::Error::MissingHeader(name) if name == missing),
                        "{hook}: the example lacks {missing}, but the refusal says: {error}"
                    );
                }
                eprintln!("contract: {hook}: the example delivery is refused: {error}");
                assert_eq!(report.stored, 0, "{hook}: {report:?}");
                assert_eq!(report.unavailable, 1, "{hook}: {report:?}");
                // The report names the delivery and the same refusal.
                let [skipped] = report.skipped.as_slice() else {
                    panic!("{hook}: one skipped delivery listed: {report:?}");
                };
                assert_eq!(skipped.guid, detail.summary.guid, "{hook}");
                assert!(
                    matches!(&skipped.reason, SkipReason::Refused(refused) if refused.to_string() == error.to_string()),
                    "{hook}: skipped for {}, refused for {error}",
                    skipped.reason
                );
                assert!(stored.is_empty(), "{hook}: {stored:#?}");
            }
        }
    }
    let exchanges = mock.exchanges();
    eprintln!(
        "contract: pull source: {} requests for 3 hooks; {stored_total} example deliveries stored",
        exchanges.len()
    );
}
