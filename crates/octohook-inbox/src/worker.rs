//! [`Worker`]: claims stored deliveries one at a time and runs a handler on each,
//! with retries, backoff and a dead-letter state; and the batched pool that
//! [`Processing`](crate::Processing) runs on the same steps.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use crate::insert_queue::HandedOff;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::{
    Attempt, Claim, Claimed, Completion, DeliveryKey, DeliveryStore, Finish, StoreError,
    StoredDelivery, StoredDeliveryId,
};

/// Exponential backoff between attempts: `initial`, then multiplied by `factor`
/// after each failed attempt, never more than `max`; with jitter (the default),
/// each actual delay is drawn between half of that and all of it.
///
/// Jitter keeps deliveries that failed together (a handler's dependency was down
/// for a minute) from all being retried in the same instant: the draw depends on
/// the delivery, the attempt and a key chosen at random per process.
///
/// ```
/// use std::time::Duration;
/// use octohook_inbox::{Backoff, DeliveryKey};
///
/// let backoff = Backoff::new(Duration::from_secs(2), 3, Duration::from_secs(60));
/// let ceilings: Vec<u64> = (1..=5).map(|attempt| backoff.delay(attempt).as_secs()).collect();
/// assert_eq!(ceilings, [2, 6, 18, 54, 60]);
///
/// let key = DeliveryKey::new(None, "a1".parse().unwrap());
/// let drawn = backoff.delay_for(&key, 3);
/// assert!(drawn >= Duration::from_secs(9) && drawn <= Duration::from_secs(18));
/// assert_eq!(backoff.without_jitter().delay_for(&key, 3), Duration::from_secs(18));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Backoff {
    initial: Duration,
    factor: u32,
    max: Duration,
    jitter: bool,
}

impl Default for Backoff {
    /// 5 s, doubling, at most 10 minutes, with jitter: `exponential(5 s)`.
    fn default() -> Self {
        Self::exponential(Duration::from_secs(5))
    }
}

impl Backoff {
    /// A jittered backoff starting at `initial`, multiplied by `factor` (at least
    /// 1) per failed attempt, capped at `max`.
    pub fn new(initial: Duration, factor: u32, max: Duration) -> Self {
        Self {
            initial,
            factor: factor.max(1),
            max,
            jitter: true,
        }
    }

    /// The longest delay of an [`exponential`](Self::exponential) backoff: 10
    /// minutes.
    pub const EXPONENTIAL_MAX: Duration = Duration::from_secs(600);

    /// The usual policy, `octohook serve`'s: a jittered backoff starting at
    /// `initial` and doubling per failed attempt, capped at
    /// [`EXPONENTIAL_MAX`](Self::EXPONENTIAL_MAX) (10 minutes, so that a
    /// dependency down for an hour is retried a few times an hour, not once a
    /// day).
    ///
    /// ```
    /// use std::time::Duration;
    /// use octohook_inbox::Backoff;
    ///
    /// let backoff = Backoff::exponential(Duration::from_secs(30));
    /// let ceilings: Vec<u64> = (1..=7).map(|attempt| backoff.delay(attempt).as_secs()).collect();
    /// assert_eq!(ceilings, [30, 60, 120, 240, 480, 600, 600]);
    /// assert_eq!(Backoff::default(), Backoff::exponential(Duration::from_secs(5)));
    /// ```
    pub fn exponential(initial: Duration) -> Self {
        Self::new(initial, 2, Self::EXPONENTIAL_MAX)
    }

    /// The same backoff with exact delays (tests, or a single receiver whose
    /// retries cannot pile up).
    pub fn without_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    /// The longest delay after failed attempt number `attempt` (counted from 1):
    /// the delay itself without jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let mut delay = self.initial;
        for _ in 1..attempt {
            delay = delay.saturating_mul(self.factor);
            if delay >= self.max {
                break;
            }
        }
        delay.min(self.max)
    }

    /// The delay before retrying `key` after its failed attempt number `attempt`.
    pub fn delay_for(&self, key: &DeliveryKey, attempt: u32) -> Duration {
        let ceiling = self.delay(attempt);
        if !self.jitter {
            return ceiling;
        }
        static SEED: OnceLock<RandomState> = OnceLock::new();
        let draw = SEED.get_or_init(RandomState::new).hash_one((key, attempt));
        // Half of the ceiling, plus a fraction of the other half in 1/65536ths.
        let half = ceiling / 2;
        half + (ceiling - half).mul_f64((draw % 65_536) as f64 / 65_536.0)
    }
}

