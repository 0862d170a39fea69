//! A hardened HTTP server for a webhook receiver: what `octohook serve` runs
//! on, for any axum router or tower service.
//!
//! `axum::serve` sets no timer on its connections, so it has no timeout on the
//! request head: a client that connects and sends nothing, or trickles its head a
//! byte at a time, holds a connection for as long as it likes. [`serve`], with
//! the read timeout `T` of its [`ServerConfig`]:
//! - gives a new connection `T` to show which protocol it speaks: the first
//!   bytes of an HTTP/1 request, or the whole HTTP/2 preface;
//! - gives an HTTP/1 request head `T` from when the server starts waiting for it
//!   (hyper's `header_read_timeout`), which also closes a keep-alive connection
//!   left idle for `T`;
//! - leaves the body to [`VerifyWebhookLayer::with_read_timeout`](octohook_tower::VerifyWebhookLayer::with_read_timeout),
//!   which the caller sets to `T` too;
//! - closes a connection that has had no request in progress for `T`, over
//!   HTTP/2 too (where answering PINGs would otherwise keep it open for ever);
//! - caps the open connections below the open-file limit (see
//!   [`ServerConfig::with_max_connections`]): at the cap it asks the connection
//!   idle the longest to close, and refuses a new one only when every open
//!   connection has a request in progress;
//! - speaks only HTTP/1.1 unless [`ServerConfig::with_http2`] allows cleartext
//!   HTTP/2 (which GitHub never uses);
//! - sets `TCP_NODELAY`, so that a short answer leaves at once;
//! - on shutdown, stops accepting, lets each connection finish the request it is
//!   serving, and returns once all are closed.
//!
//! hyper has no head timeout for HTTP/2: there the body is timed, idle
//! connections are closed as above, and keep-alive pings close connections whose
//! peer has gone.
//!
//! Call [`raise_open_file_limit`] first, as `octohook serve` does, so that the
//! cap is the hard limit's rather than a 1,024 soft limit's.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use std::time::Duration;
//! use axum::{Router, routing::post};
//! use octohook::{Verifier, WebhookSecret};
//! use octohook_tower::VerifyWebhookLayer;
//! use octohook_server::{ServerConfig, serve, shutdown_signal};
//!
//! let config = ServerConfig::default();
//! let verifier = Verifier::new(WebhookSecret::new("s3cret").unwrap());
//! let app = Router::new()
//!     .route("/", post(|| async { "ok" }))
//!     .layer(VerifyWebhookLayer::new(verifier).with_read_timeout(config.read_timeout()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! serve(listener, app, &config, shutdown_signal()).await;
//! # Ok(())
//! # }
//! ```

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower_service::Service;

use connections::{Connections, Counted, Registered};
pub(crate) use open_files::open_file_limit;
pub use open_files::raise_open_file_limit;

mod connections;
mod open_files;

/// Descriptors kept free of connections under the open-file limit: for the
/// listener, the store, log files and commands run by handlers.
const SPARE_FILES: u64 = 64;

/// What an HTTP/2 client sends first when it speaks HTTP/2 without an upgrade.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How long to wait after a failed `accept` (out of file descriptors, say) before
/// the next, rather than spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How [`serve`] treats its connections.
///
/// ```
/// use std::time::Duration;
/// use octohook_server::ServerConfig;
///
/// let config = ServerConfig::default().with_read_timeout(Duration::from_secs(5));
/// assert_eq!(config.read_timeout(), Duration::from_secs(5));
/// ```
///
/// With the `clap` feature it derives `clap::Args`: `--read-timeout`, `--http2`
/// and `--max-connections`, as `octohook serve` reads them (with their
/// `OCTOHOOK_*` variables).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ServerConfig {
    // The field comments are the flags' help.
    /// Time a client has to send a request head, and then its whole body (408); a
    /// connection with no request in progress for this long is closed, over
    /// HTTP/2 too. GitHub itself gives up after 10 s.
    #[cfg_attr(feature = "clap", arg(long, env = "OCTOHOOK_READ_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = crate::flags::read_timeout))]
    read_timeout: Duration,
    /// Also serve cleartext HTTP/2 with prior knowledge (GitHub delivers over
    /// HTTP/1.1 only).
    #[cfg_attr(feature = "clap", arg(long, env = "OCTOHOOK_HTTP2"))]
    http2: bool,
    /// Most connections open at once (the default: the open-file limit, raised
    /// to its hard limit at start, minus 64). At the cap the connection idle the
    /// longest is closed; a new one is refused only when all have a request in
    /// progress.
    #[cfg_attr(feature = "clap", arg(long, env = "OCTOHOOK_MAX_CONNECTIONS", value_name = "N", value_parser = crate::flags::max_connections()))]
    max_connections: Option<usize>,
}

