//! [`Rejection`]: why a receiver refused a request, with the HTTP answer for it.
//!
//! Every adapter (`octohook-tower`, `octohook-actix`) answers with the same status
//! and body text; each only translates a `Rejection` into its framework's response.

use std::time::Duration;

use http::StatusCode;

use crate::Error;

/// Why a webhook request did not reach the handler.
///
/// Each rejection is answered with [`status`](Self::status) and a short
/// `text/plain` [`body`](Self::body) naming what was wrong. The text never
/// contains a secret, the expected signature or anything else the client could not
/// already know.
///
/// ```
/// use std::time::Duration;
/// use http::StatusCode;
/// use octohook::Rejection;
///
/// let mismatch = Rejection::from(octohook::Error::SignatureMismatch);
/// assert_eq!(mismatch.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(mismatch.body(), "signature does not match the body\n");
///
/// let slow = Rejection::BodyTimeout { timeout: Duration::from_secs(10) };
/// assert_eq!(slow.status(), StatusCode::REQUEST_TIMEOUT);
/// assert_eq!(Rejection::NotConfigured.status(), StatusCode::INTERNAL_SERVER_ERROR);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The delivery failed verification or decoding; see [`Error`].
    #[error(transparent)]
    Invalid(#[from] Error),
    /// The request body could not be read (the client went away, or sent a
    /// malformed chunked body). Answered with 400.
    #[error("could not read the request body")]
    BodyRead,
    /// The whole body did not arrive within the read timeout (see
    /// [`BodyVerification::with_read_timeout`](crate::BodyVerification::with_read_timeout)).
    /// Answered with 408; the rest of the body is not read.
    #[error("the request body did not arrive within {timeout:?}")]
    BodyTimeout {
        /// The read timeout that passed.
        timeout: Duration,
    },
    /// Verification is not configured for the route (no secret, or an extractor
    /// without the middleware that verifies): a server misconfiguration, answered
    /// with 500.
    #[error("webhook verification is not configured for this route")]
    NotConfigured,
}

impl Rejection {
    /// The HTTP status of the answer: [`Error::status`] for an invalid delivery,
    /// 400 for an unreadable body, 408 for a body slower than the read timeout, 500
    /// when verification is not configured.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(error) => error.status(),
            Self::BodyRead => StatusCode::BAD_REQUEST,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `Retry-After` of the answer, in seconds: set when the receiver is too
    /// busy with unverified bodies ([`Error::BodyBudgetExhausted`]).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Invalid(Error::BodyBudgetExhausted { retry_after_secs }) => {
                Some(*retry_after_secs)
            }
            _ => None,
        }
    }

    /// A short lower-case name of the reason, stable across versions, for metric
    /// labels and log fields: `bad_headers`, `missing_signature`,
    /// `sha1_not_enabled`, `bad_signature`, `too_large`, `busy`,
    /// `unsupported_media_type`, `bad_payload`, `too_deep`, `body_read`,
    /// `timeout` or `not_configured`.
    ///
    /// ```
    /// use octohook::{Error, Rejection};
    ///
    /// assert_eq!(Rejection::from(Error::SignatureMismatch).reason(), "bad_signature");
    /// assert_eq!(Rejection::from(Error::BodyTooLarge { limit: 1 }).reason(), "too_large");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Invalid(error) => match error {
                Error::MissingHeader(_) | Error::InvalidHeader { .. } => "bad_headers",
                Error::MissingSignature => "missing_signature",
                Error::Sha1NotEnabled => "sha1_not_enabled",
                Error::MalformedSignature { .. } | Error::SignatureMismatch => "bad_signature",
                Error::BodyTooLarge { .. } => "too_large",
                Error::BodyBudgetExhausted { .. } => "busy",
                Error::MissingContentType | Error::UnsupportedContentType => {
                    "unsupported_media_type"
                }
                Error::MissingFormPayload
                | Error::RepeatedFormPayload
                | Error::FormPayloadNotUtf8
                | Error::InvalidPayload(_) => "bad_payload",
                Error::PayloadTooDeep { .. } => "too_deep",
            },
            Self::BodyRead => "body_read",
            Self::BodyTimeout { .. } => "timeout",
            Self::NotConfigured => "not_configured",
        }
    }

    /// The body of the answer: the reason and a newline.
    pub fn body(&self) -> String {
        format!("{self}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_texts() {
        let cases = [
            (
                Rejection::from(Error::MissingSignature),
                401,
                "missing X-Hub-Signature-256 header\n",
            ),
            (
                Rejection::from(Error::BodyTooLarge { limit: 10 }),
                413,
                "body exceeds the limit of 10 bytes\n",
            ),
            (
                Rejection::BodyRead,
                400,
                "could not read the request body\n",
            ),
            (
                Rejection::BodyTimeout {
                    timeout: Duration::from_millis(1500),
                },
                408,
                "the request body did not arrive within 1.5s\n",
            ),
            (
                Rejection::NotConfigured,
                500,
                "webhook verification is not configured for this route\n",
            ),
        ];
        for (rejection, status, body) in cases {
            assert_eq!(rejection.status().as_u16(), status, "{rejection:?}");
            assert_eq!(rejection.body(), body);
        }
    }
}