/// How a [`Worker`] processes deliveries.
///
/// ```
/// use std::time::Duration;
/// use octohook_inbox::{Backoff, WorkerConfig};
///
/// let config = WorkerConfig::new("host-1/worker-0")
///     .max_attempts(8)
///     .lease(Duration::from_secs(120))
///     .backoff(Backoff::new(Duration::from_secs(1), 2, Duration::from_secs(300)));
/// assert_eq!(config.name(), "host-1/worker-0");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerConfig {
    pub(crate) name: String,
    pub(crate) lease: Duration,
    max_attempts: u32,
    backoff: Backoff,
    poll_interval: Duration,
    pub(crate) prefetch: usize,
}

impl WorkerConfig {
    /// A worker named `name` (recorded as the lease owner; make it unique, such as
    /// `host/pid/n`), with a 60 s lease, 5 attempts, the default [`Backoff`] and a
    /// 1 s poll interval.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            lease: Duration::from_secs(60),
            max_attempts: 5,
            backoff: Backoff::default(),
            poll_interval: Duration::from_secs(1),
            prefetch: 1,
        }
    }

    /// A configuration named after this process, `HOST/PID` (`HOSTNAME`, or
    /// `octohook` when unset): the lease owner of the deliveries
    /// [`Inbox::process`](crate::Inbox::process) claims.
    pub fn for_this_process() -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "octohook".to_owned());
        Self::new(format!("{host}/{}", std::process::id()))
    }

    /// The same configuration under another name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The worker's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long a claim lasts before another worker may take the delivery over
    /// (when this one crashed or hangs). The worker renews it every third of that
    /// while its handler runs, so it bounds the time to notice a dead worker, not
    /// the handler's running time.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(30));
        self
    }

    /// How many attempts a delivery gets before it is marked `failed` (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The delays between attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How often an idle worker looks for due deliveries (retries coming due,
    /// expired leases, and whatever a wake-up missed). New deliveries wake it at
    /// once: those accepted through the same [`Inbox`](crate::Inbox), and, with
    /// the PostgreSQL store, those stored by any process on any machine
    /// (see [`DeliveryStore::wakeups`]).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// How many deliveries each worker of a [`Processing`](crate::Processing)
    /// pool holds claimed (at least 1, the default): a pool of `w` workers
    /// holds up to `w × deliveries`, and starts their handlers in the order
    /// claimed, `w` at a time.
    ///
    /// Each claim then brings up to `workers × deliveries` at once, and a
    /// delivery stored while the pool has room is handed over with no claim
    /// at all. For a quick handler (a line written, a message queued) that
    /// is most of the store's work per delivery: under load the writer
    /// answers one batch at a time, so claiming one delivery per turn caps
    /// the handling at one delivery per batch.
    ///
    /// What it costs:
    /// - a waiting delivery's lease runs unrenewed, so keep `deliveries`
    ///   times the handler's longest run well within the
    ///   [`lease`](Self::lease) (one whose lease ran out while it waited is
    ///   left for the next claim, not handled);
    /// - the waiting deliveries' bodies are in memory, up to `workers ×
    ///   deliveries` bodies.
    pub fn prefetch(mut self, deliveries: usize) -> Self {
        self.prefetch = deliveries.max(1);
        self
    }
}

/// Why one attempt at processing a delivery failed: worth a retry, or permanent.
///
/// (Not `octohook::HandlerError`, the boxed error of a typed `Dispatcher`
/// handler.)
///
/// ```
/// use octohook_inbox::AttemptError;
///
/// let error = AttemptError::retry(format!("exit status {}", 1));
/// assert!(!error.is_permanent());
/// assert!(AttemptError::permanent("unknown event").is_permanent());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptError {
    message: String,
    permanent: bool,
}

