//! [`BodyLog`]: the SQLite store's bodies, appended to segment files beside the
//! database and synced once per transaction.
//!
//! # Why
//!
//! In the database, a body's pages were written to the write-ahead log, written
//! again into the database file at the checkpoint, and synced twice: most of
//! the store's time for bodies of a few KiB. In the log, a body is written once
//! (one vectored write per transaction) and synced once per transaction.
//! Bodies up to a page stay in the database (see `INLINE_BODY_MAX`): for them
//! the log's sync costs more than the second write saves.
//!
//! # Crash safety
//!
//! A row points into the log (segment, offset, length); the log's state (which
//! segment is appended to, where its committed bodies end) is in the table
//! `octohook_body_segments`, changed in the same transaction as the rows. The
//! order within a transaction, on the writer thread:
//!
//! 1. each new row gets the next location; its body joins the transaction's
//!    pending writes (written out before anything in the same transaction
//!    reads it back);
//! 2. before `COMMIT`, the pending writes are written, every segment written to
//!    is synced ([`Synchronous::Full`](super::Synchronous::Full)), and the
//!    segments' ends are recorded; a failed write or sync fails the whole
//!    transaction, so no caller is told its delivery was stored;
//! 3. `COMMIT`.
//!
//! A committed row therefore always points at synced bytes. A new segment's
//! directory entry is synced when the segment is created, before any row can
//! point into it. A transaction that does not commit leaves its bytes past the
//! recorded end, where the next transaction writes over them; a job that fails
//! inside a committed transaction leaves its body's bytes between other
//! bodies, unreferenced: at most one transaction's bodies per failure.
//!
//! Every append happens under SQLite's write lock (the transaction began with
//! `BEGIN IMMEDIATE`), and each transaction starts from the recorded end, so
//! several processes writing the same database share the log safely.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};

use crate::{StoreError, StoredDeliveryId};

/// The size past which a segment is closed and the next one started.
pub(super) const SEGMENT_SIZE: u64 = 64 * 1024 * 1024;

/// Where a new body is stored, for the size check
/// ([`BodyLog::check_room`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Placement {
    /// In its row, in the database (at most the inline maximum).
    Database,
    /// In the body log.
    Log,
}

/// Where a body lies in the log, as a row records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct BodyLocation {
    pub(super) segment: i64,
    pub(super) offset: u64,
    pub(super) length: u64,
}

impl BodyLocation {
    /// The location read from a row's three columns: `None` when the body is
    /// in `octohook_delivery_bodies` (a row stored before the log existed).
    pub(super) fn from_columns(
        id: StoredDeliveryId,
        segment: Option<i64>,
        offset: Option<i64>,
        length: Option<i64>,
    ) -> Result<Option<Self>, StoreError> {
        let (segment, offset, length) = match (segment, offset, length) {
            (None, None, None) => return Ok(None),
            (Some(segment), Some(offset), Some(length)) => (segment, offset, length),
            _ => return Err(corrupt(id, "its body location is incomplete".to_owned())),
        };
        match (u64::try_from(offset), u64::try_from(length)) {
            (Ok(offset), Ok(length)) if segment > 0 => Ok(Some(Self {
                segment,
                offset,
                length,
            })),
            _ => Err(corrupt(
                id,
                format!("its body location ({segment}, {offset}, {length}) is impossible"),
            )),
        }
    }
}

/// How the log is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LogMode {
    /// Appends, synced before each commit.
    Synced,
    /// Appends, never synced: the operating system writes them out
    /// ([`Synchronous::Normal`](super::Synchronous::Normal)).
    Unsynced,
    /// Reads only: never creates, writes or removes a file.
    ReadOnly,
}

