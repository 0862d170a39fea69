//! [`SqliteStore`]: the embedded store, durable across a process crash.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::io::Read;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, MAIN_DB, OpenFlags, OptionalExtension, Row, params};
use tokio::sync::{Notify, oneshot};

mod body_log;

use self::body_log::{BodyLocation, BodyLog, LogMode, Placement};
use crate::schema_version;
use crate::sql_row::{self, RowParts, headers_to_json};
use crate::store::{StoreFuture, wake_for_new, wake_for_unclaimed};
use crate::{
    Claim, Claimed, Completion, DeliveryKey, DeliveryStatus, DeliveryStore, Finish, Inserted,
    ListQuery, NewDelivery, PurgeQuery, StatusCounts, StoreError, StoredDelivery, StoredDeliveryId,
};

/// The schema migrations, applied in order at open; each runs once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_deliveries.sql")),
    (2, include_str!("../migrations/sqlite/0002_no_hook_id.sql")),
    (
        3,
        include_str!("../migrations/sqlite/0003_bodies_apart.sql"),
    ),
    (5, include_str!("../migrations/sqlite/0005_pulled.sql")),
    (
        6,
        include_str!("../migrations/sqlite/0006_trace_parent.sql"),
    ),
    (7, include_str!("../migrations/sqlite/0007_body_log.sql")),
];

/// The most deliveries one purge transaction removes.
const PURGE_CHUNK: usize = 1000;

/// The most operations committed in one transaction.
const MAX_BATCH: usize = 256;

/// A row's columns, as [`read_row`] reads them. The body is in the body log
/// (the last three columns say where) or, for a small one and for a row
/// stored before the log existed, in `octohook_delivery_bodies`.
const COLUMNS: &str = "id, CASE WHEN has_hook_id THEN hook_id END, guid, event, action, content_type, headers, \
     CASE WHEN body_segment IS NULL THEN (SELECT body FROM octohook_delivery_bodies \
       WHERE octohook_delivery_bodies.id = octohook_deliveries.id) END, \
     received_at, status, attempts, claim_seq, due_at, lease_owner, last_error, updated_at, trace_parent, origin, \
     body_segment, body_offset, body_length";

/// [`COLUMNS`] without the body, which a claim reads on its own (see
/// [`read_body`]): `RETURNING` would first copy it into a temporary table.
const CLAIM_COLUMNS: &str = "id, CASE WHEN has_hook_id THEN hook_id END, guid, event, action, content_type, headers, NULL, \
     received_at, status, attempts, claim_seq, due_at, lease_owner, last_error, updated_at, trace_parent, origin, \
     body_segment, body_offset, body_length";

/// How hard SQLite syncs to disk on commit (`PRAGMA synchronous`, in WAL mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Synchronous {
    /// `FULL`, the default: the write-ahead log is synced on every commit, so a
    /// committed delivery survives a process crash *and* a power loss or kernel
    /// panic. Concurrent deliveries share one commit (see [`SqliteStore`]), which
    /// keeps the cost of the sync bearable.
    #[default]
    Full,
    /// `NORMAL`: the log is synced only at checkpoints. A committed delivery
    /// survives a process crash (it is in the operating system's cache), but the
    /// last transactions can be lost on a power loss or kernel panic. Faster.
    Normal,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// How [`SqliteStore::open_with`] opens a database.
///
/// ```
/// use std::time::Duration;
/// use octohook_inbox::{SqliteOptions, Synchronous};
///
/// let options = SqliteOptions::default()
///     .synchronous(Synchronous::Normal)
///     .busy_timeout(Duration::from_secs(2))
///     .size_limit(Some(1 << 30));
/// # let _ = options;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteOptions {
    synchronous: Synchronous,
    busy_timeout: Duration,
    size_limit: Option<u64>,
    read_only: bool,
    create: bool,
    segment_size: u64,
    inline_body_max: u64,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            size_limit: None,
            read_only: false,
            create: true,
            segment_size: body_log::SEGMENT_SIZE,
            inline_body_max: INLINE_BODY_MAX,
        }
    }
}

impl SqliteOptions {
    /// How hard to sync on commit ([`Synchronous::Full`] by default).
    pub fn synchronous(mut self, level: Synchronous) -> Self {
        self.synchronous = level;
        self
    }

    /// How long to wait for another connection's write lock (another process on
    /// the same file) before failing with [`StoreError::Unavailable`]; 5 s by
    /// default, under GitHub's 10 s delivery timeout.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Refuses to grow the database file and its body log together beyond
    /// about `bytes`: inserts then fail with [`StoreError::Full`]. No limit by
    /// default, beyond the disk's.
    ///
    /// A purge frees pages inside the database file without shrinking it.
    /// Deliveries whose bodies stay in the database take those pages up again,
    /// so they count only the pages in use; a body bound for the log adds to
    /// the disk whatever the file holds free, so it counts the whole file.
    pub fn size_limit(mut self, bytes: Option<u64>) -> Self {
        self.size_limit = bytes;
        self
    }

    /// Opens the database read-only (for inspection): SQLite opens the file with
    /// `SQLITE_OPEN_READ_ONLY`, no migration runs and every write fails with
    /// [`StoreError::ReadOnly`]; bodies are read from the body log, which is
    /// never created, written or pruned. The file must exist and hold this crate's tables
    /// at the current schema version; otherwise opening fails
    /// ([`StoreError::Unavailable`] for a missing file, [`StoreError::NotAnInbox`]
    /// for another application's database).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Whether to create the file when missing (yes by default); when not, opening
    /// a missing file fails with [`StoreError::Unavailable`].
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// The size past which a body log segment is closed and the next one
    /// started (64 MiB by default). For tests, which rotate segments with
    /// small ones.
    #[doc(hidden)]
    pub fn body_log_segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = bytes;
        self
    }

    /// The largest body kept in the database rather than in the body log
    /// (4 KiB by default; at most 64 KiB). For tests, which send every body
    /// to the log with 0.
    #[doc(hidden)]
    pub fn body_log_inline_max(mut self, bytes: u64) -> Self {
        self.inline_body_max = bytes.min(BOUND_BODY_MAX);
        self
    }
}

