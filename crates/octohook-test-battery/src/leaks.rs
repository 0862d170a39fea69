//! What a receiver must never reveal, in its logs or its responses: the secret,
//! and the signature it expects for a body it was sent.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use octohook::{WebhookSecret, sign, sign_legacy_sha1};

use crate::SECRET;

/// The lower-case hex digests of the expected signatures of every body sent.
fn sent() -> &'static Mutex<HashSet<String>> {
    static SENT: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    SENT.get_or_init(Default::default)
}

/// Notes that `body` was sent to a receiver: from now on, its expected SHA-256
/// and SHA-1 signatures count as leaks.
pub(crate) fn record_sent(body: &[u8]) {
    let secret = WebhookSecret::new(SECRET).expect("non-empty");
    let sha256 = sign(&secret, body);
    let sha1 = sign_legacy_sha1(&secret, body);
    let mut sent = sent().lock().unwrap_or_else(PoisonError::into_inner);
    for value in [sha256, sha1] {
        if let Some((_, digest)) = value.split_once('=') {
            sent.insert(digest.to_owned());
        }
    }
}

/// The expected signatures (`sha256=…` and `sha1=…` hex digests) of every body
/// this process has sent through the battery so far.
pub fn sent_signatures() -> Vec<String> {
    let sent = sent().lock().unwrap_or_else(PoisonError::into_inner);
    sent.iter().cloned().collect()
}

/// Every secret-derived string found in `text`: the secret itself, its hex
/// encoding, or the expected signature digest of a body sent by the battery (in
/// either case). Empty when `text` leaks nothing.
pub fn find_leaks(text: &str) -> Vec<String> {
    let mut leaks = Vec::new();
    if text.contains(SECRET) {
        leaks.push("the secret".to_owned());
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains(&hex::encode(SECRET)) {
        leaks.push("the secret, hex-encoded".to_owned());
    }
    let sent = sent().lock().unwrap_or_else(PoisonError::into_inner);
    // Look up every 40- and 64-digit window of each run of hex digits, rather than
    // searching the text once per signature sent.
    for run in lower
        .split(|c: char| !c.is_ascii_hexdigit())
        .filter(|run| run.len() >= 40)
    {
        for width in [40, 64] {
            for start in 0..=run.len().saturating_sub(width) {
                let Some(window) = run.get(start..start + width) else {
                    continue;
                };
                if sent.contains(window) {
                    leaks.push(format!("the expected signature {window}"));
                }
            }
        }
    }
    leaks
}

/// A log buffer that a process-wide `tracing` subscriber at TRACE level writes to.
#[derive(Clone, Debug, Default)]
pub struct CapturedLogs {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl CapturedLogs {
    /// Installs (once per process) a global `tracing` subscriber that records every
    /// event, TRACE included, without colours, and returns its buffer.
    ///
    /// Every thread logs there, so servers running on their own threads (actix-web
    /// workers) are captured too.
    ///
    /// # Panics
    /// When another global subscriber was installed first.
    pub fn install() -> Self {
        static LOGS: OnceLock<CapturedLogs> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Self::default();
            let writer = logs.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber");
            logs
        })
        .clone()
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_secret_and_expected_signatures_in_any_case() {
        let body = b"{\"leak-test\":1}";
        record_sent(body);
        let secret = WebhookSecret::new(SECRET).unwrap();
        let expected = sign(&secret, body);
        let digest = expected.trim_start_matches("sha256=");
        let sha1 = sign_legacy_sha1(&secret, body);
        assert!(find_leaks("rejected: signature does not match").is_empty());
        assert_eq!(find_leaks(&format!("expected {expected}")).len(), 1);
        assert_eq!(find_leaks(&format!("x{}y", digest.to_uppercase())).len(), 1);
        assert_eq!(find_leaks(&format!("ab{digest}cd")).len(), 1);
        assert_eq!(find_leaks(&sha1).len(), 1);
        assert_eq!(find_leaks(&format!("key={SECRET}")).len(), 1);
        assert_eq!(find_leaks(&hex::encode(SECRET)).len(), 1);
        // Another body's signature is not a leak of this battery's secret.
        let other = sign(&WebhookSecret::new("other").unwrap(), body);
        assert!(find_leaks(&other).is_empty());
    }
}
