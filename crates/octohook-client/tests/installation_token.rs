//! `InstallationToken` over real sockets: a small GitHub on 127.0.0.1 that mints
//! installation tokens on `POST /app/installations/{id}/access_tokens` (checking
//! the app's JWT), counts the mints, and serves `GET /repos/o/r/hooks` only to
//! the token it minted last.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use octohook_client::{
    AppJwt, Client, ClientError, ClientOptions, InstallationToken, RetryOptions,
};
use serde_json::json;

const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/test-app-key.pem"
);
const PUBLIC_KEY: &[u8] = include_bytes!("fixtures/test-app-key.pub.pem");
const INSTALLATION: u64 = 4242;

#[derive(Default)]
struct Mock {
    mints: AtomicU64,
    /// The token `GET` accepts; `None` after a revocation.
    valid: Mutex<Option<String>>,
    /// How long minted tokens live.
    lifetime: Mutex<Duration>,
    /// Mints answered with a 401 (a revoked app) when set.
    refuse_hooks: Mutex<bool>,
}

type Shared = Arc<Mock>;

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

async fn mint(
    State(mock): State<Shared>,
    Path(installation): Path<u64>,
    headers: HeaderMap,
) -> Response {
    // Only the app's JWT may mint, never an installation token.
    let jwt = bearer(&headers).unwrap_or_default();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&["77"]);
    validation.set_required_spec_claims(&["exp", "iat", "iss"]);
    let key = DecodingKey::from_rsa_pem(PUBLIC_KEY).unwrap();
    if jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &validation).is_err() {
        return (StatusCode::UNAUTHORIZED, "bad JWT").into_response();
    }
    if installation != INSTALLATION {
        return StatusCode::NOT_FOUND.into_response();
    }
    // Let concurrent requests pile up behind the mint.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let n = mock.mints.fetch_add(1, Ordering::SeqCst) + 1;
    let token = format!("ghs_minted_{n}");
    *mock.valid.lock().unwrap() = Some(token.clone());
    let lifetime = *mock.lifetime.lock().unwrap();
    let expires_at = time::OffsetDateTime::from(SystemTime::now() + lifetime)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "token": token,
            "expires_at": expires_at,
            "permissions": {"administration": "read"},
            "repository_selection": "all",
        })),
    )
        .into_response()
}

async fn hooks(State(mock): State<Shared>, headers: HeaderMap) -> Response {
    let valid = mock.valid.lock().unwrap().clone();
    if *mock.refuse_hooks.lock().unwrap() || valid.is_none() || bearer(&headers) != valid.as_deref()
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    axum::Json(json!([])).into_response()
}

async fn start(lifetime: Duration) -> (Shared, Client, Arc<InstallationToken>) {
    let mock: Shared = Arc::new(Mock::default());
    *mock.lifetime.lock().unwrap() = lifetime;
    let app = axum::Router::new()
        .route(
            "/app/installations/{installation}/access_tokens",
            post(mint),
        )
        .route("/repos/o/r/hooks", get(hooks))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let auth = Arc::new(InstallationToken::new(
        AppJwt::from_pem_file("77", KEY).unwrap(),
        INSTALLATION,
    ));
    let options = ClientOptions {
        base_url: format!("http://{addr}"),
        retry: RetryOptions {
            max_retries: 0,
            ..RetryOptions::default()
        },
        ..ClientOptions::default()
    };
    let client = Client::new(auth.clone(), options).unwrap();
    (mock, client, auth)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_one_mint() {
    let (mock, client, auth) = start(Duration::from_secs(3600)).await;
    // Spawned all at once (collected), so that they overlap the slow mint.
    let requests: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.repo_hooks("o", "r").list().await })
        })
        .collect();
    for request in requests {
        request.await.unwrap().unwrap();
    }
    assert_eq!(mock.mints.load(Ordering::SeqCst), 1);
    // Later requests reuse the cached token too.
    client.repo_hooks("o", "r").list().await.unwrap();
    assert_eq!(mock.mints.load(Ordering::SeqCst), 1);
    let expires_at = auth.expires_at().expect("a cached token");
    assert!(expires_at > SystemTime::now() + Duration::from_secs(3000));
}

#[tokio::test]
async fn a_token_near_expiry_is_minted_again() {
    // Tokens that live 2 minutes are inside the default 5-minute margin.
    let (mock, client, _auth) = start(Duration::from_secs(120)).await;
    for expected in 1..=3 {
        client.repo_hooks("o", "r").list().await.unwrap();
        assert_eq!(mock.mints.load(Ordering::SeqCst), expected);
    }
}

#[tokio::test]
async fn a_refused_token_is_minted_again_once() {
    let (mock, client, _auth) = start(Duration::from_secs(3600)).await;
    client.repo_hooks("o", "r").list().await.unwrap();
    // GitHub revokes the token (the installation's permissions changed).
    *mock.valid.lock().unwrap() = None;
    client.repo_hooks("o", "r").list().await.unwrap();
    assert_eq!(mock.mints.load(Ordering::SeqCst), 2);

    // A 401 that a fresh token does not cure ends after one more mint.
    *mock.refuse_hooks.lock().unwrap() = true;
    let error = client.repo_hooks("o", "r").list().await.unwrap_err();
    assert!(matches!(error, ClientError::Unauthorized(_)), "{error:?}");
    assert_eq!(mock.mints.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_unknown_installation_is_not_found_and_the_token_stays_secret() {
    let (mock, client, auth) = start(Duration::from_secs(3600)).await;
    client.repo_hooks("o", "r").list().await.unwrap();
    let debug = format!("{auth:?} {client:?}");
    assert!(!debug.contains("ghs_minted"), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");

    let stranger = Client::new(
        InstallationToken::new(AppJwt::from_pem_file("77", KEY).unwrap(), 1),
        client.options().clone(),
    )
    .unwrap();
    let error = stranger.repo_hooks("o", "r").list().await.unwrap_err();
    assert!(matches!(error, ClientError::NotFound(_)), "{error:?}");
    assert_eq!(mock.mints.load(Ordering::SeqCst), 1);
}
