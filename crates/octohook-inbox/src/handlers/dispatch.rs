//! [`Dispatch`]: stored deliveries through a typed [`Dispatcher`].

use std::future::Future;
use std::sync::Arc;

use octohook::{DispatchError, Dispatcher};

use crate::{AttemptError, Handler, StoredDelivery};

/// Runs a typed [`Dispatcher`] on each stored delivery, without verifying it a
/// second time ([`StoredDelivery::verified`]).
///
/// A payload that does not fit its event's type fails the delivery at once (no
/// retry can change it); a failing handler fails the attempt, which is retried.
/// The dispatcher's handlers find the attempt number and idempotency key with
/// [`Attempt::current`](crate::Attempt::current).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), octohook_inbox::StoreError> {
/// use std::time::Duration;
/// use octohook::Dispatcher;
/// use octohook::events::IssuesAction;
/// use octohook_inbox::handlers::Dispatch;
/// use octohook_inbox::{Attempt, Inbox, WorkerConfig};
///
/// let (opened, mut seen) = tokio::sync::mpsc::unbounded_channel();
/// let dispatcher = Dispatcher::new().on_action(IssuesAction::Opened, move |issues| {
///     let opened = opened.clone();
///     async move {
///         let attempt = Attempt::current().unwrap();
///         opened.send((issues.issue.number, attempt.idempotency_key().to_string())).unwrap();
///     }
/// });
/// let inbox = Inbox::in_memory();
/// let processing = inbox.process(Dispatch::new(dispatcher), 1, WorkerConfig::new("w"));
/// # use octohook::EventKind;
/// # use octohook_inbox::{DeliveryKey, NewDelivery};
/// # let mut new = NewDelivery::new(DeliveryKey::new(None, "a1".parse().unwrap()), EventKind::Issues,
/// #     r#"{"action":"opened","issue":{"id":1,"number":7},"repository":{},"sender":{}}"#);
/// # new.action = Some("opened".into());
/// // A receiver accepts a verified delivery of `issues.opened` into the inbox:
/// inbox.insert(new).await?;
/// assert_eq!(seen.recv().await.unwrap(), (7, "-:a1".to_owned()));
/// processing.drain(Duration::from_secs(5)).await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Dispatch {
    dispatcher: Arc<Dispatcher>,
}

impl Dispatch {
    /// Runs `dispatcher` on each delivery.
    pub fn new(dispatcher: Dispatcher) -> Self {
        Self {
            dispatcher: Arc::new(dispatcher),
        }
    }
}

impl From<Dispatcher> for Dispatch {
    fn from(dispatcher: Dispatcher) -> Self {
        Self::new(dispatcher)
    }
}

impl Handler for Dispatch {
    fn handle(
        &self,
        delivery: StoredDelivery,
    ) -> impl Future<Output = Result<(), AttemptError>> + Send + 'static {
        let dispatcher = Arc::clone(&self.dispatcher);
        async move {
            let verified = delivery.verified().map_err(|error| {
                AttemptError::permanent(format!("the stored delivery cannot be read: {error}"))
            })?;
            match dispatcher.dispatch(verified).await {
                Ok(_) => Ok(()),
                Err(error @ DispatchError::Parse { .. }) => Err(AttemptError::permanent(error)),
                Err(error) => Err(AttemptError::retry(error)),
            }
        }
    }
}
