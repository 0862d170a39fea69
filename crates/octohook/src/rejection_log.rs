//! [`RejectionLog`]: the one log line of a rejected request, bounded and
//! rate-limited, as every adapter writes it.

use std::fmt;
use std::sync::OnceLock;

use http::HeaderMap;

use crate::header::{X_GITHUB_DELIVERY, X_GITHUB_EVENT};
use crate::{ClientBytes, DeliveryGuid, Error, LogRateLimit, Rejection};

/// Writes a `WARN` line for each rejected request, at most
/// [so many per second](Self::per_second) (10 by default), with a summary of the
/// rest (see [`LogRateLimit`]):
///
/// ```text
/// WARN octohook::rejection_log: rejected webhook delivery status=401 reason=bad_signature error=signature does not match the body delivery=72d3162e-cc78-11e3-81ab-4c9367dc0958 event=push
/// ```
///
/// What a rejected request sent is not trusted, so little of it is written:
/// `delivery` only when `X-GitHub-Delivery` is a valid [`DeliveryGuid`] (at most
/// 64 letters, digits, `-` and `_`), `-` otherwise; `event` as
/// [`ClientBytes`] (at most 48 bytes, escaped). `error` is the rejection's
/// text, which names what was wrong without quoting the request. Whatever a
/// stranger sends, a line stays under 400 bytes.
///
/// The adapters (`octohook-tower`, `octohook-actix`) log every rejection
/// through one; a service that answers rejections itself can too.
///
/// ```
/// use http::HeaderMap;
/// use octohook::{Error, Rejection, RejectionLog};
///
/// let log = RejectionLog::per_second(100);
/// let mut headers = HeaderMap::new();
/// headers.insert("x-github-delivery", "d1".parse().unwrap());
/// log.log(&Rejection::from(Error::SignatureMismatch), &headers);
/// ```
#[derive(Clone, Debug)]
pub struct RejectionLog {
    limit: LogRateLimit,
}

impl Default for RejectionLog {
    /// The process's shared log, [`LogRateLimit::DEFAULT_LINES_PER_SECOND`]
    /// lines per second across every receiver that uses it.
    fn default() -> Self {
        static SHARED: OnceLock<RejectionLog> = OnceLock::new();
        SHARED
            .get_or_init(|| Self::per_second(LogRateLimit::DEFAULT_LINES_PER_SECOND))
            .clone()
    }
}

impl RejectionLog {
    /// A log of its own writing at most `lines` rejections per second (0: only
    /// the summaries).
    pub fn per_second(lines: u32) -> Self {
        Self {
            limit: LogRateLimit::per_second("rejection", lines),
        }
    }

    /// How many rejections it writes per second at most.
    pub fn lines_per_second(&self) -> u32 {
        self.limit.lines()
    }

    /// Logs `rejection` of a request with `headers` (unless the rate limit
    /// suppresses it).
    pub fn log(&self, rejection: &Rejection, headers: &HeaderMap) {
        self.log_values(
            rejection,
            headers.get(X_GITHUB_DELIVERY).map(|value| value.as_bytes()),
            headers.get(X_GITHUB_EVENT).map(|value| value.as_bytes()),
        );
    }

    /// Logs `rejection` of a request whose `X-GitHub-Delivery` and
    /// `X-GitHub-Event` values were `delivery` and `event`, for a framework
    /// with header types of its own.
    pub fn log_values(&self, rejection: &Rejection, delivery: Option<&[u8]>, event: Option<&[u8]>) {
        if !self.limit.admit(rejection.reason()) {
            return;
        }
        let guid = delivery.and_then(|value| DeliveryGuid::from_bytes(value).ok());
        tracing::warn!(
            status = rejection.status().as_u16(),
            reason = %rejection.reason(),
            error = %RejectionText(rejection),
            delivery = %guid.as_ref().map_or("-", DeliveryGuid::as_str),
            event = %ClientBytes::new(event.unwrap_or(b"-")),
            "rejected webhook delivery"
        );
    }
}