/// A store in a SQLite database file: the embedded default of `octohook serve`.
///
/// The database is in WAL mode with `synchronous = FULL` by default (see
/// [`Synchronous`]): once [`insert`](DeliveryStore::insert) returns, the delivery
/// survives a crash of the process (SIGKILL included) and of the machine.
///
/// One thread per store owns the connection, so blocking SQLite calls never run
/// on the async runtime's workers. Operations that arrive while a commit is under
/// way are committed together in the next transaction (each in its own savepoint,
/// so one failing does not undo the others), and each caller is answered only
/// after that commit: one disk sync serves many concurrent deliveries.
///
/// A batch ([`insert_batch`](DeliveryStore::insert_batch),
/// [`claim_batch`](DeliveryStore::claim_batch),
/// [`finish_batch`](DeliveryStore::finish_batch)) is one job of that thread,
/// in one savepoint; a claim batch is one `UPDATE ... RETURNING`. The write-ahead
/// log receives each page changed by a transaction once, at its commit,
/// however many operations changed it: deliveries inserted, claimed and
/// finished in the same transaction share the pages of their rows and indexes,
/// so the writes per delivery fall as batches grow. Savepoint journals are
/// kept in memory (`temp_store = MEMORY`); each is bounded by its job (a
/// batch, or a [`purge`](DeliveryStore::purge) chunk).
///
/// # Files on disk
///
/// Beside the database file (`inbox.db`, with SQLite's `inbox.db-wal` and
/// `inbox.db-shm`), bodies larger than a page (4 KiB) are in a body log, the
/// directory `inbox.db-bodies/`: segment files (`00000001.log`, ...) appended
/// to until they pass 64 MiB. A body is written there once, and the segment
/// synced once per transaction, before the rows that point at it commit (in
/// the database, each body page was written to the write-ahead log, then again
/// into the database file, and synced twice). Smaller bodies stay in the
/// database, where they cost less than the log's sync. **A backup must copy the
/// directory with the database**: stop the receiver, or copy the database
/// first (SQLite's backup API or `VACUUM INTO`) and the directory after it,
/// with no purge in between; committed bytes of the log never change, so the
/// later copy holds every body the earlier one points at. Rows stored by
/// versions before the log keep their bodies in the database.
///
/// ```text
/// inbox.db  inbox.db-wal  inbox.db-shm  inbox.db-bodies/00000001.log ...
/// ```
///
/// A [`purge`](DeliveryStore::purge) removes every segment no remaining
/// delivery points into, except the one being appended to. A delivery kept
/// longer (a failed one, say) keeps its whole segment: at most 64 MiB on disk
/// per kept delivery, however small its body, in the worst case where every
/// segment holds one kept delivery. The
/// [size limit](SqliteOptions::size_limit) counts the database and the log
/// together. With [`Synchronous::Normal`] the log is not synced either: after
/// a power loss, a body of the last transactions may be missing (reading it
/// fails with [`StoreError::Corrupt`]) or damaged (a pushed delivery then
/// fails its signature check when a worker verifies it again).
///
/// Several processes may open the same file (a receiver and `octohook inbox`, or
/// several receivers): writes take SQLite's write lock (`BEGIN IMMEDIATE`), so
/// deduplication and claims stay exact, and a writer waits up to the
/// [busy timeout](SqliteOptions::busy_timeout) for another.
///
/// [`counts`](DeliveryStore::counts) runs on a second, read-only connection
/// with a thread of its own: in WAL mode it reads a snapshot beside the writer,
/// so counting a large inbox (a table scan) never holds up a delivery's commit.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), octohook_inbox::StoreError> {
/// use octohook::EventKind;
/// use octohook_inbox::{DeliveryKey, DeliveryStore, NewDelivery, SqliteStore};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("inbox.db");
/// let key = DeliveryKey::new(None, "a1".parse().unwrap());
/// {
///     let store = SqliteStore::open(&path).await?;
///     store.insert(NewDelivery::new(key.clone(), EventKind::Ping, "{}")).await?;
/// }
/// let reopened = SqliteStore::open(&path).await?;
/// assert!(reopened.get(&key).await?.is_some());
/// # Ok(())
/// # }
/// ```
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    reads: mpsc::Sender<ReadJob>,
    path: PathBuf,
    wakeup: Arc<Notify>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// One operation for the connection thread: it runs the work (given no
/// connection when the transaction could not begin) and returns the reply to send
/// once the transaction's fate is known, with the work's own error if it failed.
type Job = Box<dyn FnOnce(Option<&mut Writer>) -> (Reply, Option<StoreError>) + Send>;

/// What the connection thread owns: the connection, and the body log it
/// appends to within the connection's transactions.
#[derive(Debug)]
struct Writer {
    connection: Connection,
    bodies: BodyLog,
    /// [`SqliteOptions::size_limit`], for the database and the log together.
    size_limit: Option<u64>,
    /// Bodies up to this size stay in the database (see [`INLINE_BODY_MAX`]).
    inline_body_max: u64,
    /// Why the last new delivery could not be stored for want of room (the
    /// size limit, SQLite's page cap or a full disk), until a new delivery is
    /// stored or a purge removes some: [`health`](DeliveryStore::health)
    /// reports the store full meanwhile.
    room_refused: Option<String>,
}

impl Writer {
    /// [`StoreError::Full`] when no delivery could be stored now for want of
    /// room: the last new delivery was refused so and nothing has changed
    /// since (see [`room_refused`](Self::room_refused)), or the database and
    /// the body log together are at or past the size limit, where not even
    /// an empty body fits.
    fn check_room_for_deliveries(&self) -> Result<(), StoreError> {
        if let Some(why) = &self.room_refused {
            return Err(StoreError::Full(format!(
                "a new delivery was refused and none has been stored or purged since: {why}"
            )));
        }
        self.bodies
            .check_not_at_limit(&self.connection, self.size_limit)
    }
}

/// Answers the caller, given the outcome of the commit.
type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// One query for the reading thread, given its connection (or why it has none).
type ReadJob = Box<dyn FnOnce(Result<&Connection, StoreError>) + Send>;

impl SqliteStore {
    /// Opens (creating it when missing) the database at `path` with the default
    /// [`SqliteOptions`], and brings its schema up to date.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Opens the database at `path` with `options`.
    pub async fn open_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let (jobs, queue) = mpsc::channel::<Job>();
        let (opened, ready) = oneshot::channel();
        let thread_path = path.clone();
        let busy_timeout = options.busy_timeout;
        std::thread::Builder::new()
            .name("octohook-inbox-sqlite".to_owned())
            .spawn(move || match open_writer(&thread_path, &options) {
                Ok(mut writer) => {
                    let _ = opened.send(Ok(()));
                    serve(&mut writer, &queue);
                }
                Err(error) => {
                    let _ = opened.send(Err(error));
                }
            })
            .map_err(|error| {
                StoreError::Unavailable(format!("cannot start the SQLite thread: {error}"))
            })?;
        ready.await.map_err(|_| thread_stopped())??;
        // Opened once the writer has migrated the schema.
        let (reads, read_queue) = mpsc::channel::<ReadJob>();
        let reader_path = path.clone();
        std::thread::Builder::new()
            .name("octohook-inbox-sqlite-reader".to_owned())
            .spawn(move || {
                let connection = open_reader(&reader_path, busy_timeout);
                while let Ok(read) = read_queue.recv() {
                    read(connection.as_ref().map_err(Clone::clone));
                }
            })
            .map_err(|error| {
                StoreError::Unavailable(format!("cannot start the SQLite reading thread: {error}"))
            })?;
        Ok(Self {
            jobs,
            reads,
            path,
            wakeup: Arc::new(Notify::new()),
        })
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the connection thread, in the next transaction, and answers
    /// after the commit.
    fn call<T, F>(&self, work: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.call_writer(move |writer| work(&writer.connection))
    }

