//! Canonical type names. The schema names one concept many ways (component names,
//! inline titles, untitled inline objects); the tables here map them to one Rust
//! type name, which is what makes occurrences merge into one shared type.
//!
//! When a new schema version adds a variant of an existing concept, add its name to
//! the matching table so it merges instead of becoming a new type.

use crate::ident::pascal;
use crate::model::default_component_name;

/// Component schemas (by name) and inline titles that are a variant of a shared type.
const ALIASES: &[(&str, &str)] = &[
    // Users and accounts.
    ("simple-user", "User"),
    ("webhooks_user", "User"),
    ("webhooks_user_mannequin", "User"),
    ("webhooks_approver", "User"),
    ("Simple User", "User"),
    ("User", "User"),
    // Repositories.
    ("repository-webhooks", "Repository"),
    ("repository", "Repository"),
    ("full-repository", "Repository"),
    ("Repository", "Repository"),
    ("minimal-repository", "Repository"),
    ("simple-repository", "Repository"),
    ("Repository Lite", "RepositoryLite"),
    // Organizations, enterprises, installations, apps.
    ("organization-simple-webhooks", "Organization"),
    ("Organization Simple", "Organization"),
    ("enterprise-webhooks", "Enterprise"),
    ("enterprise", "Enterprise"),
    ("simple-installation", "InstallationLite"),
    ("Simple Installation", "InstallationLite"),
    ("integration", "App"),
    ("GitHub app", "App"),
    ("App", "App"),
    // Issues, pull requests, comments.
    ("issue", "Issue"),
    ("webhooks_issue", "Issue"),
    ("webhooks_issue_2", "Issue"),
    ("Issue", "Issue"),
    ("pull-request", "PullRequest"),
    ("pull-request-webhook", "PullRequest"),
    ("webhooks_pull_request_5", "PullRequest"),
    ("Pull Request", "PullRequest"),
    ("Simple Pull Request", "PullRequest"),
    ("pull-request-minimal", "PullRequestMinimal"),
    ("Check Run Pull Request", "PullRequestMinimal"),
    ("webhooks_issue_comment", "IssueComment"),
    ("issue comment", "IssueComment"),
    ("webhooks_comment", "DiscussionComment"),
    ("webhooks_review_comment", "PullRequestReviewComment"),
    ("Pull Request Review Comment", "PullRequestReviewComment"),
    ("webhooks_review", "PullRequestReview"),
    // Labels, milestones, teams, licenses.
    ("label", "Label"),
    ("webhooks_label", "Label"),
    ("Label", "Label"),
    ("milestone", "Milestone"),
    ("webhooks_milestone", "Milestone"),
    ("Milestone", "Milestone"),
    ("team", "Team"),
    ("team-simple", "Team"),
    ("webhooks_team", "Team"),
    ("webhooks_team_1", "Team"),
    ("Team", "Team"),
    ("Team Simple", "Team"),
    ("license-simple", "License"),
    ("License Simple", "License"),
    ("License", "License"),
    // Commits, checks, workflows, deployments, releases.
    ("simple-commit", "SimpleCommit"),
    ("SimpleCommit", "SimpleCommit"),
    ("check-run-with-simple-check-suite", "CheckRun"),
    ("CheckRun", "CheckRun"),
    ("simple-check-suite", "CheckSuite"),
    ("deployment", "Deployment"),
    ("deployment-simple", "Deployment"),
    ("Deployment", "Deployment"),
    ("webhooks_workflow", "Workflow"),
    ("Workflow", "Workflow"),
    ("Workflow Run", "WorkflowRun"),
    ("Deployment Workflow Run", "WorkflowRun"),
    ("webhooks_release", "Release"),
    ("webhooks_release_1", "Release"),
    ("Release", "Release"),
    ("Release Asset", "ReleaseAsset"),
    ("webhooks_marketplace_purchase", "MarketplacePurchase"),
    (
        "webhooks_previous_marketplace_purchase",
        "MarketplacePurchase",
    ),
    ("Marketplace Purchase", "MarketplacePurchase"),
    ("code-of-conduct", "CodeOfConduct"),
    ("code-of-conduct-simple", "CodeOfConduct"),
    ("Code Of Conduct", "CodeOfConduct"),
    ("webhooks_project_card", "ProjectCard"),
    ("Project Card", "ProjectCard"),
    ("Reactions", "Reactions"),
    ("reaction-rollup", "Reactions"),
    ("webhooks_security_advisory", "SecurityAdvisory"),
    ("Link", "Link"),
    ("repository-rule-enforcement", "RepositoryRuleEnforcement"),
    ("webhooks_rule", "BranchProtectionRule"),
    ("secret-scanning-alert-webhook", "SecretScanningAlert"),
    ("webhooks_alert", "RepositoryVulnerabilityAlert"),
    (
        "Repository Vulnerability Alert Alert",
        "RepositoryVulnerabilityAlert",
    ),
    ("link", "Link"),
];

