//! [`ProcessingConfig`]: how a receiver processes the deliveries it stores: the
//! handler chain (the line, `--exec`, `--forward`) and the workers that run it.

#[cfg(feature = "exec")]
use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

use octohook_inbox::handlers::{Chain, JsonLines};
use octohook_inbox::{Backoff, Inbox, Processing, WorkerConfig};

/// The variable `octohook serve` reads the `--forward` URL from (it may carry
/// credentials).
pub const FORWARD_ENV: &str = "OCTOHOOK_FORWARD";

/// The variable `octohook serve` reads the `--publish` URLs from, separated by
/// spaces (they may carry credentials).
#[cfg(any(feature = "nats", feature = "amqp"))]
pub const PUBLISH_ENV: &str = "OCTOHOOK_PUBLISH";

/// The prefix of octohook's own variables, none of which an `--exec` command
/// inherits.
#[cfg(feature = "exec")]
const OWN_VARIABLES: &str = "OCTOHOOK_";

/// How many deliveries the line writer holds claimed (with lines alone): the
/// one it writes and those waiting. Their bodies are in memory: at most this
/// many times the body limit.
pub const LINES_PREFETCH: usize = 64;

/// How a receiver with an inbox processes its deliveries: each is written as a
/// JSON line, then handed to the `exec` command, then `forward`ed, each step
/// only once the one before succeeded, by workers that retry failures with a
/// jittered backoff (doubling from `retry_backoff` up to
/// [`Backoff::EXPONENTIAL_MAX`](octohook_inbox::Backoff::EXPONENTIAL_MAX))
/// and mark a delivery `failed` after its last attempt.
///
/// Its fields are the "Processing" flags of `octohook serve`, and their
/// comments the flags' help; with the `clap` feature it derives `clap::Args`.
///
/// ```
/// use std::time::Duration;
/// use octohook_server::ProcessingConfig;
///
/// let config = ProcessingConfig {
///     workers: 4,
///     max_attempts: 8,
///     retry_backoff: Duration::from_secs(1),
///     ..ProcessingConfig::default()
/// };
/// assert_eq!(config.shutdown_timeout, Duration::from_secs(30));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[cfg_attr(feature = "clap", command(next_help_heading = "Processing"))]
pub struct ProcessingConfig {
    // The field comments are the flags' help.
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
    #[cfg(feature = "exec")]
    #[cfg_attr(feature = "clap", arg(long, env = "OCTOHOOK_EXEC", value_name = "CMD"))]
    pub exec: Option<String>,
    /// Post each delivery to URL with its original headers and body. 2xx marks it
    /// done; 408, 429, 5xx and connection errors are retried; other answers fail
    /// it at once. A user name and password in URL are sent as Basic
    /// authentication and never printed; prefer the variable to the flag, which
    /// every user can read in the process list.
    #[cfg(feature = "forward")]
    #[cfg_attr(feature = "clap", arg(long, env = FORWARD_ENV, hide_env_values = true, value_name = "URL"))]
    pub forward: Option<url::Url>,
    /// Publish each delivery to a broker, after the line, --exec and --forward,
    /// and count it done once the broker confirmed it (repeatable; in the
    /// variable, separated by spaces). nats://HOST:PORT/SUBJECT publishes to
    /// the JetStream stream covering SUBJECT (checked at start) with
    /// Nats-Msg-Id = HOOK:GUID: once into the stream within its duplicate
    /// window. amqp://USER:PASS@HOST:PORT/VHOST?exchange=NAME&routing_key=KEY
    /// publishes persistent messages with confirms, message_id = HOOK:GUID: at
    /// least once. SUBJECT and KEY may hold {event} and {action}. Passwords are
    /// never printed; prefer the variable to the flag.
    #[cfg(any(feature = "nats", feature = "amqp"))]
    #[cfg_attr(feature = "clap", arg(long, env = PUBLISH_ENV, hide_env_values = true, value_name = "URL", value_delimiter = ' ', value_parser = crate::flags::PublishTargetParser))]
    pub publish: Vec<octohook_broker::PublishTarget>,
    /// Deliveries processed at once (with none of --exec, --forward and --publish, one
    /// worker only marks deliveries done).
    #[cfg_attr(feature = "clap", arg(long, env = "OCTOHOOK_WORKERS", value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=256)))]
    pub workers: u32,
    /// Attempts per delivery before it is marked failed (the dead-letter state;
    /// `octohook inbox retry` requeues it).
    #[cfg_attr(feature = "clap", arg(long, env = "OCTOHOOK_MAX_ATTEMPTS", value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..)))]
    pub max_attempts: u32,
    /// Delay after the first failed attempt; it doubles after each further one,
    /// up to 10 minutes, and each actual delay is drawn between half of that and
    /// all of it (jitter).
    #[cfg_attr(feature = "clap", arg(long, env = "OCTOHOOK_RETRY_BACKOFF", value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration))]
    pub retry_backoff: Duration,
    /// How long --exec may run before it is killed (and the attempt failed).
    #[cfg(feature = "exec")]
    #[cfg_attr(feature = "clap", arg(long, env = "OCTOHOOK_EXEC_TIMEOUT", value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration))]
    pub exec_timeout: Duration,
    /// How long a --forward request may take.
    #[cfg(feature = "forward")]
    #[cfg_attr(feature = "clap", arg(long, env = "OCTOHOOK_FORWARD_TIMEOUT", value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration))]
    pub forward_timeout: Duration,
    /// How long a worker's claim lasts unless renewed: after a crash, the
    /// deliveries it was handling are taken up again once this has passed.
    #[cfg_attr(feature = "clap", arg(long, env = "OCTOHOOK_LEASE", value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration))]
    pub lease: Duration,
    /// On shutdown, how long to wait for running handlers before killing them
    /// (their deliveries are processed again after the next start).
    #[cfg_attr(feature = "clap", arg(long, env = "OCTOHOOK_SHUTDOWN_TIMEOUT", value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration))]
    pub shutdown_timeout: Duration,
    /// Variables the command does not inherit, besides octohook's own
    /// `OCTOHOOK_*` ones: the secret's variable, say (not a flag).
    #[cfg(feature = "exec")]
    #[cfg_attr(feature = "clap", arg(skip))]
    pub exec_hidden_variables: Vec<OsString>,
}

