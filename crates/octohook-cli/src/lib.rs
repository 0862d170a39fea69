//! The `octohook` command: a verifying GitHub webhook receiver, and tools to sign,
//! send and manage deliveries.
//!
//! The binary (`src/main.rs`) only calls [`run`]; [`command`] exposes the clap
//! definition to the repository's generators (`cargo run -p xtask -- man`).
#![forbid(unsafe_code)]

mod completions_command;
mod deliveries_command;
mod env_scrub;
mod events_command;
mod example_payloads;
mod exit_status;
mod github_options;
mod hooks_command;
mod inbox_command;
mod inbox_store;
mod json_output;
mod logging;
mod pull_command;
mod pull_flags;
mod redacted_url;
mod redeliver_command;
mod secrets;
mod send;
mod serve;
mod sign;
mod terminal_text;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Receive GitHub webhooks safely, and manage the hooks that send them.
#[derive(Debug, Parser)]
#[command(
    name = "octohook",
    version,
    about,
    after_help = "With --json, a command prints one JSON document on standard output: an \
                  object, or an array of objects for a listing, with snake_case field names. \
                  Exit codes: 0 success, 1 failure, 2 usage, 3 unknown event (parse), 4 GitHub \
                  refused the credentials, 5 not found, 6 partly done, 7 GitHub unavailable, \
                  8 aborted (a confirmation declined or missing), 9 the receiver refused (send)."
)]
struct Cli {
    /// How log lines (on standard error) are written: text, or one JSON object
    /// per line.
    #[arg(
        long,
        global = true,
        env = "OCTOHOOK_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    log_format: logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a receiver that verifies deliveries, stores each once and processes it.
    Serve(Box<serve::ServeArgs>),
    /// List, show, retry and purge the deliveries stored by `octohook serve`.
    Inbox(inbox_command::InboxArgs),
    /// Print the `X-Hub-Signature-256` value of a body.
    Sign(sign::SignArgs),
    /// Post a payload (a file, or a built-in example) to a receiver with every
    /// header GitHub sends.
    Send(send::SendArgs),
    /// Manage repository and organization webhooks through GitHub's API.
    Hooks(hooks_command::HooksArgs),
    /// List, inspect and redeliver a webhook's deliveries.
    Deliveries(deliveries_command::DeliveriesArgs),
    /// Redeliver a hook's failed deliveries once per event, with crash-safe state.
    Redeliver(redeliver_command::RedeliverArgs),
    /// Receive a hook's deliveries without a public endpoint: pull them from
    /// GitHub's API into the inbox, and process them as `serve` does.
    Pull(Box<pull_command::PullArgs>),
    /// Print every supported `event.action` pair (or the built-in examples), one per
    /// line.
    Events(events_command::EventsArgs),
    /// Parse a payload into its typed event (exit 3 when the event is unknown).
    Parse(events_command::ParseArgs),
    /// Print the shell completion script of a shell.
    Completions(completions_command::CompletionsArgs),
}

/// The clap definition of the `octohook` command, with every subcommand.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Runs `octohook` with the process's arguments, and returns its exit status.
pub fn run() -> ExitCode {
    let mut cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    if let Command::Serve(args) = &mut cli.command {
        // Before any thread or child exists: may replace this process.
        if let Err(error) = args.isolate_secrets() {
            logging::report_failure(cli.log_format, &error);
            return ExitCode::FAILURE;
        }
    }
    // Traces are `serve`'s alone; a bad setting stops it before it starts.
    let telemetry = match &cli.command {
        Command::Serve(_) => match octohook_server::Telemetry::from_env() {
            Ok(telemetry) => telemetry,
            Err(error) => {
                logging::report_failure(cli.log_format, &error);
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    logging::init(cli.log_format, telemetry.as_ref());
    if let Some(telemetry) = &telemetry {
        tracing::info!(
            endpoint = %telemetry.traces_url(),
            max_queue = telemetry.max_queue_size(),
            "exporting traces over OTLP"
        );
    }
    let log_format = cli.log_format;
    let result = match cli.command {
        Command::Events(args) => events_command::events(args),
        Command::Parse(args) => return events_command::parse(args),
        Command::Sign(args) => sign::run(args),
        Command::Completions(args) => completions_command::run(args),
        command => match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime.block_on(run_async(command, log_format)),
            Err(error) => Err(format!("cannot start the runtime: {error}").into()),
        },
    };
    // After the runtime stopped (the workers drained): exports the spans still
    // queued, waiting a few seconds at most for the collector.
    if let Some(telemetry) = telemetry
        && let Err(error) = telemetry.shutdown()
    {
        tracing::warn!(%error, "traces were lost at shutdown");
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            logging::report_failure(log_format, &*error);
            exit_status::Status::of(&*error).into()
        }
    }
}

/// Prints clap's error (or the help or version it was asked for) and returns
/// its exit status (2 for a usage error). The error goes out without the
/// credentials of the command line: clap repeats values in its messages.
fn usage_error(error: &clap::Error) -> ExitCode {
    let status = ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
    if !error.use_stderr() {
        // --help and --version: nothing given is repeated, and colours stay.
        let _ = error.print();
        return status;
    }
    let text = redacted_url::without_given_credentials(&error.render().to_string());
    // Nowhere left to report a failure to write to standard error.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
    status
}

async fn run_async(
    command: Command,
    log_format: logging::LogFormat,
) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve(args) => serve::run(*args, log_format).await,
        Command::Inbox(args) => inbox_command::run(args)
            .await
            .map_err(inbox_command::InboxError::into_boxed),
        Command::Send(args) => send::run(args).await,
        Command::Hooks(args) => Ok(hooks_command::run(args).await?),
        Command::Deliveries(args) => Ok(deliveries_command::run(args).await?),
        Command::Redeliver(args) => Ok(redeliver_command::run(args).await?),
        Command::Pull(args) => pull_command::run(*args).await,
        Command::Sign(args) => sign::run(args),
        Command::Events(_) | Command::Parse(_) | Command::Completions(_) => {
            Err("this command runs without the async runtime".into())
        }
    }
}
