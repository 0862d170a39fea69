//! Webhooks and their configuration, as GitHub answers them and as they are written.

use octohook::{EventKind, HookId, WebhookSecret};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A webhook as registered on GitHub: a repository's or organization's hook, as
/// the REST API answers it.
///
/// Not to be confused with `octohook::events::Hook`, the hook a `ping` delivery
/// describes in its payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RegisteredHook {
    /// The hook's id, also sent in every delivery's `X-GitHub-Hook-ID`.
    pub id: HookId,
    /// `web` for webhooks.
    #[serde(default)]
    pub name: String,
    /// `Repository`, `Organization`, …
    #[serde(rename = "type")]
    pub kind: HookKind,
    /// Whether deliveries are sent.
    pub active: bool,
    /// The events the hook is sent for; `*` (an unknown event here) means all.
    pub events: Vec<EventKind>,
    /// Where and how deliveries are sent.
    pub config: RegisteredHookConfig,
    /// When the hook was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the hook was last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The hook's API URL.
    pub url: Option<String>,
    /// The API URL that pings the hook.
    pub ping_url: Option<String>,
    /// The API URL that sends the latest push to the hook (repositories only).
    pub test_url: Option<String>,
    /// The API URL of the hook's deliveries.
    pub deliveries_url: Option<String>,
    /// The outcome of the latest delivery (repositories only).
    pub last_response: Option<LastResponse>,
}

octohook::string_enum! {
    /// What a hook belongs to (its `type`).
    pub enum HookKind {
        /// `Repository`.
        Repository = "Repository",
        /// `Organization`.
        Organization = "Organization",
        /// `App`.
        App = "App",
    }
}

/// The latest delivery's outcome, as a hook reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LastResponse {
    /// The receiver's HTTP status, if it answered.
    pub code: Option<u16>,
    /// `active`, `unused`, or a description of the failure.
    pub status: Option<String>,
    /// The receiver's message, if any.
    pub message: Option<String>,
}

/// A registered hook's delivery settings (its `config`), as GitHub answers them.
///
/// Not `octohook::events::HookConfig`, the settings a `ping` payload carries.
///
/// The secret is write-only: GitHub answers `********` when one is set, so only
/// [`RegisteredHookConfig::has_secret`] is kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "WireConfig")]
#[non_exhaustive]
pub struct RegisteredHookConfig {
    /// Where deliveries are POSTed.
    pub url: Option<String>,
    /// How deliveries are encoded; GitHub's default is `form`.
    pub content_type: Option<HookContentType>,
    /// Whether the receiver's TLS certificate is verified.
    pub insecure_ssl: Option<CertificateCheck>,
    /// Whether a secret is set (deliveries are signed).
    pub has_secret: bool,
}

#[derive(Deserialize)]
struct WireConfig {
    url: Option<String>,
    content_type: Option<HookContentType>,
    insecure_ssl: Option<CertificateCheck>,
    secret: Option<serde::de::IgnoredAny>,
}

impl From<WireConfig> for RegisteredHookConfig {
    fn from(wire: WireConfig) -> Self {
        Self {
            url: wire.url,
            content_type: wire.content_type,
            insecure_ssl: wire.insecure_ssl,
            has_secret: wire.secret.is_some(),
        }
    }
}

octohook::string_enum! {
    /// How deliveries are encoded (a hook's `content_type`).
    pub enum HookContentType {
        /// `json`: the body is the JSON payload.
        Json = "json",
        /// `form`: the JSON payload is the `payload` field of a form.
        Form = "form",
    }
}

/// `json` or `form`; anything else is kept as [`HookContentType::Unknown`].
impl std::str::FromStr for HookContentType {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from_value(s))
    }
}

octohook::string_enum! {
    /// Whether GitHub verifies the receiver's TLS certificate (a hook's
    /// `insecure_ssl`: `"0"` verifies, `"1"` does not). GitHub sends it as a string or
    /// a number; it is written as a string.
    #[string_enum(accept_numbers)]
    #[derive(Default)]
    pub enum CertificateCheck {
        /// `0`: the certificate is verified (GitHub's default, and the only safe one).
        #[default]
        Verify = "0",
        /// `1`: the certificate is not verified.
        Skip = "1",
    }
}