/// The rejection's text, with a payload error reduced to its kind and
/// position: `serde_json` quotes the payload in some of its messages.
struct RejectionText<'a>(&'a Rejection);

impl fmt::Display for RejectionText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Rejection::Invalid(Error::InvalidPayload(error)) => {
                let kind = match error.classify() {
                    serde_json::error::Category::Io => "unreadable",
                    serde_json::error::Category::Syntax => "not JSON",
                    serde_json::error::Category::Data => "not the expected JSON",
                    serde_json::error::Category::Eof => "truncated JSON",
                };
                write!(
                    f,
                    "invalid payload: {kind} at line {} column {}",
                    error.line(),
                    error.column()
                )
            }
            other => fmt::Display::fmt(other, f),
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;
    use crate::log_capture::LogCapture;

    #[test]
    fn a_valid_guid_is_logged_and_anything_else_is_not() {
        let log = RejectionLog::per_second(100);
        let rejection = Rejection::from(Error::SignatureMismatch);
        let text = LogCapture::run(|| {
            let mut headers = HeaderMap::new();
            headers.insert(X_GITHUB_DELIVERY, HeaderValue::from_static("72d3162e-cc78"));
            headers.insert(X_GITHUB_EVENT, HeaderValue::from_static("push"));
            log.log(&rejection, &headers);
            let huge = HeaderValue::from_bytes(&[b'a'; 400 * 1024]).unwrap();
            headers.insert(X_GITHUB_DELIVERY, huge.clone());
            headers.insert(X_GITHUB_EVENT, huge);
            log.log(&rejection, &headers);
            log.log_values(&rejection, Some(b"a b=c"), Some(b"x\tstatus=200\x1b[2J"));
            log.log_values(&rejection, None, None);
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[0].ends_with(
                "rejected webhook delivery status=401 reason=bad_signature \
                 error=signature does not match the body delivery=72d3162e-cc78 event=push"
            ),
            "{text}"
        );
        assert!(lines[1].contains(" delivery=- event=aaaa"), "{text}");
        assert!(lines[1].ends_with("...[409600B]"), "{text}");
        assert!(lines[1].len() < 400, "{}", lines[1].len());
        assert!(
            lines[2].ends_with(r" delivery=- event=x\x09status=200\x1b[2J"),
            "{text}"
        );
        assert!(lines[3].ends_with(" delivery=- event=-"), "{text}");
    }

    #[test]
    fn past_the_rate_only_a_summary_is_written() {
        let log = RejectionLog::per_second(2);
        let rejection = Rejection::from(Error::MissingSignature);
        let text = LogCapture::run(|| {
            for _ in 0..1000 {
                log.log_values(&rejection, Some(b"d1"), Some(b"push"));
            }
        });
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.lines().all(|line| line.contains("missing_signature")));
        // The summary comes with the first line of a later second.
        std::thread::sleep(std::time::Duration::from_millis(1010));
        let text = LogCapture::run(|| log.log_values(&rejection, None, None));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].contains(
                "suppressed 998 rejection log lines in the last 1s suppressed=998 \
                 reasons=missing_signature:998"
            ),
            "{text}"
        );
        assert!(lines[1].contains("rejected webhook delivery"), "{text}");
    }

    #[test]
    fn payload_errors_are_logged_without_the_payload() {
        let error = serde_json::from_slice::<u64>(br#""SECRET-LOOKING-PAYLOAD""#).unwrap_err();
        assert!(error.to_string().contains("SECRET-LOOKING-PAYLOAD"));
        let rejection = Rejection::from(Error::InvalidPayload(error));
        let text = RejectionText(&rejection).to_string();
        assert_eq!(
            text,
            "invalid payload: not the expected JSON at line 1 column 24"
        );
        let other = Rejection::from(Error::BodyTooLarge { limit: 5 });
        assert_eq!(RejectionText(&other).to_string(), other.to_string());
    }
}
