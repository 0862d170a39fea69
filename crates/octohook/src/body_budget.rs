//! [`BodyBudget`]: a bound on the bytes of bodies held before their signature is
//! checked, across every connection of a receiver.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use crate::Error;

/// The default budget: 256 MiB of unverified bodies, shared by every verifier
/// of the process that was given no budget of its own.
pub const DEFAULT_BODY_BUDGET: u64 = 256 * 1024 * 1024;

/// Bodies up to this size are small: the reserve is kept for them.
const SMALL_BODY: u64 = 1024 * 1024;

/// How long a refused client is told to wait (`Retry-After`): by then every
/// body that held the budget has arrived or run out of its read timeout.
pub(crate) const RETRY_AFTER_SECS: u64 = 10;

/// How many bytes of request bodies may be held in memory, across all
/// connections, before their signatures are checked.
///
/// Until a body is verified, anyone can send one: without a bound, an attacker
/// without the secret makes the receiver hold 25 MiB per connection (GitHub's
/// cap) for as long as the read timeout allows. A verifier reserves a body's
/// announced `Content-Length` before reading any of it, and each chunk of a body
/// without one as it arrives; the bytes are given back once the signature has
/// been checked (or the body abandoned). A body that does not fit is refused
/// without being read: 503 with `Retry-After` ([`Error::BodyBudgetExhausted`]),
/// or 413 when it could never fit.
///
/// **Small deliveries keep getting through.** Bodies over 1 MiB may together
/// use the budget minus a reserve (an eighth of it, at most 32 MiB), so a flood
/// of large unauthenticated bodies leaves room for the many small deliveries
/// GitHub sends (most are a few KiB).
///
/// Clones share one budget. [`Verifier::new`](crate::Verifier::new) uses
/// [`BodyBudget::process_default`], one 256 MiB budget shared by every verifier
/// of the process; give receivers their own with
/// [`Verifier::with_body_budget`](crate::Verifier::with_body_budget).
///
/// ```
/// use octohook::{BodyBudget, Verifier, WebhookSecret};
///
/// let budget = BodyBudget::new(64 * 1024 * 1024);
/// let verifier = Verifier::new(WebhookSecret::new("s3cret").unwrap()).with_body_budget(budget.clone());
/// assert_eq!(budget.in_use(), 0);
/// assert_eq!(budget.large_body_share(), 56 * 1024 * 1024);
/// ```
#[derive(Clone)]
pub struct BodyBudget {
    state: Arc<State>,
}

struct State {
    total: u64,
    reserve: u64,
    used: Mutex<Usage>,
}

#[derive(Default)]
struct Usage {
    all: u64,
    large: u64,
}

impl BodyBudget {
    /// A budget of `total` bytes, with a reserve for small bodies of an eighth
    /// of it (at most 32 MiB).
    pub fn new(total: u64) -> Self {
        Self::with_reserve(total, (total / 8).min(32 * 1024 * 1024))
    }

    /// A budget of `total` bytes of which bodies over 1 MiB may use all but
    /// `reserve`.
    pub fn with_reserve(total: u64, reserve: u64) -> Self {
        Self {
            state: Arc::new(State {
                total,
                reserve: reserve.min(total),
                used: Mutex::new(Usage::default()),
            }),
        }
    }

    /// The budget shared by every verifier without one of its own:
    /// [`DEFAULT_BODY_BUDGET`] (256 MiB).
    pub fn process_default() -> Self {
        static DEFAULT: OnceLock<BodyBudget> = OnceLock::new();
        DEFAULT
            .get_or_init(|| Self::new(DEFAULT_BODY_BUDGET))
            .clone()
    }

    /// The budget's size in bytes.
    pub fn total(&self) -> u64 {
        self.state.total
    }

    /// How much of it bodies over 1 MiB may use together.
    pub fn large_body_share(&self) -> u64 {
        self.state.total - self.state.reserve
    }

    /// Bytes held now by bodies being read.
    pub fn in_use(&self) -> u64 {
        self.usage().all
    }

