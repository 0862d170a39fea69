//! Reading a request body while verifying it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Buf;
use http_body::Body;
use octohook::{PendingDelivery, VerifiedDelivery};
use pin_project_lite::pin_project;

use crate::Rejection;

pin_project! {
    /// Reads a body frame by frame, hashing each chunk as it arrives and stopping at
    /// the body limit, then finishes the verification.
    ///
    /// The body is buffered once: a single-chunk body is not copied at all.
    #[must_use = "futures do nothing unless polled"]
    pub struct VerifyBody<B> {
        #[pin]
        body: B,
        pending: Option<PendingDelivery>,
    }
}

impl<B> VerifyBody<B> {
    /// Verifies `body` for a delivery whose headers were accepted by
    /// [`Verifier::begin`](octohook::Verifier::begin).
    pub fn new(pending: PendingDelivery, body: B) -> Self {
        Self {
            body,
            pending: Some(pending),
        }
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
        loop {
            let pending = this
                .pending
                .as_mut()
                .expect("VerifyBody polled after completion");
            let Some(frame) = ready!(this.body.as_mut().poll_frame(cx)) else {
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
