//! [`LineWriter`]: the receiver without an inbox (`octohook serve --no-inbox`),
//! which writes each verified delivery as a JSON line before answering.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use http::StatusCode;
use octohook::metrics::DeliveryOutcome;
use octohook::{
    Answer, ClientBytes, LogRateLimit, ReceiveDelivery, ReceiveFuture, Rejection, VerifiedDelivery,
};
use octohook_inbox::handlers::JsonLines;

/// A [`ReceiveDelivery`] that writes each delivery as one JSON line (see
/// [`JsonLines`]) and answers 200 once the line is written, 400 to a payload
/// that is not a JSON object, and 503 (empty) when the line cannot be written:
/// nothing was kept, and GitHub may redeliver it.
///
/// Without a store there is no deduplication: a redelivery is written again.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::{Arc, Mutex};
/// # use bytes::Bytes;
/// # use http::HeaderMap;
/// use octohook::ReceiveDelivery;
/// # use octohook::{Verifier, WebhookSecret, sign};
/// use octohook_inbox::handlers::JsonLines;
/// use octohook_server::LineWriter;
///
/// #[derive(Clone, Default)]
/// struct Buffer(Arc<Mutex<Vec<u8>>>);
/// impl std::io::Write for Buffer {
///     fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
///         self.0.lock().unwrap().write(bytes)
///     }
///     fn flush(&mut self) -> std::io::Result<()> {
///         Ok(())
///     }
/// }
///
/// # let secret = WebhookSecret::new("s3cret").unwrap();
/// # let body = Bytes::from_static(br#"{"zen":"Design for failure."}"#);
/// # let mut headers = HeaderMap::new();
/// # headers.insert("x-github-event", "ping".parse().unwrap());
/// # headers.insert("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap());
/// # headers.insert("content-type", "application/json".parse().unwrap());
/// # headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
/// # let delivery = Verifier::new(secret).verify(&headers, body).unwrap();
/// let out = Buffer::default();
/// let writer = LineWriter::new(JsonLines::new(out.clone()));
/// let answer = writer.receive(delivery).await;
/// assert_eq!(answer.status(), 200);
/// let written = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
/// assert!(written.contains(r#""event":"ping""#), "{written}");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct LineWriter {
    lines: JsonLines,
    secret_sources: Arc<[String]>,
}

impl LineWriter {
    /// Writes the lines to `lines`.
    pub fn new(lines: JsonLines) -> Self {
        Self {
            lines,
            secret_sources: Arc::from([]),
        }
    }

    /// Names the verifier's secrets, in its order (`GITHUB_WEBHOOK_SECRET`, a
    /// file's path): the "accepted delivery" log line says which one a delivery
    /// was signed with (`?` when not named). Never the secrets themselves.
    pub fn with_secret_sources(mut self, sources: impl IntoIterator<Item = String>) -> Self {
        self.secret_sources = sources.into_iter().collect();
        self
    }

    async fn write(&self, delivery: VerifiedDelivery) -> Answer {
        // The one pass over the payload: the line embeds it as it is.
        if let Err(error) = delivery.check_payload() {
            let rejection = Rejection::from(error);
            // Signed, but GitHub sends none of these: a few lines per second,
            // and the error (which may quote the payload) cut.
            if refusals().admit(rejection.reason()) {
                let text = rejection.to_string();
                tracing::warn!(
                    error = %ClientBytes::new(text.as_bytes()).quoted().with_limit(200),
                    delivery = %delivery.guid(),
                    "refused a payload that is not a JSON object"
                );
            }
            octohook::metrics::record_rejection(
                &rejection,
                Some(delivery.event_kind().as_str().as_bytes()),
            );
            return Answer::from(&rejection);
        }
        let source = self
            .secret_sources
            .get(delivery.secret_index().0)
            .map_or("?", String::as_str);
        tracing::info!(
            event = %delivery.event_kind(),
            action = %ClientBytes::new(delivery.action().unwrap_or("-").as_bytes()),
            delivery = %delivery.guid(),
            hook_id = delivery.hook_id().map(|id| id.get()),
            secret = source,
            "accepted delivery"
        );
        match self.lines.write(&delivery, SystemTime::now()).await {
            Ok(()) => {
                octohook::metrics::record_delivery(
                    delivery.event_kind(),
                    DeliveryOutcome::Accepted,
                );
                Answer::ok()
            }
            Err(error) => {
                // Nothing was committed: GitHub may redeliver it.
                tracing::error!(%error, delivery = %delivery.guid(), "cannot write the delivery");
                Answer::new(StatusCode::SERVICE_UNAVAILABLE, "")
            }
        }
    }
}

impl ReceiveDelivery for LineWriter {
    fn receive(&self, delivery: VerifiedDelivery) -> ReceiveFuture<'_> {
        Box::pin(self.write(delivery))
    }
}

/// The rate limit of the "refused a payload" lines.
fn refusals() -> &'static LogRateLimit {
    static LIMIT: OnceLock<LogRateLimit> = OnceLock::new();
    LIMIT.get_or_init(|| {
        LogRateLimit::per_second("refused payload", LogRateLimit::DEFAULT_LINES_PER_SECOND)
    })
}