    /// [`call`](Self::call), for work that needs the body log too.
    fn call_writer<T, F>(&self, work: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Writer) -> Result<T, StoreError> + Send + 'static,
    {
        let (job, answered) = job(work);
        let sent = self.jobs.send(job).map_err(|_| thread_stopped());
        Box::pin(async move {
            sent?;
            answered.await.map_err(|_| thread_stopped())?
        })
    }

    /// Runs `work` on the read-only connection's thread, beside the writer.
    fn read<T, F>(&self, work: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let read: ReadJob = Box::new(move |connection| {
            let _ = answer.send(connection.and_then(work));
        });
        let sent = self.reads.send(read).map_err(|_| thread_stopped());
        Box::pin(async move {
            sent?;
            answered.await.map_err(|_| thread_stopped())?
        })
    }

    /// Awaits `operation` and, when `made_claimable` says so of its result,
    /// wakes a worker.
    fn signal_after<'a, T: Send + 'a>(
        &'a self,
        operation: StoreFuture<'a, T>,
        made_claimable: impl FnOnce(&T) -> bool + Send + 'a,
    ) -> StoreFuture<'a, T> {
        Box::pin(async move {
            let done = operation.await?;
            if made_claimable(&done) {
                self.wakeup.notify_one();
            }
            Ok(done)
        })
    }
}

/// The job that runs `work` in a savepoint of the next transaction, and the
/// answer it sends once that transaction's fate is known.
fn job<T, F>(work: F) -> (Job, oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: FnOnce(&mut Writer) -> Result<T, StoreError> + Send + 'static,
{
    let (answer, answered) = oneshot::channel();
    let job: Job = Box::new(move |writer| {
        let result = match writer {
            Some(writer) => in_savepoint(writer, work),
            None => Err(thread_stopped()),
        };
        let failure = result.as_ref().err().cloned();
        let reply: Reply = Box::new(move |commit| {
            let _ = answer.send(commit.and(result));
        });
        (reply, failure)
    });
    (job, answered)
}

fn thread_stopped() -> StoreError {
    StoreError::Unavailable("the SQLite connection thread stopped".to_owned())
}

/// Opens the connection and the body log, and migrates the schema.
fn open_writer(path: &Path, options: &SqliteOptions) -> Result<Writer, StoreError> {
    let connection = open_connection(path, options)?;
    let mode = match (options.read_only, options.synchronous) {
        (true, _) => LogMode::ReadOnly,
        (false, Synchronous::Full) => LogMode::Synced,
        (false, Synchronous::Normal) => LogMode::Unsynced,
    };
    let mut bodies = BodyLog::open(path, mode);
    bodies.set_segment_size(options.segment_size);
    if !options.read_only {
        bodies.remove_leftovers(&connection)?;
    }
    Ok(Writer {
        connection,
        bodies,
        size_limit: options.size_limit,
        inline_body_max: options.inline_body_max,
        room_refused: None,
    })
}

/// Opens the connection, sets it up and migrates the schema.
fn open_connection(path: &Path, options: &SqliteOptions) -> Result<Connection, StoreError> {
    let mut flags = OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    if options.read_only {
        flags |= OpenFlags::SQLITE_OPEN_READ_ONLY;
    } else {
        flags |= OpenFlags::SQLITE_OPEN_READ_WRITE;
        if options.create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
    }
    let connection = Connection::open_with_flags(path, flags).map_err(|error| {
        StoreError::Unavailable(format!("cannot open {}: {error}", path.display()))
    })?;
    connection
        .busy_timeout(options.busy_timeout)
        .map_err(classify)?;
    connection.set_prepared_statement_cache_capacity(32);
    // One plan per statement, whatever its parameters: with STAT4 compiled in,
    // SQLite otherwise compiles the claim again on every call (its due time is
    // a bound parameter compared with an indexed column), a tenth of the
    // writer's time.
    connection
        .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(classify)?;
    if options.read_only {
        check_schema(&connection)?;
        return Ok(connection);
    }
    let mode: String = connection
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(classify)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "{} cannot use write-ahead logging (journal mode {mode})",
            path.display()
        )));
    }
    // Savepoint and statement journals (the originals of the pages a job
    // changes, to undo it alone) in memory: spilled to a temporary file, a
    // batch's journal cost more write calls than its commit. Every job is
    // bounded (a batch by its size, a purge by PURGE_CHUNK rows), so is this.
    connection
        .execute_batch(&format!(
            "PRAGMA synchronous = {}; PRAGMA temp_store = MEMORY;",
            options.synchronous.pragma()
        ))
        .map_err(classify)?;
    if let Some(bytes) = options.size_limit {
        let page_size: i64 = connection
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .map_err(classify)?;
        let pages = (bytes / u64::try_from(page_size.max(512)).unwrap_or(4096)).max(1);
        connection
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
            .map_err(classify)?;
    }
    migrate(&connection)?;
    Ok(connection)
}

/// Opens the read-only connection that counts run on.
fn open_reader(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_READ_ONLY;
    let connection = Connection::open_with_flags(path, flags).map_err(|error| {
        StoreError::Unavailable(format!("cannot open {} to read: {error}", path.display()))
    })?;
    connection.busy_timeout(busy_timeout).map_err(classify)?;
    Ok(connection)
}

/// Checks, without writing, that a database opened read-only holds this crate's
/// tables at the schema version this build uses: a foreign file fails with
/// [`StoreError::NotAnInbox`] instead of with errors on every query.
fn check_schema(connection: &Connection) -> Result<(), StoreError> {
    let tables: i64 = connection
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
             AND name IN ('octohook_schema', 'octohook_deliveries')",
            [],
            |row| row.get(0),
        )
        .map_err(classify)?;
    if tables != 2 {
        return Err(StoreError::NotAnInbox(
            "no octohook_schema and octohook_deliveries tables".to_owned(),
        ));
    }
    let found: i64 = connection
        .query_row(schema_version::SELECT_VERSION, [], |row| row.get(0))
        .map_err(classify)?;
    schema_version::exactly(
        found,
        schema_version::latest(MIGRATIONS),
        "open the file read-write once to migrate them",
    )
}

/// Applies the migrations the database has not seen, in one transaction.
fn migrate(connection: &Connection) -> Result<(), StoreError> {
    connection
        .execute_batch(
            "BEGIN IMMEDIATE; \
             CREATE TABLE IF NOT EXISTS octohook_schema (version INTEGER NOT NULL);",
        )
        .map_err(classify)?;
    let result = (|| {
        let found: i64 = connection
            .query_row(schema_version::SELECT_VERSION, [], |row| row.get(0))
            .map_err(classify)?;
        schema_version::not_newer(found, schema_version::latest(MIGRATIONS))?;
        let mut reached = found;
        for (version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > found) {
            connection.execute_batch(sql).map_err(classify)?;
            connection
                .execute(
                    "INSERT INTO octohook_schema (version) VALUES (?1)",
                    [version],
                )
                .map_err(classify)?;
            reached = *version;
        }
        connection.execute_batch("COMMIT").map_err(classify)?;
        if reached > found {
            // One line, once committed: a new file goes through every version.
            tracing::info!(
                from = found,
                to = reached,
                "migrated the SQLite delivery store"
            );
        }
        Ok(())
    })();
    if result.is_err() && !connection.is_autocommit() {
        let _ = connection.execute_batch("ROLLBACK");
    }
    result
}

