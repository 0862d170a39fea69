//! [`VerifyWebhook`]: middleware that verifies deliveries before any handler runs.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::Method;
use actix_web::{Error, HttpMessage};
use octohook::{ClientBytes, Verifier};
use pin_project_lite::pin_project;

use crate::{Rejection, VerifyPayload, WebhookConfig};

/// Middleware factory that verifies GitHub webhook deliveries before the handlers
/// of the app, scope or resource it wraps see them.
///
/// For each `POST` request it checks the delivery headers and the announced
/// `Content-Length` (413 before reading anything when it is over the limit), reads
/// the payload while feeding the HMAC and enforcing the limit (chunked bodies too),
/// and then calls the handler with the
/// [`VerifiedDelivery`](octohook::VerifiedDelivery) in the request extensions
/// (read it with [`Webhook`](crate::extract::Webhook) or
/// [`WebhookPayload`](crate::extract::WebhookPayload)) and the verified bytes as
/// the payload. A rejected request never reaches a handler: it gets a short
/// `text/plain` response with 400, 401, 413 or 415 (408 when the body is slower
/// than the configuration's [read timeout](WebhookConfig::read_timeout)), or
/// whatever the configuration's [error handler](WebhookConfig::error_handler) makes
/// of it. Other methods pass through unverified.
///
/// ```
/// use actix_web::{App, test, web};
/// use octohook::{Verifier, WebhookSecret, sign};
/// use octohook_actix::{VerifyWebhook, extract::Webhook};
///
/// async fn handle(Webhook(delivery): Webhook) -> String {
///     format!("{} {}", delivery.event_kind(), delivery.guid())
/// }
///
/// # actix_web::rt::System::new().block_on(async {
/// let secret = WebhookSecret::new("s3cret").unwrap();
/// let app = test::init_service(
///     App::new().service(
///         web::scope("/github")
///             .wrap(VerifyWebhook::new(Verifier::new(secret.clone())))
///             .route("/hook", web::post().to(handle)),
///     ),
/// )
/// .await;
///
/// let body = br#"{"zen":"Keep it logically awesome."}"#;
/// let delivery = || {
///     test::TestRequest::post()
///         .uri("/github/hook")
///         .insert_header(("x-github-event", "ping"))
///         .insert_header(("x-github-delivery", "d1"))
///         .insert_header(("content-type", "application/json"))
/// };
/// let signed = delivery().insert_header(("x-hub-signature-256", sign(&secret, body)));
/// let response = test::call_service(&app, signed.set_payload(&body[..]).to_request()).await;
/// assert_eq!(response.status(), 200);
/// assert_eq!(test::read_body(response).await, "ping d1");
///
/// let forged = delivery().insert_header(("x-hub-signature-256", format!("sha256={}", "0".repeat(64))));
/// let response = test::call_service(&app, forged.set_payload(&body[..]).to_request()).await;
/// assert_eq!(response.status(), 401);
/// assert_eq!(test::read_body(response).await, "signature does not match the body\n");
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct VerifyWebhook {
    config: Rc<WebhookConfig>,
}

impl VerifyWebhook {
    /// Middleware verifying with `config`: a [`Verifier`], or a [`WebhookConfig`]
    /// (to set an error handler too). A configuration without a secret rejects every
    /// `POST` with 500.
    pub fn new(config: impl Into<WebhookConfig>) -> Self {
        Self {
            config: Rc::new(config.into()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }
}

impl From<Verifier> for VerifyWebhook {
    fn from(verifier: Verifier) -> Self {
        Self::new(verifier)
    }
}

impl<S, B> Transform<S, ServiceRequest> for VerifyWebhook
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = VerifyWebhookMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        if self.config.verifier().is_none() {
            tracing::error!(
                "VerifyWebhook has no secret: every webhook delivery will be rejected with 500"
            );
        }
        ready(Ok(VerifyWebhookMiddleware {
            service: Rc::new(service),
            config: Rc::clone(&self.config),
        }))
    }
}

/// The service [`VerifyWebhook`] wraps around the inner one.
#[derive(Debug)]
pub struct VerifyWebhookMiddleware<S> {
    service: Rc<S>,
    config: Rc<WebhookConfig>,
}