impl Default for ProcessingConfig {
    /// `octohook serve`'s defaults: no command, no forward, 2 workers, 5
    /// attempts, a 5 s first backoff, 60 s for a command, 30 s for a forward, a
    /// 60 s lease and 30 s to drain.
    fn default() -> Self {
        Self {
            #[cfg(feature = "exec")]
            exec: None,
            #[cfg(feature = "forward")]
            forward: None,
            #[cfg(any(feature = "nats", feature = "amqp"))]
            publish: Vec::new(),
            workers: 2,
            max_attempts: 5,
            retry_backoff: Duration::from_secs(5),
            #[cfg(feature = "exec")]
            exec_timeout: Duration::from_secs(60),
            #[cfg(feature = "forward")]
            forward_timeout: Duration::from_secs(30),
            lease: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(30),
            #[cfg(feature = "exec")]
            exec_hidden_variables: Vec::new(),
        }
    }
}

impl fmt::Debug for ProcessingConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("ProcessingConfig");
        #[cfg(feature = "exec")]
        debug.field("exec", &self.exec);
        // The URL may hold credentials: only whether there is one.
        #[cfg(feature = "forward")]
        debug.field("forward", &self.forward.as_ref().map(|_| "…"));
        // Their Debug stars the passwords.
        #[cfg(any(feature = "nats", feature = "amqp"))]
        debug.field("publish", &self.publish);
        debug
            .field("workers", &self.workers)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

/// Why processing could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ProcessingError {
    /// A command, a forward or a publish was asked for without an inbox to run
    /// it from.
    #[error("--exec, --forward and --publish need an inbox: drop --no-inbox")]
    NoInbox,
    /// A `--publish` URL taken from the environment is not one (its text is
    /// not repeated: it may hold credentials).
    #[cfg(any(feature = "nats", feature = "amqp"))]
    #[error("{PUBLISH_ENV}: {0}")]
    PublishUrl(octohook_broker::PublishUrlError),
    /// A `--publish` broker could not be reached, or failed its start-up
    /// check (no stream covers the subject, no such exchange).
    #[cfg(any(feature = "nats", feature = "amqp"))]
    #[error("--publish {target}: {source}")]
    Publish {
        /// The target, password starred.
        target: String,
        /// What went wrong.
        #[source]
        source: octohook_broker::BrokerError,
    },
    /// The forward's HTTP client could not be built.
    #[cfg(feature = "forward")]
    #[error("--forward: {0}")]
    Client(octohook_inbox::handlers::ForwardError),
    /// The forward URL taken from the environment is not a URL (its text is not
    /// repeated: it may hold credentials).
    #[cfg(feature = "forward")]
    #[error("{FORWARD_ENV} is not a URL: {0}")]
    ForwardUrl(url::ParseError),
}