/// The largest body bound as a parameter on insert (a body kept in the
/// database, or read from it: larger ones of rows from before the body log
/// are read in place).
const BOUND_BODY_MAX: u64 = 64 * 1024;

/// The largest body kept in the database, in `octohook_delivery_bodies`,
/// rather than in the body log. Up to a page, writing the body twice (to the
/// write-ahead log, then to the database) costs less than the log's own sync
/// per transaction: measured with 2 KiB bodies, the log took as much CPU per
/// delivery and answered 15% fewer requests per second; with 8 KiB ones it
/// took 10% less CPU.
const INLINE_BODY_MAX: u64 = 4096;

/// The connection thread: takes jobs as they come, and commits whatever queued
/// up meanwhile in one transaction. Ends when the store is dropped.
fn serve(writer: &mut Writer, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(writer, batch);
    }
}

fn run_batch(writer: &mut Writer, batch: Vec<Job>) {
    if let Err(error) = writer.connection.execute_batch("BEGIN IMMEDIATE") {
        let error = classify(error);
        for job in batch {
            let (reply, _) = job(None);
            reply(Err(error.clone()));
        }
        return;
    }
    let mut replies = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    let mut broken = None;
    for job in jobs.by_ref() {
        let (reply, failure) = job(Some(writer));
        replies.push(reply);
        // Some errors (disk full, I/O) make SQLite roll the whole transaction back:
        // the work done so far in this batch is gone.
        if writer.connection.is_autocommit() {
            broken = Some(failure.unwrap_or_else(|| {
                StoreError::Unavailable("SQLite rolled the transaction back".to_owned())
            }));
            break;
        }
    }
    // The bodies are written and synced before the rows that point at them
    // commit; if they cannot be, nothing commits (see `body_log`).
    let outcome = match broken {
        Some(error) => Err(error),
        None => writer
            .bodies
            .before_commit(&writer.connection)
            .and_then(|()| writer.connection.execute_batch("COMMIT").map_err(classify)),
    };
    let connection = &writer.connection;
    if outcome.is_err() && !connection.is_autocommit() {
        let _ = connection.execute_batch("ROLLBACK");
    }
    writer.bodies.after_transaction(outcome.is_ok());
    // A commit that found no room (the body log's disk, SQLite's page cap)
    // refused every delivery of the batch.
    if let Err(StoreError::Full(why)) = &outcome {
        writer.room_refused = Some(why.clone());
    }
    for reply in replies {
        reply(outcome.clone());
    }
    // Jobs after a broken one did not run; they fail with the same error.
    for job in jobs {
        let (reply, _) = job(None);
        reply(Err(outcome.clone().err().unwrap_or_else(thread_stopped)));
    }
}

/// Runs `work` in a savepoint, undone alone if it fails. The savepoint statements
/// are prepared once per connection, not parsed again for every job.
fn in_savepoint<T>(
    writer: &mut Writer,
    work: impl FnOnce(&mut Writer) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let run = |connection: &Connection, sql: &str| {
        connection
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute([]))
            .map_err(classify)
    };
    run(&writer.connection, "SAVEPOINT job")?;
    let result = work(writer);
    let connection = &writer.connection;
    if !connection.is_autocommit() {
        if result.is_err() {
            run(connection, "ROLLBACK TO job")?;
        }
        run(connection, "RELEASE job")?;
    }
    result
}

/// Sorts a SQLite error into a [`StoreError`].
fn classify(error: rusqlite::Error) -> StoreError {
    let message = error.to_string();
    match error.sqlite_error_code() {
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly(message),
        Some(ErrorCode::DiskFull) => StoreError::Full(message),
        _ => StoreError::Unavailable(message),
    }
}

