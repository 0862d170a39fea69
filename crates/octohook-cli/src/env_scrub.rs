//! Takes the secret variables out of `octohook serve`'s environment before any
//! child process exists.
//!
//! Removing a variable from a child's environment is not enough: the child can
//! read its parent's *initial* environment in `/proc/$PPID/environ` (Linux), and
//! `std::env::remove_var` does not change that copy. So when a secret variable is
//! set, `serve` re-executes its own binary (`/proc/self/exe`, same arguments)
//! without those variables and hands their values to the new image on standard
//! input, through a socket pair written before the `exec` and drained at
//! start-up. The process id stays the same and no process holding the variables
//! remains.
//!
//! On other systems than Unix the variables stay in the environment (and are only
//! removed from the children's).

use std::ffi::OsString;
use std::io::{self, Read};
use std::sync::OnceLock;

/// Set in the re-executed process: its secret variables wait on standard input.
pub(crate) const MARKER: &str = "OCTOHOOK_SECRETS_ON_STDIN";

/// The most bytes passed on (names, values and a separator after each): far more
/// than any real secret or URL, so that a long secret works from the variable as
/// it does from `--secret-file`, and still within what one environment string may
/// hold on Linux (128 KiB).
///
/// Nothing reads the socket before the `exec`, so the bytes must fit in its
/// buffer at once: the write does not block, and fails ([`ScrubError::Full`])
/// where the system's buffer is smaller (Linux's holds about 200 KiB).
const MAX_FORWARDED: usize = 64 * 1024;

/// The variables handed over by the process that re-executed this one.
static FORWARDED: OnceLock<Vec<(OsString, OsString)>> = OnceLock::new();

/// Why the secret variables could not be taken out of the environment; names
/// variables, never their values.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScrubError {
    // Restarting happens on Unix only (elsewhere the variables stay).
    #[cfg(unix)]
    #[error("cannot create a socket pair for the secret variables: {0}")]
    Socket(io::Error),
    #[cfg(unix)]
    #[error(
        "the secret variables take {0} bytes, more than the {MAX_FORWARDED} that can be passed on; use --secret-file"
    )]
    TooLarge(usize),
    #[cfg(unix)]
    #[error(
        "the secret variables take {0} bytes, more than this system's socket buffer holds; use --secret-file"
    )]
    Full(usize),
    #[cfg(unix)]
    #[error("cannot restart without the secret variables in the environment: {0}")]
    Exec(io::Error),
    #[error("cannot read the secret variables passed on standard input: {0}")]
    Read(io::Error),
    #[error("the secret variables passed on standard input are malformed")]
    Malformed,
}

/// The value of the variable `name`: the one handed over by [`receive`] after a
/// restart, or else the environment's.
pub(crate) fn var_os(name: &str) -> Option<OsString> {
    match FORWARDED.get() {
        Some(forwarded) => forwarded
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone()),
        None => std::env::var_os(name),
    }
}

/// In a process started by [`reexec_without`] (it carries [`MARKER`]), reads the
/// variables handed over on standard input, until the end of the socket. Returns
/// whether it was such a process. Call it once, before reading any secret.
pub(crate) fn receive() -> Result<bool, ScrubError> {
    if std::env::var_os(MARKER).is_none_or(|value| value != "1") {
        return Ok(false);
    }
    let mut bytes = Vec::new();
    io::stdin()
        .lock()
        .take(MAX_FORWARDED as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(ScrubError::Read)?;
    if bytes.len() > MAX_FORWARDED {
        return Err(ScrubError::Malformed);
    }
    let forwarded = decode(&bytes).ok_or(ScrubError::Malformed)?;
    // A second call keeps the first value: the socket is drained by then anyway.
    let _ = FORWARDED.set(forwarded);
    Ok(true)
}

/// Replaces this process with a fresh run of its own binary, with the same
/// arguments and without the variables `names`, whose values it passes on through
/// standard input (read back by [`receive`]). Returns `Ok` without doing anything
/// when none of them is set; on success it does not return.
#[cfg(unix)]
pub(crate) fn reexec_without(names: &[&str]) -> Result<(), ScrubError> {
    use std::io::Write;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    let set: Vec<(OsString, OsString)> = names
        .iter()
        .filter_map(|name| std::env::var_os(name).map(|value| (OsString::from(name), value)))
        .collect();
    if set.is_empty() {
        return Ok(());
    }
    let bytes = encode(&set);
    if bytes.len() > MAX_FORWARDED {
        return Err(ScrubError::TooLarge(bytes.len()));
    }
    // A socket pair rather than a pipe: a pipe may hold a single page, and
    // std cannot make its end non-blocking.
    let (reader, mut writer) = UnixStream::pair().map_err(ScrubError::Socket)?;
    writer.set_nonblocking(true).map_err(ScrubError::Socket)?;
    writer
        .write_all(&bytes)
        .map_err(|error| match error.kind() {
            io::ErrorKind::WouldBlock => ScrubError::Full(bytes.len()),
            _ => ScrubError::Socket(error),
        })?;
    drop(writer);
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| OsString::from("octohook"));
    let program = if cfg!(target_os = "linux") {
        // The running binary even if its file was replaced or removed since.
        std::path::PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe().map_err(ScrubError::Exec)?
    };
    let mut command = Command::new(program);
    command
        .arg0(argv0)
        .args(args)
        .stdin(Stdio::from(OwnedFd::from(reader)))
        .env(MARKER, "1");
    for (name, _) in &set {
        command.env_remove(name);
    }
    Err(ScrubError::Exec(command.exec()))
}

/// Without Unix's `exec`, the variables stay in the environment.
#[cfg(not(unix))]
pub(crate) fn reexec_without(_names: &[&str]) -> Result<(), ScrubError> {
    Ok(())
}

/// `name NUL value NUL` for each variable (neither may contain NUL).
#[cfg(unix)]
fn encode(variables: &[(OsString, OsString)]) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let mut bytes = Vec::new();
    for (name, value) in variables {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(0);
    }
    bytes
}

/// The inverse of [`encode`]; `None` when the bytes are not whole pairs.
fn decode(bytes: &[u8]) -> Option<Vec<(OsString, OsString)>> {
    #[cfg(unix)]
    let text = |part: &[u8]| -> Option<OsString> {
        use std::os::unix::ffi::OsStrExt;
        Some(std::ffi::OsStr::from_bytes(part).to_owned())
    };
    #[cfg(not(unix))]
    let text =
        |part: &[u8]| -> Option<OsString> { std::str::from_utf8(part).ok().map(OsString::from) };
    let Some(body) = bytes.strip_suffix(&[0]) else {
        return bytes.is_empty().then(Vec::new);
    };
    let parts: Vec<&[u8]> = body.split(|b| *b == 0).collect();
    if !parts.len().is_multiple_of(2) {
        return None;
    }
    parts
        .chunks(2)
        .map(|pair| Some((text(pair[0])?, text(pair[1])?)))
        .collect()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn variables_round_trip_through_the_encoding() {
        let variables = vec![
            (
                OsString::from("GITHUB_WEBHOOK_SECRET"),
                OsString::from("s3cret = é"),
            ),
            (OsString::from("OCTOHOOK_DATABASE_URL"), OsString::from("")),
        ];
        assert_eq!(decode(&encode(&variables)).unwrap(), variables);
        assert_eq!(decode(b"").unwrap(), Vec::new());
        assert!(decode(b"NAME\0").is_none());
        assert!(decode(b"NAME\0value").is_none());
    }
}
