//! [`DeliveryStatus`]: where a stored delivery stands in processing.

use std::fmt;
use std::str::FromStr;

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
}
