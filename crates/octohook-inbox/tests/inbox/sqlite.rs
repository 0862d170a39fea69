//! What only the SQLite store has to show: durability, and its failures.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use octohook_inbox::{
    DeliveryStatus, DeliveryStore, SqliteOptions, SqliteStore, StoreError, Synchronous,
};

use crate::{delivery, key};

#[tokio::test]
async fn deliveries_and_their_state_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let lease_until;
    {
        let store = SqliteStore::open(&path).await.unwrap();
        for guid in ["a", "b", "c"] {
            store.insert(delivery(Some(1), guid)).await.unwrap();
        }
        let a = store
            .claim("w", Duration::from_secs(600))
            .await
            .unwrap()
            .unwrap();
        store.fail(&a.claim, "gave up").await.unwrap();
        let b = store
            .claim("w", Duration::from_secs(600))
            .await
            .unwrap()
            .unwrap();
        lease_until = b.claim.lease_until();
    }
    // Opening again re-runs no migration and finds everything as it was.
    let store = SqliteStore::open(&path).await.unwrap();
    let status = |guid: &'static str| {
        let store = &store;
        async move { store.get(&key(Some(1), guid)).await.unwrap().unwrap() }
    };
    let a = status("a").await;
    assert_eq!(
        (a.status, a.last_error.as_deref()),
        (DeliveryStatus::Failed, Some("gave up"))
    );
    let b = status("b").await;
    assert_eq!(b.status, DeliveryStatus::Processing);
    assert_eq!(b.lease.unwrap().until, lease_until);
    assert_eq!(status("c").await.status, DeliveryStatus::Pending);
    assert!(
        store
            .insert(delivery(Some(1), "a"))
            .await
            .unwrap()
            .is_duplicate()
    );
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM octohook_schema", [], |row| row.get(0))
        .unwrap();
    // Migrations 1, 2, 3, 5 (pull mode), 6 (trace context) and 7 (body log);
    // 4 is PostgreSQL only.
    assert_eq!(version, 6);
}

#[tokio::test]
async fn the_database_uses_wal_and_the_chosen_sync_level() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let _store = SqliteStore::open_with(
        &path,
        SqliteOptions::default().synchronous(Synchronous::Normal),
    )
    .await
    .unwrap();
    let mode: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn a_read_only_store_refuses_inserts_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    SqliteStore::open(&path)
        .await
        .unwrap()
        .insert(delivery(Some(1), "kept"))
        .await
        .unwrap();
    let store = SqliteStore::open_with(&path, SqliteOptions::default().read_only(true))
        .await
        .unwrap();
    assert!(store.get(&key(Some(1), "kept")).await.unwrap().is_some());
    let error = store.insert(delivery(Some(1), "new")).await.unwrap_err();
    assert!(matches!(error, StoreError::ReadOnly(_)), "{error:?}");
    assert!(error.is_unavailable());
    assert!(matches!(
        store.claim("w", Duration::from_secs(1)).await,
        Err(StoreError::ReadOnly(_))
    ));
}

#[tokio::test]
async fn a_missing_file_is_not_created_when_asked_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    let error = SqliteStore::open_with(&path, SqliteOptions::default().create(false))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    assert!(!path.exists());
}

#[tokio::test]
async fn a_schema_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    drop(SqliteStore::open(&path).await.unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("INSERT INTO octohook_schema (version) VALUES (99)", [])
        .unwrap();
    let error = SqliteStore::open(&path).await.unwrap_err();
    assert_eq!(
        error,
        StoreError::SchemaTooNew {
            found: 99,
            supported: 7
        }
    );
}