/// The body log of one database, used by the thread that owns its connection.
#[derive(Debug)]
pub(super) struct BodyLog {
    directory: PathBuf,
    /// Whether the directory is known to exist. A writer creates it with the
    /// first segment: a database in a directory the receiver may not write
    /// to still opens, and its inserts fail as read-only.
    directory_ready: bool,
    mode: LogMode,
    segment_size: u64,
    /// Open segments (read-write on a writer), by number.
    files: BTreeMap<i64, File>,
    /// The appends of the transaction under way, if it appended anything.
    appending: Option<Appending>,
    /// Segments to remove once the transaction that forgot them commits.
    doomed: Vec<i64>,
}

/// What the transaction under way appended.
#[derive(Debug)]
struct Appending {
    /// The segment appended to.
    segment: i64,
    /// The first delivery stored in `segment`, once known.
    first_id: Option<StoredDeliveryId>,
    /// Where the next body goes.
    end: u64,
    /// Where the first of `pending` goes.
    pending_at: u64,
    /// Bodies not written yet, in order.
    pending: Vec<Bytes>,
    /// The segments this transaction stored bodies in (to record): where
    /// each ends, and its first delivery.
    touched: BTreeMap<i64, (u64, StoredDeliveryId)>,
    /// The segments this transaction wrote to (to sync).
    written: BTreeSet<i64>,
    /// Why a write failed: bodies of rows in this transaction may be
    /// missing, so it must not commit.
    failed: Option<StoreError>,
    /// The log's recorded size when the transaction began, plus its appends.
    log_bytes: u64,
}

impl BodyLog {
    /// The log beside the database at `database`. A writer creates the
    /// directory with its first segment; a reader never does (reads then fail).
    pub(super) fn open(database: &Path, mode: LogMode) -> Self {
        let mut name = database
            .file_name()
            .map(|name| name.to_os_string())
            .unwrap_or_else(|| "inbox.db".into());
        name.push("-bodies");
        let directory = database.with_file_name(name);
        Self {
            directory_ready: directory.is_dir(),
            directory,
            mode,
            segment_size: SEGMENT_SIZE,
            files: BTreeMap::new(),
            appending: None,
            doomed: Vec::new(),
        }
    }

    /// Creates the directory when missing, its entry durable before any row
    /// points into it.
    fn ensure_directory(&mut self) -> Result<(), StoreError> {
        if self.directory_ready {
            return Ok(());
        }
        std::fs::create_dir_all(&self.directory)
            .map_err(|error| io_error(&self.directory, &error))?;
        let parent = self
            .directory
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        sync_directory(parent)?;
        self.directory_ready = true;
        Ok(())
    }

    /// Sets the size past which a segment is closed (tests use small ones).
    pub(super) fn set_segment_size(&mut self, bytes: u64) {
        self.segment_size = bytes.max(1);
    }

    /// The directory holding the segments.
    #[cfg(test)]
    pub(super) fn directory(&self) -> &Path {
        &self.directory
    }

    fn segment_path(&self, segment: i64) -> PathBuf {
        self.directory.join(format!("{segment:08}.log"))
    }

    /// Where a body of `length` bytes goes, in the transaction under way;
    /// [`StoreError::Full`] when it would take the database and the log past
    /// `limit` bytes. The body is appended by [`append`](Self::append) once its
    /// row is stored.
    pub(super) fn next_location(
        &mut self,
        connection: &Connection,
        length: u64,
        limit: Option<u64>,
    ) -> Result<BodyLocation, StoreError> {
        if self.mode == LogMode::ReadOnly {
            return Err(StoreError::ReadOnly(
                "the store was opened read-only".to_owned(),
            ));
        }
        if self.appending.is_none() {
            self.appending = Some(begin_appending(connection)?);
        }
        self.check_room(connection, length, limit, Placement::Log)?;
        let size = self.segment_size;
        let needs_segment = self.appending.as_ref().is_some_and(|appending| {
            appending.end > 0 && appending.end.saturating_add(length) > size
        });
        if needs_segment {
            self.write_pending()?;
            let next = self
                .appending
                .as_ref()
                .map_or(1, |appending| appending.segment + 1);
            self.create_segment(next)?;
            if let Some(appending) = self.appending.as_mut() {
                appending.segment = next;
                appending.first_id = None;
                appending.end = 0;
                appending.pending_at = 0;
            }
        }
        let Some(appending) = self.appending.as_ref() else {
            return Err(StoreError::Unavailable(
                "the body log lost its transaction".to_owned(),
            ));
        };
        Ok(BodyLocation {
            segment: appending.segment,
            offset: appending.end,
            length,
        })
    }

