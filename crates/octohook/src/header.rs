//! Names of the HTTP headers GitHub sends with every delivery.

use http::HeaderName;
use http::header::{CONTENT_TYPE, USER_AGENT};

/// `X-Hub-Signature-256`: `sha256=` and the hex HMAC-SHA256 of the raw body.
pub const X_HUB_SIGNATURE_256: HeaderName = HeaderName::from_static("x-hub-signature-256");
/// `X-Hub-Signature`: `sha1=` and the hex HMAC-SHA1 of the raw body (legacy).
pub const X_HUB_SIGNATURE: HeaderName = HeaderName::from_static("x-hub-signature");
/// `X-GitHub-Event`: the name of the event that triggered the delivery.
pub const X_GITHUB_EVENT: HeaderName = HeaderName::from_static("x-github-event");
/// `X-GitHub-Delivery`: the GUID of the delivery, kept on redelivery.
pub const X_GITHUB_DELIVERY: HeaderName = HeaderName::from_static("x-github-delivery");
/// `X-GitHub-Hook-ID`: the id of the hook that sent the delivery.
pub const X_GITHUB_HOOK_ID: HeaderName = HeaderName::from_static("x-github-hook-id");
/// `X-GitHub-Hook-Installation-Target-Type`: the kind of resource the hook is on.
pub const X_GITHUB_HOOK_INSTALLATION_TARGET_TYPE: HeaderName =
    HeaderName::from_static("x-github-hook-installation-target-type");
/// `X-GitHub-Hook-Installation-Target-ID`: the id of the resource the hook is on.
pub const X_GITHUB_HOOK_INSTALLATION_TARGET_ID: HeaderName =
    HeaderName::from_static("x-github-hook-installation-target-id");
/// `X-GitHub-Enterprise-Version`: the version of the GitHub Enterprise Server that sent it.
pub const X_GITHUB_ENTERPRISE_VERSION: HeaderName =
    HeaderName::from_static("x-github-enterprise-version");
/// `X-GitHub-Enterprise-Host`: the host name of the GitHub Enterprise Server that sent it.
pub const X_GITHUB_ENTERPRISE_HOST: HeaderName =
    HeaderName::from_static("x-github-enterprise-host");

/// Every header GitHub sends with a delivery: the only ones a store keeps (to
/// replay them when forwarding), each at most once. Anything else a client adds
/// (`X-GitHub-Padding-1`, cookies, proxy headers) is not GitHub's and is not
/// stored.
///
/// ```
/// use octohook::header::{DELIVERY_HEADERS, X_HUB_SIGNATURE_256};
///
/// assert!(DELIVERY_HEADERS.contains(&X_HUB_SIGNATURE_256));
/// assert!(!DELIVERY_HEADERS.iter().any(|name| name == "x-github-padding-1"));
/// ```
pub static DELIVERY_HEADERS: [HeaderName; 11] = [
    CONTENT_TYPE,
    USER_AGENT,
    X_GITHUB_EVENT,
    X_GITHUB_DELIVERY,
    X_GITHUB_HOOK_ID,
    X_GITHUB_HOOK_INSTALLATION_TARGET_TYPE,
    X_GITHUB_HOOK_INSTALLATION_TARGET_ID,
    X_HUB_SIGNATURE,
    X_HUB_SIGNATURE_256,
    X_GITHUB_ENTERPRISE_VERSION,
    X_GITHUB_ENTERPRISE_HOST,
];
