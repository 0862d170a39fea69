//! Reading a request body while verifying it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
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
    #[derive(Debug)]
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
    /// arrived within `timeout` (if any) of the first poll. The body is then
    /// dropped unread.
    ///
    /// The clock is tokio's: the future must be polled inside a tokio runtime with
    /// its time driver enabled.
    pub fn with_read_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.verification = self.verification.with_read_timeout(timeout.into());
        self
    }
}

impl<B> Future for VerifyBody<B>
where
    B: Body,
{
    type Output = Result<VerifiedDelivery, Rejection>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut body = this.body;
        this.verification.poll_read(cx, tokio::time::sleep, |cx| {
            body.as_mut().poll_frame(cx).map(|frame| {
                frame.map(|frame| {
                    // Trailers carry nothing a delivery needs: an empty chunk.
                    frame.map(|frame| match frame.into_data() {
                        Ok(mut data) => data.copy_to_bytes(data.remaining()),
                        Err(_) => Bytes::new(),
                    })
                })
            })
        })
    }
}
