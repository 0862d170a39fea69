//! [`Redeliverer`]: one scan of a hook's deliveries, then the redeliveries it
//! calls for, recorded in a [`RedeliveryLedger`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use octohook::DeliveryGuid;
use time::{Duration, OffsetDateTime};

use super::history::{Scan, Verdict, judge, pair_intents};
use super::ledger::{
    Checkpoint, Intent, IntentClaim, IntentState, LedgerError, NewIntent, RedeliveryLedger,
};
use super::report::{Redelivery, RedeliveryFailure, RunReport};
use crate::client::Client;
use crate::deliveries::{Deliveries, DeliveryQuery};
use crate::error::ClientError;
use crate::models::{DeliveryCursor, DeliveryId, DeliverySummary};
use crate::page::Page;
use crate::retry::Idempotence;
use crate::target::{HookRef, Route};

/// How far back GitHub lets a delivery be redelivered: 3 days.
pub const REDELIVERY_WINDOW: StdDuration = StdDuration::from_secs(3 * 24 * 60 * 60);

/// How far our clock and GitHub's may disagree when telling whether a listed
/// redelivery came after one of our requests.
const CLOCK_SKEW: Duration = Duration::minutes(1);

/// How long resolved intents are kept after the window they could matter in.
const INTENT_RETENTION: StdDuration = StdDuration::from_secs(24 * 60 * 60);

/// Rate-limit waits a single request may sit through before the run gives
/// up, so a server that keeps answering 429 cannot hold a run forever.
const MAX_RATE_LIMIT_WAITS: u32 = 8;

/// How a [`Redeliverer`] runs. A plain struct; take the rest from [`Default`].
///
/// ```
/// use std::time::Duration;
/// use octohook_client::RedeliverOptions;
///
/// let options = RedeliverOptions {
///     since: Duration::from_secs(24 * 60 * 60),
///     max_redeliveries: Some(50),
///     ..RedeliverOptions::default()
/// };
/// assert_eq!(options.max_attempts_per_guid, 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedeliverOptions {
    /// How far back to look, at most [`REDELIVERY_WINDOW`] (longer values are
    /// cut to it). The scan stops earlier at the checkpoint of the last completed
    /// run. Default: [`REDELIVERY_WINDOW`].
    pub since: StdDuration,
    /// The most redelivery requests in one run; the other failed GUIDs wait for
    /// the next run. Default: no cap.
    pub max_redeliveries: Option<u32>,
    /// Redeliveries a failed GUID may have had, ours or anyone's, before it is
    /// left alone. Default: 1.
    pub max_attempts_per_guid: u32,
    /// Scan and decide, but request nothing and write nothing. Default: off.
    pub dry_run: bool,
    /// How far behind the checkpoint the next scan starts, for deliveries GitHub
    /// lists late. Default: 2 minutes.
    pub checkpoint_overlap: StdDuration,
    /// How long a request interrupted by a crash (or answered by a timeout or
    /// 5xx) may take to show up in the deliveries list before it is taken as
    /// never sent, and its GUID redelivered again. Default: 5 minutes.
    pub settle: StdDuration,
    /// The longest rate-limit wait (`Retry-After`, or until the reset time) the
    /// run sits through; a longer one ends the run, leaving the rest for later.
    /// Default: 15 minutes.
    pub max_rate_limit_wait: StdDuration,
    /// Deliveries per list request, 1–100. Default: 100.
    pub per_page: u8,
}

impl Default for RedeliverOptions {
    fn default() -> Self {
        Self {
            since: REDELIVERY_WINDOW,
            max_redeliveries: None,
            max_attempts_per_guid: 1,
            dry_run: false,
            checkpoint_overlap: StdDuration::from_secs(120),
            settle: StdDuration::from_secs(300),
            max_rate_limit_wait: StdDuration::from_secs(900),
            per_page: 100,
        }
    }
}

/// How far a scan got, passed to the callback of
/// [`Redeliverer::run_with_progress`] after each page.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScanProgress {
    /// Pages fetched so far.
    pub pages: u64,
    /// Deliveries on them.
    pub deliveries: u64,
    /// The newest delivery seen.
    pub newest: Option<OffsetDateTime>,
    /// The oldest delivery seen.
    pub oldest: Option<OffsetDateTime>,
    /// How far back the scan goes.
    pub floor: OffsetDateTime,
}