/// A store written by version 1 of the schema, where hook id 0 stood for "no
/// hook id": after the migration those rows are deliveries without a hook id,
/// every other row is unchanged, and row ids continue after the highest ever
/// given (a purged row's id is not reused).
#[tokio::test]
async fn the_no_hook_id_migration_keeps_existing_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .execute_batch(include_str!(
                "../../src/migrations/sqlite/0001_deliveries.sql"
            ))
            .unwrap();
        connection
            .execute_batch(
                "CREATE TABLE octohook_schema (version INTEGER NOT NULL);
                 INSERT INTO octohook_schema (version) VALUES (1);",
            )
            .unwrap();
        let mut insert = connection
            .prepare(
                "INSERT INTO octohook_deliveries (hook_id, guid, event, action, content_type, \
                 headers, body, received_at, status, attempts, due_at, last_error, updated_at) \
                 VALUES (?1, ?2, 'issues', 'opened', 'application/json', '[]', ?3, 1000, ?4, \
                 ?5, ?6, ?7, 2000)",
            )
            .unwrap();
        let rows = [
            (0_i64, "legacy", "done", 1_i64, None::<i64>, None::<&str>),
            (42, "hooked", "failed", 3, None, Some("boom")),
            (-1, "max", "pending", 0, Some(1500), None),
            (7, "purged", "done", 1, None, None),
        ];
        for (hook_id, guid, status, attempts, due_at, error) in rows {
            let body = format!(r#"{{"guid":"{guid}"}}"#);
            insert
                .execute(rusqlite::params![
                    hook_id,
                    guid,
                    body.as_bytes(),
                    status,
                    attempts,
                    due_at,
                    error
                ])
                .unwrap();
        }
        connection
            .execute("DELETE FROM octohook_deliveries WHERE guid = 'purged'", [])
            .unwrap();
    }

    let store = SqliteStore::open(&path).await.unwrap();
    let legacy = store.get(&key(None, "legacy")).await.unwrap().unwrap();
    assert_eq!(legacy.id.get(), 1);
    assert_eq!(legacy.status, DeliveryStatus::Done);
    assert_eq!(legacy.body, br#"{"guid":"legacy"}"#[..]);
    assert_eq!(store.get(&key(Some(0), "legacy")).await.unwrap(), None);
    let hooked = store.get(&key(Some(42), "hooked")).await.unwrap().unwrap();
    assert_eq!(
        (hooked.id.get(), hooked.status, hooked.attempts),
        (2, DeliveryStatus::Failed, 3)
    );
    assert_eq!(hooked.last_error.as_deref(), Some("boom"));
    let max = store
        .get(&key(Some(u64::MAX), "max"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((max.id.get(), max.status), (3, DeliveryStatus::Pending));

    // Hook id 0 is a new delivery, with the id after the purged row's (an id
    // taken by an insert that found a duplicate is skipped, so this comes first);
    // the old "no hook id" row still deduplicates.
    let zero = store.insert(delivery(Some(0), "legacy")).await.unwrap();
    assert!(!zero.is_duplicate());
    assert_eq!(zero.id().get(), 5, "ids continue after the purged row's");
    assert!(
        store
            .insert(delivery(None, "legacy"))
            .await
            .unwrap()
            .is_duplicate()
    );
    assert_eq!(store.counts().await.unwrap().total(), 4);
    drop(store);

    let connection = rusqlite::Connection::open(&path).unwrap();
    let versions: Vec<i64> = connection
        .prepare("SELECT version FROM octohook_schema ORDER BY version")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, [1, 2, 3, 5, 6, 7]);
    let indexes: Vec<String> = connection
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'index' \
             AND tbl_name = 'octohook_deliveries' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        indexes,
        ["octohook_deliveries_due", "octohook_deliveries_received"]
    );
}

/// A full store answers every insert it could not commit with an error, and
/// every insert it answered with `Ok` is committed, even when concurrent inserts
/// share a transaction that the full disk broke.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_store_fails_inserts_and_loses_no_acknowledged_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let store = Arc::new(
        SqliteStore::open_with(&path, SqliteOptions::default().size_limit(Some(256 * 1024)))
            .await
            .unwrap(),
    );
    let body = "x".repeat(8 * 1024);
    let mut acknowledged = HashSet::new();
    let mut full = 0;
    // In waves of 8 concurrent inserts (which share transactions): all 80 at
    // once may land in a single transaction when the machine is busy, and then
    // none is acknowledged.
    for wave in 0..10 {
        let mut tasks = Vec::new();
        for n in wave * 8..wave * 8 + 8 {
            let store = store.clone();
            let body = body.clone();
            tasks.push(tokio::spawn(async move {
                let mut new = delivery(Some(1), &format!("big-{n}"));
                new.body = body.into();
                (n, store.insert(new).await)
            }));
        }
        for task in tasks {
            match task.await.unwrap() {
                (n, Ok(inserted)) => {
                    assert!(!inserted.is_duplicate());
                    acknowledged.insert(n);
                }
                (_, Err(StoreError::Full(_))) => full += 1,
                (_, Err(other)) => panic!("unexpected error {other:?}"),
            }
        }
    }
    assert!(full > 0, "the size limit was never reached");
    assert!(!acknowledged.is_empty());
    drop(store);
    let reopened = SqliteStore::open(&path).await.unwrap();
    let stored = reopened.counts().await.unwrap().total();
    for n in &acknowledged {
        assert!(
            reopened
                .get(&key(Some(1), &format!("big-{n}")))
                .await
                .unwrap()
                .is_some(),
            "acknowledged delivery {n} was lost"
        );
    }
    assert_eq!(stored, acknowledged.len() as u64);
}

