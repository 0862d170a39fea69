//! [`AmqpPublisher`]: stored deliveries published to RabbitMQ (AMQP 0.9.1)
//! with publisher confirms; and [`received`], the consumer's way back.
//!
//! # At least once, with a stable id
//!
//! Each message is persistent (`delivery_mode` 2), published as `mandatory`
//! and confirmed by the broker before the inbox counts the delivery done; a
//! message no queue is bound to receive comes back and fails the attempt. RabbitMQ does not
//! deduplicate: when the process crashes between the broker's confirmation
//! and the inbox's commit, or a confirmation is lost with the connection, the
//! inbox publishes the delivery again and the queue holds two copies. Every
//! copy has the same `message_id` (and [`IDEMPOTENCY_KEY_HEADER`]):
//! `HOOK:GUID`.
//!
//! A consumer deduplicates on it: record the `message_id` in the same
//! transaction as the work it does (a unique key in its database, a
//! `SET NX` with an expiry longer than the inbox's retries in Redis), and
//! acknowledge a message whose id it has recorded without doing the work
//! again.
//!
//! [`IDEMPOTENCY_KEY_HEADER`]: crate::IDEMPOTENCY_KEY_HEADER

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use octohook_inbox::{AttemptError, Handler, StoredDelivery};
use tokio::sync::Mutex;
use tracing::Instrument;

use crate::{
    AmqpTarget, BrokerError, BrokerMessage, NameTemplate, ReceivedMessage, publish_metrics,
};

/// How long a publish waits for the broker's confirmation (and a connection
/// for its handshake) before the attempt fails and is retried.
pub const DEFAULT_CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// Publishes each stored delivery to an AMQP exchange, persistent, and waits
/// for the broker's confirmation: an inbox [`Handler`]. See the [module
/// docs](self) for the guarantee and how a consumer deduplicates.
///
/// The connection is opened at [`connect`](Self::connect) and again after it
/// broke, on the next attempt; a failure fails the attempt with
/// [`AttemptError::retry`], so the inbox's backoff decides when to try again.
#[derive(Clone)]
pub struct AmqpPublisher {
    inner: Arc<Inner>,
}

struct Inner {
    target: AmqpTarget,
    /// The open connection and its confirm-mode channel, if any.
    link: Mutex<Option<Link>>,
}

struct Link {
    // Kept so that the connection lives as long as its channel.
    _connection: Connection,
    channel: Channel,
}

impl std::fmt::Debug for AmqpPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpPublisher")
            .field("target", &self.inner.target)
            .finish_non_exhaustive()
    }
}