/// Milliseconds since the Unix epoch, as the SQLite store keeps times (negative
/// before 1970).
fn unix_millis(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// The inverse of [`unix_millis`].
fn from_unix_millis(millis: i64) -> SystemTime {
    let magnitude = Duration::from_millis(millis.unsigned_abs());
    if millis >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

/// The body of row `id`. A small one comes with the query that finds its
/// length; a larger one is read from its pages straight into a buffer of its
/// size, never copied whole by SQLite first.
fn read_body(connection: &Connection, id: StoredDeliveryId) -> rusqlite::Result<Vec<u8>> {
    let small: Option<Vec<u8>> = connection
        .prepare_cached(
            "SELECT CASE WHEN length(body) <= ?2 THEN body END \
             FROM octohook_delivery_bodies WHERE id = ?1",
        )?
        .query_row(params![id, BOUND_BODY_MAX as i64], |row| row.get(0))?;
    if let Some(body) = small {
        return Ok(body);
    }
    let mut blob =
        connection.blob_open(MAIN_DB, "octohook_delivery_bodies", "body", id.get(), true)?;
    let mut body = vec![0; blob.len()];
    blob.read_exact(&mut body)
        .map_err(|error| rusqlite::Error::ToSqlConversionFailure(error.into()))?;
    Ok(body)
}

/// Claims up to `limit` claimable deliveries for `worker`, due first, in one
/// statement; their bodies are read on their own (see [`CLAIM_COLUMNS`]).
fn claim_some(
    writer: &mut Writer,
    worker: &str,
    lease: Duration,
    limit: usize,
) -> Result<Vec<Claimed>, StoreError> {
    let now = SystemTime::now();
    let until = unix_millis(now + lease);
    let sql = format!(
        "UPDATE octohook_deliveries SET status = 'processing', \
         attempts = attempts + 1, claim_seq = claim_seq + 1, lease_owner = ?1, \
         due_at = ?2, updated_at = ?3 \
         WHERE id IN (SELECT id FROM octohook_deliveries \
           WHERE status IN ('pending', 'processing') AND due_at <= ?3 \
           ORDER BY due_at, id LIMIT ?4) \
         RETURNING {CLAIM_COLUMNS}"
    );
    let connection = &writer.connection;
    let mut rows = Vec::new();
    {
        let mut statement = connection.prepare_cached(&sql).map_err(classify)?;
        let found = statement
            .query_map(
                params![
                    worker,
                    until,
                    unix_millis(now),
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                read_row,
            )
            .map_err(classify)?;
        for parts in found {
            rows.push(parts.map_err(classify)?);
        }
    }
    rows.sort_by_key(|(parts, _)| parts.id);
    let mut claimed = Vec::with_capacity(rows.len());
    for (mut parts, location) in rows {
        let id = parts.id;
        parts = match BodyLocation::from_columns(id, location.0, location.1, location.2)? {
            Some(location) => RowParts {
                body: writer.bodies.read(id, location)?,
                ..parts
            },
            None => RowParts {
                body: read_body(&writer.connection, id).map_err(classify)?,
                ..parts
            },
        };
        let (delivery, seq) = parts.into_delivery()?;
        let claim = Claim {
            id: delivery.id,
            seq,
            key: delivery.key.clone(),
            worker: worker.to_owned(),
            lease_until: from_unix_millis(until),
        };
        claimed.push(Claimed { delivery, claim });
    }
    Ok(claimed)
}

/// Records `finish` on the row its claim still holds (the body row is not
/// touched); [`StoreError::ClaimLost`] when the claim is no longer held.
fn finish_one(connection: &Connection, finish: &Finish, now: i64) -> Result<(), StoreError> {
    let (id, seq) = (finish.claim.id, finish.claim.seq);
    let changed = match &finish.outcome {
        Completion::Done => connection
            .prepare_cached(
                "UPDATE octohook_deliveries SET status = 'done', lease_owner = NULL, \
                 due_at = NULL, updated_at = ?3 \
                 WHERE id = ?1 AND claim_seq = ?2 AND status = 'processing'",
            )
            .and_then(|mut statement| statement.execute(params![id, seq, now])),
        Completion::RetryLater { error, delay } => {
            let due = now.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
            connection
                .prepare_cached(
                    "UPDATE octohook_deliveries SET status = 'pending', lease_owner = NULL, \
                     last_error = ?4, due_at = ?5, updated_at = ?3 \
                     WHERE id = ?1 AND claim_seq = ?2 AND status = 'processing'",
                )
                .and_then(|mut statement| statement.execute(params![id, seq, now, error, due]))
        }
        Completion::Failed { error } => connection
            .prepare_cached(
                "UPDATE octohook_deliveries SET status = 'failed', lease_owner = NULL, \
                 last_error = ?4, due_at = NULL, updated_at = ?3 \
                 WHERE id = ?1 AND claim_seq = ?2 AND status = 'processing'",
            )
            .and_then(|mut statement| statement.execute(params![id, seq, now, error])),
    }
    .map_err(classify)?;
    if changed == 0 {
        return Err(StoreError::ClaimLost { id });
    }
    Ok(())
}

/// Inserts `delivery` unless its key is stored (earlier in the same
/// transaction included); its body joins the transaction's appends to the
/// body log.
///
/// With `claim` (a worker and the end of its lease, in milliseconds), a new
/// delivery is stored claimed: `processing`, at its first attempt.
///
/// Remembers whether room was found, for [`Writer::check_room_for_deliveries`].
fn insert_one(
    writer: &mut Writer,
    delivery: &NewDelivery,
    now: SystemTime,
    claim: Option<(&str, i64)>,
) -> Result<Inserted, StoreError> {
    let inserted = insert_row(writer, delivery, now, claim);
    match &inserted {
        Ok(Inserted::New { .. }) => writer.room_refused = None,
        Err(StoreError::Full(why)) => writer.room_refused = Some(why.clone()),
        Ok(Inserted::Duplicate { .. }) | Err(_) => {}
    }
    inserted
}

/// [`insert_one`]'s work.
fn insert_row(
    writer: &mut Writer,
    delivery: &NewDelivery,
    now: SystemTime,
    claim: Option<(&str, i64)>,
) -> Result<Inserted, StoreError> {
    let (hook_id, has_hook_id) = (delivery.key.db_hook_id(), delivery.key.has_hook_id());
    let guid = delivery.key.guid.as_str();
    let now = unix_millis(now);
    let (status, attempts, lease_owner, due_at) = match claim {
        Some((worker, until)) => ("processing", 1, Some(worker), until),
        None => ("pending", 0, None, now),
    };
    let length = delivery.body.len() as u64;
    let inline = length <= writer.inline_body_max;
    let location = if inline {
        writer
            .bodies
            .check_room(
                &writer.connection,
                length,
                writer.size_limit,
                Placement::Database,
            )
            .map(|()| None)
    } else {
        writer
            .bodies
            .next_location(&writer.connection, length, writer.size_limit)
            .map(Some)
    };
    let location = match location {
        Ok(location) => location,
        // A full store still knows what it holds.
        Err(StoreError::Full(why)) => {
            return match stored_id(&writer.connection, hook_id, has_hook_id, guid)? {
                Some(id) => Ok(Inserted::Duplicate { id }),
                None => Err(StoreError::Full(why)),
            };
        }
        Err(error) => return Err(error),
    };
    let connection = &writer.connection;
    let inserted: Option<StoredDeliveryId> = connection
        .prepare_cached(
            "INSERT INTO octohook_deliveries (hook_id, has_hook_id, guid, event, \
             action, content_type, headers, body, received_at, status, attempts, \
             claim_seq, lease_owner, due_at, updated_at, trace_parent, origin, \
             body_segment, body_offset, body_length) \
             VALUES (?1, ?10, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?16, ?17, ?17, ?18, ?19, ?9, \
               ?11, ?12, ?13, ?14, ?15) \
             ON CONFLICT (hook_id, has_hook_id, guid) DO NOTHING RETURNING id",
        )
        .and_then(|mut statement| {
            statement
                .query_row(
                    params![
                        hook_id,
                        guid,
                        delivery.event.as_str(),
                        delivery.action,
                        delivery.content_type.as_str(),
                        headers_to_json(&delivery.headers),
                        // In the body log, or in a row of its own below.
                        &[] as &[u8],
                        unix_millis(delivery.received_at),
                        now,
                        has_hook_id,
                        delivery.trace_parent.map(|parent| parent.to_string()),
                        delivery.origin.as_str(),
                        location.map(|location| location.segment),
                        location.map(|location| i64::try_from(location.offset).unwrap_or(i64::MAX)),
                        location.map(|location| i64::try_from(location.length).unwrap_or(i64::MAX)),
                        status,
                        attempts,
                        lease_owner,
                        due_at,
                    ],
                    |row| row.get(0),
                )
                .optional()
        })
        .map_err(classify)?;
    if let Some(id) = inserted {
        if inline {
            // Within the insert's savepoint: all is committed, or nothing.
            // Bound as a parameter: cheaper than a blob handle, which
            // compiles a statement.
            connection
                .prepare_cached("INSERT INTO octohook_delivery_bodies (id, body) VALUES (?1, ?2)")
                .and_then(|mut statement| statement.execute(params![id, &delivery.body[..]]))
                .map_err(classify)?;
        } else {
            writer.bodies.append(id, &delivery.body);
        }
        return Ok(Inserted::New { id });
    }
    match stored_id(connection, hook_id, has_hook_id, guid)? {
        Some(id) => Ok(Inserted::Duplicate { id }),
        None => Err(StoreError::Unavailable(
            "a delivery conflicted with a stored one that cannot be found".to_owned(),
        )),
    }
}

/// The id of the delivery stored under a key, if any.
fn stored_id(
    connection: &Connection,
    hook_id: i64,
    has_hook_id: bool,
    guid: &str,
) -> Result<Option<StoredDeliveryId>, StoreError> {
    connection
        .prepare_cached(
            "SELECT id FROM octohook_deliveries \
             WHERE hook_id = ?1 AND has_hook_id = ?3 AND guid = ?2",
        )
        .and_then(|mut statement| {
            statement
                .query_row(params![hook_id, guid, has_hook_id], |row| row.get(0))
                .optional()
        })
        .map_err(classify)
}

/// A row's body location columns, unchecked (see [`BodyLocation::from_columns`]).
type LocationColumns = (Option<i64>, Option<i64>, Option<i64>);

/// Reads a row of [`COLUMNS`] or [`CLAIM_COLUMNS`]: its parts (the body in
/// them when the row predates the body log) and where its body is.
fn read_row(row: &Row<'_>) -> rusqlite::Result<(RowParts, LocationColumns)> {
    let location = (row.get(18)?, row.get(19)?, row.get(20)?);
    let parts = RowParts {
        id: row.get(0)?,
        hook_id: row.get(1)?,
        guid: row.get(2)?,
        event: row.get(3)?,
        action: row.get(4)?,
        content_type: row.get(5)?,
        headers: row.get(6)?,
        body: row.get::<_, Option<Vec<u8>>>(7)?.unwrap_or_default(),
        received_at: from_unix_millis(row.get(8)?),
        status: row.get(9)?,
        attempts: row.get(10)?,
        claim_seq: row.get(11)?,
        due_at: row.get::<_, Option<i64>>(12)?.map(from_unix_millis),
        lease_owner: row.get(13)?,
        last_error: row.get(14)?,
        updated_at: from_unix_millis(row.get(15)?),
        trace_parent: row.get(16)?,
        origin: row.get(17)?,
    };
    Ok((parts, location))
}

/// A row [`read_row`] read, with its body read from the log when it is there.
fn with_body(
    bodies: &mut BodyLog,
    (mut parts, (segment, offset, length)): (RowParts, LocationColumns),
) -> Result<RowParts, StoreError> {
    if let Some(location) = BodyLocation::from_columns(parts.id, segment, offset, length)? {
        parts.body = bodies.read(parts.id, location)?;
    }
    Ok(parts)
}

impl DeliveryStore for SqliteStore {
    fn insert(&self, delivery: NewDelivery) -> StoreFuture<'_, Inserted> {
        let inserted =
            self.call_writer(move |writer| insert_one(writer, &delivery, SystemTime::now(), None));
        // Signalled once the transaction committed: a woken worker finds the row.
        self.signal_after(inserted, |inserted| !inserted.is_duplicate())
    }

    fn claim(&self, worker: &str, lease: Duration) -> StoreFuture<'_, Option<Claimed>> {
        let worker = worker.to_owned();
        self.call_writer(move |writer| Ok(claim_some(writer, &worker, lease, 1)?.pop()))
    }

    fn insert_batch(&self, deliveries: Vec<NewDelivery>) -> StoreFuture<'_, Vec<Inserted>> {
        // One job, so one savepoint: the batch is committed whole or not at all.
        let inserted = self.call_writer(move |writer| {
            let now = SystemTime::now();
            deliveries
                .iter()
                .map(|delivery| insert_one(writer, delivery, now, None))
                .collect::<Result<Vec<_>, _>>()
        });
        Box::pin(async move {
            let inserted = inserted.await?;
            wake_for_new(&self.wakeup, &inserted);
            Ok(inserted)
        })
    }

    fn insert_and_claim_batch(
        &self,
        deliveries: Vec<NewDelivery>,
        worker: &str,
        lease: Duration,
        limit: usize,
    ) -> StoreFuture<'_, Vec<(Inserted, Option<Claimed>)>> {
        let worker = worker.to_owned();
        // One job, so one savepoint: the batch is committed whole or not at all.
        let stored = self.call_writer(move |writer| {
            let now = SystemTime::now();
            // As the row holds it: to the millisecond.
            let until = from_unix_millis(unix_millis(now + lease));
            let mut results = Vec::with_capacity(deliveries.len());
            for (index, delivery) in deliveries.into_iter().enumerate() {
                let claim = (index < limit).then_some((worker.as_str(), unix_millis(until)));
                let inserted = insert_one(writer, &delivery, now, claim)?;
                let claimed = match inserted {
                    Inserted::New { id } if claim.is_some() => {
                        Some(Claimed::on_insert(delivery, id, &worker, until, now))
                    }
                    _ => None,
                };
                results.push((inserted, claimed));
            }
            Ok(results)
        });
        Box::pin(async move {
            let results = stored.await?;
            wake_for_unclaimed(&self.wakeup, &results);
            Ok(results)
        })
    }

    fn claim_batch(
        &self,
        worker: &str,
        lease: Duration,
        limit: usize,
    ) -> StoreFuture<'_, Vec<Claimed>> {
        let worker = worker.to_owned();
        if limit == 0 {
            return Box::pin(std::future::ready(Ok(Vec::new())));
        }
        self.call_writer(move |writer| claim_some(writer, &worker, lease, limit))
    }

    fn finish_batch(&self, finishes: Vec<Finish>) -> StoreFuture<'_, Vec<Result<(), StoreError>>> {
        self.call(move |connection| {
            let now = unix_millis(SystemTime::now());
            let mut results = Vec::with_capacity(finishes.len());
            for finish in &finishes {
                match finish_one(connection, finish, now) {
                    Err(StoreError::ClaimLost { id }) => {
                        results.push(Err(StoreError::ClaimLost { id }));
                    }
                    // Anything else (I/O, a full disk) undoes the whole batch.
                    Err(error) => return Err(error),
                    Ok(()) => results.push(Ok(())),
                }
            }
            Ok(results)
        })
    }

    fn renew(&self, claim: &Claim, lease: Duration) -> StoreFuture<'_, Claim> {
        let claim = claim.clone();
        self.call(move |connection| {
            let now = SystemTime::now();
            let until = from_unix_millis(unix_millis(now + lease));
            let changed = connection
                .prepare_cached(
                    "UPDATE octohook_deliveries SET due_at = ?3, updated_at = ?4 \
                     WHERE id = ?1 AND claim_seq = ?2 AND status = 'processing'",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        claim.id,
                        claim.seq,
                        unix_millis(until),
                        unix_millis(now)
                    ])
                })
                .map_err(classify)?;
            if changed == 0 {
                return Err(StoreError::ClaimLost { id: claim.id });
            }
            Ok(Claim {
                lease_until: until,
                ..claim
            })
        })
    }

    fn finish(&self, finish: Finish) -> StoreFuture<'_, ()> {
        self.call(move |connection| finish_one(connection, &finish, unix_millis(SystemTime::now())))
    }

    fn requeue(&self, key: &DeliveryKey) -> StoreFuture<'_, bool> {
        let (hook_id, has_hook_id) = (key.db_hook_id(), key.has_hook_id());
        let guid = key.guid.as_str().to_owned();
        let requeued = self.call(move |connection| {
            let now = unix_millis(SystemTime::now());
            connection
                .prepare_cached(
                    "UPDATE octohook_deliveries SET status = 'pending', attempts = 0, \
                     lease_owner = NULL, due_at = ?3, updated_at = ?3 \
                     WHERE hook_id = ?1 AND has_hook_id = ?4 AND guid = ?2 \
                     AND status <> 'processing'",
                )
                .and_then(|mut statement| {
                    statement.execute(params![hook_id, guid, now, has_hook_id])
                })
                .map(|changed| changed > 0)
                .map_err(classify)
        });
        self.signal_after(requeued, |requeued| *requeued)
    }

    fn get(&self, key: &DeliveryKey) -> StoreFuture<'_, Option<StoredDelivery>> {
        let (hook_id, has_hook_id) = (key.db_hook_id(), key.has_hook_id());
        let guid = key.guid.as_str().to_owned();
        self.call_writer(move |writer| {
            let sql = format!(
                "SELECT {COLUMNS} FROM octohook_deliveries \
                 WHERE hook_id = ?1 AND has_hook_id = ?3 AND guid = ?2"
            );
            let row = writer
                .connection
                .prepare_cached(&sql)
                .and_then(|mut statement| {
                    statement
                        .query_row(params![hook_id, guid, has_hook_id], read_row)
                        .optional()
                })
                .map_err(classify)?;
            row.map(|row| {
                let parts = with_body(&mut writer.bodies, row)?;
                parts.into_delivery().map(|(delivery, _)| delivery)
            })
            .transpose()
        })
    }

    fn get_by_id(&self, id: StoredDeliveryId) -> StoreFuture<'_, Option<StoredDelivery>> {
        self.call_writer(move |writer| {
            let sql = format!("SELECT {COLUMNS} FROM octohook_deliveries WHERE id = ?1");
            let row = writer
                .connection
                .prepare_cached(&sql)
                .and_then(|mut statement| statement.query_row(params![id], read_row).optional())
                .map_err(classify)?;
            row.map(|row| {
                let parts = with_body(&mut writer.bodies, row)?;
                parts.into_delivery().map(|(delivery, _)| delivery)
            })
            .transpose()
        })
    }

    fn list(&self, query: &ListQuery) -> StoreFuture<'_, Vec<StoredDelivery>> {
        let query = query.clone();
        self.call_writer(move |writer| {
            let sql = format!(
                "SELECT {COLUMNS} FROM octohook_deliveries \
                 WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR guid = ?2) \
                   AND (?3 IS NULL OR id < ?3) \
                 ORDER BY id DESC LIMIT ?4"
            );
            let mut statement = writer.connection.prepare_cached(&sql).map_err(classify)?;
            let rows = statement
                .query_map(
                    params![
                        query.status.map(DeliveryStatus::as_str),
                        query.guid.as_ref().map(|guid| guid.as_str()),
                        query.before_id,
                        i64::from(query.limit),
                    ],
                    read_row,
                )
                .map_err(classify)?;
            let rows = rows.collect::<Result<Vec<_>, _>>().map_err(classify)?;
            drop(statement);
            let mut found = Vec::with_capacity(rows.len());
            for row in rows {
                found.push(with_body(&mut writer.bodies, row)?.into_delivery()?.0);
            }
            Ok(found)
        })
    }

    /// In transactions of at most 1000 deliveries each, so that a
    /// large purge neither holds the write lock (and the receivers' inserts)
    /// for long nor keeps a large journal in memory. A purge is not atomic:
    /// interrupted, it has removed some of the deliveries.
    fn purge(&self, query: &PurgeQuery) -> StoreFuture<'_, u64> {
        let query = query.clone();
        Box::pin(async move {
            let Some(cutoff) = SystemTime::now().checked_sub(query.older_than) else {
                return Ok(0);
            };
            let cutoff = unix_millis(cutoff);
            let mut removed = 0;
            for status in query.statuses {
                loop {
                    let chunk = self
                        .call_writer(move |writer| {
                            let removed = writer
                                .connection
                                .prepare_cached(
                                    "DELETE FROM octohook_deliveries WHERE id IN ( \
                                       SELECT id FROM octohook_deliveries \
                                       WHERE status = ?1 AND received_at < ?2 LIMIT ?3)",
                                )
                                .and_then(|mut statement| {
                                    statement.execute(params![
                                        status.as_str(),
                                        cutoff,
                                        PURGE_CHUNK as i64
                                    ])
                                })
                                .map_err(classify)?;
                            writer.bodies.forget_unreferenced(&writer.connection)?;
                            if removed > 0 {
                                // Room made: the next delivery tells whether enough.
                                writer.room_refused = None;
                            }
                            Ok(removed)
                        })
                        .await?;
                    removed += chunk as u64;
                    if chunk < PURGE_CHUNK {
                        break;
                    }
                }
            }
            Ok(removed)
        })
    }

    /// A write transaction: it takes SQLite's write lock (waiting up to the
    /// busy timeout for another writer), checks there is room, and commits.
    ///
    /// The store is full ([`StoreError::Full`], with the limit) when the
    /// database and the body log together are at or past the
    /// [size limit](SqliteOptions::size_limit), or when the last new delivery
    /// was refused for want of room (the size limit, SQLite's page cap, a full
    /// disk) and no new delivery has been stored nor any purged since. Room for
    /// some bodies but not for others is not full: the next delivery that does
    /// not fit makes it so, and the next one stored, or a purge, ends it.
    fn health(&self) -> StoreFuture<'_, ()> {
        self.call_writer(|writer| writer.check_room_for_deliveries())
    }

    /// On the read-only connection: a snapshot, read beside the writer.
    fn counts(&self) -> StoreFuture<'_, StatusCounts> {
        self.read(|connection| {
            let mut statement = connection
                .prepare_cached(sql_row::COUNT_BY_STATUS)
                .map_err(classify)?;
            let rows = statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .map_err(classify)?;
            sql_row::counts_from_rows(rows.map(|row| row.map_err(classify)))
        })
    }

    fn wakeups(&self) -> Option<Arc<Notify>> {
        Some(Arc::clone(&self.wakeup))
    }

    fn load_pull_cursor(&self, scope: &str) -> StoreFuture<'_, Option<String>> {
        let scope = scope.to_owned();
        self.call(move |connection| {
            connection
                .prepare_cached("SELECT cursor FROM octohook_pull_cursors WHERE scope = ?1")
                .and_then(|mut statement| statement.query_row([scope], |row| row.get(0)).optional())
                .map_err(classify)
        })
    }

    fn save_pull_cursor(&self, scope: &str, cursor: &str) -> StoreFuture<'_, ()> {
        let (scope, cursor) = (scope.to_owned(), cursor.to_owned());
        self.call(move |connection| {
            connection
                .prepare_cached(
                    "INSERT INTO octohook_pull_cursors (scope, cursor, updated_at) \
                     VALUES (?1, ?2, ?3) \
                     ON CONFLICT (scope) DO UPDATE SET cursor = ?2, updated_at = ?3",
                )
                .and_then(|mut statement| {
                    statement.execute(params![scope, cursor, unix_millis(SystemTime::now())])
                })
                .map(|_| ())
                .map_err(classify)
        })
    }
}

