//! The receiving pipeline of `octohook serve`, as a library: a hardened HTTP
//! server, admin endpoints, and the pipeline that verifies, stores, processes
//! and drains GitHub webhook deliveries.
//!
//! - [`Receiver::start`] composes the pipeline from a [`ReceiverConfig`]: the verifying layer of
//!   `octohook-tower`, a delivery store ([`StoreConfig`]) or, without one, the
//!   [`LineWriter`], the inbox's workers ([`ProcessingConfig`]), the admin
//!   endpoints, and the server; it serves until shutdown and drains the
//!   workers.
//! - [`serve`] is the hardened server on its own ([`ServerConfig`]): timeouts
//!   on heads, bodies and idle connections, a connection cap below the
//!   open-file limit, graceful shutdown; for any axum router or tower service.
//! - [`admin`] is the `/healthz` and `/metrics` router.
//! - With the `pull` feature, [`Receiver::pull`] also reads a hook's
//!   deliveries from GitHub's API into the same inbox ([`PullConfig`]), so a
//!   receiver that was down catches up by itself.
//! - With the `otel` feature, [`telemetry`] exports the pipeline's
//!   OpenTelemetry spans (`receive`, `store`, `attempt`: one trace per
//!   delivery) over OTLP.
//!
//! With the `clap` feature, the configuration derives `clap::Args` with
//! `octohook serve`'s flags, so that a service can offer the same ones.
//!
//! ```no_run
//! use octohook::{Verifier, WebhookSecret};
//! use octohook_server::{Receiver, ReceiverConfig, StoreConfig, shutdown_signal};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = WebhookSecret::new(std::env::var("GITHUB_WEBHOOK_SECRET")?)?;
//! let config = ReceiverConfig {
//!     store: StoreConfig::Sqlite {
//!         path: "./octohook-inbox.db".into(),
//!         size_limit: None,
//!         create: true,
//!         read_only: false,
//!     },
//!     admin: Some("127.0.0.1:9090".parse()?),
//!     ..ReceiverConfig::default()
//! };
//! let receiver = Receiver::start(Verifier::new(secret), config).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! receiver.serve(listener, shutdown_signal()).await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod admin;
mod byte_size;
#[cfg(feature = "clap")]
mod flags;
mod line_writer;
mod processing_config;
#[cfg(feature = "pull")]
mod pull_config;
mod receiver;
mod server;
#[cfg(feature = "clap")]
mod store_args;
mod store_config;
#[cfg(feature = "otel")]
pub mod telemetry;

pub use byte_size::{ByteSize, ByteSizeError};
pub use line_writer::LineWriter;
#[cfg(any(feature = "nats", feature = "amqp"))]
pub use octohook_broker;
#[cfg(any(feature = "nats", feature = "amqp"))]
pub use processing_config::PUBLISH_ENV;
pub use processing_config::{FORWARD_ENV, LINES_PREFETCH, ProcessingConfig, ProcessingError};
#[cfg(feature = "pull")]
pub use pull_config::{DEFAULT_PULL_INTERVAL, PullConfig, PullStartError};
pub use receiver::{Receiver, ReceiverConfig, ReceiverError};
pub use server::{ServerConfig, raise_open_file_limit, serve, shutdown_signal};
#[cfg(feature = "clap")]
pub use store_args::{StoreArgs, StoreArgsError};
pub use store_config::{DATABASE_URL_ENV, DEFAULT_DB, StoreConfig, StoreOpenError};
#[cfg(feature = "otel")]
pub use telemetry::{Telemetry, TelemetryBuilder, TelemetryError};

/// The README's examples, compiled as doctests so they stay true.
// `clap` turns on every store and handler the examples use; `otel`, Telemetry.
#[cfg(all(doctest, feature = "clap", feature = "otel"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
