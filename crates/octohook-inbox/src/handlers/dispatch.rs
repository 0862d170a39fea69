//! [`Dispatch`]: stored deliveries through a typed [`Dispatcher`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use octohook::{DispatchError, Dispatcher, Error, Verifier};

use crate::{AttemptError, DeliveryOrigin, Handler, StoredDelivery};

/// Runs a typed [`Dispatcher`] on each stored delivery, once it is verified again
/// ([`StoredDelivery::verify`]): a typed handler only ever sees a delivery whose
/// MAC was checked.
///
/// A delivery pulled from GitHub's API ([`DeliveryOrigin::Pulled`], stored by
/// `octohook pull`) has no signature to check: the store is trusted to have kept
/// what the authenticated API call returned. So it is dispatched only by a
/// `Dispatch` made [`accepting_pulled`](Self::accepting_pulled), as an
/// [`octohook::PulledDelivery`]; otherwise it fails at once, and a receiver that
/// never pulls keeps trusting nothing but signatures, whatever is written into
/// its store.
///
/// A stored delivery whose signature no longer verifies (its secret was rotated
/// out of the [`Verifier`], or the row was changed) fails at once, as does a
/// payload that does not fit its event's type (no retry can change either); a
/// failing handler fails the attempt, which is retried. Keep a rotated-out secret
/// in the verifier until the deliveries signed with it are processed.
/// The dispatcher's handlers find the attempt number and idempotency key with
/// [`Attempt::current`](crate::Attempt::current).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), octohook_inbox::StoreError> {
/// use std::time::Duration;
/// use octohook::events::IssuesAction;
/// use octohook::{Dispatcher, Verifier, WebhookSecret};
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
/// let verifier = Verifier::new(WebhookSecret::new("s3cret").unwrap());
/// let inbox = Inbox::in_memory();
/// let processing = inbox.process(
///     Dispatch::new(dispatcher, verifier.clone()),
///     1,
///     WorkerConfig::new("w"),
/// );
/// # let body = bytes::Bytes::from_static(
/// #     br#"{"action":"opened","issue":{"id":1,"number":7},"repository":{},"sender":{}}"#);
/// # let mut headers = http::HeaderMap::new();
/// # headers.insert("x-github-event", "issues".parse().unwrap());
/// # headers.insert("x-github-delivery", "a1".parse().unwrap());
/// # headers.insert("content-type", "application/json".parse().unwrap());
/// # let secret = WebhookSecret::new("s3cret").unwrap();
/// # headers.insert("x-hub-signature-256", octohook::sign(&secret, &body).parse().unwrap());
/// // A receiver stores a verified delivery of `issues.opened`:
/// inbox.receive(verifier.verify(&headers, body).unwrap()).await.answer();
/// assert_eq!(seen.recv().await.unwrap(), (7, "-:a1".to_owned()));
/// processing.drain(Duration::from_secs(5)).await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Dispatch {
    dispatcher: Arc<Dispatcher>,
    verifier: Arc<Verifier>,
    accept_pulled: bool,
}

impl Dispatch {
    /// Runs `dispatcher` on each delivery that `verifier` verifies again (the
    /// receiver's verifier, or one that still holds every secret the stored
    /// deliveries were signed with).
    pub fn new(dispatcher: Dispatcher, verifier: Verifier) -> Self {
        Self {
            dispatcher: Arc::new(dispatcher),
            verifier: Arc::new(verifier),
            accept_pulled: false,
        }
    }

    /// Also dispatches the deliveries pulled from GitHub's API
    /// ([`DeliveryOrigin::Pulled`]), as [`octohook::PulledDelivery`]s: for an
    /// inbox that `octohook pull` (or `serve --pull`) fills. Handlers tell them
    /// apart with [`octohook::AuthenticDelivery::authenticity`].
    pub fn accepting_pulled(mut self) -> Self {
        self.accept_pulled = true;
        self
    }
}

impl fmt::Debug for Dispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The verifier holds the secrets: never printed.
        f.debug_struct("Dispatch")
            .field("dispatcher", &self.dispatcher)
            .field("accept_pulled", &self.accept_pulled)
            .finish_non_exhaustive()
    }
}

impl Handler for Dispatch {
    fn handle(
        &self,
        delivery: StoredDelivery,
    ) -> impl Future<Output = Result<(), AttemptError>> + Send + 'static {
        let dispatcher = Arc::clone(&self.dispatcher);
        let verifier = Arc::clone(&self.verifier);
        let accept_pulled = self.accept_pulled;
        async move {
            let authentic: octohook::AuthenticDelivery = match delivery.origin {
                DeliveryOrigin::Pushed => delivery.verify(&verifier).map_err(unverifiable)?.into(),
                DeliveryOrigin::Pulled if accept_pulled => delivery
                    .pulled()
                    .map_err(|error| {
                        AttemptError::permanent(format!(
                            "the stored pulled delivery cannot be read: {error}"
                        ))
                    })?
                    .into(),
                DeliveryOrigin::Pulled => {
                    return Err(AttemptError::permanent(
                        "the stored delivery was pulled from GitHub's API, and this receiver \
                         does not accept pulled deliveries (no signature covers them)",
                    ));
                }
            };
            match dispatcher.dispatch(authentic).await {
                Ok(_) => Ok(()),
                Err(error @ DispatchError::Parse { .. }) => Err(AttemptError::permanent(error)),
                Err(error) => Err(AttemptError::retry(error)),
            }
        }
    }
}

