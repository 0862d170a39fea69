//! [`LogCapture`]: what the code under test logs, as text (tests only).

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::fmt::MakeWriter;

/// A `tracing` writer into a shared buffer; clones write into the same one.
#[derive(Clone, Default)]
pub(crate) struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Runs `log` under [`LogCapture::subscriber`]; what it wrote.
    pub(crate) fn run(log: impl FnOnce()) -> String {
        let capture = Self::default();
        tracing::subscriber::with_default(capture.subscriber(), log);
        capture.text()
    }

    /// A plain-text subscriber (no colours) writing here, as the receivers install.
    pub(crate) fn subscriber(&self) -> impl tracing::Subscriber + use<> {
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(self.clone())
            .finish()
    }

    /// A subscriber writing here each event as `message field=value ...` alone: no
    /// time, target or level.
    pub(crate) fn line_subscriber(&self) -> impl tracing::Subscriber + use<> {
        tracing_subscriber::fmt()
            .without_time()
            .with_target(false)
            .with_level(false)
            .with_ansi(false)
            .with_writer(self.clone())
            .finish()
    }

    /// What was written so far.
    ///
    /// # Panics
    /// When it is not UTF-8: log lines escape what they quote.
    pub(crate) fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8(bytes.clone()).expect("log output is UTF-8")
    }
}

impl Write for LogCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl MakeWriter<'_> for LogCapture {
    type Writer = Self;

    fn make_writer(&self) -> Self {
        self.clone()
    }
}
