//! A typed payload that keeps its JSON, and the traits that tie payload types to
//! [`Event`] variants and action enums.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::shape::{Repair, Shape};
use super::{Event, EventError, FieldWarning};
use crate::EventKind;

/// A typed payload together with the JSON it was parsed from.
///
/// It dereferences to the payload (`pr.number`, `pr.action`); [`raw`](Self::raw) gives
/// the exact JSON bytes, so nothing the types leave out is lost, and
/// [`warnings`](Self::warnings) lists the fields that did not fit their type and gave
/// way. Cloning is cheap: the payload is shared, the bytes are reference-counted.
pub struct Payload<T> {
    value: Arc<T>,
    raw: Bytes,
    warnings: Arc<[FieldWarning]>,
}

impl<T: WebhookEvent> Payload<T> {
    /// Parses JSON into `T`. A field that does not fit its type gives way and is
    /// reported in [`warnings`](Self::warnings) (see [`FieldWarning`]); only a payload
    /// that is not a JSON object, or whose identifying fields (the `action`, the main
    /// object's `id` and `number`) are absent or of the wrong type, is an error.
    pub fn parse(raw: impl Into<Bytes>) -> Result<Self, EventError> {
        let raw = raw.into();
        match serde_json::from_slice::<T>(&raw) {
            Ok(value) => Ok(Self::new(value, raw, Vec::new())),
            Err(error) => Self::repair(raw, error),
        }
    }

    /// Parses JSON into `T`, failing on any field that does not fit its type: the
    /// error's path names the first such field (or the object that lacks it). For
    /// tests that must notice schema drift.
    pub fn parse_strict(raw: impl Into<Bytes>) -> Result<Self, EventError> {
        let raw = raw.into();
        match serde_json::from_slice::<T>(&raw) {
            Ok(value) => Ok(Self::new(value, raw, Vec::new())),
            Err(error) => {
                let mut value: Value = match serde_json::from_slice(&raw) {
                    Ok(value) => value,
                    Err(_) => return Err(EventError::locate(&raw, error)),
                };
                match Repair::strict(T::IDENTIFYING).run(&mut value, T::SHAPE) {
                    Err(defect) => Err(defect),
                    // The shapes found nothing: report serde's own error.
                    Ok(_) => Err(EventError::locate(&raw, error)),
                }
            }
        }
    }

    /// [`parse_strict`](Self::parse_strict) or [`parse`](Self::parse).
    // Unused when no event group is enabled (`events-core` alone).
    #[allow(dead_code)]
    pub(crate) fn parse_with(raw: Bytes, strict: bool) -> Result<Self, EventError> {
        if strict {
            Self::parse_strict(raw)
        } else {
            Self::parse(raw)
        }
    }

    /// The slow path, for payloads that do not fit as they are.
    fn repair(raw: Bytes, error: serde_json::Error) -> Result<Self, EventError> {
        let mut value: Value = match serde_json::from_slice(&raw) {
            Ok(value) => value,
            Err(_) => return Err(EventError::locate(&raw, error)),
        };
        let warnings = Repair::new(T::IDENTIFYING).run(&mut value, T::SHAPE)?;
        match T::deserialize(value) {
            Ok(value) => {
                for warning in warnings.iter().take(16) {
                    tracing::debug!(event = %T::KIND, %warning, "payload field gave way");
                }
                Ok(Self::new(value, raw, warnings))
            }
            Err(_) => Err(EventError::locate(&raw, error)),
        }
    }

    fn new(value: T, raw: Bytes, warnings: Vec<FieldWarning>) -> Self {
        Self {
            value: Arc::new(value),
            raw,
            warnings: warnings.into(),
        }
    }
}

impl<T> Payload<T> {
    /// The JSON payload exactly as received.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The fields that did not fit their type and gave way (empty for a payload
    /// that fits as sent).
    pub fn warnings(&self) -> &[FieldWarning] {
        &self.warnings
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
            warnings: Arc::clone(&self.warnings),
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

    /// The fields the payload type accepts, for parsing that lets odd fields give way.
    #[doc(hidden)]
    const SHAPE: &'static Shape;

    /// The JSON paths of the fields that identify the event and never give way: the
    /// `action` and the main object's `id` and `number` (`pull_request.number`).
    const IDENTIFYING: &'static [&'static str];
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
