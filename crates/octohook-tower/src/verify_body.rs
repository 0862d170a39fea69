//! Reading a request body while verifying it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Buf;
use http_body::Body;
use octohook::{BodyVerification, PendingDelivery, VerifiedDelivery};
use pin_project_lite::pin_project;
use tokio::time::Sleep;

use crate::Rejection;

pin_project! {
    /// Reads a body frame by frame into a [`BodyVerification`], which hashes each
    /// chunk as it arrives, stops at the body limit and finishes the verification.
    ///
    /// The body is buffered once: a single-chunk body is not copied at all. With
    /// [`with_read_timeout`](Self::with_read_timeout), a body that has not fully
    /// arrived in time is rejected with [`Rejection::BodyTimeout`].
    #[must_use = "futures do nothing unless polled"]
    pub struct VerifyBody<B> {
        #[pin]
        body: B,
        #[pin]
        verification: BodyVerification<Sleep>,
    }
}

impl<B> VerifyBody<B> {
    /// Verifies `body` for a delivery whose headers were accepted by
    /// [`Verifier::begin`](octohook::Verifier::begin).
    pub fn new(pending: PendingDelivery, body: B) -> Self {
        Self {
            body,
            verification: BodyVerification::new(pending),
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
        self.verification = self.verification.with_read_timeout(timeout);
        self
    }
}

impl<B> std::fmt::Debug for VerifyBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyBody")
            .field("verification", &self.verification)
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
        this.verification.as_mut().start(tokio::time::sleep);
        loop {
            let frame = match this.body.as_mut().poll_frame(cx) {
                Poll::Ready(frame) => frame,
                Poll::Pending => return this.verification.as_mut().poll_stalled(cx).map(Err),
            };
            let Some(frame) = frame else {
                return Poll::Ready(this.verification.as_mut().end());
            };
            let Ok(frame) = frame else {
                return Poll::Ready(Err(this.verification.as_mut().read_failed()));
            };
            // Trailers carry nothing a delivery needs.
            if let Ok(mut data) = frame.into_data() {
                let chunk = data.copy_to_bytes(data.remaining());
                if let Err(rejection) = this.verification.as_mut().chunk(chunk) {
                    return Poll::Ready(Err(rejection));
                }
            }
        }
    }
}
