//! Points in time as GitHub sends them: RFC 3339 text or Unix seconds.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::IntOrString;

/// A point in time from a payload. GitHub sends most timestamps as RFC 3339 text
/// (`"2019-05-15T15:20:30Z"`), but some events send Unix seconds: `push` for the
/// repository's `created_at` and `pushed_at`, and older releases for projects and
/// their cards and columns. Both parse; the value is kept as sent.
///
/// ```
/// use octohook::events::Timestamp;
///
/// let text: Timestamp = serde_json::from_str("\"1970-01-01T00:01:40Z\"").unwrap();
/// let seconds: Timestamp = serde_json::from_str("100").unwrap();
/// assert_eq!(text.unix_seconds(), Some(100));
/// assert_eq!(seconds.unix_seconds(), Some(100));
/// assert_eq!(text.as_str(), Some("1970-01-01T00:01:40Z"));
/// assert_eq!(seconds.to_string(), "100");
/// let offset: Timestamp = serde_json::from_str("\"1970-01-01T01:01:40+01:00\"").unwrap();
/// assert_eq!(offset.unix_seconds(), Some(100));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Timestamp {
    /// Text, normally RFC 3339, kept as sent.
    Text(String),
    /// Seconds since the Unix epoch.
    UnixSeconds(i64),
}

impl Timestamp {
    /// The text as sent, if it came as text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            Self::UnixSeconds(_) => None,
        }
    }

    /// Seconds since the Unix epoch: as sent, or read from RFC 3339 text with any
    /// offset (`None` for text that is not RFC 3339).
    pub fn unix_seconds(&self) -> Option<i64> {
        match self {
            Self::UnixSeconds(seconds) => Some(*seconds),
            Self::Text(text) => {
                let time = OffsetDateTime::parse(text, &Rfc3339).ok()?;
                Some(time.unix_timestamp())
            }
        }
    }

    /// The time as a [`SystemTime`], when it is at or after the Unix epoch.
    pub fn to_system_time(&self) -> Option<SystemTime> {
        let seconds = u64::try_from(self.unix_seconds()?).ok()?;
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(text) => f.write_str(text),
            Self::UnixSeconds(seconds) => write!(f, "{seconds}"),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match IntOrString::deserialize(deserializer)? {
            IntOrString::Int(seconds) => Self::UnixSeconds(seconds),
            IntOrString::String(text) => Self::Text(text),
        })
    }
}
