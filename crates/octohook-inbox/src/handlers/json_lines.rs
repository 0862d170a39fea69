//! [`JsonLines`]: one JSON line per delivery, as `octohook serve --out` writes.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{self, BufWriter, IoSlice, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::SystemTime;

use octohook::{AuthenticDelivery, DeliveryRecord};
use tokio::sync::oneshot;

use crate::{AttemptError, Handler, StoredDelivery};

/// Writes each delivery as one [`DeliveryRecord`] line (`received_at`,
/// `delivery`, `hook_id`, `event`, `action`, `target`, `origin` (`pushed` or
/// `pulled`) and the payload byte for byte) to standard output or a file.
///
/// As a worker's [`Handler`], it writes each stored delivery before the
/// delivery is marked done: at least once, so a delivery whose worker was killed
/// between the two is written again. A receiver without an inbox calls
/// [`write`](Self::write) before answering.
///
/// Where the writing happens depends on what the output can do:
/// - a regular file or `/dev/null` ([`append_to`](Self::append_to), or a
///   [`stdout`](Self::stdout) redirected to one) is written on the calling task,
///   under a lock: such a write returns as soon as the kernel has the bytes, and a
///   thread hand-off would cost more than the write;
/// - anything else (a pipe, a terminal, a writer given to [`new`](Self::new)),
///   which may block for as long as its reader likes, is written by a thread of
///   its own, so no async task ever waits on it. The thread takes every line
///   queued meanwhile and hands them to the operating system in one flush, and
///   ends once every clone of the `JsonLines` is dropped.
///
/// Either way a line reaches the operating system before `write` returns, so it
/// survives the process being killed; it is not synced to disk (a power cut may
/// lose it).
///
/// A line is written whole or not at all, and a write that fails (a full disk)
/// fails the delivery, so that it is tried again (by the worker, or by GitHub
/// after a 503); it is never reported written without its whole line:
/// - a regular file is cut back to the end of its last complete line. If even
///   that fails, every later write fails too, without appending anything, until
///   the cut succeeds. Lines are written one at a time, so a cut never takes
///   another line with it (nor should another process append to the file);
/// - what reached a pipe, a terminal or a writer given to [`new`](Self::new)
///   cannot be taken back: the next write first ends the partial line with a
///   newline (and fails, writing nothing more, while it cannot). Each line is
///   then whole, except that one, which either is a whole record (written again
///   later, as lines are at least once) or is not JSON at all, since it lacks
///   the record's closing brace.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::{Arc, Mutex};
/// use octohook::VerifiedDelivery;
/// use octohook_inbox::handlers::JsonLines;
///
/// # let secret = octohook::WebhookSecret::new("s3cret").unwrap();
/// # let body = bytes::Bytes::from_static(b"{\"zen\":\"Keep it logically awesome.\"}");
/// # let mut headers = http::HeaderMap::new();
/// # headers.insert("x-github-event", "ping".parse().unwrap());
/// # headers.insert("x-github-delivery", "a1".parse().unwrap());
/// # headers.insert("content-type", "application/json".parse().unwrap());
/// # headers.insert("x-hub-signature-256", octohook::sign(&secret, &body).parse().unwrap());
/// # let delivery = octohook::Verifier::new(secret).verify(&headers, body).unwrap();
/// #[derive(Clone, Default)]
/// struct Buffer(Arc<Mutex<Vec<u8>>>);
/// impl std::io::Write for Buffer {
///     fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().write(bytes) }
///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// }
/// let buffer = Buffer::default();
/// let lines = JsonLines::new(buffer.clone());
/// lines.write(&delivery, std::time::UNIX_EPOCH).await.unwrap();
/// let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
/// assert!(text.ends_with("\"payload\":{\"zen\":\"Keep it logically awesome.\"}}\n"));
/// # }
/// ```
#[derive(Clone)]
pub struct JsonLines {
    output: Output,
}

#[derive(Clone)]
enum Output {
    /// Written on the calling task: a regular file or `/dev/null`.
    Direct(Arc<Mutex<AppendedFile<File>>>),
    /// Written by the lines thread.
    Thread(mpsc::Sender<Line>),
}

