//! [`Forward`]: each delivery posted on to another service (`octohook serve
//! --forward`).

use std::future::Future;
use std::time::Duration;

use crate::{AttemptError, Handler, StoredDelivery};

/// Posts each delivery to a URL with the headers and body it arrived with
/// (signatures included, so the service can verify it again).
///
/// A 2xx answer marks the delivery done; 408, 429, 5xx, a timeout or a
/// connection error fail the attempt, which is retried; any other answer fails
/// the delivery at once. Redirects are not followed. Error messages never hold
/// the URL, which may carry credentials.
///
/// ```
/// use std::time::Duration;
/// use octohook_inbox::handlers::Forward;
///
/// let forward = Forward::new("http://127.0.0.1:8080/hooks".parse().unwrap(), Duration::from_secs(30)).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Forward {
    url: reqwest::Url,
    client: reqwest::Client,
}

/// Why a [`Forward`] could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ForwardError(#[source] reqwest::Error);

impl Forward {
    /// Posts to `url`, giving each request `timeout` to complete.
    pub fn new(url: reqwest::Url, timeout: Duration) -> Result<Self, ForwardError> {
        // reqwest 0.13 comes without a crypto provider here: rustls on ring, as
        // the process default unless the application installed another.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("octohook/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ForwardError)?;
        Ok(Self { url, client })
    }
}

impl Handler for Forward {
    fn handle(
        &self,
        delivery: StoredDelivery,
    ) -> impl Future<Output = Result<(), AttemptError>> + Send + 'static {
        let request = self
            .client
            .post(self.url.clone())
            .headers(delivery.headers.to_header_map())
            .body(delivery.body.clone());
        async move {
            let response = request.send().await.map_err(|error| {
                AttemptError::retry(format!("forwarding failed: {}", without_url(&error)))
            })?;
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            let message = format!("the forward target answered {status}");
            let code = status.as_u16();
            if code == 408 || code == 429 || status.is_server_error() {
                Err(AttemptError::retry(message))
            } else {
                Err(AttemptError::permanent(message))
            }
        }
    }
}

/// A request error's description without the URL (which may hold credentials).
fn without_url(error: &reqwest::Error) -> String {
    let mut causes = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request error"
    };
    if causes.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {}", causes.join(": "))
    }
}
