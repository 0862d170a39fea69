//! A delivery's trace context, kept by every store: written on insert, read
//! back by `get` and by a worker's claim, and bounded in the SQL stores.

use std::time::Duration;

use octohook_inbox::TraceParent;

use crate::{Backend, delivery, key};

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn trace_parent_round_trips(backend: Backend) {
    let store = backend.open().await;
    let parent: TraceParent = PARENT.parse().unwrap();
    let mut traced = delivery(Some(1), "traced");
    traced.trace_parent = Some(parent);
    store.insert(traced).await.unwrap();
    store.insert(delivery(Some(1), "untraced")).await.unwrap();

    // Another handle (another connection) reads what was committed.
    let other = backend.open().await;
    let got = other.get(&key(Some(1), "traced")).await.unwrap().unwrap();
    assert_eq!(got.trace_parent, Some(parent));
    let got = other.get(&key(Some(1), "untraced")).await.unwrap().unwrap();
    assert_eq!(got.trace_parent, None);

    // The claims hand it to the worker: the first inserted is claimed first.
    let first = other
        .claim("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.delivery.key, key(Some(1), "traced"));
    assert_eq!(first.delivery.trace_parent, Some(parent));
    let second = other
        .claim("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.delivery.trace_parent, None);
}

#[tokio::test]
async fn memory_keeps_the_trace_parent() {
    trace_parent_round_trips(Backend::memory()).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_keeps_the_trace_parent() {
    trace_parent_round_trips(Backend::sqlite()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_the_trace_parent() {
    trace_parent_round_trips(Backend::postgres().await).await;
}

/// The column holds 55 bytes or nothing, whoever writes it; a 55-byte value
/// that is no trace context reads back as none, and the delivery still reads.
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_bounds_the_column_and_reads_past_a_bad_value() {
    let backend = Backend::sqlite();
    let store = backend.open().await;
    store.insert(delivery(None, "a")).await.unwrap();
    let Backend::Sqlite(dir) = &backend else {
        unreachable!()
    };
    let connection = rusqlite::Connection::open(dir.path().join("inbox.db")).unwrap();
    let oversize = "x".repeat(4096);
    let refused = connection.execute(
        "UPDATE octohook_deliveries SET trace_parent = ?1",
        [&oversize],
    );
    assert!(refused.is_err(), "a 4 KiB trace_parent was stored");
    let bad = "z".repeat(55);
    connection
        .execute("UPDATE octohook_deliveries SET trace_parent = ?1", [&bad])
        .unwrap();
    let got = store.get(&key(None, "a")).await.unwrap().unwrap();
    assert_eq!(got.trace_parent, None);
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_bounds_the_column() {
    let schema = crate::pg::PgSchema::new().await;
    let store = schema.open().await;
    use octohook_inbox::DeliveryStore as _;
    store.insert(delivery(None, "a")).await.unwrap();
    let client = schema.client().await;
    let table = format!("{}.octohook_deliveries", schema.schema);
    let oversize = "x".repeat(4096);
    let refused = client
        .execute(
            &format!("UPDATE {table} SET trace_parent = $1"),
            &[&oversize],
        )
        .await;
    assert!(refused.is_err(), "a 4 KiB trace_parent was stored");
}
