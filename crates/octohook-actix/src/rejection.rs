//! Answers as actix-web responses: the core's [`Answer`] (and [`Rejection`]s
//! through it), translated in one place.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpResponse, ResponseError};
pub use octohook::Rejection;
use octohook::{Answer, RejectionLog};

/// `answer` as an actix-web response: its status, its `Retry-After` when set,
/// and its `text/plain; charset=utf-8` body when it has one. Every answer of
/// this crate (rejections, dispatch failures, receivers' answers) goes through
/// it, so they read alike, and like `octohook-tower`'s.
///
/// ```
/// use octohook::{Answer, Rejection};
/// use octohook_actix::answer_response;
///
/// let response = answer_response(Answer::from(&Rejection::from(octohook::Error::SignatureMismatch)));
/// assert_eq!(response.status().as_u16(), 401);
/// assert_eq!(answer_response(Answer::ok()).status().as_u16(), 200);
/// ```
pub fn answer_response(answer: Answer) -> HttpResponse {
    let mut response = HttpResponse::build(status(&answer));
    if let Some(seconds) = answer.retry_after_secs() {
        response.insert_header((header::RETRY_AFTER, seconds));
    }
    if answer.body().is_empty() {
        return response.finish();
    }
    response
        .insert_header((header::CONTENT_TYPE, Answer::CONTENT_TYPE))
        .body(answer.body().to_owned())
}

/// The answer's status, in actix-web's `http` 0.2 (the core speaks `http` 1.x:
/// same codes).
fn status(answer: &Answer) -> StatusCode {
    StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The error the default handler makes of a rejection: the core's [`Rejection`],
/// answered by actix-web with [`answer_response`]. Find it in an
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
        status(&Answer::from(&self.0))
    }

    fn error_response(&self) -> HttpResponse {
        answer_response(Answer::from(&self.0))
    }
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
    /// text, as `answer_response` does.
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
            let direct = answer_response(Answer::from(&rejection));
            let error = actix_web::Error::from(WebhookRejection(rejection));
            assert_eq!(error.as_response_error().status_code().as_u16(), status);
            // Every call answers in full, not only the first.
            let responses = [direct, error.error_response(), error.error_response()];
            for response in responses {
                assert_eq!(response.status().as_u16(), status);
                assert_eq!(
                    response.headers().get(header::CONTENT_TYPE).unwrap(),
                    Answer::CONTENT_TYPE
                );
                let bytes = response.into_body().try_into_bytes().unwrap();
                assert_eq!(bytes, body.as_bytes());
            }
        }
    }

    #[test]
    fn an_empty_answer_has_no_content_type_and_retry_after_is_passed_on() {
        let ok = answer_response(Answer::ok());
        assert_eq!(ok.status(), StatusCode::OK);
        assert!(ok.headers().get(header::CONTENT_TYPE).is_none());

        let busy = answer_response(
            Answer::new(http::StatusCode::SERVICE_UNAVAILABLE, "down\n").with_retry_after(9),
        );
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers().get(header::RETRY_AFTER).unwrap(), "9");
    }
}
