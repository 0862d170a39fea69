//! Typed errors for every client operation.
//!
//! No error carries a credential: requests authenticate with a header that is
//! never formatted, and errors name the request by method and path only.

use std::error::Error as StdError;
use std::fmt;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

/// The error of a client operation.
///
/// Large payloads are boxed so that `Result<T, ClientError>` stays small.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// 404: the hook, delivery, repository or organization does not exist, or the
    /// credential may not see it (GitHub answers 404 rather than 403 for private
    /// resources).
    #[error("not found: {0}")]
    NotFound(Box<ApiError>),
    /// 422: GitHub rejected the request body; [`ValidationError::errors`] says why.
    #[error("{0}")]
    Validation(Box<ValidationError>),
    /// A primary or secondary rate limit; [`RateLimit`] says when to try again.
    #[error("{0}")]
    RateLimited(Box<RateLimit>),
    /// 401: the credential is missing, malformed, expired or revoked.
    #[error("unauthorized: {0}")]
    Unauthorized(Box<ApiError>),
    /// 403 that is not a rate limit: the credential lacks a scope or permission.
    #[error("forbidden: {0}")]
    Forbidden(Box<ApiError>),
    /// 5xx, after the retries the [`RetryOptions`](crate::RetryOptions) allow.
    #[error("GitHub server error: {0}")]
    Server(Box<ApiError>),
    /// Any other status GitHub should not answer for this request (400, 409, 410…).
    #[error("unexpected response: {0}")]
    UnexpectedStatus(Box<ApiError>),
    /// The request did not get a response: connection, TLS, timeout or deadline.
    #[error(transparent)]
    Transport(TransportError),
    /// The response did not have the shape GitHub documents.
    #[error(transparent)]
    Decode(Box<DecodeError>),
    /// The credential could not be produced (unreadable key, missing variable…).
    #[error(transparent)]
    Auth(AuthError),
    /// The client was configured or called with a value it cannot use.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl ClientError {
    /// The HTTP status GitHub answered, when the error is an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::NotFound(e)
            | ClientError::Unauthorized(e)
            | ClientError::Forbidden(e)
            | ClientError::Server(e)
            | ClientError::UnexpectedStatus(e) => Some(e.status),
            ClientError::Validation(e) => Some(e.api.status),
            ClientError::RateLimited(e) => Some(e.api.status),
            ClientError::Decode(e) => Some(e.status),
            ClientError::Transport(_) | ClientError::Auth(_) | ClientError::InvalidInput(_) => None,
        }
    }

    /// The rate limit, when this is [`ClientError::RateLimited`].
    pub fn rate_limit(&self) -> Option<&RateLimit> {
        match self {
            ClientError::RateLimited(limit) => Some(limit),
            _ => None,
        }
    }
}

/// What GitHub answered, without the request's credential.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The request, as `METHOD /path` (no host, no query, no credential).
    pub request: String,
    /// GitHub's `message`, when the body had one.
    pub message: Option<String>,
    /// GitHub's `documentation_url`, when the body had one.
    pub documentation_url: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answered {}", self.request, self.status)?;
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

/// A 422 answer and the details GitHub gave for each rejected field.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ValidationError {
    /// Status, request and message.
    pub api: ApiError,
    /// GitHub's `errors` array.
    pub errors: Vec<FieldError>,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "validation failed: {}", self.api)?;
        for (i, error) in self.errors.iter().enumerate() {
            f.write_str(if i == 0 { " (" } else { "; " })?;
            write!(f, "{error}")?;
        }
        if !self.errors.is_empty() {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// One entry of a 422 answer's `errors`.
///
/// GitHub sends objects (`resource`, `field`, `code`, `message`) or, for some
/// endpoints, bare strings, which land in [`FieldError::message`].
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct FieldError {
    /// The kind of resource, e.g. `Hook`.
    pub resource: Option<String>,
    /// The rejected field, e.g. `config.url`.
    pub field: Option<String>,
    /// GitHub's error code: `missing`, `missing_field`, `invalid`, `already_exists`,
    /// `unprocessable` or `custom`.
    pub code: Option<String>,
    /// A human-readable explanation.
    pub message: Option<String>,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [&self.resource, &self.field, &self.code, &self.message];
        let mut first = true;
        for part in parts.into_iter().flatten() {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(part)?;
            first = false;
        }
        Ok(())
    }
}

