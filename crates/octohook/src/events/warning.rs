//! A field of a payload that did not fit its type and gave way.

use std::fmt;

use serde_json::Value;

/// A field that did not fit its type, and what parsing did instead of failing.
///
/// A genuine delivery must never be rejected for one odd field, so a value of an
/// unexpected type, or a plain field that is absent or `null`, gives way: an
/// `Option` field reads as `None`, a plain field takes its type's default (empty
/// text, zero, `false`, an empty list, an object of defaults), and an array item or
/// map value is left out. Only the fields that identify the event (its `action`,
/// the main object and its `id` and `number`) never give way. The raw JSON keeps the
/// value as sent ([`Payload::raw`](super::Payload::raw)).
///
/// ```
/// use octohook::EventKind;
/// use octohook::events::{Event, Resolution};
///
/// let body = br#"{"action": "opened", "issue": {"id": 1, "number": 7, "title": 42},
///                 "repository": {"id": 2}, "sender": {"id": 3}}"#;
/// let event = Event::parse(&EventKind::Issues, bytes::Bytes::from_static(body)).unwrap();
/// let Event::Issues(issues) = &event else { panic!() };
/// assert_eq!(issues.issue.number, 7);
/// let warning = &event.warnings()[0];
/// assert_eq!(warning.path(), "issue.title");
/// assert_eq!(warning.resolution(), Resolution::None);
/// assert_eq!(warning.to_string(), "issue.title: expected a string, found a number; read as None");
///
/// // Strict parsing turns the same defect into an error.
/// let error = Event::parse_strict(&EventKind::Issues, bytes::Bytes::from_static(body)).unwrap_err();
/// assert_eq!(error.path(), "issue.title");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldWarning {
    pub(crate) path: String,
    pub(crate) expected: &'static str,
    pub(crate) found: Found,
    pub(crate) resolution: Resolution,
}

impl FieldWarning {
    /// The JSON path of the field, such as `pull_request.labels[0].name`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What the type expects there (`a string`, `an object`, ...).
    pub fn expected(&self) -> &'static str {
        self.expected
    }

    /// What the payload had there.
    pub fn found(&self) -> Found {
        self.found
    }

    /// What parsing did with it.
    pub fn resolution(&self) -> Resolution {
        self.resolution
    }
}

impl fmt::Display for FieldWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let resolution = match self.resolution {
            Resolution::None => "read as None",
            Resolution::Default => "took its type's default",
            Resolution::Dropped => "left out",
        };
        write!(
            f,
            "{}: expected {}, found {}; {resolution}",
            self.path, self.expected, self.found
        )
    }
}

/// What a payload had where a field did not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Found {
    /// The field was absent.
    Missing,
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number (or, for an integer field, a fraction or one out of range).
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl Found {
    pub(crate) fn of(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Bool,
            Value::Number(_) => Self::Number,
            Value::String(_) => Self::String,
            Value::Array(_) => Self::Array,
            Value::Object(_) => Self::Object,
        }
    }
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "nothing",
            Self::Null => "null",
            Self::Bool => "a boolean",
            Self::Number => "a number",
            Self::String => "a string",
            Self::Array => "an array",
            Self::Object => "an object",
        })
    }
}

/// What parsing did with a field that did not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resolution {
    /// The field is an `Option` and reads as `None`.
    None,
    /// The field is plain and took its type's default.
    Default,
    /// The array item or map value was left out.
    Dropped,
}
