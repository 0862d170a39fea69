//! The exit status of every command: one documented code per kind of failure, so
//! scripts can tell "some redeliveries were refused" from "the token is wrong".
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | any failure not listed below (I/O, the inbox store, a bad input file) |
//! | 2 | usage: an unknown flag or an invalid value (clap's own code) |
//! | 3 | `parse`: the event is unknown to this version |
//! | 4 | GitHub refused the credentials (401, 403 other than a rate limit, or no token) |
//! | 5 | not found (404: the repository, hook or delivery does not exist or is hidden) |
//! | 6 | partly done: some of the items of a batch failed (redeliveries refused) |
//! | 7 | GitHub unavailable: rate limited, 5xx or unreachable after the retries |
//! | 8 | aborted: a confirmation was declined, or needed and not given (`--yes`) |
//! | 9 | `send`: the receiver answered with a status other than 2xx |

use std::error::Error;
use std::fmt;
use std::process::ExitCode;

/// Why a command failed, as its exit code says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// 1: any failure without a more precise code.
    Failure,
    /// 3: `parse` met an event this version does not know.
    UnknownEvent,
    /// 4: GitHub refused the credentials, or there were none.
    Unauthorized,
    /// 5: GitHub answered 404.
    NotFound,
    /// 6: some items of a batch failed, the others succeeded.
    PartlyDone,
    /// 7: GitHub could not be reached, or kept answering 5xx or a rate limit.
    Unavailable,
    /// 8: a confirmation was declined, or needed and not given.
    Aborted,
    /// 9: the receiver answered `send` with a non-2xx status.
    Rejected,
}

impl Status {
    /// The process exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Failure => 1,
            Self::UnknownEvent => 3,
            Self::Unauthorized => 4,
            Self::NotFound => 5,
            Self::PartlyDone => 6,
            Self::Unavailable => 7,
            Self::Aborted => 8,
            Self::Rejected => 9,
        }
    }

    /// The status a failure maps to: a [`Failed`] carries its own; errors of the
    /// GitHub client are classified; anything else is [`Status::Failure`].
    pub(crate) fn of(error: &(dyn Error + 'static)) -> Self {
        if let Some(failed) = error.downcast_ref::<Failed>() {
            return failed.status;
        }
        if let Some(error) = error.downcast_ref::<octohook_client::ClientError>() {
            return Self::of_client(error);
        }
        Self::Failure
    }

    fn of_client(error: &octohook_client::ClientError) -> Self {
        use octohook_client::ClientError as E;
        match error {
            E::Unauthorized(_) | E::Forbidden(_) | E::Auth(_) => Self::Unauthorized,
            E::NotFound(_) => Self::NotFound,
            E::RateLimited(_) | E::Server(_) | E::Transport(_) => Self::Unavailable,
            _ => Self::Failure,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        ExitCode::from(status.code())
    }
}

/// A failure with an explicit exit status and the message printed for it.
#[derive(Debug)]
pub(crate) struct Failed {
    status: Status,
    message: String,
}

impl Failed {
    /// A failure that exits with `status` after printing `message`.
    pub(crate) fn new(status: Status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failed {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl Error for Failed {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let all = [
            Status::Failure,
            Status::UnknownEvent,
            Status::Unauthorized,
            Status::NotFound,
            Status::PartlyDone,
            Status::Unavailable,
            Status::Aborted,
            Status::Rejected,
        ];
        let mut codes: Vec<u8> = all.iter().map(|status| status.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        assert!(!codes.contains(&0) && !codes.contains(&2));
    }

    #[test]
    fn a_failed_keeps_its_status() {
        let error: Box<dyn Error> = Box::new(Failed::new(Status::PartlyDone, "2 of 5 refused"));
        assert_eq!(Status::of(&*error), Status::PartlyDone);
        assert_eq!(error.to_string(), "2 of 5 refused");
        let other: Box<dyn Error> = "plain".into();
        assert_eq!(Status::of(&*other), Status::Failure);
    }
}
