//! [`PullSource`]: a hook's deliveries, read from GitHub's API into an inbox.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use futures_util::StreamExt;
use octohook::{DeliveryGuid, HookId, PulledDelivery};
use octohook_inbox::{DeliveryKey, Inbox, Inserted, NewDelivery, StoreError};
use time::{Duration, OffsetDateTime};

use super::cursor::PullCursor;
use super::report::{PullProgress, PullReport, SkipReason, SkippedDelivery};
use crate::client::Client;
use crate::deliveries::{Deliveries, DeliveryQuery};
use crate::error::ClientError;
use crate::models::{Delivery, DeliveryId, DeliverySummary};
use crate::page::Page;
use crate::retry::rate_limit_wait;
use crate::target::HookRef;

/// How far back GitHub keeps a hook's deliveries for its API: 3 days (7 on
/// GitHub Enterprise Server 3.16 and later; pass that as
/// [`PullOptions::since`] there).
pub const PULL_WINDOW: StdDuration = StdDuration::from_secs(3 * 24 * 60 * 60);

/// How far behind the cursor a run looks again, for deliveries GitHub lists
/// late. What it finds there is in the inbox already: a store lookup each, no
/// request.
const CURSOR_OVERLAP: Duration = Duration::minutes(5);

/// Deliveries read and stored at once: their inserts share commits (the SQL
/// stores group concurrent inserts), and reads overlap the round trips.
const CONCURRENT_READS: usize = 8;

/// Rate-limit waits one request may sit through before the run gives up, so
/// a server that keeps answering 429 cannot hold a run forever.
const MAX_RATE_LIMIT_WAITS: u32 = 8;

/// How a [`PullSource`] runs. A plain struct; take the rest from [`Default`].
///
/// ```
/// use std::time::Duration;
/// use octohook_client::pull::{PullOptions, PULL_WINDOW};
///
/// let options = PullOptions { since: Duration::from_secs(3600), ..PullOptions::default() };
/// assert_eq!(PullOptions::default().since, PULL_WINDOW);
/// # let _ = options;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullOptions {
    /// How far back to look. The run stops earlier at the cursor of the last
    /// completed run. Default: [`PULL_WINDOW`].
    pub since: StdDuration,
    /// Deliveries per listing request, 1–100. Default: 100.
    pub per_page: u8,
    /// The longest rate-limit wait (`Retry-After`, or until the reset time) the
    /// run sits through; a longer one ends it with the rate limit error.
    /// Default: 15 minutes.
    pub max_rate_limit_wait: StdDuration,
}

impl Default for PullOptions {
    fn default() -> Self {
        Self {
            since: PULL_WINDOW,
            per_page: 100,
            max_rate_limit_wait: StdDuration::from_secs(15 * 60),
        }
    }
}

