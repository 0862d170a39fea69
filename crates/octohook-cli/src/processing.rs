//! What `octohook serve` does with stored deliveries: run `--exec`, post to
//! `--forward`, or (with neither) only mark them done; through the inbox's
//! workers, with retries, backoff and the `failed` dead-letter state.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use octohook_inbox::{AttemptError, Backoff, Inbox, StoredDelivery, WorkerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The most bytes of a failed command's standard error kept as its `last_error`.
const STDERR_TAIL: usize = 500;

/// How `octohook serve` processes the deliveries it stores.
#[derive(Debug, Args)]
#[command(next_help_heading = "Processing")]
pub(crate) struct ProcessingArgs {
    /// Run CMD (through `sh -c`) once per delivery, with the JSON payload on
    /// standard input and OCTOHOOK_EVENT, OCTOHOOK_ACTION, OCTOHOOK_DELIVERY,
    /// OCTOHOOK_HOOK_ID, OCTOHOOK_IDEMPOTENCY_KEY (HOOK:GUID) and OCTOHOOK_ATTEMPT
    /// set. Exit status 0 marks the delivery done; anything else is retried. The
    /// secret's variable and OCTOHOOK_DATABASE_URL are in neither its environment
    /// nor (on Unix) `serve`'s own; a process of the same user that may ptrace
    /// `serve` can still read them from its memory.
    #[arg(long, value_name = "CMD")]
    exec: Option<String>,
    /// Post each delivery to URL with its original headers and body. 2xx marks it
    /// done; 408, 429, 5xx and connection errors are retried; other answers fail
    /// it at once.
    #[arg(long, value_name = "URL")]
    forward: Option<reqwest::Url>,
    /// Deliveries processed at once (with neither --exec nor --forward, one
    /// worker only marks deliveries done).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=256))]
    workers: u32,
    /// Attempts per delivery before it is marked failed (the dead-letter state;
    /// `octohook inbox retry` requeues it).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    /// Delay after the first failed attempt; it doubles after each further one,
    /// up to 10 minutes.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    retry_backoff: Duration,
    /// How long --exec may run before it is killed (and the attempt failed).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    exec_timeout: Duration,
    /// How long a --forward request may take.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    forward_timeout: Duration,
    /// How long a worker's claim lasts unless renewed: after a crash, the
    /// deliveries it was handling are taken up again once this has passed.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    lease: Duration,
    /// On shutdown, how long to wait for running handlers before killing them
    /// (their deliveries are processed again after the next start).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    shutdown_timeout: Duration,
}

/// Why processing could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProcessingError {
    #[error("--exec and --forward need an inbox: drop --no-inbox")]
    NoInbox,
    #[error("cannot build the HTTP client for --forward: {0}")]
    Client(reqwest::Error),
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

    /// How long to wait for running handlers at shutdown.
    pub(crate) fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }
}

/// What each worker runs on a delivery.
#[derive(Debug)]
struct Processor {
    exec: Option<ExecCommand>,
    forward: Option<Forward>,
}

#[derive(Debug)]
struct ExecCommand {
    command: String,
    timeout: Duration,
    /// The variable holding the webhook secret: not passed on to the command
    /// (nor is `OCTOHOOK_DATABASE_URL`).
    secret_env: String,
}

#[derive(Debug)]
struct Forward {
    url: reqwest::Url,
    client: reqwest::Client,
}

impl Processor {
    async fn process(&self, delivery: StoredDelivery) -> Result<(), AttemptError> {
        if let Some(exec) = &self.exec {
            exec.run(&delivery).await?;
        }
        if let Some(forward) = &self.forward {
            forward.post(&delivery).await?;
        }
        Ok(())
    }
}

