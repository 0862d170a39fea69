//! Manage the GitHub webhooks that feed a service: register them idempotently at
//! start-up, keep their configuration, inspect their deliveries and redeliver
//! failed ones, through GitHub's REST API.
//!
//! - Handlers per area: [`Client::repo_hooks`], [`Client::org_hooks`] and
//!   [`Client::app_hook`]; each hook's [`Deliveries`].
//! - Authentication with a [`Token`] (personal access token, installation token),
//!   as a GitHub App with an [`AppJwt`], as one of its installations with an
//!   [`InstallationToken`] (minted, cached and refreshed by the client), or your
//!   own [`Authenticate`]. Credentials never appear in errors, `Debug` output or
//!   logs.
//! - GitHub.com, GHE.com and GitHub Enterprise Server: trust a private CA
//!   ([`CaCertificates`]), the operating system's roots ([`DefaultRoots`]), or
//!   bring your own `reqwest::Client` ([`ClientOptions::with_http_client`]). TLS
//!   is rustls with the *ring* provider.
//! - Every request sends `Accept: application/vnd.github+json`,
//!   `X-GitHub-Api-Version: 2022-11-28` and a `User-Agent`; 5xx answers and rate
//!   limits are retried with capped, jittered backoff under an overall deadline
//!   ([`RetryOptions`]).
//! - Lists come as a [`Page`] with the next page's number or cursor, or as a lazy
//!   stream over every item.
//! - With the `redelivery` feature, a `Redeliverer` that redelivers failed
//!   deliveries once per event, with its state in a `RedeliveryLedger` (in memory,
//!   or in SQLite with `redelivery-sqlite`) so that crashes neither repeat nor
//!   forget one (module `redelivery`). Without it, the client builds no SQLite.
//!
//! ```no_run
//! use octohook::{EventKind, WebhookSecret};
//! use octohook_client::{Client, ClientOptions, HookContentType, HookTarget, Token};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new(Token::from_env("GITHUB_TOKEN")?, ClientOptions::default())?;
//! let secret = WebhookSecret::new(std::env::var("WEBHOOK_SECRET")?)?;
//! let ensured = client
//!     .ensure_hook(
//!         &HookTarget::repository("octo-org", "hello-world"),
//!         "https://hooks.example.com/github",
//!         &[EventKind::Push, EventKind::PullRequest],
//!         Some(&secret),
//!         HookContentType::Json,
//!     )
//!     .await?;
//! println!("hook {} ({:?})", ensured.hook.id, ensured.action);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// First, so that the modules below can define ids with it.
#[macro_use]
mod id_newtype;

mod app;
mod auth;
mod client;
mod deliveries;
// Before `redelivery`, whose ledger error uses its `message_error!`.
#[macro_use]
mod error;
mod hooks;
mod installation;
pub mod models;
mod page;
#[cfg(feature = "pull")]
pub mod pull;
#[cfg(feature = "redelivery")]
pub mod redelivery;
mod retry;
mod target;
mod tls;

pub use app::AppHook;
pub use auth::{AppJwt, Authenticate, Credential, Token};
pub use client::{API_VERSION, Client, ClientOptions, GITHUB_API_URL};
pub use deliveries::{Deliveries, DeliveryQuery};
pub use error::{
    ApiError, AuthError, ClientError, DecodeError, FieldError, RateLimit, RateLimitKind,
    TransportError, ValidationError,
};
pub use hooks::{EnsureAction, EnsuredHook, Hooks};
pub use installation::{INSTALLATION_TOKEN_REFRESH_MARGIN, InstallationToken};
pub use models::{
    CertificateCheck, ConfigUpdate, Delivery, DeliveryCursor, DeliveryId, DeliveryOutcome,
    DeliverySummary, HookContentType, HookKind, HookUpdate, NewHook, RegisteredHook,
    RegisteredHookConfig,
};
pub use octohook::{DeliveryGuid, EventKind, HookId, WebhookSecret};
pub use page::Page;
#[cfg(feature = "redelivery-sqlite")]
pub use redelivery::SqliteLedger;
#[cfg(feature = "redelivery")]
pub use redelivery::{
    LedgerError, MemoryLedger, REDELIVERY_WINDOW, RedeliverOptions, Redeliverer, RedeliveryError,
    RedeliveryLedger, RunReport,
};
pub use retry::RetryOptions;
pub use target::{HookRef, HookTarget, InvalidRepository};
pub use tls::{CaCertificates, DefaultRoots};

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
