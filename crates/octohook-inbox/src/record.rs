//! What the inbox keeps of a delivery: the key it is deduplicated on, what was
//! received, and where it stands in processing.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use octohook::header::{X_GITHUB_DELIVERY, X_GITHUB_EVENT, X_GITHUB_HOOK_ID};
use octohook::{
    ContentType, DeliveryGuid, DeliveryRecord, EventKind, HookId, RawHeaders, RecordParts,
    VerifiedDelivery, Verifier,
};

/// The deduplication key of a delivery: the hook it was sent to and its GUID.
///
/// GitHub sends the same GUID on every redelivery *and* to every hook subscribed
/// to the same event, so the GUID alone is not enough: each hook processes its
/// copy once.
///
/// A delivery without `X-GitHub-Hook-ID` (old GitHub Enterprise Server releases)
/// has `hook_id: None`; all such deliveries share one namespace of their own, so
/// they are deduplicated on the GUID alone. That namespace is distinct from every
/// hook id, `0` included: a delivery without the header and one with
/// `X-GitHub-Hook-ID: 0` are two deliveries.
///
/// ```
/// use octohook::HookId;
/// use octohook_inbox::DeliveryKey;
///
/// let key = DeliveryKey::new(Some(HookId::new(42)), "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap());
/// assert_eq!(key.to_string(), "42:72d3162e-cc78-11e3-81ab-4c9367dc0958");
/// let legacy = DeliveryKey::new(None, "a1".parse().unwrap());
/// assert_eq!(legacy.to_string(), "-:a1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryKey {
    /// The hook (`X-GitHub-Hook-ID`), when sent.
    pub hook_id: Option<HookId>,
    /// The delivery GUID (`X-GitHub-Delivery`).
    pub guid: DeliveryGuid,
}

impl DeliveryKey {
    /// The key of the delivery `guid` sent to `hook_id`.
    pub fn new(hook_id: Option<HookId>, guid: DeliveryGuid) -> Self {
        Self { hook_id, guid }
    }

    /// The key of a verified delivery.
    pub fn of(delivery: &VerifiedDelivery) -> Self {
        Self::new(delivery.hook_id(), delivery.guid().clone())
    }

    /// The hook id as stored in the SQL stores' `hook_id` column: the id's bits as
    /// a signed 64-bit integer (so every `u64` round-trips), `0` for "no hook id",
    /// which the `has_hook_id` column tells apart from hook id 0.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn db_hook_id(&self) -> i64 {
        i64::from_ne_bytes(self.hook_id.map_or(0, HookId::get).to_ne_bytes())
    }

    /// The SQL stores' `has_hook_id` column.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn has_hook_id(&self) -> bool {
        self.hook_id.is_some()
    }

    /// The hook id read back: `NULL` (selected when `has_hook_id` is false) is no
    /// hook id; anything else is the inverse of [`db_hook_id`](Self::db_hook_id).
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn hook_id_from_db(value: Option<i64>) -> Option<HookId> {
        value.map(|value| HookId::new(u64::from_ne_bytes(value.to_ne_bytes())))
    }
}

/// `HOOK:GUID`, with `-` for a missing hook id: the idempotency key given to
/// handlers (`OCTOHOOK_HOOK_ID` and `OCTOHOOK_DELIVERY` carry the parts).
impl fmt::Display for DeliveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.hook_id {
            Some(id) => write!(f, "{id}:{}", self.guid),
            None => write!(f, "-:{}", self.guid),
        }
    }
}

/// Reads the `Display` form back: `HOOK:GUID`, or `-:GUID` for a delivery
/// without a hook id.
///
/// ```
/// use octohook::HookId;
/// use octohook_inbox::DeliveryKey;
///
/// let key: DeliveryKey = "42:a1".parse().unwrap();
/// assert_eq!(key, DeliveryKey::new(Some(HookId::new(42)), "a1".parse().unwrap()));
/// assert_eq!("-:a1".parse::<DeliveryKey>().unwrap().hook_id, None);
/// assert!("a1".parse::<DeliveryKey>().is_err());
/// ```
impl FromStr for DeliveryKey {
    type Err = BadDeliveryKey;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // GUIDs hold no colon, so the first one ends the hook id.
        let (hook, guid) = s.split_once(':').ok_or(BadDeliveryKey::NoColon)?;
        let hook_id = match hook {
            "-" => None,
            // `u64::from_str` takes a leading `+`, which `Display` never writes.
            digits if digits.bytes().all(|b| b.is_ascii_digit()) => Some(HookId::new(
                digits.parse().map_err(|_| BadDeliveryKey::HookId)?,
            )),
            _ => return Err(BadDeliveryKey::HookId),
        };
        let guid = guid.parse().map_err(|_| BadDeliveryKey::Guid)?;
        Ok(Self::new(hook_id, guid))
    }
}

