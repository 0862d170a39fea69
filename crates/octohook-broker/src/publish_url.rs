//! [`PublishTarget`]: where `octohook serve --publish URL` hands deliveries,
//! parsed from its URL.

use std::fmt;
use std::str::FromStr;

use percent_encoding::percent_decode_str;
use url::Url;

use crate::name_template::{NameRules, NameTemplate, TemplateError};

/// The NATS port when the URL names none.
pub const NATS_DEFAULT_PORT: u16 = 4222;
/// The AMQP port when the URL names none.
pub const AMQP_DEFAULT_PORT: u16 = 5672;

/// A broker to publish deliveries to, parsed from a URL:
///
/// - `nats://[USER:PASS@]HOST[:PORT]/SUBJECT`: NATS JetStream; `SUBJECT` is a
///   [`NameTemplate`] (`github.{event}.{action}`), and a stream must cover it.
/// - `amqp://USER:PASS@HOST[:PORT]/VHOST?exchange=NAME&routing_key=KEY`:
///   RabbitMQ (AMQP 0.9.1); `KEY` is a [`NameTemplate`], `VHOST` is
///   percent-encoded (`%2f` for `/`, the default when the path is empty), and
///   an empty `exchange` is the default exchange (the routing key then names a
///   queue).
///
/// Neither `Debug` nor `Display` shows a password.
///
/// ```
/// use octohook_broker::PublishTarget;
///
/// let target: PublishTarget = "nats://127.0.0.1:4222/github.{event}.{action}".parse().unwrap();
/// assert_eq!(target.to_string(), "nats://127.0.0.1:4222/github.{event}.{action}");
///
/// let target: PublishTarget =
///     "amqp://app:hunter2@rabbit:5672/%2f?exchange=github&routing_key={event}.{action}".parse().unwrap();
/// assert_eq!(target.to_string(), "amqp://app:***@rabbit:5672/%2F?exchange=github&routing_key={event}.{action}");
/// assert!(!format!("{target:?}").contains("hunter2"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishTarget {
    /// A NATS JetStream subject.
    Nats(NatsTarget),
    /// An AMQP exchange and routing key.
    Amqp(AmqpTarget),
}

/// A NATS server and the subject template to publish on.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsTarget {
    host: String,
    port: u16,
    credentials: Option<Credentials>,
    subject: NameTemplate,
}

/// An AMQP broker, virtual host, exchange and routing-key template.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpTarget {
    host: String,
    port: u16,
    credentials: Credentials,
    vhost: String,
    exchange: String,
    routing_key: NameTemplate,
}

/// A user name and password from a URL, decoded; the password is never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    user: String,
    password: String,
}

impl Credentials {
    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The password (for the connection only: never print it).
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// Why a publish URL was refused. The URL itself is never repeated: it may
/// hold a password.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishUrlError {
    /// Not a URL at all.
    #[error("the publish URL does not parse: {0}")]
    Syntax(url::ParseError),
    /// A scheme other than `nats` and `amqp`.
    #[error("the publish URL's scheme is `{0}`; expected nats:// or amqp://")]
    Scheme(String),
    /// `amqps://`: this build has no TLS for AMQP.
    #[error(
        "amqps:// is not supported: octohook-broker speaks AMQP without TLS (use a private network or a TLS tunnel)"
    )]
    AmqpTls,
    /// No host.
    #[error("the publish URL names no host")]
    NoHost,
    /// A NATS URL without a subject.
    #[error("a nats:// publish URL needs a subject: nats://HOST:PORT/SUBJECT")]
    NoSubject,
    /// An AMQP URL without `exchange=` or `routing_key=`.
    #[error("an amqp:// publish URL needs `{0}=` in its query")]
    MissingParameter(&'static str),
    /// A query parameter the URL form does not have.
    #[error("the publish URL has an unknown query parameter `{0}`")]
    UnknownParameter(String),
    /// An AMQP URL without a user name and password.
    #[error("an amqp:// publish URL needs USER:PASS@")]
    NoCredentials,
    /// A percent-encoded part that is not UTF-8.
    #[error("the publish URL's {0} is not UTF-8 once percent-decoded")]
    NotUtf8(&'static str),
    /// The subject or routing key template is not valid.
    #[error("the publish URL's {part}: {source}")]
    Template {
        /// `subject` or `routing key`.
        part: &'static str,
        /// What is wrong with it.
        #[source]
        source: TemplateError,
    },
    /// An exchange name AMQP does not allow.
    #[error("the exchange name must be at most 127 bytes of letters, digits, `-`, `_`, `.` or `:`")]
    Exchange,
}

impl PublishTarget {
    /// Parses a publish URL (see the [type](Self)).
    pub fn parse(text: &str) -> Result<Self, PublishUrlError> {
        let url = Url::parse(text).map_err(PublishUrlError::Syntax)?;
        match url.scheme() {
            "nats" => NatsTarget::from_url(&url).map(Self::Nats),
            "amqp" => AmqpTarget::from_url(&url).map(Self::Amqp),
            "amqps" => Err(PublishUrlError::AmqpTls),
            other => Err(PublishUrlError::Scheme(other.to_owned())),
        }
    }

    /// `nats` or `amqp`: the broker's kind, as metrics and spans name it.
    pub fn broker(&self) -> &'static str {
        match self {
            Self::Nats(_) => "nats",
            Self::Amqp(_) => "amqp",
        }
    }
}

