//! [`JsonLines`]: one JSON line per delivery, as `octohook serve --out` writes.

use std::fmt;
use std::fs::OpenOptions;
use std::future::Future;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use octohook::{DeliveryRecord, VerifiedDelivery};

use crate::{AttemptError, Handler, StoredDelivery};

/// Writes each delivery as one [`DeliveryRecord`] line (`received_at`,
/// `delivery`, `hook_id`, `event`, `action`, `target` and the payload byte for
/// byte) to standard output or a file.
///
/// As a worker's [`Handler`], it writes each stored delivery before the
/// delivery is marked done: at least once, so a delivery whose worker was killed
/// between the two is written again. A receiver without an inbox calls
/// [`write`](Self::write) before answering. Either way the writing happens on
/// tokio's blocking threads, one whole line at a time.
///
/// The line reaches the operating system before `write` returns, so it survives
/// the process being killed; it is not synced to disk (a power cut may lose it).
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
    out: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl JsonLines {
    /// Lines to `out`, flushed after each.
    pub fn new(out: impl Write + Send + 'static) -> Self {
        Self {
            out: Arc::new(Mutex::new(Box::new(out))),
        }
    }

    /// Lines to standard output.
    pub fn stdout() -> Self {
        Self::new(io::stdout())
    }

    /// Lines appended to the file at `path`, created when missing.
    pub fn append_to(path: impl AsRef<Path>) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self::new(file))
    }

    /// Writes the line of `delivery`, received at `received_at`, and flushes it.
    pub async fn write(
        &self,
        delivery: &VerifiedDelivery,
        received_at: SystemTime,
    ) -> io::Result<()> {
        let out = Arc::clone(&self.out);
        let delivery = delivery.clone(); // Shares the body's bytes.
        tokio::task::spawn_blocking(move || {
            let mut out = out.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            DeliveryRecord::new(&delivery, received_at).write_line(&mut *out)?;
            out.flush()
        })
        .await
        .map_err(io::Error::other)?
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
