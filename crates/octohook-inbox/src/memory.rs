//! [`MemoryStore`]: the in-process store, deduplicating for a time-to-live.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::store::{StoreFuture, wake_for_new, wake_for_unclaimed};
use crate::{
    Claim, Claimed, Completion, DeliveryKey, DeliveryStatus, DeliveryStore, Finish, Inserted,
    Lease, ListQuery, NewDelivery, PurgeQuery, StatusCounts, StoreError, StoredDelivery,
    StoredDeliveryId,
};

/// How long finished deliveries are remembered by default: GitHub offers
/// redelivery of the past 3 days.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3 * 24 * 60 * 60);

/// How many finished deliveries are remembered at most by default.
pub const DEFAULT_MAX_FINISHED: usize = 100_000;

/// How many bytes of deliveries (bodies and stored headers) a store holds at
/// most by default: 256 MiB, ten of the largest deliveries GitHub sends (25 MiB)
/// or tens of thousands of ordinary ones.
pub const DEFAULT_SIZE_LIMIT: u64 = 256 * 1024 * 1024;

/// Bodies up to this size are copied into a buffer of their own when stored.
///
/// A body that arrived in the same read as the request head can be a slice of
/// the server's read buffer: kept as it is, a 25-byte body would hold the whole
/// buffer, padding headers and all (hundreds of KB), beyond what the size limit
/// counts. Larger bodies arrive in several reads and are gathered into a buffer
/// of their own size, which is kept without a copy.
const COPIED_BODY_MAX: usize = 1024 * 1024;

/// A store in the process's memory: the library default.
///
/// It deduplicates and hands deliveries to workers like the other stores, but
/// keeps nothing across a restart, so it suits receivers whose work can be
/// redone (or redelivered from GitHub) after a crash. Finished (`done` or
/// `failed`) deliveries are forgotten `ttl` after they were received, or sooner
/// when more than `max_finished` are kept (oldest first); `pending` and
/// `processing` ones are kept until they finish.
///
/// It holds at most a [size limit](Self::with_size_limit) of bodies and stored
/// headers ([`DEFAULT_SIZE_LIMIT`] by default). A delivery that would go past
/// it first makes room by forgetting finished deliveries, oldest first (a
/// redelivery of one of those is then stored and processed again); when the
/// unfinished ones alone leave no room, [`insert`](DeliveryStore::insert) fails
/// with [`StoreError::Full`] and the receiver answers 503, as it does for a
/// full SQLite file. Duplicates are still recognized when full.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), octohook_inbox::StoreError> {
/// use std::time::Duration;
/// use octohook::EventKind;
/// use octohook_inbox::{DeliveryKey, DeliveryStatus, DeliveryStore, MemoryStore, NewDelivery};
///
/// let store = MemoryStore::new();
/// let key = DeliveryKey::new(None, "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap());
/// let first = store.insert(NewDelivery::new(key.clone(), EventKind::Ping, r#"{"zen":"Keep it logically awesome."}"#)).await?;
/// let again = store.insert(NewDelivery::new(key.clone(), EventKind::Ping, "{}")).await?;
/// assert!(!first.is_duplicate() && again.is_duplicate());
///
/// let claimed = store.claim("worker-1", Duration::from_secs(30)).await?.unwrap();
/// assert_eq!(claimed.delivery.key, key);
/// store.complete(&claimed.claim).await?;
/// assert_eq!(store.get(&key).await?.unwrap().status, DeliveryStatus::Done);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<State>,
    ttl: Duration,
    max_finished: usize,
    size_limit: u64,
    wakeup: Arc<Notify>,
}

#[derive(Debug, Default)]
struct State {
    last_id: i64,
    ids: HashMap<DeliveryKey, StoredDeliveryId>,
    rows: BTreeMap<StoredDeliveryId, Row>,
    /// The deliveries in each status, kept as rows change so that counting
    /// them scans nothing.
    counts: StatusCounts,
    /// The bytes of bodies and stored headers held (see [`held_bytes`]).
    bytes: u64,
    /// Claimable candidates: (next attempt or lease end, id) of every `pending`
    /// and `processing` row.
    due: BTreeSet<(SystemTime, StoredDeliveryId)>,
    /// (received at, id) of every finished row, for expiry.
    finished: BTreeSet<(SystemTime, StoredDeliveryId)>,
    /// The pull sources' cursors, by scope.
    pull_cursors: HashMap<String, String>,
    /// Why the last new delivery was refused for want of room, until room is
    /// made: a new delivery stored, or one finished (it may give way) or
    /// removed. [`health`](DeliveryStore::health) reports the store full
    /// meanwhile.
    room_refused: Option<String>,
}

