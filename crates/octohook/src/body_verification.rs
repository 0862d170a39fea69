//! [`BodyVerification`]: the runtime-free half of reading a request body while
//! verifying it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use pin_project_lite::pin_project;

use crate::{PendingDelivery, Rejection, VerifiedDelivery};

pin_project! {
    /// A delivery whose body is being read: the [`PendingDelivery`] that hashes it
    /// and the deadline by which all of it must have arrived.
    ///
    /// An adapter's body future reads chunks the way its framework delivers them
    /// and reports each event here; this type decides the outcome, so every adapter
    /// rejects alike. `S` is the runtime's timer future (`tokio::time::Sleep`,
    /// `actix_web::rt::time::Sleep`): the clock starts at [`start`](Self::start),
    /// the first poll, and the timer is polled only when the body makes the reader
    /// wait.
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::future::Ready;
    /// use http::HeaderMap;
    /// use octohook::{BodyVerification, Verifier, WebhookSecret, sign};
    ///
    /// let secret = WebhookSecret::new("s3cret").unwrap();
    /// let body = br#"{"zen":"Keep it logically awesome."}"#;
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-github-event", "ping".parse().unwrap());
    /// headers.insert("x-github-delivery", "d1".parse().unwrap());
    /// headers.insert("content-type", "application/json".parse().unwrap());
    /// headers.insert("x-hub-signature-256", sign(&secret, body).parse().unwrap());
    ///
    /// let pending = Verifier::new(secret).begin(&headers).unwrap();
    /// // No timeout, so the timer type is never built.
    /// let mut read = pin!(BodyVerification::<Ready<()>>::new(pending));
    /// read.as_mut().start(|_| std::future::ready(()));
    /// read.as_mut().chunk(body[..5].to_vec().into()).unwrap();
    /// read.as_mut().chunk(body[5..].to_vec().into()).unwrap();
    /// assert_eq!(read.end().unwrap().event_kind().as_str(), "ping");
    /// ```
    #[must_use = "a body verification decides nothing until the body is fed to it"]
    pub struct BodyVerification<S> {
        pending: Option<PendingDelivery>,
        #[pin]
        deadline: Deadline<S>,
    }
}

pin_project! {
    /// The time by which the whole body must have arrived, if any.
    #[project = DeadlineProj]
    enum Deadline<S> {
        /// Not started yet (or no timeout at all).
        Unarmed { timeout: Option<Duration> },
        /// Started: `sleep` ends when the time is up.
        Armed {
            #[pin]
            sleep: S,
            timeout: Duration,
        },
    }
}

impl<S> BodyVerification<S> {
    /// Verification of the body of `pending`, without a read timeout.
    pub fn new(pending: PendingDelivery) -> Self {
        Self {
            pending: Some(pending),
            deadline: Deadline::Unarmed { timeout: None },
        }
    }

    /// Rejects the body with [`Rejection::BodyTimeout`] (408) unless all of it has
    /// arrived within `timeout` (if any) of [`start`](Self::start).
    pub fn with_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.deadline = Deadline::Unarmed { timeout };
        self
    }
}

impl<S: Future<Output = ()>> BodyVerification<S> {
    /// Starts the clock, once (later calls do nothing): call it on every poll of
    /// the body future, before reading. `sleep` builds the runtime's timer.
    pub fn start(self: Pin<&mut Self>, sleep: impl FnOnce(Duration) -> S) {
        let mut deadline = self.project().deadline;
        if let DeadlineProj::Unarmed {
            timeout: Some(timeout),
        } = deadline.as_mut().project()
        {
            let timeout = *timeout;
            deadline.set(Deadline::Armed {
                sleep: sleep(timeout),
                timeout,
            });
        }
    }

