//! What only the PostgreSQL store has to show: its connection failures and its
//! migrations under concurrency.

use std::time::{Duration, Instant};

use octohook_inbox::{
    AttemptError, Completion, DeliveryStatus, DeliveryStore, Finish, Inbox, PostgresOptions,
    PostgresStore, StoreError, StoredDelivery, WorkerConfig,
};

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
    let client = schema.client().await;
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
            supported: 8
        }
    );
}

/// A schema written by version 1, where hook id 0 stood for "no hook id": after
/// the migration those rows are deliveries without a hook id, every other row is
/// unchanged, and hook id 0 is a key of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_no_hook_id_migration_keeps_existing_rows() {
    let schema = PgSchema::new().await;
    let client = schema.client().await;
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

/// Two inboxes on one database, as on two machines: B's worker, polling every
/// 30 s, handles a delivery received through A at once. Returns how long that
/// took, or `None` when the handler did not run within `wait`.
async fn wake_across_inboxes(
    schema: &PgSchema,
    before_insert: impl AsyncFnOnce(),
    wait: Duration,
) -> Option<Duration> {
    let a = Inbox::new(schema.open().await);
    let separator = if schema.url.contains('?') { '&' } else { '?' };
    let b = Inbox::new(
        PostgresStore::connect_with(
            &format!(
                "{}{separator}application_name={}",
                schema.url, schema.schema
            ),
            PostgresOptions::default().schema(schema.schema.clone()),
        )
        .await
        .unwrap(),
    );
    let (handled, mut handled_rx) = tokio::sync::mpsc::unbounded_channel();
    let handler = move |delivery: StoredDelivery| {
        let handled = handled.clone();
        async move {
            let _ = handled.send((Instant::now(), delivery.key));
            Ok::<(), AttemptError>(())
        }
    };
    let processing = b.process(
        handler,
        1,
        WorkerConfig::new("machine-b").poll_interval(Duration::from_secs(30)),
    );
    // Let B's worker make its first claim, find nothing, start listening and go
    // idle: from then on only a wake-up (or the 30 s poll) makes it look again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    before_insert().await;
    let received = Instant::now();
    assert!(
        !a.insert(delivery(Some(7), "across"))
            .await
            .unwrap()
            .is_duplicate()
    );
    let handled = tokio::time::timeout(wait, handled_rx.recv()).await;
    processing.drain(Duration::from_secs(5)).await;
    let (at, key) = handled.ok()??;
    assert_eq!(key, crate::key(Some(7), "across"));
    Some(at - received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_received_on_one_machine_wakes_workers_on_another() {
    let schema = PgSchema::new().await;
    let took = wake_across_inboxes(&schema, async || {}, Duration::from_secs(10))
        .await
        .expect("B's worker did not handle the delivery within 10 s");
    eprintln!("received on A, handled on B after {took:?} (poll interval 30 s)");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

/// The control: without the trigger's NOTIFY, the same delivery waits for the
/// poll interval (so the test above measures NOTIFY, not something else).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_notify_the_other_machine_waits_for_its_poll() {
    let schema = PgSchema::new().await;
    let drop_trigger = async || {
        let client = schema.client().await;
        client
            .batch_execute(&format!(
                "DROP TRIGGER octohook_deliveries_inserted ON {}.octohook_deliveries",
                schema.schema
            ))
            .await
            .unwrap();
    };
    let took = wake_across_inboxes(&schema, drop_trigger, Duration::from_secs(4)).await;
    assert_eq!(took, None, "handled without a NOTIFY");
}

/// A listening connection killed by the server is replaced: wake-ups resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_reconnects_after_losing_its_connection() {
    let schema = PgSchema::new().await;
    let kill_listener = async || {
        let client = schema.client().await;
        // B's connections carry the schema as their application name; its
        // listener's last statement is the one reading its schema.
        let killed = client
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND query = 'SELECT current_schema()::text'",
                &[&schema.schema],
            )
            .await
            .unwrap();
        assert!(!killed.is_empty(), "no listening connection found");
        // Back within its first backoff (100 ms), plus connecting.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    };
    let took = wake_across_inboxes(&schema, kill_listener, Duration::from_secs(10))
        .await
        .expect("no wake-up after the listener lost its connection");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

/// `health` answers what a receiver's `/healthz` asks: could a delivery be
/// stored now? A session the server keeps read-only could not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_needs_a_writable_session() {
    let schema = PgSchema::new().await;
    let store = schema.open().await;
    store.health().await.unwrap();
    let read_only = PostgresStore::connect_with(
        &schema.url,
        PostgresOptions::default()
            .schema(schema.schema.clone())
            .read_only(true),
    )
    .await
    .unwrap();
    assert!(read_only.get(&key(Some(1), "h")).await.unwrap().is_none());
    let error = read_only.health().await.unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    assert!(error.to_string().contains("only accepts reads"), "{error}");
}

/// Counting is a scan of the table: with 200,000 rows and eight callers
/// counting without pause, inserts still find a connection and commit, their
/// p99 latency within 3x of the idle one (or 50 ms, on a loaded machine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counting_a_large_inbox_does_not_hold_up_inserts() {
    const ROUNDS: usize = 200;
    let schema = PgSchema::new().await;
    let store = std::sync::Arc::new(schema.open().await);
    let client = schema.client().await;
    client
        .batch_execute(&format!(
            "SET search_path = {}; \
             INSERT INTO octohook_deliveries (hook_id, has_hook_id, guid, event, content_type, \
               headers, body, received_at, status, attempts, claim_seq, updated_at) \
             SELECT 42, TRUE, 'filler-' || i, 'push', 'application/json', repeat('h', 400), \
               '\\x7b7d', now(), 'done', 1, 1, now() FROM generate_series(1, 200000) AS i; \
             ANALYZE octohook_deliveries;",
            schema.schema
        ))
        .await
        .unwrap();
    let timed_inserts = |prefix: &'static str| {
        let store = std::sync::Arc::clone(&store);
        async move {
            let mut taken = Vec::with_capacity(ROUNDS);
            for n in 0..ROUNDS {
                let started = Instant::now();
                store
                    .insert(delivery(Some(1), &format!("{prefix}-{n}")))
                    .await
                    .unwrap();
                taken.push(started.elapsed());
            }
            taken.sort_unstable();
            taken[(ROUNDS * 99).div_ceil(100) - 1]
        }
    };
    timed_inserts("warm").await;
    let idle = timed_inserts("idle").await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let counters: Vec<_> = (0..8)
        .map(|_| {
            let (store, stop) = (std::sync::Arc::clone(&store), std::sync::Arc::clone(&stop));
            tokio::spawn(async move {
                let mut counted = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    assert!(store.counts().await.unwrap().done >= 200_000);
                    counted += 1;
                }
                counted
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let loaded = timed_inserts("loaded").await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut counts = 0;
    for counter in counters {
        counts += counter.await.unwrap();
    }
    eprintln!("insert p99 idle {idle:?}, with 8 counters {loaded:?}; {counts} counts");
    assert!(counts > 0);
    let bound = (idle * 3).max(Duration::from_millis(50));
    assert!(
        loaded <= bound,
        "p99 {loaded:?} > {bound:?} (idle {idle:?})"
    );
}

/// A store that starts on an empty table keeps reaching rows by index as the
/// table grows. A plan made for the empty table and cached (PostgreSQL's
/// generic plan, after five runs of a statement on a connection) finds a
/// batch's keys by reading the whole table, and would do so for every batch
/// from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_that_grows_from_empty_is_never_read_whole_per_batch() {
    let schema = PgSchema::new().await;
    // One connection, so that its statements run often enough to be cached.
    let store = PostgresStore::connect_with(
        &schema.url,
        PostgresOptions::default()
            .schema(schema.schema.clone())
            .pool_size(1),
    )
    .await
    .unwrap();
    let client = schema.client().await;
    let table = format!("{}.octohook_deliveries", schema.schema);
    // No analyze while the test runs: the plans must not depend on one.
    client
        .batch_execute(&format!(
            "ALTER TABLE {table} SET (autovacuum_enabled = false)"
        ))
        .await
        .unwrap();
    let batches = |round: usize| async move {
        let per_round = 20;
        let new = (0..per_round)
            .map(|n| delivery(Some(7), &format!("grow-{round}-{n}")))
            .collect();
        let again = (0..per_round)
            .map(|n| delivery(Some(7), &format!("grow-{round}-{n}")))
            .collect();
        (new, again, per_round)
    };
    for round in 0..30 {
        if round == 8 {
            // The table grows under the store's feet: 50,000 finished rows.
            client
                .batch_execute(&format!(
                    "INSERT INTO {table} (hook_id, has_hook_id, guid, event, content_type, \
                       headers, body, received_at, status, updated_at) \
                     SELECT 7, TRUE, 'bulk-' || n, 'push', 'json', '[]', '\\x7b7d', now(), \
                       'done', now() \
                     FROM generate_series(1, 50000) AS n"
                ))
                .await
                .unwrap();
        }
        let (new, again, per_round): (Vec<_>, Vec<_>, usize) = batches(round).await;
        store.insert_batch(new).await.unwrap();
        // The second batch finds every key already stored.
        let duplicates = store.insert_batch(again).await.unwrap();
        assert!(duplicates.iter().all(|inserted| inserted.is_duplicate()));
        let claimed = store
            .claim_batch("w", Duration::from_secs(60), per_round)
            .await
            .unwrap();
        assert_eq!(claimed.len(), per_round);
        let finishes = claimed
            .into_iter()
            .map(|claimed| Finish::new(claimed.claim, Completion::Done))
            .collect();
        for finished in store.finish_batch(finishes).await.unwrap() {
            finished.unwrap();
        }
    }
    // A backend reports its table statistics when its connection closes.
    drop(store);
    let deadline = Instant::now() + Duration::from_secs(20);
    let read = loop {
        client
            .batch_execute("SELECT pg_stat_clear_snapshot()")
            .await
            .unwrap();
        let row = client
            .query_one(
                "SELECT n_tup_ins, seq_tup_read FROM pg_stat_user_tables \
                 WHERE schemaname = $1 AND relname = 'octohook_deliveries'",
                &[&schema.schema],
            )
            .await
            .unwrap();
        let (inserted, read): (i64, i64) = (row.get(0), row.get(1));
        // The test's own 50,000 rows are counted at once; the store's 600
        // once its connection has closed.
        if inserted == 50_000 + 30 * 20 {
            break read;
        }
        assert!(
            Instant::now() < deadline,
            "the store's statistics never arrived ({inserted} inserts counted)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Before the table grew, reading it whole was cheap and may have been
    // the plan: a few thousand rows at most. One batch's statements reading
    // the grown table would count 50,000.
    assert!(read < 20_000, "{read} rows read by sequential scans");
}

/// Bodies and headers are compressed with LZ4 where the server has it, and
/// still read back byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_compressed_with_lz4_where_the_server_has_it() {
    let schema = PgSchema::new().await;
    let store = schema.open().await;
    let client = schema.client().await;
    let has_lz4: bool = client
        .query_one(
            "SELECT 'lz4' = ANY (enumvals) FROM pg_settings \
             WHERE name = 'default_toast_compression'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let methods: Vec<(String, String)> = client
        .query(
            "SELECT attname::text, attcompression::text FROM pg_attribute \
             WHERE attrelid = $1::text::regclass AND attname IN ('body', 'headers') \
             ORDER BY attname",
            &[&format!("{}.octohook_deliveries", schema.schema)],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let expected = if has_lz4 { "l" } else { "" };
    assert_eq!(
        methods,
        [
            ("body".to_owned(), expected.to_owned()),
            ("headers".to_owned(), expected.to_owned())
        ]
    );
    // Large enough to be compressed (past 2 KiB), and compressible.
    let body = format!("{{\"padding\":\"{}\"}}", "ab".repeat(20_000));
    let mut new = delivery(Some(3), "lz4");
    new.body = body.clone().into();
    let id = store.insert(new).await.unwrap().id();
    let stored = store.get_by_id(id).await.unwrap().unwrap();
    assert_eq!(stored.body, body.as_bytes());
    if has_lz4 {
        let method: Option<String> = client
            .query_one(
                &format!(
                    "SELECT pg_column_compression(body) FROM {}.octohook_deliveries WHERE id = $1",
                    schema.schema
                ),
                &[&(id.get() as i64)],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(method.as_deref(), Some("lz4"));
    }
}
