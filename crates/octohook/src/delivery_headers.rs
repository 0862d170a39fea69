//! The delivery headers GitHub sends beside the signature, parsed into types.

use http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::ids::parse_decimal;
use crate::{ContentType, DeliveryGuid, Error, EventKind, HookId};

string_enum! {
    /// The kind of resource a hook is installed on
    /// (`X-GitHub-Hook-Installation-Target-Type`).
    pub enum TargetType {
        /// `repository`
        Repository = "repository",
        /// `organization`
        Organization = "organization",
        /// `integration`: a GitHub App's hook.
        Integration = "integration",
        /// `business`: an enterprise.
        Business = "business",
        /// `marketplace::listing`
        MarketplaceListing = "marketplace::listing",
        /// `sponsors_listing`
        SponsorsListing = "sponsors_listing",
    }
}

impl TargetType {
    /// The type for a header value; unknown values are kept in
    /// [`TargetType::Unknown`] (the same as [`from_value`](Self::from_value)).
    pub fn from_name(name: &str) -> Self {
        Self::from_value(name)
    }
}

/// The resource a hook is installed on: a repository, an organization, an app, ...
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InstallationTarget {
    /// What kind of resource it is.
    #[serde(rename = "type")]
    pub kind: TargetType,
    /// The resource's numeric id.
    pub id: u64,
}

/// The GitHub Enterprise Server that sent a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EnterpriseServer {
    /// `X-GitHub-Enterprise-Version`, such as `3.14.0`.
    pub version: Option<String>,
    /// `X-GitHub-Enterprise-Host`, the server's host name.
    pub host: Option<String>,
}

/// Everything GitHub says about a delivery in its headers, apart from the signature.
///
/// `X-GitHub-Event` and `X-GitHub-Delivery` are required, as is a `Content-Type`
/// this crate can decode; the other headers are optional, but rejected when present
/// and malformed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryHeaders {
    event: EventKind,
    guid: DeliveryGuid,
    hook_id: Option<HookId>,
    target: Option<InstallationTarget>,
    content_type: ContentType,
    user_agent: Option<HeaderValue>,
    /// Boxed: rare, and a delivery's headers are moved around whole.
    enterprise: Option<Box<EnterpriseServer>>,
}

impl DeliveryHeaders {
    /// Parses the delivery headers of a request.
    ///
    /// Names (`X-GitHub-Event`, the installation target type, the GitHub
    /// Enterprise version and host) must be visible ASCII of at most 255 bytes: the
    /// headers are not signed, so nothing bounds them but this.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use octohook::{DeliveryHeaders, EventKind};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-github-event", "push".parse().unwrap());
    /// headers.insert("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap());
    /// headers.insert("x-github-hook-id", "42".parse().unwrap());
    /// headers.insert("content-type", "application/json".parse().unwrap());
    ///
    /// let parsed = DeliveryHeaders::from_headers(&headers).unwrap();
    /// assert_eq!(parsed.event(), &EventKind::Push);
    /// assert_eq!(parsed.hook_id().map(|id| id.get()), Some(42));
    /// ```
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, Error> {
        Self::from_scan(&HeaderScan::new(headers))
    }

    /// Parses the delivery headers found by a [`HeaderScan`].
    pub(crate) fn from_scan(headers: &HeaderScan<'_>) -> Result<Self, Error> {
        let event = required(headers, Slot::Event, "X-GitHub-Event")?;
        let event = EventKind::from_name(token(event, "X-GitHub-Event")?);
        let guid = required(headers, Slot::Delivery, "X-GitHub-Delivery")?;
        let guid = DeliveryGuid::from_bytes(guid.as_bytes()).map_err(|_| Error::InvalidHeader {
            header: "X-GitHub-Delivery",
            reason: "not a delivery GUID",
        })?;
        let content_type = match single(headers, Slot::ContentType, "Content-Type")? {
            Some(value) => ContentType::from_header(value.as_bytes())?,
            None => return Err(Error::MissingContentType),
        };
        let hook_id = single(headers, Slot::HookId, "X-GitHub-Hook-ID")?
            .map(|value| number(value, "X-GitHub-Hook-ID").map(HookId::new))
            .transpose()?;
        let target = target(headers)?;
        // Kept as the header value: cloning it shares the request's bytes.
        let user_agent = single(headers, Slot::UserAgent, "User-Agent")?.cloned();
        let version = single(
            headers,
            Slot::EnterpriseVersion,
            "X-GitHub-Enterprise-Version",
        )?
        .map(|value| token(value, "X-GitHub-Enterprise-Version").map(str::to_owned))
        .transpose()?;
        let host = single(headers, Slot::EnterpriseHost, "X-GitHub-Enterprise-Host")?
            .map(|value| token(value, "X-GitHub-Enterprise-Host").map(str::to_owned))
            .transpose()?;
        let enterprise = (version.is_some() || host.is_some())
            .then(|| Box::new(EnterpriseServer { version, host }));
        Ok(Self {
            event,
            guid,
            hook_id,
            target,
            content_type,
            user_agent,
            enterprise,
        })
    }

