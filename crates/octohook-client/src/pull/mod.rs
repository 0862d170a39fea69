//! Pull mode: receive a hook's deliveries without being reachable from
//! GitHub, by reading them from GitHub's REST API into a durable inbox.
//!
//! GitHub records every delivery of a hook with the request it sent:
//! `GET …/hooks/{hook_id}/deliveries/{delivery_id}` returns its
//! `request.headers` and `request.payload`. A [`PullSource`] lists a hook's
//! deliveries (a repository's, an organization's, or a GitHub App's) since the
//! cursor it keeps in the inbox's store, reads the ones the inbox has not
//! stored, and stores each as a pulled delivery, deduplicated on (hook, GUID)
//! like a pushed one. Workers then process them as they process pushed ones.
//!
//! # Trust
//!
//! A pulled delivery is not signature-verified: the API returns its payload as
//! parsed JSON, not as the bytes GitHub signed. Its authenticity comes from the
//! API call (TLS to the configured host, a token allowed to read the hook), and
//! the types say so: it is an [`octohook::PulledDelivery`], never an
//! `octohook::VerifiedDelivery`, and is stored with
//! [`DeliveryOrigin::Pulled`](octohook_inbox::DeliveryOrigin::Pulled). Its body
//! is the payload re-serialised compactly, **not byte-identical** to what GitHub
//! signed, and it is kept without the recorded signature headers.
//!
//! # Cost
//!
//! One listing request per 100 deliveries, plus one read per delivery the inbox
//! does not hold yet ([`PullReport::api_requests`]): a delivery that was pushed
//! and stored costs no read. A poll that finds nothing new costs one request.
//!
//! # Crash safety
//!
//! The order of a run is: **list** (nothing written), then for each delivery,
//! oldest first, **look it up** in the inbox, **read** it, **store** it (an
//! insert-if-absent on (hook, GUID), committed before the next), and last
//! **save the cursor**, once every listed delivery is stored or skipped as
//! unavailable. A crash (or `SIGKILL`) at any point leaves the cursor where the
//! last completed run put it; the next run lists the same deliveries again,
//! finds the ones stored before the crash in the inbox (no read, no second
//! row), and stores the rest. So every delivery in the window is stored once,
//! and processed at least once by the inbox's workers. A run that fails (a 5xx
//! past the client's retries, a rate limit longer than
//! [`PullOptions::max_rate_limit_wait`], a refused credential) stops the same
//! way: nothing lost, the next run takes up.
//!
//! ```no_run
//! use octohook_client::pull::{PullOptions, PullSource};
//! use octohook_client::{Client, ClientOptions, HookId, HookRef, Token};
//! use octohook_inbox::{Inbox, SqliteStore};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new(Token::from_env("GITHUB_TOKEN")?, ClientOptions::default())?;
//! let inbox = Inbox::new(SqliteStore::open("octohook.db").await?);
//! let source = PullSource::new(
//!     client,
//!     HookRef::repository("octo-org", "hello-world", HookId::new(42)),
//!     inbox,
//!     PullOptions::default(),
//! );
//! let report = source.run().await?;
//! println!("stored {} of {} deliveries", report.stored, report.listed);
//! # Ok(()) }
//! ```

mod cursor;
mod report;
mod source;

pub use report::{MAX_SKIPPED_LISTED, PullProgress, PullReport, SkipReason, SkippedDelivery};
pub use source::{PULL_WINDOW, PullError, PullOptions, PullSource};
