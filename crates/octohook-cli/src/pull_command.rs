//! `octohook pull`: receive a hook's deliveries without a public endpoint, by
//! reading them from GitHub's API into the inbox, and process them with the
//! handlers of `serve` (`--out`, `--exec`, `--forward`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use octohook_client::pull::{PullError, PullOptions, PullReport, PullSource};
use octohook_inbox::handlers::JsonLines;
use octohook_inbox::{DeliveryStatus, Inbox};
use octohook_server::{ProcessingConfig, StoreArgs};

use crate::deliveries_command::SourceArgs;
use crate::github_options::GithubOptions;
use crate::pull_flags::PullTiming;

/// GitHub's primary rate limit for a token, per hour: what the follow-mode log
/// line measures the polling against.
const HOURLY_RATE_LIMIT: u64 = 5_000;

/// `octohook pull`.
#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    #[command(flatten)]
    github: GithubOptions,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    timing: PullTiming,
    /// Pull what GitHub holds now, process it, and exit (without it, keep
    /// polling every --interval until interrupted).
    #[arg(long, conflicts_with = "interval")]
    once: bool,
    /// File to append the JSON lines to (standard output when absent): one per
    /// delivery, written by the workers, with "origin":"pulled".
    #[arg(long, env = "OCTOHOOK_OUT", value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    processing: ProcessingConfig,
}

/// Runs `octohook pull`.
pub(crate) async fn run(args: PullArgs) -> Result<(), Box<dyn std::error::Error>> {
    let hook = args
        .source
        .hook_ref(&args.github)
        .map_err(|e| e.into_boxed())?;
    let client = args
        .source
        .client(&args.github)
        .map_err(|e| e.into_boxed())?;
    args.store.check()?;
    let store = args.store.config();
    let Some(shared) = store.open().await? else {
        return Err(
            "octohook pull stores what it pulls: it needs an inbox (not --no-inbox)".into(),
        );
    };
    let inbox = Inbox::from_shared(shared);
    let lines = match &args.out {
        Some(path) => JsonLines::append_to(path)
            .map_err(|error| format!("cannot open {}: {error}", path.display()))?,
        None => JsonLines::stdout(),
    };
    // The same chain as `serve`'s: the line, --exec, --forward, then --publish.
    let publishers = args.processing.publishers().await?;
    let handler = args.processing.handler(lines, publishers)?;
    let processing = args.processing.start(&inbox, handler);
    let options = PullOptions {
        since: args.timing.since(),
        ..PullOptions::default()
    };
    let source = PullSource::new(client, hook, inbox.clone(), options);
    tracing::info!(store = %store.describe(), workers = processing.workers(), hook = %source.hook(), "pulling into the inbox");
    let outcome = if args.once {
        let report = run_once(&source).await;
        match report {
            Ok(report) => {
                // Processed before exiting: whatever is pending, this run's
                // deliveries and any left by an earlier one.
                settled(&inbox).await;
                summary(&report);
                Ok(())
            }
            Err(error) => Err(error),
        }
    } else {
        let interval = args.timing.interval();
        let polls_an_hour = 3600 / interval.as_secs().max(1);
        tracing::info!(
            interval_secs = interval.as_secs_f64(),
            "polling every {:?}: about {polls_an_hour} listing requests an hour when nothing is new \
             ({}% of GitHub's {HOURLY_RATE_LIMIT} an hour for a token), plus one per new delivery",
            interval,
            polls_an_hour * 100 / HOURLY_RATE_LIMIT,
        );
        tokio::select! {
            () = source.follow(interval, |_| {}) => {}
            () = octohook_server::shutdown_signal() => {}
        }
        Ok(())
    };
    processing.drain(args.processing.shutdown_timeout).await;
    outcome.map_err(into_boxed)
}

/// One run, with a count on stderr while it goes when stderr is a terminal.
async fn run_once(source: &PullSource) -> Result<PullReport, PullError> {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(
        ProgressStyle::with_template("{spinner} pulling deliveries [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let result = source
        .run_with_progress(|progress| {
            bar.set_length(progress.listed);
            bar.set_position(progress.handled);
            bar.set_message(format!("{} stored", progress.stored));
        })
        .await;
    bar.finish_and_clear();
    result
}

/// Waits until no delivery of the inbox is pending or being processed.
async fn settled(inbox: &Inbox) {
    loop {
        match inbox.counts().await {
            Ok(counts)
                if counts.get(DeliveryStatus::Pending) + counts.get(DeliveryStatus::Processing)
                    == 0 =>
            {
                return;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "cannot count the inbox's deliveries; stopping the workers");
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One line for people at the end of `--once`, on a terminal.
fn summary(report: &PullReport) {
    if std::io::stderr().is_terminal() {
        eprintln!(
            "octohook: {} deliveries listed, {} stored, {} already in the inbox, {} unavailable ({} API requests)",
            report.listed,
            report.stored,
            report.already_stored + report.duplicates,
            report.unavailable,
            report.api_requests()
        );
    }
}

/// The error as `main` classifies it: errors of GitHub's API by their kind.
fn into_boxed(error: PullError) -> Box<dyn std::error::Error> {
    match error {
        PullError::List(error) | PullError::Fetch { source: error, .. } => Box::new(error),
        other => Box::new(other),
    }
}