impl AmqpPublisher {
    /// Connects to `target`'s broker, puts a channel in confirm mode and
    /// checks that the exchange exists (unless it is the default exchange).
    pub async fn connect(target: &AmqpTarget) -> Result<Self, BrokerError> {
        let link = open(target).await?;
        if !target.exchange().is_empty() {
            let options = ExchangeDeclareOptions {
                passive: true,
                ..ExchangeDeclareOptions::default()
            };
            let declared = link
                .channel
                .exchange_declare(
                    target.exchange().into(),
                    ExchangeKind::Topic,
                    options,
                    FieldTable::default(),
                )
                .await;
            if declared.is_err() {
                return Err(BrokerError::NoExchange {
                    exchange: target.exchange().to_owned(),
                });
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                target: target.clone(),
                link: Mutex::new(Some(link)),
            }),
        })
    }

    /// The routing-key template.
    pub fn routing_key(&self) -> &NameTemplate {
        self.inner.target.routing_key()
    }

    /// Publishes `message` and waits for the broker's confirmation.
    pub async fn publish(&self, message: &BrokerMessage) -> Result<(), BrokerError> {
        let routing_key = message.name(self.routing_key());
        let span = tracing::info_span!(
            "publish",
            broker = "amqp",
            routing_key = %routing_key,
            idempotency_key = %message.idempotency_key(),
        );
        let started = Instant::now();
        let result = tokio::time::timeout(
            DEFAULT_CONFIRM_TIMEOUT,
            self.publish_once(message, &routing_key),
        )
        .instrument(span)
        .await
        .unwrap_or_else(|_| Err(BrokerError::Publish("no confirmation in time".to_owned())));
        match &result {
            Ok(()) => publish_metrics::confirmed("amqp", started.elapsed(), message.received_at()),
            Err(_) => {
                publish_metrics::failed("amqp");
                // Whatever broke, the next attempt starts on a fresh connection.
                *self.inner.link.lock().await = None;
            }
        }
        result
    }

    async fn publish_once(
        &self,
        message: &BrokerMessage,
        routing_key: &str,
    ) -> Result<(), BrokerError> {
        let channel = self.channel().await?;
        let mut headers = FieldTable::default();
        // Called within the `publish` span.
        for (name, value) in message.headers_within(&tracing::Span::current()).iter() {
            headers.insert(
                name.as_str().into(),
                AMQPValue::LongString(value.as_str().into()),
            );
        }
        let received_at = message
            .received_at()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(message.idempotency_key().into())
            .with_type(message.event().into())
            .with_timestamp(received_at)
            .with_app_id("octohook".into())
            .with_headers(headers);
        if let Some(content_type) = message.header("content-type") {
            properties = properties.with_content_type(content_type.into());
        }
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let confirmation = channel
            .basic_publish(
                self.inner.target.exchange().into(),
                routing_key.into(),
                options,
                message.body(),
                properties,
            )
            .await
            .map_err(|error| BrokerError::Publish(error.to_string()))?
            .await
            .map_err(|error| BrokerError::Publish(error.to_string()))?;
        match confirmation {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(returned)) => Err(BrokerError::NotTaken(format!(
                "no queue is bound to exchange `{}` for routing key `{routing_key}` ({} {})",
                self.inner.target.exchange(),
                returned.reply_code,
                returned.reply_text
            ))),
            Confirmation::Nack(_) => Err(BrokerError::NotTaken("basic.nack".to_owned())),
            Confirmation::NotRequested => Err(BrokerError::Publish(
                "the channel is not in confirm mode".to_owned(),
            )),
        }
    }

    /// The open channel, or a new one on a new connection.
    async fn channel(&self) -> Result<Channel, BrokerError> {
        let mut link = self.inner.link.lock().await;
        if let Some(open) = &*link
            && open.channel.status().connected()
        {
            return Ok(open.channel.clone());
        }
        *link = None;
        let opened = open(&self.inner.target).await?;
        let channel = opened.channel.clone();
        *link = Some(opened);
        Ok(channel)
    }
}

async fn open(target: &AmqpTarget) -> Result<Link, BrokerError> {
    let connect = |reason: String| BrokerError::Connect {
        broker: "amqp",
        reason,
    };
    let properties = ConnectionProperties::default()
        .with_connection_name(concat!("octohook/", env!("CARGO_PKG_VERSION")).into());
    let connection = tokio::time::timeout(
        DEFAULT_CONFIRM_TIMEOUT,
        Connection::connect(&target.connection_uri(), properties),
    )
    .await
    .map_err(|_| connect("timed out".to_owned()))?
    .map_err(|error| connect(error.to_string()))?;
    let channel = connection
        .create_channel()
        .await
        .map_err(|error| connect(error.to_string()))?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|error| connect(error.to_string()))?;
    Ok(Link {
        _connection: connection,
        channel,
    })
}

impl Handler for AmqpPublisher {
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
                .map_err(AttemptError::retry)
        }
    }
}

/// An AMQP message as the consumer reads it: its headers (string values; the
/// `message_id` property as `message_id` when no header has that name) and
/// its body.
pub fn received(properties: &BasicProperties, body: &[u8]) -> ReceivedMessage {
    let mut headers = Vec::new();
    if let Some(table) = properties.headers() {
        for (name, value) in table.inner() {
            let value = match value {
                AMQPValue::LongString(text) => {
                    String::from_utf8_lossy(text.as_bytes()).into_owned()
                }
                AMQPValue::ShortString(text) => text.as_str().to_owned(),
                _ => continue,
            };
            headers.push((name.as_str().to_owned(), value));
        }
    }
    if let Some(id) = properties.message_id()
        && !headers.iter().any(|(name, _)| name == "message_id")
    {
        headers.push(("message_id".to_owned(), ShortString::as_str(id).to_owned()));
    }
    ReceivedMessage::new(headers, body.to_vec())
}
