//! [`Chain`]: several handlers run one after another on each delivery.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::{AttemptError, Handler, StoredDelivery};

type AttemptFuture = Pin<Box<dyn Future<Output = Result<(), AttemptError>> + Send>>;

/// A [`Handler`] behind a pointer: what lets a [`Chain`] hold handlers of
/// different types.
trait ErasedHandler: Send + Sync + 'static {
    fn handle_boxed(&self, delivery: StoredDelivery) -> AttemptFuture;
}

impl<H: Handler> ErasedHandler for H {
    fn handle_boxed(&self, delivery: StoredDelivery) -> AttemptFuture {
        Box::pin(self.handle(delivery))
    }
}

/// Runs its handlers one after another on each delivery, in the order added;
/// the first failure ends the attempt and decides whether it is retried, and
/// the next attempt runs every handler again. An empty chain only marks
/// deliveries done.
///
/// A retried delivery is handed again to the handlers that had succeeded, so
/// each must be idempotent (see [`Attempt`](crate::Attempt)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), octohook_inbox::StoreError> {
/// use octohook_inbox::handlers::{Chain, JsonLines};
/// use octohook_inbox::{AttemptError, Inbox, StoredDelivery, WorkerConfig};
///
/// let audit = |delivery: StoredDelivery| async move {
///     eprintln!("processing {}", delivery.idempotency_key());
///     Ok::<(), AttemptError>(())
/// };
/// let handler = Chain::new().then(JsonLines::stdout()).then(audit);
/// assert_eq!(handler.len(), 2);
/// let processing = Inbox::in_memory().process(handler, 1, WorkerConfig::new("w"));
/// # drop(processing);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Chain {
    handlers: Vec<Arc<dyn ErasedHandler>>,
}

impl Chain {
    /// A chain without handlers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `handler` at the end.
    pub fn then(mut self, handler: impl Handler) -> Self {
        self.handlers.push(Arc::new(handler));
        self
    }

    /// How many handlers it runs.
    pub fn len(&self) -> usize {
        self.handlers.len()
    }

    /// Whether it runs none.
    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("handlers", &self.handlers.len())
            .finish()
    }
}

impl Handler for Chain {
    fn handle(
        &self,
        delivery: StoredDelivery,
    ) -> impl Future<Output = Result<(), AttemptError>> + Send + 'static {
        let handlers = self.handlers.clone();
        async move {
            for handler in &handlers {
                handler.handle_boxed(delivery.clone()).await?;
            }
            Ok(())
        }
    }
}