    /// The event (`X-GitHub-Event`).
    pub fn event(&self) -> &EventKind {
        &self.event
    }

    /// The delivery's GUID (`X-GitHub-Delivery`).
    pub fn guid(&self) -> &DeliveryGuid {
        &self.guid
    }

    /// The hook's id (`X-GitHub-Hook-ID`), when sent.
    pub fn hook_id(&self) -> Option<HookId> {
        self.hook_id
    }

    /// The resource the hook is installed on, when both target headers were sent.
    pub fn target(&self) -> Option<&InstallationTarget> {
        self.target.as_ref()
    }

    /// How the body is encoded.
    pub fn content_type(&self) -> ContentType {
        self.content_type
    }

    /// The `User-Agent`, such as `GitHub-Hookshot/b8c71d8`; `None` when absent or
    /// not visible ASCII.
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_ref()?.to_str().ok()
    }

    /// The GitHub Enterprise Server that sent the delivery, if one did.
    pub fn enterprise(&self) -> Option<&EnterpriseServer> {
        self.enterprise.as_deref()
    }
}

fn target(headers: &HeaderScan<'_>) -> Result<Option<InstallationTarget>, Error> {
    const TYPE: &str = "X-GitHub-Hook-Installation-Target-Type";
    const ID: &str = "X-GitHub-Hook-Installation-Target-ID";
    let kind = single(headers, Slot::TargetType, TYPE)?;
    let id = single(headers, Slot::TargetId, ID)?;
    match (kind, id) {
        (None, None) => Ok(None),
        (Some(kind), Some(id)) => Ok(Some(InstallationTarget {
            kind: TargetType::from_name(token(kind, TYPE)?),
            id: number(id, ID)?,
        })),
        (Some(_), None) => Err(Error::InvalidHeader {
            header: ID,
            reason: "missing while the target type is present",
        }),
        (None, Some(_)) => Err(Error::InvalidHeader {
            header: TYPE,
            reason: "missing while the target id is present",
        }),
    }
}

/// The headers a delivery is read from, found in one pass over a request's headers.
///
/// Each `HeaderMap` lookup hashes the name byte by byte, and a delivery is read
/// from a dozen headers with long names (`x-github-hook-installation-target-type`):
/// those lookups were most of the cost of verifying a small delivery. Comparing the
/// names of the headers actually present against the known ones costs far less.
#[derive(Debug)]
pub(crate) struct HeaderScan<'a> {
    first: [Option<&'a HeaderValue>; Slot::COUNT],
    /// Bit `slot` is set when that header was sent more than once.
    repeated: u16,
    /// Headers of GitHub's namespace that no slot keeps: repeats, and names
    /// GitHub does not send (what [`RawHeaders`](crate::RawHeaders) counts as
    /// dropped).
    dropped: crate::DroppedHeaders,
}

/// A header that [`HeaderScan`] looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Event,
    Delivery,
    HookId,
    TargetType,
    TargetId,
    EnterpriseVersion,
    EnterpriseHost,
    ContentType,
    ContentLength,
    UserAgent,
    Signature256,
    Signature1,
}

impl Slot {
    const COUNT: usize = 12;

    /// The slot for a (lower-case, as `http` stores it) header name.
    pub(crate) fn of(name: &str) -> Option<Self> {
        Some(match name {
            "x-github-event" => Self::Event,
            "x-github-delivery" => Self::Delivery,
            "x-github-hook-id" => Self::HookId,
            "x-github-hook-installation-target-type" => Self::TargetType,
            "x-github-hook-installation-target-id" => Self::TargetId,
            "x-github-enterprise-version" => Self::EnterpriseVersion,
            "x-github-enterprise-host" => Self::EnterpriseHost,
            "content-type" => Self::ContentType,
            "content-length" => Self::ContentLength,
            "user-agent" => Self::UserAgent,
            "x-hub-signature-256" => Self::Signature256,
            "x-hub-signature" => Self::Signature1,
            _ => return None,
        })
    }
}