/// Why a pull run stopped. Whatever it stored before stays stored; the cursor
/// is not moved, so the next run looks at the same deliveries again (and finds
/// the stored ones in the inbox).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PullError {
    /// Listing the hook's deliveries failed.
    #[error("cannot list the hook's deliveries: {0}")]
    List(#[source] ClientError),
    /// Reading one delivery with its request failed (for a reason a later run
    /// may not meet: a 5xx, a rate limit, a credential refused).
    #[error("cannot read delivery {id} from GitHub: {source}")]
    Fetch {
        /// The delivery's id.
        id: DeliveryId,
        /// Why.
        #[source]
        source: ClientError,
    },
    /// The inbox could not look a delivery up, store it or save the cursor.
    #[error("the inbox failed: {0}")]
    Store(#[source] StoreError),
}

/// Reads a hook's deliveries from GitHub's API into an [`Inbox`]: the
/// receiver for a machine GitHub cannot reach.
///
/// Each [`run`](Self::run) lists the hook's deliveries newest first, back to
/// the cursor of the last completed run (or [`PullOptions::since`]), keeps one
/// attempt per GUID, looks each up in the inbox by (hook, GUID), and reads the
/// ones not stored yet (`GET …/deliveries/{id}`), oldest first: each becomes
/// a [`PulledDelivery`] and is stored with
/// [`DeliveryOrigin::Pulled`](octohook_inbox::DeliveryOrigin::Pulled). A
/// delivery also pushed to a receiver sharing the inbox is stored once,
/// whichever came first. Once every listed delivery is stored (or skipped as
/// unavailable), the cursor is saved in the inbox's store.
///
/// See the [module documentation](crate::pull) for the crash-safety argument.
#[derive(Debug)]
pub struct PullSource {
    client: Client,
    hook: HookRef,
    inbox: Inbox,
    options: PullOptions,
    scope: String,
    /// The hook id the deliveries carry: the hook's own, or for an App hook
    /// the one its first read delivery says (then kept in the cursor).
    hook_id: Mutex<Option<HookId>>,
}

impl PullSource {
    /// A source for `hook`'s deliveries, read with `client` into `inbox`.
    pub fn new(client: Client, hook: HookRef, inbox: Inbox, options: PullOptions) -> Self {
        let scope = format!("{} {hook}", client.base_url().trim_end_matches('/'));
        let hook_id = match &hook {
            HookRef::Hook { id, .. } => Some(*id),
            _ => None,
        };
        Self {
            client,
            hook,
            inbox,
            options,
            scope,
            hook_id: Mutex::new(hook_id),
        }
    }

    /// The name its cursor is kept under: the API URL and the hook.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The hook it pulls.
    pub fn hook(&self) -> &HookRef {
        &self.hook
    }

    /// The inbox it stores into.
    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    /// One pull: everything listed since the cursor, stored; see [the type](Self).
    pub async fn run(&self) -> Result<PullReport, PullError> {
        self.run_with_progress(|_| {}).await
    }

    /// [`run`](Self::run), calling `progress` as deliveries are listed and handled.
    pub async fn run_with_progress(
        &self,
        mut progress: impl FnMut(&PullProgress) + Send,
    ) -> Result<PullReport, PullError> {
        let mut report = PullReport::default();
        let now = OffsetDateTime::now_utc();
        let window_start = before(now, self.options.since);
        let cursor = self.load_cursor().await?;
        if let Some(hook_id) = cursor.as_ref().and_then(|cursor| cursor.hook_id) {
            self.hook_id
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(hook_id);
        }
        let floor = cursor.as_ref().map_or(window_start, |cursor| {
            (cursor.delivered_at - CURSOR_OVERLAP).max(window_start)
        });
        let listed = self.list(floor, &mut report, &mut progress).await?;
        let newest = listed
            .iter()
            .max_by_key(|d| (d.delivered_at, d.id))
            .cloned();
        let mut state = PullProgress {
            listed: report.listed,
            ..PullProgress::default()
        };
        // Oldest first; a few at a time, each stored as soon as it is read.
        // The futures made up front: a stream mapping with a closure would
        // make the run's future not `Send` (a higher-ranked lifetime).
        let pulls: Vec<_> = listed
            .iter()
            .map(|summary| self.pull_one(summary))
            .collect();
        let mut outcomes = futures_util::stream::iter(pulls).buffered(CONCURRENT_READS);
        while let Some(outcome) = outcomes.next().await {
            let (outcome, fetched) = outcome?;
            report.fetched += u64::from(fetched);
            match outcome {
                Pulled::AlreadyStored => report.already_stored += 1,
                Pulled::Stored => report.stored += 1,
                Pulled::Duplicate => report.duplicates += 1,
                Pulled::Skipped(skipped) => report.skip(skipped),
            }
            state.handled += 1;
            state.stored = report.stored;
            progress(&state);
        }
        drop(outcomes);
        if let Some(newest) = newest {
            let next = PullCursor {
                delivered_at: newest.delivered_at,
                id: newest.id,
                hook_id: self.known_hook_id(),
            };
            if cursor.as_ref() != Some(&next) {
                self.inbox
                    .store()
                    .save_pull_cursor(&self.scope, &next.to_text())
                    .await
                    .map_err(PullError::Store)?;
                report.cursor_saved = true;
            }
        }
        tracing::info!(
            hook = %self.hook,
            listed = report.listed,
            stored = report.stored,
            already_stored = report.already_stored,
            duplicates = report.duplicates,
            unavailable = report.unavailable,
            api_requests = report.api_requests(),
            "pulled deliveries"
        );
        Ok(report)
    }

    /// Runs again and again, `interval` apart, until the future is dropped. A
    /// failed run is logged and tried again at the next tick: a GitHub outage
    /// or a full inbox stops no one. `on_run` sees every run's result.
    pub async fn follow(
        &self,
        interval: StdDuration,
        mut on_run: impl FnMut(&Result<PullReport, PullError>) + Send,
    ) {
        loop {
            let result = self.run().await;
            if let Err(error) = &result {
                tracing::warn!(hook = %self.hook, error = %error, "pull failed; trying again at the next poll");
            }
            on_run(&result);
            tokio::time::sleep(interval).await;
        }
    }

    fn known_hook_id(&self) -> Option<HookId> {
        *self.hook_id.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn load_cursor(&self) -> Result<Option<PullCursor>, PullError> {
        let text = self
            .inbox
            .store()
            .load_pull_cursor(&self.scope)
            .await
            .map_err(PullError::Store)?;
        Ok(text.and_then(|text| {
            let cursor = PullCursor::from_text(&text);
            if cursor.is_none() {
                tracing::warn!(scope = %self.scope, "ignoring a pull cursor no pull source wrote");
            }
            cursor
        }))
    }

    /// The distinct GUIDs listed at or after `floor`, oldest first, each as
    /// its oldest listed attempt.
    async fn list(
        &self,
        floor: OffsetDateTime,
        report: &mut PullReport,
        progress: &mut (impl FnMut(&PullProgress) + Send),
    ) -> Result<Vec<DeliverySummary>, PullError> {
        let deliveries = self.deliveries();
        let mut query = DeliveryQuery {
            per_page: self.options.per_page.clamp(1, 100),
            ..DeliveryQuery::default()
        };
        let mut by_guid: HashMap<DeliveryGuid, DeliverySummary> = HashMap::new();
        let mut seen_cursors = std::collections::HashSet::new();
        loop {
            let page = self.page(&deliveries, &query).await?;
            report.pages_listed += 1;
            let mut reached_floor = false;
            for summary in page.items {
                if summary.delivered_at < floor {
                    reached_floor = true;
                    continue;
                }
                by_guid
                    .entry(summary.guid.clone())
                    .and_modify(|kept| {
                        if (summary.delivered_at, summary.id) < (kept.delivered_at, kept.id) {
                            *kept = summary.clone();
                        }
                    })
                    .or_insert(summary);
            }
            report.listed = by_guid.len() as u64;
            progress(&PullProgress {
                listed: report.listed,
                ..PullProgress::default()
            });
            if reached_floor {
                break;
            }
            match page.next {
                // A server naming a page it served before as the next would
                // otherwise keep the run listing forever.
                Some(next) if seen_cursors.insert(next.clone()) => query.cursor = Some(next),
                _ => break,
            }
        }
        let mut listed: Vec<DeliverySummary> = by_guid.into_values().collect();
        listed.sort_by_key(|d| (d.delivered_at, d.id));
        Ok(listed)
    }

    /// Stores one listed delivery unless the inbox has it; says what it did,
    /// and whether it read the delivery from GitHub.
    async fn pull_one(&self, summary: &DeliverySummary) -> Result<(Pulled, bool), PullError> {
        if let Some(hook_id) = self.known_hook_id() {
            let key = DeliveryKey::new(Some(hook_id), summary.guid.clone());
            let stored = self
                .inbox
                .store()
                .get(&key)
                .await
                .map_err(PullError::Store)?;
            if stored.is_some() {
                return Ok((Pulled::AlreadyStored, false));
            }
        }
        let detail = match self.fetch(summary.id).await {
            Ok(detail) => detail,
            // Gone from GitHub (out of its window since the listing): nothing to read.
            Err(ClientError::NotFound(_)) => {
                return Ok((self.skipped(summary, SkipReason::Gone), true));
            }
            Err(source) => {
                return Err(PullError::Fetch {
                    id: summary.id,
                    source,
                });
            }
        };
        let pulled = match rebuild(&detail) {
            Ok(pulled) => pulled,
            Err(reason) => return Ok((self.skipped(summary, reason), true)),
        };
        if let Some(hook_id) = pulled.hook_id() {
            self.hook_id
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(hook_id);
        }
        let inserted = self
            .inbox
            .insert(NewDelivery::from_pulled(&pulled))
            .await
            .map_err(PullError::Store)?;
        match inserted {
            Inserted::New { id } => {
                tracing::debug!(hook = %self.hook, delivery = %pulled.guid(), event = %pulled.event_kind(), id = %id, "stored pulled delivery");
                Ok((Pulled::Stored, true))
            }
            Inserted::Duplicate { .. } => Ok((Pulled::Duplicate, true)),
        }
    }

    /// A listed delivery skipped for `reason`, logged as a warning.
    fn skipped(&self, summary: &DeliverySummary, reason: SkipReason) -> Pulled {
        tracing::warn!(hook = %self.hook, delivery = %summary.guid, id = %summary.id, %reason, "pulled delivery skipped");
        Pulled::Skipped(SkippedDelivery {
            id: summary.id,
            guid: summary.guid.clone(),
            reason,
        })
    }

    fn deliveries(&self) -> Deliveries {
        self.client.hook_deliveries(&self.hook)
    }

    /// One page, waiting out rate limits up to `max_rate_limit_wait`.
    async fn page(
        &self,
        deliveries: &Deliveries,
        query: &DeliveryQuery,
    ) -> Result<Page<DeliverySummary, crate::models::DeliveryCursor>, PullError> {
        self.waiting_out_rate_limits(|| deliveries.page(query))
            .await
            .map_err(PullError::List)
    }

    /// One delivery with its request, waiting out rate limits.
    async fn fetch(&self, id: DeliveryId) -> Result<Delivery, ClientError> {
        let deliveries = self.deliveries();
        self.waiting_out_rate_limits(|| deliveries.get(id)).await
    }

    /// Runs `request` again after each rate limit it meets, as long as the
    /// wait is within [`PullOptions::max_rate_limit_wait`] (the client itself
    /// sits through the short ones).
    async fn waiting_out_rate_limits<T, F, Fut>(&self, mut request: F) -> Result<T, ClientError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let mut waits = 0;
        loop {
            match request().await {
                Err(ClientError::RateLimited(limit)) if waits < MAX_RATE_LIMIT_WAITS => {
                    let wait = rate_limit_wait(&limit);
                    if wait > self.options.max_rate_limit_wait {
                        return Err(ClientError::RateLimited(limit));
                    }
                    tracing::warn!(hook = %self.hook, wait_secs = wait.as_secs(), "rate limited while pulling; waiting");
                    tokio::time::sleep(wait).await;
                    waits += 1;
                }
                result => return result,
            }
        }
    }
}

/// What became of one listed delivery.
enum Pulled {
    AlreadyStored,
    Stored,
    Duplicate,
    Skipped(SkippedDelivery),
}

/// The delivery GitHub's detail describes, when it holds its request headers
/// and a JSON object payload that parse as a receiver would parse them.
fn rebuild(detail: &Delivery) -> Result<PulledDelivery, SkipReason> {
    let headers = detail
        .request
        .headers
        .as_ref()
        .ok_or(SkipReason::NoRequestHeaders)?;
    let payload = detail
        .request
        .payload
        .as_ref()
        .ok_or(SkipReason::NoRequestPayload)?;
    let pairs = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.as_str()?)));
    PulledDelivery::from_github_api(pairs, payload)
        .map_err(|error| SkipReason::Refused(Arc::new(error)))
}

/// `time` less `duration`, saturating at the Unix epoch.
fn before(time: OffsetDateTime, duration: StdDuration) -> OffsetDateTime {
    Duration::try_from(duration)
        .ok()
        .and_then(|d| time.checked_sub(d))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .max(OffsetDateTime::UNIX_EPOCH)
}
