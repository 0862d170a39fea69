//! [`StoredDelivery`]: a delivery as a store keeps it, with its row id and
//! its processing state.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use octohook::header::{X_GITHUB_DELIVERY, X_GITHUB_EVENT, X_GITHUB_HOOK_ID};
use octohook::{
    AuthenticDelivery, ContentType, DeliveryRecord, EventKind, PulledDelivery, RawHeaders,
    RecordParts, VerifiedDelivery, Verifier,
};

use crate::{DeliveryKey, DeliveryOrigin, DeliveryStatus, TraceParent};

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
    /// [`NewDelivery::headers`](crate::NewDelivery::headers)): what a forward replays.
    pub headers: RawHeaders,
    /// The body exactly as received.
    pub body: Bytes,
    /// When the receiver got it.
    pub received_at: SystemTime,
    /// Whether GitHub pushed it (signed) or it was pulled from GitHub's API.
    pub origin: DeliveryOrigin,
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
    /// The trace the delivery belongs to (see
    /// [`NewDelivery::trace_parent`](crate::NewDelivery::trace_parent)): each
    /// attempt's span is a child of it.
    pub trace_parent: Option<TraceParent>,
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
        verifier.verify(&self.header_map(), self.body.clone())
    }

    /// The stored delivery as a handler may trust it: a pushed one
    /// [verified again](Self::verify), a pulled one rebuilt as the
    /// [`PulledDelivery`] it was stored from (no signature covers it: the store
    /// is trusted to have kept what GitHub's API returned).
    ///
    /// Fails as [`verify`](Self::verify) does for a pushed delivery, and with
    /// [`octohook::Error::InvalidPayload`] for a pulled one whose body is not a
    /// JSON object.
    pub fn authentic(&self, verifier: &Verifier) -> Result<AuthenticDelivery, octohook::Error> {
        match self.origin {
            DeliveryOrigin::Pushed => self.verify(verifier).map(AuthenticDelivery::from),
            DeliveryOrigin::Pulled => self.pulled().map(AuthenticDelivery::from),
        }
    }

    /// A pulled delivery rebuilt from its row (see [`authentic`](Self::authentic)).
    pub fn pulled(&self) -> Result<PulledDelivery, octohook::Error> {
        let payload: serde_json::Value =
            serde_json::from_slice(&self.payload()?).map_err(octohook::Error::InvalidPayload)?;
        let headers = self.header_map();
        let pairs = headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
        PulledDelivery::from_github_api(pairs, &payload)
    }

    /// The stored headers, completed with the typed columns' essentials.
    fn header_map(&self) -> http::HeaderMap {
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
        headers
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
            authenticity: self.origin.authenticity(),
        };
        Ok(DeliveryRecord::from_parts(parts, self.received_at))
    }
}
