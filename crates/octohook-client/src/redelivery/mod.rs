//! Automatic redelivery of failed webhook deliveries, once per event, safe
//! across crashes and restarts.
//!
//! GitHub does not redeliver a failed delivery by itself: it offers
//! `POST …/deliveries/{id}/attempts` for up to 3 days
//! ([`REDELIVERY_WINDOW`]). A [`Redeliverer`] run does what a careful operator
//! would:
//!
//! 1. **Scan.** Page through the hook's deliveries newest first, 100 at a time,
//!    back to the checkpoint of the last completed run (less a small overlap for
//!    deliveries GitHub lists late), or back to
//!    [`since`](RedeliverOptions::since) on the first run; never beyond the
//!    3-day window. The scan is unfiltered: deciding needs the successes too,
//!    and GitHub's `status=failure` filter selects 4xx–5xx answers only, so it
//!    would miss attempts that got no answer at all (`status_code` 0: timeouts,
//!    refused connections). Scanning failures and successes separately costs one
//!    page more than one unfiltered pass whenever anything failed.
//! 2. **Group by GUID.** A GUID *succeeded* if any of its attempts has status
//!    `OK` (or a 2xx answer). A GUID that did not succeed is redelivered once,
//!    unless it already had
//!    [`max_attempts_per_guid`](RedeliverOptions::max_attempts_per_guid)
//!    redeliveries: ours (from the ledger) or anyone's (listed with
//!    `redelivery: true`; a listed redelivery made after one of our requests is
//!    that request's, so it is not counted twice). The newest failed attempt is
//!    the one redelivered. Failures seen only beyond the window are counted as
//!    too old and never requested.
//! 3. **Redeliver**, oldest first, up to
//!    [`max_redeliveries`](RedeliverOptions::max_redeliveries) per run, waiting
//!    out rate limits up to [`max_rate_limit_wait`](RedeliverOptions::max_rate_limit_wait).
//! 4. **Checkpoint.** Save the newest delivery time seen, held back to the
//!    oldest delivery of any GUID left unfinished (over the cap, failed request,
//!    unconfirmed intent), so the next run sees those again.
//!
//! Every run returns a [`RunReport`] and emits `tracing` events with the hook,
//! GUID, delivery id and intent id as fields.
//!
//! # State and crash safety
//!
//! A [`RedeliveryLedger`] keeps, per hook (its *scope*), the [`Checkpoint`] and one
//! [`Intent`] per redelivery request. [`SqliteLedger`] (feature
//! `redelivery-sqlite`) keeps them in a SQLite file; [`MemoryLedger`] in the process; any
//! shared database can implement the trait for several runners.
//!
//! The order of a redelivery is: **record the intent** (open) and wait until
//! the ledger says it is durable, **then send the POST**, then record the answer
//! (accepted, or rejected when GitHub surely did not act on it). The claim that
//! records the intent is atomic: it fails when the GUID already has its
//! attempts, so two runners sharing a ledger never both redeliver one GUID.
//! Consider a crash (or `SIGKILL`) at each point:
//!
//! - *Before the intent is durable*: nothing was sent and nothing recorded; the
//!   checkpoint was not saved either (it is saved last), so the next run scans
//!   the same deliveries and decides afresh.
//! - *After the intent, before or during the POST, or before the answer is
//!   recorded*: the intent is open, and the POST may or may not have reached
//!   GitHub. An open intent counts as an attempt, so no later run sends a second
//!   request while it is open. The next run reconciles it with the deliveries
//!   list: GitHub answers 202 when it accepts a redelivery and then makes it
//!   like any delivery, listed with `redelivery: true` and the same GUID. A
//!   redelivery of that GUID made at or after the intent's time (less a minute
//!   of clock skew) **confirms** the intent: done, never repeated.
//! - If no such redelivery is listed, the request either never reached GitHub or
//!   was accepted and not made yet. While the intent is younger than
//!   [`settle`](RedeliverOptions::settle) (5 minutes by default) the runner
//!   cannot tell, so it waits: the GUID is skipped and the checkpoint held back.
//!   After `settle` the intent is **abandoned**: taken as never sent, and the
//!   GUID is redelivered again under a new intent.
//!
//! So a failed GUID is never forgotten (its intent, or the held-back checkpoint,
//! keeps it in view until it is redelivered or leaves the window), and it is
//! redelivered twice only if GitHub accepted a request whose run died before
//! recording the answer *and* GitHub took longer than `settle` to list the
//! redelivery. GitHub makes a redelivery within seconds (its delivery timeout is
//! 10 s), so the default 5 minutes leaves a wide margin; raise it for a GitHub
//! Enterprise Server with long queues. Requests that time out or get a 5xx are
//! treated exactly like a crash during the POST: the intent stays open and is
//! reconciled later, because GitHub may have acted on them. For the same reason
//! the client never retries a redelivery POST after it may have been sent.
//! Receivers should deduplicate on the GUID anyway (`X-GitHub-Delivery`).
//!
//! A [dry run](RedeliverOptions::dry_run) sends no POST and writes nothing.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use octohook_client::{
//!     Client, ClientOptions, HookId, HookRef, RedeliverOptions, Redeliverer, SqliteLedger, Token,
//! };
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new(Token::from_env("GITHUB_TOKEN")?, ClientOptions::default())?;
//! let redeliverer = Redeliverer::new(
//!     client,
//!     HookRef::organization("octo-org", HookId::new(7)),
//!     Arc::new(SqliteLedger::open("octohook-state.db").await?),
//!     RedeliverOptions { max_redeliveries: Some(100), ..RedeliverOptions::default() },
//! );
//! loop {
//!     let report = redeliverer.run().await?;
//!     println!("redelivered {} of {} failed events", report.redelivered, report.failed_guids);
//!     tokio::time::sleep(Duration::from_secs(600)).await;
//! }
//! # }
//! ```

mod engine;
mod history;
mod ledger;
mod memory_ledger;
mod report;
#[cfg(feature = "redelivery-sqlite")]
mod sqlite_ledger;

pub use crate::target::HookRef;
pub use engine::{REDELIVERY_WINDOW, RedeliverOptions, Redeliverer, RedeliveryError, ScanProgress};
pub use ledger::{
    Checkpoint, Intent, IntentClaim, IntentId, IntentState, LedgerError, LedgerFuture, NewIntent,
    RedeliveryLedger,
};
pub use memory_ledger::MemoryLedger;
pub use report::{Redelivery, RedeliveryFailure, RunReport};
#[cfg(feature = "redelivery-sqlite")]
pub use sqlite_ledger::SqliteLedger;
