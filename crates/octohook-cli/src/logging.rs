//! The log output of every command: human-readable text, or one JSON object per
//! line (`--log-format json`) for log collectors. Logs go to standard error;
//! `OCTOHOOK_LOG` filters them (`info` by default, e.g. `octohook=debug`).

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

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

/// Installs the process's subscriber: `format`, filtered by `OCTOHOOK_LOG`.
pub(crate) fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("OCTOHOOK_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .init(),
    }
}
