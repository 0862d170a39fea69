//! [`SqliteLedger`]: the runner's state in a SQLite file, durable across crashes.
//!
//! Set up as the inbox's SQLite store is: schema migrations as `.sql` files
//! applied once each at open, WAL with `synchronous = FULL`, a busy timeout for
//! writers in other processes, and `BEGIN IMMEDIATE` for every check-then-write.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use octohook::DeliveryGuid;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use time::OffsetDateTime;

use super::ledger::{
    Checkpoint, Intent, IntentClaim, IntentId, IntentState, LedgerError, LedgerFuture, NewIntent,
    RedeliveryLedger,
};
use crate::models::DeliveryId;

/// The schema migrations, applied in order at open; each runs once, and a row
/// of `octohook_redelivery_schema` records it, as the inbox's `octohook_schema`
/// does (a table of its own: a ledger may share a file with an inbox).
const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    include_str!("../migrations/sqlite/0001_redelivery_ledger.sql"),
)];

/// How long a writer waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`RedeliveryLedger`] in a SQLite database file (bundled SQLite; no system library).
///
/// The database runs in WAL mode with `synchronous = FULL` (opening fails when
/// the file system cannot do WAL): a write has reached the disk when its future
/// resolves, so an intent recorded before a redelivery request survives a
/// `SIGKILL` of the process and a power loss alike.
/// [`claim`](RedeliveryLedger::claim) runs in a `BEGIN IMMEDIATE` transaction, so several
/// processes (runners of several hooks, or several runners of one hook) can share
/// one file: each claim is atomic, and a writer waits up to 10 s for another.
///
/// Calls run on tokio's blocking pool, never on the async workers; a ledger must
/// therefore be used inside a tokio runtime.
///
/// ```no_run
/// use std::sync::Arc;
/// use octohook_client::{SqliteLedger, RedeliveryLedger};
///
/// # async fn run() -> Result<(), octohook_client::LedgerError> {
/// let ledger: Arc<dyn RedeliveryLedger> = Arc::new(SqliteLedger::open("octohook-state.db").await?);
/// # let _ = ledger;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SqliteLedger {
    connection: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
}

