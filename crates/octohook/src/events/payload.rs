//! A typed payload that keeps its JSON, and the traits that tie payload types to
//! [`Event`] variants and action enums.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::{Event, EventError};
use crate::EventKind;

/// A typed payload together with the JSON it was parsed from.
///
/// It dereferences to the payload (`pr.number`, `pr.action`); [`raw`](Self::raw) gives
/// the exact JSON bytes, so nothing the types leave out is lost. Cloning is cheap: the
/// payload is shared, the bytes are reference-counted.
pub struct Payload<T> {
    value: Arc<T>,
    raw: Bytes,
}

impl<T: DeserializeOwned> Payload<T> {
    /// Parses JSON into `T`. On failure the error names the JSON path that did not fit.
    pub fn parse(raw: impl Into<Bytes>) -> Result<Self, EventError> {
        let raw = raw.into();
        match serde_json::from_slice::<T>(&raw) {
            Ok(value) => Ok(Self {
                value: Arc::new(value),
                raw,
            }),
            Err(error) => Err(EventError::locate(&raw, error)),
        }
    }
}

impl<T> Payload<T> {
    /// The JSON payload exactly as received.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The typed payload.
    pub fn get(&self) -> &T {
        &self.value
    }

    /// The typed payload, shared.
    pub fn shared(&self) -> Arc<T> {
        Arc::clone(&self.value)
    }
}

impl<T> Deref for Payload<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> Clone for Payload<T> {
    fn clone(&self) -> Self {
        Self {
            value: Arc::clone(&self.value),
            raw: self.raw.clone(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Payload<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.value, f)
    }
}

impl<T: PartialEq> PartialEq for Payload<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

/// A webhook event's payload type, such as [`PullRequestEvent`](super::PullRequestEvent).
///
/// Implemented by the generated payload of every event; the dispatcher uses it to
/// route deliveries (`Dispatcher::on::<PullRequestEvent>`).
pub trait WebhookEvent: DeserializeOwned + fmt::Debug + Send + Sync + 'static {
    /// The event's kind (`X-GitHub-Event`).
    const KIND: EventKind;

    /// This event's payload, if `event` is this event.
    fn from_event(event: &Event) -> Option<&Payload<Self>>;

    /// The payload's `action`, for events that have one.
    fn action_name(&self) -> Option<&str>;
}

/// An event's action enum, such as [`PullRequestAction`](super::PullRequestAction).
pub trait EventAction: Clone + PartialEq + fmt::Debug + Send + Sync + 'static {
    /// The event the actions belong to.
    type Event: WebhookEvent;

    /// The action of a payload.
    fn of(event: &Self::Event) -> Option<&Self>;

    /// The action as GitHub sends it.
    fn as_str(&self) -> &str;
}
