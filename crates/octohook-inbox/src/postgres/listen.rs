//! Wake-ups across machines: a connection that `LISTEN`s for the `NOTIFY` a
//! trigger sends when a delivery becomes claimable, and wakes local workers.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Notify, mpsc};
use tokio_postgres::AsyncMessage;

use super::tls::MakeRustls;
use super::{classify, describe};
use crate::StoreError;

/// The channel the trigger of migration 3 notifies, with the table's schema as
/// the payload.
pub(crate) const CHANNEL: &str = "octohook_deliveries";

/// How often the listening connection is checked when nothing arrives: a
/// connection silently gone (a server failover, a NAT timeout) is noticed and
/// replaced within this (plus the check's timeout).
const HEARTBEAT: Duration = Duration::from_secs(30);

/// The longest wait between two attempts to connect again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A listening task, stopped when dropped.
#[derive(Debug)]
pub(crate) struct Listener(tokio::task::JoinHandle<()>);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Listener {
    /// Starts listening (in a task of the current tokio runtime), waking one
    /// waiter of `wakeup` per notification for this store's schema, and once
    /// after each (re)connection, for what may have come while not listening.
    pub(crate) fn start(
        config: tokio_postgres::Config,
        tls: MakeRustls,
        timeout: Duration,
        wakeup: Arc<Notify>,
    ) -> Self {
        Self(tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                let error = listen(&config, &tls, timeout, &wakeup, &mut backoff).await;
                tracing::warn!(
                    %error,
                    retry_in = ?backoff,
                    "lost the PostgreSQL LISTEN connection; workers poll until it is back"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }))
    }
}

/// Connects, listens and relays notifications until the connection fails.
async fn listen(
    config: &tokio_postgres::Config,
    tls: &MakeRustls,
    timeout: Duration,
    wakeup: &Notify,
    backoff: &mut Duration,
) -> StoreError {
    let connected = tokio::time::timeout(timeout, config.connect(tls.clone())).await;
    let (client, mut connection) = match connected {
        Ok(Ok(connected)) => connected,
        Ok(Err(error)) => return classify(error),
        Err(_) => return StoreError::Unavailable("connecting timed out".to_owned()),
    };
    // The connection delivers notifications only while polled: a task of its
    // own polls it and forwards their payloads.
    let (payloads, mut received) = mpsc::unbounded_channel();
    let mut driver = AbortOnDrop(tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(notification)) => {
                    let _ = payloads.send(notification.payload().to_owned());
                }
                Ok(_) => {}
                Err(error) => return describe(&error),
            }
        }
        "the server closed the connection".to_owned()
    }));
    let setup = async {
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        client
            .query_one("SELECT current_schema()::text", &[])
            .await?
            .try_get::<_, String>(0)
    };
    let schema = match tokio::time::timeout(timeout, setup).await {
        Ok(Ok(schema)) => schema,
        Ok(Err(error)) => return classify(error),
        Err(_) => return StoreError::Unavailable("LISTEN timed out".to_owned()),
    };
    tracing::debug!(channel = CHANNEL, %schema, "listening for new deliveries");
    *backoff = Duration::from_millis(100);
    // Deliveries stored while nobody listened: let a worker look.
    wakeup.notify_one();
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    loop {
        tokio::select! {
            payload = received.recv() => match payload {
                Some(payload) if payload == schema => wakeup.notify_one(),
                Some(_) => {}
                None => break,
            },
            _ = heartbeat.tick() => {
                match tokio::time::timeout(timeout, client.simple_query("")).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => return classify(error),
                    Err(_) => return StoreError::Unavailable(
                        "the LISTEN connection stopped answering".to_owned(),
                    ),
                }
            }
        }
    }
    drop(client);
    match (&mut driver.0).await {
        Ok(reason) => StoreError::Unavailable(reason),
        Err(_) => StoreError::Unavailable("the LISTEN connection's task stopped".to_owned()),
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