    /// [`StoreError::Full`] when a body of `length` bytes, stored where
    /// `placement` says, would take the database and the log past `limit`
    /// bytes together.
    ///
    /// A body in the log adds its bytes to the disk whatever the database
    /// holds, so it counts the database's whole file. A body in the database
    /// first takes up the pages a purge left free (the file grows only once
    /// none are left), so it counts the pages in use.
    pub(super) fn check_room(
        &self,
        connection: &Connection,
        length: u64,
        limit: Option<u64>,
        placement: Placement,
    ) -> Result<(), StoreError> {
        let Some(limit) = limit else {
            return Ok(());
        };
        let (database, log) = self.held_bytes(connection, placement)?;
        if database.saturating_add(log).saturating_add(length) > limit {
            return Err(StoreError::Full(format!(
                "the size limit of {limit} bytes is reached: {database} in the database \
                 and {log} in the body log, and the body has {length}"
            )));
        }
        Ok(())
    }

    /// [`StoreError::Full`] when the pages in use in the database and the log
    /// together are at or past `limit` bytes: not even an empty body fits.
    pub(super) fn check_not_at_limit(
        &self,
        connection: &Connection,
        limit: Option<u64>,
    ) -> Result<(), StoreError> {
        let Some(limit) = limit else {
            return Ok(());
        };
        let (database, log) = self.held_bytes(connection, Placement::Database)?;
        if database.saturating_add(log) >= limit {
            return Err(StoreError::Full(format!(
                "the size limit of {limit} bytes is reached: {database} in the database \
                 and {log} in the body log"
            )));
        }
        Ok(())
    }

    /// The bytes of the database that a body stored as `placement` says
    /// counts, and of the log, this transaction's appends included.
    fn held_bytes(
        &self,
        connection: &Connection,
        placement: Placement,
    ) -> Result<(u64, u64), StoreError> {
        let log = match &self.appending {
            Some(appending) => appending.log_bytes,
            None => recorded_log_bytes(connection)?,
        };
        let database = database_size(connection)?;
        let database = match placement {
            Placement::Log => database.file,
            Placement::Database => database.file.saturating_sub(database.free),
        };
        Ok((database, log))
    }

    /// Appends `body` at the location [`next_location`](Self::next_location)
    /// just gave, for the stored row `id`.
    pub(super) fn append(&mut self, id: StoredDeliveryId, body: &Bytes) {
        let Some(appending) = self.appending.as_mut() else {
            return;
        };
        let first_id = *appending.first_id.get_or_insert(id);
        let length = body.len() as u64;
        appending.end += length;
        appending.log_bytes = appending.log_bytes.saturating_add(length);
        if !body.is_empty() {
            appending.pending.push(body.clone());
        }
        let end = appending.end;
        appending
            .touched
            .entry(appending.segment)
            .or_insert((end, first_id))
            .0 = end;
    }

