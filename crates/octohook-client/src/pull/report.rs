//! What one pull run did: [`PullReport`], and its [`PullProgress`].

/// What one [`PullSource::run`](super::PullSource::run) did.
///
/// The API requests it made are `pages_listed + fetched` (plus whatever the
/// client retried); the deliveries it stored are `stored`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PullReport {
    /// Pages of the hook's deliveries listed (one request each).
    pub pages_listed: u64,
    /// Distinct deliveries (GUIDs) listed within the window, past the cursor.
    pub listed: u64,
    /// Of those, already in the inbox (pushed, or pulled before): no request.
    pub already_stored: u64,
    /// Deliveries read from the API with their request (one request each).
    pub fetched: u64,
    /// Deliveries stored by this run.
    pub stored: u64,
    /// Fetched, but stored meanwhile by someone else (a push, another puller).
    pub duplicates: u64,
    /// Listed, but without a request GitHub still holds or one a receiver
    /// could have accepted (skipped, with a warning; see the logs).
    pub unavailable: u64,
    /// Whether the cursor moved (and was saved).
    pub cursor_saved: bool,
}

impl PullReport {
    /// The API requests the run made itself: listings and reads.
    pub fn api_requests(&self) -> u64 {
        self.pages_listed + self.fetched
    }
}

/// Where a run stands, for a progress bar: how many of the listed deliveries
/// it has handled (stored, found stored, or skipped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PullProgress {
    /// Deliveries listed so far.
    pub listed: u64,
    /// Of those, handled.
    pub handled: u64,
    /// Of those, stored by this run.
    pub stored: u64,
}