/// A regular file or `/dev/null`, written one whole line at a time.
struct AppendedFile<F> {
    file: F,
    /// Whether a failed line can be cut off: a regular file, not `/dev/null`
    /// (whose writes never fail).
    regular: bool,
    /// Where the line that failed began, while it could not be cut off: nothing
    /// is appended to a partial line.
    cut_pending: Option<u64>,
}

/// A line to write, and who waits for it to reach the operating system.
struct Line {
    source: LineSource,
    written: oneshot::Sender<io::Result<()>>,
}

/// What a line is written from: a delivery just verified or pulled (a receiver
/// without an inbox), or one a store kept (a worker).
enum LineSource {
    Verified(AuthenticDelivery, SystemTime),
    Stored(StoredDelivery),
}

impl LineSource {
    /// The line's record; only a stored form body that does not decode fails
    /// (which [`JsonLines::write_stored`] rules out before queueing it).
    fn record(&self) -> io::Result<DeliveryRecord<'_>> {
        match self {
            Self::Verified(delivery, received_at) => Ok(DeliveryRecord::of(delivery, *received_at)),
            Self::Stored(delivery) => delivery.record().map_err(invalid_data),
        }
    }
}

fn invalid_data(error: octohook::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

/// Lines gathered before a batch's buffer is handed to the output: larger
/// payloads go through without being copied into it.
const BATCH_BUFFER: usize = 64 * 1024;

impl JsonLines {
    /// Lines to `out`, flushed after each batch.
    ///
    /// # Panics
    ///
    /// When the operating system refuses to start the writing thread.
    pub fn new(out: impl Write + Send + 'static) -> Self {
        let (queue, lines) = mpsc::channel();
        std::thread::Builder::new()
            .name("octohook-lines".to_owned())
            .spawn(move || write_batches(out, &lines))
            .expect("cannot start the JSON lines thread");
        Self {
            output: Output::Thread(queue),
        }
    }

    /// Lines to standard output: written directly when it is a regular file or
    /// `/dev/null`, by a thread otherwise.
    pub fn stdout() -> Self {
        match file_that_never_blocks(&io::stdout()) {
            // Written through a file of its own, duplicated from standard
            // output, so that a failed line can be cut off.
            Some((file, regular)) => Self::direct(file, regular),
            None => Self::new(io::stdout()),
        }
    }

    /// Lines appended to the file at `path`, created when missing (written
    /// directly when it is a regular file or `/dev/null`, by a thread otherwise:
    /// a named pipe, a terminal).
    ///
    /// A regular file that does not end with a newline (a writer killed in the
    /// middle of a line, by SIGKILL or a power cut) first gets one, with a
    /// warning: the partial line stays alone on its line, and every whole line
    /// around it still parses.
    pub fn append_to(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        Ok(match file_that_never_blocks(&file) {
            Some((_, regular)) => {
                if regular {
                    end_partial_last_line(&mut file, path)?;
                }
                Self::direct(file, regular)
            }
            None => Self::new(file),
        })
    }

    fn direct(file: File, regular: bool) -> Self {
        Self {
            output: Output::Direct(Arc::new(Mutex::new(AppendedFile {
                file,
                regular,
                cut_pending: None,
            }))),
        }
    }

    /// Writes the line of `delivery` (a [`VerifiedDelivery`](octohook::VerifiedDelivery),
    /// a [`PulledDelivery`](octohook::PulledDelivery), or a reference to one),
    /// received at `received_at`, and flushes it.
    ///
    /// A payload that is not a JSON object fails with
    /// [`io::ErrorKind::InvalidData`] (see [`DeliveryRecord::write_line`]), and
    /// nothing is written.
    pub async fn write(
        &self,
        delivery: impl Into<AuthenticDelivery>,
        received_at: SystemTime,
    ) -> io::Result<()> {
        let delivery = delivery.into();
        // Checked here, so that one bad payload never fails a whole batch.
        delivery.check_payload().map_err(invalid_data)?;
        match &self.output {
            Output::Direct(file) => append(file, &DeliveryRecord::of(&delivery, received_at)),
            // The clone shares the body's bytes.
            Output::Thread(queue) => {
                queued(queue, LineSource::Verified(delivery, received_at)).await
            }
        }
    }

    /// Writes the line of a stored delivery (see [`StoredDelivery::record`]):
    /// what the store kept, without verifying it again. A form body whose
    /// `payload` does not decode fails with [`io::ErrorKind::InvalidData`], and
    /// nothing is written.
    pub async fn write_stored(&self, delivery: StoredDelivery) -> io::Result<()> {
        let record = delivery.record().map_err(invalid_data)?;
        match &self.output {
            Output::Direct(file) => append(file, &record),
            Output::Thread(queue) => {
                drop(record);
                queued(queue, LineSource::Stored(delivery)).await
            }
        }
    }
}

/// Ends the partial line a regular file ends with, if any (see
/// [`JsonLines::append_to`]).
fn end_partial_last_line(file: &mut File, path: &Path) -> io::Result<()> {
    if file.seek(SeekFrom::End(0))? == 0 {
        return Ok(());
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0];
    file.read_exact(&mut last)?;
    if last != *b"\n" {
        // Appended: the file is opened with O_APPEND.
        file.write_all(b"\n")?;
        tracing::warn!(
            path = %path.display(),
            "the file ends with a partial line (its writer was stopped in the middle of one); \
             it is left alone on its line, and lines are appended after it"
        );
    }
    Ok(())
}

/// Appends `record` to a file written on the calling task.
fn append(file: &Mutex<AppendedFile<File>>, record: &DeliveryRecord<'_>) -> io::Result<()> {
    file.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .append(record)
}

/// Hands a line to the lines thread, and waits until it is written.
async fn queued(queue: &mpsc::Sender<Line>, source: LineSource) -> io::Result<()> {
    let (written, done) = oneshot::channel();
    queue
        .send(Line { source, written })
        .map_err(|_| stopped())?;
    done.await.map_err(|_| stopped())?
}

/// What [`AppendedFile`] needs of a file besides writing: where it ends, and
/// cutting it back.
trait Cut: Write {
    /// Moves to the end of the file; returns its length.
    fn seek_end(&mut self) -> io::Result<u64>;
    /// Cuts the file back to `len` bytes, and writes from there on.
    fn cut_back(&mut self, len: u64) -> io::Result<()>;
}

impl Cut for File {
    fn seek_end(&mut self) -> io::Result<u64> {
        self.seek(SeekFrom::End(0))
    }

    fn cut_back(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)?;
        self.seek(SeekFrom::Start(len))?;
        Ok(())
    }
}

