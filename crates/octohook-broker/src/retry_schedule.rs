//! [`RetrySchedule`]: how long the inbox may go on retrying one delivery,
//! which a broker's deduplication window should cover.

use std::time::Duration;

use octohook_inbox::Backoff;

/// The inbox's retries of one delivery: its [`Backoff`] and how many attempts
/// it gets. A publish retried after the broker stored the message (the
/// confirmation was lost, the process crashed) is a duplicate only the broker
/// can drop, and JetStream drops it only within its stream's duplicate window.
///
/// ```
/// use std::time::Duration;
/// use octohook_broker::RetrySchedule;
/// use octohook_inbox::Backoff;
///
/// // `octohook serve`'s defaults: 5 attempts, 5 s doubling.
/// let schedule = RetrySchedule::new(Backoff::exponential(Duration::from_secs(5)), 5);
/// assert_eq!(schedule.longest(), Duration::from_secs(5 + 10 + 20 + 40));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetrySchedule {
    backoff: Backoff,
    max_attempts: u32,
}

impl RetrySchedule {
    /// `max_attempts` attempts (at least 1) separated by `backoff`'s delays.
    pub fn new(backoff: Backoff, max_attempts: u32) -> Self {
        Self {
            backoff,
            max_attempts: max_attempts.max(1),
        }
    }

    /// The longest time from the first attempt to the last: the sum of the
    /// backoff's longest delays between them (the handler's own running time
    /// and a crashed worker's lease come on top).
    pub fn longest(&self) -> Duration {
        (1..self.max_attempts)
            .map(|attempt| self.backoff.delay(attempt))
            .fold(Duration::ZERO, Duration::saturating_add)
    }
}

impl Default for RetrySchedule {
    /// The inbox's defaults: [`Backoff::default`] over 5 attempts.
    fn default() -> Self {
        Self::new(Backoff::default(), 5)
    }
}
