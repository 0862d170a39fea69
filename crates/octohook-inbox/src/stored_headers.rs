//! Which request headers a store keeps with a delivery: GitHub's own, each once,
//! [`MAX_STORED_HEADER_BYTES`] in all.
//!
//! GitHub signs only the body. Someone holding one captured delivery can replay
//! its body with new GUIDs and any headers they like; were every `X-GitHub-*`
//! header stored, 90 padding headers of 5 KB would store 450 KB per delivery.
//! So a store keeps only the names in [`octohook::header::DELIVERY_HEADERS`],
//! the first value of each, and stops at the byte cap.

use octohook::header::DELIVERY_HEADERS;

/// The most header bytes (names and values) stored with one delivery: 8 KiB.
///
/// What GitHub sends fits in about 600 bytes (the longest value is
/// `X-Hub-Signature-256`, 71 bytes); the rest is room for a long `User-Agent`
/// or GitHub Enterprise Server's host name. Headers past the cap are dropped, in
/// the order received, and counted (see [`metrics`](crate::metrics)).
pub const MAX_STORED_HEADER_BYTES: usize = 8 * 1024;

/// What was left out of a delivery's stored headers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DroppedHeaders {
    /// How many headers.
    pub(crate) headers: u64,
    /// Their names' and values' bytes.
    pub(crate) bytes: u64,
}

/// The headers of `received` a store keeps: names on the allow-list (compared
/// without case, stored lowercase), the first of each name, values of visible
/// ASCII, at most [`MAX_STORED_HEADER_BYTES`] in all.
///
/// Counts, logs (at debug level, counts only) and records in the metrics what
/// it dropped of GitHub's namespace (`x-github-*`, `x-hub-*`, or an allowed
/// name seen again or past the cap); other headers (`Host`, `Accept`, a
/// proxy's) are simply not kept.
pub(crate) fn keep<'a>(
    received: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Vec<(String, String)> {
    let mut kept: Vec<(String, String)> = Vec::new();
    let mut stored_bytes = 0;
    let mut dropped = DroppedHeaders::default();
    for (name, value) in received {
        let allowed = DELIVERY_HEADERS
            .iter()
            .find(|allowed| allowed.as_str().eq_ignore_ascii_case(name));
        let size = name.len() + value.map_or(0, str::len);
        let keepable = allowed.zip(value).filter(|(allowed, _)| {
            !kept.iter().any(|(seen, _)| seen == allowed.as_str())
                && stored_bytes + size <= MAX_STORED_HEADER_BYTES
        });
        match keepable {
            Some((allowed, value)) => {
                stored_bytes += size;
                kept.push((allowed.as_str().to_owned(), value.to_owned()));
            }
            None if allowed.is_some() || is_githubs_namespace(name) => {
                dropped.headers += 1;
                dropped.bytes += size as u64;
            }
            None => {}
        }
    }
    if dropped.headers > 0 {
        tracing::debug!(
            dropped_headers = dropped.headers,
            dropped_bytes = dropped.bytes,
            kept_headers = kept.len(),
            "did not store headers that GitHub does not send, repeats, or those past the cap"
        );
        #[cfg(feature = "metrics")]
        crate::metrics::record_dropped_headers(dropped);
    }
    kept
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

    fn names(kept: &[(String, String)]) -> Vec<&str> {
        kept.iter().map(|(name, _)| name.as_str()).collect()
    }

    #[test]
    fn only_the_first_of_each_allowed_name_is_kept() {
        let kept = keep([
            ("X-GitHub-Event", Some("push")),
            ("x-github-event", Some("ping")),
            ("x-github-padding-1", Some("aaaa")),
            ("cookie", Some("a=b")),
            ("x-hub-signature-256", None),
            ("x-hub-signature-256", Some("sha256=00")),
        ]);
        assert_eq!(
            kept,
            [
                ("x-github-event".to_owned(), "push".to_owned()),
                ("x-hub-signature-256".to_owned(), "sha256=00".to_owned()),
            ]
        );
    }

    #[test]
    fn headers_past_the_cap_are_dropped() {
        let long = "a".repeat(MAX_STORED_HEADER_BYTES / 2);
        let kept = keep([
            ("user-agent", Some(long.as_str())),
            ("x-github-enterprise-host", Some(long.as_str())),
            ("x-github-event", Some("push")),
        ]);
        assert_eq!(names(&kept), ["user-agent", "x-github-event"]);
        let bytes: usize = kept.iter().map(|(n, v)| n.len() + v.len()).sum();
        assert!(bytes <= MAX_STORED_HEADER_BYTES);
    }

    #[test]
    fn the_namespace_is_matched_without_case() {
        assert!(is_githubs_namespace("X-GitHub-Padding-7"));
        assert!(is_githubs_namespace("x-hub-whatever"));
        assert!(!is_githubs_namespace("x-git"));
        assert!(!is_githubs_namespace("host"));
    }
}