impl AttemptError {
    /// A failure worth another attempt after a backoff (the default kind).
    pub fn retry(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            permanent: false,
        }
    }

    /// A failure no retry will fix: the delivery is marked `failed` at once.
    pub fn permanent(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            permanent: true,
        }
    }

    /// What went wrong (stored as the delivery's `last_error`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether retrying is pointless.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AttemptError {}

/// Processes one stored delivery.
///
/// A handler may run more than once for one delivery: after a failed attempt, and
/// when a worker died while running it (its lease then expires and another worker
/// runs it again). Use [`StoredDelivery::key`] (hook and GUID) as the idempotency
/// key of whatever it does.
///
/// Any `Fn(StoredDelivery) -> impl Future<Output = Result<(), AttemptError>>` is
/// a handler. The future runs as its own tokio task, so a panic in it counts as a
/// failed attempt instead of killing the worker; it is aborted if the worker's
/// future is dropped (a child process it runs should be spawned with
/// `kill_on_drop`).
pub trait Handler: Send + Sync + 'static {
    /// Processes `delivery`.
    fn handle(
        &self,
        delivery: StoredDelivery,
    ) -> impl Future<Output = Result<(), AttemptError>> + Send + 'static;
}

impl<F, Fut> Handler for F
where
    F: Fn(StoredDelivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), AttemptError>> + Send + 'static,
{
    fn handle(
        &self,
        delivery: StoredDelivery,
    ) -> impl Future<Output = Result<(), AttemptError>> + Send + 'static {
        self(delivery)
    }
}

impl<H: Handler> Handler for Arc<H> {
    fn handle(
        &self,
        delivery: StoredDelivery,
    ) -> impl Future<Output = Result<(), AttemptError>> + Send + 'static {
        H::handle(self, delivery)
    }
}

/// What became of a delivery a worker claimed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// The handler succeeded; the delivery is `done`.
    Done,
    /// The handler failed; the delivery is `pending` again, due after `delay`.
    Retrying {
        /// The attempt that failed (from 1).
        attempt: u32,
        /// The backoff before the next one.
        delay: Duration,
    },
    /// The handler failed for the last time (or permanently), or workers kept
    /// dying on the delivery: it is `failed`.
    Failed {
        /// Attempts made.
        attempts: u32,
    },
    /// The worker's lease expired while the handler ran and another worker
    /// claimed the delivery: this worker's result was not recorded.
    Lost,
}

/// One delivery processed by [`Worker::run_once`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Processed {
    /// The delivery's row id.
    pub id: StoredDeliveryId,
    /// The delivery's key.
    pub key: DeliveryKey,
    /// What became of it.
    pub outcome: AttemptOutcome,
}

/// Claims deliveries from a store one at a time and runs a [`Handler`] on each.
///
/// Run as many workers as deliveries should be processed at once, on one machine
/// or several (with a shared store): the store's claims guarantee that no two
/// workers process the same delivery at the same time. A handler's success marks
/// the delivery `done`; a failure schedules another attempt after the
/// [`Backoff`], until `max_attempts`, after which the delivery is `failed` (the
/// dead-letter state, from which `octohook inbox retry` can requeue it).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), octohook_inbox::StoreError> {
/// use octohook::EventKind;
/// use octohook_inbox::{
///     DeliveryKey, AttemptError, Inbox, NewDelivery, AttemptOutcome, StoredDelivery, WorkerConfig,
/// };
///
/// let inbox = Inbox::in_memory();
/// inbox.insert(NewDelivery::new(DeliveryKey::new(None, "a1".parse().unwrap()), EventKind::Ping, "{}")).await?;
///
/// let worker = inbox.worker(WorkerConfig::new("worker-0"));
/// let handler = |delivery: StoredDelivery| async move {
///     println!("{} {}", delivery.event, delivery.key);
///     Ok::<(), AttemptError>(())
/// };
/// let processed = worker.run_once(&handler).await?.unwrap();
/// assert_eq!(processed.outcome, AttemptOutcome::Done);
/// assert!(worker.run_once(&handler).await?.is_none());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Worker {
    store: Arc<dyn DeliveryStore>,
    config: WorkerConfig,
    wakeup: Option<Arc<Notify>>,
}

