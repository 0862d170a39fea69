//! [`VerifyWebhook`]: the service the layer wraps around the inner one.

use std::task::{Context, Poll};
use std::time::Duration;

use http::{Method, Request, Response};
use http_body::Body;
use octohook::{RejectionLog, Verifier};
use tower_service::Service;

use crate::future::ResponseFuture;
use crate::{RequestBody, ResponseBody, VerifyWebhookLayer};

/// Middleware that verifies GitHub webhook deliveries; see [`VerifyWebhookLayer`].
#[derive(Clone, Debug)]
pub struct VerifyWebhook<S> {
    inner: S,
    verifier: Verifier,
    read_timeout: Option<Duration>,
    rejection_log: RejectionLog,
}

impl<S> VerifyWebhook<S> {
    /// Wraps `inner`, verifying with `verifier`, without a read timeout, logging
    /// rejections to the process's shared [`RejectionLog`].
    pub fn new(inner: S, verifier: Verifier) -> Self {
        Self {
            inner,
            verifier,
            read_timeout: None,
            rejection_log: RejectionLog::default(),
        }
    }

    /// Answers 408 when the whole body has not arrived within `timeout`; see
    /// [`VerifyWebhookLayer::with_read_timeout`].
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// The read timeout, if one is set.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.read_timeout
    }

    /// Logs rejections to `log`; see [`VerifyWebhookLayer::with_rejection_log`].
    pub fn with_rejection_log(mut self, log: RejectionLog) -> Self {
        self.rejection_log = log;
        self
    }

    /// Where rejections are logged.
    pub fn rejection_log(&self) -> &RejectionLog {
        &self.rejection_log
    }

    /// A [`VerifyWebhookLayer`] with `verifier`.
    pub fn layer(verifier: Verifier) -> VerifyWebhookLayer {
        VerifyWebhookLayer::new(verifier)
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for VerifyWebhook<S>
where
    S: Service<Request<RequestBody<ReqBody>>, Response = Response<ResBody>> + Clone,
    ReqBody: Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if request.method() != Method::POST {
            let request = request.map(|body| RequestBody::Unverified { body });
            return ResponseFuture::calling(self.inner.call(request));
        }
        let (parts, body) = request.into_parts();
        match self.verifier.begin(&parts.headers) {
            Ok(pending) => {
                // The instance that was driven to readiness goes into the future;
                // a fresh clone stays behind for the next request.
                let fresh = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, fresh);
                ResponseFuture::verifying(
                    ready,
                    parts,
                    pending,
                    body,
                    self.read_timeout,
                    self.rejection_log.clone(),
                )
            }
            Err(error) => {
                ResponseFuture::rejected(error.into(), &parts.headers, &self.rejection_log)
            }
        }
    }
}
