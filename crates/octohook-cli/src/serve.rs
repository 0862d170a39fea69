//! `octohook serve`: its flags, mapped to an [`octohook_server::Receiver`] that
//! verifies each delivery, stores it once in the inbox, writes one JSON line
//! per new delivery, and processes them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use octohook::{BodyBudget, DEFAULT_BODY_BUDGET, DEFAULT_BODY_LIMIT, LogRateLimit, RejectionLog};
use octohook_inbox::handlers::JsonLines;
use octohook_server::{
    ByteSize, DATABASE_URL_ENV, FORWARD_ENV, PUBLISH_ENV, ProcessingConfig, PullConfig, Receiver,
    ReceiverConfig, ServerConfig, StoreArgs,
};

use crate::deliveries_command::identity;
use crate::github_options::ApiOptions;
use crate::logging::LogFormat;
use crate::pull_flags::{PullTarget, PullTiming};
use crate::redacted_url::RedactedUrl;
use crate::{env_scrub, secrets};

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
    /// OCTOHOOK_DATABASE_URL, OCTOHOOK_FORWARD and OCTOHOOK_PUBLISH: 64 KiB at most for all of them
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
    #[command(flatten)]
    server: ServerConfig,
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
    store: StoreArgs,
    #[command(flatten)]
    processing: ProcessingConfig,
    /// Also pull this hook's deliveries from GitHub's API into the inbox:
    /// repo:OWNER/REPO:HOOK_ID, org:ORG:HOOK_ID or app. A first pull at start
    /// catches up on what arrived while the receiver was down, then one every
    /// --interval; whichever of push and pull comes first stores a delivery,
    /// once. The token comes from GITHUB_TOKEN or GH_TOKEN (or --token-env, or
    /// --app-id); --exec commands do not see it.
    #[arg(
        long,
        env = "OCTOHOOK_PULL",
        value_name = "TARGET",
        help_heading = "Pull"
    )]
    pull: Option<PullTarget>,
    #[command(flatten, next_help_heading = "Pull")]
    github: ApiOptions,
    #[command(flatten, next_help_heading = "Pull")]
    pull_timing: PullTiming,
}

impl ServeArgs {
    /// Takes the secret variables (`--secret-env`'s, and `OCTOHOOK_DATABASE_URL`
    /// `OCTOHOOK_FORWARD` and `OCTOHOOK_PUBLISH`, whose URLs may carry credentials) out of the
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
            if let Some(urls) = env_scrub::var_os(PUBLISH_ENV) {
                self.processing
                    .use_publish_from_env(&urls.to_string_lossy())?;
            }
            return Ok(());
        }
        Ok(env_scrub::reexec_without(&[
            &self.secret_env,
            DATABASE_URL_ENV,
            FORWARD_ENV,
            PUBLISH_ENV,
        ])?)
    }
}

pub(crate) async fn run(
    args: ServeArgs,
    log_format: LogFormat,
) -> Result<(), Box<dyn std::error::Error>> {
    // First of all: the connection cap is derived from it.
    octohook_server::raise_open_file_limit();
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
    let lines = match &args.out {
        Some(path) => JsonLines::append_to(path)
            .map_err(|error| format!("cannot open {}: {error}", path.display()))?,
        None => JsonLines::stdout(),
    };
    let store = args.store.config();
    let forward = args.processing.forward.as_ref();
    let forward = forward.map(|url| RedactedUrl(url).to_string());
    // Displayed with the passwords starred.
    let publish: Vec<String> = args
        .processing
        .publish
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut processing = args.processing;
    // The collector's headers may carry its token.
    let hidden = [
        args.secret_env.as_str(),
        env_scrub::MARKER,
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    ];
    processing
        .exec_hidden_variables
        .extend(hidden.map(Into::into));
    let pull = match &args.pull {
        Some(target) => {
            let (pull, token_variables) = pull_config(target, &args.github, &args.pull_timing)?;
            processing
                .exec_hidden_variables
                .extend(token_variables.into_iter().map(Into::into));
            Some(pull)
        }
        None if args.pull_timing.is_given() => {
            return Err("--since and --interval go with --pull".into());
        }
        None => None,
    };
    let config = ReceiverConfig {
        path: args.path.clone(),
        store: store.clone(),
        processing,
        lines: Some(lines),
        server: args.server,
        rejection_log: Some(RejectionLog::per_second(args.rejection_log_rate)),
        secret_sources: sources,
        admin: args.admin_bind,
        prometheus: None,
    };
    let mut receiver = Receiver::start(verifier, config).await?;
    if let Some(pull) = pull {
        receiver.pull(pull)?;
    }
    tracing::info!(
        store = %store.describe(),
        workers = receiver.workers(),
        forward = forward.as_deref().unwrap_or("-"),
        publish = %if publish.is_empty() { "-".to_owned() } else { publish.join(" ") },
        "inbox"
    );
    // The friendly lines, for people; in JSON, only the log lines.
    let text = log_format == LogFormat::Text;
    if let (Some(address), true) = (receiver.admin_address(), text) {
        eprintln!("octohook: admin endpoints at http://{address}/healthz and /metrics");
    }
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", args.bind))?;
    let address = listener.local_addr()?;
    let url = format!("http://{address}{}", args.path);
    tracing::info!(%address, path = %args.path, "listening on {url}");
    if text {
        eprintln!("octohook: listening on {url}");
    }
    receiver
        .serve(listener, octohook_server::shutdown_signal())
        .await;
    Ok(())
}

/// `--pull`'s hook, client and timing, and the variables its token may be in
/// (hidden from `--exec`).
fn pull_config(
    target: &PullTarget,
    api: &ApiOptions,
    timing: &PullTiming,
) -> Result<(PullConfig, Vec<String>), Box<dyn std::error::Error>> {
    let hook = target.hook_ref(api).map_err(|e| e.into_boxed())?;
    let client = api.client(identity(&hook)).map_err(|e| e.into_boxed())?;
    let mut pull = PullConfig::new(client, hook);
    pull.options.since = timing.since();
    pull.interval = timing.interval();
    let token_variables = match &api.token_env {
        Some(name) => vec![name.clone()],
        None => crate::github_options::TOKEN_VARIABLES
            .map(Into::into)
            .to_vec(),
    };
    Ok((pull, token_variables))
}