#[derive(Debug)]
struct Row {
    delivery: StoredDelivery,
    seq: i64,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store remembering finished deliveries for [`DEFAULT_TTL`], at most
    /// [`DEFAULT_MAX_FINISHED`] of them, holding at most [`DEFAULT_SIZE_LIMIT`]
    /// bytes of deliveries.
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_TTL, DEFAULT_MAX_FINISHED)
    }

    /// A store remembering finished deliveries for `ttl` after they were
    /// received, at most `max_finished` of them, holding at most
    /// [`DEFAULT_SIZE_LIMIT`] bytes of deliveries.
    pub fn with_limits(ttl: Duration, max_finished: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            ttl,
            max_finished,
            size_limit: DEFAULT_SIZE_LIMIT,
            wakeup: Arc::new(Notify::new()),
        }
    }

    /// Holds at most `bytes` of deliveries: their bodies and stored headers
    /// (names and values). Past it, finished deliveries are forgotten to make
    /// room, and when none is left inserts fail with [`StoreError::Full`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use octohook::EventKind;
    /// use octohook_inbox::{DeliveryKey, DeliveryStore, MemoryStore, NewDelivery, StoreError};
    ///
    /// let store = MemoryStore::new().with_size_limit(1024);
    /// let key = |guid: &str| DeliveryKey::new(None, guid.parse().unwrap());
    /// store.insert(NewDelivery::new(key("a"), EventKind::Push, vec![b' '; 1000])).await.unwrap();
    /// let refused = store.insert(NewDelivery::new(key("b"), EventKind::Push, vec![b' '; 1000])).await;
    /// assert!(matches!(refused, Err(StoreError::Full(_))));
    /// # }
    /// ```
    pub fn with_size_limit(mut self, bytes: u64) -> Self {
        self.size_limit = bytes;
        self
    }

    /// The bytes of bodies and stored headers it holds now.
    pub fn held_bytes(&self) -> u64 {
        self.lock().bytes
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No method leaves the state half-changed before a panic could occur, so a
        // poisoned lock still guards consistent data.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn insert_now(&self, new: NewDelivery) -> Result<Inserted, StoreError> {
        let mut new = new;
        if new.body.len() <= COPIED_BODY_MAX {
            new.body = Bytes::copy_from_slice(&new.body);
        }
        let now = SystemTime::now();
        let mut state = self.lock();
        state.expire(now, self.ttl, self.max_finished);
        if let Some(&id) = state.ids.get(&new.key) {
            return Ok(Inserted::Duplicate { id });
        }
        let size = held_bytes(&new.body, &new.headers);
        while state.bytes.saturating_add(size) > self.size_limit {
            let Some(&(_, oldest)) = state.finished.first() else {
                let why = format!(
                    "the in-memory inbox holds {} bytes of unfinished deliveries; \
                     a delivery of {size} more would pass its limit of {} bytes",
                    state.bytes, self.size_limit
                );
                state.room_refused = Some(why.clone());
                return Err(StoreError::Full(why));
            };
            state.remove(oldest);
        }
        state.last_id += 1;
        let id = StoredDeliveryId::new(state.last_id);
        let delivery = StoredDelivery {
            id,
            key: new.key,
            event: new.event,
            action: new.action,
            content_type: new.content_type,
            headers: new.headers,
            body: new.body,
            received_at: new.received_at,
            origin: new.origin,
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_error: None,
            next_attempt_at: Some(now),
            lease: None,
            updated_at: now,
            trace_parent: new.trace_parent,
        };
        state.ids.insert(delivery.key.clone(), id);
        state.bytes += size;
        state.room_refused = None;
        state.rows.insert(id, Row { delivery, seq: 0 });
        state.index(id);
        Ok(Inserted::New { id })
    }

    fn claim_now(&self, worker: &str, lease: Duration) -> Option<Claimed> {
        let now = SystemTime::now();
        let mut state = self.lock();
        let &(due_at, id) = state.due.first()?;
        if due_at > now {
            return None;
        }
        let until = now + lease;
        let (delivery, seq) = state.update(id, |row| {
            row.seq += 1;
            let delivery = &mut row.delivery;
            delivery.status = DeliveryStatus::Processing;
            delivery.attempts = delivery.attempts.saturating_add(1);
            delivery.next_attempt_at = None;
            delivery.lease = Some(Lease {
                owner: worker.to_owned(),
                until,
            });
            delivery.updated_at = now;
            (delivery.clone(), row.seq)
        })?;
        let claim = Claim {
            id,
            seq,
            key: delivery.key.clone(),
            worker: worker.to_owned(),
            lease_until: until,
        };
        Some(Claimed { delivery, claim })
    }

    /// Claims row `id`, just stored, for `worker` (see
    /// [`DeliveryStore::insert_and_claim_batch`]).
    fn claim_stored(&self, id: StoredDeliveryId, worker: &str, lease: Duration) -> Option<Claimed> {
        let now = SystemTime::now();
        let until = now + lease;
        let mut state = self.lock();
        let delivery = state.update(id, |row| {
            row.seq = 1;
            let delivery = &mut row.delivery;
            delivery.status = DeliveryStatus::Processing;
            delivery.attempts = 1;
            delivery.next_attempt_at = None;
            delivery.lease = Some(Lease {
                owner: worker.to_owned(),
                until,
            });
            delivery.updated_at = now;
            delivery.clone()
        })?;
        let claim = Claim {
            id,
            seq: 1,
            key: delivery.key.clone(),
            worker: worker.to_owned(),
            lease_until: until,
        };
        Some(Claimed { delivery, claim })
    }

    /// Records how the claimed delivery's attempt ended.
    fn finish_now(&self, finish: Finish) -> Result<(), StoreError> {
        self.with_claim(&finish.claim, |delivery, now| {
            delivery.lease = None;
            match finish.outcome {
                Completion::Done => delivery.status = DeliveryStatus::Done,
                Completion::RetryLater { error, delay } => {
                    delivery.status = DeliveryStatus::Pending;
                    delivery.next_attempt_at = Some(now + delay);
                    delivery.last_error = Some(error);
                }
                Completion::Failed { error } => {
                    delivery.status = DeliveryStatus::Failed;
                    delivery.last_error = Some(error);
                }
            }
        })
    }

    /// Applies `change` to the row `claim` still holds.
    fn with_claim<T>(
        &self,
        claim: &Claim,
        change: impl FnOnce(&mut StoredDelivery, SystemTime) -> T,
    ) -> Result<T, StoreError> {
        let now = SystemTime::now();
        let mut state = self.lock();
        let held = state.rows.get(&claim.id).is_some_and(|row| {
            row.seq == claim.seq && row.delivery.status == DeliveryStatus::Processing
        });
        if !held {
            return Err(StoreError::ClaimLost { id: claim.id });
        }
        let result = state
            .update(claim.id, |row| {
                row.delivery.updated_at = now;
                change(&mut row.delivery, now)
            })
            .ok_or(StoreError::ClaimLost { id: claim.id });
        state.expire(now, self.ttl, self.max_finished);
        result
    }
}

