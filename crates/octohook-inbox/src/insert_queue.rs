//! [`InsertQueue`]: coalesces an [`Inbox`](crate::Inbox)'s concurrent inserts
//! into [`DeliveryStore::insert_batch`] calls, so that deliveries arriving
//! together share one transaction and one disk flush (or one round trip).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::{Claimed, DeliveryStore, Inserted, NewDelivery, StoreError};

/// How an [`Inbox`](crate::Inbox) batches the inserts of concurrent callers
/// (see [`Inbox::insert_batching`](crate::Inbox::insert_batching)).
///
/// Each caller queues its delivery; a flushing task takes whatever is queued
/// (at most [`max_batch`](Self::max_batch)) and stores it with one
/// [`insert_batch`](DeliveryStore::insert_batch), and each caller gets its own
/// answer. Nothing waits for a batch to fill: a lone caller's delivery is
/// stored at once, in a batch of one; deliveries arriving while a batch is
/// being committed form the next one.
///
/// ```
/// use octohook_inbox::InsertBatching;
///
/// let batching = InsertBatching::default().max_batch(64).max_queued(512).in_flight(1);
/// assert_eq!(batching.max_queued, 512);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct InsertBatching {
    /// The most deliveries in one [`insert_batch`](DeliveryStore::insert_batch)
    /// call (128 by default).
    pub max_batch: usize,
    /// The most deliveries queued or being stored at once (1024 by default):
    /// a caller beyond it waits for room before its delivery is queued. The
    /// queue only holds deliveries whose callers wait for them, so it adds no
    /// memory of its own beyond this many entries.
    pub max_queued: usize,
    /// The most batches being stored at once (2 by default): one being
    /// committed while the next is written, for stores that can overlap them.
    pub in_flight: usize,
}

impl Default for InsertBatching {
    fn default() -> Self {
        Self {
            max_batch: 128,
            max_queued: 1024,
            in_flight: 2,
        }
    }
}

impl InsertBatching {
    /// At most `deliveries` (at least 1) per batch.
    pub fn max_batch(mut self, deliveries: usize) -> Self {
        self.max_batch = deliveries.max(1);
        self
    }

    /// At most `deliveries` (at least 1) queued or being stored.
    pub fn max_queued(mut self, deliveries: usize) -> Self {
        self.max_queued = deliveries.max(1);
        self
    }

    /// At most `batches` (at least 1) being stored at once.
    pub fn in_flight(mut self, batches: usize) -> Self {
        self.in_flight = batches.max(1);
        self
    }
}

/// The queue of one inbox: shared by its clones.
pub(crate) struct InsertQueue {
    limits: InsertBatching,
    /// One permit per delivery queued or being stored.
    room: Arc<Semaphore>,
    state: Mutex<QueueState>,
}

/// Limits and a count only: the queued deliveries (their payloads) are not
/// for logs.
impl std::fmt::Debug for InsertQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsertQueue")
            .field("limits", &self.limits)
            .field("queued", &self.queued())
            .finish()
    }
}

#[derive(Debug, Default)]
struct QueueState {
    waiting: VecDeque<Waiting>,
    /// Flushing tasks running.
    flushers: usize,
    /// The pool that takes deliveries on as they are stored, if one is attached.
    hand_off: Option<HandOff>,
}

#[derive(Debug)]
struct Waiting {
    delivery: NewDelivery,
    answer: oneshot::Sender<Result<Stored, StoreError>>,
    /// Released once the caller is answered.
    _room: OwnedSemaphorePermit,
}

/// What became of a queued delivery: how it was inserted, and whether a pool
/// took it on as it was stored (then no worker needs waking for it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stored {
    pub(crate) inserted: Inserted,
    pub(crate) handed_off: bool,
}

/// A delivery claimed as it was stored, with the pool slot reserved for it.
pub(crate) type HandedOff = (Claimed, OwnedSemaphorePermit);

