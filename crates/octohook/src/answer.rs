//! [`Answer`]: the HTTP answer a receiver owes the sender of a request.

use std::borrow::Cow;

use http::StatusCode;

/// What a receiver answers a webhook request with: a status, a short
/// `text/plain` body (empty on success), and a `Retry-After` when the
/// receiver wants the sender to come back later.
///
/// Every outcome of receiving becomes one: a [`Rejection`](crate::Rejection)
/// (the request did not verify), a [`ReceiveDelivery`](crate::ReceiveDelivery)'s
/// result (stored, refused, store down), a failed
/// [`Dispatcher`](crate::Dispatcher) run. The framework adapters translate only
/// this type into their responses, so every receiver answers alike.
///
/// ```
/// use http::StatusCode;
/// use octohook::{Answer, Error, Rejection};
///
/// assert_eq!(Answer::ok().status(), StatusCode::OK);
/// assert_eq!(Answer::ok().body(), "");
///
/// let busy = Answer::from(&Rejection::from(Error::BodyBudgetExhausted { retry_after_secs: 5 }));
/// assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
/// assert_eq!(busy.retry_after_secs(), Some(5));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "send it as the response"]
pub struct Answer {
    status: StatusCode,
    body: Cow<'static, str>,
    retry_after_secs: Option<u64>,
}

impl Answer {
    /// The `Content-Type` of a non-empty body.
    pub const CONTENT_TYPE: &'static str = "text/plain; charset=utf-8";

    /// An answer with `status` and `body` (which should end with a newline, and
    /// never hold a secret, the expected signature, or what a client sent).
    pub fn new(status: StatusCode, body: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            body: body.into(),
            retry_after_secs: None,
        }
    }

    /// 200 with an empty body: the delivery is taken care of.
    pub fn ok() -> Self {
        Self::new(StatusCode::OK, "")
    }

    /// The same answer, asking the sender to wait `seconds` before trying again.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_secs = Some(seconds);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `text/plain` body; empty when there is nothing to say.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The `Retry-After`, in seconds, when set.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_secs
    }

    /// The answer as an `http` response, for tower services and hyper.
    pub fn into_response<B: From<Cow<'static, str>>>(self) -> http::Response<B> {
        let mut response = http::Response::new(B::from(self.body.clone()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after_secs {
            headers.insert(http::header::RETRY_AFTER, seconds.into());
        }
        if !self.body.is_empty() {
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(Self::CONTENT_TYPE),
            );
        }
        response
    }
}

impl From<&crate::Rejection> for Answer {
    fn from(rejection: &crate::Rejection) -> Self {
        let answer = Self::new(rejection.status(), rejection.body());
        match rejection.retry_after_secs() {
            Some(seconds) => answer.with_retry_after(seconds),
            None => answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_carries_status_body_and_headers() {
        let response: http::Response<String> =
            Answer::new(StatusCode::SERVICE_UNAVAILABLE, "down\n")
                .with_retry_after(30)
                .into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "30");
        assert_eq!(response.headers()["content-type"], Answer::CONTENT_TYPE);
        assert_eq!(response.body(), "down\n");

        let ok: http::Response<String> = Answer::ok().into_response();
        assert_eq!(ok.status(), 200);
        assert!(ok.headers().is_empty());
    }
}
