//! What one pull run did: [`PullReport`] with the deliveries it skipped
//! ([`SkippedDelivery`], [`SkipReason`]), and its [`PullProgress`].

use std::sync::Arc;

use octohook::DeliveryGuid;

use crate::models::DeliveryId;

/// How many skipped deliveries a [`PullReport`] lists; it counts them all.
pub const MAX_SKIPPED_LISTED: usize = 100;

/// What one [`PullSource::run`](super::PullSource::run) did.
///
/// The API requests it made are `pages_listed + fetched` (plus whatever the
/// client retried); the deliveries it stored are `stored`.
#[derive(Clone, Debug, Default)]
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
    /// could have accepted: skipped, each with a warning in the logs.
    pub unavailable: u64,
    /// The first [`MAX_SKIPPED_LISTED`] of those, each with its reason, in the
    /// order they were handled (oldest first).
    pub skipped: Vec<SkippedDelivery>,
    /// Whether the cursor moved (and was saved).
    pub cursor_saved: bool,
}

impl PullReport {
    /// The API requests the run made itself: listings and reads.
    pub fn api_requests(&self) -> u64 {
        self.pages_listed + self.fetched
    }

    /// Counts `skipped`, and lists it while fewer than [`MAX_SKIPPED_LISTED`]
    /// are.
    pub(super) fn skip(&mut self, skipped: SkippedDelivery) {
        self.unavailable += 1;
        if self.skipped.len() < MAX_SKIPPED_LISTED {
            self.skipped.push(skipped);
        }
    }
}

/// A delivery a pull run listed and did not store.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SkippedDelivery {
    /// Its id in GitHub's API.
    pub id: DeliveryId,
    /// Its GUID (`X-GitHub-Delivery`).
    pub guid: DeliveryGuid,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// Why a pull run skipped a listed delivery. None of these stops the run, and
/// none is worth another try: the next run skips the delivery again while
/// GitHub lists it.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SkipReason {
    /// GitHub no longer had it when it was read (out of its window since the
    /// listing).
    #[error("gone from GitHub since it was listed")]
    Gone,
    /// GitHub's record of it holds no request headers.
    #[error("GitHub holds no request headers for it")]
    NoRequestHeaders,
    /// GitHub's record of it holds no request payload.
    #[error("GitHub holds no request payload for it")]
    NoRequestPayload,
    /// The recorded request is one a receiver refuses: its delivery headers
    /// do not parse, or its payload is not a JSON object.
    #[error("its recorded request is refused: {0}")]
    Refused(#[source] Arc<octohook::Error>),
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