/// Why a string is not a [`DeliveryKey`] (`HOOK:GUID`, or `-:GUID`). The
/// message names the part that is wrong, not the string, which may come from
/// anyone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadDeliveryKey {
    /// No `:` between the hook id and the GUID.
    #[error("a delivery key is HOOK:GUID (-:GUID without a hook id); there is no ':'")]
    NoColon,
    /// The part before the `:` is neither `-` nor a hook id (decimal digits,
    /// at most 2^64 - 1).
    #[error("the part of a delivery key before ':' is neither '-' nor a hook id (decimal, 64-bit)")]
    HookId,
    /// The part after the `:` is not a delivery GUID.
    #[error("the part of a delivery key after ':' is not a delivery GUID")]
    Guid,
}

/// Where a stored delivery stands.
///
/// ```text
/// pending ──claim──▶ processing ──handler ok──▶ done
///    ▲                   │
///    └──retry (backoff)──┤
///                        └──last attempt failed──▶ failed
/// ```
///
/// A `processing` delivery whose lease expired (its worker crashed or hung) can
/// be claimed again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeliveryStatus {
    /// Waiting to be processed (first time, or again after a failed attempt).
    Pending,
    /// Claimed by a worker, whose lease has not been released.
    Processing,
    /// Processed successfully.
    Done,
    /// Given up on after the last allowed attempt (the dead-letter state).
    Failed,
}

impl DeliveryStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 4] = [Self::Pending, Self::Processing, Self::Done, Self::Failed];

    /// The status's name: `pending`, `processing`, `done` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    /// Whether processing is over (`done` or `failed`).
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Done | Self::Failed)
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of `pending`, `processing`, `done`, `failed`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown delivery status {0:?} (expected pending, processing, done or failed)")]
pub struct UnknownStatus(pub String);

impl FromStr for DeliveryStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// A delivery to store: everything a handler, `--exec` or `--forward` needs later.
///
/// Build it from a verified delivery with [`from_verified`](Self::from_verified):
/// the headers it keeps are the ones the delivery was verified with
/// ([`VerifiedDelivery::raw_headers`]), so that a forwarder can replay them and a
/// worker can verify the stored delivery again.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NewDelivery {
    /// The deduplication key.
    pub key: DeliveryKey,
    /// The event (`X-GitHub-Event`).
    pub event: EventKind,
    /// The payload's `action`, when it has one.
    pub action: Option<String>,
    /// How the body is encoded.
    pub content_type: ContentType,
    /// GitHub's headers of the request, as received and bounded (see
    /// [`RawHeaders`]); the signature header among them.
    pub headers: RawHeaders,
    /// The body exactly as received (what the signature covers).
    pub body: Bytes,
    /// When the receiver got it.
    pub received_at: SystemTime,
}

impl NewDelivery {
    /// A JSON delivery of `event` with `body`, received now, with no action and
    /// no headers; set the other fields directly.
    pub fn new(key: DeliveryKey, event: EventKind, body: impl Into<Bytes>) -> Self {
        Self {
            key,
            event,
            action: None,
            content_type: ContentType::Json,
            headers: RawHeaders::default(),
            body: body.into(),
            received_at: SystemTime::now(),
        }
    }

