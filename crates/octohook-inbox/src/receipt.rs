//! [`Receipt`]: what a receiver answers GitHub once the inbox has the delivery.

use http::StatusCode;
use octohook::Answer;

use crate::{StoreError, StoredDeliveryId};

/// The result of [`Inbox::receive`](crate::Inbox::receive), and the answer a
/// receiver owes GitHub for it.
///
/// | receipt | [`answer`](Self::answer) | meaning |
/// | --- | --- | --- |
/// | `Stored` | 200 | committed, `pending`; workers will process it |
/// | `Duplicate` | 200 | the same (hook, GUID) was stored before; nothing changed |
/// | `Refused` | 400 | the payload is not a JSON object; nothing stored |
/// | `Unavailable` | 503, with `Retry-After` | nothing committed; GitHub records a failure, and a redelivery is stored then |
///
/// A 2xx is never answered before the commit, and a 503 never after one.
#[derive(Debug)]
#[must_use = "answer the request with its answer()"]
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
    /// The `Retry-After` of a 503, in seconds.
    pub const RETRY_AFTER_SECS: u64 = 30;

    /// The answer to send: 200 with an empty body once committed; 400 saying
    /// that the payload is not a JSON object; 503 with a `Retry-After` of
    /// [`RETRY_AFTER_SECS`](Self::RETRY_AFTER_SECS) and only that the delivery
    /// could not be stored (the store's error may name files or hosts, and goes
    /// to the logs instead; a client that honours the wait does not hammer a
    /// store being repaired).
    ///
    /// ```
    /// use octohook_inbox::{Receipt, StoreError};
    ///
    /// let full = Receipt::Unavailable(StoreError::Full("size limit reached".into())).answer();
    /// assert_eq!(full.status(), 503);
    /// assert_eq!(full.retry_after_secs(), Some(Receipt::RETRY_AFTER_SECS));
    /// assert!(!full.body().contains("size limit"));
    /// ```
    pub fn answer(&self) -> Answer {
        match self {
            Self::Stored { .. } | Self::Duplicate { .. } => Answer::ok(),
            Self::Refused(error) => {
                Answer::new(error.status(), "the payload is not a JSON object\n")
            }
            Self::Unavailable(_) => Answer::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the delivery could not be stored; try again later\n",
            )
            .with_retry_after(Self::RETRY_AFTER_SECS),
        }
    }

    /// Whether the delivery is committed (now or before).
    pub fn is_committed(&self) -> bool {
        matches!(self, Self::Stored { .. } | Self::Duplicate { .. })
    }
}

impl From<&Receipt> for Answer {
    fn from(receipt: &Receipt) -> Self {
        receipt.answer()
    }
}