impl FromStr for PublishTarget {
    type Err = PublishUrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

fn host_of(url: &Url) -> Result<String, PublishUrlError> {
    match url.host_str() {
        Some(host) if !host.is_empty() => Ok(host.to_owned()),
        _ => Err(PublishUrlError::NoHost),
    }
}

fn decoded(text: &str, part: &'static str) -> Result<String, PublishUrlError> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| PublishUrlError::NotUtf8(part))
}

fn credentials_of(url: &Url) -> Result<Option<Credentials>, PublishUrlError> {
    if url.username().is_empty() && url.password().is_none() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        user: decoded(url.username(), "user name")?,
        password: decoded(url.password().unwrap_or_default(), "password")?,
    }))
}

impl NatsTarget {
    fn from_url(url: &Url) -> Result<Self, PublishUrlError> {
        let host = host_of(url)?;
        if let Some((name, _)) = url.query_pairs().next() {
            return Err(PublishUrlError::UnknownParameter(name.into_owned()));
        }
        let subject = decoded(url.path().trim_start_matches('/'), "subject")?;
        if subject.is_empty() {
            return Err(PublishUrlError::NoSubject);
        }
        let subject = NameTemplate::parse(&subject, NameRules::NatsSubject).map_err(|source| {
            PublishUrlError::Template {
                part: "subject",
                source,
            }
        })?;
        Ok(Self {
            host,
            port: url.port().unwrap_or(NATS_DEFAULT_PORT),
            credentials: credentials_of(url)?,
            subject,
        })
    }

    /// The server's host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `HOST:PORT`, as async-nats takes it.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The user name and password, when the URL has them.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// The subject template.
    pub fn subject(&self) -> &NameTemplate {
        &self.subject
    }
}

impl AmqpTarget {
    fn from_url(url: &Url) -> Result<Self, PublishUrlError> {
        let host = host_of(url)?;
        let credentials = credentials_of(url)?.ok_or(PublishUrlError::NoCredentials)?;
        let vhost = match url.path().trim_start_matches('/') {
            "" => "/".to_owned(),
            path => decoded(path, "virtual host")?,
        };
        let (mut exchange, mut routing_key) = (None, None);
        for (name, value) in url.query_pairs() {
            match &*name {
                "exchange" => exchange = Some(value.into_owned()),
                "routing_key" => routing_key = Some(value.into_owned()),
                _ => return Err(PublishUrlError::UnknownParameter(name.into_owned())),
            }
        }
        let exchange = exchange.ok_or(PublishUrlError::MissingParameter("exchange"))?;
        let valid_exchange = exchange.len() <= 127
            && exchange
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if !valid_exchange {
            return Err(PublishUrlError::Exchange);
        }
        let routing_key = routing_key.ok_or(PublishUrlError::MissingParameter("routing_key"))?;
        let routing_key =
            NameTemplate::parse(&routing_key, NameRules::AmqpRoutingKey).map_err(|source| {
                PublishUrlError::Template {
                    part: "routing key",
                    source,
                }
            })?;
        Ok(Self {
            host,
            port: url.port().unwrap_or(AMQP_DEFAULT_PORT),
            credentials,
            vhost,
            exchange,
            routing_key,
        })
    }

    /// The broker's host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The broker's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user name and password.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The virtual host, decoded (`/` by default).
    pub fn vhost(&self) -> &str {
        &self.vhost
    }

    /// The exchange (empty: the default exchange).
    pub fn exchange(&self) -> &str {
        &self.exchange
    }

    /// The routing-key template.
    pub fn routing_key(&self) -> &NameTemplate {
        &self.routing_key
    }

    /// The connection URI with the password, for the AMQP client only.
    #[cfg_attr(not(feature = "amqp"), allow(dead_code))]
    pub(crate) fn connection_uri(&self) -> String {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let encode = |text: &str| utf8_percent_encode(text, NON_ALPHANUMERIC).to_string();
        format!(
            "amqp://{}:{}@{}:{}/{}",
            encode(&self.credentials.user),
            encode(&self.credentials.password),
            bracketed(&self.host),
            self.port,
            encode(&self.vhost)
        )
    }
}

fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

