//! [`RawHeaders`]: GitHub's delivery headers as received, kept with the delivery.

use std::fmt;

use http::{HeaderMap, HeaderValue};

use crate::delivery_headers::{HeaderScan, Slot};
use crate::header::DELIVERY_HEADERS;

/// The request's GitHub delivery headers, as received: what a store keeps with
/// a delivery, and what a forward or a fresh signature check replays.
///
/// GitHub signs only the body. Someone holding one captured delivery can replay
/// its body with new GUIDs and any headers they like; were every `X-GitHub-*`
/// header kept, 90 padding headers of 5 KB would be kept (and stored) with each
/// delivery. So only the names in [`DELIVERY_HEADERS`] are kept, the first value
/// of each, values of visible ASCII and spaces only, and at most
/// [`MAX_BYTES`](Self::MAX_BYTES) of names and values in all. What was left out
/// of GitHub's namespace is counted in [`dropped`](Self::dropped).
///
/// Verification builds it from the request ([`VerifiedDelivery::raw_headers`](crate::VerifiedDelivery::raw_headers));
/// a store rebuilds it from its rows with [`from_pairs`](Self::from_pairs),
/// which applies the same rules.
///
/// ```
/// use http::HeaderMap;
/// use octohook::RawHeaders;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-github-event", "push".parse().unwrap());
/// headers.insert("x-github-padding-1", "a".repeat(5000).parse().unwrap());
/// headers.insert("cookie", "session=1".parse().unwrap());
/// let raw = RawHeaders::keep(&headers);
/// assert_eq!(raw.iter().collect::<Vec<_>>(), [("x-github-event", "push")]);
/// assert_eq!(raw.dropped().headers, 1); // the padding; the cookie is not GitHub's
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RawHeaders {
    /// The kept headers, one after another, each as the name's index in
    /// [`DELIVERY_HEADERS`], the value's length (two bytes, big-endian) and the
    /// value: one allocation per delivery, a small value to move, and no
    /// reference into the request's read buffer (which holds whatever padding
    /// the client sent).
    block: Vec<u8>,
    dropped: DroppedHeaders,
}

/// What [`RawHeaders`] left out of GitHub's namespace (`X-GitHub-*`, `X-Hub-*`):
/// names GitHub does not send, repeats, and headers past the byte cap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DroppedHeaders {
    /// How many headers.
    pub headers: u64,
    /// Their names' and values' bytes.
    pub bytes: u64,
}

impl RawHeaders {
    /// The most header bytes (names and values) kept with one delivery: 8 KiB.
    ///
    /// What GitHub sends fits in about 600 bytes (the longest value is
    /// `X-Hub-Signature-256`, 71 bytes); the rest is room for a long
    /// `User-Agent` or GitHub Enterprise Server's host name.
    pub const MAX_BYTES: usize = 8 * 1024;

    /// Keeps the delivery headers of a request (see the [type's rules](Self)).
    pub fn keep(headers: &HeaderMap) -> Self {
        Self::from_scan(&HeaderScan::new(headers))
    }

    /// Keeps the delivery headers a verifier's scan of the request found: no
    /// second pass over the request's headers.
    pub(crate) fn from_scan(scan: &HeaderScan<'_>) -> Self {
        let first = SLOTS.map(|slot| scan.first(slot).map(HeaderValue::as_bytes));
        Self::from_firsts(first, scan.dropped())
    }

