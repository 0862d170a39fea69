//! [`DeliveryStore`]: the trait every store implements, and the values it trades in.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use octohook::DeliveryGuid;
use tokio::sync::Notify;

use crate::{
    DeliveryKey, DeliveryStatus, NewDelivery, StoreError, StoredDelivery, StoredDeliveryId,
};

/// The future a [`DeliveryStore`] method returns (boxed, so that the trait can be
/// used as `dyn DeliveryStore` and a store chosen at run time).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What [`DeliveryStore::insert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Inserted {
    /// The delivery was new and is now committed, `pending`.
    New {
        /// Its row id.
        id: StoredDeliveryId,
    },
    /// A delivery with the same (hook, GUID) was already stored; nothing changed.
    Duplicate {
        /// The stored delivery's row id.
        id: StoredDeliveryId,
    },
}

impl Inserted {
    /// The row id of the stored delivery (new or earlier).
    pub fn id(self) -> StoredDeliveryId {
        match self {
            Self::New { id } | Self::Duplicate { id } => id,
        }
    }

    /// Whether the delivery was already stored.
    pub fn is_duplicate(self) -> bool {
        matches!(self, Self::Duplicate { .. })
    }
}

/// A worker's claim on a delivery, returned by [`DeliveryStore::claim`] and given
/// back to finish it.
///
/// Each claim of a delivery gets a new sequence number, so a worker whose lease
/// expired (and whose delivery another worker claimed since) can no longer
/// finish it: its calls fail with [`StoreError::ClaimLost`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub(crate) id: StoredDeliveryId,
    pub(crate) seq: i64,
    pub(crate) key: DeliveryKey,
    pub(crate) worker: String,
    pub(crate) lease_until: SystemTime,
}

impl Claim {
    /// The claimed delivery's row id.
    pub fn id(&self) -> StoredDeliveryId {
        self.id
    }

    /// The claimed delivery's key.
    pub fn key(&self) -> &DeliveryKey {
        &self.key
    }

    /// The worker holding the claim.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// When the lease expires (by the store's clock).
    pub fn lease_until(&self) -> SystemTime {
        self.lease_until
    }
}

/// A delivery handed to a worker, with the claim to finish it with.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// The delivery, `processing`, with `attempts` counting this claim.
    pub delivery: StoredDelivery,
    /// The claim.
    pub claim: Claim,
}

impl Claimed {
    /// The claim a store made of `delivery` as it stored it under `id`
    /// (see [`DeliveryStore::insert_and_claim_batch`]): its first attempt,
    /// held by `worker` until `until`, recorded at `now`. (The in-memory
    /// store claims its own row instead.)
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn on_insert(
        delivery: NewDelivery,
        id: StoredDeliveryId,
        worker: &str,
        until: SystemTime,
        now: SystemTime,
    ) -> Self {
        let claim = Claim {
            id,
            seq: 1,
            key: delivery.key.clone(),
            worker: worker.to_owned(),
            lease_until: until,
        };
        let delivery = StoredDelivery {
            id,
            key: delivery.key,
            event: delivery.event,
            action: delivery.action,
            content_type: delivery.content_type,
            headers: delivery.headers,
            body: delivery.body,
            received_at: delivery.received_at,
            origin: delivery.origin,
            status: DeliveryStatus::Processing,
            attempts: 1,
            last_error: None,
            next_attempt_at: None,
            lease: Some(crate::Lease {
                owner: worker.to_owned(),
                until,
            }),
            updated_at: now,
            trace_parent: delivery.trace_parent,
        };
        Self { delivery, claim }
    }
}

/// How a worker finished a claimed delivery: what [`DeliveryStore::finish_batch`]
/// records (and what [`finish`](DeliveryStore::finish) records one at a time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Processed: the delivery becomes `done`.
    Done,
    /// The attempt failed: the delivery becomes `pending` again, due after
    /// `delay`, with `error` recorded.
    RetryLater {
        /// What went wrong (the delivery's `last_error`).
        error: String,
        /// How long until the next attempt.
        delay: Duration,
    },
    /// Given up on: the delivery becomes `failed` (dead-lettered), with `error`
    /// recorded.
    Failed {
        /// What went wrong (the delivery's `last_error`).
        error: String,
    },
}

