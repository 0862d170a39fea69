//! The SQLite store's body log: bodies in segment files beside the database.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use octohook_inbox::{
    DeliveryStatus, DeliveryStore, ListQuery, NewDelivery, PurgeQuery, SqliteOptions, SqliteStore,
    StoreError, StoredDelivery,
};

use crate::{delivery, key};

/// A delivery whose body is `size` bytes, all telling `guid` apart.
fn sized(guid: &str, size: usize) -> NewDelivery {
    let mut new = delivery(Some(9), guid);
    new.body = body_of(guid, size).into();
    new
}

fn body_of(guid: &str, size: usize) -> Vec<u8> {
    guid.bytes()
        .chain(b"-".iter().copied())
        .cycle()
        .take(size)
        .collect()
}

fn log_directory(database: &Path) -> PathBuf {
    database.with_file_name("inbox.db-bodies")
}

/// The segment files, by name (none before the first: the directory is
/// created with it).
fn segments(database: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(log_directory(database)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Small segments, and every body in the log (small ones stay in the
/// database by default).
fn small_segments() -> SqliteOptions {
    log_only().body_log_segment_size(1000)
}

fn log_only() -> SqliteOptions {
    SqliteOptions::default().body_log_inline_max(0)
}

/// Stores deliveries of `size` bytes (GUIDs `prefix0`, `prefix1`, …) until one
/// is refused; returns how many were stored.
async fn fill(store: &SqliteStore, prefix: &str, size: usize) -> u64 {
    let mut stored = 0;
    while store
        .insert(sized(&format!("{prefix}{stored}"), size))
        .await
        .is_ok()
    {
        stored += 1;
        assert!(stored < 1000, "the size limit was never reached");
    }
    stored
}

/// Purges every delivery of `statuses`, however new; returns how many.
async fn purge_all(store: &SqliteStore, statuses: &[DeliveryStatus]) -> u64 {
    // A purge takes what was received strictly before its cut-off, in whole
    // milliseconds: let the clock pass the last insert's millisecond.
    tokio::time::sleep(Duration::from_millis(2)).await;
    store
        .purge(&PurgeQuery::older_than(
            Duration::ZERO,
            statuses.iter().copied(),
        ))
        .await
        .unwrap()
}

/// The body of `guid`, `size` bytes, reads back whole by key; returns the
/// delivery read.
async fn assert_body(store: &SqliteStore, guid: &str, size: usize) -> StoredDelivery {
    let stored = store.get(&key(Some(9), guid)).await.unwrap().unwrap();
    assert_eq!(stored.body, body_of(guid, size), "{guid}");
    stored
}

/// Every body of `sizes` reads back whole: by key, in a listing, claimed.
async fn assert_bodies(store: &SqliteStore, sizes: &[(String, usize)]) {
    for (guid, size) in sizes {
        let stored = assert_body(store, guid, *size).await;
        let by_id = store.get_by_id(stored.id).await.unwrap().unwrap();
        assert_eq!(by_id.body, stored.body, "{guid}");
    }
    let listed = store.list(&ListQuery::default().limit(1000)).await.unwrap();
    assert_eq!(listed.len(), sizes.len());
    for stored in listed {
        let (guid, size) = sizes
            .iter()
            .find(|(guid, _)| stored.key.guid.as_str() == guid)
            .unwrap();
        assert_eq!(stored.body, body_of(guid, *size), "{guid}");
    }
}

#[tokio::test]
async fn bodies_round_trip_across_segment_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let store = SqliteStore::open_with(&path, small_segments())
        .await
        .unwrap();
    // Some share a segment, one is larger than a segment, one is empty; half
    // come alone, half in batches (which rotate within a transaction).
    let sizes: Vec<(String, usize)> = [0, 1, 300, 450, 999, 1000, 2500, 10, 700, 333, 640, 5]
        .iter()
        .enumerate()
        .map(|(n, size)| (format!("d{n}"), *size))
        .collect();
    for (guid, size) in &sizes[..6] {
        assert!(
            !store
                .insert(sized(guid, *size))
                .await
                .unwrap()
                .is_duplicate()
        );
    }
    let batch = sizes[6..]
        .iter()
        .map(|(guid, size)| sized(guid, *size))
        .collect();
    let inserted = store.insert_batch(batch).await.unwrap();
    assert!(inserted.iter().all(|inserted| !inserted.is_duplicate()));
    assert!(segments(&path).len() >= 6, "{:?}", segments(&path));
    assert_bodies(&store, &sizes).await;

    // Claimed, then read again after a reopen.
    let claimed = store
        .claim_batch("w", Duration::from_secs(60), 100)
        .await
        .unwrap();
    assert_eq!(claimed.len(), sizes.len());
    for claimed in &claimed {
        let (guid, size) = sizes
            .iter()
            .find(|(guid, _)| claimed.delivery.key.guid.as_str() == guid)
            .unwrap();
        assert_eq!(claimed.delivery.body, body_of(guid, *size), "{guid}");
    }
    drop(store);
    let reopened = SqliteStore::open(&path).await.unwrap();
    assert_bodies(&reopened, &sizes).await;
}

/// Inserted and claimed in the same transaction: the claim reads a body that
/// is not written out yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_claimed_in_the_transaction_that_stored_it_reads_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let store = std::sync::Arc::new(
        SqliteStore::open_with(&path, small_segments())
            .await
            .unwrap(),
    );
    for round in 0..20 {
        let guid = format!("r{round}");
        let inserting = {
            let store = store.clone();
            let guid = guid.clone();
            tokio::spawn(async move { store.insert(sized(&guid, 600)).await })
        };
        let claiming = {
            let store = store.clone();
            tokio::spawn(async move { store.claim("w", Duration::from_secs(60)).await })
        };
        inserting.await.unwrap().unwrap();
        let mut claimed = claiming.await.unwrap().unwrap();
        if claimed.is_none() {
            claimed = store.claim("w", Duration::from_secs(60)).await.unwrap();
        }
        let claimed = claimed.unwrap();
        assert_eq!(claimed.delivery.body, body_of(&guid, 600));
        store.complete(&claimed.claim).await.unwrap();
    }
}

