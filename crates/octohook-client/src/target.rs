//! What owns a hook, and the REST routes that lead to it.

use std::fmt;

use octohook::HookId;

/// The owner of webhooks: a repository or an organization.
///
/// A GitHub App has a single hook, reached through
/// [`Client::app_hook`](crate::Client::app_hook) instead.
///
/// ```
/// use octohook_client::HookTarget;
///
/// let target: HookTarget = "octo-org/hello-world".parse().unwrap();
/// assert_eq!(target, HookTarget::repository("octo-org", "hello-world"));
/// assert_eq!(target.to_string(), "repository octo-org/hello-world");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HookTarget {
    /// `/repos/{owner}/{repo}/hooks`.
    Repository {
        /// The account that owns the repository.
        owner: String,
        /// The repository's name, without `.git`.
        repo: String,
    },
    /// `/orgs/{org}/hooks`.
    Organization {
        /// The organization's login.
        org: String,
    },
}

impl HookTarget {
    /// A repository's hooks.
    pub fn repository(owner: impl Into<String>, repo: impl Into<String>) -> Self {
        Self::Repository {
            owner: owner.into(),
            repo: repo.into(),
        }
    }

    /// An organization's hooks.
    pub fn organization(org: impl Into<String>) -> Self {
        Self::Organization { org: org.into() }
    }

    /// `/repos/{owner}/{repo}/hooks` or `/orgs/{org}/hooks`.
    pub(crate) fn hooks_route(&self) -> Route {
        match self {
            Self::Repository { owner, repo } => Route::new(["repos", owner, repo, "hooks"]),
            Self::Organization { org } => Route::new(["orgs", org, "hooks"]),
        }
    }

    /// The route of one hook.
    pub(crate) fn hook_route(&self, id: HookId) -> Route {
        self.hooks_route().join(id.to_string())
    }
}

impl fmt::Display for HookTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Repository { owner, repo } => write!(f, "repository {owner}/{repo}"),
            Self::Organization { org } => write!(f, "organization {org}"),
        }
    }
}

/// A repository written `OWNER/REPO`.
impl std::str::FromStr for HookTarget {
    type Err = InvalidRepository;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((owner, repo)) if !owner.is_empty() && !repo.is_empty() && !repo.contains('/') => {
                Ok(Self::repository(
                    owner,
                    repo.strip_suffix(".git").unwrap_or(repo),
                ))
            }
            _ => Err(InvalidRepository),
        }
    }
}

/// A repository not written `OWNER/REPO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a repository must be written OWNER/REPO")]
pub struct InvalidRepository;

/// The path segments of a REST route, before percent-encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Route {
    segments: Vec<String>,
}

impl Route {
    pub(crate) fn new<S: AsRef<str>>(segments: impl IntoIterator<Item = S>) -> Self {
        Self {
            segments: segments
                .into_iter()
                .map(|s| s.as_ref().to_owned())
                .collect(),
        }
    }

    /// The GitHub App's hook, `/app/hook`.
    pub(crate) fn app_hook() -> Self {
        Self::new(["app", "hook"])
    }

    pub(crate) fn join(mut self, segment: impl Into<String>) -> Self {
        self.segments.push(segment.into());
        self
    }

    pub(crate) fn segments(&self) -> &[String] {
        &self.segments
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in &self.segments {
            write!(f, "/{segment}")?;
        }
        Ok(())
    }
}

/// One hook, whichever kind: a repository's, an organization's, or a GitHub
/// App's own; the hook a `Redeliverer` watches, and the
/// one [`Client::hook_deliveries`](crate::Client::hook_deliveries) and
/// [`Client::hook_config`](crate::Client::hook_config) take.
///
/// ```
/// use octohook_client::{HookId, HookRef};
///
/// let hook = HookRef::repository("octo-org", "hello-world", HookId::new(12));
/// assert_eq!(hook.to_string(), "repository octo-org/hello-world hook 12");
/// assert_eq!(HookRef::App.to_string(), "the app's hook");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HookRef {
    /// A repository's or organization's hook.
    Hook {
        /// Its owner.
        target: HookTarget,
        /// Its id.
        id: HookId,
    },
    /// The hook of the GitHub App the client authenticates as.
    App,
}

impl HookRef {
    /// The hook `id` of `target`.
    pub fn hook(target: HookTarget, id: HookId) -> Self {
        Self::Hook { target, id }
    }

    /// A repository's hook.
    pub fn repository(owner: impl Into<String>, repo: impl Into<String>, id: HookId) -> Self {
        Self::Hook {
            target: HookTarget::repository(owner, repo),
            id,
        }
    }

    /// An organization's hook.
    pub fn organization(org: impl Into<String>, id: HookId) -> Self {
        Self::Hook {
            target: HookTarget::organization(org),
            id,
        }
    }

    /// The hook's API path.
    pub(crate) fn route(&self) -> Route {
        match self {
            Self::Hook { target, id } => target.hook_route(*id),
            Self::App => Route::app_hook(),
        }
    }
}

impl fmt::Display for HookRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hook { target, id } => write!(f, "{target} hook {id}"),
            Self::App => f.write_str("the app's hook"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_githubs_paths() {
        let repo = HookTarget::repository("o", "r");
        assert_eq!(repo.hooks_route().to_string(), "/repos/o/r/hooks");
        let org = HookTarget::organization("acme");
        assert_eq!(
            org.hook_route(HookId::new(7)).to_string(),
            "/orgs/acme/hooks/7"
        );
        assert_eq!(
            Route::app_hook().join("config").to_string(),
            "/app/hook/config"
        );
    }

    #[test]
    fn repository_parsing_rejects_other_shapes() {
        for bad in ["", "o", "o/", "/r", "o/r/x"] {
            assert!(bad.parse::<HookTarget>().is_err(), "{bad}");
        }
        assert_eq!(
            "o/r.git".parse::<HookTarget>().unwrap(),
            HookTarget::repository("o", "r")
        );
    }
}
