//! A delivery read back from GitHub's API: authentic because an authenticated
//! API call returned it, not because a MAC matched.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::header::{X_HUB_SIGNATURE, X_HUB_SIGNATURE_256};
use crate::{
    DeliveryGuid, DeliveryHeaders, Error, EventKind, HookId, InstallationTarget, RawHeaders,
};

/// A delivery that GitHub recorded and an authenticated call to its REST API
/// returned (`GET …/hooks/{hook_id}/deliveries/{delivery_id}`): its request
/// headers and its payload.
///
/// It is not a [`VerifiedDelivery`](crate::VerifiedDelivery): no MAC was
/// checked, and none can be. The API hands the payload back as parsed JSON,
/// not as the bytes GitHub signed, so the recorded `X-Hub-Signature-256` does
/// not cover anything this type holds. Its authenticity rests on the API call
/// instead: TLS to the configured GitHub (or GitHub Enterprise Server) host,
/// and a token allowed to read the hook's deliveries. Only
/// [`from_github_api`](Self::from_github_api) makes one; call it with what such
/// a call returned, never with bytes from the network that did not come from it.
///
/// # The payload is not byte-identical
///
/// [`payload`](Self::payload) is the JSON GitHub returned, re-serialised
/// compactly (`serde_json::to_vec`): key order, escapes and number spellings
/// may differ from the body GitHub sent, so it does not verify against the
/// recorded signature. For the same reason the signature headers
/// (`X-Hub-Signature-256`, `X-Hub-Signature`) are left out of
/// [`raw_headers`](Self::raw_headers), and the content type is always
/// `application/json` (a form-encoded hook's payload comes back as JSON too).
///
/// ```
/// use octohook::{EventKind, PulledDelivery};
///
/// let headers = [
///     ("X-GitHub-Event", "issues"),
///     ("X-GitHub-Delivery", "0b989ba4-242f-11e5-81e1-c7b6966d2516"),
///     ("X-GitHub-Hook-ID", "42"),
///     ("Content-Type", "application/x-www-form-urlencoded"),
///     ("X-Hub-Signature-256", "sha256=0000000000000000000000000000000000000000000000000000000000000000"),
/// ];
/// let payload = serde_json::json!({ "action": "opened", "issue": { "number": 7 } });
/// let delivery = PulledDelivery::from_github_api(headers, &payload).unwrap();
/// assert_eq!(delivery.event_kind(), &EventKind::Issues);
/// assert_eq!(delivery.action(), Some("opened"));
/// assert_eq!(delivery.payload().as_ref(), br#"{"action":"opened","issue":{"number":7}}"#);
/// // The recorded signature covers bytes this delivery does not hold.
/// assert_eq!(delivery.raw_headers().get("x-hub-signature-256"), None);
/// ```
#[derive(Clone)]
pub struct PulledDelivery {
    headers: DeliveryHeaders,
    raw_headers: RawHeaders,
    payload: Bytes,
    action: Option<Box<str>>,
}

impl PulledDelivery {
    /// Rebuilds a delivery from what GitHub's API returned for it: the
    /// `request.headers` of the delivery's detail (names compared without
    /// case) and its `request.payload`.
    ///
    /// Fails, as a receiver would, when the delivery headers do not parse
    /// (no `X-GitHub-Event` or `X-GitHub-Delivery`, a malformed hook id), or
    /// with [`Error::InvalidPayload`] when the payload is not a JSON object.
    pub fn from_github_api<'a>(
        request_headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        payload: &serde_json::Value,
    ) -> Result<Self, Error> {
        let serde_json::Value::Object(object) = payload else {
            return Err(Error::InvalidPayload(
                <serde_json::Error as serde::de::Error>::custom(
                    "the recorded payload is not a JSON object",
                ),
            ));
        };
        let mut map = HeaderMap::new();
        for (name, value) in request_headers {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                // Not a header a receiver could have been sent: skipped, as a
                // server's parser would refuse it.
                continue;
            };
            if name == X_HUB_SIGNATURE_256 || name == X_HUB_SIGNATURE {
                continue;
            }
            map.append(name, value);
        }
        map.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let headers = DeliveryHeaders::from_headers(&map)?;
        let raw_headers = RawHeaders::keep(&map);
        let action = object
            .get("action")
            .and_then(serde_json::Value::as_str)
            .map(Box::from);
        let payload = Bytes::from(serde_json::to_vec(payload).map_err(Error::InvalidPayload)?);
        Ok(Self {
            headers,
            raw_headers,
            payload,
            action,
        })
    }

    /// The delivery headers, as GitHub recorded them (the content type
    /// `application/json`).
    pub fn headers(&self) -> &DeliveryHeaders {
        &self.headers
    }

    /// GitHub's recorded request headers, by [`RawHeaders`]' rules, without
    /// the signature headers (see [the type](Self)).
    pub fn raw_headers(&self) -> &RawHeaders {
        &self.raw_headers
    }

    /// The event (`X-GitHub-Event`).
    pub fn event_kind(&self) -> &EventKind {
        self.headers.event()
    }

    /// The payload's `action` field, for events that have actions.
    pub fn action(&self) -> Option<&str> {
        self.action.as_deref()
    }

    /// The delivery's GUID (`X-GitHub-Delivery`).
    pub fn guid(&self) -> &DeliveryGuid {
        self.headers.guid()
    }

    /// The hook's id (`X-GitHub-Hook-ID`), when recorded.
    pub fn hook_id(&self) -> Option<HookId> {
        self.headers.hook_id()
    }

    /// The resource the hook is installed on, when recorded.
    pub fn target(&self) -> Option<&InstallationTarget> {
        self.headers.target()
    }

    /// The payload, re-serialised compactly: **not** byte-identical to the body
    /// GitHub signed (see [the type](Self)). Always a JSON object.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Deserializes the payload into `T`, which may borrow from it.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, Error> {
        serde_json::from_slice(&self.payload).map_err(Error::InvalidPayload)
    }

    /// Deserializes the payload into an owned `T`.
    pub fn parse_owned<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.parse()
    }

    /// Parses the payload into its typed [`Event`](crate::events::Event), as
    /// [`VerifiedDelivery::event`](crate::VerifiedDelivery::event) does.
    #[cfg(feature = "events-core")]
    pub fn event(&self) -> Result<crate::events::Event, crate::events::EventError> {
        crate::events::Event::parse(self.event_kind(), self.payload.clone())
    }
}

