//! Rejections as HTTP responses: the core's [`Rejection`], translated.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{HeaderMap, Response};
use http_body_util::Full;
pub use octohook::Rejection;
use octohook::RejectionLog;

/// `rejection` as the `text/plain` response the layer answers with: its
/// [status](Rejection::status) and [body](Rejection::body).
///
/// ```
/// use octohook_tower::{Rejection, rejection_response};
///
/// let response = rejection_response(&Rejection::BodyRead);
/// assert_eq!(response.status(), 400);
/// assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
/// ```
pub fn rejection_response(rejection: &Rejection) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(rejection.body())));
    *response.status_mut() = rejection.status();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(Rejection::CONTENT_TYPE),
    );
    if let Some(seconds) = rejection.retry_after_secs() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Logs `rejection` to `log` (status, reason, the delivery GUID when valid),
/// and counts it in the metrics.
pub(crate) fn log(log: &RejectionLog, rejection: &Rejection, headers: &HeaderMap) {
    log.log(rejection, headers);
    #[cfg(feature = "metrics")]
    octohook::metrics::record_rejection(
        rejection,
        headers
            .get(octohook::header::X_GITHUB_EVENT)
            .map(|value| value.as_bytes()),
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn responses_carry_the_core_status_and_text() {
        let rejections = [
            Rejection::from(octohook::Error::SignatureMismatch),
            Rejection::from(octohook::Error::UnsupportedContentType),
            Rejection::BodyRead,
            Rejection::BodyTimeout {
                timeout: Duration::from_secs(2),
            },
            Rejection::NotConfigured,
        ];
        for rejection in rejections {
            let response = rejection_response(&rejection);
            assert_eq!(response.status(), rejection.status());
            assert_eq!(
                response.headers()[CONTENT_TYPE],
                "text/plain; charset=utf-8"
            );
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, rejection.body().as_bytes());
        }
    }
}
