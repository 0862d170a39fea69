//! The pull flags `octohook pull` and `serve --pull` share: how far back the
//! first run goes and how often to poll; and `serve`'s `--pull TARGET`, the
//! hook in one value.

use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use octohook_client::pull::PULL_WINDOW;
use octohook_client::{HookId, HookRef, HookTarget};
use octohook_server::DEFAULT_PULL_INTERVAL;

use crate::github_options::{ApiOptions, GithubCommandError};

/// `--since` and `--interval`.
#[derive(Debug, Args)]
pub(crate) struct PullTiming {
    /// How far back the first pull goes, e.g. 6h; later runs start at the
    /// cursor kept in the inbox [default: 3days, GitHub's window; pass 7days on
    /// GitHub Enterprise Server 3.16 and later].
    #[arg(long, env = "OCTOHOOK_SINCE", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) since: Option<Duration>,
    /// The pause between polls when following [default: 10s]. Each poll that
    /// finds nothing new costs one API request (360 an hour at 10s, of the
    /// 5,000 a token may make), each new delivery one more.
    #[arg(long, env = "OCTOHOOK_INTERVAL", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) interval: Option<Duration>,
}

impl PullTiming {
    /// How far back the first pull goes: --since, or GitHub's 3 days.
    pub(crate) fn since(&self) -> Duration {
        self.since.unwrap_or(PULL_WINDOW)
    }

    /// Whether --since or --interval was given.
    pub(crate) fn is_given(&self) -> bool {
        self.since.is_some() || self.interval.is_some()
    }

    /// The pause between polls: --interval, or 10 seconds.
    pub(crate) fn interval(&self) -> Duration {
        self.interval.unwrap_or(DEFAULT_PULL_INTERVAL)
    }
}

/// `serve --pull`'s value: `repo:OWNER/REPO:HOOK_ID`, `org:ORG:HOOK_ID` or
/// `app`. One value rather than `octohook pull`'s --repo/--org/--hook/--app,
/// which beside serve's own flags would read as if they configured the
/// receiver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PullTarget {
    /// A repository's hook.
    Repository(HookTarget, HookId),
    /// An organization's hook.
    Organization(String, HookId),
    /// The GitHub App's own hook.
    App,
}

/// Why a `--pull` value was refused.
#[derive(Debug, thiserror::Error)]
#[error("expected repo:OWNER/REPO:HOOK_ID, org:ORG:HOOK_ID or app, got {0:?}")]
pub(crate) struct PullTargetError(String);

impl FromStr for PullTarget {
    type Err = PullTargetError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let refused = || PullTargetError(value.chars().take(200).collect());
        if value == "app" {
            return Ok(Self::App);
        }
        let (kind, rest) = value.split_once(':').ok_or_else(refused)?;
        let (name, hook) = rest.rsplit_once(':').ok_or_else(refused)?;
        let hook: HookId = hook.parse().map_err(|_| refused())?;
        match kind {
            "repo" => Ok(Self::Repository(
                name.parse::<HookTarget>().map_err(|_| refused())?,
                hook,
            )),
            "org" if !name.is_empty() && !name.contains(['/', ':']) => {
                Ok(Self::Organization(name.to_owned(), hook))
            }
            _ => Err(refused()),
        }
    }
}

impl PullTarget {
    /// The hook, checking that `--pull app` has the app's credentials.
    pub(crate) fn hook_ref(&self, api: &ApiOptions) -> Result<HookRef, GithubCommandError> {
        match self {
            Self::Repository(target, hook) => Ok(HookRef::hook(target.clone(), *hook)),
            Self::Organization(org, hook) => Ok(HookRef::organization(org.clone(), *hook)),
            Self::App if api.app_id.is_some() => Ok(HookRef::App),
            Self::App => Err(GithubCommandError::Usage(
                "--pull app needs --app-id and --private-key".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_targets_parse() {
        assert_eq!(
            "repo:octo-org/hello-world:42"
                .parse::<PullTarget>()
                .unwrap(),
            PullTarget::Repository(
                HookTarget::repository("octo-org", "hello-world"),
                HookId::new(42)
            )
        );
        assert_eq!(
            "org:octo-org:7".parse::<PullTarget>().unwrap(),
            PullTarget::Organization("octo-org".into(), HookId::new(7))
        );
        assert_eq!("app".parse::<PullTarget>().unwrap(), PullTarget::App);
        for bad in [
            "",
            "repo:octo-org:42",
            "repo:octo-org/hello-world",
            "org:octo-org:x",
            "org::1",
            "user:me:1",
            "app:1",
        ] {
            assert!(bad.parse::<PullTarget>().is_err(), "{bad}");
        }
    }
}
