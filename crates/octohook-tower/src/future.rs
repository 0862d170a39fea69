//! [`ResponseFuture`]: reads and verifies the body, then calls the inner service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::request::Parts;
use http::{HeaderMap, Request, Response};
use http_body::Body;
use http_body_util::Full;
use octohook::{Answer, PendingDelivery, RejectionLog};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::verify_body::VerifyBody;
use crate::{Rejection, RequestBody, ResponseBody};

pin_project! {
    /// The response future of [`VerifyWebhookService`](crate::VerifyWebhookService).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<RequestBody<B>>>,
    {
        #[pin]
        state: State<S, B>,
        // The delivery's span (GUID, event, hook id), entered while polling, so
        // that the inner service's logs carry it.
        span: tracing::Span,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<RequestBody<B>>>,
    {
        Verifying {
            #[pin]
            verify: VerifyBody<B>,
            parts: Option<Parts>,
            service: Option<S>,
            rejection_log: RejectionLog,
        },
        Calling {
            #[pin]
            future: S::Future,
        },
        Rejected {
            rejection: Option<Rejection>,
        },
    }
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<RequestBody<B>>>,
{
    pub(crate) fn verifying(
        service: S,
        parts: Parts,
        pending: PendingDelivery,
        body: B,
        read_timeout: Option<Duration>,
        rejection_log: RejectionLog,
    ) -> Self {
        let span = pending.span();
        Self {
            state: State::Verifying {
                verify: VerifyBody::new(pending, body).with_read_timeout(read_timeout),
                parts: Some(parts),
                service: Some(service),
                rejection_log,
            },
            span,
        }
    }

    pub(crate) fn calling(future: S::Future) -> Self {
        Self {
            state: State::Calling { future },
            span: tracing::Span::none(),
        }
    }

    pub(crate) fn rejected(
        rejection: Rejection,
        headers: &HeaderMap,
        rejection_log: &RejectionLog,
    ) -> Self {
        crate::rejection::log(rejection_log, &rejection, headers);
        Self {
            state: State::Rejected {
                rejection: Some(rejection),
            },
            span: tracing::Span::none(),
        }
    }
}

impl<S, B> std::fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<RequestBody<B>>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResBody>>,
    B: Body,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        loop {
            match this.state.as_mut().project() {
                StateProj::Verifying {
                    verify,
                    parts,
                    service,
                    rejection_log,
                } => {
                    let verified = ready!(verify.poll(cx));
                    let mut parts = parts.take().expect("polled after completion");
                    let mut service = service.take().expect("polled after completion");
                    match verified {
                        Ok(delivery) => {
                            let body = Full::new(delivery.raw_body().clone());
                            parts.extensions.insert(delivery);
                            let request =
                                Request::from_parts(parts, RequestBody::Buffered { body });
                            let future = service.call(request);
                            this.state.set(State::Calling { future });
                        }
                        Err(rejection) => {
                            crate::rejection::log(rejection_log, &rejection, &parts.headers);
                            this.state.set(State::Rejected {
                                rejection: Some(rejection),
                            });
                        }
                    }
                }
                StateProj::Calling { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(
                        Ok(response.map(|body| ResponseBody::Passthrough { body })),
                    );
                }
                StateProj::Rejected { rejection } => {
                    let rejection = rejection.take().expect("polled after completion");
                    let response = Answer::from(&rejection).into_response();
                    return Poll::Ready(Ok(response.map(|body| ResponseBody::Buffered { body })));
                }
            }
        }
    }
}
