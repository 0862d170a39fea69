//! [`Receiver`]: the whole receiving pipeline of `octohook serve`, built from
//! its configuration: verify, store (or write), process, serve, drain.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::post;
use metrics_exporter_prometheus::PrometheusHandle;
use octohook::{Answer, ReceiveDelivery, Rejection, RejectionLog, VerifiedDelivery, Verifier};
use octohook_inbox::handlers::JsonLines;
use octohook_inbox::{Inbox, Processing};
use octohook_tower::VerifyWebhookLayer;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::admin::{self, Admin};
use crate::{
    LineWriter, ProcessingConfig, ProcessingError, ServerConfig, StoreConfig, StoreOpenError,
};

/// Connections the admin listener keeps open at most: plenty for probes and
/// scrapers.
const ADMIN_MAX_CONNECTIONS: usize = 64;

/// A receiving pipeline, started: the store is open, the workers run, the
/// admin endpoints (if asked for) answer. [`serve`](Self::serve) then serves
/// deliveries until shutdown, and drains the workers.
///
/// [`Receiver::start`] takes a [`Verifier`] and a [`ReceiverConfig`]: what to
/// keep the deliveries in ([`StoreConfig`]), how to process them
/// ([`ProcessingConfig`]), where their lines go, the server's limits
/// ([`ServerConfig`]) and an admin address. This is what `octohook serve`
/// runs; its flags map to these settings one to one.
///
/// With an inbox, each verified delivery is stored once per (hook, GUID) and
/// answered 200 after the commit (503 with `Retry-After` when it cannot be
/// stored); the workers then write its line and run the handlers. With
/// [`StoreConfig::None`], the [`LineWriter`] writes the line and then answers.
/// Either way the route answers through [`ReceiveDelivery`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use octohook::{Verifier, WebhookSecret};
/// use octohook_inbox::handlers::JsonLines;
/// use octohook_server::{ProcessingConfig, Receiver, ReceiverConfig, ServerConfig, StoreConfig};
///
/// let verifier = Verifier::new(WebhookSecret::new("s3cret").unwrap());
/// let config = ReceiverConfig {
///     path: "/hooks".to_owned(),
///     store: StoreConfig::Memory { size_limit: None },
///     processing: ProcessingConfig { max_attempts: 8, ..ProcessingConfig::default() },
///     lines: Some(JsonLines::append_to(std::env::temp_dir().join("octohook-doc.jsonl"))?),
///     server: ServerConfig::default().with_read_timeout(Duration::from_secs(5)),
///     ..ReceiverConfig::default()
/// };
/// let receiver = Receiver::start(verifier, config).await?;
/// assert_eq!(receiver.workers(), 1); // lines alone: one worker, in order
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// // `octohook_server::shutdown_signal()` for Ctrl-C and SIGTERM.
/// receiver.serve(listener, async {}).await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Receiver {
    app: Router,
    server: ServerConfig,
    processing: Option<Processing>,
    shutdown_timeout: Duration,
    admin: Option<(SocketAddr, JoinHandle<()>)>,
    /// The inbox, for [`Receiver::pull`](crate::PullConfig).
    #[cfg(feature = "pull")]
    pub(crate) inbox: Option<Inbox>,
    #[cfg(feature = "pull")]
    pub(crate) pulls: crate::pull_config::PullTasks,
}