impl Worker {
    /// A worker over `store`, woken by the store's
    /// [`wakeups`](DeliveryStore::wakeups) when it gives them. Prefer
    /// [`Inbox::worker`](crate::Inbox::worker), which also wakes the worker when
    /// the inbox accepts a delivery into a store that gives none.
    pub fn new(store: Arc<dyn DeliveryStore>, config: WorkerConfig) -> Self {
        Self {
            store,
            config,
            wakeup: None,
        }
    }

    /// Also wakes an idle worker when `wakeup` is notified (`notify_one`), besides
    /// the store's own [`wakeups`](DeliveryStore::wakeups).
    pub fn with_wakeup(mut self, wakeup: Arc<Notify>) -> Self {
        self.wakeup = Some(wakeup);
        self
    }

    /// The worker's configuration.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// Claims the next due delivery, runs `handler` on it and records the
    /// outcome. `None` when no delivery is due.
    pub async fn run_once<H: Handler>(&self, handler: &H) -> Result<Option<Processed>, StoreError> {
        let Some(claimed) = self
            .store
            .claim(&self.config.name, self.config.lease)
            .await?
        else {
            return Ok(None);
        };
        self.process_claimed(handler, claimed, None, None)
            .await
            .map(Some)
    }

    /// Runs `handler` on a claimed delivery and records the outcome: through
    /// `finishes` (batched with other workers') when given, else on its own.
    /// The pool's permit given with `finishes` is freed once the outcome is
    /// queued, and the handler's `turn` (a pool's) as soon as the handler has
    /// ended, while its outcome is being recorded.
    pub(crate) async fn process_claimed<H: Handler>(
        &self,
        handler: &H,
        claimed: Claimed,
        finishes: Option<(&FinishQueue, OwnedSemaphorePermit)>,
        turn: Option<OwnedSemaphorePermit>,
    ) -> Result<Processed, StoreError> {
        let Claimed { delivery, claim } = claimed;
        let (id, key, attempts) = (delivery.id, delivery.key.clone(), delivery.attempts);
        // One span per attempt; with the `otel` feature, a child of the span
        // that stored the delivery, so that it joins the receiver's trace.
        let span = tracing::info_span!(
            "attempt",
            delivery = %key.guid,
            event = %delivery.event,
            hook_id = key.hook_id.map(|id| id.get()),
            attempt = attempts,
        );
        #[cfg(feature = "otel")]
        if let Some(parent) = &delivery.trace_parent {
            parent.set_as_parent_of(&span);
        }
        let mut elapsed = None;
        let outcome = if attempts > self.config.max_attempts {
            // Earlier claims ended without a result: their workers died (maybe
            // because of this very delivery). Stop trying.
            let error = format!(
                "gave up after {} attempts: the worker stopped while handling it{}",
                attempts - 1,
                delivery
                    .last_error
                    .as_deref()
                    .map(|last| format!(" (earlier error: {last})"))
                    .unwrap_or_default()
            );
            drop(turn);
            self.finish(
                claim,
                Err(AttemptError::permanent(error)),
                attempts - 1,
                finishes,
            )
            .await?
        } else {
            let started = Instant::now();
            let (result, claim) = self
                .run_handler(handler, delivery, claim)
                .instrument(span.clone())
                .await;
            elapsed = Some(started.elapsed());
            drop(turn);
            self.finish(claim, result, attempts, finishes).await?
        };
        #[cfg(feature = "metrics")]
        crate::metrics::record_attempt(&outcome, elapsed);
        #[cfg(feature = "otel")]
        crate::trace_context::record_outcome(&span, &outcome);
        #[cfg(not(feature = "metrics"))]
        let _ = elapsed;
        let _entered = span.enter();
        match &outcome {
            AttemptOutcome::Done => {
                tracing::debug!(id = id.get(), %key, attempts, "processed delivery")
            }
            AttemptOutcome::Retrying { delay, .. } => {
                tracing::warn!(id = id.get(), %key, attempts, retry_in = ?delay, "delivery failed; will retry");
            }
            AttemptOutcome::Failed { .. } => {
                tracing::error!(id = id.get(), %key, attempts, "delivery failed for good");
            }
            AttemptOutcome::Lost => {
                tracing::warn!(id = id.get(), %key, "lost the claim on a delivery while handling it");
            }
        }
        Ok(Processed { id, key, outcome })
    }