impl State {
    /// Adds row `id` to the index its status belongs in.
    fn index(&mut self, id: StoredDeliveryId) {
        let Some(row) = self.rows.get(&id) else {
            return;
        };
        let delivery = &row.delivery;
        self.counts.add(delivery.status, 1);
        match delivery.status {
            DeliveryStatus::Pending => {
                let due = delivery.next_attempt_at.unwrap_or(delivery.updated_at);
                self.due.insert((due, id));
            }
            DeliveryStatus::Processing => {
                let due = delivery
                    .lease
                    .as_ref()
                    .map_or(delivery.updated_at, |lease| lease.until);
                self.due.insert((due, id));
            }
            DeliveryStatus::Done | DeliveryStatus::Failed => {
                self.finished.insert((delivery.received_at, id));
                self.room_refused = None;
            }
        }
    }

    /// Removes row `id` from the indexes.
    fn unindex(&mut self, id: StoredDeliveryId) {
        let Some(row) = self.rows.get(&id) else {
            return;
        };
        let delivery = &row.delivery;
        self.counts.subtract(delivery.status, 1);
        let due = match delivery.status {
            DeliveryStatus::Pending => delivery.next_attempt_at,
            DeliveryStatus::Processing => delivery.lease.as_ref().map(|lease| lease.until),
            DeliveryStatus::Done | DeliveryStatus::Failed => {
                self.finished.remove(&(delivery.received_at, id));
                return;
            }
        };
        self.due.remove(&(due.unwrap_or(delivery.updated_at), id));
    }