#[cfg(test)]
mod tests {
    use octohook::EventKind;

    use super::*;

    fn new_delivery(guid: &str, size: usize) -> NewDelivery {
        let body: Vec<u8> = guid.bytes().cycle().take(size).collect();
        NewDelivery::new(
            DeliveryKey::new(None, guid.parse().unwrap()),
            EventKind::Ping,
            body,
        )
    }

    fn insert(guid: &str, size: usize) -> (Job, oneshot::Receiver<Result<Inserted, StoreError>>) {
        let delivery = new_delivery(guid, size);
        job(move |writer| insert_one(writer, &delivery, SystemTime::now(), None))
    }

    fn segment_lengths(writer: &Writer) -> Vec<(i64, i64)> {
        writer
            .connection
            .prepare("SELECT segment, length FROM octohook_body_segments ORDER BY segment")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A transaction whose COMMIT fails (a deferred foreign key, checked at
    /// COMMIT) after its bodies were written and synced: every caller gets
    /// the error, the bytes it wrote are unreferenced, and the next
    /// transaction writes over them.
    #[test]
    fn a_failed_commit_leaves_garbage_that_nothing_points_at() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox.db");
        let options = SqliteOptions::default()
            .body_log_segment_size(1000)
            .body_log_inline_max(0);
        let mut writer = open_writer(&path, &options).unwrap();
        writer
            .connection
            .execute_batch(
                "PRAGMA foreign_keys = ON; \
                 CREATE TABLE parent (id INTEGER PRIMARY KEY); \
                 CREATE TABLE child (parent INTEGER \
                   REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
            )
            .unwrap();
        let (kept, kept_answer) = insert("kept", 300);
        run_batch(&mut writer, vec![kept]);
        let kept_id = kept_answer.blocking_recv().unwrap().unwrap().id();
        assert_eq!(segment_lengths(&writer), [(1, 300)]);

        // "b" starts segment 2 within the transaction.
        let (a, a_answer) = insert("a", 500);
        let (b, b_answer) = insert("b", 800);
        let (breaker, breaker_answer) = job(|writer| {
            writer
                .connection
                .execute("INSERT INTO child (parent) VALUES (42)", [])
                .map_err(classify)
        });
        run_batch(&mut writer, vec![a, b, breaker]);
        for answer in [a_answer, b_answer] {
            assert!(answer.blocking_recv().unwrap().is_err());
        }
        assert!(breaker_answer.blocking_recv().unwrap().is_err());
        let directory = writer.bodies.directory().to_path_buf();
        let segment =
            |number: i64| std::fs::read(directory.join(format!("{number:08}.log"))).unwrap();
        // Written, but past the recorded end: garbage.
        assert_eq!(&segment(1)[300..800], &b"a".repeat(500)[..]);
        assert_eq!(segment(2).len(), 800);
        assert_eq!(segment_lengths(&writer), [(1, 300)]);

        writer.connection.execute("DELETE FROM child", []).unwrap();
        let (c, c_answer) = insert("c", 400);
        run_batch(&mut writer, vec![c]);
        let c_id = c_answer.blocking_recv().unwrap().unwrap().id();
        assert_eq!(&segment(1)[300..700], &b"c".repeat(400)[..]);
        assert_eq!(segment_lengths(&writer), [(1, 700)]);
        let (read, read_answer) = job(move |writer| {
            let mut bodies = Vec::new();
            for id in [kept_id, c_id] {
                let sql = format!("SELECT {COLUMNS} FROM octohook_deliveries WHERE id = ?1");
                let row = writer
                    .connection
                    .query_row(&sql, [id], read_row)
                    .map_err(classify)?;
                bodies.push(with_body(&mut writer.bodies, row)?.body);
            }
            Ok(bodies)
        });
        run_batch(&mut writer, vec![read]);
        let bodies = read_answer.blocking_recv().unwrap().unwrap();
        assert_eq!(bodies, [b"kept".repeat(75), b"c".repeat(400)]);
    }

    /// A segment that cannot be started fails the insert that needed it,
    /// alone: the bodies before it in the transaction are written and commit.
    #[test]
    fn a_segment_that_cannot_be_started_fails_only_its_insert() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox.db");
        let options = SqliteOptions::default()
            .body_log_segment_size(1000)
            .body_log_inline_max(0);
        let mut writer = open_writer(&path, &options).unwrap();
        std::fs::create_dir_all(writer.bodies.directory().join("00000002.log")).unwrap();
        let (a, a_answer) = insert("a", 600);
        let (b, b_answer) = insert("b", 600);
        run_batch(&mut writer, vec![a, b]);
        let a_id = a_answer.blocking_recv().unwrap().unwrap().id();
        assert!(b_answer.blocking_recv().unwrap().is_err());
        assert_eq!(segment_lengths(&writer), [(1, 600)]);
        let (read, read_answer) = job(move |writer| {
            let sql = format!("SELECT {COLUMNS} FROM octohook_deliveries");
            let rows = writer
                .connection
                .prepare(&sql)
                .and_then(|mut statement| {
                    statement
                        .query_map([], read_row)?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(classify)?;
            let mut found = Vec::new();
            for row in rows {
                let parts = with_body(&mut writer.bodies, row)?;
                found.push((parts.id, parts.body));
            }
            Ok(found)
        });
        run_batch(&mut writer, vec![read]);
        assert_eq!(
            read_answer.blocking_recv().unwrap().unwrap(),
            [(a_id, b"a".repeat(600))]
        );
    }

    /// A body claimed in the transaction that stored it is read back before
    /// it is written out at the commit.
    #[test]
    fn a_body_is_read_back_in_the_transaction_that_stored_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox.db");
        let options = SqliteOptions::default().body_log_inline_max(0);
        let mut writer = open_writer(&path, &options).unwrap();
        let (first, _) = insert("one", 700);
        let (second, _) = insert("two", 900);
        let (claim, claimed) = job(|writer| claim_some(writer, "w", Duration::from_secs(60), 10));
        run_batch(&mut writer, vec![first, second, claim]);
        let bodies: Vec<_> = claimed
            .blocking_recv()
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|claimed| claimed.delivery.body)
            .collect();
        assert_eq!(
            bodies,
            [b"one".repeat(700)[..700].to_vec(), b"two".repeat(300)]
        );
    }

    #[test]
    fn millis_round_trip_on_both_sides_of_the_epoch() {
        for millis in [0, 1, -1, 1_700_000_000_123, -86_400_000] {
            assert_eq!(unix_millis(from_unix_millis(millis)), millis);
        }
    }
}
