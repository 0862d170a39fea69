//! [`MemoryLedger`]: state kept in the process, for one-shot runs and tests.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use octohook::DeliveryGuid;
use time::OffsetDateTime;

use super::ledger::{
    Checkpoint, Intent, IntentClaim, IntentId, IntentState, LedgerFuture, NewIntent,
    RedeliveryLedger,
};

/// A [`RedeliveryLedger`] in memory: exact within one process, forgotten when it exits.
///
/// Suits a one-shot run (the `octohook deliveries redeliver --since` command) and
/// tests; a runner that must survive restarts uses
/// [`SqliteLedger`](crate::SqliteLedger) or a shared database.
///
/// ```
/// use std::sync::Arc;
/// use octohook_client::{MemoryLedger, RedeliveryLedger};
///
/// let ledger: Arc<dyn RedeliveryLedger> = Arc::new(MemoryLedger::new());
/// # let _ = ledger;
/// ```
#[derive(Debug, Default)]
pub struct MemoryLedger {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: i64,
    checkpoints: HashMap<String, Checkpoint>,
    /// Scope → intents, oldest first.
    intents: HashMap<String, Vec<Intent>>,
}

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-written: every
        // change is one push or one assignment.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl RedeliveryLedger for MemoryLedger {
    fn checkpoint<'a>(&'a self, scope: &'a str) -> LedgerFuture<'a, Option<Checkpoint>> {
        let found = self.lock().checkpoints.get(scope).copied();
        Box::pin(async move { Ok(found) })
    }

    fn save_checkpoint<'a>(
        &'a self,
        scope: &'a str,
        checkpoint: Checkpoint,
    ) -> LedgerFuture<'a, ()> {
        self.lock().checkpoints.insert(scope.to_owned(), checkpoint);
        Box::pin(async { Ok(()) })
    }

    fn intents<'a>(
        &'a self,
        scope: &'a str,
        guids: &'a [DeliveryGuid],
    ) -> LedgerFuture<'a, Vec<Intent>> {
        let found: Vec<Intent> = self
            .lock()
            .intents
            .get(scope)
            .into_iter()
            .flatten()
            .filter(|intent| intent.state == IntentState::Open || guids.contains(&intent.guid))
            .cloned()
            .collect();
        Box::pin(async move { Ok(found) })
    }

    fn claim<'a>(&'a self, scope: &'a str, intent: NewIntent) -> LedgerFuture<'a, IntentClaim> {
        let mut inner = self.lock();
        let attempts = inner
            .intents
            .get(scope)
            .into_iter()
            .flatten()
            .filter(|listed| listed.guid == intent.guid && listed.state.is_attempt())
            .count();
        let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
        let claim = if attempts >= intent.max_attempts {
            IntentClaim::Exhausted { attempts }
        } else {
            inner.next_id += 1;
            let opened = intent.opened(IntentId::new(inner.next_id));
            inner
                .intents
                .entry(scope.to_owned())
                .or_default()
                .push(opened.clone());
            IntentClaim::Claimed(opened)
        };
        Box::pin(async move { Ok(claim) })
    }

    fn resolve<'a>(
        &'a self,
        id: IntentId,
        state: IntentState,
        error: Option<&'a str>,
    ) -> LedgerFuture<'a, ()> {
        let mut inner = self.lock();
        let found = inner
            .intents
            .values_mut()
            .flatten()
            .find(|intent| intent.id == id);
        if let Some(intent) = found
            && matches!(intent.state, IntentState::Open | IntentState::Abandoned)
        {
            intent.state = state;
            intent.error = error.map(str::to_owned);
        }
        Box::pin(async { Ok(()) })
    }

    fn prune<'a>(&'a self, scope: &'a str, before: OffsetDateTime) -> LedgerFuture<'a, u64> {
        let mut inner = self.lock();
        let mut removed = 0;
        if let Some(intents) = inner.intents.get_mut(scope) {
            let count = intents.len();
            intents.retain(|i| i.state == IntentState::Open || i.created_at >= before);
            removed = (count - intents.len()) as u64;
        }
        Box::pin(async move { Ok(removed) })
    }
}
