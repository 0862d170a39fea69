//! Parsers of flag values that clap has none for (feature `clap`).

use std::time::Duration;

use clap::builder::TypedValueParser;

/// Parses `--read-timeout`: a humantime duration (`10s`, `1m`), not zero.
pub(crate) fn read_timeout(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("the read timeout must not be zero".into()),
        Ok(duration) => Ok(duration),
        Err(error) => Err(error.to_string()),
    }
}

/// Parses `--max-connections`: at least 1, and within a `u32` (clap's own
/// range messages).
pub(crate) fn max_connections() -> impl TypedValueParser<Value = usize> {
    clap::value_parser!(u32)
        .range(1..)
        .map(|max| usize::try_from(max).unwrap_or(usize::MAX))
}