impl<F: Cut> AppendedFile<F> {
    /// Appends the line of `record`, or, when that fails, nothing.
    fn append(&mut self, record: &DeliveryRecord<'_>) -> io::Result<()> {
        if let Some(start) = self.cut_pending {
            self.file.cut_back(start).map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("a failed line could not be cut off the file yet: {error}"),
                )
            })?;
            self.cut_pending = None;
        }
        // Where the line begins: the end of the file (written with O_APPEND, or,
        // for a redirected standard output, from its position), which only this
        // task writes to while the lock is held.
        let start = if self.regular {
            self.file.seek_end()?
        } else {
            0
        };
        let mut out = BufWriter::with_capacity(BATCH_BUFFER, &mut self.file);
        let written = record.write_line(&mut out).and_then(|()| out.flush());
        // Not flushed on drop: after an error, what it holds is part of the
        // failed line.
        drop(out.into_parts());
        if written.is_err() && self.regular && self.file.cut_back(start).is_err() {
            self.cut_pending = Some(start);
        }
        written
    }
}

/// `out` as a file of its own, and whether it is a regular file, when writes to
/// it return as soon as the kernel has the bytes: a regular file, or
/// `/dev/null`.
#[cfg(unix)]
fn file_that_never_blocks(out: &impl std::os::fd::AsFd) -> Option<(File, bool)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    let file = File::from(out.as_fd().try_clone_to_owned().ok()?);
    let metadata = file.metadata().ok()?;
    if metadata.file_type().is_file() {
        Some((file, true))
    } else if metadata.file_type().is_char_device()
        && std::fs::metadata("/dev/null").is_ok_and(|null| null.rdev() == metadata.rdev())
    {
        Some((file, false))
    } else {
        None
    }
}