impl fmt::Display for NatsTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nats://")?;
        if let Some(credentials) = &self.credentials {
            write!(f, "{}:***@", credentials.user)?;
        }
        write!(
            f,
            "{}:{}/{}",
            bracketed(&self.host),
            self.port,
            self.subject
        )
    }
}

impl fmt::Display for AmqpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        write!(
            f,
            "amqp://{}:***@{}:{}/{}?exchange={}&routing_key={}",
            self.credentials.user,
            bracketed(&self.host),
            self.port,
            utf8_percent_encode(&self.vhost, NON_ALPHANUMERIC),
            self.exchange,
            self.routing_key
        )
    }
}

impl fmt::Display for PublishTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nats(target) => target.fmt(f),
            Self::Amqp(target) => target.fmt(f),
        }
    }
}

// Debug is Display: the password is starred in both.
macro_rules! debug_as_display {
    ($($type:ty),*) => {$(
        impl fmt::Debug for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($type))
            }
        }
    )*};
}
debug_as_display!(PublishTarget, NatsTarget, AmqpTarget);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nats_url_gives_the_address_and_the_subject_template() {
        let PublishTarget::Nats(target) =
            PublishTarget::parse("nats://localhost/github.{event}").unwrap()
        else {
            panic!("not nats")
        };
        assert_eq!(target.address(), "localhost:4222");
        assert_eq!(target.subject().to_string(), "github.{event}");
        assert!(target.credentials().is_none());
    }

    #[test]
    fn an_amqp_url_gives_vhost_exchange_and_routing_key() {
        let PublishTarget::Amqp(target) = PublishTarget::parse(
            "amqp://u%40x:p%2Fw@h:5673/prod?exchange=gh&routing_key=k.{event}",
        )
        .unwrap() else {
            panic!("not amqp")
        };
        assert_eq!(target.credentials().user(), "u@x");
        assert_eq!(target.credentials().password(), "p/w");
        assert_eq!(
            (target.port(), target.vhost(), target.exchange()),
            (5673, "prod", "gh")
        );
        assert_eq!(target.connection_uri(), "amqp://u%40x:p%2Fw@h:5673/prod");
        let default_vhost = PublishTarget::parse("amqp://u:p@h?exchange=&routing_key=q").unwrap();
        let PublishTarget::Amqp(default_vhost) = default_vhost else {
            panic!()
        };
        assert_eq!(default_vhost.vhost(), "/");
        assert_eq!(default_vhost.connection_uri(), "amqp://u:p@h:5672/%2F");
    }

    #[test]
    fn the_password_is_never_displayed_nor_debugged() {
        for url in [
            "amqp://app:hunter2@h:5672/%2f?exchange=x&routing_key=k",
            "nats://app:hunter2@h:4222/s",
        ] {
            let target = PublishTarget::parse(url).unwrap();
            for shown in [
                target.to_string(),
                format!("{target:?}"),
                format!("{target:#?}"),
            ] {
                assert!(!shown.contains("hunter2"), "{shown}");
                assert!(shown.contains("app:***@"), "{shown}");
            }
            let PublishTarget::Amqp(amqp) = target else {
                continue;
            };
            assert!(!format!("{:?}", amqp.credentials()).contains("hunter2"));
        }
    }

    #[test]
    fn errors_name_what_is_wrong_without_the_url() {
        let cases = [
            (
                "http://secret:hunter2@h/x",
                PublishUrlError::Scheme("http".into()),
            ),
            (
                "amqps://u:hunter2@h/?exchange=x&routing_key=k",
                PublishUrlError::AmqpTls,
            ),
            ("nats://u:hunter2@h:4222", PublishUrlError::NoSubject),
            ("nats://u:hunter2@h:4222/", PublishUrlError::NoSubject),
            (
                "amqp://h/?exchange=x&routing_key=k",
                PublishUrlError::NoCredentials,
            ),
            (
                "amqp://u:hunter2@h/?routing_key=k",
                PublishUrlError::MissingParameter("exchange"),
            ),
            (
                "amqp://u:hunter2@h/?exchange=x",
                PublishUrlError::MissingParameter("routing_key"),
            ),
            (
                "amqp://u:hunter2@h/?exchange=x&routing_key=k&queue=q",
                PublishUrlError::UnknownParameter("queue".into()),
            ),
            (
                "amqp://u:hunter2@h/?exchange=a%20b&routing_key=k",
                PublishUrlError::Exchange,
            ),
        ];
        for (url, expected) in cases {
            let error = PublishTarget::parse(url).unwrap_err();
            assert_eq!(error, expected, "{url}");
            assert!(!error.to_string().contains("hunter2"), "{error}");
        }
        assert!(matches!(
            PublishTarget::parse("nats://h/a.{who}"),
            Err(PublishUrlError::Template {
                part: "subject",
                ..
            })
        ));
        assert!(matches!(
            PublishTarget::parse("nats://h/a..b"),
            Err(PublishUrlError::Template { .. })
        ));
    }
}