impl ProcessingConfig {
    /// Uses `url`, the value [`FORWARD_ENV`] had before the process took it out
    /// of its environment, as clap would have: unless a forward is set already.
    #[cfg(feature = "forward")]
    pub fn use_forward_from_env(&mut self, url: &str) -> Result<(), ProcessingError> {
        if self.forward.is_none() {
            self.forward = Some(url.parse().map_err(ProcessingError::ForwardUrl)?);
        }
        Ok(())
    }

    /// Uses `urls`, the value [`PUBLISH_ENV`] had before the process took it
    /// out of its environment, as clap would have: unless `--publish` is given.
    #[cfg(any(feature = "nats", feature = "amqp"))]
    pub fn use_publish_from_env(&mut self, urls: &str) -> Result<(), ProcessingError> {
        if self.publish.is_empty() {
            self.publish = urls
                .split(' ')
                .filter(|url| !url.is_empty())
                .map(octohook_broker::PublishTarget::parse)
                .collect::<Result<_, _>>()
                .map_err(ProcessingError::PublishUrl)?;
        }
        Ok(())
    }

    /// Connects to each `--publish` broker and makes its start-up checks.
    #[cfg(any(feature = "nats", feature = "amqp"))]
    pub async fn publishers(&self) -> Result<Vec<octohook_broker::Publisher>, ProcessingError> {
        let schedule = octohook_broker::RetrySchedule::new(
            Backoff::exponential(self.retry_backoff),
            self.max_attempts,
        );
        let mut publishers = Vec::with_capacity(self.publish.len());
        for target in &self.publish {
            let publisher = octohook_broker::Publisher::connect(target, schedule)
                .await
                .map_err(|source| ProcessingError::Publish {
                    target: target.to_string(),
                    source,
                })?;
            publishers.push(publisher);
        }
        Ok(publishers)
    }

    /// Whether deliveries are handed to a command, a forward or a broker (and
    /// so need an inbox).
    pub fn has_handler(&self) -> bool {
        #[cfg(any(feature = "nats", feature = "amqp"))]
        if !self.publish.is_empty() {
            return true;
        }
        #[cfg(feature = "exec")]
        if self.exec.is_some() {
            return true;
        }
        #[cfg(feature = "forward")]
        if self.forward.is_some() {
            return true;
        }
        false
    }

    /// The handler each worker runs: `lines`, then the command, then the
    /// forward, then the publishers (connected by [`publishers`](Self::publishers)).
    pub fn handler(
        &self,
        lines: JsonLines,
        #[cfg(any(feature = "nats", feature = "amqp"))] publishers: Vec<octohook_broker::Publisher>,
    ) -> Result<Chain, ProcessingError> {
        #[cfg_attr(
            not(any(
                feature = "exec",
                feature = "forward",
                feature = "nats",
                feature = "amqp"
            )),
            allow(unused_mut)
        )]
        let mut chain = Chain::new().then(lines);
        #[cfg(feature = "exec")]
        if let Some(command) = &self.exec {
            chain = chain.then(self.exec_handler(command));
        }
        #[cfg(feature = "forward")]
        if let Some(url) = &self.forward {
            chain = chain.then(
                octohook_inbox::handlers::Forward::new(url.clone(), self.forward_timeout)
                    .map_err(ProcessingError::Client)?,
            );
        }
        #[cfg(any(feature = "nats", feature = "amqp"))]
        for publisher in publishers {
            chain = chain.then(publisher);
        }
        Ok(chain)
    }

    #[cfg(feature = "exec")]
    fn exec_handler(&self, command: &str) -> octohook_inbox::handlers::Exec {
        let mut exec = octohook_inbox::handlers::Exec::shell(command)
            .timeout(self.exec_timeout)
            // Gone from this process's environment already where the caller
            // took them out; they may hold the database's password, the
            // forward's credentials.
            .env_remove(crate::DATABASE_URL_ENV)
            .env_remove(FORWARD_ENV);
        #[cfg(any(feature = "nats", feature = "amqp"))]
        {
            exec = exec.env_remove(PUBLISH_ENV);
        }
        for name in &self.exec_hidden_variables {
            exec = exec.env_remove(name);
        }
        // Any other configuration of octohook's is none of the command's
        // business; Exec sets the delivery's own variables after removing.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with(OWN_VARIABLES) {
                exec = exec.env_remove(name);
            }
        }
        exec
    }

    /// Starts the workers over `inbox`: with a command or a forward,
    /// [`workers`](Self::workers) of them, each holding one delivery at a
    /// time; with lines alone, one, holding up to [`LINES_PREFETCH`].
    pub fn start(&self, inbox: &Inbox, handler: Chain) -> Processing {
        let config = WorkerConfig::for_this_process()
            .max_attempts(self.max_attempts)
            .backoff(Backoff::exponential(self.retry_backoff))
            .lease(self.lease);
        if self.has_handler() {
            inbox.process(handler, self.workers as usize, config)
        } else {
            // Lines alone are written by one worker, in the order received,
            // with deliveries claimed ahead: a line takes microseconds, a
            // claim a turn of the store's writer.
            inbox.process(handler, 1, config.prefetch(LINES_PREFETCH))
        }
    }
}

