//! [`JsonLines`]: one JSON line per delivery, as `octohook serve --out` writes.

use std::fmt;
use std::fs::OpenOptions;
use std::future::Future;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::SystemTime;

use octohook::{DeliveryRecord, VerifiedDelivery};
use tokio::sync::oneshot;

use crate::{AttemptError, Handler, StoredDelivery};

/// Writes each delivery as one [`DeliveryRecord`] line (`received_at`,
/// `delivery`, `hook_id`, `event`, `action`, `target` and the payload byte for
/// byte) to standard output or a file.
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
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::{Arc, Mutex};
/// use octohook::VerifiedDelivery;
/// use octohook_inbox::handlers::JsonLines;
///
/// # let mut headers = http::HeaderMap::new();
/// # headers.insert("x-github-event", "ping".parse().unwrap());
/// # headers.insert("x-github-delivery", "a1".parse().unwrap());
/// # headers.insert("content-type", "application/json".parse().unwrap());
/// # let delivery = VerifiedDelivery::restore(&headers, bytes::Bytes::from_static(b"{\"zen\":\"Keep it logically awesome.\"}")).unwrap();
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
    Direct(Arc<Mutex<BufWriter<Box<dyn Write + Send>>>>),
    /// Written by the lines thread.
    Thread(mpsc::Sender<Line>),
}

/// A line to write, and who waits for it to reach the operating system.
struct Line {
    delivery: VerifiedDelivery,
    received_at: SystemTime,
    written: oneshot::Sender<io::Result<()>>,
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
        let stdout = io::stdout();
        if never_blocks(&stdout) {
            Self::direct(stdout)
        } else {
            Self::new(stdout)
        }
    }

    /// Lines appended to the file at `path`, created when missing (written
    /// directly when it is a regular file or `/dev/null`, by a thread otherwise:
    /// a named pipe, a terminal).
    pub fn append_to(path: impl AsRef<Path>) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(if never_blocks(&file) {
            Self::direct(file)
        } else {
            Self::new(file)
        })
    }

    fn direct(out: impl Write + Send + 'static) -> Self {
        let out: Box<dyn Write + Send> = Box::new(out);
        Self {
            output: Output::Direct(Arc::new(Mutex::new(BufWriter::with_capacity(
                BATCH_BUFFER,
                out,
            )))),
        }
    }

    /// Writes the line of `delivery`, received at `received_at`, and flushes it.
    ///
    /// A payload that is not a JSON object fails with
    /// [`io::ErrorKind::InvalidData`] (see [`DeliveryRecord::write_line`]), and
    /// nothing is written.
    pub async fn write(
        &self,
        delivery: &VerifiedDelivery,
        received_at: SystemTime,
    ) -> io::Result<()> {
        // Checked here, so that one bad payload never fails a whole batch.
        delivery
            .check_payload()
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        match &self.output {
            Output::Direct(out) => {
                let mut out = out.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let written = DeliveryRecord::new(delivery, received_at)
                    .write_line(&mut *out)
                    .and_then(|()| out.flush());
                if written.is_err() {
                    // What the buffer holds belongs to this failed line.
                    discard_buffer(&mut out);
                }
                written
            }
            Output::Thread(queue) => {
                let (written, done) = oneshot::channel();
                let line = Line {
                    delivery: delivery.clone(), // Shares the body's bytes.
                    received_at,
                    written,
                };
                queue.send(line).map_err(|_| stopped())?;
                done.await.map_err(|_| stopped())?
            }
        }
    }
}

/// Whether writes to `out` return as soon as the kernel has the bytes: a regular
/// file, or `/dev/null`.
#[cfg(unix)]
fn never_blocks(out: &impl std::os::fd::AsFd) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    let Ok(metadata) = out
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|file| file.metadata())
    else {
        return false;
    };
    metadata.file_type().is_file()
        || (metadata.file_type().is_char_device()
            && std::fs::metadata("/dev/null").is_ok_and(|null| null.rdev() == metadata.rdev()))
}

/// Off Unix, every output is written by the thread.
#[cfg(not(unix))]
fn never_blocks<T>(_: &T) -> bool {
    false
}

/// Drops what a failed write left in `out`'s buffer.
fn discard_buffer(out: &mut BufWriter<Box<dyn Write + Send>>) {
    let taken = std::mem::replace(out, BufWriter::new(Box::new(io::sink())));
    *out = BufWriter::with_capacity(BATCH_BUFFER, taken.into_parts().0);
}

fn stopped() -> io::Error {
    io::Error::other("the JSON lines thread stopped")
}

/// The writing thread: each batch is every line queued by the time the previous
/// flush ended, written through one buffer and flushed once, then acknowledged.
/// On an error the whole batch fails (some of it may have been written: lines
/// are at least once).
fn write_batches(out: impl Write, lines: &mpsc::Receiver<Line>) {
    let mut out = BufWriter::with_capacity(BATCH_BUFFER, out);
    let mut batch = Vec::new();
    while let Ok(first) = lines.recv() {
        batch.push(first);
        batch.extend(lines.try_iter());
        let mut result = Ok(());
        for line in &batch {
            result = DeliveryRecord::new(&line.delivery, line.received_at).write_line(&mut out);
            if result.is_err() {
                break;
            }
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
            let verified = delivery.verified().map_err(|error| {
                AttemptError::permanent(format!("the stored delivery cannot be read: {error}"))
            })?;
            lines
                .write(&verified, delivery.received_at)
                .await
                .map_err(|error| AttemptError::retry(format!("cannot write the line: {error}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;

    use super::*;

    fn delivery(guid: &str, body: &'static [u8]) -> VerifiedDelivery {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-github-event", "issues".parse().unwrap());
        headers.insert("x-github-delivery", guid.parse().unwrap());
        headers.insert("content-type", "application/json".parse().unwrap());
        VerifiedDelivery::restore(&headers, Bytes::from_static(body)).unwrap()
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
        let guids: Vec<String> = text
            .lines()
            .map(|line| {
                let record: serde_json::Value = serde_json::from_str(line).unwrap();
                record["delivery"].as_str().unwrap().to_owned()
            })
            .collect();
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

    #[cfg(unix)]
    #[test]
    fn only_regular_files_and_dev_null_are_written_directly() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("lines")).unwrap();
        assert!(never_blocks(&file));
        assert!(never_blocks(&std::fs::File::create("/dev/null").unwrap()));
        let (_reader, writer) = io::pipe().unwrap();
        assert!(!never_blocks(&writer), "a pipe may block");
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
            lines
                .write(
                    &delivery(&format!("f{n}"), br#"{"action":"created"}"#),
                    SystemTime::UNIX_EPOCH,
                )
                .await
                .unwrap();
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
