//! When to retry: 5xx answers, rate limits and unsent requests, with capped,
//! jittered exponential backoff under an overall deadline.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{Duration, SystemTime};

use crate::error::{ClientError, RateLimitKind};

/// The wait after a secondary rate limit that came without `Retry-After`.
const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// How long a rate limit asks to wait from now, for a caller that waits it out
/// itself (the redelivery runner, the pull source): `Retry-After`, or until
/// the reset time; a minute when GitHub gave no time.
#[cfg(any(feature = "redelivery", feature = "pull"))]
pub(crate) fn rate_limit_wait(limit: &crate::error::RateLimit) -> Duration {
    limit
        .wait_from(SystemTime::now())
        .unwrap_or(SECONDARY_LIMIT_WAIT)
}

/// How the client retries, part of [`ClientOptions`](crate::ClientOptions).
///
/// What is retried:
/// - 5xx answers and timed-out attempts, except for a hook's creation (a retry
///   could register the hook twice; [`Hooks::ensure`](crate::Hooks::ensure) is the
///   safe way to register);
/// - rate limits, waiting for `Retry-After` or until `x-ratelimit-reset`, but only
///   when that wait fits within `max_backoff` and the deadline: otherwise
///   [`ClientError::RateLimited`] is returned at once so the caller can schedule;
/// - connections that could not be made (the request was not sent).
///
/// ```
/// use std::time::Duration;
/// use octohook_client::RetryOptions;
///
/// let retry = RetryOptions { max_retries: 0, ..RetryOptions::default() };
/// assert_eq!(retry.deadline, Duration::from_secs(120));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryOptions {
    /// Retries after the first attempt. Default: 4.
    pub max_retries: u32,
    /// The first backoff; each retry doubles it. Default: 500 ms.
    pub initial_backoff: Duration,
    /// The longest single wait, for backoff and rate limits alike. Default: 30 s.
    pub max_backoff: Duration,
    /// The longest an operation may take, all attempts and waits included.
    /// Default: 120 s.
    pub deadline: Duration,
}

impl Default for RetryOptions {
    fn default() -> Self {
        Self {
            max_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
        }
    }
}

/// Which failures a request may be retried after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idempotence {
    /// Repeating the request has no effect beyond the first: retry 5xx and
    /// timeouts too.
    Safe,
    /// Repeating could create a second resource: retry only when the request
    /// surely was not acted on (rate limits, refused connections).
    Unsafe,
}

impl RetryOptions {
    /// The wait before retry number `attempt + 1` after `error`, or `None` when the
    /// error is final.
    pub(crate) fn wait_after(
        &self,
        error: &ClientError,
        attempt: u32,
        idempotence: Idempotence,
        now: SystemTime,
    ) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        match error {
            ClientError::RateLimited(limit) => {
                let wait = match limit.wait_from(now) {
                    Some(wait) => wait + self.jitter(self.initial_backoff),
                    // GitHub's documentation: without a time, wait at least a
                    // minute after a secondary limit.
                    None if limit.kind == RateLimitKind::Secondary => SECONDARY_LIMIT_WAIT,
                    None => self.backoff(attempt),
                };
                (wait <= self.max_backoff).then_some(wait)
            }
            ClientError::Server(_) if idempotence == Idempotence::Safe => {
                Some(self.backoff(attempt))
            }
            ClientError::Transport(e) if e.is_connect() => Some(self.backoff(attempt)),
            ClientError::Transport(e)
                if e.is_timeout() && !e.is_deadline() && idempotence == Idempotence::Safe =>
            {
                Some(self.backoff(attempt))
            }
            _ => None,
        }
    }

    /// Exponential backoff with "equal jitter": half the step is fixed, half random,
    /// so concurrent clients spread out but never retry immediately.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let step = self
            .initial_backoff
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .min(self.max_backoff);
        let half = step / 2;
        half + self.jitter(step - half)
    }

    /// A uniformly random duration in `[0, max]`.
    fn jitter(&self, max: Duration) -> Duration {
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        // std's per-instance random hash keys are good enough to decorrelate
        // clients, and avoid a dependency for one random number.
        let random = RandomState::new().hash_one(SystemTime::now());
        Duration::from_nanos(random % (nanos + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ApiError, RateLimit, TransportError};

    fn api(status: u16) -> Box<ApiError> {
        Box::new(ApiError {
            status,
            request: "GET /x".into(),
            message: None,
            documentation_url: None,
        })
    }

    fn rate_limited(
        retry_after: Option<u64>,
        reset_in: Option<u64>,
        now: SystemTime,
    ) -> ClientError {
        ClientError::RateLimited(Box::new(RateLimit {
            kind: RateLimitKind::Secondary,
            api: *api(429),
            limit: None,
            remaining: None,
            reset: reset_in.map(|s| now + Duration::from_secs(s)),
            retry_after: retry_after.map(Duration::from_secs),
        }))
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stays_under_the_cap() {
        let options = RetryOptions {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1_000),
            deadline: Duration::from_secs(10),
        };
        for _ in 0..50 {
            let first = options.backoff(0);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first));
            let third = options.backoff(2);
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&third));
            let late = options.backoff(40);
            assert!((Duration::from_millis(500)..=Duration::from_millis(1_000)).contains(&late));
        }
    }

    #[test]
    fn server_errors_are_retried_only_when_idempotent() {
        let options = RetryOptions::default();
        let now = SystemTime::now();
        let server = ClientError::Server(api(502));
        let not_found = ClientError::NotFound(api(404));
        let deadline = ClientError::Transport(TransportError::deadline("GET /x".into()));
        // (error, retries so far, idempotence, whether to retry)
        let cases = [
            (&server, 0, Idempotence::Safe, true),
            (&server, 0, Idempotence::Unsafe, false),
            (&server, 4, Idempotence::Safe, false),
            (&not_found, 0, Idempotence::Safe, false),
            (&deadline, 0, Idempotence::Safe, false),
        ];
        for (error, retries, idempotence, retried) in cases {
            assert_eq!(
                options
                    .wait_after(error, retries, idempotence, now)
                    .is_some(),
                retried,
                "{error} after {retries} retries, {idempotence:?}"
            );
        }
    }

    #[test]
    fn rate_limits_wait_as_told_unless_longer_than_the_cap() {
        let options = RetryOptions::default();
        let now = SystemTime::now();
        let short = options
            .wait_after(
                &rate_limited(Some(3), None, now),
                0,
                Idempotence::Unsafe,
                now,
            )
            .unwrap();
        assert!(short >= Duration::from_secs(3) && short <= Duration::from_millis(3_500));
        let reset = options
            .wait_after(
                &rate_limited(None, Some(10), now),
                0,
                Idempotence::Unsafe,
                now,
            )
            .unwrap();
        assert!(reset >= Duration::from_secs(10));
        assert!(
            options
                .wait_after(
                    &rate_limited(None, Some(3_600), now),
                    0,
                    Idempotence::Safe,
                    now
                )
                .is_none()
        );
        // A secondary limit without a time means a minute: beyond the default cap.
        let untimed = rate_limited(None, None, now);
        assert!(
            options
                .wait_after(&untimed, 0, Idempotence::Safe, now)
                .is_none()
        );
    }
}