    /// Keeps the delivery headers among `pairs` (names compared without case),
    /// by the same rules as [`keep`](Self::keep): how a store rebuilds what it
    /// kept, and how an adapter whose framework has its own header types
    /// (actix-web) hands them over without building a map first.
    pub fn from_pairs<'a, V: AsRef<[u8]> + ?Sized + 'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a V)>,
    ) -> Self {
        let mut first: [Option<&[u8]>; DELIVERY_HEADERS.len()] = [None; DELIVERY_HEADERS.len()];
        let mut dropped = DroppedHeaders::default();
        for (name, value) in pairs {
            let value = value.as_ref();
            let allowed = DELIVERY_HEADERS
                .iter()
                .position(|allowed| allowed.as_str().eq_ignore_ascii_case(name));
            match allowed.map(|index| &mut first[index]) {
                Some(slot @ None) => *slot = Some(value),
                Some(Some(_)) => dropped.count(name, value),
                None if is_githubs_namespace(name) => dropped.count(name, value),
                None => {}
            }
        }
        Self::from_firsts(first, dropped)
    }

    /// Keeps the first value of each delivery header, in the order of
    /// [`DELIVERY_HEADERS`], within the cap; `dropped` is what was left out
    /// already (repeats, names GitHub does not send).
    fn from_firsts(
        first: [Option<&[u8]>; DELIVERY_HEADERS.len()],
        mut dropped: DroppedHeaders,
    ) -> Self {
        let mut kept = [None; DELIVERY_HEADERS.len()];
        let (mut bytes, mut block_len) = (0, 0);
        for (index, value) in first.into_iter().enumerate() {
            let Some(value) = value else { continue };
            let name = DELIVERY_HEADERS[index].as_str();
            let size = name.len() + value.len();
            if bytes + size <= Self::MAX_BYTES && is_visible_ascii(value) {
                bytes += size;
                block_len += 3 + value.len();
                kept[index] = Some(value);
            } else {
                dropped.count(name, value);
            }
        }
        let mut block = Vec::with_capacity(block_len);
        for (index, value) in kept.into_iter().enumerate() {
            let Some(value) = value else { continue };
            // Within MAX_BYTES: the length fits in two bytes.
            let [high, low] = (value.len() as u16).to_be_bytes();
            block.extend_from_slice(&[index as u8, high, low]);
            block.extend_from_slice(value);
        }
        Self { block, dropped }
    }

    /// The kept entries: the name's index, and the value.
    fn entries(&self) -> impl Iterator<Item = (usize, &[u8])> + '_ {
        let mut rest = self.block.as_slice();
        std::iter::from_fn(move || {
            let (&[index, high, low], after) = rest.split_first_chunk::<3>()?;
            let (value, after) =
                after.split_at_checked(usize::from(u16::from_be_bytes([high, low])))?;
            rest = after;
            Some((usize::from(index), value))
        })
    }

    /// The kept headers, lowercase names, in the order of [`DELIVERY_HEADERS`].
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.entries().map(|(index, value)| {
            (
                DELIVERY_HEADERS[index].as_str(),
                // Kept values are visible ASCII and spaces: always UTF-8.
                std::str::from_utf8(value).unwrap_or_default(),
            )
        })
    }

    /// The value kept for `name` (compared without case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(kept, _)| kept.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// The kept headers as a map, for replaying them (a forward, a fresh
    /// signature check of a stored delivery).
    pub fn to_header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.len());
        for (index, value) in self.entries() {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                map.append(DELIVERY_HEADERS[index].clone(), value);
            }
        }
        map
    }

    /// How many headers are kept.
    pub fn len(&self) -> usize {
        self.entries().count()
    }

    /// Whether no header is kept.
    pub fn is_empty(&self) -> bool {
        self.block.is_empty()
    }

    /// The bytes of the kept names and values, at most [`MAX_BYTES`](Self::MAX_BYTES).
    pub fn byte_len(&self) -> usize {
        self.iter()
            .map(|(name, value)| name.len() + value.len())
            .sum()
    }

    /// What was left out of GitHub's namespace.
    pub fn dropped(&self) -> DroppedHeaders {
        self.dropped
    }
}

impl fmt::Debug for RawHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: the values are client bytes (and the signature is no
        // business of a log line).
        f.debug_struct("RawHeaders")
            .field(
                "names",
                &self.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field("bytes", &self.byte_len())
            .field("dropped", &self.dropped)
            .finish()
    }
}

/// Whether `value` is visible ASCII and spaces only. No early exit, so that
/// the check compiles to a few vector instructions per 32 bytes.
fn is_visible_ascii(value: &[u8]) -> bool {
    value
        .iter()
        .fold(true, |all, byte| all & (b' '..=b'~').contains(byte))
}

/// Which [`Slot`] of a scan holds each of [`DELIVERY_HEADERS`], in its order.
const SLOTS: [Slot; DELIVERY_HEADERS.len()] = [
    Slot::ContentType,
    Slot::UserAgent,
    Slot::Event,
    Slot::Delivery,
    Slot::HookId,
    Slot::TargetType,
    Slot::TargetId,
    Slot::Signature1,
    Slot::Signature256,
    Slot::EnterpriseVersion,
    Slot::EnterpriseHost,
];

