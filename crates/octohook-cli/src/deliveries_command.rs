//! `octohook deliveries …`: list, inspect and redeliver a hook's deliveries.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand, ValueEnum};
use futures_util::TryStreamExt;
use octohook_client::{
    Client, Deliveries, DeliveryId, DeliveryOutcome, DeliveryQuery, DeliverySummary, HookId,
    HookRef, HookTarget, MemoryLedger, RedeliverOptions, Redeliverer, RedeliveryError,
};
use serde::Serialize;

use crate::github_options::{GithubCommandError, GithubOptions, Identity};

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
    /// Redeliver the given deliveries or, without --delivery, once, the latest
    /// failed attempt of every event that failed within --since, never succeeded
    /// and was not redelivered yet (`octohook redeliver` keeps state across runs).
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
pub(crate) struct SourceArgs {
    /// A repository hook's deliveries.
    #[arg(long, value_name = "OWNER/REPO", requires = "hook")]
    repo: Option<HookTarget>,
    /// An organization hook's deliveries.
    #[arg(long, value_name = "ORG", requires = "hook")]
    org: Option<String>,
    /// The GitHub App's own hook (needs --app-id and --private-key).
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

impl From<StatusArg> for DeliveryOutcome {
    fn from(arg: StatusArg) -> Self {
        match arg {
            StatusArg::Success => Self::Success,
            StatusArg::Failure => Self::Failure,
        }
    }
}

impl SourceArgs {
    /// The hook these options name.
    pub(crate) fn hook_ref(&self, github: &GithubOptions) -> Result<HookRef, GithubCommandError> {
        let hook = || {
            self.hook
                .ok_or_else(|| GithubCommandError::Usage("pass --hook ID".into()))
        };
        match (&self.repo, &self.org, self.app) {
            (Some(repo), _, _) => Ok(HookRef::hook(repo.clone(), hook()?)),
            (None, Some(org), _) => Ok(HookRef::organization(org.clone(), hook()?)),
            (None, None, true) if github.app_id.is_some() => Ok(HookRef::App),
            (None, None, true) => Err(GithubCommandError::Usage(
                "--app needs --app-id and --private-key".into(),
            )),
            (None, None, false) => Err(GithubCommandError::Usage(
                "pass --repo OWNER/REPO, --org ORG or --app".into(),
            )),
        }
    }

    /// A client with the credential the hook needs (the app's JWT for `--app`).
    pub(crate) fn client(&self, github: &GithubOptions) -> Result<Client, GithubCommandError> {
        github.client(identity(&self.hook_ref(github)?))
    }

    fn deliveries(
        &self,
        client: &Client,
        github: &GithubOptions,
    ) -> Result<Deliveries, GithubCommandError> {
        Ok(client.hook_deliveries(&self.hook_ref(github)?))
    }
}

/// The credential `hook` is reached with: the app's JWT for the app's own hook.
pub(crate) fn identity(hook: &HookRef) -> Identity {
    if matches!(hook, HookRef::App) {
        Identity::App
    } else {
        Identity::Default
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

/// Redelivers, once, every event that failed within `since`, never succeeded
/// and was not redelivered yet: a one-shot [`Redeliverer`] run that keeps no
/// state (`octohook redeliver` is the stateful, crash-safe command).
async fn recent_failures(
    client: Client,
    hook: HookRef,
    since: Duration,
) -> Result<Vec<DeliveryId>, GithubCommandError> {
    let options = RedeliverOptions {
        since,
        ..RedeliverOptions::default()
    };
    let report = Redeliverer::new(client, hook, Arc::new(MemoryLedger::new()), options)
        .run()
        .await
        .map_err(|error| match error {
            RedeliveryError::List(error) => GithubCommandError::Api(error),
            other => GithubCommandError::Usage(other.to_string()),
        })?;
    if let Some(failure) = report.errors.first() {
        return Err(GithubCommandError::PartlyDone(format!(
            "{} of {} redelivery requests failed; first: {}",
            report.errors.len(),
            report.errors.len() as u64 + report.redelivered,
            failure.message
        )));
    }
    Ok(report.redeliveries.iter().map(|r| r.delivery_id).collect())
}

/// Runs `octohook deliveries …`; errors come out as `main` classifies them.
pub(crate) async fn run(args: DeliveriesArgs) -> Result<(), Box<dyn std::error::Error>> {
    execute(args).await.map_err(GithubCommandError::into_boxed)
}

/// One `--delivery` of `deliveries redeliver`, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Redelivered {
    delivery: DeliveryId,
    /// Whether GitHub accepted the redelivery request.
    redelivered: bool,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Redelivers each of `ids`, going on after a refusal. All refused: the first
/// error (so that a 404 exits 5); some: [`GithubCommandError::PartlyDone`] after
/// printing the results.
async fn redeliver_each(
    github: &GithubOptions,
    deliveries: &Deliveries,
    ids: &[DeliveryId],
) -> Result<(), GithubCommandError> {
    let mut results = Vec::with_capacity(ids.len());
    let mut first_error = None;
    for id in ids {
        match deliveries.redeliver(*id).await {
            Ok(()) => results.push(Redelivered {
                delivery: *id,
                redelivered: true,
                error: None,
            }),
            Err(error) => {
                results.push(Redelivered {
                    delivery: *id,
                    redelivered: false,
                    error: Some(error.to_string()),
                });
                first_error.get_or_insert(error);
            }
        }
    }
    let refused = results.iter().filter(|r| !r.redelivered).count();
    if refused == results.len()
        && let Some(error) = first_error
    {
        return Err(error.into());
    }
    github.print(&serde_json::json!({ "results": results }), |out| {
        results.iter().try_for_each(|result| match &result.error {
            None => writeln!(out, "redelivered {}", result.delivery),
            Some(error) => writeln!(out, "refused {}: {error}", result.delivery),
        })
    })?;
    if refused > 0 {
        return Err(GithubCommandError::PartlyDone(format!(
            "{refused} of {} redelivery requests were refused",
            results.len()
        )));
    }
    Ok(())
}

async fn execute(args: DeliveriesArgs) -> Result<(), GithubCommandError> {
    let github = &args.github;
    let source = match &args.command {
        DeliveriesCommand::List { source, .. }
        | DeliveriesCommand::Get { source, .. }
        | DeliveriesCommand::Redeliver { source, .. } => source,
    };
    let client = source.client(github)?;
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
            let ids = if !delivery.is_empty() {
                let deliveries = source.deliveries(&client, github)?;
                return redeliver_each(github, &deliveries, &delivery).await;
            } else if let Some(since) = filter.since {
                if matches!(filter.status, Some(StatusArg::Success)) {
                    Vec::new()
                } else {
                    recent_failures(client, source.hook_ref(github)?, since).await?
                }
            } else {
                return Err(GithubCommandError::Usage(
                    "pass --delivery ID, or --since DURATION to redeliver recent failures".into(),
                ));
            };
            let results: Vec<Redelivered> = ids
                .iter()
                .map(|id| Redelivered {
                    delivery: *id,
                    redelivered: true,
                    error: None,
                })
                .collect();
            github.print(&serde_json::json!({ "results": results }), |out| {
                ids.iter()
                    .try_for_each(|id| writeln!(out, "redelivered {id}"))
            })
        }
    }
}
