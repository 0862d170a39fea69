//! [`Processing`]: a pool of workers over one inbox, and its graceful drain.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::insert_queue::{HandOff, InsertQueue};
use crate::{Handler, Inbox, WorkerConfig};

/// Workers processing an [`Inbox`]'s deliveries with one [`Handler`], started by
/// [`Inbox::process`]: the receiving side's counterpart of a web server.
///
/// Up to `workers` deliveries are handled at once, each with a lease; a failure
/// is retried after a jittered [`Backoff`](crate::Backoff), and a delivery is
/// marked `failed` (the dead-letter state) after the last attempt. The pool
/// talks to the store in batches: it claims as many deliveries as it has free
/// workers in one [`claim_batch`](crate::DeliveryStore::claim_batch), and the
/// outcomes of handlers that end together are recorded with one
/// [`finish_batch`](crate::DeliveryStore::finish_batch). Claims are made
/// under the configuration's [name](WorkerConfig::name).
///
/// While the pool has free workers, the inbox hands it deliveries as it
/// stores them: a batch of inserts is stored already claimed for the pool
/// ([`insert_and_claim_batch`](crate::DeliveryStore::insert_and_claim_batch)),
/// in the same commit, and each of its deliveries goes to a free worker from
/// memory. A delivery received while every worker is busy is stored `pending`
/// and claimed later. Either way the promise is the same: the delivery is
/// durable before it is answered, and held under a lease while it is handled.
/// One pool per inbox takes deliveries this way (the first started). Stop them
/// with [`drain`](Self::drain): no new claims, running handlers finish. Dropping
/// `Processing` aborts the handlers at once instead; their deliveries are taken
/// up again once their leases expire.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), octohook_inbox::StoreError> {
/// use std::time::Duration;
/// use octohook::EventKind;
/// use octohook_inbox::{AttemptError, DeliveryKey, Inbox, NewDelivery, StoredDelivery, WorkerConfig};
///
/// let inbox = Inbox::in_memory();
/// let (done, mut seen) = tokio::sync::mpsc::unbounded_channel();
/// let handler = move |delivery: StoredDelivery| {
///     let done = done.clone();
///     async move {
///         done.send(delivery.idempotency_key().to_string()).unwrap();
///         Ok::<(), AttemptError>(())
///     }
/// };
/// let processing = inbox.process(handler, 2, WorkerConfig::new("example"));
/// inbox.insert(NewDelivery::new(DeliveryKey::new(None, "a1".parse().unwrap()), EventKind::Ping, "{}")).await?;
/// assert_eq!(seen.recv().await.unwrap(), "-:a1");
/// assert!(processing.drain(Duration::from_secs(5)).await.is_finished());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Processing {
    stop: watch::Sender<bool>,
    /// The pool's task (one: it claims, and runs each handler as a task of
    /// its own).
    pool: JoinSet<()>,
    workers: usize,
    /// Handlers running now.
    running: Arc<AtomicUsize>,
    /// The inbox's insert queue, which hands this pool deliveries as they are
    /// stored while it has free workers (when this pool is the one attached).
    inserts: Arc<InsertQueue>,
    id: u64,
}

/// How a [`Processing::drain`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drained {
    /// Every worker stopped after its running handler finished.
    Finished,
    /// The grace period ran out: these workers' handlers were aborted; their
    /// deliveries are processed again once their leases expire.
    Aborted {
        /// Workers still running a handler when the grace period ended.
        workers: usize,
    },
}

impl Drained {
    /// Whether every handler finished.
    pub fn is_finished(self) -> bool {
        self == Self::Finished
    }
}

impl Processing {
    pub(crate) fn start<H: Handler>(
        inbox: &Inbox,
        handler: H,
        workers: usize,
        config: &WorkerConfig,
    ) -> Self {
        static POOLS: AtomicU64 = AtomicU64::new(0);
        let handler = Arc::new(handler);
        let (stop, mut stopping) = watch::channel(false);
        let workers = workers.max(1);
        let running = Arc::new(AtomicUsize::new(0));
        let worker = inbox.worker(config.clone());
        let id = POOLS.fetch_add(1, Ordering::Relaxed);
        // A permit per delivery held claimed: the handled ones and those
        // prefetched.
        let free = Arc::new(Semaphore::new(workers.saturating_mul(config.prefetch)));
        let (handed, handed_off) = mpsc::unbounded_channel();
        let attached = inbox.inserts.attach(HandOff {
            pool: id,
            free: Arc::clone(&free),
            deliveries: handed,
            worker: config.name.clone(),
            lease: config.lease,
        });
        let mut pool = JoinSet::new();
        let counted = Arc::clone(&running);
        pool.spawn(async move {
            let stop = async move {
                // An error means `Processing` is gone: stop too.
                let _ = stopping.wait_for(|stop| *stop).await;
            };
            worker
                .run_pool(
                    handler,
                    workers,
                    free,
                    attached.then_some(handed_off),
                    stop,
                    counted,
                )
                .await;
        });
        Self {
            stop,
            pool,
            workers,
            running,
            inserts: Arc::clone(&inbox.inserts),
            id,
        }
    }

    /// How many deliveries may be handled at once (the number of workers).
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Stops the workers: none claims another delivery, and each running
    /// handler gets up to `grace` to finish; those still running then are
    /// aborted.
    pub async fn drain(mut self, grace: Duration) -> Drained {
        self.inserts.detach(self.id);
        let _ = self.stop.send(true);
        let finished = tokio::time::timeout(grace, async {
            while self.pool.join_next().await.is_some() {}
        })
        .await;
        if finished.is_ok() {
            return Drained::Finished;
        }
        let workers = self.running.load(Ordering::SeqCst);
        tracing::warn!(
            workers,
            "handlers still running after {grace:?}: stopping them; their deliveries will be processed again"
        );
        // Aborting the pool drops its handlers' tasks, which aborts them.
        self.pool.shutdown().await;
        Drained::Aborted { workers }
    }
}

impl Drop for Processing {
    fn drop(&mut self) {
        // Deliveries stored from now on wait for a claim.
        self.inserts.detach(self.id);
    }
}
