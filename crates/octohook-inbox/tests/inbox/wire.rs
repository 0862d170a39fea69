//! What the PostgreSQL store sends over the wire, counted by a relay between it
//! and the test server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use octohook_inbox::{DeliveryStore, Inserted, PostgresOptions, PostgresStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::pg::PgSchema;
use crate::{delivery, key};

/// What clients sent through a [`Relay`].
#[derive(Debug, Default)]
struct Sent {
    /// Messages that make the server answer: `Sync` (extended protocol) and
    /// `Query` (simple protocol). One per round trip.
    round_trips: AtomicU64,
    bytes: AtomicU64,
}

/// A TCP relay to the test server, reading the plain-text protocol the clients
/// speak (so: `sslmode=disable`).
struct Relay {
    port: u16,
    sent: Arc<Sent>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    async fn start(server: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(Sent::default());
        let counted = sent.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = TcpStream::connect(&server).await.unwrap();
                tokio::spawn(relay(client, upstream, counted.clone()));
            }
        });
        Self { port, sent, task }
    }

    fn take(&self) -> (u64, u64) {
        (
            self.sent.round_trips.swap(0, Ordering::SeqCst),
            self.sent.bytes.swap(0, Ordering::SeqCst),
        )
    }
}

async fn relay(client: TcpStream, upstream: TcpStream, sent: Arc<Sent>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut upstream_read, &mut client_write).await;
    });
    let mut pending = Vec::new();
    let mut started = false;
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = match client_read.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        sent.bytes.fetch_add(read as u64, Ordering::SeqCst);
        pending.extend_from_slice(&buffer[..read]);
        // Whole messages: a type byte (none for the startup message) and a
        // length counting itself.
        loop {
            let header = usize::from(started);
            let Some(length) = pending
                .get(header..header + 4)
                .map(|bytes| u32::from_be_bytes(bytes.try_into().unwrap()) as usize)
            else {
                break;
            };
            if pending.len() < header + length {
                break;
            }
            if started && matches!(pending[0], b'S' | b'Q') {
                sent.round_trips.fetch_add(1, Ordering::SeqCst);
            }
            pending.drain(..header + length);
            started = true;
        }
        if upstream_write.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

/// A store on `schema` with one connection, which goes through a new
/// [`Relay`] to the test server.
async fn store_behind_relay(schema: &PgSchema) -> (Relay, PostgresStore) {
    let config: tokio_postgres::Config = schema.url.parse().unwrap();
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let relay = Relay::start(format!("{host}:{port}")).await;
    let url = format!(
        "postgres://{user}@127.0.0.1:{relay}/{db}?sslmode=disable",
        user = config.get_user().unwrap_or("postgres"),
        relay = relay.port,
        db = config.get_dbname().unwrap_or("test"),
    );
    let store = PostgresStore::connect_with(
        &url,
        PostgresOptions::default()
            .schema(schema.schema.clone())
            .pool_size(1),
    )
    .await
    .unwrap();
    (relay, store)
}

/// A duplicate costs one round trip, and its body crosses the wire once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_is_answered_in_one_round_trip() {
    let schema = PgSchema::new().await;
    let (relay, store) = store_behind_relay(&schema).await;
    let body = vec![b'x'; 1024 * 1024];
    let with_body = |guid: &str| {
        let mut new = delivery(Some(9), guid);
        new.body = body.clone().into();
        new
    };
    // The first insert also prepares the statement on the connection.
    let first = store.insert(with_body("original")).await.unwrap();
    let Inserted::New { id } = first else {
        panic!("{first:?}")
    };
    relay.take();

    let again = store.insert(with_body("original")).await.unwrap();
    let (round_trips, bytes) = relay.take();
    eprintln!("duplicate insert: {round_trips} round trip(s), {bytes} bytes sent");
    assert_eq!(again, Inserted::Duplicate { id });
    assert_eq!(round_trips, 1);
    assert!(
        bytes > body.len() as u64 && bytes < body.len() as u64 + 4096,
        "{bytes} bytes for a {} byte body",
        body.len()
    );

    let other = store.insert(with_body("another")).await.unwrap();
    let (round_trips, _) = relay.take();
    assert!(matches!(other, Inserted::New { id: other } if other != id));
    assert_eq!(round_trips, 1);
    assert_eq!(
        store
            .get(&key(Some(9), "original"))
            .await
            .unwrap()
            .unwrap()
            .id,
        id
    );
}

