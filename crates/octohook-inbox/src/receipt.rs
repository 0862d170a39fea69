//! [`Receipt`]: what a receiver answers GitHub once the inbox has the delivery.

use http::StatusCode;

use crate::{StoreError, StoredDeliveryId};

/// The result of [`Inbox::receive`](crate::Inbox::receive), and the answer a
/// receiver owes GitHub for it.
///
/// | receipt | [`status`](Self::status) | meaning |
/// | --- | --- | --- |
/// | `Stored` | 200 | committed, `pending`; workers will process it |
/// | `Duplicate` | 200 | the same (hook, GUID) was stored before; nothing changed |
/// | `Refused` | 400 | the payload is not a JSON object; nothing stored |
/// | `Unavailable` | 503, with `Retry-After` | nothing committed; GitHub records a failure, and a redelivery is stored then |
///
/// A 2xx is never answered before the commit, and a 503 never after one.
#[derive(Debug)]
#[must_use = "answer the request with its status"]
pub enum Receipt {
    /// The delivery is new and committed.
    Stored {
        /// Its row id.
        id: StoredDeliveryId,
    },
    /// The delivery was stored before (a redelivery, or a retry of a request
    /// whose answer was lost).
    Duplicate {
        /// The stored row's id.
        id: StoredDeliveryId,
    },
    /// The payload is not a JSON object (see
    /// [`VerifiedDelivery::check_payload`](octohook::VerifiedDelivery::check_payload)):
    /// nothing was stored, and a redelivery of the same bytes is refused alike.
    Refused(octohook::Error),
    /// The store could not commit it.
    Unavailable(StoreError),
}

impl Receipt {
    /// The status to answer with: 200, 400 for a payload that is not JSON, or
    /// 503 when nothing could be committed.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Stored { .. } | Self::Duplicate { .. } => StatusCode::OK,
            Self::Refused(error) => error.status(),
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `text/plain` body to answer with: empty on 200; on 400 that the
    /// payload is not JSON; on 503 only that the delivery could not be stored (the
    /// store's error may name files or hosts, and goes to the logs instead).
    pub fn body(&self) -> &'static str {
        match self {
            Self::Stored { .. } | Self::Duplicate { .. } => "",
            Self::Refused(_) => "the payload is not a JSON object\n",
            Self::Unavailable(_) => "the delivery could not be stored; try again later\n",
        }
    }

    /// The `Retry-After` to answer with, in seconds: on 503 only (the store is
    /// down, read-only or full; a client that honours it does not hammer a
    /// store being repaired).
    ///
    /// ```
    /// use octohook_inbox::{Receipt, StoreError};
    ///
    /// let full = Receipt::Unavailable(StoreError::Full("size limit reached".into()));
    /// assert_eq!(full.status(), 503);
    /// assert_eq!(full.retry_after_secs(), Some(Receipt::RETRY_AFTER_SECS));
    /// ```
    pub fn retry_after_secs(&self) -> Option<u64> {
        matches!(self, Self::Unavailable(_)).then_some(Self::RETRY_AFTER_SECS)
    }

    /// The `Retry-After` of a 503, in seconds.
    pub const RETRY_AFTER_SECS: u64 = 30;

    /// Whether the delivery is committed (now or before).
    pub fn is_committed(&self) -> bool {
        matches!(self, Self::Stored { .. } | Self::Duplicate { .. })
    }
}