    /// What to store of a verified delivery, received now: its key, event,
    /// action, encoding, body, and the headers it was verified with (the
    /// signature included, so that it can be verified again).
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use http::HeaderMap;
    /// use octohook::{sign, Verifier, WebhookSecret};
    /// use octohook_inbox::NewDelivery;
    ///
    /// let secret = WebhookSecret::new("s3cret").unwrap();
    /// let body = Bytes::from_static(br#"{"action":"opened"}"#);
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-github-event", "issues".parse().unwrap());
    /// headers.insert("x-github-delivery", "a1".parse().unwrap());
    /// headers.insert("content-type", "application/json".parse().unwrap());
    /// headers.insert("cookie", "session=1".parse().unwrap());
    /// headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
    /// let delivery = Verifier::new(secret).verify(&headers, body).unwrap();
    ///
    /// let new = NewDelivery::from_verified(&delivery);
    /// assert_eq!(new.action.as_deref(), Some("opened"));
    /// assert!(new.headers.get("x-hub-signature-256").is_some());
    /// assert_eq!(new.headers.get("cookie"), None);
    /// ```
    pub fn from_verified(delivery: &VerifiedDelivery) -> Self {
        Self {
            key: DeliveryKey::of(delivery),
            event: delivery.event_kind().clone(),
            action: delivery.action().map(str::to_owned),
            content_type: delivery.headers().content_type(),
            headers: delivery.raw_headers().clone(),
            body: delivery.raw_body().clone(),
            received_at: SystemTime::now(),
        }
    }

    /// Sets when the delivery was received.
    pub fn received_at(mut self, at: SystemTime) -> Self {
        self.received_at = at;
        self
    }
}

/// A stored delivery's row id: increasing in insertion order within one store.
///
/// ```
/// use octohook_inbox::StoredDeliveryId;
///
/// let id: StoredDeliveryId = "42".parse().unwrap();
/// assert_eq!(id, StoredDeliveryId::new(42));
/// assert_eq!(id.to_string(), "42");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoredDeliveryId(i64);

impl StoredDeliveryId {
    /// Wraps a row id, as a store gave it.
    pub const fn new(id: i64) -> Self {
        Self(id)
    }

    /// The row id.
    pub const fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for StoredDeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for StoredDeliveryId {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self)
    }
}

#[cfg(feature = "sqlite")]
impl rusqlite::ToSql for StoredDeliveryId {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

#[cfg(feature = "sqlite")]
impl rusqlite::types::FromSql for StoredDeliveryId {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        i64::column_result(value).map(Self)
    }
}

#[cfg(feature = "postgres")]
impl<'a> tokio_postgres::types::FromSql<'a> for StoredDeliveryId {
    fn from_sql(
        ty: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        i64::from_sql(ty, raw).map(Self)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <i64 as tokio_postgres::types::FromSql<'_>>::accepts(ty)
    }
}

#[cfg(feature = "postgres")]
impl tokio_postgres::types::ToSql for StoredDeliveryId {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.0.to_sql(ty, out)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <i64 as tokio_postgres::types::ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

/// A worker's hold on a `processing` delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The worker holding it, as named in its
    /// [`WorkerConfig`](crate::WorkerConfig).
    pub owner: String,
    /// When the lease expires; after that another worker may claim the delivery.
    pub until: SystemTime,
}

/// A delivery as stored, with its processing state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredDelivery {
    /// The store's row id.
    pub id: StoredDeliveryId,
    /// The deduplication key.
    pub key: DeliveryKey,
    /// The event (`X-GitHub-Event`).
    pub event: EventKind,
    /// The payload's `action`, when it has one.
    pub action: Option<String>,
    /// How the body is encoded.
    pub content_type: ContentType,
    /// The headers the delivery was received with (see
    /// [`NewDelivery::headers`]): what a forward replays.
    pub headers: RawHeaders,
    /// The body exactly as received.
    pub body: Bytes,
    /// When the receiver got it.
    pub received_at: SystemTime,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// How many times a worker claimed it since it was stored (or requeued).
    pub attempts: u32,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// When a `pending` delivery may next be claimed.
    pub next_attempt_at: Option<SystemTime>,
    /// Who holds a `processing` delivery, and until when.
    pub lease: Option<Lease>,
    /// When the record last changed.
    pub updated_at: SystemTime,
}

