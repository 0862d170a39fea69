//! The processing flags of `octohook serve`, turned into the inbox's handlers:
//! the `--out` line, `--exec` and `--forward`, run by the inbox's workers with
//! retries, jittered backoff and the `failed` dead-letter state.

use std::time::Duration;

use clap::Args;
use octohook_inbox::handlers::{Chain, Exec, Forward, ForwardError, JsonLines};
use octohook_inbox::{Backoff, Inbox, Processing, WorkerConfig};

use crate::redacted_url::RedactedUrl;

/// The variable holding the `--forward` URL (which may carry credentials).
pub(crate) const FORWARD_ENV: &str = "OCTOHOOK_FORWARD";

/// The prefix of octohook's own variables, none of which an `--exec` command
/// inherits.
const OWN_VARIABLES: &str = "OCTOHOOK_";

/// How `octohook serve` processes the deliveries it stores.
#[derive(Debug, Args)]
#[command(next_help_heading = "Processing")]
pub(crate) struct ProcessingArgs {
    /// Run CMD (through `sh -c`) once per delivery, with the JSON payload on
    /// standard input and OCTOHOOK_EVENT, OCTOHOOK_ACTION, OCTOHOOK_DELIVERY,
    /// OCTOHOOK_HOOK_ID, OCTOHOOK_IDEMPOTENCY_KEY (HOOK:GUID) and OCTOHOOK_ATTEMPT
    /// set. Exit status 0 marks the delivery done; anything else is retried. CMD
    /// gets `serve`'s environment without the secret's variable and without any
    /// other OCTOHOOK_* variable (octohook's configuration, which may hold
    /// credentials). The secret's variable, OCTOHOOK_DATABASE_URL and
    /// OCTOHOOK_FORWARD are not in `serve`'s own environment either (on Unix); a
    /// process of the same user that may ptrace `serve` can still read them from
    /// its memory.
    #[arg(long, env = "OCTOHOOK_EXEC", value_name = "CMD")]
    exec: Option<String>,
    /// Post each delivery to URL with its original headers and body. 2xx marks it
    /// done; 408, 429, 5xx and connection errors are retried; other answers fail
    /// it at once. A user name and password in URL are sent as Basic
    /// authentication and never printed; prefer the variable to the flag, which
    /// every user can read in the process list.
    #[arg(long, env = FORWARD_ENV, hide_env_values = true, value_name = "URL")]
    forward: Option<reqwest::Url>,
    /// Deliveries processed at once (with neither --exec nor --forward, one
    /// worker only marks deliveries done).
    #[arg(long, env = "OCTOHOOK_WORKERS", value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=256))]
    workers: u32,
    /// Attempts per delivery before it is marked failed (the dead-letter state;
    /// `octohook inbox retry` requeues it).
    #[arg(long, env = "OCTOHOOK_MAX_ATTEMPTS", value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    /// Delay after the first failed attempt; it doubles after each further one,
    /// up to 10 minutes, and each actual delay is drawn between half of that and
    /// all of it (jitter).
    #[arg(long, env = "OCTOHOOK_RETRY_BACKOFF", value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    retry_backoff: Duration,
    /// How long --exec may run before it is killed (and the attempt failed).
    #[arg(long, env = "OCTOHOOK_EXEC_TIMEOUT", value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    exec_timeout: Duration,
    /// How long a --forward request may take.
    #[arg(long, env = "OCTOHOOK_FORWARD_TIMEOUT", value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    forward_timeout: Duration,
    /// How long a worker's claim lasts unless renewed: after a crash, the
    /// deliveries it was handling are taken up again once this has passed.
    #[arg(long, env = "OCTOHOOK_LEASE", value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    lease: Duration,
    /// On shutdown, how long to wait for running handlers before killing them
    /// (their deliveries are processed again after the next start).
    #[arg(long, env = "OCTOHOOK_SHUTDOWN_TIMEOUT", value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    shutdown_timeout: Duration,
}

/// Why processing could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProcessingError {
    #[error("--exec and --forward need an inbox: drop --no-inbox")]
    NoInbox,
    #[error("--forward: {0}")]
    Client(ForwardError),
    #[error("{FORWARD_ENV} is not a URL: {0}")]
    ForwardUrl(url::ParseError),
}

impl ProcessingArgs {
    /// Whether deliveries are to be processed by a command or a forward.
    pub(crate) fn has_handler(&self) -> bool {
        self.exec.is_some() || self.forward.is_some()
    }

    /// Checks the arguments against the inbox choice.
    pub(crate) fn check(&self, has_inbox: bool) -> Result<(), ProcessingError> {
        if self.has_handler() && !has_inbox {
            return Err(ProcessingError::NoInbox);
        }
        Ok(())
    }

    /// Uses `url`, the value `OCTOHOOK_FORWARD` had before `serve` removed it
    /// from its environment, as clap would have: unless `--forward` was given.
    pub(crate) fn use_forward_from_env(&mut self, url: &str) -> Result<(), ProcessingError> {
        if self.forward.is_none() {
            self.forward = Some(url.parse().map_err(ProcessingError::ForwardUrl)?);
        }
        Ok(())
    }

    /// The `--forward` URL as logged: without its user name and password.
    pub(crate) fn forward_shown(&self) -> Option<String> {
        self.forward
            .as_ref()
            .map(|url| RedactedUrl(url).to_string())
    }

    /// How long to wait for running handlers at shutdown.
    pub(crate) fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }
}

impl ProcessingArgs {
    /// The handler each worker runs: the `--out` line, then `--exec`, then
    /// `--forward`, each only once the one before succeeded.
    pub(crate) fn handler(
        &self,
        lines: JsonLines,
        secret_env: &str,
    ) -> Result<Chain, ProcessingError> {
        let mut chain = Chain::new().then(lines);
        if let Some(command) = &self.exec {
            let mut exec = Exec::shell(command)
                .timeout(self.exec_timeout)
                .env_remove(secret_env)
                // Removed from this process's environment already on Unix; they
                // may hold the database's password, the forward's credentials.
                .env_remove(crate::inbox_store::DATABASE_URL_ENV)
                .env_remove(FORWARD_ENV)
                .env_remove(crate::env_scrub::MARKER);
            // Any other configuration of octohook's is none of the command's
            // business; Exec sets the delivery's own variables after removing.
            for (name, _) in std::env::vars_os() {
                if name.to_string_lossy().starts_with(OWN_VARIABLES) {
                    exec = exec.env_remove(name);
                }
            }
            chain = chain.then(exec);
        }
        if let Some(url) = &self.forward {
            chain = chain.then(
                Forward::new(url.clone(), self.forward_timeout).map_err(ProcessingError::Client)?,
            );
        }
        Ok(chain)
    }

    /// Starts the workers over `inbox`.
    pub(crate) fn start(&self, inbox: &Inbox, handler: Chain) -> Processing {
        // Lines alone are written by one worker, in the order received.
        let workers = if self.has_handler() { self.workers } else { 1 };
        let config = WorkerConfig::for_this_process()
            .max_attempts(self.max_attempts)
            .backoff(Backoff::exponential(self.retry_backoff))
            .lease(self.lease);
        inbox.process(handler, workers as usize, config)
    }
}