    /// Runs the handler as its own task, renewing the lease meanwhile; returns
    /// its result and the latest claim.
    async fn run_handler<H: Handler>(
        &self,
        handler: &H,
        delivery: StoredDelivery,
        mut claim: Claim,
    ) -> (Result<(), AttemptError>, Claim) {
        // Should this future be dropped (the worker cancelled), the handler stops
        // too: its claim is no longer renewed and another worker may take over.
        let attempt = Attempt::new(&delivery, self.config.max_attempts);
        // A spawned task starts outside every span: it runs in the delivery's
        // (this future's), so that the handler's own log lines carry it.
        let handled = attempt
            .scope(handler.handle(delivery))
            .instrument(tracing::Span::current());
        let mut task = AbortOnDrop(tokio::spawn(handled));
        let renew_every = self.config.lease / 3;
        let mut renewing = true;
        let result = loop {
            let renewal = async {
                if renewing {
                    tokio::time::sleep(renew_every).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                joined = &mut task.0 => break match joined {
                    Ok(result) => result,
                    Err(error) if error.is_panic() => Err(AttemptError::retry("the handler panicked")),
                    Err(_) => Err(AttemptError::retry("the handler was cancelled")),
                },
                () = renewal => match self.store.renew(&claim, self.config.lease).await {
                    Ok(renewed) => claim = renewed,
                    Err(StoreError::ClaimLost { .. }) => renewing = false,
                    Err(error) => {
                        tracing::warn!(id = claim.id.get(), %error, "cannot renew a lease");
                    }
                },
            }
        };
        (result, claim)
    }

    /// Records the result of attempt number `attempt`.
    async fn finish(
        &self,
        claim: Claim,
        result: Result<(), AttemptError>,
        attempt: u32,
        finishes: Option<(&FinishQueue, OwnedSemaphorePermit)>,
    ) -> Result<AttemptOutcome, StoreError> {
        let (completion, outcome) = match result {
            Ok(()) => (Completion::Done, AttemptOutcome::Done),
            Err(error) if error.is_permanent() || attempt >= self.config.max_attempts => (
                Completion::Failed {
                    error: error.message,
                },
                AttemptOutcome::Failed { attempts: attempt },
            ),
            Err(error) => {
                let delay = self.config.backoff.delay_for(&claim.key, attempt);
                (
                    Completion::RetryLater {
                        error: error.message,
                        delay,
                    },
                    AttemptOutcome::Retrying { attempt, delay },
                )
            }
        };
        let recorded = match finishes {
            Some((queue, slot)) => queue.finish(Finish::new(claim, completion), slot).await,
            None => self.store.finish(Finish::new(claim, completion)).await,
        };
        match recorded {
            Ok(()) => Ok(outcome),
            Err(StoreError::ClaimLost { .. }) => Ok(AttemptOutcome::Lost),
            Err(error) => Err(error),
        }
    }

    /// The pool of [`Processing`](crate::Processing): up to `slots`
    /// deliveries handled at once, and up to `slots ×`
    /// [`prefetch`](WorkerConfig::prefetch) held claimed (one of `free`'s
    /// permits each), claimed in batches (as many as there are free permits)
    /// and finished in batches (through one [`FinishQueue`]), until `shutdown`
    /// resolves; then no more claims, and the deliveries held are handled.
    /// `handed_off` brings the deliveries the inbox claimed for this pool as
    /// it stored them, each with its permit. `running` counts the handlers
    /// running.
    pub(crate) async fn run_pool<H: Handler>(
        &self,
        handler: Arc<H>,
        slots: usize,
        free: Arc<Semaphore>,
        mut handed_off: Option<mpsc::UnboundedReceiver<HandedOff>>,
        shutdown: impl Future<Output = ()>,
        running: Arc<AtomicUsize>,
    ) {
        tokio::pin!(shutdown);
        let held = slots.saturating_mul(self.config.prefetch);
        let finishes = Arc::new(FinishQueue::start(Arc::clone(&self.store), held));
        let store_wakeup = self.store.wakeups();
        // Claimed deliveries wait here for a handler, in the order claimed.
        let (ready, waiting) = mpsc::unbounded_channel::<HandedOff>();
        let handing = self.hand_to_handlers(handler, slots, waiting, finishes, running);
        let claiming = async move {
            let handle = |claimed: Claimed, permit: OwnedSemaphorePermit| {
                // Ends only with `hand_to_handlers`, which outlives this.
                let _ = ready.send((claimed, permit));
            };
            // Whether to ask the store for deliveries now: at start, after a
            // wake-up or a poll, and while claims come back full.
            let mut claim_now = true;
            loop {
                if !claim_now {
                    let wakeup = notified(self.wakeup.as_deref());
                    let store_wakeup = notified(store_wakeup.as_deref());
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = wakeup => {}
                        () = store_wakeup => {}
                        () = tokio::time::sleep(self.config.poll_interval) => {}
                        // Handed off with its permit: nothing to claim for it.
                        Some((claimed, permit)) = next_handed_off(&mut handed_off) => {
                            handle(claimed, permit);
                            continue;
                        }
                    }
                    claim_now = true;
                }
                // Claim as many deliveries as there are free permits, each
                // with its permit: at most `held` deliveries are claimed and
                // not finished.
                let first = tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    Some((claimed, permit)) = next_handed_off(&mut handed_off) => {
                        handle(claimed, permit);
                        continue;
                    }
                    permit = Arc::clone(&free).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                };
                let mut permits = vec![first];
                while let Ok(permit) = Arc::clone(&free).try_acquire_owned() {
                    permits.push(permit);
                }
                let wanted = permits.len();
                match self
                    .store
                    .claim_batch(&self.config.name, self.config.lease, wanted)
                    .await
                {
                    Ok(claimed) => {
                        // Fewer than asked for: nothing else is due now.
                        claim_now = claimed.len() == wanted;
                        for (claimed, permit) in claimed.into_iter().zip(permits.drain(..)) {
                            handle(claimed, permit);
                        }
                    }
                    Err(error) => {
                        tracing::error!(worker = %self.config.name, %error, "cannot claim deliveries");
                        claim_now = false;
                    }
                }
            }
            // No more claims. Deliveries already claimed for this pool as they
            // were stored are handled too, rather than left for their leases to
            // expire; so are those waiting, and the running handlers finish
            // (their time bounded by `Processing::drain`, which aborts this
            // future and them with it).
            if let Some(mut handed_off) = handed_off {
                handed_off.close();
                while let Ok((claimed, permit)) = handed_off.try_recv() {
                    handle(claimed, permit);
                }
            }
        };
        tokio::join!(claiming, handing);
    }

    /// Hands the claimed deliveries `waiting` to handlers in the order
    /// claimed, `slots` at a time (a handler's turn ends with it, before its
    /// outcome is recorded); returns once `waiting` is closed and every
    /// handler has finished. A delivery whose lease ran out while it waited
    /// is left for the next claim.
    async fn hand_to_handlers<H: Handler>(
        &self,
        handler: Arc<H>,
        slots: usize,
        mut waiting: mpsc::UnboundedReceiver<HandedOff>,
        finishes: Arc<FinishQueue>,
        running: Arc<AtomicUsize>,
    ) {
        let turns = Arc::new(Semaphore::new(slots.max(1)));
        let mut handling = JoinSet::new();
        while let Some((claimed, permit)) = waiting.recv().await {
            while handling.try_join_next().is_some() {}
            let Ok(turn) = Arc::clone(&turns).acquire_owned().await else {
                break;
            };
            if claimed.claim.lease_until <= SystemTime::now() {
                tracing::debug!(
                    worker = %self.config.name,
                    id = claimed.claim.id.get(),
                    "a delivery's lease ran out while it waited for a handler: left for the next claim"
                );
                continue;
            }
            let worker = self.clone();
            let handler = Arc::clone(&handler);
            let finishes = Arc::clone(&finishes);
            let running = Running::start(&running);
            handling.spawn(async move {
                let _running = running;
                if let Err(error) = worker
                    .process_claimed(&*handler, claimed, Some((&finishes, permit)), Some(turn))
                    .await
                {
                    tracing::error!(worker = %worker.config.name, %error, "cannot record a delivery's outcome");
                }
            });
        }
        while handling.join_next().await.is_some() {}
    }

    /// Processes deliveries until `shutdown` resolves: runs
    /// [`run_once`](Self::run_once) in a loop and, when nothing is due, waits for
    /// a wakeup or the poll interval. A delivery being handled when `shutdown`
    /// resolves is finished first. Store errors are logged and retried after the
    /// poll interval.
    pub async fn run<H: Handler>(&self, handler: &H, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let store_wakeup = self.store.wakeups();
        loop {
            let idle = match self.run_once(handler).await {
                Ok(processed) => processed.is_none(),
                Err(error) => {
                    tracing::error!(worker = %self.config.name, %error, "cannot claim a delivery");
                    true
                }
            };
            if idle {
                let wakeup = notified(self.wakeup.as_deref());
                let store_wakeup = notified(store_wakeup.as_deref());
                tokio::select! {
                    () = &mut shutdown => return,
                    () = wakeup => {}
                    () = store_wakeup => {}
                    () = tokio::time::sleep(self.config.poll_interval) => {}
                }
            } else {
                tokio::select! {
                    biased;
                    () = &mut shutdown => return,
                    () = std::future::ready(()) => {}
                }
            }
        }
    }
}

