//! The admin endpoints of a receiver, for its operators and their tools:
//! `GET /healthz` and `GET /metrics` in Prometheus' text format.
//! `octohook serve --admin-bind` serves this router on a second
//! listener; a service that embeds the library can do the same, or merge the
//! router into one of its own.
//!
//! - `/healthz` answers `200 ok` when deliveries can be accepted: the inbox's
//!   store is reachable, writable and not full ([`Inbox::health`]) within the
//!   [health timeout](Admin::with_health_timeout). Otherwise it answers 503 with
//!   the reason on one line. A SQLite or memory store at its size limit, or
//!   whose last new delivery was refused for want of room, is full (see
//!   [`DeliveryStore::health`](octohook_inbox::DeliveryStore::health)).
//! - `/metrics` renders every metric recorded through the `metrics` facade
//!   (`octohook_deliveries_total`, `octohook_rejections_total`, the handler
//!   series of `octohook_inbox::metrics`, and the service's own), after setting
//!   `octohook_inbox_deliveries{status}` from the store.
//!
//! Neither waits behind the deliveries it reports on. Counting a large inbox is
//! a table scan, so `/metrics` counts at most once per
//! [counts' age](Admin::with_counts_max_age) (5 s by default), one count at a
//! time: concurrent scrapes wait for the count under way and share it. The
//! stores count off their write path (SQLite on a read-only connection beside
//! the writer, PostgreSQL in a read-only transaction under a statement
//! timeout, the memory store from counts kept as rows change). `/healthz` never
//! counts: it asks the store whether a delivery could be written now.
//!
//! Keep the admin listener off the public network: it needs no secret.
//!
//! ```no_run
//! use octohook_inbox::Inbox;
//! use octohook_server::admin::{self, Admin};
//! use octohook_server::{ServerConfig, serve, shutdown_signal};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let prometheus = admin::install_prometheus_recorder()?;
//! let inbox = Inbox::in_memory();
//! let router = Admin::new(prometheus).with_inbox(inbox).router();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9090").await?;
//! serve(listener, router, &ServerConfig::default(), shutdown_signal()).await;
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use octohook_inbox::Inbox;
use octohook_inbox::metrics::{HANDLER_DURATION_SECONDS, record_counts};

/// The `Content-Type` of `/metrics`: Prometheus' text exposition format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long `/healthz` waits for the store by default.
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// How old the counts `/metrics` reports may be by default: a count is a table
/// scan, done at most this often however many scrape.
pub const DEFAULT_COUNTS_MAX_AGE: Duration = Duration::from_secs(5);

/// The buckets of `octohook_handler_duration_seconds`, in seconds: from 5 ms to
/// the default `--exec` timeout.
pub const HANDLER_DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Installs a Prometheus recorder as the process's `metrics` recorder, with
/// histogram buckets for the handler durations, and returns the handle that
/// renders it. Call it once, before anything records; it fails when a recorder
/// is already installed.
pub fn install_prometheus_recorder() -> Result<PrometheusHandle, BuildError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(HANDLER_DURATION_SECONDS.to_owned()),
            HANDLER_DURATION_BUCKETS,
        )?
        .install_recorder()
}

/// What the admin router reports on: the Prometheus handle, and the inbox
/// whose store `/healthz` checks (none for a receiver without one, which is
/// then always healthy while it runs).
#[derive(Clone)]
pub struct Admin {
    prometheus: PrometheusHandle,
    inbox: Option<Inbox>,
    health_timeout: Duration,
    counts_max_age: Duration,
    /// When the inbox was last counted; locked across a count, so that
    /// concurrent scrapes make one.
    last_count: Arc<tokio::sync::Mutex<Option<Instant>>>,
}

impl fmt::Debug for Admin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admin")
            .field("inbox", &self.inbox)
            .field("health_timeout", &self.health_timeout)
            .field("counts_max_age", &self.counts_max_age)
            .finish_non_exhaustive()
    }
}

impl Admin {
    /// Admin endpoints rendering `prometheus` (see
    /// [`install_prometheus_recorder`]).
    pub fn new(prometheus: PrometheusHandle) -> Self {
        Self {
            prometheus,
            inbox: None,
            health_timeout: DEFAULT_HEALTH_TIMEOUT,
            counts_max_age: DEFAULT_COUNTS_MAX_AGE,
            last_count: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// Reports on `inbox`: its store's health and its deliveries by status.
    pub fn with_inbox(mut self, inbox: Inbox) -> Self {
        self.inbox = Some(inbox);
        self
    }

    /// How long `/healthz` (and `/metrics`, for the counts) waits for the store
    /// before answering that it is unavailable.
    pub fn with_health_timeout(mut self, timeout: Duration) -> Self {
        self.health_timeout = timeout;
        self
    }

    /// Counts the inbox's deliveries for `/metrics` at most once per `max_age`
    /// ([`DEFAULT_COUNTS_MAX_AGE`] by default); scrapes in between report the
    /// last count. `Duration::ZERO` counts on every scrape (still one at a time).
    pub fn with_counts_max_age(mut self, max_age: Duration) -> Self {
        self.counts_max_age = max_age;
        self
    }

    /// The router: `GET /healthz` and `GET /metrics`.
    pub fn router(self) -> Router {
        Router::new()
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics))
            .with_state(self)
    }

    /// `Ok` when deliveries can be accepted, else why not.
    pub async fn health(&self) -> Result<(), String> {
        let Some(inbox) = &self.inbox else {
            return Ok(());
        };
        match tokio::time::timeout(self.health_timeout, inbox.health()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(format!("the inbox cannot store deliveries: {error}")),
            Err(_) => Err(format!(
                "the inbox did not answer within {:?}",
                self.health_timeout
            )),
        }
    }
}

impl Admin {
    /// Sets `octohook_inbox_deliveries` from a count of `inbox`, unless one was
    /// made within the counts' max age. Scrapes arriving during a count wait
    /// for it (at most the health timeout) and then find it fresh.
    async fn count(&self, inbox: &Inbox) {
        let Ok(mut last_count) =
            tokio::time::timeout(self.health_timeout, self.last_count.lock()).await
        else {
            // Another scrape's count is taking long; that one reports it.
            return;
        };
        if last_count.is_some_and(|at| at.elapsed() < self.counts_max_age) {
            return;
        }
        // A store that does not answer leaves the gauge at its last value (the
        // other series are still served), and is asked again only after the
        // max age, not by every waiting scrape in turn.
        match tokio::time::timeout(self.health_timeout, inbox.counts()).await {
            Ok(Ok(counts)) => record_counts(&counts),
            Ok(Err(error)) => tracing::warn!(%error, "cannot count the inbox's deliveries"),
            Err(_) => tracing::warn!("the inbox did not count its deliveries in time"),
        }
        *last_count = Some(Instant::now());
    }
}

async fn healthz(State(admin): State<Admin>) -> Response {
    match admin.health().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(reason) => {
            tracing::warn!(%reason, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("unavailable: {reason}\n"),
            )
                .into_response()
        }
    }
}

async fn metrics(State(admin): State<Admin>) -> Response {
    if let Some(inbox) = &admin.inbox {
        admin.count(inbox).await;
    }
    admin.prometheus.run_upkeep();
    let mut response = admin.prometheus.render().into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE));
    response
}
