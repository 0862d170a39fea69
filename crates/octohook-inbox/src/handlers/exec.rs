//! [`Exec`]: a command run once per delivery (`octohook serve --exec`).

use std::ffi::OsString;
use std::future::Future;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{AttemptError, Handler, StoredDelivery};

/// The most bytes of a failed command's standard error kept as its `last_error`.
const STDERR_TAIL: usize = 500;

/// Runs a shell command (`sh -c`) once per delivery, with the JSON payload on its
/// standard input and these variables set:
///
/// | variable | value |
/// | --- | --- |
/// | `OCTOHOOK_EVENT` | `X-GitHub-Event` |
/// | `OCTOHOOK_ACTION` | the payload's `action`, or empty |
/// | `OCTOHOOK_DELIVERY` | `X-GitHub-Delivery` |
/// | `OCTOHOOK_HOOK_ID` | `X-GitHub-Hook-ID`, or empty |
/// | `OCTOHOOK_IDEMPOTENCY_KEY` | `HOOK:GUID` (`-:GUID` without a hook id) |
/// | `OCTOHOOK_ATTEMPT` | the attempt number, from 1 |
///
/// Exit status 0 marks the delivery done; anything else, or running longer than
/// the [timeout](Self::timeout) (the command is then killed), fails the attempt,
/// which is retried, with the end of its standard error as the delivery's
/// `last_error`. Its standard output goes to this process's standard error, so
/// that it never mixes with JSON lines on standard output. Variables named with
/// [`env_remove`](Self::env_remove) (a secret's, a database URL's) are not passed
/// on.
///
/// ```no_run
/// use std::time::Duration;
/// use octohook_inbox::handlers::Exec;
///
/// let exec = Exec::shell("jq .action >> actions.log")
///     .timeout(Duration::from_secs(10))
///     .env_remove("GITHUB_WEBHOOK_SECRET");
/// ```
#[derive(Clone, Debug)]
pub struct Exec {
    inner: Arc<ExecConfig>,
}

#[derive(Clone, Debug)]
struct ExecConfig {
    command: String,
    timeout: Duration,
    env_remove: Vec<OsString>,
}

impl Exec {
    /// Runs `command` through `sh -c`, with a 60 s timeout.
    pub fn shell(command: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(ExecConfig {
                command: command.into(),
                timeout: Duration::from_secs(60),
                env_remove: Vec::new(),
            }),
        }
    }

    /// How long the command may run before it is killed and the attempt failed.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.inner).timeout = timeout;
        self
    }

    /// Leaves the variable `name` out of the command's environment.
    pub fn env_remove(mut self, name: impl Into<OsString>) -> Self {
        Arc::make_mut(&mut self.inner).env_remove.push(name.into());
        self
    }
}

impl Handler for Exec {
    fn handle(
        &self,
        delivery: StoredDelivery,
    ) -> impl Future<Output = Result<(), AttemptError>> + Send + 'static {
        let config = Arc::clone(&self.inner);
        async move { config.run(&delivery).await }
    }
}

impl ExecConfig {
    async fn run(&self, delivery: &StoredDelivery) -> Result<(), AttemptError> {
        let payload = delivery.payload().map_err(|error| {
            AttemptError::permanent(format!("the stored body holds no JSON payload: {error}"))
        })?;
        let mut command = tokio::process::Command::new("sh");
        command.arg("-c").arg(&self.command);
        for name in &self.env_remove {
            command.env_remove(name);
        }
        command
            .env("OCTOHOOK_EVENT", delivery.event.as_str())
            .env("OCTOHOOK_ACTION", delivery.action.as_deref().unwrap_or(""))
            .env("OCTOHOOK_DELIVERY", delivery.key.guid.as_str())
            .env(
                "OCTOHOOK_HOOK_ID",
                delivery
                    .key
                    .hook_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
            )
            .env("OCTOHOOK_IDEMPOTENCY_KEY", delivery.key.to_string())
            .env("OCTOHOOK_ATTEMPT", delivery.attempt().to_string())
            .stdin(Stdio::piped())
            .stdout(child_stdout())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|error| AttemptError::retry(format!("cannot run the command: {error}")))?;
        let stdin = child.stdin.take();
        let stderr = child.stderr.take();
        let feed = async {
            if let Some(mut stdin) = stdin {
                // A command that does not read its input closes the pipe early:
                // not an error of the delivery.
                let _ = stdin.write_all(&payload).await;
            }
        };
        let collect = async {
            match stderr {
                Some(stderr) => read_tail(stderr).await,
                None => Vec::new(),
            }
        };
        let finished = tokio::time::timeout(self.timeout, async {
            let ((), tail, status) = tokio::join!(feed, collect, child.wait());
            (tail, status)
        })
        .await;
        let Ok((tail, status)) = finished else {
            let _ = child.start_kill();
            return Err(AttemptError::retry(format!(
                "the command timed out after {}",
                humantime::format_duration(self.timeout)
            )));
        };
        let status = status.map_err(|error| {
            AttemptError::retry(format!("cannot wait for the command: {error}"))
        })?;
        if status.success() {
            return Ok(());
        }
        let tail = String::from_utf8_lossy(&tail);
        let tail = tail.trim();
        Err(AttemptError::retry(if tail.is_empty() {
            format!("the command {status}")
        } else {
            format!("the command {status}: {tail}")
        }))
    }
}

/// This process's standard error, for the command's standard output.
#[cfg(unix)]
fn child_stdout() -> Stdio {
    use std::os::fd::AsFd;
    match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    }
}

/// This process's standard error, for the command's standard output.
#[cfg(windows)]
fn child_stdout() -> Stdio {
    use std::os::windows::io::AsHandle;
    match std::io::stderr().as_handle().try_clone_to_owned() {
        Ok(handle) => Stdio::from(handle),
        Err(_) => Stdio::null(),
    }
}

/// Reads `reader` to its end, keeping the last [`STDERR_TAIL`] bytes (cut at a
/// character boundary by the lossy decoding later).
async fn read_tail(mut reader: impl tokio::io::AsyncRead + Unpin) -> Vec<u8> {
    let mut tail = Vec::with_capacity(STDERR_TAIL * 2);
    let mut chunk = [0_u8; 4096];
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                tail.extend_from_slice(&chunk[..read]);
                if tail.len() > STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
        }
    }
    tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_stderr_tail_keeps_the_last_bytes() {
        let text: Vec<u8> = (0..2000).map(|i| b'a' + (i % 26) as u8).collect();
        let tail = read_tail(&text[..]).await;
        assert_eq!(tail.len(), STDERR_TAIL);
        assert_eq!(&tail[..], &text[text.len() - STDERR_TAIL..]);
    }
}
