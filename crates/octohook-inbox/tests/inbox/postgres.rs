//! What only the PostgreSQL store has to show: its connection failures and its
//! migrations under concurrency.

use std::time::{Duration, Instant};

use octohook_inbox::{DeliveryStore, PostgresOptions, PostgresStore, StoreError};

use crate::delivery;
use crate::pg::PgSchema;

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
        "postgres://postgres@127.0.0.1:5432/test?sslmode=require",
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
            supported: 1
        }
    );
}