/// One item of [`DeliveryStore::finish_batch`]: a claim and how it ended.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), octohook_inbox::StoreError> {
/// use std::time::Duration;
/// use octohook::EventKind;
/// use octohook_inbox::{Completion, DeliveryKey, DeliveryStore, Finish, MemoryStore, NewDelivery};
///
/// let store = MemoryStore::new();
/// for guid in ["a1", "a2"] {
///     let key = DeliveryKey::new(None, guid.parse().unwrap());
///     store.insert(NewDelivery::new(key, EventKind::Ping, "{}")).await?;
/// }
/// let claimed = store.claim_batch("w", Duration::from_secs(30), 10).await?;
/// assert_eq!(claimed.len(), 2);
/// let finishes = vec![
///     Finish::new(claimed[0].claim.clone(), Completion::Done),
///     Finish::new(claimed[1].claim.clone(), Completion::Failed { error: "no".into() }),
/// ];
/// let results = store.finish_batch(finishes).await?;
/// assert!(results.iter().all(Result::is_ok));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finish {
    /// The claim, as [`claim`](DeliveryStore::claim) or
    /// [`claim_batch`](DeliveryStore::claim_batch) returned it (or
    /// [`renew`](DeliveryStore::renew) since).
    pub claim: Claim,
    /// How the attempt ended.
    pub outcome: Completion,
}

impl Finish {
    /// `claim`, finished with `outcome`.
    pub fn new(claim: Claim, outcome: Completion) -> Self {
        Self { claim, outcome }
    }
}

/// Which deliveries [`DeliveryStore::list`] returns, newest first.
///
/// ```
/// use octohook_inbox::{DeliveryStatus, ListQuery};
///
/// let failed = ListQuery::default().status(DeliveryStatus::Failed).limit(20);
/// assert_eq!(failed.limit, 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListQuery {
    /// Only deliveries in this status.
    pub status: Option<DeliveryStatus>,
    /// Only deliveries with this GUID (one per hook that received it).
    pub guid: Option<DeliveryGuid>,
    /// Only deliveries with a row id below this one (to page backwards).
    pub before_id: Option<StoredDeliveryId>,
    /// At most this many (100 by default).
    pub limit: u32,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            status: None,
            guid: None,
            before_id: None,
            limit: 100,
        }
    }
}

impl ListQuery {
    /// Only deliveries in `status`.
    pub fn status(mut self, status: DeliveryStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only deliveries with `guid`.
    pub fn guid(mut self, guid: DeliveryGuid) -> Self {
        self.guid = Some(guid);
        self
    }

    /// Only deliveries with a row id below `id`.
    pub fn before_id(mut self, id: StoredDeliveryId) -> Self {
        self.before_id = Some(id);
        self
    }

    /// At most `limit` deliveries.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Whether `delivery` matches the filters (not the limit).
    pub(crate) fn matches(&self, delivery: &StoredDelivery) -> bool {
        self.status.is_none_or(|status| delivery.status == status)
            && self
                .guid
                .as_ref()
                .is_none_or(|guid| &delivery.key.guid == guid)
            && self.before_id.is_none_or(|id| delivery.id < id)
    }
}

/// Every delivery matching a [`ListQuery`], newest first, one
/// [`list`](DeliveryStore::list) call (of at most [`ListQuery::limit`]
/// deliveries) per page: each page asks for the deliveries below the last id of
/// the one before, so deliveries stored while paging are not seen, and none is
/// seen twice.
///
/// ```
/// use octohook::EventKind;
/// use octohook_inbox::{DeliveryKey, DeliveryStore, ListPages, ListQuery, MemoryStore, NewDelivery};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), octohook_inbox::StoreError> {
/// let store = MemoryStore::new();
/// for guid in ["a1", "a2", "a3"] {
///     let key = DeliveryKey::new(None, guid.parse().unwrap());
///     store.insert(NewDelivery::new(key, EventKind::Ping, "{}")).await?;
/// }
/// let mut pages = ListPages::new(&store, ListQuery::default().limit(2));
/// let mut guids = Vec::new();
/// while let Some(page) = pages.next_page().await? {
///     guids.extend(page.into_iter().map(|delivery| delivery.key.guid.to_string()));
/// }
/// assert_eq!(guids, ["a3", "a2", "a1"]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ListPages<'a> {
    store: &'a dyn DeliveryStore,
    query: ListQuery,
    done: bool,
}