    /// Changes row `id` and keeps the indexes in step.
    fn update<T>(&mut self, id: StoredDeliveryId, change: impl FnOnce(&mut Row) -> T) -> Option<T> {
        self.unindex(id);
        let result = self.rows.get_mut(&id).map(change);
        self.index(id);
        result
    }

    fn remove(&mut self, id: StoredDeliveryId) {
        self.unindex(id);
        if let Some(row) = self.rows.remove(&id) {
            self.bytes = self
                .bytes
                .saturating_sub(held_bytes(&row.delivery.body, &row.delivery.headers));
            self.ids.remove(&row.delivery.key);
            self.room_refused = None;
        }
    }

    /// Forgets finished rows past their time-to-live, and the oldest ones beyond
    /// `max_finished`.
    fn expire(&mut self, now: SystemTime, ttl: Duration, max_finished: usize) {
        let cutoff = now.checked_sub(ttl);
        while let Some(&(received_at, id)) = self.finished.first() {
            let expired = cutoff.is_some_and(|cutoff| received_at <= cutoff);
            if !expired && self.finished.len() <= max_finished {
                break;
            }
            self.remove(id);
        }
    }
}

/// What a delivery counts against the size limit: its body and its stored
/// headers. (The rest of a row is small and bounded: a GUID, an event name.)
fn held_bytes(body: &[u8], headers: &octohook::RawHeaders) -> u64 {
    (body.len() + headers.byte_len()) as u64
}

fn ready<'a, T: Send + 'a>(value: Result<T, StoreError>) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

