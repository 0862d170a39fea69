//! `octohook serve`: a verifying receiver that stores each delivery once in the
//! inbox, writes one JSON line per new delivery, and processes them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, post_service};
use clap::Args;
use octohook::metrics::DeliveryOutcome;
use octohook::{
    BodyBudget, ClientBytes, DEFAULT_BODY_BUDGET, DEFAULT_BODY_LIMIT, LogRateLimit, RejectionLog,
};
use octohook_inbox::handlers::JsonLines;
use octohook_inbox::{Inbox, Processing};
use octohook_tower::admin::{self, Admin};
use octohook_tower::extract::Webhook;
use octohook_tower::server::{self, ServerConfig};
use octohook_tower::{Rejection, StoreDelivery, VerifyWebhookLayer, rejection_response};

use crate::byte_size::ByteSize;
use crate::env_scrub;
use crate::inbox_store::{DATABASE_URL_ENV, ServeStoreArgs};
use crate::logging::LogFormat;
use crate::processing::{FORWARD_ENV, ProcessingArgs};
use crate::secrets;

/// Runs a receiver that verifies each delivery, stores it once and writes it as
/// one JSON line.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "OCTOHOOK_BIND", default_value = "127.0.0.1:3000")]
    bind: SocketAddr,
    /// Path deliveries are posted to.
    #[arg(long, env = "OCTOHOOK_PATH", default_value = "/")]
    path: String,
    /// Environment variable holding the secret (tried first), used exactly as
    /// set (a trailing newline is warned about, not dropped). On Unix it is
    /// handed to the restarted `serve` outside the environment, together with
    /// OCTOHOOK_DATABASE_URL and OCTOHOOK_FORWARD: 64 KiB at most for all of them
    /// with their names; a longer secret goes in --secret-file.
    #[arg(
        long,
        env = "OCTOHOOK_SECRET_ENV",
        default_value = "GITHUB_WEBHOOK_SECRET",
        value_name = "NAME"
    )]
    secret_env: String,
    /// File holding a further secret, for rotation (repeatable; tried in order);
    /// one trailing newline is dropped, any other white space warned about.
    #[arg(
        long = "secret-file",
        env = "OCTOHOOK_SECRET_FILE",
        value_delimiter = ',',
        value_name = "PATH"
    )]
    secret_files: Vec<PathBuf>,
    /// Also accept the legacy SHA-1 `X-Hub-Signature` when no SHA-256 one is sent.
    #[arg(long, env = "OCTOHOOK_ALLOW_SHA1")]
    allow_sha1: bool,
    /// Largest body accepted (GitHub's cap is 25MiB): bytes, or a size such as
    /// 512KiB, 25MiB or 1GB.
    #[arg(long, env = "OCTOHOOK_MAX_BODY", value_name = "SIZE", default_value_t = ByteSize::new(DEFAULT_BODY_LIMIT))]
    max_body: ByteSize,
    /// Most bytes of request bodies held before their signatures are checked,
    /// across all connections (bytes, or a size such as 256MiB). A body that does
    /// not fit is refused unread with 503 and Retry-After; bodies over 1 MiB share
    /// all but an eighth of it (at most 32 MiB), which stays free for small
    /// deliveries.
    #[arg(long, env = "OCTOHOOK_UNVERIFIED_BODY_BUDGET", value_name = "SIZE", default_value_t = ByteSize::new(DEFAULT_BODY_BUDGET))]
    unverified_body_budget: ByteSize,
    /// Check each payload during verification, refusing (400) one nested deeper
    /// than LEVELS or not a JSON object. Without it the payload is checked once,
    /// where it is stored or written, to the depth serde_json (and so `octohook
    /// parse`) reads: 127 levels.
    #[arg(long, env = "OCTOHOOK_MAX_JSON_DEPTH", value_name = "LEVELS")]
    max_json_depth: Option<usize>,
    /// Time a client has to send a request head, and then its whole body (408); a
    /// connection with no request in progress for this long is closed, over
    /// HTTP/2 too. GitHub itself gives up after 10 s.
    #[arg(long, env = "OCTOHOOK_READ_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = read_timeout)]
    read_timeout: Duration,
    /// Also serve cleartext HTTP/2 with prior knowledge (GitHub delivers over
    /// HTTP/1.1 only).
    #[arg(long, env = "OCTOHOOK_HTTP2")]
    http2: bool,
    /// Most connections open at once (the default: the open-file limit, raised
    /// to its hard limit at start, minus 64). At the cap the connection idle the
    /// longest is closed; a new one is refused only when all have a request in
    /// progress.
    #[arg(long, env = "OCTOHOOK_MAX_CONNECTIONS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// File to append the JSON lines to (standard output when absent): one per
    /// new delivery, written by the workers from the inbox (at least once: again
    /// when a retried --exec or --forward runs it again, or after a crash), or,
    /// with --no-inbox, before the delivery is answered.
    #[arg(long, env = "OCTOHOOK_OUT", value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also serve GET /healthz and GET /metrics (Prometheus) on this address,
    /// a second listener for operators; keep it off the public network.
    #[arg(long, env = "OCTOHOOK_ADMIN_BIND", value_name = "ADDR")]
    admin_bind: Option<SocketAddr>,
    /// Most rejected requests logged per second (0: none); past it, one line
    /// per second counts the rest by reason. A rejected request's line holds its
    /// status, reason, GUID (when valid) and event name (cut and escaped).
    #[arg(long, env = "OCTOHOOK_REJECTION_LOG_RATE", value_name = "LINES", default_value_t = LogRateLimit::DEFAULT_LINES_PER_SECOND)]
    rejection_log_rate: u32,
    #[command(flatten)]
    store: ServeStoreArgs,
    #[command(flatten)]
    processing: ProcessingArgs,
}