impl ScanProgress {
    /// The share of the time span between the newest delivery and the floor
    /// scanned so far, 0.0–1.0.
    pub fn fraction(&self) -> f64 {
        let (Some(newest), Some(oldest)) = (self.newest, self.oldest) else {
            return 0.0;
        };
        let total = (newest - self.floor).as_seconds_f64();
        if total <= 0.0 {
            return 1.0;
        }
        ((newest - oldest).as_seconds_f64() / total).clamp(0.0, 1.0)
    }
}

/// A run that could not complete: the deliveries could not be listed, or the
/// ledger failed. Problems with single redelivery requests are not errors of the
/// run: they are in [`RunReport::errors`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedeliveryError {
    /// Listing the deliveries failed.
    #[error("cannot list the deliveries: {0}")]
    List(#[source] ClientError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Redelivers a hook's failed deliveries, once per event, safely across crashes
/// and restarts.
///
/// Each [`run`](Self::run) pages through the hook's deliveries newest first,
/// back to the last completed run's checkpoint (or [`RedeliverOptions::since`],
/// at most GitHub's 3-day window), groups them by GUID, and asks GitHub to
/// redeliver each GUID that failed, never succeeded and has not had its
/// redeliveries yet. See the [module documentation](crate::redelivery) for the
/// rules and the crash-safety argument.
///
/// ```no_run
/// use std::sync::Arc;
/// use octohook_client::{
///     Client, ClientOptions, HookId, HookRef, RedeliverOptions, Redeliverer, SqliteLedger, Token,
/// };
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::new(Token::from_env("GITHUB_TOKEN")?, ClientOptions::default())?;
/// let ledger = Arc::new(SqliteLedger::open("octohook-state.db").await?);
/// let redeliverer = Redeliverer::new(
///     client,
///     HookRef::repository("octo-org", "hello-world", HookId::new(12)),
///     ledger,
///     RedeliverOptions::default(),
/// );
/// let report = redeliverer.run().await?;
/// println!("{} redelivered, {} errors", report.redelivered, report.errors.len());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Redeliverer {
    client: Client,
    hook: HookRef,
    route: Route,
    scope: String,
    ledger: Arc<dyn RedeliveryLedger>,
    options: RedeliverOptions,
}

/// What became of one redelivery request.
enum Outcome {
    Accepted,
    /// Another runner sharing the ledger claimed the last attempt first.
    Exhausted,
    /// Not accepted; the next run tries again.
    Failed,
    /// Not accepted, and the run should stop requesting (long rate limit, bad
    /// credential).
    Stop,
}

/// The items GitHub answered, one page at a time.
type DeliveryPage = Page<DeliverySummary, DeliveryCursor>;

impl Redeliverer {
    /// A runner for `hook`, keeping its state in `ledger`.
    pub fn new(
        client: Client,
        hook: HookRef,
        ledger: Arc<dyn RedeliveryLedger>,
        options: RedeliverOptions,
    ) -> Self {
        let route = hook.route();
        let scope = format!("{}{}", client.base_url().trim_end_matches('/'), route);
        Self {
            client,
            hook,
            route,
            scope,
            ledger,
            options,
        }
    }

    /// The key of this hook's state in the ledger: the API root and the hook's
    /// path, e.g. `https://api.github.com/repos/o/r/hooks/12`.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The options the runner was built with.
    pub fn options(&self) -> &RedeliverOptions {
        &self.options
    }

    /// One run: scan, reconcile, redeliver, save the checkpoint.
    pub async fn run(&self) -> Result<RunReport, RedeliveryError> {
        self.run_with_progress(|_| {}).await
    }

