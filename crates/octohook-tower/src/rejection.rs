//! Rejections: the core's [`Rejection`], logged and counted; the layer and the
//! extractors answer them as an [`Answer`](octohook::Answer).

use http::HeaderMap;
pub use octohook::Rejection;
use octohook::RejectionLog;

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

    use bytes::Bytes;
    use http::header::CONTENT_TYPE;
    use http_body_util::{BodyExt, Full};
    use octohook::Answer;

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
            let response = Answer::from(&rejection).into_response::<Full<Bytes>>();
            assert_eq!(response.status(), rejection.status());
            assert_eq!(response.headers()[CONTENT_TYPE], Answer::CONTENT_TYPE);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, rejection.body().as_bytes());
        }
    }
}