#[tokio::test]
async fn a_purge_removes_old_segments_and_keeps_referenced_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let store = SqliteStore::open_with(&path, small_segments())
        .await
        .unwrap();
    let old = SystemTime::now() - Duration::from_secs(3600);
    // 600 bytes each: one segment per delivery.
    for n in 0..8 {
        let mut new = sized(&format!("p{n}"), 600);
        new.received_at = old;
        store.insert(new).await.unwrap();
    }
    assert_eq!(segments(&path).len(), 8);
    for _ in 0..8 {
        let claimed = store
            .claim("w", Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        // p2 failed and is kept; p5 stays pending; the others are done.
        match claimed.delivery.key.guid.as_str() {
            "p2" => store.fail(&claimed.claim, "kept").await.unwrap(),
            "p5" => store
                .retry_later(&claimed.claim, "later", Duration::from_secs(600))
                .await
                .unwrap(),
            _ => store.complete(&claimed.claim).await.unwrap(),
        }
    }
    let removed = purge_all(&store, &[DeliveryStatus::Done]).await;
    assert_eq!(removed, 6);
    // Kept: p2's, p5's, and the last one (appended to, though p7 is gone).
    assert_eq!(
        segments(&path),
        ["00000003.log", "00000006.log", "00000008.log"]
    );
    for guid in ["p2", "p5"] {
        assert_body(&store, guid, 600).await;
    }
    // The log goes on after the last segment.
    store.insert(sized("after", 600)).await.unwrap();
    assert_body(&store, "after", 600).await;
    assert_eq!(segments(&path).last().unwrap(), "00000009.log");
    // Purging the rest leaves only the segment appended to.
    purge_all(&store, &[DeliveryStatus::Failed, DeliveryStatus::Pending]).await;
    assert_eq!(segments(&path), ["00000009.log"]);
}