impl<'a> HeaderScan<'a> {
    pub(crate) fn new(headers: &'a HeaderMap) -> Self {
        let mut scan = Self {
            first: [None; Slot::COUNT],
            repeated: 0,
            dropped: crate::DroppedHeaders::default(),
        };
        for (name, value) in headers {
            let slot = Slot::of(name.as_str());
            match slot.map(|slot| (slot, &mut scan.first[slot as usize])) {
                Some((_, first @ None)) => *first = Some(value),
                Some((slot, Some(_))) => {
                    scan.repeated |= 1 << slot as u16;
                    if slot != Slot::ContentLength {
                        scan.dropped.count(name.as_str(), value.as_bytes());
                    }
                }
                None if crate::raw_headers::is_githubs_namespace(name.as_str()) => {
                    scan.dropped.count(name.as_str(), value.as_bytes());
                }
                None => {}
            }
        }
        scan
    }

    /// The first value of `slot`'s header, if sent.
    pub(crate) fn first(&self, slot: Slot) -> Option<&'a HeaderValue> {
        self.first[slot as usize]
    }

    /// What [`RawHeaders`](crate::RawHeaders) will not keep of GitHub's namespace.
    pub(crate) fn dropped(&self) -> crate::DroppedHeaders {
        self.dropped
    }
}

/// A header that may be absent but must not be repeated.
pub(crate) fn single<'a>(
    headers: &HeaderScan<'a>,
    slot: Slot,
    display: &'static str,
) -> Result<Option<&'a HeaderValue>, Error> {
    if headers.repeated & (1 << slot as u16) != 0 {
        return Err(Error::InvalidHeader {
            header: display,
            reason: "sent more than once",
        });
    }
    Ok(headers.first[slot as usize])
}

fn required<'a>(
    headers: &HeaderScan<'a>,
    slot: Slot,
    display: &'static str,
) -> Result<&'a HeaderValue, Error> {
    single(headers, slot, display)?.ok_or(Error::MissingHeader(display))
}

/// The longest name, version or host name accepted in a token header. GitHub's
/// longest event name has 42 characters and a DNS name at most 253; the headers
/// are not covered by the signature, so a replayed delivery must not be able to
/// carry megabytes of them into logs and stores.
const MAX_TOKEN_LEN: usize = 255;

/// A non-empty value of visible ASCII (`!` to `~`), at most [`MAX_TOKEN_LEN`]
/// bytes, as GitHub's names and versions are. `HeaderValue::to_str` also lets
/// spaces and tabs through, which would put fields of a client's making into
/// text log lines.
fn token<'a>(value: &'a HeaderValue, header: &'static str) -> Result<&'a str, Error> {
    if value.len() > MAX_TOKEN_LEN {
        return Err(Error::InvalidHeader {
            header,
            reason: "longer than 255 bytes",
        });
    }
    let bytes = value.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(|byte| matches!(byte, b'!'..=b'~')) {
        return Err(Error::InvalidHeader {
            header,
            reason: "not a non-empty token of visible ASCII",
        });
    }
    // Only ASCII passed the check above.
    std::str::from_utf8(bytes).map_err(|_| Error::InvalidHeader {
        header,
        reason: "not a non-empty token of visible ASCII",
    })
}

