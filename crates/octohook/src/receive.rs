//! [`ReceiveDelivery`]: what a receiver does with a verified delivery, whatever
//! the framework in front of it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::{Answer, VerifiedDelivery};

/// The future of [`ReceiveDelivery::receive`].
pub type ReceiveFuture<'a> = Pin<Box<dyn Future<Output = Answer> + Send + 'a>>;

/// Takes a verified delivery and gives the answer to send: the seam between the
/// framework adapters, which verify requests, and what keeps or hands on the
/// deliveries (a durable inbox, a line writer, a broker, your own code).
///
/// The adapters' receiving routes (`octohook_tower::ReceiveService`,
/// `octohook_actix::receive`) are generic over it, so they know nothing of
/// stores. An implementation answers 2xx only once the delivery is safe (for a
/// store: committed), and a 5xx when nothing was kept, so that GitHub records a
/// failure and the delivery can be redelivered.
///
/// It is object safe (`Arc<dyn ReceiveDelivery>` receives too); a closure
/// becomes one through [`receive_fn`].
///
/// ```
/// use std::sync::{Arc, Mutex};
/// # use bytes::Bytes;
/// # use http::HeaderMap;
/// use octohook::{receive_fn, Answer, ReceiveDelivery};
/// # use octohook::{sign, Verifier, WebhookSecret};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// let receiver = receive_fn(move |delivery| {
///     log.lock().unwrap().push(delivery.guid().to_string());
///     async { Answer::ok() }
/// });
/// # let secret = WebhookSecret::new("s3cret").unwrap();
/// # let body = Bytes::from_static(br#"{"zen":"Design for failure."}"#);
/// # let mut headers = HeaderMap::new();
/// # headers.insert("x-github-event", "ping".parse().unwrap());
/// # headers.insert("x-github-delivery", "d1".parse().unwrap());
/// # headers.insert("content-type", "application/json".parse().unwrap());
/// # headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
/// # let delivery = Verifier::new(secret).verify(&headers, body).unwrap();
/// let answer = block_on(receiver.receive(delivery));
/// assert_eq!(answer.status(), 200);
/// assert_eq!(*seen.lock().unwrap(), ["d1"]);
/// # fn block_on<F: std::future::Future>(future: F) -> F::Output {
/// #     let mut future = std::pin::pin!(future);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop {
/// #         if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) { return out; }
/// #     }
/// # }
/// ```
pub trait ReceiveDelivery: Send + Sync + 'static {
    /// Receives `delivery` and says what to answer.
    ///
    /// It takes the delivery by value, so that a receiver that keeps the body
    /// elsewhere (a store, a broker) can drop the request's copy as soon as it
    /// is safe.
    fn receive(&self, delivery: VerifiedDelivery) -> ReceiveFuture<'_>;
}

impl<R: ReceiveDelivery + ?Sized> ReceiveDelivery for Arc<R> {
    fn receive(&self, delivery: VerifiedDelivery) -> ReceiveFuture<'_> {
        (**self).receive(delivery)
    }
}

/// A [`ReceiveDelivery`] made of a closure (see [`receive_fn`]).
#[derive(Clone)]
pub struct ReceiveFn<F> {
    receive: F,
}

/// Makes a closure `Fn(VerifiedDelivery) -> impl Future<Output = Answer>` a
/// [`ReceiveDelivery`].
pub fn receive_fn<F, Fut>(receive: F) -> ReceiveFn<F>
where
    F: Fn(VerifiedDelivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Answer> + Send + 'static,
{
    ReceiveFn { receive }
}

impl<F, Fut> ReceiveDelivery for ReceiveFn<F>
where
    F: Fn(VerifiedDelivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Answer> + Send + 'static,
{
    fn receive(&self, delivery: VerifiedDelivery) -> ReceiveFuture<'_> {
        Box::pin((self.receive)(delivery))
    }
}

impl<F> fmt::Debug for ReceiveFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiveFn").finish_non_exhaustive()
    }
}
