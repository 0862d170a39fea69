//! [`Publisher`]: the publisher a [`PublishTarget`] names, whatever its broker.

use std::future::Future;

use octohook_inbox::{AttemptError, Handler, StoredDelivery};

// Without a broker feature the enum has no variant: `handle` cannot be called.

use crate::{BrokerError, PublishTarget, RetrySchedule};

/// The publisher for a [`PublishTarget`]: what `octohook serve --publish`
/// runs, one per URL. An inbox [`Handler`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Publisher {
    /// To NATS JetStream.
    #[cfg(feature = "nats")]
    JetStream(crate::JetStreamPublisher),
    /// To an AMQP exchange.
    #[cfg(feature = "amqp")]
    Amqp(crate::AmqpPublisher),
}

impl Publisher {
    /// Connects to `target` and makes its start-up checks: for JetStream, a
    /// stream covers the subject, and its duplicate window is compared with
    /// `schedule`; for AMQP, the exchange exists.
    pub async fn connect(
        target: &PublishTarget,
        schedule: RetrySchedule,
    ) -> Result<Self, BrokerError> {
        let _ = schedule;
        match target {
            #[cfg(feature = "nats")]
            PublishTarget::Nats(nats) => crate::JetStreamPublisher::connect(nats, schedule)
                .await
                .map(Self::JetStream),
            #[cfg(not(feature = "nats"))]
            PublishTarget::Nats(_) => Err(BrokerError::Disabled("nats")),
            #[cfg(feature = "amqp")]
            PublishTarget::Amqp(amqp) => crate::AmqpPublisher::connect(amqp).await.map(Self::Amqp),
            #[cfg(not(feature = "amqp"))]
            PublishTarget::Amqp(_) => Err(BrokerError::Disabled("amqp")),
        }
    }
}

impl Handler for Publisher {
    #[cfg_attr(
        not(any(feature = "nats", feature = "amqp")),
        allow(unused_variables, unreachable_code)
    )]
    fn handle(
        &self,
        delivery: StoredDelivery,
    ) -> impl Future<Output = Result<(), AttemptError>> + Send + 'static {
        let publisher = self.clone();
        async move {
            match publisher {
                #[cfg(feature = "nats")]
                Publisher::JetStream(publisher) => publisher.handle(delivery).await,
                #[cfg(feature = "amqp")]
                Publisher::Amqp(publisher) => publisher.handle(delivery).await,
            }
        }
    }
}
