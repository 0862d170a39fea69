//! A payload that does not fit its event's type.

use std::fmt;

use super::warning::Found;

/// A payload that cannot be read as its event's type, with the JSON path of the
/// defect: the object that lacks a field (`pull_request`, `.` for the top level),
/// or the value of the wrong type (`pull_request.number`).
///
/// [`Event::parse`](super::Event::parse) returns it only for a payload that is not
/// JSON, is not an object, or lacks (or has a wrong value in) a field that identifies
/// the event; [`Event::parse_strict`](super::Event::parse_strict) for any field
/// that does not fit.
#[derive(Debug)]
pub struct EventError {
    path: String,
    defect: Defect,
}

#[derive(Debug)]
enum Defect {
    /// Not JSON, or a value the types reject in a way the shapes do not describe.
    Json(serde_json::Error),
    Missing {
        field: &'static str,
    },
    Mismatch {
        expected: &'static str,
        found: Found,
    },
}

impl EventError {
    /// Names where in `raw` a JSON error happened.
    pub(crate) fn locate(raw: &[u8], source: serde_json::Error) -> Self {
        let missing = source.to_string().starts_with("missing field");
        let path = super::json_path::path_at(raw, source.line(), source.column(), missing);
        Self {
            path,
            defect: Defect::Json(source),
        }
    }

    pub(crate) fn missing(object: &str, field: &'static str) -> Self {
        Self {
            path: object.to_owned(),
            defect: Defect::Missing { field },
        }
    }

    pub(crate) fn field(path: &str, expected: &'static str, found: Found) -> Self {
        Self {
            path: path.to_owned(),
            defect: Defect::Mismatch { expected, found },
        }
    }

    /// The JSON path of the defect (`.` for the top level): the object that lacks a
    /// field, or the value that does not fit.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The field the object at [`path`](Self::path) lacks, if that is the defect.
    pub fn missing_field(&self) -> Option<&str> {
        match &self.defect {
            Defect::Missing { field } => Some(field),
            _ => None,
        }
    }

    /// The underlying JSON error, when the payload failed as JSON (not JSON at all,
    /// or rejected by a type in a way the field check does not describe).
    pub fn json_error(&self) -> Option<&serde_json::Error> {
        match &self.defect {
            Defect::Json(error) => Some(error),
            _ => None,
        }
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.defect {
            Defect::Json(error) => write!(f, "at {}: {error}", self.path),
            Defect::Missing { field } => write!(f, "at {}: missing field `{field}`", self.path),
            Defect::Mismatch { expected, found } => {
                write!(f, "at {}: expected {expected}, found {found}", self.path)
            }
        }
    }
}

impl std::error::Error for EventError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.defect {
            Defect::Json(error) => Some(error),
            _ => None,
        }
    }
}

impl From<EventError> for crate::Error {
    fn from(error: EventError) -> Self {
        let message = error.to_string();
        crate::Error::InvalidPayload(<serde_json::Error as serde::de::Error>::custom(message))
    }
}