    /// A chunk of the body arrived: hashes it, or rejects the delivery (the body
    /// is over the limit).
    ///
    /// # Panics
    ///
    /// When the verification is already over.
    pub fn chunk(self: Pin<&mut Self>, chunk: Bytes) -> Result<(), Rejection> {
        let pending = self.project().pending;
        let result = pending
            .as_mut()
            .expect("BodyVerification used after completion")
            .update(chunk);
        result.map_err(|error| {
            pending.take();
            Rejection::from(error)
        })
    }

    /// The body ended: checks the signature and decodes the delivery.
    ///
    /// # Panics
    ///
    /// When the verification is already over.
    pub fn end(self: Pin<&mut Self>) -> Result<VerifiedDelivery, Rejection> {
        self.project()
            .pending
            .take()
            .expect("BodyVerification used after completion")
            .finish()
            .map_err(Rejection::from)
    }

    /// The body could not be read: [`Rejection::BodyRead`].
    pub fn read_failed(self: Pin<&mut Self>) -> Rejection {
        self.project().pending.take();
        Rejection::BodyRead
    }

    /// Reads the body to its end through `poll_chunk`, the framework's way of
    /// polling for the next chunk: starts the clock, feeds every chunk, and
    /// decides the outcome. An adapter's body future is this call and nothing
    /// else, so no adapter drives the read its own way.
    ///
    /// `poll_chunk` answers like a stream: a chunk, a read error (whatever it
    /// is, the delivery is [`Rejection::BodyRead`]), or the end of the body.
    ///
    /// ```
    /// use std::collections::VecDeque;
    /// use std::future::Ready;
    /// use std::pin::pin;
    /// use std::task::{Context, Poll, Waker};
    /// use bytes::Bytes;
    /// use http::HeaderMap;
    /// use octohook::{BodyVerification, Verifier, WebhookSecret, sign};
    ///
    /// let secret = WebhookSecret::new("s3cret").unwrap();
    /// let body = br#"{"zen":"Approachable is better than simple."}"#;
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-github-event", "ping".parse().unwrap());
    /// headers.insert("x-github-delivery", "d1".parse().unwrap());
    /// headers.insert("content-type", "application/json".parse().unwrap());
    /// headers.insert("x-hub-signature-256", sign(&secret, body).parse().unwrap());
    /// let pending = Verifier::new(secret).begin(&headers).unwrap();
    ///
    /// // A body in two chunks, both already there.
    /// let mut chunks: VecDeque<Result<Bytes, ()>> =
    ///     [Ok(Bytes::from_static(&body[..9])), Ok(Bytes::from_static(&body[9..]))].into();
    /// let mut read = pin!(BodyVerification::<Ready<()>>::new(pending));
    /// let mut cx = Context::from_waker(Waker::noop());
    /// let verified = read.as_mut().poll_read(&mut cx, |_| std::future::ready(()), |_| {
    ///     Poll::Ready(chunks.pop_front())
    /// });
    /// let Poll::Ready(Ok(delivery)) = verified else { panic!("verified at once") };
    /// assert_eq!(delivery.guid().to_string(), "d1");
    /// ```
    pub fn poll_read<E>(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        sleep: impl FnOnce(Duration) -> S,
        mut poll_chunk: impl FnMut(&mut Context<'_>) -> Poll<Option<Result<Bytes, E>>>,
    ) -> Poll<Result<VerifiedDelivery, Rejection>> {
        self.as_mut().start(sleep);
        loop {
            let outcome = match poll_chunk(cx) {
                Poll::Pending => return self.as_mut().poll_stalled(cx).map(Err),
                Poll::Ready(None) => self.as_mut().end(),
                Poll::Ready(Some(Err(_))) => Err(self.as_mut().read_failed()),
                Poll::Ready(Some(Ok(chunk))) => match self.as_mut().chunk(chunk) {
                    Ok(()) => continue,
                    Err(rejection) => Err(rejection),
                },
            };
            return Poll::Ready(outcome);
        }
    }

    /// The body made the reader wait: ready with [`Rejection::BodyTimeout`] once
    /// the read timeout has passed, never ready without one.
    pub fn poll_stalled(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Rejection> {
        let this = self.project();
        let timeout = match this.deadline.project() {
            DeadlineProj::Unarmed { .. } => return Poll::Pending,
            DeadlineProj::Armed { sleep, timeout } => {
                std::task::ready!(sleep.poll(cx));
                *timeout
            }
        };
        this.pending.take();
        Poll::Ready(Rejection::BodyTimeout { timeout })
    }
}

impl<S> fmt::Debug for BodyVerification<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyVerification")
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::future::{Pending, Ready};
    use std::pin::pin;
    use std::task::Waker;

    use http::{HeaderMap, HeaderValue};

    use super::*;
    use crate::{Error, Verifier, WebhookSecret, sign};

    fn pending(body: &[u8], limit: u64) -> PendingDelivery {
        let secret = WebhookSecret::new("s3cret").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-github-event", HeaderValue::from_static("ping"));
        headers.insert("x-github-delivery", HeaderValue::from_static("d1"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert(
            "x-hub-signature-256",
            HeaderValue::from_str(&sign(&secret, body)).unwrap(),
        );
        Verifier::new(secret)
            .with_body_limit(limit)
            .begin(&headers)
            .unwrap()
    }

    #[test]
    fn a_stall_without_timeout_waits() {
        let mut read = pin!(BodyVerification::<Ready<()>>::new(pending(b"{}", 10)));
        read.as_mut()
            .start(|_| unreachable!("no timeout, no timer"));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(read.as_mut().poll_stalled(&mut cx).is_pending());
        read.as_mut().chunk(Bytes::from_static(b"{}")).unwrap();
        assert!(read.end().is_ok());
    }

    #[test]
    fn a_stall_past_the_timeout_is_rejected_with_408() {
        let mut read = pin!(
            BodyVerification::new(pending(b"{}", 10))
                .with_read_timeout(Some(Duration::from_secs(3)))
        );
        let mut started = 0;
        for _ in 0..2 {
            read.as_mut().start(|timeout| {
                started += 1;
                assert_eq!(timeout, Duration::from_secs(3));
                std::future::ready(())
            });
        }
        assert_eq!(started, 1, "the clock starts once");
        let mut cx = Context::from_waker(Waker::noop());
        let Poll::Ready(rejection) = read.as_mut().poll_stalled(&mut cx) else {
            panic!("the timer has fired");
        };
        assert_eq!(rejection.status().as_u16(), 408);
    }

    #[test]
    fn a_running_timer_keeps_waiting() {
        let mut read = pin!(
            BodyVerification::<Pending<()>>::new(pending(b"{}", 10))
                .with_read_timeout(Some(Duration::from_secs(3)))
        );
        read.as_mut().start(|_| std::future::pending());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(read.as_mut().poll_stalled(&mut cx).is_pending());
    }

    #[test]
    fn oversized_and_unreadable_bodies_are_rejected() {
        let mut read = pin!(BodyVerification::<Ready<()>>::new(pending(b"{}", 3)));
        let rejection = read
            .as_mut()
            .chunk(Bytes::from_static(b"{ } "))
            .unwrap_err();
        assert!(matches!(
            rejection,
            Rejection::Invalid(Error::BodyTooLarge { limit: 3 })
        ));

        let mut read = pin!(BodyVerification::<Ready<()>>::new(pending(b"{}", 3)));
        assert!(matches!(read.as_mut().read_failed(), Rejection::BodyRead));

        let mut read = pin!(BodyVerification::<Ready<()>>::new(pending(b"{}", 3)));
        read.as_mut().chunk(Bytes::from_static(b"[]")).unwrap();
        assert!(matches!(
            read.end().unwrap_err(),
            Rejection::Invalid(Error::SignatureMismatch)
        ));
    }
}
