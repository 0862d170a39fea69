//! A durable inbox for GitHub webhook deliveries.
//!
//! GitHub counts a delivery as failed when the receiver does not answer 2xx
//! within 10 seconds, and sends the same `X-GitHub-Delivery` GUID on every
//! redelivery and to every hook subscribed to the event. The robust pattern is to
//! store each verified delivery durably, answer at once, and process it
//! afterwards, once per (hook, GUID). This crate provides the pieces:
//!
//! - [`DeliveryStore`]: insert-if-absent keyed by (`hook_id`, `guid`) (a missing
//!   hook id is a key of its own, distinct from hook id 0), claims with leases,
//!   done / retry / failed with attempt counts and the last error, list, requeue
//!   and purge by age; rows are named by [`StoredDeliveryId`]. The same in
//!   batches ([`DeliveryStore::insert_batch`], [`DeliveryStore::claim_batch`],
//!   [`DeliveryStore::finish_batch`] with [`Finish`]): one transaction, and
//!   one disk flush or round trip, for many deliveries. Three
//!   implementations:
//!   - [`MemoryStore`]: in the process, forgetting finished deliveries after a
//!     time-to-live; no durability (the library default).
//!   - [`SqliteStore`] (feature `sqlite`, on by default): a SQLite file in WAL
//!     mode with `synchronous = FULL`, durable across a process crash; concurrent
//!     inserts share one commit.
//!   - [`PostgresStore`] (feature `postgres`, off by default: it pulls a database
//!     driver): for receivers on several machines; a unique key for
//!     deduplication (a duplicate is answered in one round trip),
//!     `FOR UPDATE SKIP LOCKED` for workers, `LISTEN`/`NOTIFY` to wake them on
//!     every machine, TLS through rustls with libpq's `sslmode`, migrations
//!     embedded and applied at connect time. See [PostgreSQL](#postgresql).
//! - [`Inbox`]: the hand-off from a receiver: [`Inbox::receive`] a verified
//!   delivery and answer with its [`Receipt`]: 200 once committed (new or
//!   duplicate), 503 when nothing was. Concurrent callers' deliveries are
//!   stored in one batch ([`InsertBatching`]). An `Inbox` is an
//!   [`octohook::ReceiveDelivery`], so the framework adapters' receiving routes
//!   do it for you. [`Inbox::process`]
//!   starts a pool of workers ([`Processing`]) that run a [`Handler`] on each
//!   stored delivery, claim and finish in batches, and
//!   [drain](Processing::drain) gracefully.
//! - [`handlers`]: a typed `Dispatcher` ([`handlers::Dispatch`]), JSON lines,
//!   a command, a forward, and [`handlers::Chain`] to run several; every handler
//!   finds its [`Attempt`] (number, idempotency key).
//! - [`Worker`]: claims the next due delivery, runs a [`Handler`], and marks it
//!   done, schedules a retry with [`Backoff`], or marks it failed after
//!   `max_attempts`. Workers on one or many machines never process the same
//!   delivery at once; a crashed worker's lease expires and its delivery is
//!   processed again, so handlers should use [`DeliveryKey`] as an idempotency
//!   key.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), octohook_inbox::StoreError> {
//! use octohook::EventKind;
//! use octohook_inbox::{
//!     DeliveryKey, DeliveryStatus, AttemptError, Inbox, NewDelivery, AttemptOutcome, StoredDelivery,
//!     WorkerConfig,
//! };
//!
//! let inbox = Inbox::in_memory();
//! let key = DeliveryKey::new(None, "a1".parse().unwrap());
//! // The receiver (usually through `Inbox::accept` with a verified delivery):
//! assert!(!inbox.insert(NewDelivery::new(key.clone(), EventKind::Ping, "{}")).await?.is_duplicate());
//! assert!(inbox.insert(NewDelivery::new(key.clone(), EventKind::Ping, "{}")).await?.is_duplicate());
//!
//! // A worker, usually spawned with `Worker::run`:
//! let worker = inbox.worker(WorkerConfig::new("worker-0"));
//! let handler = |delivery: StoredDelivery| async move {
//!     assert_eq!(delivery.payload().unwrap().as_ref(), b"{}");
//!     Ok::<(), AttemptError>(())
//! };
//! assert_eq!(worker.run_once(&handler).await?.unwrap().outcome, AttemptOutcome::Done);
//! assert_eq!(inbox.store().get(&key).await?.unwrap().status, DeliveryStatus::Done);
//! # Ok(())
//! # }
//! ```
//!
//! # PostgreSQL
//!
//! [`PostgresStore::connect`] takes a libpq connection string, URL or
//! `key=value`, and honours its `sslmode` and `sslrootcert`:
//!
//! ```text
//! postgres://octohook@db.internal/inbox?sslmode=verify-full&sslrootcert=/etc/octohook/db-ca.pem
//! ```
//!
//! | `sslmode` | encrypted | server certificate |
//! | --- | --- | --- |
//! | `disable` | no | - |
//! | `prefer` (default) | when the server accepts TLS | not checked |
//! | `require` | yes | not checked (with `sslrootcert`: as `verify-ca`) |
//! | `verify-ca` | yes | chain to a trusted root |
//! | `verify-full` | yes | chain to a trusted root, and the host name |
//!
//! Over a Unix socket no TLS is used, whatever the mode (as libpq does).
//!
//! Roots: `sslrootcert` (or [`PostgresOptions::ssl_root_cert`]), a rustls
//! configuration of your own ([`PostgresOptions::tls_config`]), or else
//! Mozilla's, compiled in. [`PostgresOptions::ssl_mode`] overrides the
//! string's `sslmode`. Certificate failures are [`StoreError::Tls`].
//!
//! Workers are woken by the database: a trigger `NOTIFY`s channel
//! `octohook_deliveries` when a delivery is committed or requeued, and each
//! store with workers `LISTEN`s on a connection of its own, so a delivery
//! received on one machine is claimed at once on another
//! ([`DeliveryStore::wakeups`]); the poll interval remains the fallback.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod attempt;
mod delivery_key;
mod delivery_origin;
mod delivery_status;
mod error;
pub mod handlers;
mod inbox;
mod insert_queue;
mod memory;
#[cfg(feature = "metrics")]
pub mod metrics;
mod new_delivery;
#[cfg(feature = "postgres")]
mod postgres;
mod processing;
mod receipt;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod schema_version;
#[cfg(test)]
mod signed_delivery;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql_row;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;
mod stored_delivery;
pub mod trace_context;
mod worker;

