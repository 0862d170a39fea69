//! Reading a request body while verifying it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Buf;
use http_body::Body;
use octohook::{PendingDelivery, VerifiedDelivery};
use pin_project_lite::pin_project;
use tokio::time::Sleep;

use crate::Rejection;

pin_project! {
    /// Reads a body frame by frame, hashing each chunk as it arrives and stopping at
    /// the body limit, then finishes the verification.
    ///
    /// The body is buffered once: a single-chunk body is not copied at all. With
    /// [`with_read_timeout`](Self::with_read_timeout), a body that has not fully
    /// arrived in time is rejected with [`Rejection::BodyTimeout`].
    #[must_use = "futures do nothing unless polled"]
    pub struct VerifyBody<B> {
        #[pin]
        body: B,
        pending: Option<PendingDelivery>,
        #[pin]
        deadline: Deadline,
    }
}

impl<B> VerifyBody<B> {
    /// Verifies `body` for a delivery whose headers were accepted by
    /// [`Verifier::begin`](octohook::Verifier::begin).
    pub fn new(pending: PendingDelivery, body: B) -> Self {
        Self {
            body,
            pending: Some(pending),
            deadline: Deadline::Unarmed { timeout: None },
        }
    }

    /// Rejects the body with [`Rejection::BodyTimeout`] (408) unless all of it has
    /// arrived within `timeout` of the first poll. The body is then dropped unread.
    ///
    /// The clock is tokio's: the future must be polled inside a tokio runtime with
    /// its time driver enabled.
    pub fn with_read_timeout(self, timeout: Duration) -> Self {
        self.with_deadline(Some(timeout))
    }

    pub(crate) fn with_deadline(mut self, timeout: Option<Duration>) -> Self {
        self.deadline = Deadline::Unarmed { timeout };
        self
    }
}

impl<B> std::fmt::Debug for VerifyBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyBody")
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl<B> Future for VerifyBody<B>
where
    B: Body,
{
    type Output = Result<VerifiedDelivery, Rejection>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // The clock starts when reading starts; the timer is only registered with
        // the runtime if the body ever makes us wait.
        this.deadline.as_mut().arm();
        loop {
            let pending = this
                .pending
                .as_mut()
                .expect("VerifyBody polled after completion");
            let frame = match this.body.as_mut().poll_frame(cx) {
                Poll::Ready(frame) => frame,
                Poll::Pending => {
                    let timeout = ready!(this.deadline.as_mut().poll_expired(cx));
                    this.pending.take();
                    return Poll::Ready(Err(Rejection::BodyTimeout { timeout }));
                }
            };
            let Some(frame) = frame else {
                let pending = this.pending.take().expect("checked above");
                return Poll::Ready(pending.finish().map_err(Rejection::from));
            };
            let Ok(frame) = frame else {
                this.pending.take();
                return Poll::Ready(Err(Rejection::BodyRead));
            };
            // Trailers carry nothing a delivery needs.
            if let Ok(mut data) = frame.into_data() {
                let chunk = data.copy_to_bytes(data.remaining());
                if let Err(error) = pending.update(chunk) {
                    this.pending.take();
                    return Poll::Ready(Err(error.into()));
                }
            }
        }
    }
}

pin_project! {
    /// The time by which the whole body must have arrived, if any.
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
                sleep: tokio::time::sleep(timeout),
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
