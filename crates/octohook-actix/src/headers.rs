//! The delivery's headers, from actix-web's header map into the core's.
//!
//! actix-web 4 has its own header types (built on `http` 0.2), the core reads
//! `http` 1.x ones. Only the headers the core looks at are copied, each value once;
//! repeated headers stay repeated, so the core still rejects them.

use std::sync::LazyLock;

use actix_web::http::header::{self as actix, HeaderMap as ActixHeaderMap};
use http::header::{self as core, HeaderMap, HeaderValue};
use octohook::Error;
use octohook::header::DELIVERY_HEADERS;

pub(crate) const X_GITHUB_DELIVERY: actix::HeaderName =
    actix::HeaderName::from_static("x-github-delivery");

/// Every header [`Verifier::begin`](octohook::Verifier::begin) reads (GitHub's
/// delivery headers, [`DELIVERY_HEADERS`], and `Content-Length`), by its name in
/// both `http` versions. Built once, from the core's list: the names are the
/// same lowercase strings in both.
static NEEDED: LazyLock<Vec<(actix::HeaderName, core::HeaderName)>> = LazyLock::new(|| {
    DELIVERY_HEADERS
        .iter()
        .chain([&core::CONTENT_LENGTH])
        .filter_map(|name| {
            let actix_name = actix::HeaderName::from_bytes(name.as_str().as_bytes()).ok()?;
            Some((actix_name, name.clone()))
        })
        .collect()
});

/// Checks a request's delivery headers with `verifier` (see
/// [`Verifier::begin`](octohook::Verifier::begin)).
pub(crate) fn begin(
    verifier: &octohook::Verifier,
    headers: &ActixHeaderMap,
) -> Result<octohook::PendingDelivery, Error> {
    verifier.begin(&delivery_headers(headers)?)
}

/// Copies the headers the core reads into an `http` 1.x map.
pub(crate) fn delivery_headers(headers: &ActixHeaderMap) -> Result<HeaderMap, Error> {
    let needed: &'static [(actix::HeaderName, core::HeaderName)] = &NEEDED;
    let mut converted = HeaderMap::with_capacity(needed.len());
    for (actix_name, core_name) in needed {
        for value in headers.get_all(actix_name) {
            // Both `http` versions accept the same bytes, so this never fails on a
            // value actix-web has parsed; still, a failure is a bad header, no panic.
            let value =
                HeaderValue::from_bytes(value.as_bytes()).map_err(|_| Error::InvalidHeader {
                    header: core_name.as_str(),
                    reason: "not a valid header value",
                })?;
            converted.append(core_name.clone(), value);
        }
    }
    Ok(converted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_delivery_header_and_the_length_are_needed_under_both_names() {
        assert_eq!(NEEDED.len(), DELIVERY_HEADERS.len() + 1);
        for (actix_name, core_name) in NEEDED.iter() {
            assert_eq!(actix_name.as_str(), core_name.as_str());
        }
        for name in DELIVERY_HEADERS.iter().chain([&core::CONTENT_LENGTH]) {
            assert!(NEEDED.iter().any(|(_, needed)| needed == name), "{name}");
        }
        assert!(
            NEEDED
                .iter()
                .any(|(actix_name, _)| actix_name == X_GITHUB_DELIVERY)
        );
    }

    #[test]
    fn copies_only_what_the_core_reads_and_keeps_repeats() {
        let mut headers = ActixHeaderMap::new();
        let insert = |headers: &mut ActixHeaderMap, name: &'static str, value: &'static str| {
            headers.append(
                actix::HeaderName::from_static(name),
                actix::HeaderValue::from_static(value),
            );
        };
        insert(&mut headers, "x-github-event", "push");
        insert(&mut headers, "x-github-delivery", "a1");
        insert(&mut headers, "x-github-delivery", "a2");
        insert(&mut headers, "content-type", "application/json");
        insert(&mut headers, "cookie", "not=needed");
        let converted = delivery_headers(&headers).unwrap();
        assert_eq!(converted.get("x-github-event").unwrap(), "push");
        let guids: Vec<_> = converted.get_all("x-github-delivery").iter().collect();
        assert_eq!(guids, ["a1", "a2"]);
        assert!(!converted.contains_key("cookie"));
        assert_eq!(converted.len(), 4);
        let error = octohook::DeliveryHeaders::from_headers(&converted).unwrap_err();
        assert!(error.to_string().contains("X-GitHub-Delivery"), "{error}");
    }
}