    /// [`run`](Self::run), calling `progress` after each page of the scan.
    pub async fn run_with_progress(
        &self,
        mut progress: impl FnMut(&ScanProgress) + Send,
    ) -> Result<RunReport, RedeliveryError> {
        let options = &self.options;
        let started = OffsetDateTime::now_utc();
        let window_start = before(started, options.since.min(REDELIVERY_WINDOW));
        let checkpoint = self.ledger.checkpoint(&self.scope).await?;
        let floor = checkpoint.map_or(window_start, |checkpoint| {
            before(checkpoint.delivered_at, options.checkpoint_overlap).max(window_start)
        });
        tracing::info!(
            hook = %self.hook,
            scope = %self.scope,
            floor = %floor,
            from_checkpoint = checkpoint.is_some(),
            dry_run = options.dry_run,
            "redelivery run started"
        );
        let mut report = RunReport {
            dry_run: options.dry_run,
            scanned_back_to: Some(floor),
            ..RunReport::default()
        };

        let scan = self
            .scan(floor, window_start, &mut report, &mut progress)
            .await?;
        report.skipped_too_old = scan.too_old();

        let guids: Vec<DeliveryGuid> = scan.guids.keys().cloned().collect();
        let mut intents = self.ledger.intents(&self.scope, &guids).await?;
        self.reconcile(&scan, &mut intents, started, &mut report)
            .await?;

        let mut ours: HashMap<&DeliveryGuid, Vec<&Intent>> = HashMap::new();
        for intent in intents.iter().filter(|i| i.state.is_attempt()) {
            ours.entry(&intent.guid).or_default().push(intent);
        }
        // The oldest delivery of a GUID this run leaves unfinished: the checkpoint
        // must stay at or before it, so the next run sees the GUID again.
        let mut hold: Option<OffsetDateTime> = None;
        let mut hold_at =
            |at: OffsetDateTime| hold = Some(hold.map_or(at, |h: OffsetDateTime| h.min(at)));
        let mut candidates = Vec::new();
        for (guid, history) in &scan.guids {
            let mine = ours.get(guid).map_or(&[][..], Vec::as_slice);
            match judge(history, mine, options.max_attempts_per_guid, CLOCK_SKEW) {
                None => {}
                Some(Verdict::Succeeded) => report.skipped_succeeded += 1,
                Some(Verdict::AlreadyRedelivered { pending }) => {
                    report.failed_guids += 1;
                    report.skipped_already_redelivered += 1;
                    if pending {
                        hold_at(history.oldest);
                    }
                }
                Some(Verdict::Redeliver { delivery_id, limit }) => {
                    report.failed_guids += 1;
                    candidates.push((history.oldest, guid.clone(), delivery_id, limit));
                }
            }
        }
        // The oldest first: they are the closest to leaving the window.
        candidates.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));

        let mut requested = 0u32;
        let mut stopped = false;
        for (oldest, guid, delivery_id, limit) in candidates {
            let capped = options.max_redeliveries.is_some_and(|max| requested >= max);
            if stopped || capped {
                report.deferred += 1;
                hold_at(oldest);
                continue;
            }
            requested += 1;
            if options.dry_run {
                tracing::info!(hook = %self.hook, guid = %guid, delivery_id = %delivery_id, "would redeliver");
                report.redelivered += 1;
                report.redeliveries.push(Redelivery { guid, delivery_id });
                continue;
            }
            match self
                .redeliver(&guid, delivery_id, limit, &mut report)
                .await?
            {
                Outcome::Accepted => {}
                Outcome::Exhausted => report.skipped_already_redelivered += 1,
                Outcome::Failed => hold_at(oldest),
                Outcome::Stop => {
                    stopped = true;
                    hold_at(oldest);
                }
            }
        }

        if !options.dry_run {
            if let Some(head) = scan.head {
                let newest = checkpoint.map_or(head, |c| c.delivered_at.max(head));
                let delivered_at = hold.map_or(newest, |h| h.min(newest));
                self.ledger
                    .save_checkpoint(
                        &self.scope,
                        Checkpoint {
                            delivered_at,
                            updated_at: OffsetDateTime::now_utc(),
                        },
                    )
                    .await?;
                tracing::debug!(hook = %self.hook, checkpoint = %delivered_at, "checkpoint saved");
            }
            let pruned = self
                .ledger
                .prune(
                    &self.scope,
                    before(started, REDELIVERY_WINDOW + INTENT_RETENTION),
                )
                .await?;
            if pruned > 0 {
                tracing::debug!(hook = %self.hook, pruned, "old intents pruned");
            }
        }
        tracing::info!(
            hook = %self.hook,
            pages = report.pages_scanned,
            deliveries = report.deliveries_scanned,
            failed_guids = report.failed_guids,
            redelivered = report.redelivered,
            skipped_succeeded = report.skipped_succeeded,
            skipped_already_redelivered = report.skipped_already_redelivered,
            skipped_too_old = report.skipped_too_old,
            deferred = report.deferred,
            errors = report.errors.len(),
            dry_run = options.dry_run,
            "redelivery run finished"
        );
        Ok(report)
    }

    /// The hook's deliveries, through the runner's client.
    fn deliveries(&self) -> Deliveries {
        Deliveries::new(self.client.clone(), self.route.clone())
    }

    /// Pages back to `floor`, grouping by GUID.
    async fn scan(
        &self,
        floor: OffsetDateTime,
        window_start: OffsetDateTime,
        report: &mut RunReport,
        progress: &mut (impl FnMut(&ScanProgress) + Send),
    ) -> Result<Scan, RedeliveryError> {
        let deliveries = self.deliveries();
        let mut scan = Scan::new(floor, window_start);
        // Unfiltered on purpose: deciding needs the successes too, and GitHub's
        // `status=failure` filter selects 4xx–5xx answers only, missing attempts
        // that got no answer (`status_code` 0: timeouts, refused connections).
        let mut query = DeliveryQuery {
            per_page: self.options.per_page.clamp(1, 100),
            ..DeliveryQuery::default()
        };
        loop {
            let page = self.page(&deliveries, &query).await?;
            report.pages_scanned += 1;
            for delivery in &page.items {
                scan.add(delivery);
            }
            report.deliveries_scanned = scan.deliveries;
            tracing::debug!(
                hook = %self.hook,
                page = report.pages_scanned,
                items = page.items.len(),
                "scanned a page of deliveries"
            );
            progress(&ScanProgress {
                pages: report.pages_scanned,
                deliveries: scan.deliveries,
                newest: scan.head,
                oldest: scan.tail,
                floor,
            });
            if scan.reached_floor {
                break;
            }
            match page.next {
                // A server naming the page it just served as the next would
                // otherwise loop forever.
                Some(next) if query.cursor.as_ref() != Some(&next) => query.cursor = Some(next),
                _ => break,
            }
        }
        Ok(scan)
    }

    /// One page, waiting out rate limits up to `max_rate_limit_wait`.
    async fn page(
        &self,
        deliveries: &Deliveries,
        query: &DeliveryQuery,
    ) -> Result<DeliveryPage, RedeliveryError> {
        let mut waits = 0;
        loop {
            match deliveries.page(query).await {
                Err(ClientError::RateLimited(limit)) if waits < MAX_RATE_LIMIT_WAITS => {
                    let wait = rate_limit_wait(&limit);
                    if wait > self.options.max_rate_limit_wait {
                        return Err(RedeliveryError::List(ClientError::RateLimited(limit)));
                    }
                    tracing::warn!(
                        hook = %self.hook,
                        wait_secs = wait.as_secs(),
                        "rate limited while listing deliveries; waiting"
                    );
                    tokio::time::sleep(wait).await;
                    waits += 1;
                }
                result => return result.map_err(RedeliveryError::List),
            }
        }
    }

    /// Resolves the open intents of earlier runs: a listed redelivery made after
    /// the intent confirms it; none within the settle time abandons it.
    async fn reconcile(
        &self,
        scan: &Scan,
        intents: &mut [Intent],
        now: OffsetDateTime,
        report: &mut RunReport,
    ) -> Result<(), RedeliveryError> {
        let settle = Duration::try_from(self.options.settle).unwrap_or(Duration::MAX);
        let mut by_guid: HashMap<DeliveryGuid, Vec<usize>> = HashMap::new();
        for (index, intent) in intents.iter().enumerate() {
            if intent.state.is_attempt() {
                by_guid.entry(intent.guid.clone()).or_default().push(index);
            }
        }
        let mut changes = Vec::new();
        for (guid, indexes) in &by_guid {
            if !indexes
                .iter()
                .any(|&i| intents[i].state == IntentState::Open)
            {
                continue;
            }
            let listed = scan
                .guids
                .get(guid)
                .map_or(&[][..], |history| history.redeliveries.as_slice());
            let attempts: Vec<&Intent> = indexes.iter().map(|&i| &intents[i]).collect();
            let paired = pair_intents(&attempts, listed, CLOCK_SKEW);
            for (&index, paired) in indexes.iter().zip(paired) {
                let intent = &intents[index];
                if intent.state != IntentState::Open {
                    continue;
                }
                if paired {
                    changes.push((index, IntentState::Confirmed));
                } else if now - intent.created_at >= settle {
                    changes.push((index, IntentState::Abandoned));
                }
            }
        }
        for (index, state) in changes {
            let intent = &mut intents[index];
            match state {
                IntentState::Confirmed => {
                    report.intents_confirmed += 1;
                    tracing::info!(
                        hook = %self.hook,
                        guid = %intent.guid,
                        intent = %intent.id,
                        "interrupted redelivery found in the deliveries list: done"
                    );
                }
                _ => {
                    report.intents_abandoned += 1;
                    tracing::warn!(
                        hook = %self.hook,
                        guid = %intent.guid,
                        intent = %intent.id,
                        settle_secs = self.options.settle.as_secs(),
                        "interrupted redelivery not in the deliveries list after the settle time: taken as never sent"
                    );
                }
            }
            if !self.options.dry_run {
                let note = (state == IntentState::Abandoned)
                    .then_some("not listed within the settle time");
                self.ledger.resolve(intent.id, state, note).await?;
            }
            intent.state = state;
        }
        Ok(())
    }

    /// Claims, requests and records one redelivery.
    async fn redeliver(
        &self,
        guid: &DeliveryGuid,
        delivery_id: DeliveryId,
        limit: u32,
        report: &mut RunReport,
    ) -> Result<Outcome, RedeliveryError> {
        let mut waits = 0;
        loop {
            let intent = match self
                .ledger
                .claim(
                    &self.scope,
                    NewIntent::new(guid.clone(), delivery_id, OffsetDateTime::now_utc(), limit),
                )
                .await?
            {
                IntentClaim::Claimed(intent) => intent,
                IntentClaim::Exhausted { attempts } => {
                    tracing::info!(hook = %self.hook, guid = %guid, attempts, "another runner redelivered it first");
                    return Ok(Outcome::Exhausted);
                }
            };
            let error = match self.request(delivery_id).await {
                Ok(()) => {
                    self.ledger
                        .resolve(intent.id, IntentState::Accepted, None)
                        .await?;
                    tracing::info!(
                        hook = %self.hook,
                        guid = %guid,
                        delivery_id = %delivery_id,
                        intent = %intent.id,
                        "redelivery accepted"
                    );
                    report.redelivered += 1;
                    report.redeliveries.push(Redelivery {
                        guid: guid.clone(),
                        delivery_id,
                    });
                    return Ok(Outcome::Accepted);
                }
                Err(error) => error,
            };
            let message = error.to_string();
            let unknown = outcome_unknown(&error);
            if !unknown {
                // GitHub did not act on it: the intent is no attempt.
                self.ledger
                    .resolve(intent.id, IntentState::Rejected, Some(&message))
                    .await?;
            }
            if let ClientError::RateLimited(limit) = &error {
                let wait = rate_limit_wait(limit);
                if wait <= self.options.max_rate_limit_wait && waits < MAX_RATE_LIMIT_WAITS {
                    waits += 1;
                    tracing::warn!(
                        hook = %self.hook,
                        guid = %guid,
                        wait_secs = wait.as_secs(),
                        "rate limited while redelivering; waiting"
                    );
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            tracing::warn!(
                hook = %self.hook,
                guid = %guid,
                delivery_id = %delivery_id,
                intent = %intent.id,
                outcome_unknown = unknown,
                error = %message,
                "redelivery request failed"
            );
            report.errors.push(RedeliveryFailure {
                guid: guid.clone(),
                delivery_id,
                outcome_unknown: unknown,
                message,
            });
            let fatal = matches!(
                error,
                ClientError::RateLimited(_)
                    | ClientError::Unauthorized(_)
                    | ClientError::Forbidden(_)
                    | ClientError::Auth(_)
            );
            return Ok(if fatal {
                Outcome::Stop
            } else {
                Outcome::Failed
            });
        }
    }

    /// `POST …/deliveries/{id}/attempts`, without retrying anything GitHub may
    /// have acted on: the client retries only refused connections and short rate
    /// limits for a POST.
    async fn request(&self, delivery_id: DeliveryId) -> Result<(), ClientError> {
        self.deliveries()
            .request_redelivery(delivery_id, Idempotence::Unsafe)
            .await
    }
}

/// Whether GitHub may have acted on a request that failed with `error`.
fn outcome_unknown(error: &ClientError) -> bool {
    match error {
        // The request never left, or GitHub refused it.
        ClientError::Transport(e) => !e.is_connect(),
        ClientError::Server(_) | ClientError::Decode(_) => true,
        _ => false,
    }
}

use crate::retry::rate_limit_wait;

/// `time` less `duration`, saturating at the Unix epoch.
fn before(time: OffsetDateTime, duration: StdDuration) -> OffsetDateTime {
    Duration::try_from(duration)
        .ok()
        .and_then(|d| time.checked_sub(d))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .max(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_the_share_of_time_scanned() {
        let floor = OffsetDateTime::UNIX_EPOCH + Duration::days(10);
        let mut progress = ScanProgress {
            pages: 1,
            deliveries: 100,
            newest: Some(floor + Duration::hours(10)),
            oldest: Some(floor + Duration::hours(5)),
            floor,
        };
        assert!((progress.fraction() - 0.5).abs() < 1e-9);
        progress.oldest = Some(floor - Duration::hours(1));
        assert_eq!(progress.fraction(), 1.0);
        progress.newest = None;
        assert_eq!(progress.fraction(), 0.0);
    }

    #[test]
    fn subtraction_saturates() {
        let t = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        assert_eq!(before(t, StdDuration::MAX), OffsetDateTime::UNIX_EPOCH);
        assert_eq!(
            before(t, StdDuration::from_secs(3600)),
            t - Duration::hours(1)
        );
    }
}
