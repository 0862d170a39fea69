//! The delivery's headers, from actix-web's header map into the core's.
//!
//! actix-web 4 has its own header types (built on `http` 0.2), the core reads
//! `http` 1.x ones. Only the headers the core looks at are copied, each value once;
//! repeated headers stay repeated, so the core still rejects them.

use actix_web::http::header::{self as actix, HeaderMap as ActixHeaderMap};
use http::header::{self as core, HeaderMap, HeaderValue};
use octohook::Error;

pub(crate) const X_GITHUB_DELIVERY: actix::HeaderName =
    actix::HeaderName::from_static("x-github-delivery");

/// A header the core reads: its actix name, its core name, and how errors name it.
type Needed = (actix::HeaderName, core::HeaderName, &'static str);

/// Every header [`Verifier::begin`](octohook::Verifier::begin) reads.
static NEEDED: [Needed; 12] = [
    (
        actix::HeaderName::from_static("x-hub-signature-256"),
        octohook::header::X_HUB_SIGNATURE_256,
        "X-Hub-Signature-256",
    ),
    (
        actix::HeaderName::from_static("x-hub-signature"),
        octohook::header::X_HUB_SIGNATURE,
        "X-Hub-Signature",
    ),
    (
        actix::HeaderName::from_static("x-github-event"),
        octohook::header::X_GITHUB_EVENT,
        "X-GitHub-Event",
    ),
    (
        X_GITHUB_DELIVERY,
        octohook::header::X_GITHUB_DELIVERY,
        "X-GitHub-Delivery",
    ),
    (
        actix::HeaderName::from_static("x-github-hook-id"),
        octohook::header::X_GITHUB_HOOK_ID,
        "X-GitHub-Hook-ID",
    ),
    (
        actix::HeaderName::from_static("x-github-hook-installation-target-type"),
        octohook::header::X_GITHUB_HOOK_INSTALLATION_TARGET_TYPE,
        "X-GitHub-Hook-Installation-Target-Type",
    ),
    (
        actix::HeaderName::from_static("x-github-hook-installation-target-id"),
        octohook::header::X_GITHUB_HOOK_INSTALLATION_TARGET_ID,
        "X-GitHub-Hook-Installation-Target-ID",
    ),
    (
        actix::HeaderName::from_static("x-github-enterprise-version"),
        octohook::header::X_GITHUB_ENTERPRISE_VERSION,
        "X-GitHub-Enterprise-Version",
    ),
    (
        actix::HeaderName::from_static("x-github-enterprise-host"),
        octohook::header::X_GITHUB_ENTERPRISE_HOST,
        "X-GitHub-Enterprise-Host",
    ),
    (actix::CONTENT_TYPE, core::CONTENT_TYPE, "Content-Type"),
    (
        actix::CONTENT_LENGTH,
        core::CONTENT_LENGTH,
        "Content-Length",
    ),
    (actix::USER_AGENT, core::USER_AGENT, "User-Agent"),
];

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
    let mut converted = HeaderMap::with_capacity(NEEDED.len());
    for (actix_name, core_name, display) in &NEEDED {
        for value in headers.get_all(actix_name) {
            // Both `http` versions accept the same bytes, so this never fails on a
            // value actix-web has parsed; still, a failure is a bad header, no panic.
            let value =
                HeaderValue::from_bytes(value.as_bytes()).map_err(|_| Error::InvalidHeader {
                    header: display,
                    reason: "not a valid header value",
                })?;
            converted.append(core_name.clone(), value);
        }
    }
    Ok(converted)
}

/// Every request header as an `http` 1.x map, for the inbox to keep what it
/// replays (names or values the other version refuses are skipped).
#[cfg(feature = "inbox")]
pub(crate) fn request_headers(headers: &ActixHeaderMap) -> HeaderMap {
    let mut converted = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            converted.append(name, value);
        }
    }
    converted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_agree_between_the_two_http_versions() {
        for (actix_name, core_name, display) in &NEEDED {
            assert_eq!(actix_name.as_str(), core_name.as_str());
            assert_eq!(display.to_ascii_lowercase(), core_name.as_str());
        }
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
