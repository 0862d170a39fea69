//! Reading a request payload while verifying it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::rt::time::Sleep;
use bytes::Bytes;
use futures_util::Stream;
use octohook::{BodyVerification, PendingDelivery, VerifiedDelivery};
use pin_project_lite::pin_project;

use crate::Rejection;

pin_project! {
    /// Reads a payload chunk by chunk into a [`BodyVerification`], which hashes each
    /// chunk as it arrives, stops at the body limit and finishes the verification.
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
        #[pin]
        verification: BodyVerification<Sleep>,
    }
}

impl<P> VerifyPayload<P> {
    /// Verifies `payload` for a delivery whose headers were accepted by
    /// [`Verifier::begin`](octohook::Verifier::begin).
    pub fn new(pending: PendingDelivery, payload: P) -> Self {
        Self {
            payload,
            verification: BodyVerification::new(pending),
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
    /// has arrived within `timeout` (if any) of the first poll; the rest is not
    /// read.
    pub fn with_read_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.verification = self.verification.with_read_timeout(timeout.into());
        self
    }
}

impl<P> std::fmt::Debug for VerifyPayload<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyPayload")
            .field("verification", &self.verification)
            .finish_non_exhaustive()
    }
}

impl<P> Future for VerifyPayload<P>
where
    P: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Output = Result<VerifiedDelivery, Rejection>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let payload = this.payload;
        this.verification
            .poll_read(cx, actix_web::rt::time::sleep, |cx| {
                Pin::new(&mut *payload).poll_next(cx)
            })
    }
}