impl<'a> ListPages<'a> {
    /// The pages of `query` in `store`. Its [`before_id`](ListQuery::before_id),
    /// when set, is where the first page starts; its
    /// [`limit`](ListQuery::limit) is the size of a page (a limit of 0 gives no
    /// page).
    pub fn new(store: &'a dyn DeliveryStore, query: ListQuery) -> Self {
        let done = query.limit == 0;
        Self { store, query, done }
    }

    /// The next page, newest first: never empty; `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<Vec<StoredDelivery>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let page = self.store.list(&self.query).await?;
        // A short page is the last one; a full one may be, which the next call
        // (answering with an empty page) tells.
        let full = u32::try_from(page.len()).is_ok_and(|len| len >= self.query.limit);
        match page.last() {
            Some(last) if full => self.query.before_id = Some(last.id),
            _ => self.done = true,
        }
        Ok((!page.is_empty()).then_some(page))
    }

    /// Every remaining delivery, in one vector: for callers that want them all
    /// (and know how many there may be).
    pub async fn collect_all(mut self) -> Result<Vec<StoredDelivery>, StoreError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }
}

/// Which deliveries [`DeliveryStore::purge`] removes: those received more than
/// `older_than` ago, in one of `statuses`.
///
/// "More than" is strict, and the SQLite and PostgreSQL stores keep times in
/// whole milliseconds: with `older_than` zero, a delivery received in the
/// purge's own millisecond is kept.
///
/// Purging a delivery also forgets its key: a redelivery of it after the purge is
/// stored (and processed) again. Keep finished deliveries at least as long as
/// GitHub may redeliver them (GitHub offers redelivery of the past 3 days).
///
/// ```
/// use std::time::Duration;
/// use octohook_inbox::{DeliveryStatus, PurgeQuery};
///
/// let week = PurgeQuery::finished_older_than(Duration::from_secs(7 * 86_400));
/// assert_eq!(week.statuses, [DeliveryStatus::Done, DeliveryStatus::Failed]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PurgeQuery {
    /// Minimum age, counted from `received_at`.
    pub older_than: Duration,
    /// The statuses to purge.
    pub statuses: Vec<DeliveryStatus>,
}

impl PurgeQuery {
    /// `done` and `failed` deliveries received more than `age` ago.
    pub fn finished_older_than(age: Duration) -> Self {
        Self {
            older_than: age,
            statuses: vec![DeliveryStatus::Done, DeliveryStatus::Failed],
        }
    }

    /// Deliveries in `statuses` received more than `age` ago.
    pub fn older_than(age: Duration, statuses: impl IntoIterator<Item = DeliveryStatus>) -> Self {
        Self {
            older_than: age,
            statuses: statuses.into_iter().collect(),
        }
    }
}

/// How many deliveries are in each status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StatusCounts {
    /// Waiting to be processed.
    pub pending: u64,
    /// Claimed by a worker.
    pub processing: u64,
    /// Processed.
    pub done: u64,
    /// Given up on.
    pub failed: u64,
}

impl StatusCounts {
    /// The count for `status`.
    pub fn get(&self, status: DeliveryStatus) -> u64 {
        match status {
            DeliveryStatus::Pending => self.pending,
            DeliveryStatus::Processing => self.processing,
            DeliveryStatus::Done => self.done,
            DeliveryStatus::Failed => self.failed,
        }
    }

    /// The count of `status`, to change it.
    fn slot(&mut self, status: DeliveryStatus) -> &mut u64 {
        match status {
            DeliveryStatus::Pending => &mut self.pending,
            DeliveryStatus::Processing => &mut self.processing,
            DeliveryStatus::Done => &mut self.done,
            DeliveryStatus::Failed => &mut self.failed,
        }
    }

    /// Adds `count` to `status`.
    pub(crate) fn add(&mut self, status: DeliveryStatus, count: u64) {
        *self.slot(status) += count;
    }

    /// Takes `count` from `status`.
    pub(crate) fn subtract(&mut self, status: DeliveryStatus, count: u64) {
        let slot = self.slot(status);
        *slot = slot.saturating_sub(count);
    }

    /// All deliveries.
    pub fn total(&self) -> u64 {
        self.pending + self.processing + self.done + self.failed
    }
}

