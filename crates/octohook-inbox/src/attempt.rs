//! [`Attempt`]: which delivery a handler is processing, and for the how-manyth
//! time, reachable from inside any handler (a typed `Dispatcher` handler too).

use std::future::Future;
use std::time::SystemTime;

use crate::{DeliveryKey, StoredDelivery, StoredDeliveryId};

tokio::task_local! {
    static CURRENT: Attempt;
}

/// One attempt at processing a stored delivery: its idempotency key and attempt
/// number.
///
/// A [`Worker`](crate::Worker) runs every handler inside the attempt's scope, so
/// code that only sees the payload, such as a typed
/// [`Dispatcher`](octohook::Dispatcher) handler, finds it with
/// [`Attempt::current`]. A handler given the
/// [`StoredDelivery`](crate::StoredDelivery) has the same from
/// [`attempt`](crate::StoredDelivery::attempt) and
/// [`idempotency_key`](crate::StoredDelivery::idempotency_key).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), octohook_inbox::StoreError> {
/// use octohook::EventKind;
/// use octohook_inbox::{Attempt, AttemptError, DeliveryKey, Inbox, NewDelivery, StoredDelivery, WorkerConfig};
///
/// let inbox = Inbox::in_memory();
/// inbox.insert(NewDelivery::new(DeliveryKey::new(None, "a1".parse().unwrap()), EventKind::Ping, "{}")).await?;
/// let handler = |_: StoredDelivery| async {
///     let attempt = Attempt::current().expect("inside a worker");
///     assert_eq!((attempt.number(), attempt.idempotency_key().to_string()), (1, "-:a1".to_owned()));
///     Ok::<(), AttemptError>(())
/// };
/// inbox.worker(WorkerConfig::new("w")).run_once(&handler).await?;
/// assert!(Attempt::current().is_none());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    id: StoredDeliveryId,
    key: DeliveryKey,
    number: u32,
    max_attempts: u32,
    received_at: SystemTime,
}

impl Attempt {
    pub(crate) fn new(delivery: &StoredDelivery, max_attempts: u32) -> Self {
        Self {
            id: delivery.id,
            key: delivery.key.clone(),
            number: delivery.attempts,
            max_attempts,
            received_at: delivery.received_at,
        }
    }

    /// The attempt the calling task runs in, when it runs in a worker's handler.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// The stored delivery's row id.
    pub fn id(&self) -> StoredDeliveryId {
        self.id
    }

    /// The idempotency key: (hook, GUID), the same on every attempt and on every
    /// redelivery by GitHub.
    pub fn idempotency_key(&self) -> &DeliveryKey {
        &self.key
    }

    /// The attempt number, from 1.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// When the receiver got the delivery.
    pub fn received_at(&self) -> SystemTime {
        self.received_at
    }

    /// Whether a failure of this attempt marks the delivery `failed` (no retry
    /// follows).
    pub fn is_last(&self) -> bool {
        self.number >= self.max_attempts
    }

    /// Runs `future` with `self` as the [`current`](Self::current) attempt.
    pub(crate) fn scope<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self, future)
    }
}