/// Off Unix, every output is written by the thread.
#[cfg(not(unix))]
fn file_that_never_blocks<T>(_: &T) -> Option<(File, bool)> {
    None
}

/// The output of the lines thread, which knows whether it stopped in the middle
/// of a line.
struct LineStream<W> {
    out: W,
    /// Whether the last byte the output took ended a line (or it took none).
    at_line_start: bool,
}

impl<W: Write> LineStream<W> {
    /// Ends the partial line a failed batch left, so that the next line starts
    /// on a line of its own.
    fn end_partial_line(&mut self) -> io::Result<()> {
        if self.at_line_start {
            return Ok(());
        }
        self.write_all(b"\n").map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("the output holds part of a failed line, and cannot end it: {error}"),
            )
        })
    }
}

impl<W: Write> Write for LineStream<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let taken = self.out.write(bytes)?;
        if let Some(last) = taken.checked_sub(1) {
            self.at_line_start = bytes.get(last) == Some(&b'\n');
        }
        Ok(taken)
    }

    fn write_vectored(&mut self, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        let taken = self.out.write_vectored(slices)?;
        // The last byte taken: in the slice where the count runs out.
        let mut left = taken;
        for slice in slices {
            if left <= slice.len() {
                if let Some(last) = left.checked_sub(1) {
                    self.at_line_start = slice.get(last) == Some(&b'\n');
                }
                break;
            }
            left -= slice.len();
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn stopped() -> io::Error {
    io::Error::other("the JSON lines thread stopped")
}

/// The writing thread: each batch is every line queued by the time the previous
/// flush ended, written through one buffer and flushed once, then acknowledged.
/// On an error the whole batch fails (some of it may have been written: lines
/// are at least once), and the next batch first ends the line it cut.
fn write_batches(out: impl Write, lines: &mpsc::Receiver<Line>) {
    let mut out = BufWriter::with_capacity(
        BATCH_BUFFER,
        LineStream {
            out,
            at_line_start: true,
        },
    );
    let mut batch = Vec::new();
    while let Ok(first) = lines.recv() {
        batch.push(first);
        batch.extend(lines.try_iter());
        // The buffer is empty here: written straight to the output.
        let mut result = out.get_mut().end_partial_line();
        for line in &batch {
            if result.is_err() {
                break;
            }
            result = line
                .source
                .record()
                .and_then(|record| record.write_line(&mut out));
        }
        let result = result.and_then(|()| out.flush());
        if result.is_err() {
            // Whatever the buffer holds belongs to lines reported as failed.
            out = BufWriter::with_capacity(BATCH_BUFFER, out.into_parts().0);
        }
        for line in batch.drain(..) {
            let answer = match &result {
                Ok(()) => Ok(()),
                Err(error) => Err(io::Error::new(error.kind(), error.to_string())),
            };
            let _ = line.written.send(answer);
        }
    }
}

impl fmt::Debug for JsonLines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLines").finish_non_exhaustive()
    }
}

