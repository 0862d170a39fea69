//! [`WebhookConfig`]: how extractors (and the middleware) verify deliveries.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, web};
use octohook::{DEFAULT_BODY_LIMIT, PayloadCheck, RejectionLog, Verifier, WebhookSecret};

use crate::Rejection;

type ErrorHandler = Arc<dyn Fn(Rejection, &HttpRequest) -> actix_web::Error + Send + Sync>;

/// Webhook verification settings: the secrets, the body limit, the body read
/// timeout, the legacy SHA-1 opt-in and an error handler.
///
/// Register it with [`App::app_data`](actix_web::App::app_data) (directly or in a
/// [`web::Data`]) for the [extractors](crate::extract) to verify deliveries
/// themselves, or give it to [`VerifyWebhook`](crate::VerifyWebhook). Without one,
/// the extractors use [`WebhookConfig::DEFAULT`], which has no secret: a delivery
/// that no middleware verified is then rejected with 500.
///
/// ```
/// use actix_web::{App, HttpResponse, error, test, web};
/// use octohook::{WebhookSecret, sign};
/// use octohook_actix::{WebhookConfig, extract::Webhook};
///
/// async fn handle(Webhook(delivery): Webhook) -> String {
///     delivery.guid().to_string()
/// }
///
/// # actix_web::rt::System::new().block_on(async {
/// let secret = WebhookSecret::new("s3cret").unwrap();
/// let config = WebhookConfig::new()
///     .secret(secret.clone())
///     .limit(64 * 1024)
///     .error_handler(|rejection, _request| {
///         // Answer 404 instead of telling scanners what is wrong.
///         error::InternalError::from_response(rejection, HttpResponse::NotFound().finish()).into()
///     });
/// let app = test::init_service(
///     App::new().app_data(config).route("/", web::post().to(handle)),
/// )
/// .await;
///
/// let body = r#"{"zen":"Design for failure."}"#;
/// let request = test::TestRequest::post()
///     .insert_header(("x-github-event", "ping"))
///     .insert_header(("x-github-delivery", "d1"))
///     .insert_header(("content-type", "application/json"))
///     .insert_header(("x-hub-signature-256", sign(&secret, body.as_bytes())))
///     .set_payload(body);
/// let response = test::call_service(&app, request.to_request()).await;
/// assert_eq!(response.status(), 200);
///
/// let unsigned = test::TestRequest::post()
///     .insert_header(("x-github-event", "ping"))
///     .insert_header(("x-github-delivery", "d2"))
///     .insert_header(("content-type", "application/json"))
///     .set_payload(body);
/// let response = test::call_service(&app, unsigned.to_request()).await;
/// assert_eq!(response.status(), 404);
/// # });
/// ```
#[derive(Clone)]
pub struct WebhookConfig {
    verifier: Option<Verifier>,
    limit: u64,
    payload_check: PayloadCheck,
    read_timeout: Option<Duration>,
    allow_sha1: bool,
    error_handler: Option<ErrorHandler>,
    /// `None`: the process's shared one (a constant cannot hold one).
    rejection_log: Option<RejectionLog>,
}

impl WebhookConfig {
    /// No secret, the default 25 MiB limit, the payload checked where it is read
    /// ([`PayloadCheck::WhenRead`]), no read timeout, SHA-256 only, the default
    /// responses.
    pub const DEFAULT: Self = Self {
        verifier: None,
        limit: DEFAULT_BODY_LIMIT,
        payload_check: PayloadCheck::WhenRead,
        read_timeout: None,
        allow_sha1: false,
        error_handler: None,
        rejection_log: None,
    };

    /// [`WebhookConfig::DEFAULT`]; add a secret with [`secret`](Self::secret).
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// Accepts deliveries signed with `secret`. Call it again to accept several
    /// during a rotation; they are tried in order, and
    /// [`VerifiedDelivery::secret_index`](octohook::VerifiedDelivery::secret_index)
    /// says which matched.
    pub fn secret(mut self, secret: WebhookSecret) -> Self {
        let verifier = match self.verifier.take() {
            Some(verifier) => verifier.with_secret(secret),
            None => {
                let verifier = Verifier::new(secret)
                    .with_body_limit(self.limit)
                    .with_payload_check(self.payload_check);
                if self.allow_sha1 {
                    verifier.allow_legacy_sha1()
                } else {
                    verifier
                }
            }
        };
        self.verifier = Some(verifier);
        self
    }

    /// Verifies with `verifier`, replacing any secret, limits and SHA-1 setting
    /// given before by its own.
    pub fn with_verifier(mut self, verifier: Verifier) -> Self {
        self.limit = verifier.body_limit();
        self.payload_check = verifier.payload_check();
        self.allow_sha1 = verifier.legacy_sha1_allowed();
        self.verifier = Some(verifier);
        self
    }

    /// Sets the largest body accepted, in bytes (default 25 MiB, GitHub's cap).
    ///
    /// A larger announced `Content-Length` is refused before any of the body is
    /// read, and a body that streams past the limit is refused as soon as it does.
    pub fn limit(mut self, bytes: u64) -> Self {
        self.limit = bytes;
        self.verifier = self
            .verifier
            .map(|verifier| verifier.with_body_limit(bytes));
        self
    }

    /// Sets when the payload's JSON is checked: where it is read (the default),
    /// or during verification. See [`Verifier::with_payload_check`].
    pub fn payload_check(mut self, check: PayloadCheck) -> Self {
        self.payload_check = check;
        self.verifier = self
            .verifier
            .map(|verifier| verifier.with_payload_check(check));
        self
    }

