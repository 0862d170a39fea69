//! Hands GitHub webhook deliveries from the octohook inbox to the brokers
//! services already run, and reads them back on the consumer's side, verified
//! again.
//!
//! - **Publishing** runs as an inbox [`Handler`](octohook_inbox::Handler): in
//!   the inbox's workers, after the delivery is stored, completing only once
//!   the broker has confirmed the message; a failure is retried with the
//!   inbox's backoff.
//!   - [`JetStreamPublisher`] (feature `nats`, on by default): NATS JetStream,
//!     with `Nats-Msg-Id` = `HOOK:GUID`, so the stream drops a re-publish:
//!     **exactly once into the stream** within its duplicate window. At start
//!     it checks that a stream covers the subject and reads that window.
//!   - [`AmqpPublisher`] (feature `amqp`): RabbitMQ, persistent, with
//!     publisher confirms and `message_id` = `HOOK:GUID`: **at least once,
//!     with a stable id** (see [`amqp`] for how a consumer deduplicates).
//! - **Where**: [`PublishTarget`] parses `octohook serve --publish`'s URLs,
//!   `nats://HOST:PORT/SUBJECT` and
//!   `amqp://USER:PASS@HOST:PORT/VHOST?exchange=NAME&routing_key=KEY`, whose
//!   subject and routing key are [`NameTemplate`]s (`github.{event}.{action}`).
//! - **What**: a [`BrokerMessage`] carries the raw body byte for byte,
//!   GitHub's delivery headers (both signatures among them), the action, the
//!   received-at time and the idempotency key.
//! - **The consumer side**: a [`ReceivedMessage`] (from
//!   [`jetstream::received`] or [`amqp::received`]) is verified again with the
//!   webhook secret, so authenticity survives the broker end to end, and a
//!   [`Consumer`] runs the same typed [`Dispatcher`](octohook::Dispatcher) on
//!   it.
//!
//! ```
//! use octohook_broker::PublishTarget;
//!
//! let target: PublishTarget = "nats://127.0.0.1:4222/github.{event}.{action}".parse().unwrap();
//! assert_eq!(target.broker(), "nats");
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "amqp")]
pub mod amqp;
mod consumer;
mod error;
#[cfg(feature = "nats")]
pub mod jetstream;
mod message;
mod name_template;
mod publish_metrics;
mod publish_url;
mod publisher;
mod retry_schedule;

#[cfg(feature = "amqp")]
pub use amqp::AmqpPublisher;
pub use consumer::{ConsumeError, Consumer, ReceivedMessage};
pub use error::BrokerError;
#[cfg(feature = "nats")]
pub use jetstream::JetStreamPublisher;
pub use message::{ACTION_HEADER, BrokerMessage, IDEMPOTENCY_KEY_HEADER, RECEIVED_AT_HEADER};
pub use name_template::{
    MAX_ROUTING_KEY_BYTES, MAX_VALUE_BYTES, NO_ACTION, NameRules, NameTemplate, TemplateError,
};
pub use publish_metrics::{PUBLISH_FAILURES, PUBLISH_LAG_SECONDS, PUBLISH_SECONDS};
pub use publish_url::{
    AMQP_DEFAULT_PORT, AmqpTarget, Credentials, NATS_DEFAULT_PORT, NatsTarget, PublishTarget,
    PublishUrlError,
};
pub use publisher::Publisher;
pub use retry_schedule::RetrySchedule;

/// The README's examples, compiled as doctests so they stay true.
#[cfg(all(doctest, feature = "nats"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
