//! `octohook redeliver`: redeliver a hook's failed deliveries once per event, with
//! state in a SQLite file so that crashes and restarts neither repeat nor forget
//! one.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use octohook_client::{
    LedgerError, MemoryLedger, RedeliverOptions, Redeliverer, RedeliveryError, RedeliveryLedger,
    RunReport, SqliteLedger,
};
use time::format_description::well_known::Rfc3339;

use crate::deliveries_command::SourceArgs;
use crate::exit_status::{Failed, Status};
use crate::github_options::{GithubCommandError, GithubOptions};

/// `octohook redeliver`.
#[derive(Debug, Args)]
pub(crate) struct RedeliverArgs {
    #[command(flatten)]
    github: GithubOptions,
    #[command(flatten)]
    source: SourceArgs,
    /// How far back to look, e.g. 24h; at most GitHub's 3-day redelivery
    /// window. Runs after the first stop earlier, at the last run's checkpoint.
    #[arg(long, value_name = "DURATION", default_value = "3days", value_parser = humantime::parse_duration)]
    since: Duration,
    /// The SQLite file that keeps the checkpoint and every redelivery request.
    #[arg(long, value_name = "PATH", default_value = "./octohook-state.db")]
    state: PathBuf,
    /// The most redelivery requests per run; the rest wait for the next run.
    #[arg(long, value_name = "N")]
    max: Option<u32>,
    /// Redeliveries an event may have had, ours or anyone's, before it is left alone.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    /// Decide and report, but request nothing and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Keep running, once every --interval, until interrupted.
    #[arg(long)]
    watch: bool,
    /// The pause between runs with --watch.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration, requires = "watch")]
    interval: Duration,
    /// How long an interrupted redelivery request may take to show up in the
    /// deliveries list before it is taken as never sent and made again.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    settle: Duration,
}

/// A failure of `octohook redeliver`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RedeliverCommandError {
    #[error(transparent)]
    Github(#[from] GithubCommandError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Run(#[from] RedeliveryError),
    #[error("{0} redelivery request(s) were not accepted")]
    NotAccepted(usize),
}

impl RedeliverCommandError {
    /// The error as `main` classifies it: refused redeliveries exit 6
    /// (`PartlyDone`), errors of GitHub's API by their kind.
    fn into_boxed(self) -> Box<dyn std::error::Error> {
        match self {
            Self::Github(error) => error.into_boxed(),
            Self::Run(RedeliveryError::List(error)) => Box::new(error),
            Self::NotAccepted(_) => Box::new(Failed::new(Status::PartlyDone, self.to_string())),
            other => Box::new(other),
        }
    }
}

impl From<std::io::Error> for RedeliverCommandError {
    fn from(error: std::io::Error) -> Self {
        Self::Github(GithubCommandError::Output(error))
    }
}

/// Runs `octohook redeliver`: exit 0 when every redelivery request of the (last)
/// run was accepted, 6 when some were refused.
pub(crate) async fn run(args: RedeliverArgs) -> Result<(), Box<dyn std::error::Error>> {
    execute(args)
        .await
        .map_err(RedeliverCommandError::into_boxed)
}

async fn execute(args: RedeliverArgs) -> Result<(), RedeliverCommandError> {
    let hook = args.source.hook_ref(&args.github)?;
    let client = args.source.client(&args.github)?;
    let store: Arc<dyn RedeliveryLedger> = if args.dry_run && !args.state.exists() {
        // A dry run writes nothing, not even an empty state file.
        Arc::new(MemoryLedger::new())
    } else {
        Arc::new(SqliteLedger::open(&args.state).await?)
    };
    let options = RedeliverOptions {
        since: args.since,
        max_redeliveries: args.max,
        max_attempts_per_guid: args.max_attempts,
        dry_run: args.dry_run,
        settle: args.settle,
        ..RedeliverOptions::default()
    };
    let redeliverer = Redeliverer::new(client, hook, store, options);
    if !args.watch {
        let report = run_once(&redeliverer).await?;
        print(&args.github, &redeliverer, &report)?;
        return match report.errors.len() {
            0 => Ok(()),
            failed => Err(RedeliverCommandError::NotAccepted(failed)),
        };
    }
    // The outcome of the last run decides the exit status.
    let mut last: Result<(), RedeliverCommandError> = Ok(());
    loop {
        // Interrupting a run part-way is safe: it is the crash the state file is
        // designed for.
        let outcome = tokio::select! {
            outcome = run_once(&redeliverer) => outcome,
            () = interrupted() => break,
        };
        last = match outcome {
            Ok(report) => {
                print(&args.github, &redeliverer, &report)?;
                match report.errors.len() {
                    0 => Ok(()),
                    failed => Err(RedeliverCommandError::NotAccepted(failed)),
                }
            }
            Err(error) => {
                tracing::error!(%error, "redelivery run failed; trying again after the interval");
                Err(error.into())
            }
        };
        tokio::select! {
            () = tokio::time::sleep(args.interval) => {}
            () = interrupted() => break,
        }
    }
    last
}

/// One run with a progress bar on stderr while scanning, when stdout is a
/// terminal.
async fn run_once(redeliverer: &Redeliverer) -> Result<RunReport, RedeliveryError> {
    let target = if std::io::stdout().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(1000), target);
    bar.set_style(
        ProgressStyle::with_template("{spinner} scanning deliveries [{bar:30}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let result = redeliverer
        .run_with_progress(|progress| {
            bar.set_position((progress.fraction() * 1000.0) as u64);
            bar.set_message(format!(
                "page {}, {} deliveries",
                progress.pages, progress.deliveries
            ));
        })
        .await;
    bar.finish_and_clear();
    result
}

/// SIGINT, or SIGTERM on Unix.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn print(
    github: &GithubOptions,
    redeliverer: &Redeliverer,
    report: &RunReport,
) -> Result<(), GithubCommandError> {
    github.print(report, |out| table(out, redeliverer, report))
}

/// The report as a two-column table, then one line per failed request.
fn table(
    out: &mut dyn Write,
    redeliverer: &Redeliverer,
    report: &RunReport,
) -> std::io::Result<()> {
    if report.dry_run {
        writeln!(out, "dry run: nothing was requested or written")?;
    }
    let back_to = report
        .scanned_back_to
        .and_then(|t| t.replace_nanosecond(0).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "-".into());
    let redelivered = if report.dry_run {
        "would redeliver"
    } else {
        "redelivered"
    };
    let rows: [(&str, String); 13] = [
        ("hook", redeliverer.scope().to_owned()),
        ("scanned back to", back_to),
        ("pages scanned", report.pages_scanned.to_string()),
        ("deliveries scanned", report.deliveries_scanned.to_string()),
        ("failed events", report.failed_guids.to_string()),
        (redelivered, report.redelivered.to_string()),
        ("skipped: succeeded", report.skipped_succeeded.to_string()),
        (
            "skipped: already redelivered",
            report.skipped_already_redelivered.to_string(),
        ),
        ("skipped: too old", report.skipped_too_old.to_string()),
        ("deferred to the next run", report.deferred.to_string()),
        (
            "interrupted, confirmed",
            report.intents_confirmed.to_string(),
        ),
        ("interrupted, retried", report.intents_abandoned.to_string()),
        ("errors", report.errors.len().to_string()),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<30}{value}")?;
    }
    for failure in &report.errors {
        writeln!(
            out,
            "error: {} (delivery {}){}: {}",
            failure.guid,
            failure.delivery_id,
            if failure.outcome_unknown {
                ", outcome unknown"
            } else {
                ""
            },
            failure.message
        )?;
    }
    Ok(())
}