/// A segment left behind by a purge that stopped before removing it goes at
/// the next open.
#[tokio::test]
async fn an_open_removes_segments_older_than_every_recorded_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    {
        let store = SqliteStore::open_with(&path, small_segments())
            .await
            .unwrap();
        for n in 0..3 {
            store.insert(sized(&format!("o{n}"), 600)).await.unwrap();
        }
    }
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute_batch(
            "DELETE FROM octohook_deliveries WHERE guid IN ('o0', 'o1'); \
             DELETE FROM octohook_body_segments WHERE segment < 3;",
        )
        .unwrap();
    drop(connection);
    assert_eq!(segments(&path).len(), 3);
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(segments(&path), ["00000003.log"]);
    assert_body(&store, "o2", 600).await;
}

/// A row stored before the body log existed keeps its body in
/// `octohook_delivery_bodies`, and reads (and is claimed) as before.
#[tokio::test]
async fn a_row_from_before_the_body_log_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let store = SqliteStore::open_with(&path, log_only()).await.unwrap();
    store.insert(sized("new", 100)).await.unwrap();
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute_batch(
            "INSERT INTO octohook_deliveries (hook_id, has_hook_id, guid, event, content_type, \
               headers, body, received_at, status, due_at, updated_at) \
             VALUES (9, 1, 'legacy', 'issues', 'application/json', '[]', x'', 0, 'pending', 0, 0); \
             INSERT INTO octohook_delivery_bodies (id, body) \
             SELECT id, CAST('{\"legacy\":true}' AS BLOB) FROM octohook_deliveries \
             WHERE guid = 'legacy';",
        )
        .unwrap();
    let legacy = store.get(&key(Some(9), "legacy")).await.unwrap().unwrap();
    assert_eq!(legacy.body, br#"{"legacy":true}"#[..]);
    let claimed = store
        .claim_batch("w", Duration::from_secs(60), 10)
        .await
        .unwrap();
    let bodies: Vec<_> = claimed
        .iter()
        .map(|claimed| claimed.delivery.body.clone())
        .collect();
    assert_eq!(
        bodies,
        [
            body_of("new", 100).into(),
            bytes::Bytes::from_static(br#"{"legacy":true}"#)
        ]
    );
    // Purged, its body row follows it out.
    purge_all(&store, &[DeliveryStatus::Processing]).await;
    let left: i64 = connection
        .query_row("SELECT COUNT(*) FROM octohook_delivery_bodies", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_row_pointing_past_its_segment_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let store = SqliteStore::open_with(&path, log_only()).await.unwrap();
    for guid in ["far", "cut", "negative", "nowhere"] {
        store.insert(sized(guid, 100)).await.unwrap();
    }
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute_batch(
            "UPDATE octohook_deliveries SET body_offset = 1000000 WHERE guid = 'far'; \
             UPDATE octohook_deliveries SET body_length = 9223372036854775807 WHERE guid = 'cut'; \
             UPDATE octohook_deliveries SET body_offset = -5 WHERE guid = 'negative'; \
             UPDATE octohook_deliveries SET body_segment = 77 WHERE guid = 'nowhere';",
        )
        .unwrap();
    for guid in ["far", "cut", "negative"] {
        let error = store.get(&key(Some(9), guid)).await.unwrap_err();
        assert!(
            matches!(error, StoreError::Corrupt { .. }),
            "{guid}: {error:?}"
        );
    }
    let error = store.get(&key(Some(9), "nowhere")).await.unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    // A claim of such a row fails too, and leaves the store usable.
    let error = store
        .claim_batch("w", Duration::from_secs(60), 10)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    store.insert(sized("fine", 10)).await.unwrap();
    assert_body(&store, "fine", 10).await;
}

/// The size limit counts the body log: inserts fail with `Full` before the
/// database and the log together pass it, and a duplicate is still known.
#[tokio::test]
async fn the_size_limit_counts_the_body_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let limit = 256 * 1024;
    let store = SqliteStore::open_with(
        &path,
        SqliteOptions::default()
            .size_limit(Some(limit))
            .body_log_segment_size(64 * 1024),
    )
    .await
    .unwrap();
    let mut stored = 0;
    let error = loop {
        match store.insert(sized(&format!("s{stored}"), 8 * 1024)).await {
            Ok(_) => stored += 1,
            Err(error) => break error,
        }
        assert!(stored < 100, "the size limit was never reached");
    };
    assert!(matches!(error, StoreError::Full(_)), "{error:?}");
    let log: u64 = std::fs::read_dir(log_directory(&path))
        .unwrap()
        .map(|entry| entry.unwrap().metadata().unwrap().len())
        .sum();
    let database = std::fs::metadata(&path).unwrap().len();
    assert!(log >= stored * 8 * 1024, "{log}");
    assert!(log + database <= limit, "{log} + {database} > {limit}");
    assert!(
        store
            .insert(sized("s0", 8 * 1024))
            .await
            .unwrap()
            .is_duplicate()
    );
    // A small one still fits.
    assert!(
        !store
            .insert(sized("tiny", 10))
            .await
            .unwrap()
            .is_duplicate()
    );
}

/// `health` (what `/healthz` asks) calls the store full from the first
/// delivery refused for want of room until a purge makes room or a delivery
/// is stored again, and whenever the store is at or past its limit.
#[tokio::test]
async fn health_reports_a_store_full_up_to_its_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let limit = 256 * 1024;
    let options = || {
        SqliteOptions::default()
            .size_limit(Some(limit))
            .body_log_segment_size(64 * 1024)
    };
    let store = SqliteStore::open_with(&path, options()).await.unwrap();
    store.health().await.unwrap();
    fill(&store, "h", 8 * 1024).await;
    let error = store.health().await.unwrap_err();
    assert!(matches!(error, StoreError::Full(_)), "{error:?}");
    assert!(
        error.to_string().contains(&format!("{limit} bytes")),
        "{error}"
    );
    // A duplicate stores nothing: still full.
    assert!(
        store
            .insert(sized("h0", 8 * 1024))
            .await
            .unwrap()
            .is_duplicate()
    );
    assert!(matches!(store.health().await, Err(StoreError::Full(_))));

    // A purge makes room.
    let purged = purge_all(&store, &[DeliveryStatus::Pending]).await;
    assert!(purged > 0);
    store.health().await.unwrap();
    drop(store);

    // At or past a (lowered) limit, full before any delivery is refused: two
    // pages, fewer than the schema alone takes up.
    let database = 8192;
    let store = SqliteStore::open_with(&path, options().size_limit(Some(database)))
        .await
        .unwrap();
    let error = store.health().await.unwrap_err();
    assert!(matches!(error, StoreError::Full(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains(&format!("size limit of {database} bytes")),
        "{error}"
    );
}

/// The pages a purge frees in the database are taken up again by deliveries
/// whose bodies stay there: a store filled with small deliveries, then purged,
/// takes as many again (the file does not shrink, and need not).
#[tokio::test]
async fn room_a_purge_frees_in_the_database_is_used_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let limit = 512 * 1024;
    let store = SqliteStore::open_with(&path, SqliteOptions::default().size_limit(Some(limit)))
        .await
        .unwrap();
    // 3 KiB bodies stay in the database (the default inline maximum is 4 KiB).
    let first = fill(&store, "a", 3 * 1024).await;
    assert!(segments(&path).is_empty(), "{:?}", segments(&path));
    let purged = purge_all(&store, &[DeliveryStatus::Pending]).await;
    assert_eq!(purged, first);
    store.health().await.unwrap();
    let second = fill(&store, "b", 3 * 1024).await;
    assert!(
        second + 2 >= first,
        "{first} deliveries before the purge, only {second} after"
    );
    assert!(std::fs::metadata(&path).unwrap().len() <= limit);
}

#[tokio::test]
async fn a_read_only_store_reads_the_log_and_never_writes_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    {
        let store = SqliteStore::open_with(&path, small_segments())
            .await
            .unwrap();
        for n in 0..4 {
            store.insert(sized(&format!("r{n}"), 700)).await.unwrap();
        }
    }
    let before = segments(&path);
    let store = SqliteStore::open_with(&path, SqliteOptions::default().read_only(true))
        .await
        .unwrap();
    let sizes: Vec<_> = (0..4).map(|n| (format!("r{n}"), 700)).collect();
    assert_bodies(&store, &sizes).await;
    let error = store.insert(sized("new", 10)).await.unwrap_err();
    assert!(matches!(error, StoreError::ReadOnly(_)), "{error:?}");
    assert_eq!(segments(&path), before);
    drop(store);

    // Without its log, a read-only open still opens and reads fail, typed;
    // nothing is created.
    std::fs::remove_dir_all(log_directory(&path)).unwrap();
    let store = SqliteStore::open_with(&path, SqliteOptions::default().read_only(true))
        .await
        .unwrap();
    let error = store.get(&key(Some(9), "r0")).await.unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    assert!(!log_directory(&path).exists());
}

