//! [`VerifyConfig`]: how the middleware and the extractors verify deliveries.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, web};
use octohook::{RejectionLog, Verifier};

use crate::Rejection;

/// The error handler's signature.
type HandleRejection = dyn Fn(Rejection, &HttpRequest) -> actix_web::Error + Send + Sync;

/// What turns a rejection into the error actix-web answers with.
#[derive(Clone)]
struct ErrorHandler(Arc<HandleRejection>);

impl fmt::Debug for ErrorHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ErrorHandler(..)")
    }
}

/// How deliveries are verified in actix-web: a [`Verifier`] (secrets, body
/// limit, payload check, SHA-1 opt-in: all set on the verifier), plus what
/// actix-web needs on top: a body read timeout, where rejections are logged, and
/// an optional error handler.
///
/// Give it to [`VerifyWebhook`](crate::VerifyWebhook), or register it with
/// [`App::app_data`](actix_web::App::app_data) (directly or in a [`web::Data`])
/// for the [extractors](crate::extract) to verify deliveries themselves. Without
/// one, the extractors use [`VerifyConfig::DEFAULT`], which has no verifier: a
/// delivery that no middleware verified is then rejected with 500.
///
/// ```
/// use actix_web::{App, HttpResponse, error, test, web};
/// use octohook::{Verifier, WebhookSecret, sign};
/// use octohook_actix::{VerifyConfig, extract::Verified};
///
/// async fn handle(Verified(delivery): Verified) -> String {
///     delivery.guid().to_string()
/// }
///
/// # actix_web::rt::System::new().block_on(async {
/// let secret = WebhookSecret::new("s3cret").unwrap();
/// let config = VerifyConfig::new(Verifier::new(secret.clone()).with_body_limit(64 * 1024))
///     .with_error_handler(|rejection, _request| {
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
#[derive(Clone, Debug, Default)]
pub struct VerifyConfig {
    verifier: Option<Verifier>,
    read_timeout: Option<Duration>,
    error_handler: Option<ErrorHandler>,
    /// `None`: the process's shared one (a constant cannot hold one).
    rejection_log: Option<RejectionLog>,
}

impl VerifyConfig {
    /// No verifier (every delivery is rejected with 500), no read timeout, the
    /// default responses, the process's shared rejection log.
    pub const DEFAULT: Self = Self {
        verifier: None,
        read_timeout: None,
        error_handler: None,
        rejection_log: None,
    };

    /// Verifies with `verifier`, without a read timeout, with the default
    /// responses, logging to the process's shared [`RejectionLog`].
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier: Some(verifier),
            ..Self::DEFAULT
        }
    }

    /// Answers `408 Request Timeout` (through the [error handler](Self::with_error_handler),
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
    /// use octohook::{Verifier, WebhookSecret};
    /// use octohook_actix::{VerifyConfig, VerifyWebhook, extract::Verified};
    ///
    /// async fn handle(Verified(delivery): Verified) -> String {
    ///     delivery.guid().to_string()
    /// }
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let config = VerifyConfig::new(Verifier::new(WebhookSecret::new("s3cret").unwrap()))
    ///     .with_read_timeout(Duration::from_secs(10));
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
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// Turns rejections into errors of your own making (by default a rejection is
    /// its own response: a status and a short `text/plain` reason). Rejections are
    /// logged before the handler runs.
    pub fn with_error_handler<F>(mut self, handler: F) -> Self
    where
        F: Fn(Rejection, &HttpRequest) -> actix_web::Error + Send + Sync + 'static,
    {
        self.error_handler = Some(ErrorHandler(Arc::new(handler)));
        self
    }

    /// Logs rejections to `log` instead of the process's shared
    /// [`RejectionLog`] (10 lines per second, then one line counting the rest).
    ///
    /// ```
    /// use octohook::{RejectionLog, Verifier, WebhookSecret};
    /// use octohook_actix::VerifyConfig;
    ///
    /// let verifier = Verifier::new(WebhookSecret::new("s3cret").unwrap());
    /// let config = VerifyConfig::new(verifier).with_rejection_log(RejectionLog::per_second(2));
    /// assert_eq!(config.rejection_log().lines_per_second(), 2);
    /// ```
    pub fn with_rejection_log(mut self, log: RejectionLog) -> Self {
        self.rejection_log = Some(log);
        self
    }

    /// The verifier, if there is one.
    pub fn verifier(&self) -> Option<&Verifier> {
        self.verifier.as_ref()
    }

    /// The body read timeout, if one is set.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.read_timeout
    }

    /// Where rejections are logged: the log given to
    /// [`with_rejection_log`](Self::with_rejection_log), else the process's
    /// shared one.
    pub fn rejection_log(&self) -> RejectionLog {
        self.rejection_log.clone().unwrap_or_default()
    }

    /// The configuration registered for `request`'s route: a `VerifyConfig` or a
    /// `web::Data<VerifyConfig>` in its app data, else [`VerifyConfig::DEFAULT`].
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

    /// Logs `rejection` of `request` and turns it into the error the
    /// [error handler](Self::with_error_handler) makes of it (by default, its
    /// [`Answer`](octohook::Answer) as the response).
    pub(crate) fn reject(&self, rejection: Rejection, request: &HttpRequest) -> actix_web::Error {
        crate::rejection::log(&self.rejection_log(), &rejection, request.headers());
        match &self.error_handler {
            Some(ErrorHandler(handler)) => handler(rejection, request),
            None => crate::rejection::WebhookRejection(rejection).into(),
        }
    }
}

impl From<Verifier> for VerifyConfig {
    fn from(verifier: Verifier) -> Self {
        Self::new(verifier)
    }
}
