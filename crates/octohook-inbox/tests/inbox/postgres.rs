//! What only the PostgreSQL store has to show: its connection failures and its
//! migrations under concurrency.

use std::time::{Duration, Instant};

use octohook_inbox::{DeliveryStatus, DeliveryStore, PostgresOptions, PostgresStore, StoreError};

use crate::pg::PgSchema;
use crate::{delivery, key};

fn closed_port() -> u16 {
    // Bound and released at once: nothing listens there.
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_unavailable_quickly_and_the_password_stays_secret() {
    let url = format!(
        "postgres://octohook:hunter2-secret@127.0.0.1:{}/test",
        closed_port()
    );
    let started = Instant::now();
    let error = PostgresStore::connect_with(
        &url,
        PostgresOptions::default().timeout(Duration::from_secs(2)),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!format!("{error} {error:?}").contains("hunter2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configurations_are_refused() {
    for url in [
        "not a url at all://",
        "postgres://postgres@127.0.0.1:5432/test?sslmode=allow",
    ] {
        let error = PostgresStore::connect(url).await.unwrap_err();
        assert!(matches!(error, StoreError::Config(_)), "{url}: {error:?}");
    }
    let error = PostgresStore::connect_with(
        "postgres://postgres@127.0.0.1:5432/test",
        PostgresOptions::default().schema("Robert'); DROP TABLE students;--"),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, StoreError::Config(_)), "{error:?}");
}

/// Several receivers starting at once on a fresh schema all migrate it without
/// error, and share one table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_agree() {
    let schema = PgSchema::new().await;
    let (a, b, c, d) = tokio::join!(schema.open(), schema.open(), schema.open(), schema.open());
    a.insert(delivery(Some(1), "m")).await.unwrap();
    for store in [&b, &c, &d] {
        assert!(
            store
                .insert(delivery(Some(1), "m"))
                .await
                .unwrap()
                .is_duplicate()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_from_a_newer_version_is_refused() {
    let schema = PgSchema::new().await;
    drop(schema.open().await);
    let (client, connection) = tokio_postgres::connect(&schema.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "INSERT INTO {}.octohook_schema (version) VALUES (99)",
            schema.schema
        ))
        .await
        .unwrap();
    let error = PostgresStore::connect_with(
        &schema.url,
        PostgresOptions::default().schema(schema.schema.clone()),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error,
        StoreError::SchemaTooNew {
            found: 99,
            supported: 2
        }
    );
}

/// A schema written by version 1, where hook id 0 stood for "no hook id": after
/// the migration those rows are deliveries without a hook id, every other row is
/// unchanged, and hook id 0 is a key of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_no_hook_id_migration_keeps_existing_rows() {
    let schema = PgSchema::new().await;
    let (client, connection) = tokio_postgres::connect(&schema.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "CREATE SCHEMA {name}; SET search_path TO {name};
             CREATE TABLE octohook_schema (version INTEGER NOT NULL);
             INSERT INTO octohook_schema (version) VALUES (1);",
            name = schema.schema
        ))
        .await
        .unwrap();
    client
        .batch_execute(include_str!(
            "../../src/migrations/postgres/0001_deliveries.sql"
        ))
        .await
        .unwrap();
    for (hook_id, guid, status) in [(0_i64, "legacy", "done"), (42, "hooked", "failed")] {
        client
            .execute(
                "INSERT INTO octohook_deliveries (hook_id, guid, event, content_type, headers, \
                 body, received_at, status, attempts, updated_at) \
                 VALUES ($1, $2, 'issues', 'application/json', '[]', $3, now(), $4, 1, now())",
                &[&hook_id, &guid, &guid.as_bytes(), &status],
            )
            .await
            .unwrap();
    }
    drop(client);

    let store = schema.open().await;
    let legacy = store.get(&key(None, "legacy")).await.unwrap().unwrap();
    assert_eq!(
        (legacy.id.get(), legacy.status, legacy.body.as_ref()),
        (1, DeliveryStatus::Done, &b"legacy"[..])
    );
    assert_eq!(store.get(&key(Some(0), "legacy")).await.unwrap(), None);
    let hooked = store.get(&key(Some(42), "hooked")).await.unwrap().unwrap();
    assert_eq!(
        (hooked.id.get(), hooked.status),
        (2, DeliveryStatus::Failed)
    );
    assert!(
        store
            .insert(delivery(None, "legacy"))
            .await
            .unwrap()
            .is_duplicate()
    );
    assert!(
        !store
            .insert(delivery(Some(0), "legacy"))
            .await
            .unwrap()
            .is_duplicate()
    );
    assert!(
        store
            .insert(delivery(Some(42), "hooked"))
            .await
            .unwrap()
            .is_duplicate()
    );
    assert_eq!(store.counts().await.unwrap().total(), 3);
}