/// The settings of a [`Receiver`]; [`Default`] gives path `/`, an inbox in
/// memory, [`ProcessingConfig::default`], lines on standard output,
/// [`ServerConfig::default`], and no admin endpoints.
#[derive(Debug)]
pub struct ReceiverConfig {
    /// The path deliveries are posted to; it must start with `/`.
    pub path: String,
    /// Where deliveries are kept.
    pub store: StoreConfig,
    /// How stored deliveries are processed.
    pub processing: ProcessingConfig,
    /// Where each delivery's JSON line goes (standard output when `None`):
    /// written by the workers from the inbox, or, without one, before the
    /// delivery is answered.
    pub lines: Option<JsonLines>,
    /// The server's timeouts and connection cap; the read timeout bounds the
    /// request bodies too.
    pub server: ServerConfig,
    /// How rejected requests are logged (the layer's default when `None`).
    pub rejection_log: Option<RejectionLog>,
    /// The names of the verifier's secrets, in its order, for the log line of
    /// each delivery accepted without an inbox (see
    /// [`LineWriter::with_secret_sources`]).
    pub secret_sources: Vec<String>,
    /// Also serve `GET /healthz` and `GET /metrics` (see [`admin`]) on this
    /// address, on a listener of their own.
    pub admin: Option<SocketAddr>,
    /// The Prometheus handle `/metrics` renders, for a process that installed
    /// its recorder itself; when `None`, [`Receiver::start`] installs one (with
    /// `admin` only).
    pub prometheus: Option<PrometheusHandle>,
}

/// Why a [`Receiver`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    /// The path deliveries are posted to does not start with `/`.
    #[error("--path must start with '/'")]
    Path,
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreOpenError),
    /// The handlers could not be set up.
    #[error(transparent)]
    Processing(#[from] ProcessingError),
    /// The Prometheus recorder could not be installed (another `metrics`
    /// recorder is, say: give its handle in [`ReceiverConfig::prometheus`]).
    #[error("cannot install the Prometheus recorder: {0}")]
    Recorder(#[from] metrics_exporter_prometheus::BuildError),
    /// The admin address could not be listened on.
    #[error("cannot listen on {address} (--admin-bind): {source}")]
    Admin {
        /// The address asked for.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        Self {
            path: "/".to_owned(),
            store: StoreConfig::Memory { size_limit: None },
            processing: ProcessingConfig::default(),
            lines: None,
            server: ServerConfig::default(),
            rejection_log: None,
            secret_sources: Vec::new(),
            admin: None,
            prometheus: None,
        }
    }
}

impl Receiver {
    /// Opens the store, starts the workers and the admin endpoints: a
    /// receiver verifying with `verifier`, ready to [`serve`](Self::serve).
    pub async fn start(verifier: Verifier, config: ReceiverConfig) -> Result<Self, ReceiverError> {
        if !config.path.starts_with('/') {
            return Err(ReceiverError::Path);
        }
        if config.processing.has_handler() && config.store == StoreConfig::None {
            return Err(ProcessingError::NoInbox.into());
        }
        let store = config.store.open().await?;
        // Before anything records a metric.
        let prometheus = match (config.admin, config.prometheus) {
            (Some(_), Some(handle)) => Some(handle),
            (Some(_), None) => Some(admin::install_prometheus_recorder()?),
            (None, _) => None,
        };
        let mut layer =
            VerifyWebhookLayer::new(verifier).with_read_timeout(config.server.read_timeout());
        if let Some(log) = config.rejection_log {
            layer = layer.with_rejection_log(log);
        }
        let lines = config.lines.unwrap_or_else(JsonLines::stdout);
        let inbox = store.map(Inbox::from_shared);
        // With an inbox, a delivery is answered once committed and its line
        // written by a worker; without one, the line is written before the
        // answer.
        let (receiver, processing): (Arc<dyn ReceiveDelivery>, _) = match &inbox {
            Some(inbox) => {
                // Brokers are checked before the first delivery is answered.
                #[cfg(any(feature = "nats", feature = "amqp"))]
                let handler = config
                    .processing
                    .handler(lines, config.processing.publishers().await?)?;
                #[cfg(not(any(feature = "nats", feature = "amqp")))]
                let handler = config.processing.handler(lines)?;
                let processing = config.processing.start(inbox, handler);
                (Arc::new(inbox.clone()), Some(processing))
            }
            None => {
                let writer = LineWriter::new(lines).with_secret_sources(config.secret_sources);
                (Arc::new(writer), None)
            }
        };
        let app = Router::new()
            .route(&config.path, post(receive))
            .route_layer(layer)
            .with_state(receiver);
        let admin = match (config.admin, prometheus) {
            (Some(address), Some(prometheus)) => {
                let mut admin = Admin::new(prometheus);
                if let Some(inbox) = &inbox {
                    admin = admin.with_inbox(inbox.clone());
                }
                Some(serve_admin(address, admin, &config.server).await?)
            }
            _ => None,
        };
        Ok(Self {
            app,
            server: config.server,
            processing,
            shutdown_timeout: config.processing.shutdown_timeout,
            admin,
            #[cfg(feature = "pull")]
            inbox,
            #[cfg(feature = "pull")]
            pulls: crate::pull_config::PullTasks::default(),
        })
    }

