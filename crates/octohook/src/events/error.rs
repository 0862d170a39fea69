//! A payload that does not fit its event's type.

use std::fmt;

/// A payload that does not fit its event's type (or is not JSON), with the JSON path
/// of the failure, such as `pull_request.head.repo.id`.
#[derive(Debug)]
pub struct EventError {
    path: String,
    source: serde_json::Error,
}

impl EventError {
    /// Names where in `raw` the error happened.
    pub(crate) fn locate(raw: &[u8], source: serde_json::Error) -> Self {
        let path = super::json_path::path_at(raw, source.line(), source.column());
        Self { path, source }
    }

    /// The JSON path where parsing failed (`.` for the top level).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The underlying JSON error.
    pub fn json_error(&self) -> &serde_json::Error {
        &self.source
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.path, self.source)
    }
}

impl std::error::Error for EventError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl From<EventError> for crate::Error {
    fn from(error: EventError) -> Self {
        let message = error.to_string();
        crate::Error::InvalidPayload(<serde_json::Error as serde::de::Error>::custom(message))
    }
}
