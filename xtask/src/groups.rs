//! Event groups: each event belongs to exactly one, and each group is a Cargo feature
//! of `octohook` (`events-<group>`), so users build only the payload types they parse.
//!
//! The split follows what one integration usually subscribes to together. A new
//! event of the schema must be added here: codegen fails until it has a group.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Model, Ty};

/// One group: its feature suffix, what it is about, and its events.
pub(crate) struct Group {
    pub(crate) name: &'static str,
    pub(crate) about: &'static str,
    pub(crate) events: &'static [&'static str],
}

impl Group {
    /// The Cargo feature: `events-pull-request`.
    pub(crate) fn feature(&self) -> String {
        format!("events-{}", self.name)
    }

    /// The generated module: `pull_request`.
    pub(crate) fn module(&self) -> String {
        self.name.replace('-', "_")
    }
}

/// Every group, in the order the features are listed.
pub(crate) const GROUPS: &[Group] = &[
    Group {
        name: "repository",
        about: "Git and repository activity: pushes, refs, releases, settings, rules, GHES cache syncs",
        events: &[
            "branch_protection_configuration",
            "branch_protection_rule",
            "cache_sync",
            "commit_comment",
            "create",
            "delete",
            "deploy_key",
            "fork",
            "gollum",
            "page_build",
            "public",
            "push",
            "release",
            "repository",
            "repository_dispatch",
            "repository_import",
            "repository_ruleset",
            "star",
            "watch",
        ],
    },
    Group {
        name: "pull-request",
        about: "Pull requests, their reviews, review comments and review threads",
        events: &[
            "pull_request",
            "pull_request_review",
            "pull_request_review_comment",
            "pull_request_review_thread",
        ],
    },
    Group {
        name: "issues",
        about: "Issues, issue and pull request comments, labels, milestones, sub-issues",
        events: &[
            "issue_comment",
            "issue_dependencies",
            "issues",
            "label",
            "milestone",
            "sub_issues",
        ],
    },
    Group {
        name: "checks",
        about: "CI and delivery: checks, commit statuses, Actions workflows, deployments, merge queues",
        events: &[
            "check_run",
            "check_suite",
            "deployment",
            "deployment_protection_rule",
            "deployment_review",
            "deployment_status",
            "merge_group",
            "status",
            "workflow_dispatch",
            "workflow_job",
            "workflow_run",
        ],
    },
    Group {
        name: "security",
        about: "Code scanning, Dependabot and secret scanning alerts, advisories, security settings, dismissal and exemption requests",
        events: &[
            "code_scanning_alert",
            "dismissal_request_code_scanning",
            "dismissal_request_secret_scanning",
            "dependabot_alert",
            "exemption_request_push_ruleset",
            "exemption_request_secret_scanning",
            "repository_advisory",
            "repository_vulnerability_alert",
            "secret_scanning_alert",
            "secret_scanning_alert_location",
            "secret_scanning_scan",
            "security_advisory",
            "security_and_analysis",
        ],
    },
    Group {
        name: "org",
        about: "Enterprises, organizations, users, members, teams, blocked users, custom properties",
        events: &[
            "custom_property",
            "custom_property_values",
            "enterprise",
            "member",
            "membership",
            "org_block",
            "organization",
            "organization_custom_property",
            "organization_custom_property_values",
            "team",
            "team_add",
            "user",
        ],
    },
    Group {
        name: "apps",
        about: "GitHub Apps, Marketplace and Sponsors: installations, authorizations, token \
                requests, purchases, sponsorships, and the events about the hook itself",
        events: &[
            "github_app_authorization",
            "content_reference",
            "installation",
            "installation_repositories",
            "installation_target",
            "marketplace_purchase",
            "meta",
            "personal_access_token_request",
            "ping",
            "sponsorship",
        ],
    },
    Group {
        name: "projects",
        about: "Projects (classic) and Projects",
        events: &[
            "project",
            "project_card",
            "project_column",
            "projects_v2",
            "projects_v2_item",
            "projects_v2_status_update",
        ],
    },
    Group {
        name: "discussions",
        about: "Discussions and their comments",
        events: &["discussion", "discussion_comment"],
    },
    Group {
        name: "packages",
        about: "GitHub Packages",
        events: &["package", "registry_package"],
    },
];

/// The group of every event of the model; fails on events without one or with
/// several, and on listed events the schema does not have.
pub(crate) fn of_events(model: &Model) -> Result<BTreeMap<String, usize>, String> {
    let mut group_of = BTreeMap::new();
    for (index, group) in GROUPS.iter().enumerate() {
        for event in group.events {
            if let Some(other) = group_of.insert((*event).to_owned(), index) {
                return Err(format!(
                    "event {event} is in two groups ({} and {}) in xtask/src/groups.rs",
                    GROUPS[other].name, group.name
                ));
            }
        }
    }
    let missing = keys_missing_from(&model.events, &group_of);
    if !missing.is_empty() {
        return Err(format!(
            "events without a group: {}; add each to one group in xtask/src/groups.rs",
            missing.join(", ")
        ));
    }
    let stale = keys_missing_from(&group_of, &model.events);
    if !stale.is_empty() {
        return Err(format!(
            "xtask/src/groups.rs lists events the schema does not have: {}",
            stale.join(", ")
        ));
    }
    Ok(group_of)
}

/// The keys of `these` that `those` lacks.
fn keys_missing_from<'a, V, W>(
    these: &'a BTreeMap<String, V>,
    those: &BTreeMap<String, W>,
) -> Vec<&'a str> {
    these
        .keys()
        .filter(|key| !those.contains_key(*key))
        .map(String::as_str)
        .collect()
}

/// For every struct, enum and union, the groups whose events reach it.
pub(crate) fn of_types(
    model: &Model,
    group_of: &BTreeMap<String, usize>,
) -> BTreeMap<String, BTreeSet<usize>> {
    let mut reached: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for (event_name, event) in &model.events {
        let group = group_of[event_name];
        let mut stack = vec![event.type_name.clone()];
        if let Some(action) = Model::action_enum(event) {
            stack.push(action);
        }
        while let Some(name) = stack.pop() {
            if !reached.entry(name.clone()).or_default().insert(group) {
                continue;
            }
            if let Some(s) = model.structs.get(&name) {
                for field in s.fields.values() {
                    named_types(&field.ty, &mut stack);
                }
            }
            if let Some(u) = model.unions.get(&name) {
                stack.extend(u.variants.iter().cloned());
            }
        }
    }
    reached
}

/// The structs, enums and unions a type names.
pub(crate) fn named_types(ty: &Ty, out: &mut Vec<String>) {
    match ty {
        Ty::Enum(n) | Ty::Struct(n) | Ty::Union(n) => out.push(n.clone()),
        Ty::Array(inner) | Ty::Map(inner) | Ty::Option(inner) | Ty::Change(inner) => {
            named_types(inner, out);
        }
        _ => {}
    }
}
