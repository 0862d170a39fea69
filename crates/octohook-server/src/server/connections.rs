//! The open connections of [`serve`](super::serve): how many there are, which
//! have a request in progress, and how to ask an idle one to close.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use pin_project_lite::pin_project;
use tokio::sync::Notify;
use tower_service::Service;

/// Every open connection, by id.
#[derive(Debug, Default)]
pub(super) struct Connections {
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    next_id: AtomicU64,
}

/// What one connection is doing.
#[derive(Debug)]
pub(super) struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds from `epoch` to the last request's start or end.
    last_active: AtomicU64,
    epoch: Instant,
    /// Asked to close (and so no longer counted against the cap).
    shedding: AtomicBool,
    /// Notified to ask the connection to close once idle.
    pub(super) shed: Notify,
}

impl Activity {
    fn touch(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_active.store(now, Ordering::Relaxed);
    }

    /// Whether no request is in progress.
    pub(super) fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// How long ago the last request started or ended (or the connection opened).
    pub(super) fn idle_for(&self) -> std::time::Duration {
        let last = self.last_active.load(Ordering::Relaxed);
        self.epoch
            .elapsed()
            .saturating_sub(std::time::Duration::from_millis(last))
    }
}

/// A connection's place in [`Connections`], given up when dropped.
#[derive(Debug)]
pub(super) struct Registered {
    connections: Arc<Connections>,
    id: u64,
    pub(super) activity: Arc<Activity>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.connections.lock().remove(&self.id);
    }
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Activity>>> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many connections are open, not counting those asked to close.
    pub(super) fn len(&self) -> usize {
        self.lock()
            .values()
            .filter(|activity| !activity.shedding.load(Ordering::Relaxed))
            .count()
    }

    /// Registers a new connection.
    pub(super) fn register(self: &Arc<Self>) -> Registered {
        let activity = Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            last_active: AtomicU64::new(0),
            epoch: Instant::now(),
            shedding: AtomicBool::new(false),
            shed: Notify::new(),
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, Arc::clone(&activity));
        Registered {
            connections: Arc::clone(self),
            id,
            activity,
        }
    }

    /// Asks the connection idle the longest to close; false when every one has
    /// a request in progress.
    pub(super) fn shed_one_idle(&self) -> bool {
        let open = self.lock();
        let idlest = open
            .values()
            .filter(|activity| activity.is_idle() && !activity.shedding.load(Ordering::Relaxed))
            .max_by_key(|activity| activity.idle_for());
        match idlest {
            Some(activity) => {
                activity.shedding.store(true, Ordering::Relaxed);
                activity.shed.notify_one();
                true
            }
            None => false,
        }
    }
}

/// The connection's service, counting the requests in progress on it.
#[derive(Clone, Debug)]
pub(super) struct Counted<S> {
    pub(super) inner: S,
    pub(super) activity: Arc<Activity>,
}

impl<S, R> Service<R> for Counted<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = CountedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.activity.in_flight.fetch_add(1, Ordering::AcqRel);
        self.activity.touch();
        CountedFuture {
            inner: self.inner.call(request),
            guard: InFlight(Arc::clone(&self.activity)),
        }
    }
}

/// One request in progress, until dropped.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

pin_project! {
    /// The future of [`Counted`]: the request stays in progress until it
    /// resolves or is dropped.
    pub(super) struct CountedFuture<F> {
        #[pin]
        inner: F,
        guard: InFlight,
    }
}

impl<F: Future> Future for CountedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}
