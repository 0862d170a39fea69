//! The `--json` output of every command: one JSON document on standard output, an
//! object, or an array of objects for a listing, with snake_case field names.

use std::io::Write;

use serde_json::Value;

/// Writes `document` on one line of standard output. A closed pipe is no failure.
pub(crate) fn print(document: &Value) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{document}").and_then(|()| out.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => result,
    }
}