/// A [`Processing`](crate::Processing) pool's offer to take deliveries on as
/// they are stored: while it has free slots, a batch is stored with
/// [`insert_and_claim_batch`](DeliveryStore::insert_and_claim_batch), claimed
/// for `worker`, and each delivery claimed goes to the pool with its slot,
/// from memory. A slot is reserved before the batch is sent and travels with
/// its delivery, so the pool never holds more than its size.
#[derive(Clone, Debug)]
pub(crate) struct HandOff {
    /// Which pool offered it (to withdraw only its own offer).
    pub(crate) pool: u64,
    pub(crate) free: Arc<Semaphore>,
    pub(crate) deliveries: mpsc::UnboundedSender<HandedOff>,
    pub(crate) worker: String,
    pub(crate) lease: Duration,
}

impl InsertQueue {
    pub(crate) fn new(limits: InsertBatching) -> Self {
        Self {
            limits,
            room: Arc::new(Semaphore::new(limits.max_queued)),
            state: Mutex::new(QueueState::default()),
        }
    }

    pub(crate) fn limits(&self) -> InsertBatching {
        self.limits
    }

    /// Deliveries queued or being stored now.
    pub(crate) fn queued(&self) -> usize {
        self.limits
            .max_queued
            .saturating_sub(self.room.available_permits())
    }

    /// Offers `hand_off`'s pool the deliveries stored from now on; `false`
    /// when another pool already takes them (one pool at a time does).
    pub(crate) fn attach(&self, hand_off: HandOff) -> bool {
        let mut state = self.lock();
        if state.hand_off.is_some() {
            return false;
        }
        state.hand_off = Some(hand_off);
        true
    }

    /// Withdraws pool `pool`'s offer, if it is the one attached.
    pub(crate) fn detach(&self, pool: u64) {
        let mut state = self.lock();
        if state
            .hand_off
            .as_ref()
            .is_some_and(|hand_off| hand_off.pool == pool)
        {
            state.hand_off = None;
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // Nothing panics while the lock is held.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores `delivery` in the next batch and returns its own result.
    pub(crate) async fn insert(
        self: &Arc<Self>,
        store: &Arc<dyn DeliveryStore>,
        delivery: NewDelivery,
    ) -> Result<Stored, StoreError> {
        // Outside a tokio runtime no task can flush: insert alone.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            let inserted = store.insert(delivery).await?;
            return Ok(Stored {
                inserted,
                handed_off: false,
            });
        };
        let room = Arc::clone(&self.room)
            .acquire_owned()
            .await
            .map_err(|_| closed())?;
        let (answer, answered) = oneshot::channel();
        let start_flusher = {
            let mut state = self.lock();
            state.waiting.push_back(Waiting {
                delivery,
                answer,
                _room: room,
            });
            let start = state.flushers < self.limits.in_flight;
            if start {
                state.flushers += 1;
            }
            start
        };
        if start_flusher {
            // A task of its own, not this caller's future: a caller that goes
            // away (its client hung up) must not strand the others' batch.
            runtime.spawn(Arc::clone(self).flush(Arc::clone(store)));
        }
        answered.await.map_err(|_| closed())?
    }

    /// Stores batches until the queue is empty.
    async fn flush(self: Arc<Self>, store: Arc<dyn DeliveryStore>) {
        // Should this task be dropped mid-batch (the runtime shutting down),
        // the callers' answers are dropped too and they fail; the count of
        // flushers must still come down.
        let _leaving = Leaving(&self);
        loop {
            let (batch, hand_off) = {
                let mut state = self.lock();
                let take = state.waiting.len().min(self.limits.max_batch);
                if take == 0 {
                    return;
                }
                let batch: Vec<Waiting> = state.waiting.drain(..take).collect();
                (batch, state.hand_off.clone())
            };
            let (deliveries, answers): (Vec<NewDelivery>, Vec<_>) = batch
                .into_iter()
                .map(|waiting| (waiting.delivery, (waiting.answer, waiting._room)))
                .unzip();
            // A slot for each delivery the pool can take on now, reserved
            // before the batch is stored.
            let mut slots = Vec::new();
            if let Some(hand_off) = &hand_off {
                while slots.len() < deliveries.len() {
                    match Arc::clone(&hand_off.free).try_acquire_owned() {
                        Ok(slot) => slots.push(slot),
                        Err(_) => break,
                    }
                }
            }
            let claim = hand_off
                .as_ref()
                .filter(|_| !slots.is_empty())
                .map(|hand_off| (hand_off.worker.as_str(), hand_off.lease, slots.len()));
            let results = store_batch(&*store, deliveries, claim).await;
            for (result, (answer, _room)) in results.into_iter().zip(answers) {
                let stored = result.map(|(inserted, claimed)| {
                    let handed_off = match (claimed, &hand_off) {
                        (Some(claimed), Some(hand_off)) => match slots.pop() {
                            Some(slot) => hand_off.deliveries.send((claimed, slot)).is_ok(),
                            None => false,
                        },
                        _ => false,
                    };
                    Stored {
                        inserted,
                        handed_off,
                    }
                });
                let _ = answer.send(stored);
            }
        }
    }
}

/// Takes a flusher off the count when it ends, however it ends.
struct Leaving<'a>(&'a InsertQueue);

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        self.0.lock().flushers -= 1;
    }
}

