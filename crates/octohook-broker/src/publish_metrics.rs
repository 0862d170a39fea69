//! The publish handlers' metrics, through the `metrics` facade.
#![cfg_attr(not(any(feature = "nats", feature = "amqp")), allow(dead_code))]

use std::time::{Duration, SystemTime};

/// Histogram: seconds from the start of a publish to the broker's
/// confirmation (JetStream's `PubAck`, AMQP's `basic.ack`); label `broker`.
pub const PUBLISH_SECONDS: &str = "octohook_publish_seconds";
/// Histogram: seconds from the receiver getting a delivery to the broker's
/// confirmation of its message (stored, queued, claimed, published);
/// label `broker`.
pub const PUBLISH_LAG_SECONDS: &str = "octohook_publish_lag_seconds";
/// Counter: publishes that failed (and are retried by the inbox); label
/// `broker`.
pub const PUBLISH_FAILURES: &str = "octohook_publish_failures_total";

pub(crate) fn confirmed(broker: &'static str, took: Duration, received_at: SystemTime) {
    metrics::histogram!(PUBLISH_SECONDS, "broker" => broker).record(took.as_secs_f64());
    let lag = SystemTime::now()
        .duration_since(received_at)
        .unwrap_or_default();
    metrics::histogram!(PUBLISH_LAG_SECONDS, "broker" => broker).record(lag.as_secs_f64());
}

pub(crate) fn failed(broker: &'static str) {
    metrics::counter!(PUBLISH_FAILURES, "broker" => broker).increment(1);
}
