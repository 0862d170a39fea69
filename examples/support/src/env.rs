//! The settings the examples read from their environment.

use std::net::SocketAddr;
use std::process::exit;

use octohook::WebhookSecret;

/// What every receiver example reads: `GITHUB_WEBHOOK_SECRET`, `OCTOHOOK_BIND`
/// (default `127.0.0.1:3000`; port 0 picks a free one) and `RUST_LOG` (default
/// `warn`, so that rejected deliveries are logged).
#[derive(Debug)]
pub struct ReceiverEnv {
    /// The hook's secret.
    pub secret: WebhookSecret,
    /// The address to listen on.
    pub bind: SocketAddr,
}

impl ReceiverEnv {
    /// Installs a log subscriber writing to standard error, and reads the secret
    /// and the address. A missing secret or a malformed address is said on
    /// standard error, and the process exits with status 1: nothing could run.
    pub fn init() -> Self {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_writer(std::io::stderr)
            .init();
        let secret = match std::env::var("GITHUB_WEBHOOK_SECRET").map(WebhookSecret::new) {
            Ok(Ok(secret)) => secret,
            _ => fail("set GITHUB_WEBHOOK_SECRET to the hook's (non-empty) secret"),
        };
        let bind = std::env::var("OCTOHOOK_BIND").unwrap_or_else(|_| "127.0.0.1:3000".into());
        let Ok(bind) = bind.parse() else {
            fail(&format!("OCTOHOOK_BIND is not a socket address: {bind}"))
        };
        Self { secret, bind }
    }
}

/// What the inbox examples read: what [`ReceiverEnv`] reads, `OCTOHOOK_DB`
/// (default `./octohook-inbox.db`) and `OCTOHOOK_READ_TIMEOUT_SECS` (default 10,
/// what GitHub waits).
#[cfg(feature = "inbox")]
#[derive(Debug)]
pub struct InboxEnv {
    /// The verifier of the hook's secret: for the requests, and again for each
    /// stored delivery before it is dispatched.
    pub verifier: octohook::Verifier,
    /// The address to listen on.
    pub bind: SocketAddr,
    /// The SQLite file of the inbox.
    pub db: String,
    /// How long a client has to send a request head, then its body.
    pub read_timeout: std::time::Duration,
}

#[cfg(feature = "inbox")]
impl InboxEnv {
    /// As [`ReceiverEnv::init`], then reads the inbox's file and the read timeout
    /// (a malformed timeout is the default).
    pub fn init() -> Self {
        let ReceiverEnv { secret, bind } = ReceiverEnv::init();
        let db = std::env::var("OCTOHOOK_DB").unwrap_or_else(|_| "./octohook-inbox.db".into());
        let read_timeout = std::env::var("OCTOHOOK_READ_TIMEOUT_SECS")
            .ok()
            .and_then(|secs| secs.parse().ok());
        Self {
            verifier: octohook::Verifier::new(secret),
            bind,
            db,
            read_timeout: std::time::Duration::from_secs(read_timeout.unwrap_or(10)),
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("{message}");
    exit(1)
}