/// Starts the workers; they stop claiming once `shutdown` turns true and let
/// their running handler finish.
pub(crate) fn spawn_workers(
    args: &ProcessingArgs,
    inbox: &Inbox,
    secret_env: &str,
    shutdown: &watch::Receiver<bool>,
) -> Result<JoinSet<()>, ProcessingError> {
    let exec = args.exec.as_ref().map(|command| ExecCommand {
        command: command.clone(),
        timeout: args.exec_timeout,
        secret_env: secret_env.to_owned(),
    });
    let forward = match &args.forward {
        Some(url) => Some(Forward {
            url: url.clone(),
            client: reqwest::Client::builder()
                .timeout(args.forward_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("octohook/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(ProcessingError::Client)?,
        }),
        None => None,
    };
    let workers = if args.has_handler() { args.workers } else { 1 };
    let processor = Arc::new(Processor { exec, forward });
    let backoff = Backoff::new(args.retry_backoff, 2, Duration::from_secs(600));
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "octohook".to_owned());
    let mut tasks = JoinSet::new();
    for n in 0..workers {
        let config = WorkerConfig::new(format!("{host}/{}/{n}", std::process::id()))
            .max_attempts(args.max_attempts)
            .backoff(backoff)
            .lease(args.lease);
        let worker = inbox.worker(config);
        let processor = Arc::clone(&processor);
        let mut shutdown = shutdown.clone();
        tasks.spawn(async move {
            let handler = move |delivery: StoredDelivery| {
                let processor = Arc::clone(&processor);
                async move { processor.process(delivery).await }
            };
            let stop = async move {
                // An error means the sender is gone: stop too.
                let _ = shutdown.wait_for(|stop| *stop).await;
            };
            worker.run(&handler, stop).await;
        });
    }
    Ok(tasks)
}

impl ExecCommand {
    async fn run(&self, delivery: &StoredDelivery) -> Result<(), AttemptError> {
        let payload = delivery.payload().map_err(|error| {
            AttemptError::permanent(format!("the stored body holds no JSON payload: {error}"))
        })?;
        let mut command = tokio::process::Command::new("sh");
        command
            .arg("-c")
            .arg(&self.command)
            .env_remove(&self.secret_env)
            // It may hold the database's password.
            .env_remove(crate::inbox_store::DATABASE_URL_ENV)
            .env_remove(crate::env_scrub::MARKER)
            .env("OCTOHOOK_EVENT", &delivery.event)
            .env("OCTOHOOK_ACTION", delivery.action.as_deref().unwrap_or(""))
            .env("OCTOHOOK_DELIVERY", delivery.key.guid.as_str())
            .env(
                "OCTOHOOK_HOOK_ID",
                delivery
                    .key
                    .hook_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
            )
            .env("OCTOHOOK_IDEMPOTENCY_KEY", delivery.key.to_string())
            .env("OCTOHOOK_ATTEMPT", delivery.attempts.to_string())
            .stdin(Stdio::piped())
            .stdout(child_stdout())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|error| AttemptError::retry(format!("cannot run --exec: {error}")))?;
        let stdin = child.stdin.take();
        let stderr = child.stderr.take();
        let feed = async {
            if let Some(mut stdin) = stdin {
                // A command that does not read its input closes the pipe early:
                // not an error of the delivery.
                let _ = stdin.write_all(&payload).await;
            }
        };
        let collect = async {
            match stderr {
                Some(stderr) => read_tail(stderr).await,
                None => Vec::new(),
            }
        };
        let finished = tokio::time::timeout(self.timeout, async {
            let ((), tail, status) = tokio::join!(feed, collect, child.wait());
            (tail, status)
        })
        .await;
        let (tail, status) = match finished {
            Ok(done) => done,
            Err(_) => {
                let _ = child.start_kill();
                return Err(AttemptError::retry(format!(
                    "--exec timed out after {}",
                    humantime::format_duration(self.timeout)
                )));
            }
        };
        let status = status
            .map_err(|error| AttemptError::retry(format!("cannot wait for --exec: {error}")))?;
        if status.success() {
            return Ok(());
        }
        let tail = String::from_utf8_lossy(&tail);
        let tail = tail.trim();
        let message = if tail.is_empty() {
            format!("--exec {status}")
        } else {
            format!("--exec {status}: {tail}")
        };
        Err(AttemptError::retry(message))
    }
}

/// The command's standard output goes to the receiver's standard error, so that
/// it never mixes with the JSON lines on standard output.
fn child_stdout() -> Stdio {
    use std::os::fd::AsFd;
    match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    }
}

/// Reads `reader` to its end, keeping the last [`STDERR_TAIL`] bytes (cut at a
/// character boundary by the lossy decoding later).
async fn read_tail(mut reader: impl tokio::io::AsyncRead + Unpin) -> Vec<u8> {
    let mut tail = Vec::with_capacity(STDERR_TAIL * 2);
    let mut chunk = [0_u8; 4096];
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                tail.extend_from_slice(&chunk[..read]);
                if tail.len() > STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
        }
    }
    tail
}

impl Forward {
    async fn post(&self, delivery: &StoredDelivery) -> Result<(), AttemptError> {
        let response = self
            .client
            .post(self.url.clone())
            .headers(delivery.header_map())
            .body(delivery.body.clone())
            .send()
            .await
            .map_err(|error| {
                AttemptError::retry(format!("--forward failed: {}", without_url(&error)))
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let message = format!("--forward answered {status}");
        let code = status.as_u16();
        if code == 408 || code == 429 || status.is_server_error() {
            Err(AttemptError::retry(message))
        } else {
            Err(AttemptError::permanent(message))
        }
    }
}

/// A request error's description without the URL (which may hold credentials).
fn without_url(error: &reqwest::Error) -> String {
    let mut error_chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(cause) = source {
        error_chain.push(cause.to_string());
        source = cause.source();
    }
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request error"
    };
    if error_chain.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {}", error_chain.join(": "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_stderr_tail_keeps_the_last_bytes() {
        let text: Vec<u8> = (0..2000).map(|i| b'a' + (i % 26) as u8).collect();
        let tail = read_tail(&text[..]).await;
        assert_eq!(tail.len(), STDERR_TAIL);
        assert_eq!(&tail[..], &text[text.len() - STDERR_TAIL..]);
    }
}