impl StoredDelivery {
    /// The JSON payload: the body itself, or a form body's `payload` field.
    pub fn payload(&self) -> Result<Cow<'_, [u8]>, octohook::Error> {
        self.content_type.payload_json(&self.body)
    }

    /// Which attempt at processing this is, counted from 1 (the number of times
    /// a worker claimed the delivery since it was stored or requeued).
    pub fn attempt(&self) -> u32 {
        self.attempts
    }

    /// The key to make whatever a handler does idempotent: (hook, GUID), which
    /// stays the same on every attempt and every redelivery by GitHub. Its
    /// `Display` form is `HOOK:GUID` (`-:GUID` without a hook id).
    pub fn idempotency_key(&self) -> &DeliveryKey {
        &self.key
    }

    /// Verifies the stored delivery again, as it was received: a fresh MAC
    /// check of the stored body against `verifier`'s secrets, with the stored
    /// headers (the signature header among them). The way a stored delivery
    /// reaches the typed [`Dispatcher`](octohook::Dispatcher): a row changed in
    /// the store, or signed with a secret that has since been rotated out, fails
    /// here ([`octohook::Error::SignatureMismatch`] and the other 401 errors),
    /// and so does a row stored without its signature header.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use bytes::Bytes;
    /// # use http::HeaderMap;
    /// use octohook::{sign, Error, Verifier, WebhookSecret};
    /// use octohook_inbox::{DeliveryKey, Inbox};
    ///
    /// let secret = WebhookSecret::new("s3cret").unwrap();
    /// let body = Bytes::from_static(br#"{"zen":"Practicality beats purity."}"#);
    /// # let mut headers = HeaderMap::new();
    /// # headers.insert("x-github-event", "ping".parse().unwrap());
    /// # headers.insert("x-github-delivery", "a1".parse().unwrap());
    /// # headers.insert("content-type", "application/json".parse().unwrap());
    /// # headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
    /// let verifier = Verifier::new(secret);
    /// let inbox = Inbox::in_memory();
    /// inbox.receive(verifier.verify(&headers, body).unwrap()).await.answer();
    ///
    /// // A worker is handed the `StoredDelivery`:
    /// let key = DeliveryKey::new(None, "a1".parse().unwrap());
    /// let stored = inbox.store().get(&key).await.unwrap().unwrap();
    /// assert_eq!(stored.verify(&verifier).unwrap().guid().as_str(), "a1");
    ///
    /// // Once its secret is rotated out, it no longer verifies.
    /// let rotated = Verifier::new(WebhookSecret::new("n3w").unwrap());
    /// assert!(matches!(stored.verify(&rotated), Err(Error::SignatureMismatch)));
    /// # }
    /// ```
    pub fn verify(&self, verifier: &Verifier) -> Result<VerifiedDelivery, octohook::Error> {
        let mut headers = self.headers.to_header_map();
        // Rows stored by older versions may lack some of the delivery headers;
        // the store's typed columns hold them. (GitHub signs only the body.)
        let essentials = [
            (CONTENT_TYPE, self.content_type.as_str()),
            (X_GITHUB_EVENT, self.event.as_str()),
            (X_GITHUB_DELIVERY, self.key.guid.as_str()),
        ];
        for (name, value) in essentials {
            if !headers.contains_key(&name)
                && let Ok(value) = http::HeaderValue::from_str(value)
            {
                headers.insert(name, value);
            }
        }
        if let (Some(id), false) = (self.key.hook_id, headers.contains_key(X_GITHUB_HOOK_ID)) {
            headers.insert(X_GITHUB_HOOK_ID, http::HeaderValue::from(id.get()));
        }
        verifier.verify(&headers, self.body.clone())
    }

    /// The stored delivery's line, as `octohook serve --out` writes it (see
    /// [`DeliveryRecord`]), made of what the store kept: no second signature
    /// check, the payload written as it was checked when received. Fails only
    /// when a form body's `payload` field cannot be decoded (a row no receiver
    /// stored).
    pub fn record(&self) -> Result<DeliveryRecord<'_>, octohook::Error> {
        let parts = RecordParts {
            event: &self.event,
            guid: &self.key.guid,
            hook_id: self.key.hook_id,
            action: self.action.as_deref(),
            payload: self.payload()?,
            headers: &self.headers,
        };
        Ok(DeliveryRecord::from_parts(parts, self.received_at))
    }
}

/// Serializes stored headers as a JSON array of `[name, value]` pairs (the
/// SQL stores' `headers` column).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn headers_to_json(headers: &RawHeaders) -> String {
    serde_json::to_string(&headers.iter().collect::<Vec<_>>()).unwrap_or_else(|_| "[]".to_owned())
}

