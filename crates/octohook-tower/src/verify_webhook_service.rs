//! [`VerifyWebhookService`]: the service the layer wraps around the inner one.

use std::task::{Context, Poll};

use http::{Method, Request, Response};
use http_body::Body;
use tower_service::Service;

use crate::future::ResponseFuture;
use crate::{RequestBody, ResponseBody, VerifyWebhookLayer};

/// Middleware that verifies GitHub webhook deliveries; built by
/// [`VerifyWebhookLayer`], whose settings it verifies with.
#[derive(Clone, Debug)]
pub struct VerifyWebhookService<S> {
    inner: S,
    // The layer is the settings (verifier, read timeout, rejection log): one
    // place sets them, the service only reads them.
    settings: VerifyWebhookLayer,
}

impl<S> VerifyWebhookService<S> {
    /// Wraps `inner`, verifying as `settings` says.
    pub fn new(inner: S, settings: VerifyWebhookLayer) -> Self {
        Self { inner, settings }
    }

    /// The settings it verifies with.
    pub fn settings(&self) -> &VerifyWebhookLayer {
        &self.settings
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for VerifyWebhookService<S>
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
            let request = request.map(|body| RequestBody::Passthrough { body });
            return ResponseFuture::calling(self.inner.call(request));
        }
        let (parts, body) = request.into_parts();
        let rejection_log = self.settings.rejection_log().clone();
        match self.settings.verifier().begin(&parts.headers) {
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
                    self.settings.read_timeout(),
                    rejection_log,
                )
            }
            Err(error) => ResponseFuture::rejected(error.into(), &parts.headers, &rejection_log),
        }
    }
}