/// One result per delivery, in order. A batch refused as a whole for lack of
/// room may hold deliveries that fit on their own: those are then tried one by
/// one, so that each caller learns about its own delivery.
///
/// With `claim` (a worker, its lease, how many), the batch is stored with
/// [`insert_and_claim_batch`](DeliveryStore::insert_and_claim_batch); the
/// deliveries tried one by one are not claimed.
async fn store_batch(
    store: &dyn DeliveryStore,
    deliveries: Vec<NewDelivery>,
    claim: Option<(&str, Duration, usize)>,
) -> Vec<Result<(Inserted, Option<Claimed>), StoreError>> {
    let count = deliveries.len();
    let retry_alone = (count > 1).then(|| deliveries.clone());
    let stored = match claim {
        Some((worker, lease, limit)) => {
            store
                .insert_and_claim_batch(deliveries, worker, lease, limit)
                .await
        }
        None => store.insert_batch(deliveries).await.map(|inserted| {
            inserted
                .into_iter()
                .map(|inserted| (inserted, None))
                .collect()
        }),
    };
    match stored {
        Ok(stored) if stored.len() == count => stored.into_iter().map(Ok).collect(),
        Ok(_) => {
            let error = StoreError::Unavailable(
                "the store answered a batch of inserts with the wrong number of results".to_owned(),
            );
            (0..count).map(|_| Err(error.clone())).collect()
        }
        Err(StoreError::Full(_)) if retry_alone.is_some() => {
            let mut results = Vec::with_capacity(count);
            for delivery in retry_alone.into_iter().flatten() {
                results.push(
                    store
                        .insert(delivery)
                        .await
                        .map(|inserted| (inserted, None)),
                );
            }
            results
        }
        Err(error) => (0..count).map(|_| Err(error.clone())).collect(),
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable(
        "the inbox's insert queue stopped (the runtime is shutting down)".into(),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use octohook::EventKind;
    use tokio::sync::Notify;

    use super::*;
    use crate::store::StoreFuture;
    use crate::{
        Claim, Claimed, DeliveryKey, Finish, Inbox, ListQuery, MemoryStore, PurgeQuery,
        StatusCounts, StoredDelivery, StoredDeliveryId,
    };

    /// A memory store whose batches wait at a gate, recording their sizes.
    #[derive(Debug)]
    struct Gated {
        inner: MemoryStore,
        open: Semaphore,
        sizes: Mutex<Vec<usize>>,
        arrived: Notify,
        waiting: AtomicUsize,
    }

    impl Default for Gated {
        fn default() -> Self {
            Self {
                inner: MemoryStore::new(),
                open: Semaphore::new(0),
                sizes: Mutex::default(),
                arrived: Notify::new(),
                waiting: AtomicUsize::new(0),
            }
        }
    }

    impl DeliveryStore for Gated {
        fn insert(&self, delivery: NewDelivery) -> StoreFuture<'_, Inserted> {
            Box::pin(async move { Ok(self.insert_batch(vec![delivery]).await?.remove(0)) })
        }
        fn insert_batch(&self, deliveries: Vec<NewDelivery>) -> StoreFuture<'_, Vec<Inserted>> {
            Box::pin(async move {
                self.sizes.lock().unwrap().push(deliveries.len());
                self.waiting.fetch_add(1, Ordering::SeqCst);
                self.arrived.notify_one();
                self.open.acquire().await.unwrap().forget();
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                self.inner.insert_batch(deliveries).await
            })
        }
        fn claim(&self, worker: &str, lease: Duration) -> StoreFuture<'_, Option<Claimed>> {
            self.inner.claim(worker, lease)
        }
        fn renew(&self, claim: &Claim, lease: Duration) -> StoreFuture<'_, Claim> {
            self.inner.renew(claim, lease)
        }
        fn finish(&self, finish: Finish) -> StoreFuture<'_, ()> {
            self.inner.finish(finish)
        }
        fn requeue(&self, key: &DeliveryKey) -> StoreFuture<'_, bool> {
            self.inner.requeue(key)
        }
        fn get(&self, key: &DeliveryKey) -> StoreFuture<'_, Option<StoredDelivery>> {
            self.inner.get(key)
        }
        fn get_by_id(&self, id: StoredDeliveryId) -> StoreFuture<'_, Option<StoredDelivery>> {
            self.inner.get_by_id(id)
        }
        fn list(&self, query: &ListQuery) -> StoreFuture<'_, Vec<StoredDelivery>> {
            self.inner.list(query)
        }
        fn purge(&self, query: &PurgeQuery) -> StoreFuture<'_, u64> {
            self.inner.purge(query)
        }
        fn counts(&self) -> StoreFuture<'_, StatusCounts> {
            self.inner.counts()
        }
    }

    fn new(n: usize) -> NewDelivery {
        let key = DeliveryKey::new(None, format!("g-{n}").parse().unwrap());
        NewDelivery::new(key, EventKind::Ping, "{}")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_queue_holds_at_most_its_bound_and_batches_at_most_theirs() {
        let store = Arc::new(Gated::default());
        let inbox = Inbox::from_shared(store.clone()).insert_batching(
            InsertBatching::default()
                .max_batch(4)
                .max_queued(10)
                .in_flight(2),
        );
        let callers: Vec<_> = (0..40)
            .map(|n| {
                let inbox = inbox.clone();
                tokio::spawn(async move { inbox.insert(new(n)).await })
            })
            .collect();
        // Both flushers wait at the gate with a batch each; the rest queue up
        // to the bound, and the others wait for room.
        while store.waiting.load(Ordering::SeqCst) < 2 {
            store.arrived.notified().await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(inbox.queued_inserts(), 10, "the queue is full");
        let in_flight: usize = store.sizes.lock().unwrap().iter().sum();
        assert_eq!(
            store.sizes.lock().unwrap().len(),
            2,
            "two batches in flight"
        );
        let waiting = inbox.inserts.lock().waiting.len();
        assert_eq!(
            waiting + in_flight,
            10,
            "held: {waiting} queued, {in_flight} in flight"
        );
        // Let everything through, one batch at a time.
        store.open.add_permits(100);
        for caller in callers {
            assert!(!caller.await.unwrap().unwrap().is_duplicate());
        }
        let sizes = store.sizes.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 40);
        assert!(
            sizes.iter().all(|&size| (1..=4).contains(&size)),
            "{sizes:?}"
        );
        assert_eq!(inbox.queued_inserts(), 0);
        assert_eq!(inbox.counts().await.unwrap().pending, 40);
    }

    #[test]
    fn debug_shows_no_queued_payload() {
        let inbox = Inbox::in_memory();
        let shown = format!("{inbox:?}");
        assert!(
            shown.contains("InsertQueue") && shown.contains("queued: 0"),
            "{shown}"
        );
    }

    #[tokio::test]
    async fn a_lone_caller_is_stored_at_once_in_a_batch_of_one() {
        let store = Arc::new(Gated::default());
        store.open.add_permits(10);
        let inbox = Inbox::from_shared(store.clone());
        inbox.insert(new(1)).await.unwrap();
        inbox.insert(new(2)).await.unwrap();
        assert_eq!(*store.sizes.lock().unwrap(), [1, 1]);
    }
}