impl SqliteLedger {
    /// Opens (creating it when missing) the database at `path` and brings its
    /// schema up to date.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let path = path.as_ref().to_path_buf();
        let opened = path.clone();
        let connection = tokio::task::spawn_blocking(move || open_connection(&opened))
            .await
            .map_err(|e| LedgerError::with_source("the opening task failed", e))??;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            path: Arc::new(path),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` with the connection on the blocking pool.
    fn call<T, F>(&self, work: F) -> LedgerFuture<'static, T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, LedgerError> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                // A panic in `work` cannot leave a transaction half-applied: the
                // transaction is rolled back when dropped.
                let mut connection = connection
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                work(&mut connection)
            })
            .await
            .map_err(|e| LedgerError::with_source("a ledger task failed", e))?
        })
    }
}

/// Opens the connection, sets it up and migrates the schema: the inbox store's
/// sequence (flags, busy timeout, statement cache, WAL, `synchronous`, migrations).
fn open_connection(path: &Path) -> Result<Connection, LedgerError> {
    let flags = OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE;
    let mut connection = Connection::open_with_flags(path, flags).map_err(|error| {
        LedgerError::with_source(format!("cannot open {}", path.display()), error)
    })?;
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(failed("cannot set the busy timeout"))?;
    connection.set_prepared_statement_cache_capacity(32);
    let mode: String = connection
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(failed("cannot enable the write-ahead log"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(LedgerError::new(format!(
            "{} cannot use write-ahead logging (journal mode {mode})",
            path.display()
        )));
    }
    connection
        .execute_batch("PRAGMA synchronous = FULL;")
        .map_err(failed("cannot set synchronous = FULL"))?;
    migrate(&mut connection)?;
    Ok(connection)
}

/// Applies the migrations the database has not seen, in one transaction.
fn migrate(connection: &mut Connection) -> Result<(), LedgerError> {
    let supported = MIGRATIONS.last().map_or(0, |(version, _)| *version);
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed("cannot start the migration"))?;
    transaction
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS octohook_redelivery_schema (version INTEGER NOT NULL);",
        )
        .map_err(failed("cannot create the schema table"))?;
    let mut found: i64 = transaction
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM octohook_redelivery_schema",
            [],
            |row| row.get(0),
        )
        .map_err(failed("cannot read the schema version"))?;
    if found == 0 {
        // Ledgers made before the table kept their version in `user_version`.
        found = transaction
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(failed("cannot read the schema version"))?;
    }
    if found > supported {
        return Err(LedgerError::new(format!(
            "the database has schema version {found}, newer than this program's {supported}"
        )));
    }
    for (_, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > found) {
        transaction
            .execute_batch(sql)
            .map_err(failed("cannot migrate the schema"))?;
    }
    if found < supported || !has_version_row(&transaction)? {
        transaction
            .execute(
                "INSERT INTO octohook_redelivery_schema (version) VALUES (?1)",
                [supported.max(found)],
            )
            .map_err(failed("cannot record the schema version"))?;
    }
    transaction
        .commit()
        .map_err(failed("cannot commit the migration"))?;
    if found < supported {
        // One line, once committed: a new ledger goes through every version.
        tracing::info!(
            from = found,
            to = supported,
            "migrated the SQLite redelivery ledger"
        );
    }
    Ok(())
}

/// Whether the schema table has its row (a ledger from before the table has
/// none until it is opened once).
fn has_version_row(connection: &Connection) -> Result<bool, LedgerError> {
    connection
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM octohook_redelivery_schema)",
            [],
            |row| row.get(0),
        )
        .map_err(failed("cannot read the schema version"))
}

/// The ledger's one mapping of a SQLite error: a [`LedgerError`] saying what it
/// was doing, with SQLite's error as the cause.
fn failed(what: &'static str) -> impl Fn(rusqlite::Error) -> LedgerError + Copy {
    move |error| LedgerError::with_source(what, error)
}

fn to_ns(time: OffsetDateTime) -> i64 {
    // i64 nanoseconds reach the year 2262.
    i64::try_from(time.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

fn from_ns(ns: i64) -> rusqlite::Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Integer, Box::new(e))
    })
}

fn read_intent(row: &rusqlite::Row<'_>) -> rusqlite::Result<Intent> {
    let conversion = |index: usize, e: Box<dyn std::error::Error + Send + Sync>| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, e)
    };
    let guid: String = row.get(1)?;
    let guid: DeliveryGuid = guid.parse().map_err(|e| conversion(1, Box::new(e)))?;
    let delivery_id: i64 = row.get(2)?;
    let state: String = row.get(4)?;
    let state = IntentState::from_name(&state)
        .ok_or_else(|| conversion(4, format!("unknown intent state {state:?}").into()))?;
    Ok(Intent::new(
        IntentId::new(row.get(0)?),
        guid,
        DeliveryId::new(delivery_id as u64),
        from_ns(row.get(3)?)?,
        state,
        row.get(5)?,
    ))
}

const INTENT_COLUMNS: &str = "id, guid, delivery_id, created_at_ns, state, error";

impl RedeliveryLedger for SqliteLedger {
    fn checkpoint<'a>(&'a self, scope: &'a str) -> LedgerFuture<'a, Option<Checkpoint>> {
        let scope = scope.to_owned();
        self.call(move |connection| {
            connection
                .query_row(
                    "SELECT delivered_at_ns, updated_at_ns FROM redelivery_checkpoints WHERE scope = ?1",
                    params![scope],
                    |row| {
                        Ok(Checkpoint {
                            delivered_at: from_ns(row.get(0)?)?,
                            updated_at: from_ns(row.get(1)?)?,
                        })
                    },
                )
                .optional()
                .map_err(failed("cannot read the checkpoint"))
        })
    }

    fn save_checkpoint<'a>(
        &'a self,
        scope: &'a str,
        checkpoint: Checkpoint,
    ) -> LedgerFuture<'a, ()> {
        let scope = scope.to_owned();
        self.call(move |connection| {
            connection
                .execute(
                    "INSERT INTO redelivery_checkpoints (scope, delivered_at_ns, updated_at_ns)
                     VALUES (?1, ?2, ?3)
                     ON CONFLICT (scope) DO UPDATE SET
                         delivered_at_ns = excluded.delivered_at_ns,
                         updated_at_ns = excluded.updated_at_ns",
                    params![
                        scope,
                        to_ns(checkpoint.delivered_at),
                        to_ns(checkpoint.updated_at)
                    ],
                )
                .map(drop)
                .map_err(failed("cannot save the checkpoint"))
        })
    }

    fn intents<'a>(
        &'a self,
        scope: &'a str,
        guids: &'a [DeliveryGuid],
    ) -> LedgerFuture<'a, Vec<Intent>> {
        let scope = scope.to_owned();
        let guids: Vec<String> = guids.iter().map(|g| g.as_str().to_owned()).collect();
        self.call(move |connection| {
            let read = failed("cannot read intents");
            let transaction = connection.transaction().map_err(read)?;
            // A temporary table keeps the query one statement whatever the number
            // of GUIDs (SQLite limits bound parameters).
            transaction
                .execute_batch(
                    "CREATE TEMP TABLE IF NOT EXISTS wanted_guids (guid TEXT PRIMARY KEY);
                     DELETE FROM wanted_guids;",
                )
                .map_err(read)?;
            {
                let mut insert = transaction
                    .prepare_cached("INSERT OR IGNORE INTO wanted_guids (guid) VALUES (?1)")
                    .map_err(read)?;
                for guid in &guids {
                    insert.execute(params![guid]).map_err(read)?;
                }
            }
            let intents = {
                let mut select = transaction
                    .prepare(&format!(
                        "SELECT {INTENT_COLUMNS} FROM redelivery_intents
                         WHERE scope = ?1
                           AND (state = 'open' OR guid IN (SELECT guid FROM wanted_guids))
                         ORDER BY created_at_ns, id"
                    ))
                    .map_err(read)?;
                select
                    .query_map(params![scope], read_intent)
                    .map_err(read)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(read)?
            };
            transaction
                .execute_batch("DELETE FROM wanted_guids;")
                .map_err(read)?;
            transaction.commit().map_err(read)?;
            Ok(intents)
        })
    }

    fn claim<'a>(&'a self, scope: &'a str, intent: NewIntent) -> LedgerFuture<'a, IntentClaim> {
        let scope = scope.to_owned();
        self.call(move |connection| {
            let write = failed("cannot record the intent");
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(write)?;
            let attempts: i64 = transaction
                .query_row(
                    "SELECT COUNT(*) FROM redelivery_intents
                     WHERE scope = ?1 AND guid = ?2 AND state IN ('open', 'accepted', 'confirmed')",
                    params![scope, intent.guid.as_str()],
                    |row| row.get(0),
                )
                .map_err(write)?;
            let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
            if attempts >= intent.max_attempts {
                return Ok(IntentClaim::Exhausted { attempts });
            }
            transaction
                .execute(
                    "INSERT INTO redelivery_intents (scope, guid, delivery_id, created_at_ns, state)
                     VALUES (?1, ?2, ?3, ?4, 'open')",
                    params![
                        scope,
                        intent.guid.as_str(),
                        intent.delivery_id.get() as i64,
                        to_ns(intent.created_at)
                    ],
                )
                .map_err(write)?;
            let id = IntentId::new(transaction.last_insert_rowid());
            transaction.commit().map_err(write)?;
            Ok(IntentClaim::Claimed(intent.opened(id)))
        })
    }

    fn resolve<'a>(
        &'a self,
        id: IntentId,
        state: IntentState,
        error: Option<&'a str>,
    ) -> LedgerFuture<'a, ()> {
        let error = error.map(str::to_owned);
        self.call(move |connection| {
            connection
                .execute(
                    "UPDATE redelivery_intents SET state = ?2, error = ?3, resolved_at_ns = ?4
                     WHERE id = ?1 AND state IN ('open', 'abandoned')",
                    params![
                        id.get(),
                        state.as_str(),
                        error,
                        to_ns(OffsetDateTime::now_utc())
                    ],
                )
                .map(drop)
                .map_err(failed("cannot resolve the intent"))
        })
    }

    fn prune<'a>(&'a self, scope: &'a str, before: OffsetDateTime) -> LedgerFuture<'a, u64> {
        let scope = scope.to_owned();
        self.call(move |connection| {
            connection
                .execute(
                    "DELETE FROM redelivery_intents
                     WHERE scope = ?1 AND state <> 'open' AND created_at_ns < ?2",
                    params![scope, to_ns(before)],
                )
                .map(|n| n as u64)
                .map_err(failed("cannot prune intents"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guid(n: u32) -> DeliveryGuid {
        format!("0b989ba4-242f-11e5-81e1-{n:012x}").parse().unwrap()
    }

    /// A claim of delivery `delivery_id` of GUID `n`, allowing one attempt.
    fn one_attempt(n: u32, delivery_id: u64, at: OffsetDateTime) -> NewIntent {
        NewIntent::new(guid(n), DeliveryId::new(delivery_id), at, 1)
    }

    #[tokio::test]
    async fn state_survives_reopening_and_claims_respect_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let now = OffsetDateTime::now_utc();
        {
            let store = SqliteLedger::open(&path).await.unwrap();
            assert_eq!(store.checkpoint("s").await.unwrap(), None);
            let checkpoint = Checkpoint {
                delivered_at: now - time::Duration::hours(1),
                updated_at: now,
            };
            store.save_checkpoint("s", checkpoint).await.unwrap();
            let IntentClaim::Claimed(first) =
                store.claim("s", one_attempt(1, 10, now)).await.unwrap()
            else {
                panic!("the first claim must succeed");
            };
            assert_eq!(
                store.claim("s", one_attempt(1, 11, now)).await.unwrap(),
                IntentClaim::Exhausted { attempts: 1 }
            );
            // Another scope is independent.
            assert!(matches!(
                store.claim("other", one_attempt(1, 10, now)).await.unwrap(),
                IntentClaim::Claimed(_)
            ));
            store
                .resolve(first.id, IntentState::Rejected, Some("422"))
                .await
                .unwrap();
            // A rejected intent is not an attempt: the GUID may be claimed again.
            assert!(matches!(
                store.claim("s", one_attempt(1, 12, now)).await.unwrap(),
                IntentClaim::Claimed(_)
            ));
        }
        let store = SqliteLedger::open(&path).await.unwrap();
        let checkpoint = store.checkpoint("s").await.unwrap().unwrap();
        assert_eq!(checkpoint.delivered_at, now - time::Duration::hours(1));
        let intents = store.intents("s", &[guid(1)]).await.unwrap();
        let states: Vec<_> = intents
            .iter()
            .map(|i| (i.delivery_id.get(), i.state))
            .collect();
        assert_eq!(
            states,
            [(10, IntentState::Rejected), (12, IntentState::Open)]
        );
        assert_eq!(intents[0].error.as_deref(), Some("422"));
        // Open intents come back even for GUIDs not asked about.
        assert_eq!(store.intents("s", &[]).await.unwrap().len(), 1);
        // A resolved intent keeps its state.
        store
            .resolve(intents[1].id, IntentState::Accepted, None)
            .await
            .unwrap();
        store
            .resolve(intents[1].id, IntentState::Abandoned, None)
            .await
            .unwrap();
        let intents = store.intents("s", &[guid(1)]).await.unwrap();
        assert_eq!(intents[1].state, IntentState::Accepted);
        assert_eq!(
            store
                .prune("s", now + time::Duration::seconds(1))
                .await
                .unwrap(),
            2
        );
        assert!(store.intents("s", &[guid(1)]).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn opening_records_the_schema_version_and_refuses_a_newer_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        drop(SqliteLedger::open(&path).await.unwrap());
        let connection = Connection::open(&path).unwrap();
        let version = |connection: &Connection| -> i64 {
            connection
                .query_row(
                    "SELECT MAX(version) FROM octohook_redelivery_schema",
                    [],
                    |row| row.get(0),
                )
                .unwrap()
        };
        assert_eq!(version(&connection), MIGRATIONS.last().unwrap().0);
        let mode: String = connection
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        connection
            .execute(
                "INSERT INTO octohook_redelivery_schema (version) VALUES (99)",
                [],
            )
            .unwrap();
        drop(connection);
        let error = SqliteLedger::open(&path).await.unwrap_err();
        assert!(error.to_string().contains("schema version 99"), "{error}");
    }

    /// What opening the ledger at `path` logs.
    fn logged_by_opening(path: &Path) -> String {
        #[derive(Clone, Default)]
        struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            drop(open_connection(path).unwrap());
        });
        String::from_utf8(lines.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_migration_is_logged_once_after_it_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let first = logged_by_opening(&path);
        let to = MIGRATIONS.last().unwrap().0;
        assert_eq!(first.lines().count(), 1, "{first}");
        assert!(
            first.contains(&format!(
                "migrated the SQLite redelivery ledger from=0 to={to}"
            )),
            "{first}"
        );
        assert_eq!(logged_by_opening(&path), "");
    }

    #[tokio::test]
    async fn a_ledger_from_before_the_schema_table_opens_at_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        // What the ledger's first version made: the tables, and the version in
        // `user_version`.
        let connection = Connection::open(&path).unwrap();
        connection.execute_batch(MIGRATIONS[0].1).unwrap();
        connection.pragma_update(None, "user_version", 1).unwrap();
        drop(connection);
        let ledger = SqliteLedger::open(&path).await.unwrap();
        drop(ledger);
        let connection = Connection::open(&path).unwrap();
        let versions: Vec<i64> = connection
            .prepare("SELECT version FROM octohook_redelivery_schema")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(versions, [1]);
    }

    #[tokio::test]
    async fn concurrent_claims_from_two_connections_grant_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.db");
        let a = SqliteLedger::open(&path).await.unwrap();
        let b = SqliteLedger::open(&path).await.unwrap();
        let now = OffsetDateTime::now_utc();
        let mut granted = 0;
        for n in 0..20 {
            let (x, y) = tokio::join!(
                a.claim("s", one_attempt(n, 1, now)),
                b.claim("s", one_attempt(n, 1, now))
            );
            granted += [x.unwrap(), y.unwrap()]
                .iter()
                .filter(|c| matches!(c, IntentClaim::Claimed(_)))
                .count();
        }
        assert_eq!(granted, 20);
    }
}
