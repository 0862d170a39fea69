//! [`JetStreamPublisher`]: stored deliveries published to NATS JetStream,
//! once into the stream; and [`received`], the consumer's way back.
//!
//! # Exactly once into the stream
//!
//! Each message carries `Nats-Msg-Id: HOOK:GUID`, the inbox's idempotency
//! key. The handler completes only on the stream's `PubAck`; when the
//! acknowledgement is lost (the process crashed after publishing, the
//! connection dropped, the ack timed out), the inbox runs the handler again
//! and JetStream drops the second copy, as long as it comes within the
//! stream's duplicate window (`duplicate_window`, 2 minutes by default). The
//! publisher reads that window at start and warns when the inbox's
//! [`RetrySchedule`] is longer.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, message::PublishMessage as Publish};
use futures_util::StreamExt;
use octohook_inbox::{AttemptError, Handler, StoredDelivery};
use tracing::Instrument;

use crate::{
    BrokerError, BrokerMessage, NameTemplate, NatsTarget, ReceivedMessage, RetrySchedule,
    publish_metrics,
};

/// How long a publish waits for its `PubAck` (and a request at start for its
/// answer) before the attempt fails and is retried.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// Publishes each stored delivery to a JetStream subject and waits for the
/// stream's acknowledgement: an inbox [`Handler`].
///
/// A failure (no connection, no acknowledgement in time, the stream refusing
/// the message) fails the attempt with [`AttemptError::retry`], so the inbox's
/// backoff decides when to try again; the client reconnects by itself
/// meanwhile.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use octohook_broker::{JetStreamPublisher, PublishTarget, RetrySchedule};
/// use octohook_inbox::{Inbox, WorkerConfig};
///
/// let PublishTarget::Nats(target) = "nats://127.0.0.1:4222/github.{event}.{action}".parse()? else {
///     unreachable!()
/// };
/// let publisher = JetStreamPublisher::connect(&target, RetrySchedule::default()).await?;
/// let inbox = Inbox::in_memory();
/// let processing = inbox.process(publisher, 4, WorkerConfig::for_this_process());
/// # drop(processing); Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct JetStreamPublisher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    context: jetstream::Context,
    subject: NameTemplate,
    stream: String,
    duplicate_window: Duration,
}

/// What the stream said of one published message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Published {
    /// The subject it was published on.
    pub subject: String,
    /// The stream that stored it.
    pub stream: String,
    /// Its sequence number in the stream.
    pub sequence: u64,
    /// Whether the stream had it already (within its duplicate window) and
    /// dropped this copy.
    pub duplicate: bool,
}

impl JetStreamPublisher {
    /// Connects to `target`'s server, finds the stream whose subjects cover
    /// the target's subject template (every subject it renders: its
    /// [`wildcard`](NameTemplate::wildcard) form), reads the stream's
    /// duplicate window and warns when `schedule` outlasts it.
    ///
    /// Fails when the server cannot be reached or when no stream covers the
    /// subject ([`BrokerError::NoStream`] names it).
    pub async fn connect(
        target: &NatsTarget,
        schedule: RetrySchedule,
    ) -> Result<Self, BrokerError> {
        let mut options = async_nats::ConnectOptions::new()
            .name(concat!("octohook/", env!("CARGO_PKG_VERSION")))
            .connection_timeout(DEFAULT_ACK_TIMEOUT)
            .request_timeout(Some(DEFAULT_ACK_TIMEOUT));
        if let Some(credentials) = target.credentials() {
            options = options.user_and_password(
                credentials.user().to_owned(),
                credentials.password().to_owned(),
            );
        }
        let client =
            options
                .connect(target.address())
                .await
                .map_err(|error| BrokerError::Connect {
                    broker: "nats",
                    reason: error.to_string(),
                })?;
        Self::with_client(client, target.subject().clone(), schedule).await
    }

    /// The same, over a client connected already.
    pub async fn with_client(
        client: async_nats::Client,
        subject: NameTemplate,
        schedule: RetrySchedule,
    ) -> Result<Self, BrokerError> {
        let context = jetstream::ContextBuilder::new()
            .timeout(DEFAULT_ACK_TIMEOUT)
            .build(client);
        let wildcard = subject.wildcard();
        let (stream, duplicate_window) = covering_stream(&context, &wildcard).await?;
        let longest = schedule.longest();
        if duplicate_window < longest {
            tracing::warn!(
                stream = %stream,
                subject = %wildcard,
                duplicate_window = %humantime::format_duration(duplicate_window),
                retries_span = %humantime::format_duration(longest),
                "the stream drops a re-published delivery only within its duplicate window, \
                 shorter than the inbox's retries: a delivery retried after {} may be stored twice; \
                 raise the stream's duplicate_window or lower --max-attempts / --retry-backoff",
                humantime::format_duration(duplicate_window)
            );
        }
        Ok(Self {
            inner: Arc::new(Inner {
                context,
                subject,
                stream,
                duplicate_window,
            }),
        })
    }

    /// The stream that covers the subject.
    pub fn stream(&self) -> &str {
        &self.inner.stream
    }

    /// The stream's duplicate window, as read at start.
    pub fn duplicate_window(&self) -> Duration {
        self.inner.duplicate_window
    }