/// Component name prefixes whose schemas merge into one type.
const PREFIX_ALIASES: &[(&str, &str)] = &[
    ("repository-rule-params-", ""),
    ("repository-rule-", "RepositoryRule"),
    ("secret-scanning-location-", "SecretScanningLocationDetails"),
];

/// Untitled inline objects that are a shared type, by place (`ParentType.property`).
const PLACES: &[(&str, &str)] = &[
    ("IssueCommentEvent.issue", "Issue"),
    ("ForkEvent.forkee", "Repository"),
    ("PullRequestReviewCommentEvent.pull_request", "PullRequest"),
    ("PullRequestReviewEvent.pull_request", "PullRequest"),
    ("PullRequestReviewThreadEvent.pull_request", "PullRequest"),
    ("PackageEvent.package", "Package"),
    ("RegistryPackageEvent.registry_package", "Package"),
    ("Package.package_version", "PackageVersion"),
    ("CheckSuiteEvent.check_suite", "CheckSuite"),
    ("WorkflowJobEvent.workflow_job", "WorkflowJob"),
    (
        "DeploymentStatusEvent.deployment_status",
        "DeploymentStatus",
    ),
    ("CommitCommentEvent.comment", "CommitComment"),
    ("PageBuildEvent.build", "PageBuild"),
    ("StatusEvent.commit", "StatusCommit"),
    ("CodeScanningAlertEvent.alert", "CodeScanningAlert"),
    (
        "PullRequestReviewThreadEvent.thread",
        "PullRequestReviewThread",
    ),
    ("MetaEvent.hook", "Hook"),
    (
        "InstallationTargetEvent.account",
        "InstallationTargetAccount",
    ),
    // "User" objects of which the schema requires no login.
    ("StatusCommit.author", "PartialUser"),
    ("StatusCommit.committer", "PartialUser"),
    ("DeploymentReviewReviewer.reviewer", "PartialUser"),
];

fn alias(name: &str) -> Option<String> {
    if let Some((_, to)) = ALIASES.iter().find(|(from, _)| *from == name) {
        return Some((*to).to_owned());
    }
    for (prefix, to) in PREFIX_ALIASES {
        if name.starts_with(prefix) {
            if to.is_empty() {
                return None;
            }
            return Some((*to).to_owned());
        }
    }
    None
}

/// The payload struct of an event: `pull_request` → `PullRequestEvent`.
pub(crate) fn event_type_name(event: &str) -> String {
    format!("{}Event", pascal(event))
}

/// The action enum of an event type: `PullRequestEvent` → `PullRequestAction`.
pub(crate) fn action_enum_name(event_type: &str) -> String {
    format!("{}Action", event_type.trim_end_matches("Event"))
}

/// The type of a component schema.
pub(crate) fn component_type_name(component: &str) -> String {
    alias(component).unwrap_or_else(|| default_component_name(component))
}

/// The type of an inline object: by its title, else by where it sits. The flag
/// tells whether the name was made from the place.
pub(crate) fn inline_type_name(title: Option<&str>, parent: &str, key: &str) -> (String, bool) {
    if let Some(to) = shared_type_at(parent, key) {
        return (to.to_owned(), false);
    }
    if let Some(title) = title {
        if let Some(name) = alias(title) {
            return (name, false);
        }
        if !title.ends_with(" event") && !title.ends_with(" Event") {
            return (pascal(title), false);
        }
    }
    place_name(parent, key)
}

/// The shared type [`PLACES`] names for the property `key` of `parent`.
fn shared_type_at(parent: &str, key: &str) -> Option<&'static str> {
    PLACES
        .iter()
        .find(|(place, _)| place.split_once('.') == Some((parent, key)))
        .map(|(_, to)| *to)
}

fn place_name(parent: &str, key: &str) -> (String, bool) {
    if let Some(to) = shared_type_at(parent, key) {
        return (to.to_owned(), false);
    }
    if key.is_empty() {
        return (parent.to_owned(), false);
    }
    (
        format!("{}{}", parent.trim_end_matches("Event"), pascal(key)),
        true,
    )
}

/// The enum of a string property, and whether the name was made from the place.
pub(crate) fn enum_name(parent: &str, key: &str) -> (String, bool) {
    if key == "action" && parent.ends_with("Event") {
        return (action_enum_name(parent), false);
    }
    place_name(parent, key)
}

/// The union of several object types at a place.
pub(crate) fn union_name(parent: &str, key: &str, variants: &[String]) -> String {
    if variants.len() <= 3 {
        variants.join("Or")
    } else {
        place_name(parent, key).0
    }
}

/// A property's item name: `labels` → `label`.
pub(crate) fn singular(key: &str) -> String {
    if let Some(stem) = ["ches", "shes", "xes", "sses"]
        .iter()
        .find_map(|suffix| key.strip_suffix(suffix).map(|stem| (stem, suffix)))
        .map(|(stem, suffix)| format!("{stem}{}", &suffix[..suffix.len() - 2]))
    {
        stem
    } else if let Some(stem) = key.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = key.strip_suffix('s')
        && !stem.ends_with('s')
    {
        stem.to_owned()
    } else {
        key.to_owned()
    }
}