/// A durable (or not) inbox of deliveries, deduplicated on
/// (`hook_id`, `guid`), from which workers claim deliveries to process.
///
/// Implementations: [`MemoryStore`](crate::MemoryStore) (no durability, the
/// library default), [`SqliteStore`](crate::SqliteStore) (one machine, durable
/// across crashes) and [`PostgresStore`](crate::PostgresStore) (several
/// machines). All of them pass the same conformance tests.
///
/// Every method is atomic. Guarantees:
/// - [`insert`](Self::insert) stores a key at most once, even when called
///   concurrently (from several processes, for the SQL stores); it returns only
///   after the delivery is committed.
/// - [`claim`](Self::claim) never hands a delivery to two workers at once: a
///   delivery is claimable when `pending` and due, or `processing` with an
///   expired lease.
/// - [`finish`](Self::finish) (and [`complete`](Self::complete),
///   [`retry_later`](Self::retry_later) and [`fail`](Self::fail), which call it)
///   and [`renew`](Self::renew) act only while the claim is still the latest
///   one; otherwise they return [`StoreError::ClaimLost`] and change nothing.
///
/// # Batches
///
/// [`insert_batch`](Self::insert_batch), [`claim_batch`](Self::claim_batch) and
/// [`finish_batch`](Self::finish_batch) do many operations in one call, which
/// the stores turn into one transaction and as few statements as they can
/// (one disk flush for SQLite, one round trip for PostgreSQL). Their defaults
/// loop over the single operations, so a store of your own works unchanged; the
/// guarantees above hold item by item. [`Inbox`](crate::Inbox) coalesces
/// concurrent inserts into `insert_batch`, and
/// [`Processing`](crate::Processing) claims and finishes in batches.
///
/// Times that the store compares (due times, leases, purge ages) are taken from
/// one clock: the process's for the in-memory and SQLite stores, the database
/// server's for PostgreSQL (so that machines with skewed clocks agree).
pub trait DeliveryStore: fmt::Debug + Send + Sync + 'static {
    /// Stores `delivery` as `pending` and due now, unless its key is already
    /// stored (in any status).
    fn insert(&self, delivery: NewDelivery) -> StoreFuture<'_, Inserted>;

    /// Claims the next claimable delivery for `worker` for `lease`: the one due
    /// first (oldest first among equals). Its status becomes `processing` and its
    /// `attempts` grows by one. `None` when nothing is claimable now.
    fn claim(&self, worker: &str, lease: Duration) -> StoreFuture<'_, Option<Claimed>>;

    /// Stores each delivery as [`insert`](Self::insert) does, in one transaction
    /// (committed before it returns), and says what became of each, in the order
    /// given. A key given twice is stored once: the first is
    /// [`New`](Inserted::New), the later ones [`Duplicate`](Inserted::Duplicate)
    /// with the same id.
    ///
    /// An error means the batch was not committed as a whole: answer none of
    /// its deliveries as stored. (The SQL stores commit all or nothing; the
    /// in-memory store and the default, which inserts them one at a time, may
    /// have kept those before the failing one, which a redelivery then finds
    /// as duplicates.)
    fn insert_batch(&self, deliveries: Vec<NewDelivery>) -> StoreFuture<'_, Vec<Inserted>> {
        Box::pin(async move {
            let mut inserted = Vec::with_capacity(deliveries.len());
            for delivery in deliveries {
                inserted.push(self.insert(delivery).await?);
            }
            Ok(inserted)
        })
    }

    /// Stores each delivery as [`insert_batch`](Self::insert_batch) does and,
    /// in the same transaction, claims for `worker` for `lease` those of the
    /// first `limit` deliveries given that are new: each of those is stored
    /// `processing` at its first attempt, and comes back as [`Claimed`] with
    /// the [`Inserted`]. One pair per delivery, in the order given.
    ///
    /// What a pool that has free workers asks for when deliveries arrive: it
    /// runs them from memory, without a claim of its own later (a write, and a
    /// read of each body back). A claim made here is an ordinary claim: should
    /// the worker die, the lease expires and another worker takes the delivery
    /// up.
    ///
    /// The default stores the batch with [`insert_batch`](Self::insert_batch)
    /// and claims none (the deliveries are claimed later, the usual way).
    fn insert_and_claim_batch(
        &self,
        deliveries: Vec<NewDelivery>,
        worker: &str,
        lease: Duration,
        limit: usize,
    ) -> StoreFuture<'_, Vec<(Inserted, Option<Claimed>)>> {
        let _ = (worker, lease, limit);
        Box::pin(async move {
            let inserted = self.insert_batch(deliveries).await?;
            Ok(inserted
                .into_iter()
                .map(|inserted| (inserted, None))
                .collect())
        })
    }

    /// Claims up to `limit` claimable deliveries for `worker` for `lease`, as
    /// [`claim`](Self::claim) does, the ones due first (oldest first among
    /// equals): fewer when fewer are claimable, none when `limit` is 0. Each
    /// gets a claim of its own.
    ///
    /// The default claims them one at a time.
    fn claim_batch(
        &self,
        worker: &str,
        lease: Duration,
        limit: usize,
    ) -> StoreFuture<'_, Vec<Claimed>> {
        let worker = worker.to_owned();
        Box::pin(async move {
            let mut claimed = Vec::new();
            while claimed.len() < limit {
                match self.claim(&worker, lease).await? {
                    Some(next) => claimed.push(next),
                    None => break,
                }
            }
            Ok(claimed)
        })
    }

    /// Records how each claim ended ([`Completion`]), as
    /// [`finish`](Self::finish) does: one result per item, in the order given.
    /// A claim no longer held fails alone with [`StoreError::ClaimLost`], and
    /// the others are recorded. The outer error means none was recorded.
    ///
    /// The default finishes them one at a time: there an item after the first
    /// may also fail with another error, alone.
    fn finish_batch(&self, finishes: Vec<Finish>) -> StoreFuture<'_, Vec<Result<(), StoreError>>> {
        Box::pin(async move {
            let mut results = Vec::with_capacity(finishes.len());
            for finish in finishes {
                match self.finish(finish).await {
                    Err(error @ StoreError::ClaimLost { .. }) => results.push(Err(error)),
                    Err(error) if results.is_empty() => return Err(error),
                    other => results.push(other),
                }
            }
            Ok(results)
        })
    }

    /// Extends a held claim's lease to `lease` from now; returns the renewed claim.
    fn renew(&self, claim: &Claim, lease: Duration) -> StoreFuture<'_, Claim>;

    /// Records how a claimed delivery's attempt ended: `done`, `pending`
    /// again and due after a delay, or `failed` (see [`Completion`]).
    ///
    /// The one finishing method a store must write: [`complete`](Self::complete),
    /// [`retry_later`](Self::retry_later) and [`fail`](Self::fail) call it, and
    /// so does the default [`finish_batch`](Self::finish_batch).
    fn finish(&self, finish: Finish) -> StoreFuture<'_, ()>;

    /// Marks a claimed delivery `done`: [`finish`](Self::finish) with
    /// [`Completion::Done`].
    fn complete(&self, claim: &Claim) -> StoreFuture<'_, ()> {
        self.finish(Finish::new(claim.clone(), Completion::Done))
    }

    /// Puts a claimed delivery back to `pending`, due after `delay`, recording
    /// `error`: [`finish`](Self::finish) with [`Completion::RetryLater`].
    fn retry_later(&self, claim: &Claim, error: &str, delay: Duration) -> StoreFuture<'_, ()> {
        self.finish(Finish::new(
            claim.clone(),
            Completion::RetryLater {
                error: error.to_owned(),
                delay,
            },
        ))
    }

    /// Marks a claimed delivery `failed` (dead-lettered), recording `error`:
    /// [`finish`](Self::finish) with [`Completion::Failed`].
    fn fail(&self, claim: &Claim, error: &str) -> StoreFuture<'_, ()> {
        self.finish(Finish::new(
            claim.clone(),
            Completion::Failed {
                error: error.to_owned(),
            },
        ))
    }

    /// Makes a `done`, `failed` or `pending` delivery `pending` and due now, with
    /// its attempts reset to 0 (`octohook inbox retry`). Returns whether it did;
    /// a `processing` delivery (or an unknown key) is left alone.
    fn requeue(&self, key: &DeliveryKey) -> StoreFuture<'_, bool>;

    /// The delivery stored under `key`.
    fn get(&self, key: &DeliveryKey) -> StoreFuture<'_, Option<StoredDelivery>>;

    /// The delivery stored with row id `id` (as [`list`](Self::list) shows it).
    fn get_by_id(&self, id: StoredDeliveryId) -> StoreFuture<'_, Option<StoredDelivery>>;

    /// The deliveries matching `query`, newest (highest id) first.
    ///
    /// One page: [`ListQuery::limit`] of them, or all when fewer match (a store
    /// must not cut a page shorter: [`ListPages`], which walks every page, takes
    /// a short page for the last).
    fn list(&self, query: &ListQuery) -> StoreFuture<'_, Vec<StoredDelivery>>;

    /// Removes the deliveries matching `query`; returns how many.
    fn purge(&self, query: &PurgeQuery) -> StoreFuture<'_, u64>;

    /// How many deliveries are in each status.
    ///
    /// A count may scan every row, so stores keep it off their write path: it
    /// never holds a lock, transaction or connection that an
    /// [`insert`](Self::insert) waits for (SQLite counts on a read-only
    /// connection of its own, PostgreSQL one count at a time in a read-only
    /// transaction, the memory store keeps its counts as rows change). Callers
    /// that count often (a metrics endpoint) should still cache the answer.
    fn counts(&self) -> StoreFuture<'_, StatusCounts>;

    /// Succeeds when a delivery could be stored now: the store is reachable,
    /// accepts writes and has room (a health check's question). The default
    /// reads [`counts`](Self::counts); stores that can tell more override it.
    ///
    /// A full store fails with [`StoreError::Full`]: the SQLite and memory
    /// stores from the first new delivery refused for want of room until room
    /// is made (see theirs), SQLite also whenever it is at or past its size
    /// limit. The PostgreSQL store has no size limit, and its check writes
    /// nothing: a full disk shows in its inserts' errors, not here.
    fn health(&self) -> StoreFuture<'_, ()> {
        let counts = self.counts();
        Box::pin(async move { counts.await.map(|_| ()) })
    }

    /// The signal the store gives (`notify_one`) when a delivery may have
    /// become claimable: a new delivery committed, or one requeued. Idle
    /// [`Worker`](crate::Worker)s wait for it as well as for their poll interval,
    /// which stays the fallback (retries coming due, expired leases, a lost
    /// signal).
    ///
    /// The in-memory and SQLite stores signal their own inserts; the PostgreSQL
    /// store relays the database's `NOTIFY`, so it also hears inserts made by
    /// other processes and machines. `None` (the default): the store gives no
    /// signal, and an [`Inbox`](crate::Inbox) wakes its workers on the inserts it
    /// makes itself.
    ///
    /// Must be cheap and start nothing: a store that needs a task to produce the
    /// signal starts it when a worker first claims.
    fn wakeups(&self) -> Option<Arc<Notify>> {
        None
    }

    /// The cursor a pull source last saved under `scope` (one per pulled hook,
    /// such as `repo:octo/hello#42`), or `None` before the first save: where
    /// `octohook pull` takes up GitHub's list of the hook's deliveries after a
    /// restart. Kept in the store, beside the deliveries it covers.
    ///
    /// The default fails with [`StoreError::Config`]: a store of your own
    /// cannot back a pull source until it implements both cursor methods.
    fn load_pull_cursor(&self, scope: &str) -> StoreFuture<'_, Option<String>> {
        let _ = scope;
        Box::pin(async { Err(no_pull_cursors()) })
    }

    /// Saves `cursor` under `scope`, replacing the one before; returns once it
    /// is committed. A pull source saves a cursor only after every delivery
    /// it covers is stored.
    fn save_pull_cursor(&self, scope: &str, cursor: &str) -> StoreFuture<'_, ()> {
        let _ = (scope, cursor);
        Box::pin(async { Err(no_pull_cursors()) })
    }
}

/// What a store without pull cursors answers.
fn no_pull_cursors() -> StoreError {
    StoreError::Config("this delivery store keeps no pull cursors".to_owned())
}

/// Wakes one idle worker for each delivery of `inserted` that is new: as many
/// workers as there is work for (see [`DeliveryStore::wakeups`]).
pub(crate) fn wake_for_new<'a>(wakeup: &Notify, inserted: impl IntoIterator<Item = &'a Inserted>) {
    for _ in inserted
        .into_iter()
        .filter(|inserted| !inserted.is_duplicate())
    {
        wakeup.notify_one();
    }
}

/// [`wake_for_new`] for what [`DeliveryStore::insert_and_claim_batch`]
/// stored: only the new deliveries left for a claim, since a delivery claimed
/// as it was stored already has its worker.
pub(crate) fn wake_for_unclaimed(wakeup: &Notify, stored: &[(Inserted, Option<Claimed>)]) {
    let unclaimed = stored.iter().filter(|(_, claimed)| claimed.is_none());
    wake_for_new(wakeup, unclaimed.map(|(inserted, _)| inserted));
}
