//! [`RunReport`]: what one run of a [`Redeliverer`](crate::Redeliverer) saw and did.

use octohook::DeliveryGuid;
use serde::Serialize;
use time::OffsetDateTime;

use crate::models::DeliveryId;

/// What one run saw and did. Counts are of GUIDs (events) unless named
/// otherwise.
///
/// A GUID is in exactly one of `redelivered`, `skipped_succeeded`,
/// `skipped_already_redelivered`, `skipped_too_old`, `deferred` or the GUIDs of
/// `errors`; `failed_guids` counts those whose failures were within the scanned
/// window and never succeeded.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RunReport {
    /// Nothing was requested from GitHub nor written to the ledger;
    /// `redelivered` counts what would have been.
    pub dry_run: bool,
    /// List requests that returned a page.
    pub pages_scanned: u64,
    /// Deliveries on those pages, including ones older than the scan's floor.
    pub deliveries_scanned: u64,
    /// The oldest delivery time the scan had to reach (GitHub's clock).
    #[serde(with = "time::serde::rfc3339::option")]
    pub scanned_back_to: Option<OffsetDateTime>,
    /// GUIDs with a failed delivery within the window and no successful one.
    pub failed_guids: u64,
    /// GUIDs GitHub accepted a redelivery of in this run (or would have, in a
    /// dry run).
    pub redelivered: u64,
    /// GUIDs that failed but also have a delivery with status `OK`.
    pub skipped_succeeded: u64,
    /// Failed GUIDs that already had `max_attempts_per_guid` redeliveries, ours
    /// or anyone's, or whose earlier redelivery request is not confirmed yet.
    pub skipped_already_redelivered: u64,
    /// Failed GUIDs seen only in deliveries older than GitHub's redelivery window.
    pub skipped_too_old: u64,
    /// Failed GUIDs left for the next run because of the per-run cap or a rate
    /// limit.
    pub deferred: u64,
    /// Interrupted requests of earlier runs whose redelivery was found in the
    /// deliveries list: done, not repeated.
    pub intents_confirmed: u64,
    /// Interrupted requests of earlier runs whose redelivery never showed up
    /// within the settle time: taken as never sent, their GUIDs eligible again.
    pub intents_abandoned: u64,
    /// The redeliveries requested (or, in a dry run, that would have been).
    pub redeliveries: Vec<Redelivery>,
    /// Requests that were not accepted, or whose answer is unknown.
    pub errors: Vec<RedeliveryFailure>,
}

impl RunReport {
    /// Whether every redelivery request of the run was accepted.
    pub fn is_success(&self) -> bool {
        self.errors.is_empty()
    }
}

/// A redelivery requested in a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Redelivery {
    /// The event.
    pub guid: DeliveryGuid,
    /// The delivery attempt whose redelivery was requested.
    pub delivery_id: DeliveryId,
}

/// A redelivery request that was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RedeliveryFailure {
    /// The event.
    pub guid: DeliveryGuid,
    /// The delivery attempt whose redelivery was requested.
    pub delivery_id: DeliveryId,
    /// Whether GitHub may have acted on it anyway (timeout, 5xx): the intent
    /// stays open and a later run checks the deliveries list before retrying.
    pub outcome_unknown: bool,
    /// Why, without credentials.
    pub message: String,
}
