//! A stored row as the SQL stores (SQLite, PostgreSQL) read it, and its
//! mapping to a [`StoredDelivery`]: one mapping for both.

use std::time::SystemTime;

use bytes::Bytes;
use octohook::{ContentType, DeliveryGuid, EventKind, RawHeaders};

use crate::{
    DeliveryKey, DeliveryStatus, Lease, StatusCounts, StoreError, StoredDelivery, StoredDeliveryId,
    UnknownStatus,
};

/// Serializes stored headers as a JSON array of `[name, value]` pairs (the
/// SQL stores' `headers` column).
pub(crate) fn headers_to_json(headers: &RawHeaders) -> String {
    serde_json::to_string(&headers.iter().collect::<Vec<_>>()).unwrap_or_else(|_| "[]".to_owned())
}

/// The inverse of [`headers_to_json`], by [`RawHeaders`]' rules.
pub(crate) fn headers_from_json(
    id: StoredDeliveryId,
    json: &str,
) -> Result<RawHeaders, StoreError> {
    let pairs: Vec<(String, String)> = serde_json::from_str(json)
        .map_err(|error| corrupt(id, format!("headers are not a JSON list of pairs: {error}")))?;
    let pairs = pairs
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()));
    Ok(RawHeaders::from_pairs(pairs))
}

/// Why a row cannot be read back: what no store wrote.
fn corrupt(id: StoredDeliveryId, reason: String) -> StoreError {
    StoreError::Corrupt { id, reason }
}

/// Reads a stored content type back.
fn content_type_from_db(id: StoredDeliveryId, text: &str) -> Result<ContentType, StoreError> {
    ContentType::from_header(text.as_bytes())
        .map_err(|_| corrupt(id, format!("{text:?} is not a webhook content type")))
}

/// Reads a stored GUID back.
fn guid_from_db(id: StoredDeliveryId, text: &str) -> Result<DeliveryGuid, StoreError> {
    text.parse()
        .map_err(|_| corrupt(id, format!("{text:?} is not a delivery GUID")))
}

/// Reads a stored status back.
fn status_from_db(id: StoredDeliveryId, text: &str) -> Result<DeliveryStatus, StoreError> {
    text.parse()
        .map_err(|error: UnknownStatus| corrupt(id, error.to_string()))
}

/// How many deliveries are in each status, one `(status, count)` row each.
pub(crate) const COUNT_BY_STATUS: &str =
    "SELECT status, COUNT(*) FROM octohook_deliveries GROUP BY status";

/// The counts of the rows [`COUNT_BY_STATUS`] read.
pub(crate) fn counts_from_rows(
    rows: impl IntoIterator<Item = Result<(String, i64), StoreError>>,
) -> Result<StatusCounts, StoreError> {
    let mut counts = StatusCounts::default();
    for row in rows {
        let (status, count) = row?;
        let status = status_from_db(StoredDeliveryId::new(0), &status)?;
        counts.add(status, u64::try_from(count).unwrap_or(0));
    }
    Ok(counts)
}

/// A stored row as the SQL stores read it, before it is checked.
#[derive(Debug)]
pub(crate) struct RowParts {
    pub(crate) id: StoredDeliveryId,
    /// `NULL` for "no hook id".
    pub(crate) hook_id: Option<i64>,
    pub(crate) guid: String,
    pub(crate) event: String,
    pub(crate) action: Option<String>,
    pub(crate) content_type: String,
    pub(crate) headers: String,
    pub(crate) body: Vec<u8>,
    pub(crate) received_at: SystemTime,
    pub(crate) status: String,
    pub(crate) attempts: i64,
    pub(crate) claim_seq: i64,
    pub(crate) due_at: Option<SystemTime>,
    pub(crate) lease_owner: Option<String>,
    pub(crate) last_error: Option<String>,
    pub(crate) updated_at: SystemTime,
    /// The `trace_parent` column (schema version 6), `NULL` when none.
    pub(crate) trace_parent: Option<String>,
    /// `pushed` or `pulled`.
    pub(crate) origin: String,
}

impl RowParts {
    /// The delivery, and the sequence number of its latest claim.
    pub(crate) fn into_delivery(self) -> Result<(StoredDelivery, i64), StoreError> {
        let id = self.id;
        let status = status_from_db(id, &self.status)?;
        let (next_attempt_at, lease) = match status {
            DeliveryStatus::Pending => (self.due_at, None),
            DeliveryStatus::Processing => (
                None,
                self.due_at.map(|until| Lease {
                    owner: self.lease_owner.unwrap_or_default(),
                    until,
                }),
            ),
            DeliveryStatus::Done | DeliveryStatus::Failed => (None, None),
        };
        let delivery = StoredDelivery {
            id,
            key: DeliveryKey::new(
                DeliveryKey::hook_id_from_db(self.hook_id),
                guid_from_db(id, &self.guid)?,
            ),
            event: EventKind::from_name(&self.event),
            action: self.action,
            content_type: content_type_from_db(id, &self.content_type)?,
            headers: headers_from_json(id, &self.headers)?,
            body: Bytes::from(self.body),
            received_at: self.received_at,
            origin: self
                .origin
                .parse()
                .map_err(|error: crate::UnknownOrigin| corrupt(id, error.to_string()))?,
            status,
            attempts: u32::try_from(self.attempts.max(0)).unwrap_or(u32::MAX),
            last_error: self.last_error,
            next_attempt_at,
            lease,
            updated_at: self.updated_at,
            // Only a link between spans: a value no store wrote is dropped,
            // not worth failing the delivery for.
            trace_parent: self.trace_parent.and_then(|text| text.parse().ok()),
        };
        Ok((delivery, self.claim_seq))
    }
}
