//! Typed payloads for every webhook event and action GitHub describes.
//!
//! The types are generated from GitHub's webhook schema, `@octokit/openapi-webhooks`
//! (the pinned version is named at the top of each file in `events/generated/`), by
//! `cargo run -p xtask -- codegen`. Each event has a payload struct (`PullRequestEvent`)
//! and, when it has actions, an action enum (`PullRequestAction`). Objects that several
//! events share (a [`User`], a [`Repository`], a [`PullRequest`], ...) are one type.
//!
//! Parsing is forward-compatible: unknown fields are ignored, unknown enum values and
//! actions are kept as `Unknown(String)`, and an event this version does not know
//! parses to [`Event::Unknown`] with its raw JSON.
//!
//! A field is a plain type only where GitHub has always sent it: every schema
//! variant (github.com, GHEC, GHES, current and earlier releases) requires it, and
//! every recorded payload has it. All others are `Option`, and their docs say why.
//! A field that still does not fit a payload gives way instead of failing the event
//! (see [`FieldWarning`]); [`Event::parse_strict`] turns that into an error.
//!
//! ```
//! use octohook::events::{Event, IssuesAction};
//! use octohook::EventKind;
//!
//! let body = br#"{
//!     "action": "opened",
//!     "issue": {"id": 1, "number": 7, "title": "Fix the build"},
//!     "repository": {"id": 2, "name": "octohook", "full_name": "octo/octohook"},
//!     "sender": {"id": 3, "login": "octocat"}
//! }"#;
//! let event = Event::parse(&EventKind::Issues, bytes::Bytes::from_static(body)).unwrap();
//! match &event {
//!     Event::Issues(issues) => {
//!         assert_eq!(issues.action, IssuesAction::Opened);
//!         assert_eq!(issues.issue.number, 7);
//!         assert_eq!(issues.issue.title.as_deref(), Some("Fix the build"));
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! assert_eq!(event.action(), Some("opened"));
//! // The JSON it was parsed from stays reachable.
//! assert_eq!(&event.raw()[..], &body[..]);
//!
//! // An event this version does not know is not an error.
//! let unknown = Event::parse(&EventKind::from_name("brand_new"), bytes::Bytes::from_static(b"{}"));
//! assert!(matches!(unknown, Ok(Event::Unknown { .. })));
//! ```
//!
//! # Event groups
//!
//! The payload types take most of this crate's build time, so they come in groups,
//! one Cargo feature each. `events` (a default feature) enables every group; to build
//! only the groups you handle, turn the default features off and name them:
//!
//! ```toml
//! octohook = { version = "0.1", default-features = false, features = ["events-pull-request", "events-issues"] }
//! ```
//!
//! Each group brings its events' payloads and action enums, and the objects they use.
//! An event whose group is not enabled has no [`Event`] variant: it parses to
//! [`Event::Unknown`] with its raw JSON, like an event this version does not know, and
//! [`supported_names`] leaves it out. `events-core` alone gives the machinery
//! ([`Event`], [`Payload`], the `Dispatcher`) without any typed event.
//!
#![doc = include_str!("generated/groups.md")]

mod change;
mod error;
mod int_or_string;
mod json_path;
mod payload;
mod shape;
mod timestamp;
mod warning;

mod generated;

use bytes::Bytes;

pub use change::Change;
pub use error::EventError;
pub use generated::*;
pub use int_or_string::IntOrString;
pub use payload::{EventAction, Payload, WebhookEvent};
#[doc(hidden)]
pub use shape::Shape;
pub use timestamp::Timestamp;
pub use warning::{FieldWarning, Found, Resolution};

use crate::EventKind;

impl Event {
    /// Parses a JSON payload of event `kind` into its typed variant.
    ///
    /// An event this version does not know becomes [`Event::Unknown`]. A field that
    /// does not fit its type never sinks the event: it gives way and is reported in
    /// [`warnings`](Self::warnings) (see [`FieldWarning`]). Only a payload that is
    /// not a JSON object, or whose identifying fields (the `action`, the main
    /// object's `id` and `number`) are absent or of the wrong type, is an error, and
    /// the error names the JSON path of the defect.
    pub fn parse(kind: &EventKind, payload: impl Into<Bytes>) -> Result<Self, EventError> {
        Self::parse_kind(kind, payload.into(), false)
    }

    /// Parses like [`parse`](Self::parse), but any field that does not fit its type is
    /// an error naming its path: for tests that must notice schema drift.
    ///
    /// ```
    /// use octohook::EventKind;
    /// use octohook::events::Event;
    ///
    /// let body = br#"{"action": "opened", "issue": {"id": 1, "title": "x"}}"#;
    /// let error = Event::parse_strict(&EventKind::Issues, bytes::Bytes::from_static(body)).unwrap_err();
    /// assert_eq!(error.to_string(), "at issue: missing field `number`");
    /// ```
    pub fn parse_strict(kind: &EventKind, payload: impl Into<Bytes>) -> Result<Self, EventError> {
        Self::parse_kind(kind, payload.into(), true)
    }

    /// Whether this is an event this version does not know, or one whose group's
    /// feature is not enabled.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Self::Unknown { .. })
    }
}

/// Every supported `event` and `event.action` name, one per event-action of the
/// schema (events without actions appear once, by name), for the enabled groups.
///
/// ```
/// let names: Vec<String> = octohook::events::supported_names().collect();
/// assert!(names.contains(&"pull_request.opened".to_owned()));
/// assert!(names.contains(&"push".to_owned()));
/// ```
pub fn supported_names() -> impl Iterator<Item = String> {
    SUPPORTED.iter().flat_map(|(event, actions)| {
        let names: Vec<String> = if actions.is_empty() {
            vec![(*event).to_owned()]
        } else {
            actions.iter().map(|a| format!("{event}.{a}")).collect()
        };
        names
    })
}
