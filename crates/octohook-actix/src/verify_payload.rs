//! Reading a request payload while verifying it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::rt::time::Sleep;
use bytes::Bytes;
use futures_util::Stream;
use octohook::{PendingDelivery, VerifiedDelivery};
use pin_project_lite::pin_project;

use crate::Rejection;

pin_project! {
    /// Reads a payload chunk by chunk, hashing each chunk as it arrives and stopping
    /// at the body limit, then finishes the verification.
    ///
    /// The body is buffered once: a single-chunk body is not copied at all. Both the
    /// [middleware](crate::VerifyWebhook) and the [extractors](crate::extract) verify
    /// with it; use it directly to verify in a handler or middleware of your own. With
    /// [`with_read_timeout`](Self::with_read_timeout), a payload that has not fully
    /// arrived in time is rejected with [`Rejection::BodyTimeout`].
    ///
    /// ```
    /// use actix_web::test;
    /// use octohook::{Verifier, WebhookSecret, sign};
    /// use octohook_actix::VerifyPayload;
    ///
    /// # actix_web::rt::System::new().block_on(async {
    /// let secret = WebhookSecret::new("s3cret").unwrap();
    /// let body = br#"{"action":"opened"}"#;
    /// let (request, payload) = test::TestRequest::post()
    ///     .insert_header(("x-github-event", "issues"))
    ///     .insert_header(("x-github-delivery", "d1"))
    ///     .insert_header(("content-type", "application/json"))
    ///     .insert_header(("x-hub-signature-256", sign(&secret, body)))
    ///     .set_payload(&body[..])
    ///     .to_http_parts();
    ///
    /// let verifier = Verifier::new(secret);
    /// let delivery = VerifyPayload::begin(&verifier, request.headers(), payload)
    ///     .unwrap()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(delivery.action(), Some("opened"));
    /// # });
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct VerifyPayload<P = Payload> {
        payload: P,
        pending: Option<PendingDelivery>,
        #[pin]
        deadline: Deadline,
    }
}

impl<P> VerifyPayload<P> {
    /// Verifies `payload` for a delivery whose headers were accepted by
    /// [`Verifier::begin`](octohook::Verifier::begin).
    pub fn new(pending: PendingDelivery, payload: P) -> Self {
        Self {
            payload,
            pending: Some(pending),
            deadline: Deadline::Unarmed { timeout: None },
        }
    }

    /// Checks a request's delivery headers (and its announced `Content-Length`)
    /// with `verifier`, before any of the payload is read, and returns the future
    /// that reads and verifies the payload.
    pub fn begin(
        verifier: &octohook::Verifier,
        headers: &actix_web::http::header::HeaderMap,
        payload: P,
    ) -> Result<Self, Rejection> {
        let pending = crate::headers::begin(verifier, headers)?;
        Ok(Self::new(pending, payload))
    }

    /// Rejects the payload with [`Rejection::BodyTimeout`] (408) unless all of it
    /// has arrived within `timeout` of the first poll; the rest is not read.
    pub fn with_read_timeout(self, timeout: Duration) -> Self {
        self.with_deadline(Some(timeout))
    }

    pub(crate) fn with_deadline(mut self, timeout: Option<Duration>) -> Self {
        self.deadline = Deadline::Unarmed { timeout };
        self
    }
}

impl<P> std::fmt::Debug for VerifyPayload<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyPayload")
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl<P> Future for VerifyPayload<P>
where
    P: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Output = Result<VerifiedDelivery, Rejection>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // The clock starts when reading starts; the timer is only registered with
        // the runtime if the payload ever makes us wait.
        this.deadline.as_mut().arm();
        loop {
            let pending = this
                .pending
                .as_mut()
                .expect("VerifyPayload polled after completion");
            let chunk = match Pin::new(&mut *this.payload).poll_next(cx) {
                Poll::Ready(chunk) => chunk,
                Poll::Pending => {
                    let timeout = ready!(this.deadline.as_mut().poll_expired(cx));
                    this.pending.take();
                    return Poll::Ready(Err(Rejection::BodyTimeout { timeout }));
                }
            };
            let Some(chunk) = chunk else {
                let pending = this.pending.take().expect("checked above");
                return Poll::Ready(pending.finish().map_err(Rejection::from));
            };
            let Ok(chunk) = chunk else {
                this.pending.take();
                return Poll::Ready(Err(Rejection::BodyRead));
            };
            if let Err(error) = pending.update(chunk) {
                this.pending.take();
                return Poll::Ready(Err(error.into()));
            }
        }
    }
}

pin_project! {
    /// The time by which the whole payload must have arrived, if any.
    #[project = DeadlineProj]
    enum Deadline {
        /// Not started yet (or no timeout at all).
        Unarmed { timeout: Option<Duration> },
        /// Started: `sleep` ends when the time is up.
        Armed {
            #[pin]
            sleep: Sleep,
            timeout: Duration,
        },
    }
}

impl Deadline {
    /// Starts the clock, once.
    fn arm(mut self: Pin<&mut Self>) {
        if let DeadlineProj::Unarmed {
            timeout: Some(timeout),
        } = self.as_mut().project()
        {
            let timeout = *timeout;
            self.set(Self::Armed {
                sleep: actix_web::rt::time::sleep(timeout),
                timeout,
            });
        }
    }

    /// Ready with the timeout once it has passed; never ready without one.
    fn poll_expired(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Duration> {
        match self.project() {
            DeadlineProj::Unarmed { .. } => Poll::Pending,
            DeadlineProj::Armed { sleep, timeout } => sleep.poll(cx).map(|()| *timeout),
        }
    }
}