impl fmt::Debug for PulledDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PulledDelivery")
            .field("headers", &self.headers)
            .field("action", &self.action)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_that_is_not_an_object_or_headers_without_a_guid_are_refused() {
        let headers = [("X-GitHub-Event", "ping"), ("X-GitHub-Delivery", "d1")];
        let error = PulledDelivery::from_github_api(headers, &serde_json::json!([1])).unwrap_err();
        assert!(matches!(error, Error::InvalidPayload(_)), "{error}");
        let error =
            PulledDelivery::from_github_api([("X-GitHub-Event", "ping")], &serde_json::json!({}))
                .unwrap_err();
        assert!(matches!(error, Error::MissingHeader(_)), "{error}");
    }

    #[test]
    fn headers_are_read_without_case_and_a_bad_hook_id_is_refused() {
        let headers = [
            ("x-github-event", "push"),
            ("x-github-delivery", "d2"),
            ("x-github-hook-id", "7"),
            ("x-github-hook-installation-target-type", "repository"),
            ("x-github-hook-installation-target-id", "9"),
        ];
        let delivery = PulledDelivery::from_github_api(headers, &serde_json::json!({})).unwrap();
        assert_eq!(delivery.hook_id(), Some(HookId::new(7)));
        assert_eq!(delivery.target().map(|t| t.id), Some(9));
        assert_eq!(delivery.action(), None);
        let bad = [
            ("X-GitHub-Event", "push"),
            ("X-GitHub-Delivery", "d3"),
            ("X-GitHub-Hook-ID", "seven"),
        ];
        assert!(PulledDelivery::from_github_api(bad, &serde_json::json!({})).is_err());
    }

    #[cfg(feature = "events-issues")]
    #[test]
    fn a_pulled_delivery_runs_through_the_typed_dispatcher() {
        use std::sync::{Arc, Mutex};

        use crate::events::IssuesAction;
        use crate::{Authenticity, Dispatcher};

        let seen = Arc::new(Mutex::new(Vec::new()));
        let opened = Arc::clone(&seen);
        let dispatcher = Dispatcher::new().on_action(IssuesAction::Opened, move |issues| {
            let seen = Arc::clone(&opened);
            let authenticity = issues.delivery().authenticity();
            async move {
                seen.lock()
                    .unwrap()
                    .push((issues.issue.number, authenticity))
            }
        });
        let headers = [("X-GitHub-Event", "issues"), ("X-GitHub-Delivery", "d9")];
        let payload = serde_json::json!({
            "action": "opened",
            "issue": {"id": 1, "number": 12},
            "repository": {},
            "sender": {},
        });
        let pulled = PulledDelivery::from_github_api(headers, &payload).unwrap();
        let mut future = std::pin::pin!(dispatcher.dispatch(pulled));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let dispatched = loop {
            if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                break out.unwrap();
            }
        };
        assert_eq!(dispatched.handlers_run(), 1);
        assert_eq!(*seen.lock().unwrap(), [(12, Authenticity::GitHubApi)]);
    }
}
