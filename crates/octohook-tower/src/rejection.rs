//! Rejections: why a request did not reach the inner service, as an HTTP response.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;

/// Why a webhook request was rejected.
///
/// Each rejection becomes a short `text/plain` response whose body names what was
/// wrong; it never contains a secret or the expected signature.
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
    /// [`VerifyWebhookLayer::with_read_timeout`](crate::VerifyWebhookLayer::with_read_timeout)),
    /// answered with 408. The rest of the body is not read.
    #[error("the request body did not arrive within {timeout:?}")]
    BodyTimeout {
        /// The read timeout that passed.
        timeout: std::time::Duration,
    },
    /// An extractor that needs [`VerifyWebhookLayer`](crate::VerifyWebhookLayer) ran
    /// on a route without it: a server misconfiguration, answered with 500.
    #[error("webhook verification is not configured for this route")]
    MissingLayer,
}

impl Rejection {
    /// The HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(error) => error.status(),
            Self::BodyRead => StatusCode::BAD_REQUEST,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The rejection as a `text/plain` response.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(format!("{self}\n"))));
        *response.status_mut() = self.status();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }

    pub(crate) fn log(&self, headers: &http::HeaderMap) {
        let guid = headers
            .get(octohook::header::X_GITHUB_DELIVERY)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("-");
        tracing::warn!(
            status = self.status().as_u16(),
            reason = %self,
            delivery = guid,
            "rejected webhook delivery"
        );
    }
}
