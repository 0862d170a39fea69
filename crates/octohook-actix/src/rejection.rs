//! Rejections: why a request did not reach the handler, as an HTTP response.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::WebhookConfig;

/// Why a webhook request was rejected.
///
/// Each rejection becomes a short `text/plain; charset=utf-8` response whose body is
/// the rejection's message and a newline; it never contains a secret, the expected
/// signature or anything the client sent. The statuses and messages are those of
/// `octohook-tower`, so both adapters answer a bad delivery alike.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The delivery failed verification or decoding; see [`octohook::Error`].
    #[error(transparent)]
    Invalid(#[from] octohook::Error),
    /// The request body could not be read (the client went away, or sent a
    /// malformed chunked body).
    #[error("could not read the request body")]
    BodyRead,
    /// The whole body did not arrive within the read timeout (see
    /// [`WebhookConfig::read_timeout`]), answered with 408. The rest of the body is
    /// not read.
    #[error("the request body did not arrive within {timeout:?}")]
    BodyTimeout {
        /// The read timeout that passed.
        timeout: std::time::Duration,
    },
    /// Verification is not configured: an extractor found neither a delivery verified
    /// by [`VerifyWebhook`](crate::VerifyWebhook) nor a [`WebhookConfig`] with a
    /// secret. A server misconfiguration, answered with 500.
    #[error("webhook verification is not configured for this route")]
    NotConfigured,
}

impl Rejection {
    /// The HTTP status of the response: that of [`octohook::Error::status`] for an
    /// invalid delivery, 400 for an unreadable body, 408 for a body slower than the
    /// read timeout, 500 when not configured.
    ///
    /// ```
    /// use actix_web::http::StatusCode;
    /// use octohook_actix::Rejection;
    ///
    /// let rejection = Rejection::from(octohook::Error::SignatureMismatch);
    /// assert_eq!(rejection.status(), StatusCode::UNAUTHORIZED);
    /// assert_eq!(Rejection::NotConfigured.status(), StatusCode::INTERNAL_SERVER_ERROR);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            // The core speaks `http` 1.x and actix-web 4 `http` 0.2: same codes.
            Self::Invalid(error) => {
                StatusCode::from_u16(error.status().as_u16()).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Self::BodyRead => StatusCode::BAD_REQUEST,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Logs the rejection (status, reason and the `X-GitHub-Delivery` GUID, if any).
    pub(crate) fn log(&self, headers: &HeaderMap) {
        let guid = headers
            .get(crate::headers::X_GITHUB_DELIVERY)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("-");
        tracing::warn!(
            status = self.status().as_u16(),
            reason = %self,
            delivery = guid,
            "rejected webhook delivery"
        );
    }

    /// Logs the rejection and turns it into the error the handler of `config` makes
    /// of it (by default, the rejection's own response).
    pub(crate) fn into_error(
        self,
        request: &HttpRequest,
        config: &WebhookConfig,
    ) -> actix_web::Error {
        self.log(request.headers());
        config.handle(self, request)
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status())
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ))
            .body(format!("{self}\n"))
    }
}
