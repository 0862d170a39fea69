//! [`DeliveryOrigin`]: how a stored delivery reached the inbox.

use std::fmt;
use std::str::FromStr;

use octohook::Authenticity;

/// How a delivery reached the inbox, kept with it (the SQL stores' `origin`
/// column): what a worker must do before a handler may trust it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DeliveryOrigin {
    /// GitHub sent it to the receiver, signed: a worker verifies the stored
    /// body against its signature again.
    #[default]
    Pushed,
    /// Read back from GitHub's API (`octohook pull`): no signature covers the
    /// stored body (the payload as the API returned it, re-serialised), so a
    /// worker trusts the store for it. See
    /// [`Dispatch::accepting_pulled`](crate::handlers::Dispatch::accepting_pulled).
    Pulled,
}

impl DeliveryOrigin {
    /// Its name in the store and in `octohook inbox` output: `pushed` or `pulled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pushed => "pushed",
            Self::Pulled => "pulled",
        }
    }

    /// How a delivery of this origin was authenticated when received.
    pub fn authenticity(self) -> Authenticity {
        match self {
            Self::Pushed => Authenticity::Signature,
            Self::Pulled => Authenticity::GitHubApi,
        }
    }
}

impl fmt::Display for DeliveryOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored origin that is neither `pushed` nor `pulled`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a delivery origin (pushed or pulled)")]
pub struct UnknownOrigin(String);

impl FromStr for DeliveryOrigin {
    type Err = UnknownOrigin;

    /// ```
    /// use octohook_inbox::DeliveryOrigin;
    ///
    /// assert_eq!("pulled".parse(), Ok(DeliveryOrigin::Pulled));
    /// assert!("mailed".parse::<DeliveryOrigin>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "pushed" => Ok(Self::Pushed),
            "pulled" => Ok(Self::Pulled),
            other => Err(UnknownOrigin(other.chars().take(64).collect())),
        }
    }
}