    /// Creates segment `segment` (or opens what a transaction that did not
    /// commit left of it) and makes its directory entry durable.
    fn create_segment(&mut self, segment: i64) -> Result<(), StoreError> {
        self.ensure_directory()?;
        let path = self.segment_path(segment);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|error| io_error(&path, &error))?;
        sync_directory(&self.directory)?;
        self.files.insert(segment, file);
        Ok(())
    }

    /// The open file of `segment`, opened when needed.
    fn file(&mut self, segment: i64) -> Result<&File, StoreError> {
        if !self.files.contains_key(&segment) {
            let path = self.segment_path(segment);
            let file = OpenOptions::new()
                .read(true)
                .write(self.mode != LogMode::ReadOnly)
                .open(&path)
                .map_err(|error| io_error(&path, &error))?;
            self.files.insert(segment, file);
        }
        self.files
            .get(&segment)
            .ok_or_else(|| StoreError::Unavailable("the body log lost a segment".to_owned()))
    }

    /// Writes the pending bodies, in one vectored write when it takes them all.
    /// A failure fails the transaction (see [`before_commit`](Self::before_commit)):
    /// rows of it point at the bodies that were not written.
    fn write_pending(&mut self) -> Result<(), StoreError> {
        let Some(appending) = self.appending.as_mut() else {
            return Ok(());
        };
        if appending.pending.is_empty() {
            appending.pending_at = appending.end;
            return Ok(());
        }
        let (segment, at) = (appending.segment, appending.pending_at);
        let pending = std::mem::take(&mut appending.pending);
        appending.pending_at = appending.end;
        appending.written.insert(segment);
        let written = self.write_at(segment, &pending, at);
        if let (Err(error), Some(appending)) = (&written, self.appending.as_mut()) {
            appending.failed.get_or_insert_with(|| error.clone());
        }
        written
    }

    /// Writes `bodies` one after the other at `at` in `segment`.
    fn write_at(&mut self, segment: i64, bodies: &[Bytes], at: u64) -> Result<(), StoreError> {
        let path = self.segment_path(segment);
        let file = match self.file(segment) {
            Ok(file) => file,
            // The segment recorded as current, missing: only its first
            // transaction, never committed, had it.
            Err(_) if at == 0 => {
                self.create_segment(segment)?;
                self.file(segment)?
            }
            Err(error) => return Err(error),
        };
        write_all_at(file, bodies, at).map_err(|error| io_error(&path, &error))
    }

    /// Before the transaction's `COMMIT`: writes what is pending, syncs every
    /// segment written to, and records the segments' ends. An error here
    /// must fail the transaction.
    pub(super) fn before_commit(&mut self, connection: &Connection) -> Result<(), StoreError> {
        self.write_pending()?;
        let Some(appending) = self.appending.as_ref() else {
            return Ok(());
        };
        if let Some(error) = &appending.failed {
            return Err(error.clone());
        }
        let touched: Vec<_> = appending
            .touched
            .iter()
            .map(|(segment, entry)| (*segment, *entry))
            .collect();
        let written: Vec<_> = appending.written.iter().copied().collect();
        if self.mode == LogMode::Synced {
            for segment in written {
                let path = self.segment_path(segment);
                self.file(segment)?
                    .sync_data()
                    .map_err(|error| io_error(&path, &error))?;
            }
        }
        let mut record = connection
            .prepare_cached(
                "INSERT INTO octohook_body_segments (segment, length, first_id) \
                 VALUES (?1, ?2, ?3) \
                 ON CONFLICT (segment) DO UPDATE SET length = excluded.length",
            )
            .map_err(super::classify)?;
        for (segment, (end, first_id)) in touched {
            record
                .execute(params![
                    segment,
                    i64::try_from(end).unwrap_or(i64::MAX),
                    first_id
                ])
                .map_err(super::classify)?;
        }
        Ok(())
    }

    /// After the transaction ended (`committed` or not): forgets its appends
    /// and, once committed, removes the segments it forgot.
    pub(super) fn after_transaction(&mut self, committed: bool) {
        self.appending = None;
        let doomed = std::mem::take(&mut self.doomed);
        if !committed {
            return;
        }
        for segment in doomed {
            self.files.remove(&segment);
            let path = self.segment_path(segment);
            if let Err(error) = std::fs::remove_file(&path)
                && error.kind() != io::ErrorKind::NotFound
            {
                // Left behind, it is removed at the next open.
                tracing::warn!(path = %path.display(), %error, "cannot remove a body log segment");
            }
        }
    }

    /// Reads the body at `location`, of row `id`: [`StoreError::Corrupt`] when
    /// the location lies past the end of its segment.
    pub(super) fn read(
        &mut self,
        id: StoredDeliveryId,
        location: BodyLocation,
    ) -> Result<Vec<u8>, StoreError> {
        if location.length == 0 {
            return Ok(Vec::new());
        }
        // Bodies of this transaction, read back before its commit.
        if self
            .appending
            .as_ref()
            .is_some_and(|appending| !appending.pending.is_empty())
        {
            self.write_pending()?;
        }
        let path = self.segment_path(location.segment);
        let file = self.file(location.segment)?;
        let size = file
            .metadata()
            .map_err(|error| io_error(&path, &error))?
            .len();
        let Some(end) = location.offset.checked_add(location.length) else {
            return Err(corrupt(id, "its body location overflows".to_owned()));
        };
        if end > size {
            return Err(corrupt(
                id,
                format!(
                    "its body ({} bytes at {}) lies past the end of {} ({size} bytes)",
                    location.length,
                    location.offset,
                    path.display()
                ),
            ));
        }
        let mut body = vec![0; usize::try_from(location.length).unwrap_or(usize::MAX)];
        read_exact_at(file, &mut body, location.offset).map_err(|error| io_error(&path, &error))?;
        Ok(body)
    }

    /// After a purge deleted rows, in its transaction: forgets every segment no
    /// row points into any more, except the one appended to, and removes its
    /// file once the transaction commits.
    pub(super) fn forget_unreferenced(
        &mut self,
        connection: &Connection,
    ) -> Result<(), StoreError> {
        let segments: Vec<(i64, i64)> = connection
            .prepare_cached("SELECT segment, first_id FROM octohook_body_segments ORDER BY segment")
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect()
            })
            .map_err(super::classify)?;
        let mut referenced = connection
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM octohook_deliveries \
                 WHERE id >= ?1 AND id < ?2 AND body_segment IS NOT NULL)",
            )
            .map_err(super::classify)?;
        let mut forget = connection
            .prepare_cached("DELETE FROM octohook_body_segments WHERE segment = ?1")
            .map_err(super::classify)?;
        // The last segment is appended to: kept.
        for pair in segments.windows(2) {
            let [(segment, first_id), (_, next_first_id)] = *pair else {
                continue;
            };
            let used: bool = referenced
                .query_row(params![first_id, next_first_id], |row| row.get(0))
                .map_err(super::classify)?;
            if !used {
                forget.execute([segment]).map_err(super::classify)?;
                self.doomed.push(segment);
            }
        }
        Ok(())
    }

    /// At open, under the write lock: removes segment files older than every
    /// recorded segment (a purge that stopped between its commit and the
    /// removal left them).
    pub(super) fn remove_leftovers(&mut self, connection: &Connection) -> Result<(), StoreError> {
        let oldest: Option<i64> = connection
            .query_row(
                "SELECT MIN(segment) FROM octohook_body_segments",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(super::classify)?
            .flatten();
        let Some(oldest) = oldest else {
            return Ok(());
        };
        if !self.directory_ready {
            return Ok(());
        }
        let entries = std::fs::read_dir(&self.directory)
            .map_err(|error| io_error(&self.directory, &error))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let number = name
                .to_str()
                .and_then(|name| name.strip_suffix(".log"))
                .and_then(|number| number.parse::<i64>().ok());
            if let Some(number) = number
                && number < oldest
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }
}