/// The one case the single statement cannot answer: the same key committed by
/// another transaction after the statement's snapshot. The insert waits for
/// that transaction, then a lookup (without the body) names its row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_committed_meanwhile_is_found_without_resending_the_body() {
    let schema = PgSchema::new().await;
    let (relay, store) = store_behind_relay(&schema).await;
    let store = Arc::new(store);
    store.insert(delivery(Some(9), "warm-up")).await.unwrap();

    let client = schema.client().await;
    client
        .batch_execute(&format!(
            "BEGIN; SET LOCAL search_path TO {}",
            schema.schema
        ))
        .await
        .unwrap();
    let other: i64 = client
        .query_one(
            "INSERT INTO octohook_deliveries (hook_id, has_hook_id, guid, event, content_type, \
             headers, body, received_at, status, due_at, updated_at) \
             VALUES (9, TRUE, 'raced', 'issues', 'application/json', '[]', '\\x00', now(), \
             'pending', now(), now()) RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    relay.take();

    let body = vec![b'x'; 1024 * 1024];
    let mut raced = delivery(Some(9), "raced");
    raced.body = body.clone().into();
    let inserting = tokio::spawn({
        let store = store.clone();
        async move { store.insert(raced).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!inserting.is_finished(), "the insert did not wait");
    client.batch_execute("COMMIT").await.unwrap();
    let inserted = inserting.await.unwrap().unwrap();
    let (round_trips, bytes) = relay.take();
    eprintln!("raced duplicate: {round_trips} round trip(s), {bytes} bytes sent");
    assert_eq!(inserted.id().get(), other);
    assert!(inserted.is_duplicate(), "{inserted:?}");
    assert!(
        bytes < body.len() as u64 + 4096,
        "{bytes} bytes: the body was sent again"
    );
}

/// The batched protocol's promise on PostgreSQL: a batch of new inserts, a
/// batch of claims and a batch of finishes are one round trip each, however
/// many deliveries they hold; a batch holding duplicates takes one more, for
/// all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_batch_is_one_round_trip() {
    use octohook_inbox::{Completion, Finish};
    use std::time::Duration;

    let schema = PgSchema::new().await;
    let (relay, store) = store_behind_relay(&schema).await;
    let batch = |from: usize, to: usize| {
        (from..to)
            .map(|n| delivery(Some(5), &format!("batch-{n}")))
            .collect::<Vec<_>>()
    };
    // The first batches also prepare their statements on the connection
    // (the second, all duplicates, the lookup of stored keys).
    store.insert_batch(batch(0, 2)).await.unwrap();
    store.insert_batch(batch(0, 2)).await.unwrap();
    let warm = store
        .claim_batch("w", Duration::from_secs(60), 2)
        .await
        .unwrap();
    store
        .finish_batch(
            warm.into_iter()
                .map(|claimed| Finish::new(claimed.claim, Completion::Done))
                .collect(),
        )
        .await
        .unwrap();
    // The first claim also started the listening connection: let it settle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    relay.take();

    // 50 new.
    let inserted = store.insert_batch(batch(2, 52)).await.unwrap();
    let (round_trips, _) = relay.take();
    assert!(inserted.iter().all(|i| !i.is_duplicate()));
    assert_eq!(round_trips, 1, "insert_batch");
    // 10 new and 20 duplicates.
    let inserted = store.insert_batch(batch(32, 62)).await.unwrap();
    let (round_trips, _) = relay.take();
    assert_eq!(inserted.iter().filter(|i| i.is_duplicate()).count(), 20);
    assert_eq!(round_trips, 2, "insert_batch with duplicates");

    let claimed = store
        .claim_batch("w", Duration::from_secs(60), 100)
        .await
        .unwrap();
    let (round_trips, _) = relay.take();
    assert_eq!(claimed.len(), 60);
    assert_eq!(round_trips, 1, "claim_batch");

    let results = store
        .finish_batch(
            claimed
                .into_iter()
                .map(|claimed| Finish::new(claimed.claim, Completion::Done))
                .collect(),
        )
        .await
        .unwrap();
    let (round_trips, _) = relay.take();
    assert_eq!(results.len(), 60);
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(round_trips, 1, "finish_batch");
    eprintln!("60 deliveries: 1 round trip each to insert, claim and finish them");
}