impl Default for ServerConfig {
    /// A 10 s read timeout (GitHub itself gives up after 10 s), HTTP/1.1 only,
    /// and a connection cap of the open-file limit minus 64.
    fn default() -> Self {
        Self {
            read_timeout: Duration::from_secs(10),
            http2: false,
            max_connections: None,
        }
    }
}

impl ServerConfig {
    /// The time a client has to show its protocol, to send a request head, and
    /// the time after which an idle connection is closed (at least 1 ms). Give
    /// the layer the same with
    /// [`with_read_timeout`](octohook_tower::VerifyWebhookLayer::with_read_timeout).
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    /// Also serves cleartext HTTP/2 with prior knowledge (off by default: GitHub
    /// delivers over HTTP/1.1).
    pub fn with_http2(mut self, http2: bool) -> Self {
        self.http2 = http2;
        self
    }

    /// Whether cleartext HTTP/2 is served.
    pub fn http2(&self) -> bool {
        self.http2
    }

    /// At most `max` open connections (at least 1). The default is the
    /// open-file limit when [`serve`] starts, minus 64 descriptors kept for
    /// everything else (1,024 where the limit cannot be read).
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max.max(1));
        self
    }

    /// The connection cap in effect.
    pub fn max_connections(&self) -> usize {
        self.max_connections.unwrap_or_else(|| {
            let limit = open_files::open_file_limit().unwrap_or(1024 + SPARE_FILES);
            usize::try_from(limit.saturating_sub(SPARE_FILES).max(16)).unwrap_or(usize::MAX)
        })
    }
}

/// Serves `service` (an axum `Router`, or any tower service of HTTP requests) on
/// `listener` until `shutdown` resolves; then stops accepting, lets each
/// connection finish the request it is serving, and returns once all are closed.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let read_timeout = config.read_timeout;
    let max_connections = config.max_connections();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(read_timeout)
        .keep_alive_timeout(read_timeout);
    let builder = Arc::new(if config.http2 {
        builder
    } else {
        builder.http1_only()
    });
    let open = Arc::new(Connections::default());
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        match accepted {
            Ok((stream, _)) => {
                if open.len() >= max_connections && !open.shed_one_idle() {
                    // Every connection has a request in progress: refuse this one.
                    tracing::warn!(
                        max_connections,
                        "connection cap reached; refusing a connection"
                    );
                    drop(stream);
                    continue;
                }
                connections.spawn(connection(
                    Arc::clone(&builder),
                    stream,
                    open.register(),
                    service.clone(),
                    Limits {
                        read_timeout,
                        http2: config.http2,
                    },
                    stopping.clone(),
                ));
            }
            Err(error) if is_connection_error(&error) => {}
            Err(error) => {
                tracing::warn!(%error, "cannot accept a connection");
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    () = &mut shutdown => break,
                }
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM: the usual `shutdown` of [`serve`].
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down after in-flight requests");
}