impl<S, B> Service<ServiceRequest> for VerifyWebhookMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = VerifyWebhookFuture<S, B>;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        if request.method() != Method::POST {
            return VerifyWebhookFuture::calling(self.service.call(request));
        }
        let pending = match self.config.verifier() {
            Some(verifier) => {
                crate::headers::begin(verifier, request.headers()).map_err(Rejection::from)
            }
            None => Err(Rejection::NotConfigured),
        };
        match pending {
            Ok(pending) => VerifyWebhookFuture::verifying(
                delivery_span(pending.headers()),
                VerifyPayload::new(pending, request.take_payload())
                    .with_deadline(self.config.body_read_timeout()),
                request,
                Rc::clone(&self.service),
                Rc::clone(&self.config),
            ),
            // The payload is left unread: actix-web answers, then closes the
            // connection instead of reading the rest.
            Err(rejection) => {
                VerifyWebhookFuture::rejected(reject(rejection, request, &self.config))
            }
        }
    }
}

/// The span of one delivery, as `octohook-tower` opens it: the event is not
/// signed yet, so cut to a few dozen bytes.
fn delivery_span(headers: &octohook::DeliveryHeaders) -> tracing::Span {
    tracing::info_span!(
        "delivery",
        delivery = %headers.guid(),
        event = %ClientBytes::new(headers.event().as_str().as_bytes()),
        hook_id = headers.hook_id().map(|id| id.get()),
    )
}

fn reject<B>(
    rejection: Rejection,
    request: ServiceRequest,
    config: &WebhookConfig,
) -> ServiceResponse<EitherBody<B>> {
    let error = crate::rejection::into_error(rejection, request.request(), config);
    request.error_response(error).map_into_right_body()
}

pin_project! {
    /// The response future of [`VerifyWebhookMiddleware`].
    #[must_use = "futures do nothing unless polled"]
    pub struct VerifyWebhookFuture<S, B>
    where
        S: Service<ServiceRequest>,
    {
        #[pin]
        state: State<S, B>,
        // The delivery's span (GUID, event, hook id), entered while polling, so
        // that the handler's logs carry it.
        span: tracing::Span,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<ServiceRequest>,
    {
        Verifying {
            #[pin]
            verify: VerifyPayload,
            request: Option<ServiceRequest>,
            service: Rc<S>,
            config: Rc<WebhookConfig>,
        },
        Calling {
            #[pin]
            future: S::Future,
        },
        Rejected {
            response: Option<ServiceResponse<EitherBody<B>>>,
        },
    }
}

impl<S, B> VerifyWebhookFuture<S, B>
where
    S: Service<ServiceRequest>,
{
    fn verifying(
        span: tracing::Span,
        verify: VerifyPayload,
        request: ServiceRequest,
        service: Rc<S>,
        config: Rc<WebhookConfig>,
    ) -> Self {
        Self {
            span,
            state: State::Verifying {
                verify,
                request: Some(request),
                service,
                config,
            },
        }
    }

    fn calling(future: S::Future) -> Self {
        Self {
            state: State::Calling { future },
            span: tracing::Span::none(),
        }
    }

    fn rejected(response: ServiceResponse<EitherBody<B>>) -> Self {
        Self {
            state: State::Rejected {
                response: Some(response),
            },
            span: tracing::Span::none(),
        }
    }
}

impl<S, B> std::fmt::Debug for VerifyWebhookFuture<S, B>
where
    S: Service<ServiceRequest>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyWebhookFuture")
            .finish_non_exhaustive()
    }
}

impl<S, B> Future for VerifyWebhookFuture<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        loop {
            match this.state.as_mut().project() {
                StateProj::Verifying {
                    verify,
                    request,
                    service,
                    config,
                } => {
                    let verified = std::task::ready!(verify.poll(cx));
                    let mut request = request.take().expect("polled after completion");
                    match verified {
                        Ok(delivery) => {
                            request.set_payload(Payload::from(delivery.raw_body().clone()));
                            request.extensions_mut().insert(delivery);
                            let future = service.call(request);
                            this.state.set(State::Calling { future });
                        }
                        Err(rejection) => {
                            let response = reject(rejection, request, config);
                            return Poll::Ready(Ok(response));
                        }
                    }
                }
                StateProj::Calling { future } => {
                    let response = std::task::ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map_into_left_body()));
                }
                StateProj::Rejected { response } => {
                    let response = response.take().expect("polled after completion");
                    return Poll::Ready(Ok(response));
                }
            }
        }
    }
}
