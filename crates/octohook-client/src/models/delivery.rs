//! Deliveries of a webhook, as GitHub records them.

use std::fmt;
use std::str::FromStr;

use octohook::{DeliveryGuid, EventKind};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

id_newtype! {
    /// The id of one delivery attempt (`id` in the deliveries API).
    ///
    /// Each redelivery gets a new id; all attempts of one event share a
    /// [`DeliveryGuid`].
    ///
    /// ```
    /// use octohook_client::DeliveryId;
    ///
    /// let id: DeliveryId = "12345678".parse().unwrap();
    /// assert_eq!(id.get(), 12345678);
    /// ```
    #[derive(Deserialize)]
    pub struct DeliveryId(u64);
    "Wraps a raw id."
}

impl From<u64> for DeliveryId {
    fn from(id: u64) -> Self {
        Self(id)
    }
}

/// A delivery id that is not a decimal number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a delivery id must be a decimal number")]
pub struct InvalidDeliveryId;

impl FromStr for DeliveryId {
    type Err = InvalidDeliveryId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidDeliveryId);
        }
        s.parse().map(Self).map_err(|_| InvalidDeliveryId)
    }
}

/// A delivery as listed: everything but the request and response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeliverySummary {
    /// This attempt's id: what [`Deliveries::redeliver`](crate::Deliveries::redeliver)
    /// takes.
    pub id: DeliveryId,
    /// The event's GUID (`X-GitHub-Delivery`), shared by its redeliveries.
    pub guid: DeliveryGuid,
    /// When the delivery was made.
    #[serde(with = "time::serde::rfc3339")]
    pub delivered_at: OffsetDateTime,
    /// Whether this attempt is a redelivery.
    pub redelivery: bool,
    /// Seconds spent delivering.
    pub duration: f64,
    /// GitHub's description of the outcome: `OK`, `failed to connect`, …
    pub status: String,
    /// The receiver's HTTP status; 0 or 5xx when it could not be reached.
    pub status_code: u16,
    /// The event delivered.
    pub event: EventKind,
    /// The event's `action`, if it has one.
    pub action: Option<String>,
    /// The GitHub App installation the event belongs to.
    pub installation_id: Option<u64>,
    /// The repository the event belongs to.
    pub repository_id: Option<u64>,
    /// When GitHub throttled the delivery, if it did.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub throttled_at: Option<OffsetDateTime>,
}

impl DeliverySummary {
    /// Whether the receiver answered 2xx or 3xx, the range GitHub's `status=success`
    /// filter selects.
    pub fn succeeded(&self) -> bool {
        (200..400).contains(&self.status_code)
    }
}

/// One delivery with the request GitHub sent and the response it got.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Delivery {
    /// The fields a listing has too.
    #[serde(flatten)]
    pub summary: DeliverySummary,
    /// Where the delivery was sent.
    pub url: Option<String>,
    /// What GitHub sent.
    pub request: DeliveryRequest,
    /// What the receiver answered.
    pub response: DeliveryResponse,
}

/// The request of a delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeliveryRequest {
    /// The headers sent (`X-GitHub-Event`, `X-Hub-Signature-256`, …).
    pub headers: Option<serde_json::Map<String, serde_json::Value>>,
    /// The payload sent.
    pub payload: Option<serde_json::Value>,
}

/// The receiver's response to a delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeliveryResponse {
    /// The response headers.
    pub headers: Option<serde_json::Map<String, serde_json::Value>>,
    /// The response body, as text.
    pub payload: Option<String>,
}

/// The outcome classes GitHub's deliveries listing filters on (`status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// `success`: `status_code` 200–399.
    Success,
    /// `failure`: `status_code` 400–599.
    Failure,
}

impl DeliveryOutcome {
    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

/// `success` or `failure`.
impl FromStr for DeliveryOutcome {
    type Err = InvalidDeliveryOutcome;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "success" => Ok(Self::Success),
            "failure" => Ok(Self::Failure),
            _ => Err(InvalidDeliveryOutcome),
        }
    }
}

/// A delivery outcome filter other than `success` or `failure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a delivery status is `success` or `failure`")]
pub struct InvalidDeliveryOutcome;

/// Where the next page of deliveries starts: the `cursor` of the `Link` header's
/// `rel="next"`. Opaque; store it to resume a scan later.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeliveryCursor(String);

impl DeliveryCursor {
    /// Wraps a cursor GitHub gave.
    pub fn new(cursor: impl Into<String>) -> Self {
        Self(cursor.into())
    }

    /// The cursor as GitHub gave it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeliveryCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_decodes_githubs_example() {
        let summary: DeliverySummary = serde_json::from_str(
            r#"{"id":123456789,"guid":"0b989ba4-242f-11e5-81e1-c7b6966d2516","delivered_at":"2019-06-04T00:57:16Z",
                "redelivery":true,"duration":0.28,"status":"OK","status_code":200,"event":"issues","action":"opened",
                "installation_id":123,"repository_id":456,"throttled_at":null}"#,
        )
        .unwrap();
        assert_eq!(summary.id, DeliveryId::new(123456789));
        assert_eq!(summary.event, EventKind::Issues);
        assert!(summary.succeeded());
        assert_eq!(summary.throttled_at, None);
    }

    #[test]
    fn absent_optional_fields_decode_as_none() {
        let delivery: Delivery = serde_json::from_str(
            r#"{"id":1,"guid":"0b989ba4-242f-11e5-81e1-c7b6966d2516","delivered_at":"2019-06-04T00:57:16Z",
                "redelivery":false,"duration":0.1,"status":"failed to connect","status_code":0,"event":"push",
                "request":{},"response":{"payload":null}}"#,
        )
        .unwrap();
        let summary = &delivery.summary;
        assert_eq!(
            (
                summary.action.as_deref(),
                summary.installation_id,
                summary.repository_id
            ),
            (None, None, None)
        );
        assert_eq!(summary.throttled_at, None);
        assert_eq!(delivery.url, None);
        assert_eq!(
            (delivery.request.headers, delivery.request.payload),
            (None, None)
        );
        assert_eq!(
            (delivery.response.headers, delivery.response.payload),
            (None, None)
        );
        assert!(!summary.succeeded());
    }

    #[test]
    fn delivery_ids_are_decimal() {
        assert!("".parse::<DeliveryId>().is_err());
        assert!("+1".parse::<DeliveryId>().is_err());
        assert_eq!("42".parse::<DeliveryId>(), Ok(DeliveryId::new(42)));
    }
}