impl DroppedHeaders {
    pub(crate) fn count(&mut self, name: &str, value: &[u8]) {
        self.headers += 1;
        self.bytes += (name.len() + value.len()) as u64;
    }
}

/// Whether `name` looks like one of GitHub's (`X-GitHub-*`, `X-Hub-*`).
pub(crate) fn is_githubs_namespace(name: &str) -> bool {
    let starts = |prefix: &str| {
        name.get(..prefix.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
    };
    starts("x-github-") || starts("x-hub-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(kept: &RawHeaders) -> Vec<&str> {
        kept.iter().map(|(name, _)| name).collect()
    }

    #[test]
    fn only_the_first_of_each_allowed_name_is_kept() {
        let kept = RawHeaders::from_pairs([
            ("X-GitHub-Event", "push"),
            ("x-github-event", "ping"),
            ("x-github-padding-1", "aaaa"),
            ("cookie", "a=b"),
            ("x-hub-signature-256", "sha256=00"),
        ]);
        assert_eq!(
            kept.iter().collect::<Vec<_>>(),
            [
                ("x-github-event", "push"),
                ("x-hub-signature-256", "sha256=00")
            ]
        );
        assert_eq!(
            kept.dropped(),
            DroppedHeaders {
                headers: 2,
                bytes: 14 + 4 + 18 + 4
            }
        );
        assert_eq!(kept.get("X-GitHub-Event"), Some("push"));
    }

    #[test]
    fn headers_past_the_cap_are_dropped() {
        let long = "a".repeat(RawHeaders::MAX_BYTES / 2);
        let kept = RawHeaders::from_pairs([
            ("user-agent", long.as_str()),
            ("x-github-enterprise-host", long.as_str()),
            ("x-github-event", "push"),
        ]);
        assert_eq!(names(&kept), ["user-agent", "x-github-event"]);
        assert!(kept.byte_len() <= RawHeaders::MAX_BYTES);
        assert_eq!(kept.dropped().headers, 1);
    }

    #[test]
    fn values_that_are_not_visible_ascii_are_dropped() {
        let kept = RawHeaders::from_pairs([
            ("user-agent", &b"GitHub-Hookshot/\xff"[..]),
            ("x-github-event", &b"pu\tsh"[..]),
            ("x-github-delivery", &b"a 1"[..]),
        ]);
        assert_eq!(names(&kept), ["x-github-delivery"]);
    }

    #[test]
    fn a_map_round_trips() {
        let kept = RawHeaders::from_pairs([
            ("x-github-event", "push"),
            ("content-type", "application/json"),
        ]);
        let again = RawHeaders::keep(&kept.to_header_map());
        assert_eq!(again, kept);
        assert!(!format!("{kept:?}").contains("application/json"));
    }

    #[test]
    fn each_slot_holds_its_delivery_header() {
        for (name, slot) in DELIVERY_HEADERS.iter().zip(SLOTS) {
            assert_eq!(Slot::of(name.as_str()), Some(slot), "{name}");
        }
    }

    #[test]
    fn a_request_map_is_kept_as_pairs_are() {
        let mut headers = HeaderMap::new();
        headers.append("x-github-event", HeaderValue::from_static("push"));
        headers.append("x-github-event", HeaderValue::from_static("ping"));
        headers.append("x-github-padding-1", HeaderValue::from_static("aaaa"));
        headers.append("cookie", HeaderValue::from_static("a=b"));
        headers.append("content-length", HeaderValue::from_static("2"));
        headers.append("content-length", HeaderValue::from_static("2"));
        headers.append("x-hub-signature-256", HeaderValue::from_static("sha256=00"));
        let pairs: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes()))
            .collect();
        assert_eq!(RawHeaders::keep(&headers), RawHeaders::from_pairs(pairs));
        assert_eq!(RawHeaders::keep(&headers).dropped().headers, 2);
    }

    #[test]
    fn the_namespace_is_matched_without_case() {
        assert!(is_githubs_namespace("X-GitHub-Padding-7"));
        assert!(is_githubs_namespace("x-hub-whatever"));
        assert!(!is_githubs_namespace("x-git"));
        assert!(!is_githubs_namespace("host"));
    }
}
