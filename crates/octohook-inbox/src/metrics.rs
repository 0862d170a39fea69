//! The inbox's metrics, recorded through the [`metrics`](https://docs.rs/metrics)
//! facade (feature `metrics`, on by default), beside the core's receiving
//! metrics (`octohook::metrics`):
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `octohook_deliveries_total` | counter | `event`, `outcome`: `accepted`, `duplicate` or `unavailable`, from [`Inbox::receive`](crate::Inbox::receive) |
//! | [`HANDLER_ATTEMPTS_TOTAL`] | counter | `outcome`: `done`, `retry`, `failed` or `lost` |
//! | [`HANDLER_DURATION_SECONDS`] | histogram | (none): the time a handler ran, per attempt |
//! | [`INBOX_DELIVERIES`] | gauge | `status`: `pending`, `processing`, `done`, `failed`; set by [`record_counts`] |
//! | [`DROPPED_HEADERS_TOTAL`] | counter | (none): `X-GitHub-*`/`X-Hub-*` headers not stored with a delivery (not GitHub's, repeated, or past [`RawHeaders::MAX_BYTES`](octohook::RawHeaders::MAX_BYTES)) |
//! | [`DROPPED_HEADER_BYTES_TOTAL`] | counter | (none): their bytes, names and values |
//!
//! The gauge is a count of rows, so it is read from the store when it is
//! needed: call [`record_counts`] with [`Inbox::counts`](crate::Inbox::counts)
//! before a scrape. Counting a large SQL inbox scans its table (off the write
//! path, but not free), so count once for concurrent scrapes and at most every
//! few seconds, as `octohook serve`'s `/metrics` does (every 5 s).

use std::time::Duration;

use octohook::metrics::{DeliveryOutcome, record_delivery};
use octohook::{DroppedHeaders, EventKind};

use crate::worker::AttemptOutcome;
use crate::{DeliveryStatus, Receipt, StatusCounts};

/// `octohook_handler_attempts_total{outcome}`: handler attempts, by what became
/// of the delivery.
pub const HANDLER_ATTEMPTS_TOTAL: &str = "octohook_handler_attempts_total";
/// `octohook_handler_duration_seconds`: how long each handler attempt ran.
pub const HANDLER_DURATION_SECONDS: &str = "octohook_handler_duration_seconds";
/// `octohook_inbox_deliveries{status}`: the deliveries in the store, by status.
pub const INBOX_DELIVERIES: &str = "octohook_inbox_deliveries";

/// `octohook_inbox_dropped_headers_total`: headers in GitHub's namespace that a
/// store did not keep with a delivery. Growing fast, it is someone replaying a
/// captured delivery with padding headers.
pub const DROPPED_HEADERS_TOTAL: &str = "octohook_inbox_dropped_headers_total";
/// `octohook_inbox_dropped_header_bytes_total`: the bytes of those headers.
pub const DROPPED_HEADER_BYTES_TOTAL: &str = "octohook_inbox_dropped_header_bytes_total";

/// Sets [`INBOX_DELIVERIES`] to `counts`, one series per status.
pub fn record_counts(counts: &StatusCounts) {
    for status in DeliveryStatus::ALL {
        ::metrics::gauge!(INBOX_DELIVERIES, "status" => status.as_str())
            .set(counts.get(status) as f64);
    }
}

/// Counts a received delivery in `octohook_deliveries_total` by its receipt (and
/// a refused payload in `octohook_rejections_total` too, as `bad_payload`).
pub(crate) fn record_receipt(event: &EventKind, receipt: &Receipt) {
    let outcome = match receipt {
        Receipt::Stored { .. } => DeliveryOutcome::Accepted,
        Receipt::Duplicate { .. } => DeliveryOutcome::Duplicate,
        Receipt::Refused(_) => {
            ::metrics::counter!(octohook::metrics::REJECTIONS_TOTAL, "reason" => "bad_payload")
                .increment(1);
            DeliveryOutcome::Rejected
        }
        Receipt::Unavailable(_) => DeliveryOutcome::Unavailable,
    };
    record_delivery(event, outcome);
}

/// Counts headers left out of a delivery's stored ones.
pub(crate) fn record_dropped_headers(dropped: DroppedHeaders) {
    ::metrics::counter!(DROPPED_HEADERS_TOTAL).increment(dropped.headers);
    ::metrics::counter!(DROPPED_HEADER_BYTES_TOTAL).increment(dropped.bytes);
}

/// Counts one handler attempt that ran for `elapsed` (none when the worker gave
/// up without running it) and ended in `outcome`.
pub(crate) fn record_attempt(outcome: &AttemptOutcome, elapsed: Option<Duration>) {
    let label = match outcome {
        AttemptOutcome::Done => "done",
        AttemptOutcome::Retrying { .. } => "retry",
        AttemptOutcome::Failed { .. } => "failed",
        AttemptOutcome::Lost => "lost",
    };
    ::metrics::counter!(HANDLER_ATTEMPTS_TOTAL, "outcome" => label).increment(1);
    if let Some(elapsed) = elapsed {
        ::metrics::histogram!(HANDLER_DURATION_SECONDS).record(elapsed.as_secs_f64());
    }
}