/// Which of GitHub's rate limits was hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateLimitKind {
    /// The hourly request budget (`x-ratelimit-remaining: 0`); it refills at
    /// [`RateLimit::reset`].
    Primary,
    /// A secondary (abuse) limit on concurrency or request rate; wait
    /// [`RateLimit::retry_after`], or at least a minute when GitHub gave no time.
    Secondary,
}

/// A rate-limited answer and when the request may be sent again.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Primary or secondary.
    pub kind: RateLimitKind,
    /// Status, request and message.
    pub api: ApiError,
    /// `x-ratelimit-limit`.
    pub limit: Option<u64>,
    /// `x-ratelimit-remaining`.
    pub remaining: Option<u64>,
    /// `x-ratelimit-reset`: when the primary budget refills.
    pub reset: Option<SystemTime>,
    /// `Retry-After`: how long to wait, as GitHub said.
    pub retry_after: Option<Duration>,
}

impl RateLimit {
    /// How long to wait from `now` before sending again: `Retry-After` when given,
    /// else the time until `reset`, else `None` (GitHub gave no time; for a
    /// secondary limit its documentation says to wait at least a minute).
    pub fn wait_from(&self, now: SystemTime) -> Option<Duration> {
        self.retry_after.or_else(|| {
            self.reset
                .map(|reset| reset.duration_since(now).unwrap_or(Duration::ZERO))
        })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            RateLimitKind::Primary => "primary",
            RateLimitKind::Secondary => "secondary",
        };
        write!(f, "{kind} rate limit: {}", self.api)?;
        if let Some(after) = self.retry_after {
            write!(f, " (retry after {}s)", after.as_secs())?;
        } else if let Some(reset) = self.reset {
            let epoch = reset
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            write!(f, " (resets at unix time {})", epoch.as_secs())?;
        }
        Ok(())
    }
}

/// Why a request got no response.
///
/// The underlying HTTP client's error is reachable through
/// [`std::error::Error::source`] only, so its type is not part of this API.
#[derive(Debug)]
pub struct TransportError {
    kind: TransportKind,
    request: String,
    source: Option<reqwest::Error>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TransportKind {
    Connect,
    Timeout,
    Deadline,
    Other,
}

impl TransportError {
    pub(crate) fn from_reqwest(request: String, source: reqwest::Error) -> Self {
        let kind = if source.is_connect() {
            TransportKind::Connect
        } else if source.is_timeout() {
            TransportKind::Timeout
        } else {
            TransportKind::Other
        };
        // The URL may carry the owner, repository and query; keep only our own
        // `METHOD /path` form in messages, and drop it from the source too.
        Self {
            kind,
            request,
            source: Some(source.without_url()),
        }
    }

    pub(crate) fn deadline(request: String) -> Self {
        Self {
            kind: TransportKind::Deadline,
            request,
            source: None,
        }
    }

    /// The connection could not be made, so the request was not sent.
    pub fn is_connect(&self) -> bool {
        self.kind == TransportKind::Connect
    }

    /// One attempt timed out, or the operation's overall deadline passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, TransportKind::Timeout | TransportKind::Deadline)
    }

    /// The operation's overall deadline passed before a response arrived.
    pub fn is_deadline(&self) -> bool {
        self.kind == TransportKind::Deadline
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportKind::Connect => "could not connect",
            TransportKind::Timeout => "timed out",
            TransportKind::Deadline => "deadline exceeded",
            TransportKind::Other => "request failed",
        };
        write!(f, "{}: {what}", self.request)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl StdError for TransportError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_ref().map(|e| e as &(dyn StdError + 'static))
    }
}

/// A response body that did not decode into the documented model.
#[derive(Debug)]
pub struct DecodeError {
    status: u16,
    request: String,
    source: serde_json::Error,
}

impl DecodeError {
    pub(crate) fn new(status: u16, request: String, source: serde_json::Error) -> Self {
        Self {
            status,
            request,
            source,
        }
    }

