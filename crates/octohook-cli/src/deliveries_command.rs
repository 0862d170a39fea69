//! `octohook deliveries …`: list, inspect and redeliver a hook's deliveries.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand, ValueEnum};
use futures_util::TryStreamExt;
use octohook_client::{
    Client, Deliveries, DeliveryGuid, DeliveryId, DeliveryQuery, DeliveryStatus, DeliverySummary,
    HookId, HookTarget,
};

use crate::github_options::{GithubCommandError, GithubOptions};

/// `octohook deliveries`.
#[derive(Debug, Args)]
pub(crate) struct DeliveriesArgs {
    #[command(flatten)]
    github: GithubOptions,
    #[command(subcommand)]
    command: DeliveriesCommand,
}

#[derive(Debug, Subcommand)]
enum DeliveriesCommand {
    /// List deliveries, newest first.
    List {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Show one delivery with its request and response.
    Get {
        #[command(flatten)]
        source: SourceArgs,
        /// The delivery's id.
        #[arg(long, value_name = "ID")]
        delivery: DeliveryId,
    },
    /// Redeliver the given deliveries or, without --delivery, the latest failed
    /// attempt of every event that failed within --since and never succeeded.
    Redeliver {
        #[command(flatten)]
        source: SourceArgs,
        /// The delivery to redeliver (repeatable).
        #[arg(long, value_name = "ID")]
        delivery: Vec<DeliveryId>,
        #[command(flatten)]
        filter: FilterArgs,
    },
}

/// `--repo OWNER/REPO --hook ID`, `--org ORG --hook ID`, or `--app`.
#[derive(Debug, Args)]
#[group(skip)]
#[command(group(
    clap::ArgGroup::new("source").args(["repo", "org", "app"]).required(true).multiple(false)
))]
struct SourceArgs {
    /// A repository hook's deliveries.
    #[arg(long, value_name = "OWNER/REPO", requires = "hook")]
    repo: Option<HookTarget>,
    /// An organization hook's deliveries.
    #[arg(long, value_name = "ORG", requires = "hook")]
    org: Option<String>,
    /// The GitHub App's hook deliveries (needs --app-id and --app-key).
    #[arg(long, conflicts_with = "hook")]
    app: bool,
    /// The hook's id (with --repo or --org).
    #[arg(long, value_name = "ID")]
    hook: Option<HookId>,
}

#[derive(Debug, Args)]
struct FilterArgs {
    /// Only successful or only failed deliveries.
    #[arg(long, value_enum)]
    status: Option<StatusArg>,
    /// Only deliveries made within this long, e.g. 30m, 6h, 2days.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    since: Option<Duration>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum StatusArg {
    Success,
    Failure,
}

impl From<StatusArg> for DeliveryStatus {
    fn from(arg: StatusArg) -> Self {
        match arg {
            StatusArg::Success => Self::Success,
            StatusArg::Failure => Self::Failure,
        }
    }
}

impl SourceArgs {
    fn deliveries(
        &self,
        client: &Client,
        github: &GithubOptions,
    ) -> Result<Deliveries, GithubCommandError> {
        let hook = || {
            self.hook
                .ok_or_else(|| GithubCommandError::Usage("pass --hook ID".into()))
        };
        match (&self.repo, &self.org, self.app) {
            (Some(repo), _, _) => Ok(client.hooks(repo.clone()).deliveries(hook()?)),
            (None, Some(org), _) => Ok(client.org_hooks(org.clone()).deliveries(hook()?)),
            (None, None, true) if github.app_id.is_some() => Ok(client.app_hook().deliveries()),
            (None, None, true) => Err(GithubCommandError::Usage(
                "--app needs --app-id and --app-key".into(),
            )),
            (None, None, false) => Err(GithubCommandError::Usage(
                "pass --repo OWNER/REPO, --org ORG or --app".into(),
            )),
        }
    }
}

/// Deliveries matching `filter`, newest first, stopping at the first one older
/// than `--since` rather than paging through all of them.
async fn matching(
    deliveries: &Deliveries,
    filter: &FilterArgs,
) -> Result<Vec<DeliverySummary>, GithubCommandError> {
    let cutoff = filter.since.map(|since| SystemTime::now() - since);
    let query = DeliveryQuery {
        status: filter.status.map(Into::into),
        ..DeliveryQuery::default()
    };
    let found = deliveries
        .stream(query)
        .try_take_while(|delivery| {
            let recent =
                cutoff.is_none_or(|cutoff| SystemTime::from(delivery.delivered_at) >= cutoff);
            std::future::ready(Ok(recent))
        })
        .try_collect()
        .await?;
    Ok(found)
}

fn delivery_line(out: &mut dyn Write, delivery: &DeliverySummary) -> std::io::Result<()> {
    let delivered_at = delivery
        .delivered_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "-".to_owned());
    let event = match &delivery.action {
        Some(action) => format!("{}.{action}", delivery.event),
        None => delivery.event.to_string(),
    };
    writeln!(
        out,
        "{}\t{}\t{}\t{}\t{}{}",
        delivery.id,
        delivery.guid,
        delivered_at,
        delivery.status_code,
        event,
        if delivery.redelivery {
            "\tredelivery"
        } else {
            ""
        },
    )
}

/// The latest failed attempt of each event that has no successful attempt among
/// `deliveries` (newest first): what to redeliver.
fn failed_events(deliveries: &[DeliverySummary]) -> Vec<DeliveryId> {
    let mut latest: BTreeMap<&DeliveryGuid, Option<DeliveryId>> = BTreeMap::new();
    for delivery in deliveries {
        let entry = latest
            .entry(&delivery.guid)
            .or_insert_with(|| Some(delivery.id));
        if delivery.succeeded() {
            *entry = None;
        }
    }
    let mut ids: Vec<DeliveryId> = latest.into_values().flatten().collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids
}

/// Runs `octohook deliveries …`.
pub(crate) async fn run(args: DeliveriesArgs) -> Result<(), GithubCommandError> {
    let github = &args.github;
    let client = github.client()?;
    match args.command {
        DeliveriesCommand::List { source, filter } => {
            let deliveries = source.deliveries(&client, github)?;
            let found = matching(&deliveries, &filter).await?;
            github.print(&found, |out| {
                found
                    .iter()
                    .try_for_each(|delivery| delivery_line(out, delivery))
            })
        }
        DeliveriesCommand::Get { source, delivery } => {
            let found = source.deliveries(&client, github)?.get(delivery).await?;
            github.print(&found, |out| {
                delivery_line(out, &found.summary)?;
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&found.request).unwrap_or_default()
                )?;
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&found.response).unwrap_or_default()
                )
            })
        }
        DeliveriesCommand::Redeliver {
            source,
            delivery,
            filter,
        } => {
            let deliveries = source.deliveries(&client, github)?;
            let ids = if !delivery.is_empty() {
                delivery
            } else if filter.since.is_some() {
                // Successes are needed too, to skip events that were redelivered
                // successfully already.
                let scan = FilterArgs {
                    status: None,
                    since: filter.since,
                };
                let mut ids = failed_events(&matching(&deliveries, &scan).await?);
                if matches!(filter.status, Some(StatusArg::Success)) {
                    ids.clear();
                }
                ids
            } else {
                return Err(GithubCommandError::Usage(
                    "pass --delivery ID, or --since DURATION to redeliver recent failures".into(),
                ));
            };
            for id in &ids {
                deliveries.redeliver(*id).await?;
            }
            github.print(&serde_json::json!({"redelivered": ids}), |out| {
                ids.iter()
                    .try_for_each(|id| writeln!(out, "redelivered {id}"))
            })
        }
    }
}