/// Two stores on one file (as two processes): their appends interleave
/// under SQLite's write lock and never overwrite each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_share_one_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let first = std::sync::Arc::new(
        SqliteStore::open_with(&path, small_segments())
            .await
            .unwrap(),
    );
    let second = std::sync::Arc::new(
        SqliteStore::open_with(&path, small_segments())
            .await
            .unwrap(),
    );
    let mut tasks = Vec::new();
    for (name, store) in [("a", first.clone()), ("b", second.clone())] {
        tasks.push(tokio::spawn(async move {
            for n in 0..30 {
                store
                    .insert(sized(&format!("{name}{n}"), 100 + n * 37))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let sizes: Vec<_> = ["a", "b"]
        .iter()
        .flat_map(|name| (0..30).map(move |n| (format!("{name}{n}"), 100 + n * 37)))
        .collect();
    assert_bodies(&first, &sizes).await;
    assert_bodies(&second, &sizes).await;
}

/// A body that cannot be written (its segment is a directory here; a failing
/// disk elsewhere) fails its transaction: nothing is acknowledged, nothing
/// is stored, and the store works again once the segment can be written.
#[tokio::test]
async fn a_body_log_that_cannot_be_written_fails_the_insert_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    std::fs::create_dir_all(log_directory(&path).join("00000001.log")).unwrap();
    let store = SqliteStore::open_with(&path, log_only()).await.unwrap();
    let error = store
        .insert_batch(vec![sized("w0", 100), sized("w1", 200)])
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    assert_eq!(store.counts().await.unwrap().total(), 0);
    assert_eq!(store.get(&key(Some(9), "w0")).await.unwrap(), None);

    std::fs::remove_dir(log_directory(&path).join("00000001.log")).unwrap();
    store.insert(sized("w0", 100)).await.unwrap();
    assert_body(&store, "w0", 100).await;
}

/// Bodies up to a page stay in the database by default (the log's sync per
/// transaction costs more than it saves for them); larger ones go to the log,
/// in the same transaction, and both read back.
#[tokio::test]
async fn small_bodies_stay_in_the_database_and_large_ones_go_to_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store.insert(sized("alone", 4096)).await.unwrap();
    assert!(!log_directory(&path).exists());
    let sizes = [("small", 100), ("page", 4097), ("large", 9000)];
    store
        .insert_batch(
            sizes
                .iter()
                .map(|(guid, size)| sized(guid, *size))
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(segments(&path), ["00000001.log"]);
    let log = std::fs::metadata(log_directory(&path).join("00000001.log"))
        .unwrap()
        .len();
    assert_eq!(log, 4097 + 9000);
    let mut all: Vec<(String, usize)> = sizes
        .iter()
        .map(|(guid, size)| (guid.to_string(), *size))
        .collect();
    all.push(("alone".to_owned(), 4096));
    assert_bodies(&store, &all).await;
    let claimed = store
        .claim_batch("w", Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 4);
    for claimed in claimed {
        let guid = claimed.delivery.key.guid.as_str().to_owned();
        let size = all.iter().find(|(name, _)| *name == guid).unwrap().1;
        assert_eq!(claimed.delivery.body, body_of(&guid, size), "{guid}");
    }
}
