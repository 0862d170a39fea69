//! An AMQP exchange and queue of a test's own, on a real RabbitMQ.

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

/// A topic exchange `octotest-x-<random>` and a durable queue
/// `octotest-q-<random>` bound to it; [`delete`](Self::delete) removes both.
#[derive(Debug)]
pub struct TestQueue {
    _connection: Connection,
    channel: Channel,
    exchange: String,
    queue: String,
}

impl TestQueue {
    /// Declares the exchange and the queue on the broker at `url`
    /// (`amqp://…`), and binds the queue with `binding_key`.
    ///
    /// # Panics
    /// When the broker cannot be reached or refuses a declaration.
    pub async fn new(url: &str, binding_key: &str) -> Self {
        let connection = Connection::connect(url, ConnectionProperties::default())
            .await
            .unwrap_or_else(|error| panic!("RabbitMQ: {error}"));
        let channel = connection.create_channel().await.unwrap();
        let id = crate::random_suffix();
        let (exchange, queue) = (format!("octotest-x-{id}"), format!("octotest-q-{id}"));
        channel
            .exchange_declare(
                exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                binding_key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        Self {
            _connection: connection,
            channel,
            exchange,
            queue,
        }
    }

    /// The channel the exchange and the queue were declared on.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// The exchange's name.
    pub fn exchange(&self) -> &str {
        &self.exchange
    }

    /// The queue's name.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// Deletes the queue and the exchange (best effort).
    pub async fn delete(self) {
        let _ = self
            .channel
            .queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
            .await;
        let _ = self
            .channel
            .exchange_delete(
                self.exchange.as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await;
    }
}
