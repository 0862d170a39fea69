//! What a [`Redeliverer`](crate::Redeliverer) keeps between runs, and the
//! [`RedeliveryLedger`] trait that keeps it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use octohook::DeliveryGuid;
use serde::Serialize;
use time::OffsetDateTime;

use crate::models::DeliveryId;

/// The future a [`RedeliveryLedger`] method returns.
pub type LedgerFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LedgerError>> + Send + 'a>>;

/// How far back the last completed run of a hook has handled every delivery.
///
/// The next run pages back to `delivered_at` (less a small overlap) instead of
/// the whole window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Every failed delivery made at or after this time (GitHub's clock) was
    /// handled, except the ones an intent still tracks.
    pub delivered_at: OffsetDateTime,
    /// When the checkpoint was written (local clock).
    pub updated_at: OffsetDateTime,
}

id_newtype! {
    /// The id a ledger gave an intent.
    pub struct IntentId(i64);
    "Wraps a raw id; for [`RedeliveryLedger`] implementations."
}

/// Where a redelivery intent stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IntentState {
    /// Recorded before the request; the request may or may not have reached
    /// GitHub. Counts as an attempt until it is resolved.
    Open,
    /// GitHub answered 202: the redelivery will happen. Counts as an attempt.
    Accepted,
    /// An open intent whose redelivery was later found in the deliveries list.
    /// Counts as an attempt.
    Confirmed,
    /// GitHub refused the request, or it was never sent (rate limit, refused
    /// connection, 4xx). Not an attempt: the GUID may be redelivered again.
    Rejected,
    /// An open intent whose redelivery never showed up in the deliveries list
    /// within the settle time: taken as never having reached GitHub. Not an
    /// attempt.
    Abandoned,
}

impl IntentState {
    /// Whether an intent in this state counts against
    /// [`max_attempts_per_guid`](crate::RedeliverOptions::max_attempts_per_guid).
    pub fn is_attempt(self) -> bool {
        matches!(self, Self::Open | Self::Accepted | Self::Confirmed)
    }

    /// The state's name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Accepted => "accepted",
            Self::Confirmed => "confirmed",
            Self::Rejected => "rejected",
            Self::Abandoned => "abandoned",
        }
    }

    /// The state named `name`, as [`as_str`](Self::as_str) writes it.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "open" => Self::Open,
            "accepted" => Self::Accepted,
            "confirmed" => Self::Confirmed,
            "rejected" => Self::Rejected,
            "abandoned" => Self::Abandoned,
            _ => return None,
        })
    }
}

/// One redelivery the runner decided to make, and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Intent {
    /// The ledger's id.
    pub id: IntentId,
    /// The event redelivered.
    pub guid: DeliveryGuid,
    /// The delivery attempt whose redelivery was requested.
    pub delivery_id: DeliveryId,
    /// When the intent was recorded, just before the request (local clock).
    pub created_at: OffsetDateTime,
    /// Where it stands.
    pub state: IntentState,
    /// Why it was rejected or left open, when it was.
    pub error: Option<String>,
}

impl Intent {
    /// An intent as a ledger read it back.
    pub fn new(
        id: IntentId,
        guid: DeliveryGuid,
        delivery_id: DeliveryId,
        created_at: OffsetDateTime,
        state: IntentState,
        error: Option<String>,
    ) -> Self {
        Self {
            id,
            guid,
            delivery_id,
            created_at,
            state,
            error,
        }
    }
}

/// A redelivery the runner is about to request: what
/// [`RedeliveryLedger::claim`] records, unless the GUID has had its attempts.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewIntent {
    /// The event to redeliver.
    pub guid: DeliveryGuid,
    /// The delivery attempt whose redelivery is requested.
    pub delivery_id: DeliveryId,
    /// When the intent is recorded, just before the request (local clock).
    pub created_at: OffsetDateTime,
    /// The claim fails when the GUID already has this many intents that
    /// [count as attempts](IntentState::is_attempt).
    pub max_attempts: u32,
}

