//! The receiving metrics every octohook receiver records, through the
//! [`metrics`](https://docs.rs/metrics) facade: nothing is recorded until the
//! service installs a recorder (a Prometheus exporter, OpenTelemetry, ...).
//!
//! | name | kind | labels |
//! |---|---|---|
//! | [`DELIVERIES_TOTAL`] | counter | `event`, `outcome` ([`DeliveryOutcome`]) |
//! | [`REJECTIONS_TOTAL`] | counter | `reason` ([`Rejection::reason`]) |
//!
//! The adapters (`octohook-tower`, `octohook-actix`) record rejections, and the
//! inbox records what it stores; a service that answers deliveries itself calls
//! [`record_delivery`] with [`DeliveryOutcome::Accepted`].
//!
//! Labels are bounded whatever a client sends: `event` is the name of an event
//! this version knows, or `unknown`; a rejected request's `X-GitHub-Event` is not
//! trusted beyond that.

use crate::{EventKind, Rejection};

/// `octohook_deliveries_total{event, outcome}`: deliveries received, by outcome.
pub const DELIVERIES_TOTAL: &str = "octohook_deliveries_total";
/// `octohook_rejections_total{reason}`: requests refused before a handler saw them.
pub const REJECTIONS_TOTAL: &str = "octohook_rejections_total";

/// What became of a delivery, the `outcome` label of [`DELIVERIES_TOTAL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// Verified and taken: stored in an inbox, or answered 2xx by a handler.
    Accepted,
    /// Verified, and already stored for this (hook, GUID): answered 2xx, not
    /// stored again.
    Duplicate,
    /// Refused before a handler saw it (see [`REJECTIONS_TOTAL`] for why).
    Rejected,
    /// Verified, but the store could not commit it: answered 503.
    Unavailable,
}

impl DeliveryOutcome {
    /// The label value: `accepted`, `duplicate`, `rejected` or `unavailable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Duplicate => "duplicate",
            Self::Rejected => "rejected",
            Self::Unavailable => "unavailable",
        }
    }
}

/// The `event` label of `kind`: its name when this version knows it, else
/// `unknown` (so that no client can grow the number of series).
///
/// ```
/// use octohook::EventKind;
/// use octohook::metrics::event_label;
///
/// assert_eq!(event_label(&EventKind::PullRequest), "pull_request");
/// assert_eq!(event_label(&EventKind::from_name("made_up")), "unknown");
/// ```
pub fn event_label(kind: &EventKind) -> &'static str {
    EventKind::KNOWN
        .iter()
        .find(|known| *known == kind)
        .map_or("unknown", |known| match known {
            // `KNOWN` is 'static, and so are the names of its entries.
            EventKind::Unknown(_) => "unknown",
            known => known.as_str(),
        })
}

/// Counts one delivery of `event` with `outcome` in [`DELIVERIES_TOTAL`].
pub fn record_delivery(event: &EventKind, outcome: DeliveryOutcome) {
    ::metrics::counter!(
        DELIVERIES_TOTAL,
        "event" => event_label(event),
        "outcome" => outcome.as_str(),
    )
    .increment(1);
}

/// Counts one rejected request: in [`REJECTIONS_TOTAL`] by reason, and in
/// [`DELIVERIES_TOTAL`] with [`DeliveryOutcome::Rejected`] under `event_header`, the
/// request's `X-GitHub-Event` value (`unknown` unless this version knows it).
pub fn record_rejection(rejection: &Rejection, event_header: Option<&[u8]>) {
    ::metrics::counter!(REJECTIONS_TOTAL, "reason" => rejection.reason()).increment(1);
    let event = event_header
        .and_then(|value| std::str::from_utf8(value).ok())
        .and_then(|name| EventKind::KNOWN.iter().find(|known| known.as_str() == name))
        .map_or("unknown", event_label);
    ::metrics::counter!(
        DELIVERIES_TOTAL,
        "event" => event,
        "outcome" => DeliveryOutcome::Rejected.as_str(),
    )
    .increment(1);
}
