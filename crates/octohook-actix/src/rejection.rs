//! Rejections as actix-web responses: the core's [`Rejection`], translated.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
pub use octohook::Rejection;
use octohook::RejectionLog;

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
    let mut response = HttpResponse::build(status(rejection));
    response.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_static(Rejection::CONTENT_TYPE),
    ));
    if let Some(seconds) = rejection.retry_after_secs() {
        response.insert_header((header::RETRY_AFTER, seconds));
    }
    response.body(rejection.body())
}

/// The rejection's status, in actix-web's `http` 0.2 (the core speaks `http` 1.x:
/// same codes).
fn status(rejection: &Rejection) -> StatusCode {
    StatusCode::from_u16(rejection.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The error the default handler makes of a rejection: the core's [`Rejection`],
/// answered by actix-web with [`rejection_response`]. Find it in an
/// `actix_web::Error` with `error.as_error::<WebhookRejection>()`.
///
/// ```
/// use octohook_actix::{Rejection, WebhookRejection};
///
/// let error = actix_web::Error::from(WebhookRejection(Rejection::BodyRead));
/// assert_eq!(error.as_response_error().status_code().as_u16(), 400);
/// assert!(matches!(
///     error.as_error::<WebhookRejection>(),
///     Some(WebhookRejection(Rejection::BodyRead))
/// ));
/// ```
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct WebhookRejection(pub Rejection);

impl From<Rejection> for WebhookRejection {
    fn from(rejection: Rejection) -> Self {
        Self(rejection)
    }
}

impl ResponseError for WebhookRejection {
    fn status_code(&self) -> StatusCode {
        status(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        rejection_response(&self.0)
    }
}

/// `rejection` as an error whose response is [`rejection_response`].
pub(crate) fn into_default_error(rejection: Rejection) -> actix_web::Error {
    WebhookRejection(rejection).into()
}

/// Logs the rejection (status, reason and the `X-GitHub-Delivery` GUID when
/// valid, through the configuration's [`RejectionLog`]) and turns it into the
/// error the handler of `config` makes of it (by default,
/// [`rejection_response`]).
pub(crate) fn into_error(
    rejection: Rejection,
    request: &HttpRequest,
    config: &WebhookConfig,
) -> actix_web::Error {
    config.log_rejection(&rejection, request);
    config.handle(rejection, request)
}

/// Logs `rejection` to `log` and counts it in the metrics.
pub(crate) fn log(log: &RejectionLog, rejection: &Rejection, headers: &HeaderMap) {
    let event = headers
        .get(octohook::header::X_GITHUB_EVENT.as_str())
        .map(|value| value.as_bytes());
    log.log_values(
        rejection,
        headers
            .get(crate::headers::X_GITHUB_DELIVERY)
            .map(|value| value.as_bytes()),
        event,
    );
    #[cfg(feature = "metrics")]
    octohook::metrics::record_rejection(rejection, event);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::body::MessageBody;

    use super::*;

    /// The default error a rejection becomes answers with the core's status and
    /// text, as `rejection_response` does.
    #[test]
    fn responses_carry_the_core_status_and_text() {
        let rejections = [
            Rejection::from(octohook::Error::SignatureMismatch),
            Rejection::from(octohook::Error::BodyTooLarge { limit: 5 }),
            Rejection::BodyRead,
            Rejection::BodyTimeout {
                timeout: Duration::from_secs(2),
            },
            Rejection::NotConfigured,
        ];
        for rejection in rejections {
            let (status, body) = (rejection.status().as_u16(), rejection.body());
            let direct = rejection_response(&rejection);
            let error = into_default_error(rejection);
            assert_eq!(error.as_response_error().status_code().as_u16(), status);
            // Every call answers in full, not only the first.
            let responses = [direct, error.error_response(), error.error_response()];
            for response in responses {
                assert_eq!(response.status().as_u16(), status);
                assert_eq!(
                    response.headers().get(header::CONTENT_TYPE).unwrap(),
                    "text/plain; charset=utf-8"
                );
                let bytes = response.into_body().try_into_bytes().unwrap();
                assert_eq!(bytes, body.as_bytes());
            }
        }
    }
}