impl Handler for JsonLines {
    fn handle(
        &self,
        delivery: StoredDelivery,
    ) -> impl Future<Output = Result<(), AttemptError>> + Send + 'static {
        let lines = self.clone();
        async move {
            lines
                .write_stored(delivery)
                .await
                .map_err(|error| match error.kind() {
                    // No retry decodes the row's payload.
                    io::ErrorKind::InvalidData => AttemptError::permanent(format!(
                        "the stored delivery cannot be read: {error}"
                    )),
                    _ => AttemptError::retry(format!("cannot write the line: {error}")),
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn delivery(guid: &str, body: &'static [u8]) -> octohook::VerifiedDelivery {
        crate::signed_delivery::signed("issues", guid, body)
    }

    /// The `delivery` of each line of `text`.
    fn guids(text: &str) -> Vec<String> {
        let guid = |line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            record["delivery"].as_str().unwrap().to_owned()
        };
        text.lines().map(guid).collect()
    }

    /// Writes the line of an `issues.created` delivery `guid`.
    async fn created(lines: &JsonLines, guid: &str) -> io::Result<()> {
        let delivery = delivery(guid, br#"{"action":"created"}"#);
        lines.write(&delivery, SystemTime::UNIX_EPOCH).await
    }

    /// Records what is written, and on which thread; fails while `broken`.
    #[derive(Clone, Default)]
    struct Recorder {
        bytes: Arc<Mutex<Vec<u8>>>,
        threads: Arc<Mutex<Vec<Option<String>>>>,
        broken: Arc<Mutex<bool>>,
    }

    impl Write for Recorder {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if *self.broken.lock().unwrap() {
                return Err(io::Error::other("disk on fire"));
            }
            let name = std::thread::current().name().map(str::to_owned);
            self.threads.lock().unwrap().push(name);
            self.bytes.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn any_writer_is_written_from_the_lines_thread_and_errors_fail_only_their_batch() {
        let out = Recorder::default();
        let lines = JsonLines::new(out.clone());
        lines
            .write(
                &delivery("a1", br#"{"action":"opened"}"#),
                SystemTime::UNIX_EPOCH,
            )
            .await
            .unwrap();
        assert!(
            out.threads
                .lock()
                .unwrap()
                .iter()
                .all(|name| name.as_deref() == Some("octohook-lines"))
        );

        // A payload that is not JSON is refused before it reaches the thread.
        let error = lines
            .write(&delivery("a2", b"{\"action\":"), SystemTime::UNIX_EPOCH)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);

        *out.broken.lock().unwrap() = true;
        let error = lines
            .write(&delivery("a3", br#"{"n":3}"#), SystemTime::UNIX_EPOCH)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("disk on fire"), "{error}");
        *out.broken.lock().unwrap() = false;
        lines
            .write(&delivery("a4", br#"{"n":4}"#), SystemTime::UNIX_EPOCH)
            .await
            .unwrap();

        let text = String::from_utf8(out.bytes.lock().unwrap().clone()).unwrap();
        let guids = guids(&text);
        assert_eq!(guids, ["a1", "a4"], "the failed line is not written late");
    }

    #[tokio::test]
    async fn concurrent_lines_are_each_written_whole() {
        let out = Recorder::default();
        let lines = JsonLines::new(out.clone());
        let writes: Vec<_> = (0..64)
            .map(|n| {
                let lines = lines.clone();
                tokio::spawn(async move {
                    let body: &'static [u8] = Box::leak(
                        format!(r#"{{"n":{n},"pad":"{}"}}"#, "x".repeat(n * 100))
                            .into_bytes()
                            .into_boxed_slice(),
                    );
                    lines
                        .write(&delivery(&format!("d{n}"), body), SystemTime::UNIX_EPOCH)
                        .await
                })
            })
            .collect();
        for write in writes {
            write.await.unwrap().unwrap();
        }
        let text = String::from_utf8(out.bytes.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 64);
        for line in text.lines() {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            let n = record["payload"]["n"].as_u64().unwrap() as usize;
            assert_eq!(record["payload"]["pad"].as_str().unwrap().len(), n * 100);
        }
    }

    /// Takes at most `room` more bytes, in short writes, then fails as a full
    /// disk does.
    #[derive(Clone)]
    struct Filling {
        bytes: Arc<Mutex<Vec<u8>>>,
        room: Arc<Mutex<usize>>,
    }

    impl Write for Filling {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut room = self.room.lock().unwrap();
            if *room == 0 {
                return Err(io::Error::from_raw_os_error(28)); // ENOSPC
            }
            let taken = bytes.len().min(*room).min(700);
            *room -= taken;
            self.bytes
                .lock()
                .unwrap()
                .extend_from_slice(&bytes[..taken]);
            Ok(taken)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_line_cut_by_a_failing_writer_is_ended_before_the_next_one() {
        let out = Filling {
            bytes: Arc::default(),
            room: Arc::new(Mutex::new(usize::MAX)),
        };
        let lines = JsonLines::new(out.clone());
        let body: &'static [u8] = Box::leak(
            format!(r#"{{"pad":"{}"}}"#, "x".repeat(3000))
                .into_bytes()
                .into_boxed_slice(),
        );
        let write = |guid: &'static str| {
            let lines = lines.clone();
            async move {
                lines
                    .write(&delivery(guid, body), SystemTime::UNIX_EPOCH)
                    .await
            }
        };
        write("whole-1").await.unwrap();
        let before = out.bytes.lock().unwrap().len();

        // The disk fills in the middle of a line: the write fails.
        *out.room.lock().unwrap() = 1000;
        write("cut").await.unwrap_err();
        assert_eq!(out.bytes.lock().unwrap().len(), before + 1000);
        // Still full: not even the newline fits, so nothing is written.
        *out.room.lock().unwrap() = 0;
        let error = write("refused").await.unwrap_err();
        assert!(
            error.to_string().contains("part of a failed line"),
            "{error}"
        );
        assert_eq!(out.bytes.lock().unwrap().len(), before + 1000);

        // Space again: the cut line is ended, and the next written whole.
        *out.room.lock().unwrap() = usize::MAX;
        write("whole-2").await.unwrap();
        let bytes = out.bytes.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(text.ends_with("}\n"));
        let guid = |line: &str| {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .map(|record| record["delivery"].as_str().unwrap().to_owned())
        };
        assert_eq!(guid(lines[0]).as_deref(), Some("whole-1"));
        assert_eq!(lines[1].len(), 1000);
        assert_eq!(guid(lines[1]), None, "the cut line is not JSON");
        assert_eq!(guid(lines[2]).as_deref(), Some("whole-2"));
    }

    /// A file in memory on a disk with `room` bytes left, whose cuts fail while
    /// `cuts_fail`.
    #[derive(Default)]
    struct Disk {
        bytes: Vec<u8>,
        room: usize,
        cuts_fail: bool,
    }

    impl Write for Disk {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::from_raw_os_error(28)); // ENOSPC
            }
            let taken = bytes.len().min(self.room);
            self.room -= taken;
            self.bytes.extend_from_slice(&bytes[..taken]);
            Ok(taken)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Cut for Disk {
        fn seek_end(&mut self) -> io::Result<u64> {
            Ok(self.bytes.len() as u64)
        }
        fn cut_back(&mut self, len: u64) -> io::Result<()> {
            if self.cuts_fail {
                return Err(io::Error::from_raw_os_error(5)); // EIO
            }
            let len = usize::try_from(len).unwrap();
            self.room += self.bytes.len() - len;
            self.bytes.truncate(len);
            Ok(())
        }
    }

    /// Opening ends a partial last line, once; a whole or empty file is left
    /// as it is.
    #[test]
    fn append_to_ends_a_partial_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        for (before, after) in [("", ""), ("{}\n", "{}\n"), ("{}\n{\"a", "{}\n{\"a\n")] {
            std::fs::write(&path, before).unwrap();
            for _ in 0..2 {
                drop(JsonLines::append_to(&path).unwrap());
                assert_eq!(std::fs::read_to_string(&path).unwrap(), after);
            }
        }
    }

    #[test]
    fn a_failed_line_is_cut_off_and_nothing_is_appended_until_it_is() {
        let mut file = AppendedFile {
            file: Disk {
                room: 10_000,
                ..Disk::default()
            },
            regular: true,
            cut_pending: None,
        };
        let append = |file: &mut AppendedFile<Disk>, guid: &str, body: &'static [u8]| {
            file.append(&DeliveryRecord::new(
                &delivery(guid, body),
                SystemTime::UNIX_EPOCH,
            ))
        };
        append(&mut file, "first", br#"{"action":"opened"}"#).unwrap();
        let whole = file.file.bytes.clone();

        // A full disk: the line is cut off again.
        file.file.room = 40;
        append(&mut file, "cut", br#"{"action":"closed"}"#).unwrap_err();
        assert_eq!(file.file.bytes, whole);

        // The cut fails too: the partial line stays, and nothing is appended to
        // it, even with room again, until the cut succeeds.
        file.file.room = 40;
        file.file.cuts_fail = true;
        append(&mut file, "cut", br#"{"action":"closed"}"#).unwrap_err();
        assert_eq!(file.file.bytes.len(), whole.len() + 40);
        file.file.room = 10_000;
        let error = append(&mut file, "refused", br#"{"n":1}"#).unwrap_err();
        assert!(
            error.to_string().contains("could not be cut off"),
            "{error}"
        );
        assert_eq!(file.file.bytes.len(), whole.len() + 40);

        file.file.cuts_fail = false;
        append(&mut file, "last", br#"{"n":2}"#).unwrap();
        let text = String::from_utf8(file.file.bytes.clone()).unwrap();
        let guids = guids(&text);
        assert_eq!(guids, ["first", "last"]);
        assert!(text.ends_with("}\n"));
    }

    /// A worker's line of a stored delivery is the receiver's line of the
    /// delivery it stored, byte for byte: hook id, target, action, a form body's
    /// decoded payload.
    #[tokio::test]
    async fn a_stored_delivery_writes_the_line_its_verified_delivery_writes() {
        let json: &[u8] = br#"{"action":"opened","n":1.10}"#;
        let form: &[u8] = b"payload=%7B%22action%22%3A%22closed%22%7D";
        for (content_type, body) in [
            ("application/json", json),
            ("application/x-www-form-urlencoded", form),
        ] {
            let delivery = crate::signed_delivery::signed_with(
                &[
                    ("x-github-event", "issues"),
                    ("x-github-delivery", "same-line"),
                    ("x-github-hook-id", "42"),
                    ("x-github-hook-installation-target-type", "repository"),
                    ("x-github-hook-installation-target-id", "7"),
                    ("content-type", content_type),
                ],
                body,
            );
            let received_at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_234);

            let inbox = crate::Inbox::in_memory();
            assert!(inbox.receive(delivery.clone()).await.is_committed());
            let key = crate::DeliveryKey::of(&delivery);
            let stored = inbox.store().get(&key).await.unwrap().unwrap();
            let stored = crate::StoredDelivery {
                received_at,
                ..stored
            };

            let mut verified_line = Vec::new();
            DeliveryRecord::new(&delivery, received_at)
                .write_line(&mut verified_line)
                .unwrap();
            let mut stored_line = Vec::new();
            stored
                .record()
                .unwrap()
                .write_line(&mut stored_line)
                .unwrap();
            assert_eq!(
                String::from_utf8(stored_line).unwrap(),
                String::from_utf8(verified_line.clone()).unwrap()
            );
            assert!(
                String::from_utf8(verified_line)
                    .unwrap()
                    .contains(r#""hook_id":42,"event":"issues","#)
            );

            // And through the handler, on the lines thread.
            let recorder = Recorder::default();
            let lines = JsonLines::new(recorder.clone());
            lines.write_stored(stored).await.unwrap();
            let mut expected = Vec::new();
            DeliveryRecord::new(&delivery, received_at)
                .write_line(&mut expected)
                .unwrap();
            assert_eq!(*recorder.bytes.lock().unwrap(), expected);
        }
    }

    #[tokio::test]
    async fn dev_null_takes_every_line() {
        let lines = JsonLines::append_to("/dev/null").unwrap();
        assert!(matches!(lines.output, Output::Direct(_)));
        for n in 0..3 {
            created(&lines, &format!("n{n}")).await.unwrap();
        }
    }

    #[cfg(unix)]
    #[test]
    fn only_regular_files_and_dev_null_are_written_directly() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("lines")).unwrap();
        assert!(matches!(file_that_never_blocks(&file), Some((_, true))));
        let null = std::fs::File::create("/dev/null").unwrap();
        assert!(matches!(file_that_never_blocks(&null), Some((_, false))));
        let (_reader, writer) = io::pipe().unwrap();
        assert!(
            file_that_never_blocks(&writer).is_none(),
            "a pipe may block"
        );
        assert!(matches!(
            JsonLines::append_to(dir.path().join("lines"))
                .unwrap()
                .output,
            Output::Direct(_)
        ));
    }

    #[tokio::test]
    async fn a_file_gets_one_line_per_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines");
        let lines = JsonLines::append_to(&path).unwrap();
        for n in 0..3 {
            created(&lines, &format!("f{n}")).await.unwrap();
            // On disk (in the kernel) before `write` returns.
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(text.lines().count(), n + 1);
        }
        let error = lines
            .write(&delivery("bad", b"[1]"), SystemTime::UNIX_EPOCH)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
    }
}
