//! [`RawHeaders`]: GitHub's delivery headers as received, kept with the delivery.

use std::fmt;

use http::{HeaderMap, HeaderValue};

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
    /// The kept values, one after another: one allocation per delivery, and
    /// no reference into the request's read buffer (which holds whatever
    /// padding the client sent).
    values: String,
    /// What is kept, in the order kept: the name's index in
    /// [`DELIVERY_HEADERS`] and where its value ends in `values`. Each name is
    /// kept once, so there are never more entries than names.
    entries: [(u8, u16); DELIVERY_HEADERS.len()],
    len: u8,
    /// Names' and values' bytes kept, at most [`MAX_BYTES`](Self::MAX_BYTES).
    bytes: usize,
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
        let mut kept = Self::default();
        for (name, value) in headers {
            // `http` stores names in lower case: one comparison each.
            let allowed = DELIVERY_HEADERS.iter().position(|allowed| allowed == name);
            kept.offer(name.as_str(), allowed, value.as_bytes());
        }
        kept
    }

    /// Keeps the delivery headers among `pairs` (names compared without case),
    /// by the same rules as [`keep`](Self::keep): how a store rebuilds what it
    /// kept, and how an adapter whose framework has its own header types (actix-web)
    /// hands them over without building a map first.
    pub fn from_pairs<'a, V: AsRef<[u8]> + ?Sized + 'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a V)>,
    ) -> Self {
        let mut kept = Self::default();
        for (name, value) in pairs {
            let allowed = DELIVERY_HEADERS
                .iter()
                .position(|allowed| allowed.as_str().eq_ignore_ascii_case(name));
            kept.offer(name, allowed, value.as_ref());
        }
        kept
    }

    /// Keeps one received header, whose name is `allowed` (its index in
    /// [`DELIVERY_HEADERS`]) or not, or counts it as dropped.
    fn offer(&mut self, name: &str, allowed: Option<usize>, value: &[u8]) {
        let size = name.len() + value.len();
        let keepable = allowed.filter(|&index| {
            !self.entries().any(|(kept, _)| usize::from(kept) == index)
                && self.bytes + size <= Self::MAX_BYTES
                && value
                    .iter()
                    .all(|&byte| byte == b' ' || byte.is_ascii_graphic())
        });
        match keepable {
            Some(index) => {
                // Visible ASCII and spaces: valid UTF-8, one byte a character.
                self.values
                    .extend(value.iter().map(|&byte| char::from(byte)));
                self.entries[usize::from(self.len)] = (index as u8, self.values.len() as u16);
                self.len += 1;
                self.bytes += size;
            }
            None if allowed.is_some() || is_githubs_namespace(name) => {
                self.dropped.headers += 1;
                self.dropped.bytes += size as u64;
            }
            None => {}
        }
    }

    /// The kept entries: the name's index, and the value's range in `values`.
    fn entries(&self) -> impl ExactSizeIterator<Item = (u8, std::ops::Range<usize>)> + '_ {
        let ends = &self.entries[..usize::from(self.len)];
        (0..ends.len()).map(move |at| {
            let start = at
                .checked_sub(1)
                .map_or(0, |before| usize::from(ends[before].1));
            (ends[at].0, start..usize::from(ends[at].1))
        })
    }

    /// The kept headers, lowercase names, in the order received.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.entries().map(|(index, range)| {
            (
                DELIVERY_HEADERS[usize::from(index)].as_str(),
                &self.values[range],
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
        let mut map = HeaderMap::with_capacity(usize::from(self.len));
        for (index, range) in self.entries() {
            if let Ok(value) = HeaderValue::from_str(&self.values[range]) {
                map.append(DELIVERY_HEADERS[usize::from(index)].clone(), value);
            }
        }
        map
    }

    /// How many headers are kept.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether no header is kept.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes of the kept names and values, at most [`MAX_BYTES`](Self::MAX_BYTES).
    pub fn byte_len(&self) -> usize {
        self.bytes
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
            .field("bytes", &self.bytes)
            .field("dropped", &self.dropped)
            .finish()
    }
}

/// Whether `name` looks like one of GitHub's (`X-GitHub-*`, `X-Hub-*`).
fn is_githubs_namespace(name: &str) -> bool {
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
    fn the_namespace_is_matched_without_case() {
        assert!(is_githubs_namespace("X-GitHub-Padding-7"));
        assert!(is_githubs_namespace("x-hub-whatever"));
        assert!(!is_githubs_namespace("x-git"));
        assert!(!is_githubs_namespace("host"));
    }
}