/// The log's state at the start of a transaction that appends: the segment
/// appended to, where its committed bodies end, and the log's size.
fn begin_appending(connection: &Connection) -> Result<Appending, StoreError> {
    let (segment, end, first_id, log_bytes): (i64, i64, Option<i64>, f64) = connection
        .prepare_cached(
            "SELECT segment, length, first_id, \
               (SELECT total(length) FROM octohook_body_segments) \
             FROM octohook_body_segments ORDER BY segment DESC LIMIT 1",
        )
        .and_then(|mut statement| {
            statement
                .query_row([], |row| {
                    Ok((row.get(0)?, row.get(1)?, Some(row.get(2)?), row.get(3)?))
                })
                .optional()
        })
        .map_err(super::classify)?
        // An empty log: segment 1 is started by its first body.
        .unwrap_or((1, 0, None, 0.0));
    let end = u64::try_from(end).map_err(|_| {
        StoreError::Unavailable(format!("the body log's segment {segment} has length {end}"))
    })?;
    Ok(Appending {
        segment,
        first_id: first_id.map(StoredDeliveryId::new),
        end,
        pending_at: end,
        pending: Vec::new(),
        touched: BTreeMap::new(),
        written: BTreeSet::new(),
        failed: None,
        // total() is a float; exact up to 2^53 bytes.
        log_bytes: log_bytes as u64,
    })
}