    /// Checks the payload during verification, answering 400 when it nests
    /// deeper than `levels` or is not a JSON object. See
    /// [`Verifier::with_max_json_depth`].
    pub fn max_json_depth(self, levels: usize) -> Self {
        self.payload_check(PayloadCheck::OnVerify { max_depth: levels })
    }

    /// Answers `408 Request Timeout` (through the [error handler](Self::error_handler),
    /// if any) when the whole body has not arrived within `timeout` of starting to
    /// read it; the rest of the body is not read.
    ///
    /// There is no timeout by default. actix-web's own
    /// [`HttpServer::client_request_timeout`](actix_web::HttpServer::client_request_timeout)
    /// (5 s by default) bounds the time to send the request head, not the body.
    /// GitHub gives up on a delivery after 10 seconds, so a longer timeout gains
    /// nothing for GitHub's deliveries.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use actix_web::{App, HttpServer, web};
    /// use octohook::WebhookSecret;
    /// use octohook_actix::{VerifyWebhook, WebhookConfig, extract::Webhook};
    ///
    /// async fn handle(Webhook(delivery): Webhook) -> String {
    ///     delivery.guid().to_string()
    /// }
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let config = WebhookConfig::new()
    ///     .secret(WebhookSecret::new("s3cret").unwrap())
    ///     .read_timeout(Duration::from_secs(10));
    /// let server = HttpServer::new(move || {
    ///     App::new().service(
    ///         web::resource("/")
    ///             .wrap(VerifyWebhook::new(config.clone()))
    ///             .route(web::post().to(handle)),
    ///     )
    /// })
    /// // The request head, and idle keep-alive connections.
    /// .client_request_timeout(Duration::from_secs(10))
    /// .keep_alive(Duration::from_secs(10))
    /// .bind(("127.0.0.1", 0))?;
    /// # drop(server);
    /// # Ok(())
    /// # }
    /// ```
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// Accepts the legacy SHA-1 `X-Hub-Signature` on deliveries that carry no
    /// `X-Hub-Signature-256` (only old GitHub Enterprise Server versions need this).
    pub fn allow_legacy_sha1(mut self) -> Self {
        self.allow_sha1 = true;
        self.verifier = self.verifier.map(Verifier::allow_legacy_sha1);
        self
    }

    /// Turns rejections into errors of your own making (by default a rejection is
    /// its own response: a status and a short `text/plain` reason). Rejections are
    /// logged before the handler runs.
    pub fn error_handler<F>(mut self, handler: F) -> Self
    where
        F: Fn(Rejection, &HttpRequest) -> actix_web::Error + Send + Sync + 'static,
    {
        self.error_handler = Some(Arc::new(handler));
        self
    }

    /// Logs rejections to `log` instead of the process's shared
    /// [`RejectionLog`] (10 lines per second, then one line counting the rest).
    ///
    /// ```
    /// use octohook::RejectionLog;
    /// use octohook_actix::WebhookConfig;
    ///
    /// let config = WebhookConfig::new().rejection_log(RejectionLog::per_second(2));
    /// assert_eq!(config.rejections_logged_to().lines_per_second(), 2);
    /// ```
    pub fn rejection_log(mut self, log: RejectionLog) -> Self {
        self.rejection_log = Some(log);
        self
    }

    /// Where rejections are logged: the log given to
    /// [`rejection_log`](Self::rejection_log), else the process's shared one.
    pub fn rejections_logged_to(&self) -> RejectionLog {
        self.rejection_log.clone().unwrap_or_default()
    }

    /// The verifier, once a secret was given.
    pub fn verifier(&self) -> Option<&Verifier> {
        self.verifier.as_ref()
    }

    /// The largest body accepted, in bytes.
    pub fn body_limit(&self) -> u64 {
        self.limit
    }

    /// The body read timeout, if one is set.
    pub fn body_read_timeout(&self) -> Option<Duration> {
        self.read_timeout
    }

    /// The configuration registered for `request`'s route: a `WebhookConfig` or a
    /// `web::Data<WebhookConfig>` in its app data, else [`WebhookConfig::DEFAULT`].
    pub fn from_req(request: &HttpRequest) -> &Self {
        request
            .app_data::<Self>()
            .or_else(|| {
                request
                    .app_data::<web::Data<Self>>()
                    .map(|data| data.get_ref())
            })
            .unwrap_or(&Self::DEFAULT)
    }

    /// Logs `rejection` of `request` where this configuration says.
    pub(crate) fn log_rejection(&self, rejection: &Rejection, request: &HttpRequest) {
        match &self.rejection_log {
            Some(log) => crate::rejection::log(log, rejection, request.headers()),
            None => crate::rejection::log(&RejectionLog::default(), rejection, request.headers()),
        }
    }

    pub(crate) fn handle(&self, rejection: Rejection, request: &HttpRequest) -> actix_web::Error {
        match &self.error_handler {
            Some(handler) => handler(rejection, request),
            None => crate::rejection::into_default_error(rejection),
        }
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl From<Verifier> for WebhookConfig {
    fn from(verifier: Verifier) -> Self {
        Self::DEFAULT.with_verifier(verifier)
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("verifier", &self.verifier)
            .field("limit", &self.limit)
            .field("read_timeout", &self.read_timeout)
            .field("allow_legacy_sha1", &self.allow_sha1)
            .field("error_handler", &self.error_handler.as_ref().map(|_| ".."))
            .field("rejection_log", &self.rejection_log)
            .finish()
    }
}