/// The next delivery handed off to the pool; never once there are no more
/// (the channel closed, or none was given).
async fn next_handed_off(
    handed_off: &mut Option<mpsc::UnboundedReceiver<HandedOff>>,
) -> Option<HandedOff> {
    if let Some(receiver) = handed_off {
        if let Some(next) = receiver.recv().await {
            return Some(next);
        }
        *handed_off = None;
    }
    std::future::pending().await
}

/// Resolves when `notify` is notified; never without one.
async fn notified(notify: Option<&Notify>) {
    match notify {
        Some(notify) => notify.notified().await,
        None => std::future::pending().await,
    }
}

/// One handler running in a pool, counted until dropped.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn start(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(count))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Coalesces the finishes of a pool's handlers into
/// [`finish_batch`](DeliveryStore::finish_batch) calls: one batch is recorded
/// at a time, holding whatever was queued meanwhile.
///
/// A handler's slot is freed as soon as its outcome is queued, so that the
/// pool's next claim goes to the store together with this finish (on SQLite,
/// in the same commit) instead of after it. At most `max_batch` finishes wait
/// to be recorded (one per slot): past it, a handler keeps its slot until
/// there is room.
#[derive(Debug)]
pub(crate) struct FinishQueue {
    queue: mpsc::UnboundedSender<(Finish, oneshot::Sender<Result<(), StoreError>>)>,
    room: Arc<Semaphore>,
}