/// The bytes of the log's committed bodies.
fn recorded_log_bytes(connection: &Connection) -> Result<u64, StoreError> {
    let total: f64 = connection
        .prepare_cached("SELECT total(length) FROM octohook_body_segments")
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .map_err(super::classify)?;
    // total() is a float; exact up to 2^53 bytes.
    Ok(total as u64)
}

/// The database's size in bytes.
struct DatabaseSize {
    /// Its file's pages.
    file: u64,
    /// Those of them free: left by a purge, taken up again before the file
    /// grows.
    free: u64,
}

fn database_size(connection: &Connection) -> Result<DatabaseSize, StoreError> {
    let pragma = |name: &str| -> Result<u64, StoreError> {
        let value: i64 = connection
            .prepare_cached(&format!("PRAGMA {name}"))
            .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
            .map_err(super::classify)?;
        Ok(u64::try_from(value).unwrap_or(0))
    };
    let page_size = pragma("page_size")?;
    Ok(DatabaseSize {
        file: pragma("page_count")?.saturating_mul(page_size),
        free: pragma("freelist_count")?.saturating_mul(page_size),
    })
}

fn corrupt(id: StoredDeliveryId, reason: String) -> StoreError {
    StoreError::Corrupt { id, reason }
}

/// An I/O error on the log: a full disk is [`StoreError::Full`].
fn io_error(path: &Path, error: &io::Error) -> StoreError {
    let message = format!("body log {}: {error}", path.display());
    match error.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => StoreError::Full(message),
        io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied => {
            StoreError::ReadOnly(message)
        }
        _ => StoreError::Unavailable(message),
    }
}

/// Makes `directory`'s entries durable. Windows has no such call (NTFS journals
/// its directories): nothing to do there.
fn sync_directory(directory: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        File::open(directory)
            .and_then(|directory| directory.sync_all())
            .map_err(|error| io_error(directory, &error))?;
    }
    #[cfg(not(unix))]
    let _ = directory;
    Ok(())
}

/// Writes `bodies` one after the other at `offset`, with as few calls as the
/// system allows.
fn write_all_at(file: &File, bodies: &[Bytes], offset: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    // `&File` writes and seeks: the offset is the file's own, set first (no
    // positioned vectored write on stable).
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    let mut slices: Vec<IoSlice<'_>> = bodies.iter().map(|body| IoSlice::new(body)).collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut slices, written),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Reads `buffer.len()` bytes at `offset`.
#[cfg(unix)]
fn read_exact_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
}

/// Reads `buffer.len()` bytes at `offset`.
#[cfg(windows)]
fn read_exact_at(file: &File, mut buffer: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buffer.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buffer, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(read) => {
                buffer = &mut buffer[read..];
                offset += read as u64;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