/// Why a stored delivery cannot be dispatched: said in words of its own for a
/// signature that no longer verifies (the error names only the header, never
/// its value), since no retry will change it.
fn unverifiable(error: Error) -> AttemptError {
    let signature = matches!(
        error,
        Error::SignatureMismatch
            | Error::MissingSignature
            | Error::Sha1NotEnabled
            | Error::MalformedSignature { .. }
    );
    AttemptError::permanent(if signature {
        format!(
            "the stored delivery's signature no longer verifies ({error}): its secret was \
             rotated out of the verifier, or the stored row was changed"
        )
    } else {
        format!("the stored delivery cannot be verified again: {error}")
    })
}

#[cfg(test)]
mod tests {
    use octohook::{RawHeaders, WebhookSecret};

    use super::*;
    use crate::signed_delivery::{signed, verifier};
    use crate::{AttemptOutcome, DeliveryKey, DeliveryStatus, Inbox, NewDelivery, WorkerConfig};

    /// Runs one attempt of `dispatch` on the inbox's only delivery, and returns
    /// its outcome and the error it left.
    async fn attempt(inbox: &Inbox, dispatch: &Dispatch) -> (AttemptOutcome, Option<String>) {
        let processed = inbox
            .worker(WorkerConfig::new("w").max_attempts(5))
            .run_once(dispatch)
            .await
            .unwrap()
            .expect("a delivery to process");
        let stored = inbox.store().get(&processed.key).await.unwrap().unwrap();
        (processed.outcome, stored.last_error)
    }

    #[tokio::test]
    async fn a_stored_delivery_is_dispatched_once_verified_again() {
        let inbox = Inbox::in_memory();
        let delivery = signed("ping", "ok-1", br#"{"zen":"Non-blocking is better."}"#);
        assert!(inbox.receive(delivery).await.is_committed());
        let dispatch = Dispatch::new(Dispatcher::new(), verifier());
        assert_eq!(
            attempt(&inbox, &dispatch).await,
            (AttemptOutcome::Done, None)
        );
    }

    #[tokio::test]
    async fn a_rotated_out_secret_or_a_changed_row_fails_at_once_and_says_why() {
        let body: &[u8] = br#"{"zen":"Favor focus over features."}"#;
        let delivery = signed("ping", "rotated", body);
        let signature = delivery
            .raw_headers()
            .get("x-hub-signature-256")
            .unwrap()
            .to_owned();

        // The secret was rotated out of the verifier.
        let inbox = Inbox::in_memory();
        assert!(inbox.receive(delivery.clone()).await.is_committed());
        let rotated = Verifier::new(WebhookSecret::new("another secret").unwrap());
        let (outcome, error) = attempt(&inbox, &Dispatch::new(Dispatcher::new(), rotated)).await;

        // The row's body was changed behind the receiver's back.
        let edited = Inbox::in_memory();
        let mut new = NewDelivery::from_verified(&delivery);
        new.body = bytes::Bytes::from_static(br#"{"zen":"Forged."}"#);
        edited.insert(new).await.unwrap();
        let (edited_outcome, edited_error) =
            attempt(&edited, &Dispatch::new(Dispatcher::new(), verifier())).await;

        for (outcome, error) in [(outcome, error), (edited_outcome, edited_error)] {
            assert_eq!(outcome, AttemptOutcome::Failed { attempts: 1 });
            let error = error.expect("the error is kept");
            assert!(error.contains("signature no longer verifies"), "{error}");
            assert!(!error.contains(&signature[7..]), "{error}");
        }
        let key = DeliveryKey::new(None, "rotated".parse().unwrap());
        let stored = edited.store().get(&key).await.unwrap().unwrap();
        assert_eq!(stored.status, DeliveryStatus::Failed);
    }

    #[tokio::test]
    async fn a_pulled_delivery_is_dispatched_only_when_pulled_ones_are_accepted() {
        let headers = [
            ("X-GitHub-Event", "ping"),
            ("X-GitHub-Delivery", "pulled-1"),
        ];
        let payload = serde_json::json!({"zen": "Approachable is better than simple."});
        let pulled = octohook::PulledDelivery::from_github_api(headers, &payload).unwrap();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let dispatcher = {
            let seen = Arc::clone(&seen);
            Dispatcher::new().on_any(move |event| {
                let seen = Arc::clone(&seen);
                let authenticity = event.delivery().authenticity();
                async move { seen.lock().unwrap().push(authenticity) }
            })
        };

        let strict = Inbox::in_memory();
        strict
            .insert(NewDelivery::from_pulled(&pulled))
            .await
            .unwrap();
        let (outcome, error) =
            attempt(&strict, &Dispatch::new(dispatcher.clone(), verifier())).await;
        assert_eq!(outcome, AttemptOutcome::Failed { attempts: 1 });
        assert!(error.unwrap().contains("does not accept pulled"));
        assert!(seen.lock().unwrap().is_empty());

        let pulling = Inbox::in_memory();
        pulling
            .insert(NewDelivery::from_pulled(&pulled))
            .await
            .unwrap();
        let dispatch = Dispatch::new(dispatcher, verifier()).accepting_pulled();
        assert_eq!(
            attempt(&pulling, &dispatch).await,
            (AttemptOutcome::Done, None)
        );
        assert_eq!(*seen.lock().unwrap(), [octohook::Authenticity::GitHubApi]);
    }

    #[tokio::test]
    async fn a_row_stored_without_its_signature_is_never_dispatched() {
        // As a row of an older version, kept without the request's headers.
        let mut unsigned = NewDelivery::from_verified(&signed("ping", "unsigned", b"{}"));
        unsigned.headers = RawHeaders::default();
        let inbox = Inbox::in_memory();
        inbox.insert(unsigned).await.unwrap();
        let (outcome, error) = attempt(&inbox, &Dispatch::new(Dispatcher::new(), verifier())).await;
        assert_eq!(outcome, AttemptOutcome::Failed { attempts: 1 });
        assert!(error.unwrap().contains("no longer verifies"));
    }
}
