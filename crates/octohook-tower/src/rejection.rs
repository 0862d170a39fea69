//! Rejections as HTTP responses: the core's [`Rejection`], translated.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Response};
use http_body_util::Full;
pub use octohook::Rejection;

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
    response
}

/// Logs `rejection` with its status, reason and the delivery GUID, if any.
pub(crate) fn log(rejection: &Rejection, headers: &HeaderMap) {
    let guid = headers
        .get(octohook::header::X_GITHUB_DELIVERY)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    tracing::warn!(
        status = rejection.status().as_u16(),
        reason = %rejection,
        delivery = guid,
        "rejected webhook delivery"
    );
}
