//! A JetStream stream of a test's own, on a real NATS server.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, message::StreamMessage, stream};

/// A stream named `OCTOTEST_<random>` that takes the subjects
/// `octotest-<random>.>`; [`delete`](Self::delete) removes it.
#[derive(Debug)]
pub struct TestStream {
    context: jetstream::Context,
    name: String,
    prefix: String,
}

impl TestStream {
    /// Creates the stream on the NATS server at `server` (`host:port`), with
    /// `duplicate_window`.
    ///
    /// # Panics
    /// When the server cannot be reached or the stream cannot be created.
    pub async fn new(server: &str, duplicate_window: Duration) -> Self {
        let client = async_nats::connect(server)
            .await
            .unwrap_or_else(|error| panic!("NATS on {server}: {error}"));
        let context = jetstream::new(client);
        let id = crate::random_suffix();
        let (name, prefix) = (format!("OCTOTEST_{id}"), format!("octotest-{id}"));
        let config = stream::Config {
            name: name.clone(),
            subjects: vec![format!("{prefix}.>")],
            duplicate_window,
            ..Default::default()
        };
        // The server removes an account's stream directory when its last
        // stream is deleted; a stream created by a test running beside one
        // that just dropped its own can then fail with "error creating store
        // for stream". Another try finds the directory made again.
        let mut tries = 0;
        loop {
            match context.create_stream(config.clone()).await {
                Ok(_) => break,
                Err(error) if tries < 10 => {
                    tries += 1;
                    eprintln!("creating stream {name} failed ({error}); trying again");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!("cannot create stream {name}: {error}"),
            }
        }
        Self {
            context,
            name,
            prefix,
        }
    }

    /// The JetStream context the stream was made through.
    pub fn context(&self) -> &jetstream::Context {
        &self.context
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The first token of every subject the stream takes.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How many messages the stream holds.
    ///
    /// # Panics
    /// When the server does not answer.
    pub async fn count(&self) -> u64 {
        let mut stream = self.context.get_stream(&self.name).await.unwrap();
        stream.info().await.unwrap().state.messages
    }

    /// Waits (up to 45 s) until the stream holds `expected` messages, and
    /// 1.5 s more, so that a late second copy would show; returns the count.
    pub async fn wait_for(&self, expected: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(45);
        while self.count().await < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        self.count().await
    }

    /// Every message in the stream, in order.
    ///
    /// # Panics
    /// When the server does not answer.
    pub async fn messages(&self) -> Vec<StreamMessage> {
        let mut stream = self.context.get_stream(&self.name).await.unwrap();
        let state = stream.info().await.unwrap().state.clone();
        let mut messages = Vec::new();
        if state.messages == 0 {
            return messages;
        }
        for sequence in state.first_sequence..=state.last_sequence {
            messages.push(stream.get_raw_message(sequence).await.unwrap());
        }
        messages
    }

    /// Deletes the stream (best effort).
    pub async fn delete(self) {
        let _ = self.context.delete_stream(&self.name).await;
    }
}
