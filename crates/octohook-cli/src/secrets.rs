//! Where the receiver's secrets come from: an environment variable and files.

use std::path::{Path, PathBuf};

use octohook::{Verifier, WebhookSecret};

/// A failure to load a secret; names the source, never the value.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SecretError {
    #[error("environment variable {0} is not set (or not UTF-8)")]
    EnvMissing(String),
    #[error("environment variable {0} is empty")]
    EnvEmpty(String),
    #[error("cannot read secret file {}: {source}", path.display())]
    FileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("secret file {} is empty", .0.display())]
    FileEmpty(PathBuf),
    #[error("no secret configured: set {0} or pass --secret-file")]
    NoneConfigured(String),
}

/// Reads a secret from an environment variable (or, in `serve` after its
/// restart, from the value the variable had before it was removed).
pub(crate) fn from_env(name: &str) -> Result<WebhookSecret, SecretError> {
    let value = crate::env_scrub::var_os(name)
        .and_then(|value| value.into_string().ok())
        .ok_or_else(|| SecretError::EnvMissing(name.to_owned()))?;
    warn_if_padded(&format!("environment variable {name}"), value.as_bytes());
    WebhookSecret::new(value).map_err(|_| SecretError::EnvEmpty(name.to_owned()))
}

/// Reads a secret from a file; one trailing newline (as editors add) is dropped,
/// and a warning logged when white space remains at the end.
pub(crate) fn from_file(path: &Path) -> Result<WebhookSecret, SecretError> {
    let mut bytes = std::fs::read(path).map_err(|source| SecretError::FileUnreadable {
        path: path.to_owned(),
        source,
    })?;
    if bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }
    warn_if_padded(&format!("secret file {}", path.display()), &bytes);
    WebhookSecret::new(bytes).map_err(|_| SecretError::FileEmpty(path.to_owned()))
}

/// Warns, through the log on standard error, when a secret ends in white space.
///
/// GitHub signs with the secret exactly as it was typed in the hook's settings,
/// so a newline that `echo`, a here-string or a second editor line added makes
/// every signature differ and every delivery answer 401. The secret is still
/// used as is: one that really ends in a space must keep working. The warning
/// names the source and the kind of white space, never the secret.
fn warn_if_padded(source: &str, secret: &[u8]) {
    let ending = if secret.ends_with(b"\r\n") {
        "a line break (\\r\\n)"
    } else if secret.ends_with(b"\n") {
        "a line break (\\n)"
    } else if secret.last().is_some_and(u8::is_ascii_whitespace) {
        "white space"
    } else {
        return;
    };
    tracing::warn!(
        "the secret in {source} ends in {ending}; it is used as is, but GitHub signs with \
         the secret as typed in the hook's settings: unless it was typed with it, remove it \
         (deliveries would be answered 401)"
    );
}

/// The receiver's secrets in order: the environment variable's (when set), then
/// each file's. Returns the names of the sources alongside, for logging which one
/// verified a delivery.
pub(crate) fn load(
    env: &str,
    files: &[PathBuf],
) -> Result<(Vec<WebhookSecret>, Vec<String>), SecretError> {
    let mut secrets = Vec::new();
    let mut sources = Vec::new();
    match from_env(env) {
        Ok(secret) => {
            secrets.push(secret);
            sources.push(format!("env {env}"));
        }
        Err(SecretError::EnvMissing(_)) if !files.is_empty() => {}
        Err(SecretError::EnvMissing(_)) => return Err(SecretError::NoneConfigured(env.to_owned())),
        Err(other) => return Err(other),
    }
    for path in files {
        secrets.push(from_file(path)?);
        sources.push(format!("file {}", path.display()));
    }
    Ok((secrets, sources))
}

/// A verifier over all `secrets`, in order.
pub(crate) fn verifier(secrets: Vec<WebhookSecret>) -> Option<Verifier> {
    let mut secrets = secrets.into_iter();
    let first = Verifier::new(secrets.next()?);
    Some(secrets.fold(first, Verifier::with_secret))
}
