//! Why a delivery was rejected.

use http::StatusCode;

use crate::SignatureFormatError;

/// Why a delivery was rejected.
///
/// Each variant maps to an HTTP status through [`Error::status`]. Messages name the
/// header or the rule that failed; they never contain a secret or the signature
/// that was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required delivery header (`X-GitHub-Event`, `X-GitHub-Delivery`) is missing.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// A delivery header is present but malformed.
    #[error("invalid {header} header: {reason}")]
    InvalidHeader {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Neither `X-Hub-Signature-256` nor (when enabled) `X-Hub-Signature` was sent.
    #[error("missing X-Hub-Signature-256 header")]
    MissingSignature,
    /// Only the legacy SHA-1 `X-Hub-Signature` was sent, and SHA-1 is not enabled.
    #[error(
        "only a legacy X-Hub-Signature (SHA-1) was sent, and SHA-1 verification is not enabled"
    )]
    Sha1NotEnabled,
    /// The signature header is malformed.
    #[error("malformed {header} header: {kind}")]
    MalformedSignature {
        /// The header's name.
        header: &'static str,
        /// How it is malformed.
        kind: SignatureFormatError,
    },
    /// The signature does not match the body under any configured secret.
    #[error("signature does not match the body")]
    SignatureMismatch,
    /// The body is larger than the configured limit.
    #[error("body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// Too many bytes of unverified bodies are held across connections (see
    /// [`BodyBudget`](crate::BodyBudget)): the body was refused without being
    /// read. Answered with 503 and `Retry-After`.
    #[error("the receiver is busy with other deliveries; try again later")]
    BodyBudgetExhausted {
        /// How long the client should wait, in seconds (`Retry-After`).
        retry_after_secs: u64,
    },
    /// No `Content-Type` header was sent.
    #[error("missing Content-Type header")]
    MissingContentType,
    /// The `Content-Type` is neither `application/json` nor
    /// `application/x-www-form-urlencoded`.
    #[error(
        "unsupported Content-Type: expected application/json or application/x-www-form-urlencoded"
    )]
    UnsupportedContentType,
    /// A form-encoded body has no `payload` field.
    #[error("form body has no payload field")]
    MissingFormPayload,
    /// A form-encoded body has more than one `payload` field.
    #[error("form body has more than one payload field")]
    RepeatedFormPayload,
    /// A form-encoded body's `payload` field is not UTF-8 once percent-decoded.
    #[error("form body's payload field is not UTF-8 once percent-decoded")]
    FormPayloadNotUtf8,
    /// The (verified) payload is not a JSON object, or does not fit the requested type.
    #[error("invalid payload: {0}")]
    InvalidPayload(#[source] serde_json::Error),
    /// The (verified) payload nests arrays and objects deeper than the limit
    /// checked at verification (see [`PayloadCheck`](crate::PayloadCheck)).
    #[error("payload nests arrays and objects deeper than {limit} levels")]
    PayloadTooDeep {
        /// The limit in levels.
        limit: usize,
    },
}

impl Error {
    /// The HTTP status a receiver answers with: 400 for bad delivery headers and
    /// undecodable or too deeply nested bodies, 401 for a missing or wrong signature, 413 for a body over
    /// the limit, 415 for an unsupported content type.
    ///
    /// ```
    /// use http::StatusCode;
    /// use octohook::Error;
    ///
    /// assert_eq!(Error::SignatureMismatch.status(), StatusCode::UNAUTHORIZED);
    /// assert_eq!(Error::MissingHeader("X-GitHub-Event").status(), StatusCode::BAD_REQUEST);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingHeader(_)
            | Self::InvalidHeader { .. }
            | Self::MissingFormPayload
            | Self::RepeatedFormPayload
            | Self::FormPayloadNotUtf8
            | Self::InvalidPayload(_)
            | Self::PayloadTooDeep { .. } => StatusCode::BAD_REQUEST,
            Self::MissingSignature
            | Self::Sha1NotEnabled
            | Self::MalformedSignature { .. }
            | Self::SignatureMismatch => StatusCode::UNAUTHORIZED,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyBudgetExhausted { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::MissingContentType | Self::UnsupportedContentType => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
        }
    }
}
