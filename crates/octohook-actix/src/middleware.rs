//! [`VerifyWebhook`]: middleware that verifies deliveries before any handler runs.

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::Method;
use actix_web::{Error, HttpMessage};
use futures_util::future::LocalBoxFuture;
use octohook::Verifier;
use tracing::Instrument;

use crate::{Rejection, VerifyConfig, VerifyPayload};

/// Middleware factory that verifies GitHub webhook deliveries before the handlers
/// of the app, scope or resource it wraps see them.
///
/// For each `POST` request it checks the delivery headers and the announced
/// `Content-Length` (413 before reading anything when it is over the limit), reads
/// the payload while feeding the HMAC and enforcing the limit (chunked bodies too),
/// and then calls the handler with the
/// [`VerifiedDelivery`](octohook::VerifiedDelivery) in the request extensions
/// (read it with [`Verified`](crate::extract::Verified) or
/// [`WebhookPayload`](crate::extract::WebhookPayload)) and the verified bytes as
/// the payload. A rejected request never reaches a handler: it gets a short
/// `text/plain` response with 400, 401, 413 or 415 (408 when the body is slower
/// than the configuration's [read timeout](VerifyConfig::with_read_timeout)), or
/// whatever the configuration's [error handler](VerifyConfig::with_error_handler) makes
/// of it. Other methods pass through unverified.
///
/// ```
/// use actix_web::{App, test, web};
/// use octohook::{Verifier, WebhookSecret, sign};
/// use octohook_actix::{VerifyWebhook, extract::Verified};
///
/// async fn handle(Verified(delivery): Verified) -> String {
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
    config: Rc<VerifyConfig>,
}

impl VerifyWebhook {
    /// Middleware verifying with `config`: a [`Verifier`], or a [`VerifyConfig`]
    /// (to set a read timeout or an error handler too). A configuration without a
    /// verifier rejects every `POST` with 500.
    pub fn new(config: impl Into<VerifyConfig>) -> Self {
        Self {
            config: Rc::new(config.into()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &VerifyConfig {
        &self.config
    }
}

impl From<Verifier> for VerifyWebhook {
    fn from(verifier: Verifier) -> Self {
        Self::new(verifier)
    }
}

// The transform makes whatever `VerifyWebhookMiddleware` serves: its bounds are
// written once, on the service.
impl<S, Response> Transform<S, ServiceRequest> for VerifyWebhook
where
    VerifyWebhookMiddleware<S>: Service<ServiceRequest, Response = Response, Error = Error>,
{
    type Response = Response;
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
    config: Rc<VerifyConfig>,
}

/// The response future of [`VerifyWebhookMiddleware`]: the payload read and
/// verified, then the inner service called (or the rejection answered), all
/// inside the delivery's `tracing` span so that the handler's logs carry it.
pub type VerifyWebhookFuture<B> =
    LocalBoxFuture<'static, Result<ServiceResponse<EitherBody<B>>, Error>>;

impl<S, B> Service<ServiceRequest> for VerifyWebhookMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = VerifyWebhookFuture<B>;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        if request.method() != Method::POST {
            let response = self.service.call(request);
            return Box::pin(async move { Ok(response.await?.map_into_left_body()) });
        }
        let config = Rc::clone(&self.config);
        let pending = match config.verifier() {
            Some(verifier) => {
                crate::headers::begin(verifier, request.headers()).map_err(Rejection::from)
            }
            None => Err(Rejection::NotConfigured),
        };
        let pending = match pending {
            Ok(pending) => pending,
            // The payload is left unread: actix-web answers, then closes the
            // connection instead of reading the rest.
            Err(rejection) => {
                return Box::pin(std::future::ready(Ok(reject(rejection, request, &config))));
            }
        };
        let span = pending.span();
        let verify = VerifyPayload::new(pending, request.take_payload())
            .with_read_timeout(config.read_timeout());
        let service = Rc::clone(&self.service);
        let respond = async move {
            match verify.await {
                Ok(delivery) => {
                    request.set_payload(Payload::from(delivery.raw_body().clone()));
                    request.extensions_mut().insert(delivery);
                    Ok(service.call(request).await?.map_into_left_body())
                }
                Err(rejection) => Ok(reject(rejection, request, &config)),
            }
        };
        Box::pin(respond.instrument(span))
    }
}

fn reject<B>(
    rejection: Rejection,
    request: ServiceRequest,
    config: &VerifyConfig,
) -> ServiceResponse<EitherBody<B>> {
    let error = config.reject(rejection, request.request());
    request.error_response(error).map_into_right_body()
}
