//! [`VerifyWebhookLayer`]: the tower layer.

use std::time::Duration;

use octohook::{RejectionLog, Verifier};
use tower_layer::Layer;

use crate::VerifyWebhookService;

/// Verifies GitHub webhook deliveries before the inner service sees them.
///
/// For each `POST` request it checks the delivery headers and the announced
/// `Content-Length` (413 before reading anything when it is over the limit), reads
/// the body while feeding the HMAC and enforcing the limit (chunked bodies too),
/// and then calls the inner service with the verified
/// [`VerifiedDelivery`](octohook::VerifiedDelivery) as a request extension and the
/// body as a [`Full<Bytes>`](http_body_util::Full). Rejected requests never reach
/// the inner service: they get a short `text/plain` response with 400, 401, 408,
/// 413 or 415. Other methods pass through unverified and are the inner service's
/// business.
///
/// The payload's JSON is left to the code that reads it (see what a
/// [`VerifiedDelivery`](octohook::VerifiedDelivery#what-it-guarantees-about-the-payload)
/// guarantees), unless the verifier checks it with
/// [`PayloadCheck::OnVerify`](octohook::PayloadCheck::OnVerify).
///
/// ```
/// use axum::{Extension, Router, routing::post};
/// use octohook::{VerifiedDelivery, Verifier, WebhookSecret};
/// use octohook_tower::VerifyWebhookLayer;
///
/// async fn handle(Extension(delivery): Extension<VerifiedDelivery>) -> &'static str {
///     println!("{} {:?}", delivery.event_kind(), delivery.action());
///     "ok"
/// }
///
/// let verifier = Verifier::new(WebhookSecret::new("s3cret").unwrap());
/// let app: Router = Router::new()
///     .route("/webhook", post(handle))
///     .layer(VerifyWebhookLayer::new(verifier));
/// ```
///
/// # Slow clients
///
/// By default the layer waits for the body as long as the server lets it. Set a
/// [read timeout](Self::with_read_timeout) so that a client trickling its body
/// cannot hold a request (and its buffer) open. The layer only sees the body: the
/// time a client may take to send the request head is the server's business
/// (hyper's `header_read_timeout`; `axum::serve` sets none).
///
/// # Logs
///
/// Each rejection is logged (`WARN`) through a [`RejectionLog`]: its status and
/// reason, the delivery GUID only when valid, the event name cut and escaped,
/// at most 10 lines per second by default across the process, then one line
/// counting the rest. See [`with_rejection_log`](Self::with_rejection_log).
#[derive(Clone, Debug)]
pub struct VerifyWebhookLayer {
    verifier: Verifier,
    read_timeout: Option<Duration>,
    rejection_log: RejectionLog,
}

impl VerifyWebhookLayer {
    /// A layer verifying with `verifier` (its secrets, SHA-1 opt-in and body limit),
    /// without a read timeout, logging rejections to the process's shared
    /// [`RejectionLog`].
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier,
            read_timeout: None,
            rejection_log: RejectionLog::default(),
        }
    }

    /// Answers `408 Request Timeout` (and drops the body unread) when the whole
    /// body has not arrived within `timeout` of the layer starting to read it.
    ///
    /// There is no timeout by default: what suits depends on the server in front
    /// and on the largest deliveries expected. GitHub gives up on a delivery after
    /// 10 seconds, so a longer timeout gains nothing for GitHub's deliveries.
    /// The timeout needs a tokio runtime with its time driver, as hyper and axum
    /// servers have.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use std::time::Duration;
    ///
    /// use bytes::Bytes;
    /// use http::{Request, Response, StatusCode};
    /// use http_body_util::channel::Channel;
    /// use octohook::{Verifier, WebhookSecret, sign};
    /// use octohook_tower::VerifyWebhookLayer;
    /// use tower::{ServiceBuilder, ServiceExt, service_fn};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let secret = WebhookSecret::new("s3cret").unwrap();
    /// let layer = VerifyWebhookLayer::new(Verifier::new(secret.clone()))
    ///     .with_read_timeout(Duration::from_millis(50));
    /// let service = ServiceBuilder::new()
    ///     .layer(layer)
    ///     .service(service_fn(|_| async { Ok::<_, Infallible>(Response::new(String::new())) }));
    ///
    /// // The client sends the head and the start of the body, then nothing more.
    /// let (mut client, body) = Channel::<Bytes, Infallible>::new(1);
    /// client.send_data(Bytes::from_static(br#"{"zen":"#)).await.unwrap();
    /// let request = Request::post("/")
    ///     .header("x-github-event", "ping")
    ///     .header("x-github-delivery", "d1")
    ///     .header("content-type", "application/json")
    ///     .header("x-hub-signature-256", sign(&secret, br#"{"zen":"Half measures are as bad as nothing at all."}"#))
    ///     .body(body)
    ///     .unwrap();
    /// let response = service.oneshot(request).await.unwrap();
    /// assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    /// # });
    /// ```
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// The read timeout, if one is set.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.read_timeout
    }

    /// Logs rejections to `log` instead of the process's shared one (10 lines
    /// per second): one with a rate of its own, for instance.
    ///
    /// ```
    /// use octohook::{RejectionLog, Verifier, WebhookSecret};
    /// use octohook_tower::VerifyWebhookLayer;
    ///
    /// let verifier = Verifier::new(WebhookSecret::new("s3cret").unwrap());
    /// let layer = VerifyWebhookLayer::new(verifier).with_rejection_log(RejectionLog::per_second(2));
    /// assert_eq!(layer.rejection_log().lines_per_second(), 2);
    /// ```
    pub fn with_rejection_log(mut self, log: RejectionLog) -> Self {
        self.rejection_log = log;
        self
    }

    /// Where rejections are logged.
    pub fn rejection_log(&self) -> &RejectionLog {
        &self.rejection_log
    }

    /// The verifier (its secrets, SHA-1 opt-in and body limit).
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

impl<S> Layer<S> for VerifyWebhookLayer {
    type Service = VerifyWebhookService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VerifyWebhookService::new(inner, self.clone())
    }
}