/// The inverse of [`headers_to_json`], by [`RawHeaders`]' rules.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn headers_from_json(
    id: StoredDeliveryId,
    json: &str,
) -> Result<RawHeaders, crate::StoreError> {
    let pairs: Vec<(String, String)> =
        serde_json::from_str(json).map_err(|error| crate::StoreError::Corrupt {
            id,
            reason: format!("headers are not a JSON list of pairs: {error}"),
        })?;
    Ok(RawHeaders::from_pairs(
        pairs
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    ))
}

/// Reads a stored content type back.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn content_type_from_db(
    id: StoredDeliveryId,
    content_type: &str,
) -> Result<ContentType, crate::StoreError> {
    ContentType::from_header(content_type.as_bytes()).map_err(|_| crate::StoreError::Corrupt {
        id,
        reason: format!("{content_type:?} is not a webhook content type"),
    })
}

/// Reads a stored GUID back.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn guid_from_db(
    id: StoredDeliveryId,
    guid: &str,
) -> Result<DeliveryGuid, crate::StoreError> {
    guid.parse().map_err(|_| crate::StoreError::Corrupt {
        id,
        reason: format!("{guid:?} is not a delivery GUID"),
    })
}

/// Reads a stored status back.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn status_from_db(
    id: StoredDeliveryId,
    status: &str,
) -> Result<DeliveryStatus, crate::StoreError> {
    status
        .parse()
        .map_err(|error: UnknownStatus| crate::StoreError::Corrupt {
            id,
            reason: error.to_string(),
        })
}

/// A stored row as the SQL stores read it, before it is checked.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
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
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl RowParts {
    /// The delivery, and the sequence number of its latest claim.
    pub(crate) fn into_delivery(self) -> Result<(StoredDelivery, i64), crate::StoreError> {
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
            status,
            attempts: u32::try_from(self.attempts.max(0)).unwrap_or(u32::MAX),
            last_error: self.last_error,
            next_attempt_at,
            lease,
            updated_at: self.updated_at,
        };
        Ok((delivery, self.claim_seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for status in DeliveryStatus::ALL {
            assert_eq!(status.as_str().parse::<DeliveryStatus>(), Ok(status));
        }
        assert!("Done".parse::<DeliveryStatus>().is_err());
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[test]
    fn every_hook_id_round_trips_and_none_is_not_zero() {
        let guid: DeliveryGuid = "g".parse().unwrap();
        for id in [
            Some(0),
            Some(1),
            Some(u64::MAX),
            Some(i64::MAX as u64 + 1),
            None,
        ] {
            let key = DeliveryKey::new(id.map(HookId::new), guid.clone());
            let stored = key.has_hook_id().then_some(key.db_hook_id());
            assert_eq!(DeliveryKey::hook_id_from_db(stored), key.hook_id);
        }
        let none = DeliveryKey::new(None, guid.clone());
        let zero = DeliveryKey::new(Some(HookId::new(0)), guid);
        assert_ne!(
            (none.db_hook_id(), none.has_hook_id()),
            (zero.db_hook_id(), zero.has_hook_id())
        );
    }

    #[test]
    fn keys_parse_back_from_their_display_form_only() {
        for hook_id in [None, Some(0), Some(42), Some(u64::MAX)] {
            let key = DeliveryKey::new(
                hook_id.map(HookId::new),
                "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap(),
            );
            assert_eq!(key.to_string().parse::<DeliveryKey>(), Ok(key));
        }
        for (text, error) in [
            ("a1", BadDeliveryKey::NoColon),
            ("", BadDeliveryKey::NoColon),
            (":a1", BadDeliveryKey::HookId),
            ("x:a1", BadDeliveryKey::HookId),
            ("+1:a1", BadDeliveryKey::HookId),
            ("-1:a1", BadDeliveryKey::HookId),
            ("--:a1", BadDeliveryKey::HookId),
            ("18446744073709551616:a1", BadDeliveryKey::HookId),
            ("1:", BadDeliveryKey::Guid),
            ("-:", BadDeliveryKey::Guid),
            ("1:a:b", BadDeliveryKey::Guid),
            ("1:a b", BadDeliveryKey::Guid),
        ] {
            assert_eq!(text.parse::<DeliveryKey>(), Err(error), "{text:?}");
        }
        let message = "1:secret stuff".parse::<DeliveryKey>().unwrap_err();
        assert!(!message.to_string().contains("secret"));
    }
}