/// A new webhook for [`Hooks::create`](crate::Hooks::create).
///
/// ```
/// use octohook::EventKind;
/// use octohook_client::{HookContentType, NewHook};
///
/// let mut hook = NewHook::new("https://hooks.example.com/github");
/// hook.events = vec![EventKind::Push, EventKind::PullRequest];
/// hook.content_type = Some(HookContentType::Json);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NewHook {
    /// Where deliveries are POSTed.
    pub url: String,
    /// The events to send; GitHub's default is `push` only.
    pub events: Vec<EventKind>,
    /// `json` or `form` (GitHub's default).
    pub content_type: Option<HookContentType>,
    /// The secret deliveries are signed with.
    pub secret: Option<WebhookSecret>,
    /// Whether to verify the receiver's certificate; `None` leaves GitHub's default
    /// (verify).
    pub insecure_ssl: Option<CertificateCheck>,
    /// Whether deliveries are sent. Default: `true`.
    pub active: bool,
}

impl NewHook {
    /// An active hook sending `push` to `url`, as GitHub would default it.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            events: vec![EventKind::Push],
            content_type: None,
            secret: None,
            insecure_ssl: None,
            active: true,
        }
    }
}

/// Changes to a webhook for [`Hooks::update`](crate::Hooks::update); `None` and
/// empty fields are left unchanged.
///
/// GitHub replaces the whole `config` when one is given, removing the secret unless
/// it is given again: to change single settings, use
/// [`Hooks::update_config`](crate::Hooks::update_config) instead.
///
/// ```
/// use octohook::EventKind;
/// use octohook_client::HookUpdate;
///
/// let mut update = HookUpdate::default();
/// update.add_events = vec![EventKind::Issues];
/// update.remove_events = vec![EventKind::Push];
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct HookUpdate {
    /// Replaces the configuration.
    pub config: Option<ConfigUpdate>,
    /// Replaces the list of events.
    pub events: Option<Vec<EventKind>>,
    /// Events to add to the list.
    pub add_events: Vec<EventKind>,
    /// Events to remove from the list.
    pub remove_events: Vec<EventKind>,
    /// Turns deliveries on or off.
    pub active: Option<bool>,
}

/// Configuration settings to write; `None` fields are left unchanged by
/// [`Hooks::update_config`](crate::Hooks::update_config).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ConfigUpdate {
    /// Where deliveries are POSTed.
    pub url: Option<String>,
    /// `json` or `form`.
    pub content_type: Option<HookContentType>,
    /// The secret deliveries are signed with.
    pub secret: Option<WebhookSecret>,
    /// Whether to verify the receiver's certificate.
    pub insecure_ssl: Option<CertificateCheck>,
}

/// Request bodies. The secret is written here and nowhere else: the public input
/// types have no `Serialize`, so they cannot leak it by being printed as JSON.
pub(crate) mod wire {
    use serde::Serialize;

    use super::*;
    use crate::error::ClientError;