    /// Publishes `message` and waits for the stream's acknowledgement.
    pub async fn publish(&self, message: &BrokerMessage) -> Result<Published, BrokerError> {
        let subject = message.name(&self.inner.subject);
        let span = tracing::info_span!(
            "publish",
            broker = "nats",
            subject = %subject,
            idempotency_key = %message.idempotency_key(),
        );
        let mut publish = Publish::build()
            .payload(message.body().clone())
            .message_id(message.idempotency_key());
        for (name, value) in message.headers_within(&span).iter() {
            publish = publish.header(name.as_str(), value.as_str());
        }
        let started = Instant::now();
        let result = async {
            let ack = self
                .inner
                .context
                .send_publish(subject.clone(), publish)
                .await
                .map_err(|error| BrokerError::Publish(error.to_string()))?
                .await
                .map_err(|error| BrokerError::Publish(error.to_string()))?;
            tracing::debug!(stream = %ack.stream, sequence = ack.sequence, duplicate = ack.duplicate, "published");
            Ok(Published {
                subject: subject.clone(),
                stream: ack.stream,
                sequence: ack.sequence,
                duplicate: ack.duplicate,
            })
        }
        .instrument(span)
        .await;
        match &result {
            Ok(_) => publish_metrics::confirmed("nats", started.elapsed(), message.received_at()),
            Err(_) => publish_metrics::failed("nats"),
        }
        result
    }
}

impl Handler for JetStreamPublisher {
    fn handle(
        &self,
        delivery: StoredDelivery,
    ) -> impl Future<Output = Result<(), AttemptError>> + Send + 'static {
        let publisher = self.clone();
        async move {
            let message = BrokerMessage::from_stored(&delivery);
            publisher
                .publish(&message)
                .await
                .map(drop)
                .map_err(AttemptError::retry)
        }
    }
}

/// The stream whose subjects cover `subject` (a wildcard subject: every one it
/// matches), and its duplicate window.
async fn covering_stream(
    context: &jetstream::Context,
    subject: &str,
) -> Result<(String, Duration), BrokerError> {
    let mut streams = context.streams();
    while let Some(info) = streams.next().await {
        let info = info.map_err(|error| BrokerError::Check(error.to_string()))?;
        if info
            .config
            .subjects
            .iter()
            .any(|filter| covers(filter, subject))
        {
            return Ok((info.config.name, info.config.duplicate_window));
        }
    }
    Err(BrokerError::NoStream {
        subject: subject.to_owned(),
    })
}

/// Whether the subject filter `filter` matches every subject `subject` (which
/// may hold `*` wildcards) matches.
pub(crate) fn covers(filter: &str, subject: &str) -> bool {
    let mut filter = filter.split('.');
    let mut subject = subject.split('.');
    loop {
        match (filter.next(), subject.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(token), Some(wanted)) if token == wanted && wanted != "*" => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// What [`settle`] did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Settled {
    /// Verified and dispatched: acknowledged.
    Acked,
    /// A handler failed (or the payload did not parse): NAKed, to come back
    /// after the delay, until the consumer's `max_deliver`.
    Nacked,
    /// Not authentic (no signature, a wrong secret, a changed body):
    /// terminated, never redelivered.
    Terminated,
}

/// A pull consumer's step for one message: verifies it and dispatches it with
/// `consumer`, then acknowledges it, NAKs it with `nak_delay` (a handler
/// failed: worth a redelivery), or terminates it (it does not verify). With a
/// consumer made with `AckPolicy::Explicit` and a `max_deliver`, that is the
/// whole protocol (see the `example-jetstream-consumer` example).
pub async fn settle(
    consumer: &crate::Consumer,
    message: &jetstream::Message,
    nak_delay: Duration,
) -> Result<Settled, BrokerError> {
    let (kind, settled) = match consumer.consume(&received(message)).await {
        Ok(_) => (jetstream::AckKind::Ack, Settled::Acked),
        Err(error @ crate::ConsumeError::Refused(_)) => {
            tracing::warn!(%error, "message refused");
            (jetstream::AckKind::Term, Settled::Terminated)
        }
        Err(error) => {
            tracing::warn!(%error, "message to be redelivered");
            (jetstream::AckKind::Nak(Some(nak_delay)), Settled::Nacked)
        }
    };
    message
        .ack_with(kind)
        .await
        .map_err(|error| BrokerError::Publish(format!("cannot settle the message: {error}")))?;
    Ok(settled)
}

/// A JetStream message as the consumer reads it: its headers (every value of
/// each, `Nats-Msg-Id` among them) and its body.
pub fn received(message: &async_nats::Message) -> ReceivedMessage {
    let mut headers = Vec::new();
    if let Some(map) = &message.headers {
        for (name, values) in map.iter() {
            for value in values {
                headers.push((name.to_string(), value.to_string()));
            }
        }
    }
    ReceivedMessage::new(headers, message.payload.clone())
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn a_filter_covers_the_subjects_it_matches_all_of() {
        for (filter, subject, expected) in [
            ("github.>", "github.*.*", true),
            ("github.*.*", "github.*.*", true),
            (">", "github.*", true),
            ("github.push.*", "github.*.*", false),
            ("github.*", "github.*.*", false),
            ("github.*.*.*", "github.*.*", false),
            ("github.>", "github", false),
            ("orders.>", "github.push", false),
            ("github.push", "github.push", true),
        ] {
            assert_eq!(covers(filter, subject), expected, "{filter} {subject}");
        }
    }
}
