//! `octohook serve`: a verifying receiver that stores each delivery once in the
//! inbox, writes one JSON line per new delivery, and processes them.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use clap::Args;
use octohook::{DEFAULT_BODY_LIMIT, DEFAULT_MAX_JSON_DEPTH, DeliveryRecord};
use octohook_inbox::{Inbox, Inserted};
use octohook_tower::VerifyWebhookLayer;
use octohook_tower::extract::Webhook;

use crate::env_scrub;
use crate::http_server;
use crate::inbox_store::{DATABASE_URL_ENV, ServeStoreArgs};
use crate::processing::{self, ProcessingArgs};
use crate::secrets;

/// Runs a receiver that verifies each delivery, stores it once and writes it as
/// one JSON line.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:3000")]
    bind: SocketAddr,
    /// Path deliveries are posted to.
    #[arg(long, default_value = "/")]
    path: String,
    /// Environment variable holding the secret (tried first).
    #[arg(long, default_value = "GITHUB_WEBHOOK_SECRET", value_name = "NAME")]
    secret_env: String,
    /// File holding a further secret, for rotation (repeatable; tried in order).
    #[arg(long = "secret-file", value_name = "PATH")]
    secret_files: Vec<PathBuf>,
    /// Also accept the legacy SHA-1 `X-Hub-Signature` when no SHA-256 one is sent.
    #[arg(long)]
    allow_sha1: bool,
    /// Largest body accepted, in bytes (GitHub's cap is 25 MiB).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_BODY_LIMIT)]
    max_body: u64,
    /// Deepest nesting of arrays and objects accepted in a payload (400 beyond);
    /// the default is the deepest serde_json, and so `octohook parse`, reads.
    #[arg(long, value_name = "LEVELS", default_value_t = DEFAULT_MAX_JSON_DEPTH)]
    max_json_depth: usize,
    /// Time a client has to send a request head, and then its whole body (408); a
    /// connection idle this long is closed. GitHub itself gives up after 10 s.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = read_timeout)]
    read_timeout: Duration,
    /// File to append the JSON lines to, one per new delivery (standard output
    /// when absent).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    store: ServeStoreArgs,
    #[command(flatten)]
    processing: ProcessingArgs,
}

impl ServeArgs {
    /// Takes the secret variables (`--secret-env`'s and `OCTOHOOK_DATABASE_URL`)
    /// out of the process's environment before any child exists: on Unix, the
    /// process re-executes itself without them and gets their values on standard
    /// input (see [`env_scrub`]). In the re-executed process,
    /// reads those values back.
    pub(crate) fn isolate_secrets(&mut self) -> Result<(), env_scrub::ScrubError> {
        if env_scrub::receive()? {
            if let Some(url) = env_scrub::var_os(DATABASE_URL_ENV) {
                // clap read the variable before the restart; it is gone now.
                self.store
                    .use_database_url_from_env(url.to_string_lossy().into_owned());
            }
            return Ok(());
        }
        env_scrub::reexec_without(&[&self.secret_env, DATABASE_URL_ENV])
    }
}

#[derive(Clone)]
struct Receiver {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    secret_sources: Arc<[String]>,
    inbox: Option<Inbox>,
}

pub(crate) async fn run(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let (secrets, sources) = secrets::load(&args.secret_env, &args.secret_files)?;
    let verifier = secrets::verifier(secrets).ok_or("no secret configured")?;
    let mut verifier = verifier
        .with_body_limit(args.max_body)
        .with_max_json_depth(args.max_json_depth);
    if args.allow_sha1 {
        verifier = verifier.allow_legacy_sha1();
    }
    args.store.check()?;
    if !args.path.starts_with('/') {
        return Err("--path must start with '/'".into());
    }
    let out: Box<dyn Write + Send> = match &args.out {
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| format!("cannot open {}: {error}", path.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let store_choice = args.store.choice();
    let store = store_choice.open().await?;
    args.processing.check(store.is_some())?;
    let inbox = store.map(Inbox::from_shared);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut workers = match &inbox {
        Some(inbox) => {
            processing::spawn_workers(&args.processing, inbox, &args.secret_env, &stopped)?
        }
        None => tokio::task::JoinSet::new(),
    };
    tracing::info!(store = %store_choice.describe(), workers = workers.len(), "inbox");
    let receiver = Receiver {
        out: Arc::new(Mutex::new(out)),
        secret_sources: sources.into(),
        inbox,
    };
    let app = Router::new()
        .route(&args.path, post(accept))
        .route_layer(VerifyWebhookLayer::new(verifier).with_read_timeout(args.read_timeout))
        .with_state(receiver);

    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", args.bind))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, path = %args.path, "listening");
    eprintln!("octohook: listening on http://{address}{}", args.path);
    let signal = tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let mut server_stopped = stopped.clone();
    http_server::serve(listener, app, args.read_timeout, async move {
        let _ = server_stopped.wait_for(|stop| *stop).await;
    })
    .await;
    signal.abort();
    let grace = args.processing.shutdown_timeout();
    let drained = tokio::time::timeout(grace, async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "handlers still running after {}: stopping them; their deliveries will be processed again",
            humantime::format_duration(grace)
        );
        workers.shutdown().await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn accept(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    Webhook(delivery): Webhook,
) -> Response {
    let source = receiver
        .secret_sources
        .get(delivery.secret_index().0)
        .map_or("?", String::as_str);
    let hook_id = delivery.hook_id().map(|id| id.get());
    if let Some(inbox) = &receiver.inbox {
        match inbox.accept(&delivery, &headers).await {
            Ok(Inserted::New { .. }) => {}
            Ok(Inserted::Duplicate { id }) => {
                tracing::info!(
                    event = %delivery.event_kind(),
                    delivery = %delivery.guid(),
                    hook_id,
                    id = id.get(),
                    "duplicate delivery"
                );
                return StatusCode::OK.into_response();
            }
            Err(error) => {
                tracing::error!(
                    %error,
                    delivery = %delivery.guid(),
                    hook_id,
                    "cannot store the delivery; answering 503"
                );
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the delivery could not be stored; try again later\n",
                )
                    .into_response();
            }
        }
    }
    tracing::info!(
        event = %delivery.event_kind(),
        action = delivery.action().unwrap_or("-"),
        delivery = %delivery.guid(),
        hook_id,
        secret = source,
        "accepted delivery"
    );
    let record = DeliveryRecord::new(&delivery, SystemTime::now());
    let mut out = receiver
        .out
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match record.write_line(&mut *out).and_then(|()| out.flush()) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => {
            tracing::error!(%error, delivery = %delivery.guid(), "cannot write the delivery");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Parses `--read-timeout`: a humantime duration (`10s`, `1m`), not zero.
fn read_timeout(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("the read timeout must not be zero".into()),
        Ok(duration) => Ok(duration),
        Err(error) => Err(error.to_string()),
    }
}

/// Resolves on Ctrl-C or SIGTERM; the server then finishes in-flight requests.
async fn shutdown_signal() {
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
