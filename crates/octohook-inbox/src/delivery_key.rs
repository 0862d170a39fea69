//! [`DeliveryKey`]: what the inbox deduplicates a delivery on.

use std::fmt;
use std::str::FromStr;

use octohook::{DeliveryGuid, HookId, VerifiedDelivery};

/// The deduplication key of a delivery: the hook it was sent to and its GUID.
///
/// GitHub sends the same GUID on every redelivery *and* to every hook subscribed
/// to the same event, so the GUID alone is not enough: each hook processes its
/// copy once.
///
/// A delivery without `X-GitHub-Hook-ID` (old GitHub Enterprise Server releases)
/// has `hook_id: None`; all such deliveries share one namespace of their own, so
/// they are deduplicated on the GUID alone. That namespace is distinct from every
/// hook id, `0` included: a delivery without the header and one with
/// `X-GitHub-Hook-ID: 0` are two deliveries.
///
/// ```
/// use octohook::HookId;
/// use octohook_inbox::DeliveryKey;
///
/// let key = DeliveryKey::new(Some(HookId::new(42)), "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap());
/// assert_eq!(key.to_string(), "42:72d3162e-cc78-11e3-81ab-4c9367dc0958");
/// let legacy = DeliveryKey::new(None, "a1".parse().unwrap());
/// assert_eq!(legacy.to_string(), "-:a1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryKey {
    /// The hook (`X-GitHub-Hook-ID`), when sent.
    pub hook_id: Option<HookId>,
    /// The delivery GUID (`X-GitHub-Delivery`).
    pub guid: DeliveryGuid,
}

impl DeliveryKey {
    /// The key of the delivery `guid` sent to `hook_id`.
    pub fn new(hook_id: Option<HookId>, guid: DeliveryGuid) -> Self {
        Self { hook_id, guid }
    }

    /// The key of a verified delivery.
    pub fn of(delivery: &VerifiedDelivery) -> Self {
        Self::new(delivery.hook_id(), delivery.guid().clone())
    }

    /// The hook id as stored in the SQL stores' `hook_id` column: the id's bits as
    /// a signed 64-bit integer (so every `u64` round-trips), `0` for "no hook id",
    /// which the `has_hook_id` column tells apart from hook id 0.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn db_hook_id(&self) -> i64 {
        i64::from_ne_bytes(self.hook_id.map_or(0, HookId::get).to_ne_bytes())
    }

    /// The SQL stores' `has_hook_id` column.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn has_hook_id(&self) -> bool {
        self.hook_id.is_some()
    }

    /// The hook id read back: `NULL` (selected when `has_hook_id` is false) is no
    /// hook id; anything else is the inverse of [`db_hook_id`](Self::db_hook_id).
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn hook_id_from_db(value: Option<i64>) -> Option<HookId> {
        value.map(|value| HookId::new(u64::from_ne_bytes(value.to_ne_bytes())))
    }
}

/// `HOOK:GUID`, with `-` for a missing hook id: the idempotency key given to
/// handlers (`OCTOHOOK_HOOK_ID` and `OCTOHOOK_DELIVERY` carry the parts).
impl fmt::Display for DeliveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.hook_id {
            Some(id) => write!(f, "{id}:{}", self.guid),
            None => write!(f, "-:{}", self.guid),
        }
    }
}

/// Reads the `Display` form back: `HOOK:GUID`, or `-:GUID` for a delivery
/// without a hook id.
///
/// ```
/// use octohook::HookId;
/// use octohook_inbox::DeliveryKey;
///
/// let key: DeliveryKey = "42:a1".parse().unwrap();
/// assert_eq!(key, DeliveryKey::new(Some(HookId::new(42)), "a1".parse().unwrap()));
/// assert_eq!("-:a1".parse::<DeliveryKey>().unwrap().hook_id, None);
/// assert!("a1".parse::<DeliveryKey>().is_err());
/// ```
impl FromStr for DeliveryKey {
    type Err = BadDeliveryKey;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // GUIDs hold no colon, so the first one ends the hook id.
        let (hook, guid) = s.split_once(':').ok_or(BadDeliveryKey::NoColon)?;
        let hook_id = match hook {
            "-" => None,
            // `u64::from_str` takes a leading `+`, which `Display` never writes.
            digits if digits.bytes().all(|b| b.is_ascii_digit()) => Some(HookId::new(
                digits.parse().map_err(|_| BadDeliveryKey::HookId)?,
            )),
            _ => return Err(BadDeliveryKey::HookId),
        };
        let guid = guid.parse().map_err(|_| BadDeliveryKey::Guid)?;
        Ok(Self::new(hook_id, guid))
    }
}

/// Why a string is not a [`DeliveryKey`] (`HOOK:GUID`, or `-:GUID`). The
/// message names the part that is wrong, not the string, which may come from
/// anyone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadDeliveryKey {
    /// No `:` between the hook id and the GUID.
    #[error("a delivery key is HOOK:GUID (-:GUID without a hook id); there is no ':'")]
    NoColon,
    /// The part before the `:` is neither `-` nor a hook id (decimal digits,
    /// at most 2^64 - 1).
    #[error("the part of a delivery key before ':' is neither '-' nor a hook id (decimal, 64-bit)")]
    HookId,
    /// The part after the `:` is not a delivery GUID.
    #[error("the part of a delivery key after ':' is not a delivery GUID")]
    Guid,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[test]
    fn every_hook_id_round_trips_and_none_is_not_zero() {
        let guid: DeliveryGuid = "g".parse().unwrap();
        for id in [
            Some(0),
            Some(1),
            Some(u64::MAX),
            Some(i64::MAX as u64 + 1),
            None,
        ] {
            let key = DeliveryKey::new(id.map(HookId::new), guid.clone());
            let stored = key.has_hook_id().then_some(key.db_hook_id());
            assert_eq!(DeliveryKey::hook_id_from_db(stored), key.hook_id);
        }
        let none = DeliveryKey::new(None, guid.clone());
        let zero = DeliveryKey::new(Some(HookId::new(0)), guid);
        assert_ne!(
            (none.db_hook_id(), none.has_hook_id()),
            (zero.db_hook_id(), zero.has_hook_id())
        );
    }

    #[test]
    fn keys_parse_back_from_their_display_form_only() {
        for hook_id in [None, Some(0), Some(42), Some(u64::MAX)] {
            let key = DeliveryKey::new(
                hook_id.map(HookId::new),
                "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap(),
            );
            assert_eq!(key.to_string().parse::<DeliveryKey>(), Ok(key));
        }
        let refused: [(BadDeliveryKey, &[&str]); 3] = [
            (BadDeliveryKey::NoColon, &["a1", ""]),
            (
                BadDeliveryKey::HookId,
                &[
                    ":a1",
                    "x:a1",
                    "+1:a1",
                    "-1:a1",
                    "--:a1",
                    "18446744073709551616:a1",
                ],
            ),
            (BadDeliveryKey::Guid, &["1:", "-:", "1:a:b", "1:a b"]),
        ];
        for (error, text) in refused
            .iter()
            .flat_map(|(error, texts)| texts.iter().map(move |text| (*error, text)))
        {
            assert_eq!(text.parse::<DeliveryKey>(), Err(error), "{text:?}");
        }
        let message = "1:secret stuff".parse::<DeliveryKey>().unwrap_err();
        assert!(!message.to_string().contains("secret"));
    }
}