impl NewIntent {
    /// A redelivery of `delivery_id` of `guid`, to record at `created_at` unless
    /// the GUID has `max_attempts` attempts.
    pub fn new(
        guid: DeliveryGuid,
        delivery_id: DeliveryId,
        created_at: OffsetDateTime,
        max_attempts: u32,
    ) -> Self {
        Self {
            guid,
            delivery_id,
            created_at,
            max_attempts,
        }
    }

    /// The open intent a ledger recorded for it under `id`.
    pub fn opened(self, id: IntentId) -> Intent {
        Intent::new(
            id,
            self.guid,
            self.delivery_id,
            self.created_at,
            IntentState::Open,
            None,
        )
    }
}

/// What [`RedeliveryLedger::claim`] answered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntentClaim {
    /// The intent was recorded, open, and is durable.
    Claimed(Intent),
    /// The GUID already has `attempts` intents that count as attempts (perhaps
    /// recorded by another runner sharing the ledger): nothing was recorded.
    Exhausted {
        /// The attempts counted.
        attempts: u32,
    },
}

/// Durable state of redelivery runners: per scope (one hook of one GitHub), a
/// [`Checkpoint`] and every [`Intent`].
///
/// One ledger may serve several runners, for several hooks or the same one:
/// [`claim`](Self::claim) must be atomic across all of them, so that two runners
/// never both claim the last attempt of a GUID.
///
/// Durability contract: when a method's future resolves `Ok`, its write survives
/// a crash of the process. The runner relies on this for
/// [`claim`](Self::claim), which it awaits before sending the request.
pub trait RedeliveryLedger: Send + Sync + fmt::Debug {
    /// The scope's checkpoint, if a run ever completed.
    fn checkpoint<'a>(&'a self, scope: &'a str) -> LedgerFuture<'a, Option<Checkpoint>>;

    /// Replaces the scope's checkpoint.
    fn save_checkpoint<'a>(
        &'a self,
        scope: &'a str,
        checkpoint: Checkpoint,
    ) -> LedgerFuture<'a, ()>;

    /// Every intent of the scope for these GUIDs, and every open intent of the
    /// scope whatever its GUID, oldest first.
    fn intents<'a>(
        &'a self,
        scope: &'a str,
        guids: &'a [DeliveryGuid],
    ) -> LedgerFuture<'a, Vec<Intent>>;

    /// Records `intent` open, unless its GUID already has
    /// [`max_attempts`](NewIntent::max_attempts) or more intents that
    /// [count as attempts](IntentState::is_attempt). Check and insert are one
    /// atomic step.
    fn claim<'a>(&'a self, scope: &'a str, intent: NewIntent) -> LedgerFuture<'a, IntentClaim>;

    /// Moves an intent to `state`, with an explanation for rejected or
    /// unresolved ones. Only an open or abandoned intent changes: a resolved one
    /// keeps its state, so a late answer cannot undo a later decision.
    fn resolve<'a>(
        &'a self,
        id: IntentId,
        state: IntentState,
        error: Option<&'a str>,
    ) -> LedgerFuture<'a, ()>;

    /// Deletes the scope's resolved intents created before `before`; returns how
    /// many went.
    fn prune<'a>(&'a self, scope: &'a str, before: OffsetDateTime) -> LedgerFuture<'a, u64>;
}

message_error! {
    /// A ledger that failed: unreachable, corrupt, full, or locked for too long.
    ///
    /// The message never contains a credential: ledgers see GUIDs, delivery ids and
    /// times only.
    pub struct LedgerError;
    "redelivery ledger"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip_and_attempts_are_the_live_states() {
        for state in [
            IntentState::Open,
            IntentState::Accepted,
            IntentState::Confirmed,
            IntentState::Rejected,
            IntentState::Abandoned,
        ] {
            assert_eq!(IntentState::from_name(state.as_str()), Some(state));
        }
        assert_eq!(IntentState::from_name("done"), None);
        assert!(IntentState::Open.is_attempt());
        assert!(IntentState::Confirmed.is_attempt());
        assert!(!IntentState::Rejected.is_attempt());
        assert!(!IntentState::Abandoned.is_attempt());
    }
}
