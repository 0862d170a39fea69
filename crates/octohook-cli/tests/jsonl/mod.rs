//! The JSON Lines files `octohook serve` and `octohook pull` write with `--out`.

use std::path::Path;

use serde_json::Value;

/// Every line of the JSON Lines file at `path`, parsed; none when there is no
/// file yet.
pub(crate) fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}
