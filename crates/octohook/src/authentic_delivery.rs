//! [`AuthenticDelivery`]: a delivery whose origin was checked, one way or the
//! other: a signature ([`VerifiedDelivery`]) or GitHub's API ([`PulledDelivery`]).

use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{
    DeliveryGuid, DeliveryHeaders, Error, EventKind, HookId, InstallationTarget, PulledDelivery,
    RawHeaders, VerifiedDelivery,
};

/// How a delivery's authenticity was established.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Authenticity {
    /// A constant-time MAC check of the body GitHub sent against a configured
    /// secret (a pushed delivery).
    Signature,
    /// An authenticated call to GitHub's API returned it (a pulled delivery);
    /// no MAC was checked.
    GitHubApi,
}

impl Authenticity {
    /// How the delivery reached the receiver, as the `origin` of its
    /// [`DeliveryRecord`](crate::DeliveryRecord) line says it: `pushed` (GitHub
    /// sent it, signed) or `pulled` (read back from GitHub's API).
    pub fn origin(self) -> &'static str {
        match self {
            Self::Signature => "pushed",
            Self::GitHubApi => "pulled",
        }
    }
}

/// A delivery a handler may trust: pushed by GitHub and verified by its
/// signature, or pulled from GitHub's API. What the
/// [`Dispatcher`](crate::Dispatcher) dispatches and its handlers receive.
///
/// It answers the questions a handler asks either kind (GUID, event, hook,
/// payload), and [`authenticity`](Self::authenticity) says which it is. Only
/// the two kinds' own constructors make one, through `From`: there is no
/// other way in.
///
/// ```
/// use octohook::{AuthenticDelivery, Authenticity, PulledDelivery};
///
/// let headers = [("X-GitHub-Event", "ping"), ("X-GitHub-Delivery", "d1")];
/// let pulled = PulledDelivery::from_github_api(headers, &serde_json::json!({"zen": "Keep it simple."}))
///     .unwrap();
/// let delivery = AuthenticDelivery::from(pulled);
/// assert_eq!(delivery.authenticity(), Authenticity::GitHubApi);
/// assert_eq!(delivery.guid().as_str(), "d1");
/// assert!(delivery.as_signed().is_none());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum AuthenticDelivery {
    /// Pushed by GitHub, its signature verified.
    Signed(VerifiedDelivery),
    /// Pulled from GitHub's API.
    Pulled(PulledDelivery),
}

impl From<VerifiedDelivery> for AuthenticDelivery {
    fn from(delivery: VerifiedDelivery) -> Self {
        Self::Signed(delivery)
    }
}

impl From<&VerifiedDelivery> for AuthenticDelivery {
    /// A clone (which shares the body's bytes).
    fn from(delivery: &VerifiedDelivery) -> Self {
        Self::Signed(delivery.clone())
    }
}

impl From<PulledDelivery> for AuthenticDelivery {
    fn from(delivery: PulledDelivery) -> Self {
        Self::Pulled(delivery)
    }
}

impl From<&PulledDelivery> for AuthenticDelivery {
    /// A clone (which shares the payload's bytes).
    fn from(delivery: &PulledDelivery) -> Self {
        Self::Pulled(delivery.clone())
    }
}

impl From<&AuthenticDelivery> for AuthenticDelivery {
    /// A clone (which shares the payload's bytes).
    fn from(delivery: &AuthenticDelivery) -> Self {
        delivery.clone()
    }
}

impl AuthenticDelivery {
    /// How its authenticity was established.
    pub fn authenticity(&self) -> Authenticity {
        match self {
            Self::Signed(_) => Authenticity::Signature,
            Self::Pulled(_) => Authenticity::GitHubApi,
        }
    }

    /// The signature-verified delivery, when it is one.
    pub fn as_signed(&self) -> Option<&VerifiedDelivery> {
        match self {
            Self::Signed(delivery) => Some(delivery),
            Self::Pulled(_) => None,
        }
    }

    /// The pulled delivery, when it is one.
    pub fn as_pulled(&self) -> Option<&PulledDelivery> {
        match self {
            Self::Signed(_) => None,
            Self::Pulled(delivery) => Some(delivery),
        }
    }

    /// The delivery headers.
    pub fn headers(&self) -> &DeliveryHeaders {
        match self {
            Self::Signed(delivery) => delivery.headers(),
            Self::Pulled(delivery) => delivery.headers(),
        }
    }

    /// GitHub's headers of the request (a pulled delivery's without the
    /// signature headers).
    pub fn raw_headers(&self) -> &RawHeaders {
        match self {
            Self::Signed(delivery) => delivery.raw_headers(),
            Self::Pulled(delivery) => delivery.raw_headers(),
        }
    }

    /// The event (`X-GitHub-Event`).
    pub fn event_kind(&self) -> &EventKind {
        self.headers().event()
    }

    /// The payload's `action` field, for events that have actions.
    pub fn action(&self) -> Option<&str> {
        match self {
            Self::Signed(delivery) => delivery.action(),
            Self::Pulled(delivery) => delivery.action(),
        }
    }

    /// Checks that the payload is a JSON object (see
    /// [`VerifiedDelivery::check_payload`]); a pulled delivery's always is.
    pub fn check_payload(&self) -> Result<(), Error> {
        match self {
            Self::Signed(delivery) => delivery.check_payload(),
            Self::Pulled(_) => Ok(()),
        }
    }

    /// The delivery's GUID (`X-GitHub-Delivery`).
    pub fn guid(&self) -> &DeliveryGuid {
        self.headers().guid()
    }

    /// The hook's id (`X-GitHub-Hook-ID`), when sent.
    pub fn hook_id(&self) -> Option<HookId> {
        self.headers().hook_id()
    }

    /// The resource the hook is installed on, when sent.
    pub fn target(&self) -> Option<&InstallationTarget> {
        self.headers().target()
    }

    /// The JSON payload: a pushed delivery's as received (a form body's
    /// `payload` field decoded), a pulled one's re-serialised (see
    /// [`PulledDelivery::payload`]).
    pub fn payload(&self) -> &Bytes {
        match self {
            Self::Signed(delivery) => delivery.payload(),
            Self::Pulled(delivery) => delivery.payload(),
        }
    }

    /// Deserializes the payload into `T`, which may borrow from it.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, Error> {
        serde_json::from_slice(self.payload()).map_err(Error::InvalidPayload)
    }

    /// Deserializes the payload into an owned `T`.
    pub fn parse_owned<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.parse()
    }

    /// The payload as a [`serde_json::Value`].
    pub fn json_value(&self) -> Result<serde_json::Value, Error> {
        self.parse()
    }

    /// Parses the payload into its typed [`Event`](crate::events::Event).
    #[cfg(feature = "events-core")]
    pub fn event(&self) -> Result<crate::events::Event, crate::events::EventError> {
        crate::events::Event::parse(self.event_kind(), self.payload().clone())
    }
}