impl ServeArgs {
    /// Takes the secret variables (`--secret-env`'s, and `OCTOHOOK_DATABASE_URL`
    /// and `OCTOHOOK_FORWARD`, whose URLs may carry credentials) out of the
    /// process's environment before any child exists: on Unix, the process
    /// re-executes itself without them and gets their values on standard input
    /// (see [`env_scrub`]). In the re-executed process, reads those values back.
    pub(crate) fn isolate_secrets(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        if env_scrub::receive()? {
            // clap read the variables before the restart; they are gone now.
            if let Some(url) = env_scrub::var_os(DATABASE_URL_ENV) {
                self.store
                    .use_database_url_from_env(url.to_string_lossy().into_owned());
            }
            if let Some(url) = env_scrub::var_os(FORWARD_ENV) {
                self.processing
                    .use_forward_from_env(&url.to_string_lossy())?;
            }
            return Ok(());
        }
        Ok(env_scrub::reexec_without(&[
            &self.secret_env,
            DATABASE_URL_ENV,
            FORWARD_ENV,
        ])?)
    }
}

pub(crate) async fn run(
    args: ServeArgs,
    log_format: LogFormat,
) -> Result<(), Box<dyn std::error::Error>> {
    // First of all: the connection cap is derived from it.
    let open_files = server::raise_open_file_limit();
    let (secrets, sources) = secrets::load(&args.secret_env, &args.secret_files)?;
    let verifier = secrets::verifier(secrets).ok_or("no secret configured")?;
    let mut verifier = verifier
        .with_body_limit(args.max_body.bytes())
        .with_body_budget(BodyBudget::new(args.unverified_body_budget.bytes()));
    if let Some(levels) = args.max_json_depth {
        verifier = verifier.with_max_json_depth(levels);
    }
    if args.allow_sha1 {
        verifier = verifier.allow_legacy_sha1();
    }
    args.store.check()?;
    if !args.path.starts_with('/') {
        return Err("--path must start with '/'".into());
    }
    let lines = match &args.out {
        Some(path) => JsonLines::append_to(path)
            .map_err(|error| format!("cannot open {}: {error}", path.display()))?,
        None => JsonLines::stdout(),
    };
    let store_choice = args.store.choice();
    let store = store_choice.open().await?;
    args.processing.check(store.is_some())?;
    // Before anything records a metric.
    let prometheus = match args.admin_bind {
        Some(_) => Some(admin::install_prometheus_recorder()?),
        None => None,
    };
    let layer = VerifyWebhookLayer::new(verifier)
        .with_read_timeout(args.read_timeout)
        .with_rejection_log(RejectionLog::per_second(args.rejection_log_rate));
    let inbox = store.map(Inbox::from_shared);
    // With an inbox, a delivery is answered once committed and its line written
    // by a worker; without one, the line is written before the answer.
    let (app, processing) = match inbox.clone() {
        Some(inbox) => {
            let handler = args.processing.handler(lines, &args.secret_env)?;
            let processing = args.processing.start(&inbox, handler);
            let app = Router::new()
                .route(&args.path, post_service(StoreDelivery::new(inbox)))
                .route_layer(layer);
            (app, Some(processing))
        }
        None => {
            let receiver = LineReceiver {
                lines,
                secret_sources: sources.into(),
            };
            let app = Router::new()
                .route(&args.path, post(write_line))
                .route_layer(layer)
                .with_state(receiver);
            (app, None)
        }
    };
    tracing::info!(
        store = %store_choice.describe(),
        workers = processing.as_ref().map_or(0, Processing::workers),
        forward = args.processing.forward_shown().as_deref().unwrap_or("-"),
        "inbox"
    );

    let admin_server = match (args.admin_bind, prometheus) {
        (Some(address), Some(prometheus)) => {
            let mut admin = Admin::new(prometheus);
            if let Some(inbox) = inbox {
                admin = admin.with_inbox(inbox);
            }
            Some(serve_admin(address, admin, args.read_timeout, log_format).await?)
        }
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", args.bind))?;
    let address = listener.local_addr()?;
    let url = format!("http://{address}{}", args.path);
    tracing::info!(%address, path = %args.path, "listening on {url}");
    // The friendly line, for people; in JSON, only the log line above.
    if log_format == LogFormat::Text {
        eprintln!("octohook: listening on {url}");
    }
    let mut config = ServerConfig::default()
        .with_read_timeout(args.read_timeout)
        .with_http2(args.http2);
    if let Some(max) = args.max_connections {
        config = config.with_max_connections(max as usize);
    }
    tracing::info!(
        open_files,
        max_connections = config.max_connections(),
        http2 = args.http2,
        "connections"
    );
    server::serve(listener, app, &config, server::shutdown_signal()).await;
    if let Some(processing) = processing {
        processing.drain(args.processing.shutdown_timeout()).await;
    }
    if let Some(admin_server) = admin_server {
        admin_server.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// Starts the admin listener (`--admin-bind`) on the hardened server, as a task
/// that runs until aborted.
async fn serve_admin(
    address: SocketAddr,
    admin: Admin,
    read_timeout: Duration,
    log_format: LogFormat,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| format!("cannot listen on {address} (--admin-bind): {error}"))?;
    let address = listener
        .local_addr()
        .map_err(|error| format!("--admin-bind: {error}"))?;
    tracing::info!(%address, "admin endpoints at http://{address}/healthz and /metrics");
    if log_format == LogFormat::Text {
        eprintln!("octohook: admin endpoints at http://{address}/healthz and /metrics");
    }
    // A few connections are plenty for probes and scrapers.
    let config = ServerConfig::default()
        .with_read_timeout(read_timeout)
        .with_max_connections(64);
    Ok(tokio::spawn(async move {
        server::serve(listener, admin.router(), &config, std::future::pending()).await;
    }))
}

/// What `serve --no-inbox` answers with: the line, then the 200.
#[derive(Clone)]
struct LineReceiver {
    lines: JsonLines,
    secret_sources: Arc<[String]>,
}

async fn write_line(State(receiver): State<LineReceiver>, Webhook(delivery): Webhook) -> Response {
    // The one pass over the payload: the line embeds it as it is.
    if let Err(error) = delivery.check_payload() {
        let rejection = Rejection::from(error);
        // Signed, but GitHub sends none of these: a few lines per second, and
        // the error (which may quote the payload) cut.
        if refusals().admit(rejection.reason()) {
            let text = rejection.to_string();
            tracing::warn!(
                error = %ClientBytes::new(text.as_bytes()).quoted().with_limit(200),
                delivery = %delivery.guid(),
                "refused a payload that is not a JSON object"
            );
        }
        octohook::metrics::record_rejection(
            &rejection,
            Some(delivery.event_kind().as_str().as_bytes()),
        );
        return rejection_response(&rejection).into_response();
    }
    let source = receiver
        .secret_sources
        .get(delivery.secret_index().0)
        .map_or("?", String::as_str);
    tracing::info!(
        event = %delivery.event_kind(),
        action = %ClientBytes::new(delivery.action().unwrap_or("-").as_bytes()),
        delivery = %delivery.guid(),
        hook_id = delivery.hook_id().map(|id| id.get()),
        secret = source,
        "accepted delivery"
    );
    match receiver.lines.write(&delivery, SystemTime::now()).await {
        Ok(()) => {
            octohook::metrics::record_delivery(delivery.event_kind(), DeliveryOutcome::Accepted);
            StatusCode::OK.into_response()
        }
        Err(error) => {
            // Nothing was committed: GitHub may redeliver it.
            tracing::error!(%error, delivery = %delivery.guid(), "cannot write the delivery");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// The rate limit of the "refused a payload" lines of `serve --no-inbox`.
fn refusals() -> &'static LogRateLimit {
    static LIMIT: std::sync::OnceLock<LogRateLimit> = std::sync::OnceLock::new();
    LIMIT.get_or_init(|| {
        LogRateLimit::per_second("refused payload", LogRateLimit::DEFAULT_LINES_PER_SECOND)
    })
}

/// Parses `--read-timeout`: a humantime duration (`10s`, `1m`), not zero.
fn read_timeout(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("the read timeout must not be zero".into()),
        Ok(duration) => Ok(duration),
        Err(error) => Err(error.to_string()),
    }
}
