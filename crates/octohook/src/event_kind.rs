//! The kind of event a delivery carries (`X-GitHub-Event`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! event_kinds {
    ($($variant:ident => $name:literal,)+) => {
        /// The event named by `X-GitHub-Event`.
        ///
        /// Every event of every variant of GitHub's webhook description (github.com, GHEC,
        /// GHES; `@octokit/openapi-webhooks`, and older releases for GHES-only events) has
        /// a variant; an event this version does not know is kept as
        /// [`EventKind::Unknown`], never rejected.
        ///
        /// ```
        /// use octohook::EventKind;
        ///
        /// assert_eq!(EventKind::from_name("pull_request"), EventKind::PullRequest);
        /// assert_eq!(EventKind::PullRequest.as_str(), "pull_request");
        /// assert_eq!(
        ///     EventKind::from_name("brand_new_event"),
        ///     EventKind::Unknown("brand_new_event".to_owned()),
        /// );
        /// ```
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum EventKind {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )+
            /// An event this version of octohook does not know, with its name as sent.
            Unknown(String),
        }

        impl EventKind {
            /// Every event this version knows, in alphabetical order of name.
            pub const KNOWN: &'static [EventKind] = &[$(EventKind::$variant,)+];

            /// The event for a header value; unknown names become [`EventKind::Unknown`].
            pub fn from_name(name: &str) -> Self {
                match name {
                    $($name => Self::$variant,)+
                    other => Self::Unknown(other.to_owned()),
                }
            }

            /// The event's name as GitHub sends it in `X-GitHub-Event`.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $name,)+
                    Self::Unknown(name) => name,
                }
            }
        }
    };
}

event_kinds! {
    BranchProtectionConfiguration => "branch_protection_configuration",
    BranchProtectionRule => "branch_protection_rule",
    CacheSync => "cache_sync",
    CheckRun => "check_run",
    CheckSuite => "check_suite",
    CodeScanningAlert => "code_scanning_alert",
    CommitComment => "commit_comment",
    ContentReference => "content_reference",
    Create => "create",
    CustomProperty => "custom_property",
    CustomPropertyValues => "custom_property_values",
    Delete => "delete",
    DependabotAlert => "dependabot_alert",
    DeployKey => "deploy_key",
    Deployment => "deployment",
    DeploymentProtectionRule => "deployment_protection_rule",
    DeploymentReview => "deployment_review",
    DeploymentStatus => "deployment_status",
    Discussion => "discussion",
    DiscussionComment => "discussion_comment",
    DismissalRequestCodeScanning => "dismissal_request_code_scanning",
    DismissalRequestSecretScanning => "dismissal_request_secret_scanning",
    Enterprise => "enterprise",
    ExemptionRequestPushRuleset => "exemption_request_push_ruleset",
    ExemptionRequestSecretScanning => "exemption_request_secret_scanning",
    Fork => "fork",
    GithubAppAuthorization => "github_app_authorization",
    Gollum => "gollum",
    Installation => "installation",
    InstallationRepositories => "installation_repositories",
    InstallationTarget => "installation_target",
    IssueComment => "issue_comment",
    IssueDependencies => "issue_dependencies",
    Issues => "issues",
    Label => "label",
    MarketplacePurchase => "marketplace_purchase",
    Member => "member",
    Membership => "membership",
    MergeGroup => "merge_group",
    Meta => "meta",
    Milestone => "milestone",
    OrgBlock => "org_block",
    Organization => "organization",
    OrganizationCustomProperty => "organization_custom_property",
    OrganizationCustomPropertyValues => "organization_custom_property_values",
    Package => "package",
    PageBuild => "page_build",
    PersonalAccessTokenRequest => "personal_access_token_request",
    Ping => "ping",
    Project => "project",
    ProjectCard => "project_card",
    ProjectColumn => "project_column",
    ProjectsV2 => "projects_v2",
    ProjectsV2Item => "projects_v2_item",
    ProjectsV2StatusUpdate => "projects_v2_status_update",
    Public => "public",
    PullRequest => "pull_request",
    PullRequestReview => "pull_request_review",
    PullRequestReviewComment => "pull_request_review_comment",
    PullRequestReviewThread => "pull_request_review_thread",
    Push => "push",
    RegistryPackage => "registry_package",
    Release => "release",
    Repository => "repository",
    RepositoryAdvisory => "repository_advisory",
    RepositoryDispatch => "repository_dispatch",
    RepositoryImport => "repository_import",
    RepositoryRuleset => "repository_ruleset",
    RepositoryVulnerabilityAlert => "repository_vulnerability_alert",
    SecretScanningAlert => "secret_scanning_alert",
    SecretScanningAlertLocation => "secret_scanning_alert_location",
    SecretScanningScan => "secret_scanning_scan",
    SecurityAdvisory => "security_advisory",
    SecurityAndAnalysis => "security_and_analysis",
    Sponsorship => "sponsorship",
    Star => "star",
    Status => "status",
    SubIssues => "sub_issues",
    Team => "team",
    TeamAdd => "team_add",
    User => "user",
    Watch => "watch",
    WorkflowDispatch => "workflow_dispatch",
    WorkflowJob => "workflow_job",
    WorkflowRun => "workflow_run",
}

impl EventKind {
    /// Whether this is an event this version does not know.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Self::Unknown(_))
    }
}

impl FromStr for EventKind {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from_name(s))
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Self::from_name(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_name_round_trips() {
        assert_eq!(EventKind::KNOWN.len(), 85);
        for kind in EventKind::KNOWN {
            assert_eq!(&EventKind::from_name(kind.as_str()), kind);
            assert!(!kind.is_unknown());
        }
    }
}