    /// The request, as `METHOD /path`.
    pub fn request(&self) -> &str {
        &self.request
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} answered {} with a body that does not decode: {}",
            self.request, self.status, self.source
        )
    }
}

impl StdError for DecodeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.source)
    }
}

/// Defines a public error made of a message and an optional cause, with `new` and
/// `with_source`: the shape of the errors that code outside the client builds
/// ([`AuthError`] for [`Authenticate`](crate::Authenticate) implementations, and
/// the redelivery ledger's `LedgerError`).
macro_rules! message_error {
    (
        $(#[$meta:meta])*
        pub struct $name:ident;
        $prefix:literal
    ) => {
        $(#[$meta])*
        #[derive(Debug, thiserror::Error)]
        #[error("{}: {message}", $prefix)]
        pub struct $name {
            message: String,
            #[source]
            source: Option<Box<dyn ::std::error::Error + Send + Sync>>,
        }

        impl $name {
            /// An error with a message.
            pub fn new(message: impl Into<String>) -> Self {
                Self {
                    message: message.into(),
                    source: None,
                }
            }

            /// An error with a message and its cause.
            pub fn with_source(
                message: impl Into<String>,
                source: impl Into<Box<dyn ::std::error::Error + Send + Sync>>,
            ) -> Self {
                Self {
                    message: message.into(),
                    source: Some(source.into()),
                }
            }
        }
    };
}

message_error! {
    /// A credential that could not be produced.
    ///
    /// Implementations of [`Authenticate`](crate::Authenticate) build one with
    /// [`AuthError::new`] or [`AuthError::with_source`]; the message must not quote
    /// the secret.
    pub struct AuthError;
    "authentication"
}

impl From<AuthError> for ClientError {
    fn from(error: AuthError) -> Self {
        ClientError::Auth(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small() {
        assert!(
            std::mem::size_of::<ClientError>() <= 48,
            "{}",
            std::mem::size_of::<ClientError>()
        );
    }

    #[test]
    fn validation_display_lists_every_field_error() {
        let error = ValidationError {
            api: ApiError {
                status: 422,
                request: "POST /repos/o/r/hooks".into(),
                message: Some("Validation Failed".into()),
                documentation_url: None,
            },
            errors: vec![
                FieldError {
                    resource: Some("Hook".into()),
                    code: Some("custom".into()),
                    message: Some("Hook already exists on this repository".into()),
                    ..FieldError::default()
                },
                FieldError {
                    field: Some("config.url".into()),
                    code: Some("missing_field".into()),
                    ..FieldError::default()
                },
            ],
        };
        assert_eq!(
            error.to_string(),
            "validation failed: POST /repos/o/r/hooks answered 422: Validation Failed \
             (Hook custom Hook already exists on this repository; config.url missing_field)"
        );
    }

    #[test]
    fn rate_limit_wait_prefers_retry_after_then_reset() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let mut limit = RateLimit {
            kind: RateLimitKind::Primary,
            api: ApiError {
                status: 403,
                request: "GET /".into(),
                message: None,
                documentation_url: None,
            },
            limit: Some(5000),
            remaining: Some(0),
            reset: Some(now + Duration::from_secs(30)),
            retry_after: None,
        };
        assert_eq!(limit.wait_from(now), Some(Duration::from_secs(30)));
        assert_eq!(
            limit.wait_from(now + Duration::from_secs(60)),
            Some(Duration::ZERO)
        );
        limit.retry_after = Some(Duration::from_secs(5));
        assert_eq!(limit.wait_from(now), Some(Duration::from_secs(5)));
    }
}