    fn usage(&self) -> std::sync::MutexGuard<'_, Usage> {
        // The counters stay consistent whatever panicked while they were locked:
        // each update is a pair of additions checked before either is made.
        self.state
            .used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn hold(&self) -> BudgetHold {
        BudgetHold {
            budget: self.clone(),
            held: 0,
            large: false,
        }
    }
}

impl fmt::Debug for BodyBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyBudget")
            .field("total", &self.state.total)
            .field("reserve", &self.state.reserve)
            .field("in_use", &self.in_use())
            .finish()
    }
}

/// What one body holds of a [`BodyBudget`]; given back when dropped.
pub(crate) struct BudgetHold {
    budget: BodyBudget,
    held: u64,
    large: bool,
}

impl BudgetHold {
    /// Holds `size` bytes in all (more than before, or nothing changes).
    pub(crate) fn grow_to(&mut self, size: u64) -> Result<(), Error> {
        if size <= self.held {
            return Ok(());
        }
        let state = &self.budget.state;
        let large = size > SMALL_BODY;
        if size > state.total || (large && size > state.total - state.reserve) {
            return Err(Error::BodyTooLarge {
                limit: if large {
                    state.total - state.reserve
                } else {
                    state.total
                },
            });
        }
        let extra = size - self.held;
        let extra_large = match (self.large, large) {
            (true, _) => extra,
            (false, true) => size,
            (false, false) => 0,
        };
        let mut usage = self.budget.usage();
        let all = usage.all + extra;
        let large_total = usage.large + extra_large;
        if all > state.total || large_total > state.total - state.reserve {
            return Err(Error::BodyBudgetExhausted {
                retry_after_secs: RETRY_AFTER_SECS,
            });
        }
        usage.all = all;
        usage.large = large_total;
        drop(usage);
        self.held = size;
        self.large = large;
        Ok(())
    }
}

impl Drop for BudgetHold {
    fn drop(&mut self) {
        if self.held == 0 {
            return;
        }
        let mut usage = self.budget.usage();
        usage.all -= self.held;
        if self.large {
            usage.large -= self.held;
        }
    }
}

impl fmt::Debug for BudgetHold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BudgetHold")
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn large_bodies_leave_the_reserve_to_small_ones_and_give_back_what_they_held() {
        let budget = BodyBudget::with_reserve(100 * MIB, 10 * MIB);
        let mut large: Vec<BudgetHold> = Vec::new();
        for _ in 0..3 {
            let mut hold = budget.hold();
            hold.grow_to(25 * MIB).unwrap();
            large.push(hold);
        }
        // 75 MiB held; a fourth 25 MiB body would pass the 90 MiB large share.
        let mut fourth = budget.hold();
        assert!(matches!(
            fourth.grow_to(25 * MIB),
            Err(Error::BodyBudgetExhausted { .. })
        ));
        // Growing little by little (chunked) is refused the same way.
        fourth.grow_to(MIB).unwrap();
        assert!(fourth.grow_to(16 * MIB).is_err());
        // Small bodies still fit, up to the whole budget.
        let mut small: Vec<BudgetHold> = (0..24)
            .map(|_| {
                let mut hold = budget.hold();
                hold.grow_to(MIB).unwrap();
                hold
            })
            .collect();
        assert_eq!(budget.in_use(), 100 * MIB);
        let mut one_more = budget.hold();
        assert!(one_more.grow_to(1).is_err());
        small.clear();
        large.clear();
        drop(fourth);
        assert_eq!(budget.in_use(), 0);
        assert_eq!(budget.usage().large, 0);
    }

    #[test]
    fn a_body_that_could_never_fit_is_too_large() {
        let budget = BodyBudget::with_reserve(20 * MIB, 4 * MIB);
        assert!(matches!(
            budget.hold().grow_to(17 * MIB),
            Err(Error::BodyTooLarge { limit }) if limit == 16 * MIB
        ));
    }
}
