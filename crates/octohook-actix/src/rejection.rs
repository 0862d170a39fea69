//! Rejections as actix-web responses: the core's [`Rejection`], translated.

use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
pub use octohook::Rejection;

use crate::WebhookConfig;

/// `rejection` as the `text/plain; charset=utf-8` response the middleware and
/// the extractors answer with by default: its [status](Rejection::status) and
/// [body](Rejection::body), the same as `octohook-tower`'s.
///
/// ```
/// use octohook_actix::{Rejection, rejection_response};
///
/// let response = rejection_response(&Rejection::from(octohook::Error::SignatureMismatch));
/// assert_eq!(response.status().as_u16(), 401);
/// assert_eq!(rejection_response(&Rejection::NotConfigured).status().as_u16(), 500);
/// ```
pub fn rejection_response(rejection: &Rejection) -> HttpResponse {
    // The core speaks `http` 1.x and actix-web 4 `http` 0.2: same codes.
    let status = StatusCode::from_u16(rejection.status().as_u16())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(Rejection::CONTENT_TYPE),
        ))
        .body(rejection.body())
}

/// `rejection` as an error whose response is [`rejection_response`].
pub(crate) fn into_default_error(rejection: Rejection) -> actix_web::Error {
    let response = rejection_response(&rejection);
    InternalError::from_response(rejection, response).into()
}

/// Logs the rejection (status, reason and the `X-GitHub-Delivery` GUID, if any)
/// and turns it into the error the handler of `config` makes of it (by default,
/// [`rejection_response`]).
pub(crate) fn into_error(
    rejection: Rejection,
    request: &HttpRequest,
    config: &WebhookConfig,
) -> actix_web::Error {
    log(&rejection, request.headers());
    config.handle(rejection, request)
}

fn log(rejection: &Rejection, headers: &HeaderMap) {
    let guid = headers
        .get(crate::headers::X_GITHUB_DELIVERY)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    tracing::warn!(
        status = rejection.status().as_u16(),
        reason = %rejection,
        delivery = guid,
        "rejected webhook delivery"
    );
}