const CRASH_CHILD: &str = "OCTOHOOK_INBOX_CRASH_CHILD";

/// Kills a process with SIGKILL while it inserts deliveries (with duplicates)
/// from many tasks: every delivery it reported as stored is in the file, once.
///
/// The test binary plays both parts: run with `OCTOHOOK_INBOX_CRASH_CHILD` set,
/// this test is the writer that gets killed.
#[test]
fn a_killed_writer_loses_no_acknowledged_delivery() {
    if let Ok(path) = std::env::var(CRASH_CHILD) {
        write_until_killed(Path::new(&path));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "sqlite::a_killed_writer_loses_no_acknowledged_delivery",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_CHILD, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acknowledged = HashSet::new();
    while acknowledged.len() < 400 {
        let line = lines
            .next()
            .expect("the writer stopped before it was killed")
            .unwrap();
        if let Some(guid) = line.strip_prefix("stored ") {
            acknowledged.insert(guid.to_owned());
        }
    }
    child.kill().unwrap(); // SIGKILL
    // What it printed before dying was acknowledged too.
    for line in lines {
        if let Some(guid) = line.unwrap().strip_prefix("stored ") {
            acknowledged.insert(guid.to_owned());
        }
    }
    child.wait().unwrap();

    let connection = rusqlite::Connection::open(&path).unwrap();
    let check: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let mut statement = connection
        .prepare("SELECT guid FROM octohook_deliveries")
        .unwrap();
    let stored: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let distinct: HashSet<&String> = stored.iter().collect();
    assert_eq!(distinct.len(), stored.len(), "a delivery was stored twice");
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|guid| !distinct.contains(guid))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    drop(statement);
    drop(connection);

    // Every stored delivery's body reads back whole from the body log.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(&path).await.unwrap();
        for guid in &distinct {
            let stored = store.get(&key(Some(3), guid)).await.unwrap().unwrap();
            assert_eq!(stored.body, delivery(Some(3), guid).body, "{guid}");
        }
    });
}

/// The writer: 8 tasks insert deliveries, each sent twice, and print the GUID
/// of each one stored, until the process is killed. Half of them insert one at
/// a time, the other half in batches of four (two deliveries, each twice), so
/// that the kill may land in a batch's commit.
fn write_until_killed(path: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Every body in the body log, the path under test.
        let options = SqliteOptions::default().body_log_inline_max(0);
        let store = Arc::new(SqliteStore::open_with(path, options).await.unwrap());
        let mut tasks = Vec::new();
        for task in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                if task % 2 == 1 {
                    for n in 0u64.. {
                        let guids = [
                            format!("t{task}-{}", 2 * n),
                            format!("t{task}-{}", 2 * n + 1),
                        ];
                        let batch = [&guids[0], &guids[0], &guids[1], &guids[1]]
                            .map(|guid| delivery(Some(3), guid))
                            .to_vec();
                        if store.insert_batch(batch).await.is_ok() {
                            println!("stored {}\nstored {}", guids[0], guids[1]);
                        }
                    }
                }
                for n in 0u64.. {
                    let guid = format!("t{task}-{}", n / 2);
                    if store.insert(delivery(Some(3), &guid)).await.is_ok() {
                        println!("stored {guid}");
                    }
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    });
}