    /// How many workers process the inbox (0 without one).
    pub fn workers(&self) -> usize {
        self.processing.as_ref().map_or(0, Processing::workers)
    }

    /// Where the admin endpoints listen, when asked for.
    pub fn admin_address(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(address, _)| *address)
    }

    /// Serves deliveries on `listener` until `shutdown` resolves (see
    /// [`serve`](crate::serve)); then lets the workers finish their handlers
    /// within the processing's `shutdown_timeout`, and stops the admin
    /// endpoints.
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        tracing::info!(
            open_files = crate::server::open_file_limit(),
            max_connections = self.server.max_connections(),
            http2 = self.server.http2(),
            "connections"
        );
        crate::serve(listener, self.app, &self.server, shutdown).await;
        #[cfg(feature = "pull")]
        self.pulls.stop();
        if let Some(processing) = self.processing {
            processing.drain(self.shutdown_timeout).await;
        }
        if let Some((_, admin)) = self.admin {
            admin.abort();
        }
        tracing::info!("stopped");
    }
}

/// The route: hands the delivery the layer verified to the receiver, and
/// answers as it says.
async fn receive(State(receiver): State<Arc<dyn ReceiveDelivery>>, request: Request) -> Response {
    // The body was read (and verified) by the layer; only the parts remain.
    let (mut parts, _) = request.into_parts();
    let answer = match parts.extensions.remove::<VerifiedDelivery>() {
        #[cfg(feature = "otel")]
        Some(delivery) => {
            use tracing::Instrument;
            // Verified deliveries only: a refused request makes no span.
            let span = receive_span(&delivery);
            receiver.receive(delivery).instrument(span).await
        }
        #[cfg(not(feature = "otel"))]
        Some(delivery) => receiver.receive(delivery).await,
        None => Answer::from(&Rejection::NotConfigured),
    };
    answer.into_response::<Body>()
}

/// The root span of a verified delivery's trace (see [`telemetry`](crate::telemetry)):
/// its GUID, event and hook id, as the log's `delivery` span has them.
#[cfg(feature = "otel")]
fn receive_span(delivery: &VerifiedDelivery) -> tracing::Span {
    tracing::info_span!(
        "receive",
        otel.kind = "server",
        delivery = %delivery.guid(),
        event = %delivery.event_kind(),
        hook_id = delivery.hook_id().map(|id| id.get()),
    )
}

/// Starts the admin endpoints on the hardened server, as a task that runs
/// until aborted.
async fn serve_admin(
    address: SocketAddr,
    admin: Admin,
    server: &ServerConfig,
) -> Result<(SocketAddr, JoinHandle<()>), ReceiverError> {
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| ReceiverError::Admin { address, source })?;
    let address = listener
        .local_addr()
        .map_err(|source| ReceiverError::Admin { address, source })?;
    tracing::info!(%address, "admin endpoints at http://{address}/healthz and /metrics");
    let config = ServerConfig::default()
        .with_read_timeout(server.read_timeout())
        .with_max_connections(ADMIN_MAX_CONNECTIONS);
    let task = tokio::spawn(async move {
        crate::serve(listener, admin.router(), &config, std::future::pending()).await;
    });
    Ok((address, task))
}