impl FinishQueue {
    /// Starts the task that records batches of at most `max_batch`; it ends
    /// when the queue is dropped.
    pub(crate) fn start(store: Arc<dyn DeliveryStore>, max_batch: usize) -> Self {
        let (queue, mut queued) =
            mpsc::unbounded_channel::<(Finish, oneshot::Sender<Result<(), StoreError>>)>();
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while queued.recv_many(&mut batch, max_batch.max(1)).await > 0 {
                let (finishes, answers): (Vec<Finish>, Vec<_>) = batch.drain(..).unzip();
                let count = finishes.len();
                match store.finish_batch(finishes).await {
                    Ok(results) if results.len() == count => {
                        for (result, answer) in results.into_iter().zip(answers) {
                            let _ = answer.send(result);
                        }
                    }
                    Ok(_) => {
                        for answer in answers {
                            let _ = answer.send(Err(StoreError::Unavailable(
                                "the store answered a batch of finishes with the wrong number of results".to_owned(),
                            )));
                        }
                    }
                    Err(error) => {
                        for answer in answers {
                            let _ = answer.send(Err(error.clone()));
                        }
                    }
                }
            }
        });
        Self {
            queue,
            room: Arc::new(Semaphore::new(max_batch.max(1))),
        }
    }

    /// Records `finish` in the next batch, freeing `slot` once it is queued;
    /// returns its own result.
    pub(crate) async fn finish(
        &self,
        finish: Finish,
        slot: OwnedSemaphorePermit,
    ) -> Result<(), StoreError> {
        let stopped = || StoreError::Unavailable("the pool's finishing task stopped".to_owned());
        let _room = self.room.acquire().await.map_err(|_| stopped())?;
        let (answer, answered) = oneshot::channel();
        self.queue.send((finish, answer)).map_err(|_| stopped())?;
        drop(slot);
        answered.await.map_err(|_| stopped())?
    }
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::{Inbox, NewDelivery};
    use octohook::EventKind;

    #[test]
    fn jittered_delays_stay_within_half_and_all_of_the_ceiling_and_spread() {
        let backoff = Backoff::exponential(Duration::from_secs(4));
        let delays: Vec<Duration> = (0..200)
            .map(|n| {
                let key = DeliveryKey::new(None, format!("guid-{n}").parse().unwrap());
                backoff.delay_for(&key, 2)
            })
            .collect();
        for delay in &delays {
            assert!(*delay >= Duration::from_secs(4) && *delay <= Duration::from_secs(8));
        }
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 150, "{} distinct delays", distinct.len());
        let mean = delays.iter().sum::<Duration>() / 200;
        assert!(
            mean > Duration::from_secs(5) && mean < Duration::from_secs(7),
            "{mean:?}"
        );
    }

    /// A `tracing` writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_handlers_log_lines_carry_the_deliverys_span() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        // This runtime has one thread: the handler's task runs on it, under
        // this subscriber.
        let _default = tracing::subscriber::set_default(subscriber);
        let inbox = Inbox::in_memory();
        let key = DeliveryKey::new(
            Some(octohook::HookId::new(7)),
            "72d3162e-cc78-11e3".parse().unwrap(),
        );
        inbox
            .insert(NewDelivery::new(key, EventKind::Issues, "{}"))
            .await
            .unwrap();
        let handler = |_: StoredDelivery| async {
            // After an await: on a later poll of the task, not only its first.
            tokio::task::yield_now().await;
            tracing::info!("handler ran");
            Ok(())
        };
        let worker = inbox.worker(WorkerConfig::new("w"));
        let processed = worker.run_once(&handler).await.unwrap().unwrap();
        assert_eq!(processed.outcome, AttemptOutcome::Done);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let line = text
            .lines()
            .find(|line| line.ends_with("handler ran"))
            .unwrap_or_else(|| panic!("no handler line in:\n{text}"));
        for field in [
            "attempt{",
            "delivery=72d3162e-cc78-11e3",
            "event=issues",
            "hook_id=7",
            "attempt=1",
        ] {
            assert!(line.contains(field), "no {field} in {line}");
        }
    }

    #[tokio::test]
    async fn dropping_a_worker_mid_delivery_aborts_its_handler() {
        let inbox = Inbox::in_memory();
        let key = DeliveryKey::new(None, "a1".parse().unwrap());
        inbox
            .insert(NewDelivery::new(key, EventKind::Ping, "{}"))
            .await
            .unwrap();
        let finished = Arc::new(AtomicBool::new(false));
        let handler = {
            let finished = finished.clone();
            move |_: StoredDelivery| {
                let finished = finished.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    finished.store(true, Ordering::SeqCst);
                    Ok(())
                }
            }
        };
        let worker = inbox.worker(WorkerConfig::new("w"));
        let cancelled =
            tokio::time::timeout(Duration::from_millis(50), worker.run_once(&handler)).await;
        assert!(cancelled.is_err(), "the handler should still be running");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!finished.load(Ordering::SeqCst), "the handler kept running");
    }
}
