//! The log output of every command: human-readable text, or one JSON object per
//! line (`--log-format json`) for log collectors. Logs go to standard error;
//! `OCTOHOOK_LOG` filters them (`info` by default, e.g. `octohook=debug`). In
//! JSON, everything a command writes on standard error is a JSON line, the
//! error it exits with too.
//!
//! Both formats write client text (a payload's `action`, a header) escaped:
//! control characters by the formats themselves (serde_json in JSON, Rust's
//! `Debug` in text), and bidirectional formatting characters, which neither
//! escapes and which reorder a line on a terminal, by the writer of every log
//! line ([`terminal_text::bidi_escaped`]): in JSON as `\u202e`, the JSON escape
//! of the same character, so that every line decodes to what was logged.
//!
//! `octohook serve` also exports its spans over OTLP when the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) variable says where
//! (see [`octohook_server::telemetry`]); the `receive` and `store` spans,
//! made for traces, stay out of the log lines.

use std::fmt::Display;
use std::io::{self, IsTerminal, Write};
use std::time::SystemTime;

use clap::ValueEnum;
use octohook_server::Telemetry;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::redacted_url::without_given_credentials;
use crate::terminal_text;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Text for people, coloured on a terminal.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields` (with
    /// `message`) and `spans`, the open spans with their fields (a delivery's
    /// `delivery` GUID, `event` and `hook_id`).
    Json,
}

/// Installs the process's subscriber: log lines in `format`, filtered by
/// `OCTOHOOK_LOG`, and, with `telemetry`, its layer exporting the pipeline's
/// spans (whatever the log filter).
pub(crate) fn init(format: LogFormat, telemetry: Option<&Telemetry>) {
    let filter = EnvFilter::try_from_env("OCTOHOOK_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .and(filter_fn(|metadata| !is_trace_only_span(metadata)));
    let registry = tracing_subscriber::registry().with(telemetry.map(Telemetry::layer));
    let lines = tracing_subscriber::fmt::layer().with_writer(|| BidiEscaped(io::stderr()));
    match format {
        LogFormat::Text => registry
            .with(
                lines
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_filter(filter),
            )
            .init(),
        LogFormat::Json => registry
            .with(
                lines
                    .json()
                    .with_current_span(false)
                    .with_span_list(true)
                    .with_filter(filter),
            )
            .init(),
    }
}

/// The spans made for traces alone: they would repeat the `delivery` span's
/// fields on every line.
fn is_trace_only_span(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.is_span()
        && metadata.target().starts_with("octohook")
        && matches!(metadata.name(), "receive" | "store")
}

/// Writes the error a command exits with on standard error: `octohook: ERROR`
/// in text, or a JSON line shaped like the log's (`timestamp`, `level`,
/// `fields.message`, `target`), written directly so that no log filter can
/// hide it and it works before the subscriber is installed.
///
/// Credentials given on the command line or in the environment are redacted
/// from it (see [`without_given_credentials`]).
pub(crate) fn report_failure(format: LogFormat, error: &dyn Display) {
    let error = without_given_credentials(&error.to_string());
    let line = failure_line(format, &error, SystemTime::now());
    // Nowhere left to report a failure to write to standard error.
    let _ = BidiEscaped(io::stderr().lock()).write_all(line.as_bytes());
}

/// A writer of log lines with their bidirectional formatting characters
/// escaped (see the module). The formatter writes each line whole, so a
/// character is never split across writes; bytes that are not UTF-8 pass as
/// they are.
struct BidiEscaped<W>(W);

impl<W: Write> Write for BidiEscaped<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                self.0
                    .write_all(terminal_text::bidi_escaped(text).as_bytes())?;
                Ok(bytes.len())
            }
            Err(_) => self.0.write(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

fn failure_line(format: LogFormat, error: &dyn Display, now: SystemTime) -> String {
    match format {
        LogFormat::Text => format!("octohook: {error}\n"),
        LogFormat::Json => {
            let line = serde_json::json!({
                "timestamp": humantime::format_rfc3339_micros(now).to_string(),
                "level": "ERROR",
                "fields": { "message": error.to_string() },
                "target": "octohook",
            });
            format!("{line}\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn failures_are_one_line_in_either_format() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let error = "cannot open \"out\":\nno such file";
        assert_eq!(
            failure_line(LogFormat::Text, &error, now),
            "octohook: cannot open \"out\":\nno such file\n"
        );
        let json = failure_line(LogFormat::Json, &error, now);
        assert_eq!(json.lines().count(), 1, "{json}");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["level"], "ERROR");
        assert_eq!(value["fields"]["message"], error);
        assert_eq!(value["timestamp"], "2027-01-15T08:00:00.000000Z");
    }

    #[test]
    fn log_lines_are_written_with_bidi_controls_escaped() {
        let line = format!(
            "{}\n",
            serde_json::json!({ "fields": { "action": "\u{202e}denepo" } })
        );
        let mut written = BidiEscaped(Vec::new());
        written.write_all(line.as_bytes()).unwrap();
        let written = String::from_utf8(written.0).unwrap();
        assert_eq!(written, "{\"fields\":{\"action\":\"\\u202edenepo\"}}\n");
    }
}