#[cfg(all(test, feature = "clap"))]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Serve {
        #[command(flatten)]
        processing: ProcessingConfig,
    }

    #[test]
    fn the_flags_default_to_the_default_config() {
        let variables = [
            "OCTOHOOK_EXEC",
            FORWARD_ENV,
            "OCTOHOOK_WORKERS",
            "OCTOHOOK_MAX_ATTEMPTS",
            "OCTOHOOK_RETRY_BACKOFF",
            "OCTOHOOK_EXEC_TIMEOUT",
            "OCTOHOOK_FORWARD_TIMEOUT",
            "OCTOHOOK_LEASE",
            "OCTOHOOK_SHUTDOWN_TIMEOUT",
            PUBLISH_ENV,
        ];
        // clap reads the variables: the defaults only show without them.
        if variables
            .iter()
            .any(|name| std::env::var_os(name).is_some())
        {
            return;
        }
        let parsed = Serve::try_parse_from(["serve"]).unwrap().processing;
        assert_eq!(parsed, ProcessingConfig::default());
        let parsed = Serve::try_parse_from(["serve", "--workers", "7", "--lease", "2m"])
            .unwrap()
            .processing;
        let expected = ProcessingConfig {
            workers: 7,
            lease: Duration::from_secs(120),
            ..ProcessingConfig::default()
        };
        assert_eq!(parsed, expected);
        assert!(Serve::try_parse_from(["serve", "--workers", "0"]).is_err());
    }

    #[test]
    fn a_forward_url_from_the_environment_applies_only_without_the_flag() {
        let mut config = ProcessingConfig::default();
        config.use_forward_from_env("http://env@h/").unwrap();
        assert_eq!(config.forward.unwrap().as_str(), "http://env@h/");
        let mut flagged = ProcessingConfig {
            forward: Some("http://flag@h/".parse().unwrap()),
            ..ProcessingConfig::default()
        };
        flagged.use_forward_from_env("http://env@h/").unwrap();
        assert_eq!(flagged.forward.unwrap().as_str(), "http://flag@h/");
        let error = ProcessingConfig::default()
            .use_forward_from_env("not a url :pass@")
            .unwrap_err();
        assert!(!error.to_string().contains("pass@"), "{error}");
    }

    #[test]
    fn publish_urls_from_flags_and_the_environment() {
        let parsed = Serve::try_parse_from([
            "serve",
            "--publish",
            "nats://127.0.0.1:4222/github.{event}",
            "--publish",
            "amqp://u:hunter2@h/%2f?exchange=x&routing_key={event}",
        ]);
        if std::env::var_os(PUBLISH_ENV).is_some() {
            return;
        }
        let config = parsed.unwrap().processing;
        assert_eq!(config.publish.len(), 2);
        assert!(config.has_handler());
        assert!(!format!("{config:?}").contains("hunter2"));

        let error = Serve::try_parse_from(["serve", "--publish", "amqp://u:hunter2@h/?exchange=x"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("routing_key"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");

        let mut config = ProcessingConfig::default();
        config
            .use_publish_from_env("nats://h/a.{event}  amqp://u:p@h/?exchange=x&routing_key=k")
            .unwrap();
        assert_eq!(config.publish.len(), 2);
        let error = ProcessingConfig::default()
            .use_publish_from_env("amqp://u:hunter2@h/")
            .unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn the_forward_url_is_not_debugged() {
        let config = ProcessingConfig {
            forward: Some("http://user:hunter2@h/".parse().unwrap()),
            ..ProcessingConfig::default()
        };
        let debugged = format!("{config:?}");
        assert!(!debugged.contains("hunter2"), "{debugged}");
    }
}