impl DeliveryStore for MemoryStore {
    fn insert(&self, delivery: NewDelivery) -> StoreFuture<'_, Inserted> {
        let inserted = self.insert_now(delivery);
        if matches!(inserted, Ok(Inserted::New { .. })) {
            self.wakeup.notify_one();
        }
        ready(inserted)
    }

    fn claim(&self, worker: &str, lease: Duration) -> StoreFuture<'_, Option<Claimed>> {
        ready(Ok(self.claim_now(worker, lease)))
    }

    fn insert_batch(&self, deliveries: Vec<NewDelivery>) -> StoreFuture<'_, Vec<Inserted>> {
        let mut inserted = Vec::with_capacity(deliveries.len());
        let mut failed = None;
        for delivery in deliveries {
            match self.insert_now(delivery) {
                Ok(done) => inserted.push(done),
                Err(error) => {
                    failed = Some(error);
                    break;
                }
            }
        }
        wake_for_new(&self.wakeup, &inserted);
        ready(match failed {
            Some(error) => Err(error),
            None => Ok(inserted),
        })
    }

    fn insert_and_claim_batch(
        &self,
        deliveries: Vec<NewDelivery>,
        worker: &str,
        lease: Duration,
        limit: usize,
    ) -> StoreFuture<'_, Vec<(Inserted, Option<Claimed>)>> {
        let mut results = Vec::with_capacity(deliveries.len());
        for (index, delivery) in deliveries.into_iter().enumerate() {
            match self.insert_now(delivery) {
                Ok(inserted @ Inserted::New { id }) if index < limit => {
                    results.push((inserted, self.claim_stored(id, worker, lease)));
                }
                Ok(inserted) => results.push((inserted, None)),
                Err(error) => return ready(Err(error)),
            }
        }
        wake_for_unclaimed(&self.wakeup, &results);
        ready(Ok(results))
    }

    fn claim_batch(
        &self,
        worker: &str,
        lease: Duration,
        limit: usize,
    ) -> StoreFuture<'_, Vec<Claimed>> {
        let claimed = std::iter::from_fn(|| self.claim_now(worker, lease))
            .take(limit)
            .collect();
        ready(Ok(claimed))
    }

    fn finish_batch(&self, finishes: Vec<Finish>) -> StoreFuture<'_, Vec<Result<(), StoreError>>> {
        let results = finishes
            .into_iter()
            .map(|finish| self.finish_now(finish))
            .collect();
        ready(Ok(results))
    }

    fn renew(&self, claim: &Claim, lease: Duration) -> StoreFuture<'_, Claim> {
        let result = self.with_claim(claim, |delivery, now| {
            let until = now + lease;
            if let Some(held) = &mut delivery.lease {
                held.until = until;
            }
            Claim {
                lease_until: until,
                ..claim.clone()
            }
        });
        ready(result)
    }

    fn finish(&self, finish: Finish) -> StoreFuture<'_, ()> {
        ready(self.finish_now(finish))
    }

    fn requeue(&self, key: &DeliveryKey) -> StoreFuture<'_, bool> {
        let now = SystemTime::now();
        let mut state = self.lock();
        let requeued = match state.ids.get(key).copied() {
            Some(id) => state
                .update(id, |row| {
                    let delivery = &mut row.delivery;
                    if delivery.status == DeliveryStatus::Processing {
                        return false;
                    }
                    delivery.status = DeliveryStatus::Pending;
                    delivery.attempts = 0;
                    delivery.next_attempt_at = Some(now);
                    delivery.updated_at = now;
                    true
                })
                .unwrap_or(false),
            None => false,
        };
        drop(state);
        if requeued {
            self.wakeup.notify_one();
        }
        ready(Ok(requeued))
    }

    fn get(&self, key: &DeliveryKey) -> StoreFuture<'_, Option<StoredDelivery>> {
        let state = self.lock();
        let found = state
            .ids
            .get(key)
            .and_then(|id| state.rows.get(id))
            .map(|row| row.delivery.clone());
        ready(Ok(found))
    }

    fn get_by_id(&self, id: StoredDeliveryId) -> StoreFuture<'_, Option<StoredDelivery>> {
        let found = self.lock().rows.get(&id).map(|row| row.delivery.clone());
        ready(Ok(found))
    }

    fn list(&self, query: &ListQuery) -> StoreFuture<'_, Vec<StoredDelivery>> {
        let state = self.lock();
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        let found = state
            .rows
            .values()
            .rev()
            .map(|row| &row.delivery)
            .filter(|delivery| query.matches(delivery))
            .take(limit)
            .cloned()
            .collect();
        ready(Ok(found))
    }

    fn purge(&self, query: &PurgeQuery) -> StoreFuture<'_, u64> {
        let now = SystemTime::now();
        let cutoff = now.checked_sub(query.older_than);
        let mut state = self.lock();
        let doomed: Vec<StoredDeliveryId> = state
            .rows
            .values()
            .map(|row| &row.delivery)
            .filter(|delivery| {
                query.statuses.contains(&delivery.status)
                    && cutoff.is_some_and(|cutoff| delivery.received_at < cutoff)
            })
            .map(|delivery| delivery.id)
            .collect();
        for &id in &doomed {
            state.remove(id);
        }
        ready(Ok(doomed.len() as u64))
    }

    /// Kept as rows change: no scan, and the lock is held only to copy them.
    fn counts(&self) -> StoreFuture<'_, StatusCounts> {
        ready(Ok(self.lock().counts))
    }

    /// [`StoreError::Full`] from the moment a new delivery is refused for want
    /// of room until room is made: a new delivery stored, or one finished (it
    /// then gives way to new ones) or removed.
    fn health(&self) -> StoreFuture<'_, ()> {
        ready(match &self.lock().room_refused {
            Some(why) => Err(StoreError::Full(format!(
                "a new delivery was refused and no room has been made since: {why}"
            ))),
            None => Ok(()),
        })
    }

    fn wakeups(&self) -> Option<Arc<Notify>> {
        Some(Arc::clone(&self.wakeup))
    }

    fn load_pull_cursor(&self, scope: &str) -> StoreFuture<'_, Option<String>> {
        ready(Ok(self.lock().pull_cursors.get(scope).cloned()))
    }

    fn save_pull_cursor(&self, scope: &str, cursor: &str) -> StoreFuture<'_, ()> {
        self.lock()
            .pull_cursors
            .insert(scope.to_owned(), cursor.to_owned());
        ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use octohook::EventKind;

    fn new(guid: &str) -> NewDelivery {
        NewDelivery::new(
            DeliveryKey::new(None, guid.parse().unwrap()),
            EventKind::Ping,
            "{}",
        )
    }

    /// Marks the claimed delivery done, as a worker's completion does.
    fn finish(store: &MemoryStore, claim: &Claim) {
        store
            .with_claim(claim, |delivery, _| {
                delivery.status = DeliveryStatus::Done;
                delivery.lease = None;
            })
            .unwrap();
    }

    /// Full for `health` from a refusal for want of room until room is made.
    #[tokio::test]
    async fn health_reports_full_until_a_delivery_finishes() {
        let store = MemoryStore::new().with_size_limit(1024);
        let sized = |guid: &str| {
            let mut delivery = new(guid);
            delivery.body = Bytes::from(vec![b' '; 1000]);
            delivery
        };
        store.insert_now(sized("a")).unwrap();
        store.health().await.unwrap();
        assert!(matches!(
            store.insert_now(sized("b")),
            Err(StoreError::Full(_))
        ));
        let error = store.health().await.unwrap_err();
        assert!(matches!(error, StoreError::Full(_)), "{error:?}");
        assert!(error.to_string().contains("limit of 1024 bytes"), "{error}");
        let claimed = store.claim_now("w", Duration::from_secs(5)).unwrap();
        finish(&store, &claimed.claim);
        store.health().await.unwrap();
    }

    #[test]
    fn finished_deliveries_are_forgotten_beyond_the_cap() {
        let store = MemoryStore::with_limits(DEFAULT_TTL, 2);
        for guid in ["a", "b", "c"] {
            store.insert_now(new(guid)).unwrap();
            let claimed = store.claim_now("w", Duration::from_secs(5)).unwrap();
            finish(&store, &claimed.claim);
        }
        let state = store.lock();
        assert_eq!(state.rows.len(), 2);
        assert!(!state.ids.contains_key(&new("a").key));
        assert!(state.ids.contains_key(&new("c").key));
    }

    #[test]
    fn finished_deliveries_expire_after_the_ttl_but_pending_ones_stay() {
        let store = MemoryStore::with_limits(Duration::from_secs(60), 10);
        let old = SystemTime::now() - Duration::from_secs(120);
        store.insert_now(new("done").received_at(old)).unwrap();
        store.insert_now(new("waiting").received_at(old)).unwrap();
        let claimed = store.claim_now("w", Duration::from_secs(5)).unwrap();
        assert_eq!(claimed.delivery.key.guid.as_str(), "done");
        finish(&store, &claimed.claim);
        // The completion itself swept the expired row.
        let state = store.lock();
        assert_eq!(state.rows.len(), 1);
        assert!(state.ids.contains_key(&new("waiting").key));
        assert!(state.finished.is_empty());
        assert_eq!(state.due.len(), 1);
    }

    #[test]
    fn a_full_store_forgets_finished_deliveries_first_then_refuses() {
        let body = |guid: &str| new(guid).body.len() as u64;
        let store = MemoryStore::new().with_size_limit(2 * body("a"));
        store.insert_now(new("a")).unwrap();
        let claimed = store.claim_now("w", Duration::from_secs(5)).unwrap();
        finish(&store, &claimed.claim);
        store.insert_now(new("b")).unwrap();
        // Full: the finished "a" makes room for "c".
        store.insert_now(new("c")).unwrap();
        assert!(!store.lock().ids.contains_key(&new("a").key));
        // Full of unfinished deliveries: refused, and a duplicate is still known.
        assert!(matches!(
            store.insert_now(new("d")),
            Err(StoreError::Full(_))
        ));
        assert!(store.insert_now(new("b")).unwrap().is_duplicate());
        let state = store.lock();
        assert_eq!(state.bytes, 2 * body("b"));
        assert_eq!(state.counts.pending, 2);
        assert_eq!(state.counts.total(), 2);
    }
}