pub use attempt::Attempt;
pub use delivery_key::{BadDeliveryKey, DeliveryKey};
pub use delivery_origin::{DeliveryOrigin, UnknownOrigin};
pub use delivery_status::{DeliveryStatus, UnknownStatus};
pub use error::{StoreError, TlsError};
pub use inbox::Inbox;
pub use insert_queue::InsertBatching;
pub use memory::{DEFAULT_MAX_FINISHED, DEFAULT_SIZE_LIMIT, DEFAULT_TTL, MemoryStore};
pub use new_delivery::NewDelivery;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore, SslMode, UnknownSslMode};
pub use processing::{Drained, Processing};
pub use receipt::Receipt;
/// The rustls version [`PostgresOptions::tls_config`] takes a configuration of.
#[cfg(feature = "postgres")]
pub use rustls;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};
pub use store::{
    Claim, Claimed, Completion, DeliveryStore, Finish, Inserted, ListPages, ListQuery, PurgeQuery,
    StatusCounts, StoreFuture,
};
pub use stored_delivery::{Lease, StoredDelivery, StoredDeliveryId};
pub use trace_context::{BadTraceParent, TraceParent};
pub use worker::{AttemptError, AttemptOutcome, Backoff, Handler, Processed, Worker, WorkerConfig};

/// The README's examples, compiled as doctests so they stay true.
#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
