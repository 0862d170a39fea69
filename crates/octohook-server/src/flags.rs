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

/// Parses `--publish`: a [`PublishTarget`](octohook_broker::PublishTarget).
/// Its errors never repeat the value, which may hold a password (clap's own
/// "invalid value" message would).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PublishTargetParser;

impl TypedValueParser for PublishTargetParser {
    type Value = octohook_broker::PublishTarget;

    fn parse_ref(
        &self,
        command: &clap::Command,
        argument: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let flag = argument.map_or_else(|| "--publish".to_owned(), ToString::to_string);
        let refuse = |why: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value for '{flag}': {why}\n"),
            )
            .with_cmd(command)
        };
        let text = value
            .to_str()
            .ok_or_else(|| refuse("not UTF-8".to_owned()))?;
        octohook_broker::PublishTarget::parse(text).map_err(|error| refuse(error.to_string()))
    }
}