fn number(value: &HeaderValue, header: &'static str) -> Result<u64, Error> {
    parse_decimal(value.as_bytes()).ok_or(Error::InvalidHeader {
        header,
        reason: "not a decimal number",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{
        X_GITHUB_DELIVERY, X_GITHUB_ENTERPRISE_HOST, X_GITHUB_ENTERPRISE_VERSION, X_GITHUB_EVENT,
        X_GITHUB_HOOK_ID, X_GITHUB_HOOK_INSTALLATION_TARGET_ID,
        X_GITHUB_HOOK_INSTALLATION_TARGET_TYPE, X_HUB_SIGNATURE, X_HUB_SIGNATURE_256,
    };
    use http::header::{CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};

    const NAMES: [(http::HeaderName, Slot); Slot::COUNT] = [
        (X_GITHUB_EVENT, Slot::Event),
        (X_GITHUB_DELIVERY, Slot::Delivery),
        (X_GITHUB_HOOK_ID, Slot::HookId),
        (X_GITHUB_HOOK_INSTALLATION_TARGET_TYPE, Slot::TargetType),
        (X_GITHUB_HOOK_INSTALLATION_TARGET_ID, Slot::TargetId),
        (X_GITHUB_ENTERPRISE_VERSION, Slot::EnterpriseVersion),
        (X_GITHUB_ENTERPRISE_HOST, Slot::EnterpriseHost),
        (CONTENT_TYPE, Slot::ContentType),
        (CONTENT_LENGTH, Slot::ContentLength),
        (USER_AGENT, Slot::UserAgent),
        (X_HUB_SIGNATURE_256, Slot::Signature256),
        (X_HUB_SIGNATURE, Slot::Signature1),
    ];

    #[test]
    fn target_types_read_write_and_serialize_as_sent() {
        assert_eq!(TargetType::KNOWN.len(), 6);
        for kind in TargetType::KNOWN {
            assert_eq!(&TargetType::from_name(kind.as_str()), kind);
            assert_eq!(kind.to_string(), kind.as_str());
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(&serde_json::from_str::<TargetType>(&json).unwrap(), kind);
        }
        assert_eq!(
            TargetType::from_name("marketplace::listing"),
            TargetType::MarketplaceListing
        );
        let unknown = TargetType::from_name("galaxy");
        assert_eq!(unknown, TargetType::Unknown("galaxy".into()));
        assert!(unknown.is_unknown());
        assert_eq!(unknown.to_string(), "galaxy");
        assert_eq!(serde_json::to_string(&unknown).unwrap(), "\"galaxy\"");
        assert_eq!(
            serde_json::from_str::<TargetType>("\"galaxy\"").unwrap(),
            unknown
        );
        assert!(serde_json::from_str::<TargetType>("7").is_err());
    }

    #[test]
    fn scan_finds_each_header_under_its_own_slot_only() {
        for (index, (name, slot)) in NAMES.iter().enumerate() {
            assert_eq!(*slot as usize, index, "{name}");
            let mut headers = HeaderMap::new();
            headers.insert("x-unrelated", HeaderValue::from_static("u"));
            headers.insert(name.clone(), HeaderValue::from_static("v"));
            let scan = HeaderScan::new(&headers);
            for (_, other) in &NAMES {
                let found = single(&scan, *other, "test").unwrap();
                assert_eq!(found.is_some(), other == slot, "{name} vs {other:?}");
            }
            assert_eq!(single(&scan, *slot, "test").unwrap().unwrap(), "v");
        }
    }

    #[test]
    fn scan_reports_a_repeated_header_and_keeps_the_first_value() {
        for (name, slot) in &NAMES {
            let mut headers = HeaderMap::new();
            headers.append(name.clone(), HeaderValue::from_static("one"));
            let scan = HeaderScan::new(&headers);
            assert_eq!(single(&scan, *slot, "test").unwrap().unwrap(), "one");
            headers.append(name.clone(), HeaderValue::from_static("two"));
            let scan = HeaderScan::new(&headers);
            assert!(matches!(
                single(&scan, *slot, "test"),
                Err(Error::InvalidHeader {
                    reason: "sent more than once",
                    ..
                })
            ));
        }
    }

    #[test]
    fn names_longer_than_255_bytes_are_refused_and_every_known_event_fits() {
        for kind in EventKind::KNOWN {
            assert!(kind.as_str().len() <= MAX_TOKEN_LEN / 4, "{kind}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(X_GITHUB_DELIVERY, HeaderValue::from_static("a1"));
        headers.insert(
            X_GITHUB_EVENT,
            HeaderValue::from_str(&"e".repeat(255)).unwrap(),
        );
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let parsed =
            DeliveryHeaders::from_headers(&headers).map(|parsed| parsed.event().as_str().len());
        assert!(matches!(parsed, Ok(255)), "{parsed:?}");
        headers.insert(
            X_GITHUB_EVENT,
            HeaderValue::from_str(&"e".repeat(256)).unwrap(),
        );
        assert!(matches!(
            DeliveryHeaders::from_headers(&headers),
            Err(Error::InvalidHeader {
                header: "X-GitHub-Event",
                ..
            })
        ));
    }

    #[test]
    fn tokens_are_visible_ascii_without_tab_space_or_control() {
        let headers_with = |event: &[u8]| {
            let mut headers = HeaderMap::new();
            headers.insert(X_GITHUB_DELIVERY, HeaderValue::from_static("a1"));
            headers.insert(X_GITHUB_EVENT, HeaderValue::from_bytes(event).unwrap());
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers
        };
        for bad in [&b"push\tstatus=200"[..], b"push status=200", b"caf\xc3\xa9"] {
            let error = DeliveryHeaders::from_headers(&headers_with(bad)).unwrap_err();
            assert_eq!(
                error.to_string(),
                "invalid X-GitHub-Event header: not a non-empty token of visible ASCII",
                "{bad:?}"
            );
            assert_eq!(error.status(), http::StatusCode::BAD_REQUEST);
        }
        let parsed = DeliveryHeaders::from_headers(&headers_with(b"!weird~event")).unwrap();
        assert_eq!(parsed.event().as_str(), "!weird~event");
        let mut headers = headers_with(b"push");
        headers.insert(
            X_GITHUB_ENTERPRISE_HOST,
            HeaderValue::from_static("ghe\texample"),
        );
        let error = DeliveryHeaders::from_headers(&headers).unwrap_err();
        assert!(
            error.to_string().contains("X-GitHub-Enterprise-Host"),
            "{error}"
        );
    }
}
