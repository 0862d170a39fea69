//! Identifiers carried by a delivery: the hook's numeric id and the delivery GUID.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The numeric id of a webhook (`X-GitHub-Hook-ID`, and `id` in the REST API).
///
/// ```
/// use octohook::HookId;
///
/// let id: HookId = "12312312".parse().unwrap();
/// assert_eq!(id.get(), 12312312);
/// assert_eq!(id.to_string(), "12312312");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HookId(u64);

impl HookId {
    /// Wraps a raw hook id.
    pub const fn new(id: u64) -> Self {
        Self(id)
    }

    /// The raw id.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl From<u64> for HookId {
    fn from(id: u64) -> Self {
        Self(id)
    }
}

impl fmt::Display for HookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A hook id that is not a decimal number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a hook id must be a decimal number")]
pub struct InvalidHookId;

impl FromStr for HookId {
    type Err = InvalidHookId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_decimal(s.as_bytes()).map(Self).ok_or(InvalidHookId)
    }
}

/// Parses a non-empty run of ASCII digits that fits in a `u64`, nothing else
/// (no sign, no whitespace), as GitHub's numeric headers are.
pub(crate) fn parse_decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    bytes.iter().try_fold(0u64, |acc, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d < 10)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// The GUID of a delivery (`X-GitHub-Delivery`, `guid` in the REST API).
///
/// GitHub keeps the GUID when a delivery is redelivered and sends the same GUID to
/// every hook that receives the same event, so `(HookId, DeliveryGuid)` is the key
/// to deduplicate on.
///
/// The value is kept as sent; it must be 1 to 64 characters among ASCII letters,
/// digits, `-` and `_` (GitHub sends a UUID).
///
/// ```
/// use octohook::DeliveryGuid;
///
/// let guid: DeliveryGuid = "0b989ba4-242f-11e5-81e1-c7b6966d2516".parse().unwrap();
/// assert_eq!(guid.as_str(), "0b989ba4-242f-11e5-81e1-c7b6966d2516");
/// assert!("not a guid!".parse::<DeliveryGuid>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DeliveryGuid(Box<str>);

/// Longest GUID accepted; a UUID is 36 characters.
const MAX_GUID_LEN: usize = 64;

impl DeliveryGuid {
    /// The GUID as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, InvalidDeliveryGuid> {
        let valid = !bytes.is_empty()
            && bytes.len() <= MAX_GUID_LEN
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
        if !valid {
            return Err(InvalidDeliveryGuid);
        }
        // Only ASCII bytes passed the check above.
        let text = std::str::from_utf8(bytes).map_err(|_| InvalidDeliveryGuid)?;
        Ok(Self(text.into()))
    }
}

/// A delivery GUID with characters or a length GitHub never sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a delivery GUID must be 1 to 64 ASCII letters, digits, '-' or '_'")]
pub struct InvalidDeliveryGuid;

impl FromStr for DeliveryGuid {
    type Err = InvalidDeliveryGuid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_bytes(s.as_bytes())
    }
}

impl<'de> Deserialize<'de> for DeliveryGuid {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl AsRef<str> for DeliveryGuid {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeliveryGuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DeliveryGuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_rejects_signs_spaces_and_overflow() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"+1",
            b"-1",
            b" 1",
            b"1 ",
            b"18446744073709551616",
            b"1a",
        ] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn guid_round_trips_through_serde() {
        let guid: DeliveryGuid = serde_json::from_str("\"abc-123\"").unwrap();
        assert_eq!(serde_json::to_string(&guid).unwrap(), "\"abc-123\"");
        assert!(serde_json::from_str::<DeliveryGuid>("\"a b\"").is_err());
    }
}
