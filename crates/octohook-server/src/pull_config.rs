//! [`PullConfig`]: pull mode beside the HTTP receiver. A [`Receiver`] given
//! one with [`Receiver::pull`] reads the hook's deliveries from GitHub's API
//! into the inbox it stores pushed deliveries in, polling until shutdown: a
//! receiver that was down catches up by itself, and whichever of push and pull
//! comes first stores a delivery (the inbox keeps one row per (hook, GUID)).
//! The same workers process both.
//!
//! What a pull costs in API requests, how a pulled delivery is trusted and why
//! a crash loses nothing: see [`octohook_client::pull`].

use std::time::Duration;

use octohook_client::pull::{PullOptions, PullSource};
use octohook_client::{Client, HookRef};
use tokio::task::JoinHandle;

use crate::Receiver;

/// The pause between polls when none is given: one listing request every ten
/// seconds when nothing is new, 360 an hour of the 5,000 a token may make.
pub const DEFAULT_PULL_INTERVAL: Duration = Duration::from_secs(10);

/// What a [`Receiver`] pulls: a hook (a repository's, an organization's or a
/// GitHub App's), the client that reads it (token, API root, trusted CAs), how
/// far back the first run goes, and how often to poll.
///
/// ```no_run
/// use octohook::{Verifier, WebhookSecret};
/// use octohook_client::{Client, ClientOptions, HookId, HookRef, Token};
/// use octohook_server::{PullConfig, Receiver, ReceiverConfig, shutdown_signal};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = WebhookSecret::new(std::env::var("GITHUB_WEBHOOK_SECRET")?)?;
/// let mut receiver = Receiver::start(Verifier::new(secret), ReceiverConfig::default()).await?;
/// let client = Client::new(Token::from_env("GITHUB_TOKEN")?, ClientOptions::default())?;
/// let hook = HookRef::repository("octo-org", "hello-world", HookId::new(42));
/// receiver.pull(PullConfig::new(client, hook))?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// receiver.serve(listener, shutdown_signal()).await; // stops the pull too
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PullConfig {
    /// The client that reads the hook's deliveries.
    pub client: Client,
    /// The hook.
    pub hook: HookRef,
    /// How far back the first run goes, and the rate-limit wait it sits through.
    pub options: PullOptions,
    /// The pause between polls.
    pub interval: Duration,
}

impl PullConfig {
    /// Pulls `hook` with `client`, with [`PullOptions::default`] and
    /// [`DEFAULT_PULL_INTERVAL`].
    pub fn new(client: Client, hook: HookRef) -> Self {
        Self {
            client,
            hook,
            options: PullOptions::default(),
            interval: DEFAULT_PULL_INTERVAL,
        }
    }
}

/// Why [`Receiver::pull`] could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PullStartError {
    /// The receiver keeps no inbox ([`StoreConfig::None`](crate::StoreConfig::None)):
    /// pulled deliveries have nowhere to go, and nothing to deduplicate against.
    #[error("pulling stores what it reads: it needs an inbox (not --no-inbox)")]
    NoInbox,
}

/// The pulls a receiver runs, stopped when it stops serving.
#[derive(Debug, Default)]
pub(crate) struct PullTasks(Vec<JoinHandle<()>>);

impl PullTasks {
    /// Stops every pull. A run cut short saves no cursor; the next start
    /// lists the same deliveries again and finds the stored ones in the inbox.
    pub(crate) fn stop(self) {
        for task in self.0 {
            task.abort();
        }
    }
}

impl Receiver {
    /// Starts pulling `config`'s hook into this receiver's inbox: a first run
    /// at once (the catch-up, back to the cursor of the last completed run or
    /// [`PullOptions::since`]), then one every [`PullConfig::interval`], until
    /// [`serve`](Self::serve) returns. A failed run is logged and tried again
    /// at the next poll. Call it once per hook.
    pub fn pull(&mut self, config: PullConfig) -> Result<(), PullStartError> {
        let inbox = self.inbox.clone().ok_or(PullStartError::NoInbox)?;
        let PullConfig {
            client,
            hook,
            options,
            interval,
        } = config;
        tracing::info!(
            %hook,
            since_secs = options.since.as_secs(),
            interval_secs = interval.as_secs_f64(),
            "pulling beside the receiver"
        );
        let source = PullSource::new(client, hook, inbox, options);
        // Each run logs its count (`octohook_client::pull`); a failed one, a
        // warning.
        let task = tokio::spawn(async move { source.follow(interval, |_| {}).await });
        self.pulls.0.push(task);
        Ok(())
    }
}
