//! The previous value of an edited attribute.

use serde::Deserialize;

/// The previous value of an attribute, as sent in an `edited` payload's `changes`
/// (`"changes": {"title": {"from": "Old title"}}`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct Change<T> {
    /// The value before the change.
    pub from: T,
}