/// Serves one connection until it closes, or until `stopping` turns true, when the
/// request in flight, if any, is finished first.
async fn connection<S, B>(
    builder: Arc<Builder<TokioExecutor>>,
    stream: TcpStream,
    registered: Registered,
    service: S,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
) where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let _ = stream.set_nodelay(true);
    let read_timeout = limits.read_timeout;
    let activity = Arc::clone(&registered.activity);
    // Only a server that speaks HTTP/2 waits for its preface: an HTTP/1-only
    // one lets hyper read (and refuse) it under the head timeout.
    if limits.http2 {
        let known = tokio::select! {
            known = tokio::time::timeout(read_timeout, protocol_known(&stream)) => known,
            () = stopped(&mut stopping) => return,
            () = activity.shed.notified() => return,
        };
        match known {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::debug!(%error, "connection failed");
                return;
            }
            Err(_) => {
                tracing::debug!("connection closed: no request within the read timeout");
                return;
            }
        }
    }
    let service = Counted {
        inner: service,
        activity: Arc::clone(&activity),
    };
    let connection =
        builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    let mut connection = std::pin::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = stopped(&mut stopping) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
        () = activity.shed.notified() => {
            tracing::debug!("closing an idle connection: the connection cap is reached");
            close_when_idle(connection.as_mut(), &activity).await
        }
        () = idle_past(&activity, read_timeout) => {
            tracing::debug!("closing a connection idle for the read timeout");
            close_when_idle(connection.as_mut(), &activity).await
        }
    };
    drop(registered);
    if let Err(error) = ended {
        tracing::debug!(%error, "connection ended");
    }
}

/// Closes a connection asked to give way: at once when no request is in
/// progress (dropping it closes the socket; nothing is lost), else after the
/// request in progress, as a graceful shutdown does.
async fn close_when_idle<C, E>(
    mut connection: Pin<&mut C>,
    activity: &connections::Activity,
) -> Result<(), E>
where
    C: Future<Output = Result<(), E>> + GracefulShutdown,
{
    if activity.is_idle() {
        return Ok(());
    }
    connection.as_mut().shutdown_gracefully();
    connection.await
}

/// hyper-util's connections, which can be shut down gracefully.
trait GracefulShutdown {
    fn shutdown_gracefully(self: Pin<&mut Self>);
}

impl<I, S, E> GracefulShutdown for hyper_util::server::conn::auto::Connection<'_, I, S, E>
where
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    S::ResBody: http_body::Body + Send + 'static,
    <S::ResBody as http_body::Body>::Error: Into<Box<dyn StdError + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, S::ResBody>,
{
    fn shutdown_gracefully(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// What [`connection`] needs of the [`ServerConfig`].
#[derive(Clone, Copy, Debug)]
struct Limits {
    read_timeout: Duration,
    http2: bool,
}

/// Resolves once the connection has had no request in progress for `timeout`.
async fn idle_past(activity: &connections::Activity, timeout: Duration) {
    loop {
        let idle_for = activity.idle_for();
        if activity.is_idle() && idle_for >= timeout {
            return;
        }
        let wait = if activity.is_idle() {
            timeout - idle_for
        } else {
            timeout
        };
        tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
    }
}

/// Resolves once `stopping` turns true.
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    // The sender lives until every connection has ended: no error to handle.
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// Waits until the first bytes on `stream` tell HTTP/1 from HTTP/2, without
/// consuming them: hyper-util's builder reads them again to pick the protocol, and
/// it would wait for them without any timeout.
///
/// An HTTP/1 request differs from the HTTP/2 preface by its second byte at the
/// latest (`POST`, `PUT`, `PATCH` against `PRI`), so only an HTTP/2 client, or one
/// mimicking its preface, makes this wait for more than the first bytes.
async fn protocol_known(stream: &TcpStream) -> io::Result<()> {
    let mut buffer = [0u8; H2_PREFACE.len()];
    loop {
        let peeked = stream.peek(&mut buffer).await?;
        let partial_preface = peeked < H2_PREFACE.len() && buffer[..peeked] == H2_PREFACE[..peeked];
        // Zero bytes: the client closed; hyper will see it.
        if peeked == 0 || !partial_preface {
            return Ok(());
        }
        // Part of the HTTP/2 preface: the rest is on its way. `peek` returns at
        // once while any byte is unread, so wait a little before looking again.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Errors of one connection that `accept` reports, after which the next `accept`
/// works (as `axum::serve` does).
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