    #[derive(Serialize)]
    pub(crate) struct Config<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        url: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        content_type: Option<&'a HookContentType>,
        #[serde(skip_serializing_if = "Option::is_none")]
        secret: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        insecure_ssl: Option<&'a CertificateCheck>,
    }

    fn secret_text(secret: Option<&WebhookSecret>) -> Result<Option<&str>, ClientError> {
        secret
            .map(|s| {
                std::str::from_utf8(s.expose_bytes()).map_err(|_| {
                    ClientError::InvalidInput(
                        "GitHub only stores webhook secrets that are UTF-8".into(),
                    )
                })
            })
            .transpose()
    }

    impl<'a> Config<'a> {
        pub(crate) fn from_update(update: &'a ConfigUpdate) -> Result<Self, ClientError> {
            Ok(Self {
                url: update.url.as_deref(),
                content_type: update.content_type.as_ref(),
                secret: secret_text(update.secret.as_ref())?,
                insecure_ssl: update.insecure_ssl.as_ref(),
            })
        }
    }

    #[derive(Serialize)]
    pub(crate) struct CreateHook<'a> {
        name: &'static str,
        config: Config<'a>,
        events: &'a [EventKind],
        active: bool,
    }

    impl<'a> CreateHook<'a> {
        pub(crate) fn new(hook: &'a NewHook) -> Result<Self, ClientError> {
            Ok(Self {
                name: "web",
                config: Config {
                    url: Some(&hook.url),
                    content_type: hook.content_type.as_ref(),
                    secret: secret_text(hook.secret.as_ref())?,
                    insecure_ssl: hook.insecure_ssl.as_ref(),
                },
                events: &hook.events,
                active: hook.active,
            })
        }
    }

    #[derive(Serialize)]
    pub(crate) struct UpdateHook<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        config: Option<Config<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        events: Option<&'a [EventKind]>,
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        add_events: &'a [EventKind],
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        remove_events: &'a [EventKind],
        #[serde(skip_serializing_if = "Option::is_none")]
        active: Option<bool>,
    }

    impl<'a> UpdateHook<'a> {
        pub(crate) fn new(update: &'a HookUpdate) -> Result<Self, ClientError> {
            Ok(Self {
                config: update
                    .config
                    .as_ref()
                    .map(Config::from_update)
                    .transpose()?,
                events: update.events.as_deref(),
                add_events: &update.add_events,
                remove_events: &update.remove_events,
                active: update.active,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keeps_only_whether_a_secret_is_set() {
        let config: RegisteredHookConfig = serde_json::from_str(
            r#"{"content_type":"json","insecure_ssl":0,"secret":"********","url":"https://example.com/webhook"}"#,
        )
        .unwrap();
        assert!(config.has_secret);
        assert_eq!(config.content_type, Some(HookContentType::Json));
        assert_eq!(config.insecure_ssl, Some(CertificateCheck::Verify));
        let printed = serde_json::to_string(&config).unwrap();
        assert!(!printed.contains("****"), "{printed}");
        let empty: RegisteredHookConfig = serde_json::from_str("{}").unwrap();
        assert!(!empty.has_secret);
    }

    #[test]
    fn enum_like_strings_fall_back_to_unknown() {
        let config: RegisteredHookConfig =
            serde_json::from_str(r#"{"content_type":"xml","insecure_ssl":"2"}"#).unwrap();
        assert_eq!(
            config.content_type,
            Some(HookContentType::Unknown("xml".into()))
        );
        assert_eq!(
            config.insecure_ssl,
            Some(CertificateCheck::Unknown("2".into()))
        );
        let kind: HookKind = serde_json::from_str(r#""Marketplace""#).unwrap();
        assert_eq!(kind, HookKind::Unknown("Marketplace".into()));
    }

    #[test]
    fn certificate_check_reads_strings_and_numbers_and_writes_strings() {
        let read = |json: &str| serde_json::from_str::<CertificateCheck>(json).unwrap();
        assert_eq!(read("0"), CertificateCheck::Verify);
        assert_eq!(read(r#""1""#), CertificateCheck::Skip);
        assert_eq!(read("7"), CertificateCheck::Unknown("7".into()));
        assert_eq!(read("-1"), CertificateCheck::Unknown("-1".into()));
        assert_eq!(read("1.0"), CertificateCheck::Unknown("1.0".into()));
        assert!(serde_json::from_str::<CertificateCheck>("true").is_err());
        assert!(serde_json::from_str::<CertificateCheck>("null").is_err());
        assert_eq!(CertificateCheck::default(), CertificateCheck::Verify);
        for (check, json) in [
            (CertificateCheck::Verify, r#""0""#),
            (CertificateCheck::Skip, r#""1""#),
            (CertificateCheck::Unknown("7".into()), r#""7""#),
        ] {
            assert_eq!(serde_json::to_string(&check).unwrap(), json);
        }
    }

    #[test]
    fn kinds_and_content_types_are_strings_both_ways() {
        for kind in HookKind::KNOWN {
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(&serde_json::from_str::<HookKind>(&json).unwrap(), kind);
        }
        assert!(serde_json::from_str::<HookKind>("1").is_err());
        assert_eq!("form".parse(), Ok(HookContentType::Form));
        assert_eq!("xml".parse(), Ok(HookContentType::Unknown("xml".into())));
        assert_eq!(HookContentType::Json.to_string(), "json");
        assert_eq!(
            serde_json::to_string(&HookContentType::Unknown("xml".into())).unwrap(),
            r#""xml""#
        );
    }

    #[test]
    fn create_body_is_githubs_shape() {
        let mut hook = NewHook::new("https://example.com/hook");
        hook.secret = Some(WebhookSecret::new("s3cret").unwrap());
        hook.content_type = Some(HookContentType::Json);
        let body = serde_json::to_value(wire::CreateHook::new(&hook).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "name": "web",
                "config": {"url": "https://example.com/hook", "content_type": "json", "secret": "s3cret"},
                "events": ["push"],
                "active": true,
            })
        );
        assert!(!format!("{hook:?}").contains("s3cret"));
    }
}
