//! [`BrokerError`]: why a publisher could not start, or a publish failed.

/// Why a publisher could not start or a publish failed. Messages never hold a
/// password (the URLs' are starred, the clients' errors do not repeat them).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BrokerError {
    /// The broker could not be reached or refused the connection.
    #[error("cannot connect to the {broker} broker: {reason}")]
    Connect {
        /// `nats` or `amqp`.
        broker: &'static str,
        /// The client's error.
        reason: String,
    },
    /// The start-up check could not be made.
    #[error("cannot check the broker's set-up: {0}")]
    Check(String),
    /// No JetStream stream covers the subject.
    #[error(
        "no JetStream stream covers the subject `{subject}`: create one whose subjects match it (e.g. `nats stream add --subjects '{subject}'`)"
    )]
    NoStream {
        /// The subject (placeholders as `*`).
        subject: String,
    },
    /// The AMQP exchange does not exist.
    #[error("the AMQP exchange `{exchange}` does not exist (declare it, and bind a queue to it)")]
    NoExchange {
        /// The exchange.
        exchange: String,
    },
    /// This build lacks the broker's feature (`nats` or `amqp`).
    #[error("this build of octohook-broker has no {0} support (feature `{0}`)")]
    Disabled(&'static str),
    /// The message was not published or not confirmed.
    #[error("publish failed: {0}")]
    Publish(String),
    /// The broker refused the message (AMQP `basic.nack`) or could route it
    /// to no queue (`basic.return`).
    #[error("the broker did not take the message: {0}")]
    NotTaken(String),
}
