//! `octohook events` and `octohook parse`: the typed events this version knows, and
//! how a payload parses into them.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use octohook::EventKind;
use octohook::events::{Event, supported_names};
use serde_json::{Value, json};

use crate::example_payloads::ExamplePayloads;
use crate::exit_status::Status;
use crate::json_output;

/// Prints every supported `event.action` pair (and each event without actions by
/// name), one per line; with `--examples`, the names of the example payloads built
/// into octohook (`octohook send --example NAME`) instead.
#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// List the built-in example payloads instead.
    #[arg(long)]
    examples: bool,
    /// Print one JSON array of objects: `name`, `event` and `action` (null when
    /// the event has none).
    #[arg(long)]
    json: bool,
}

/// Parses a payload into its typed event and prints the event, the action, a
/// one-line summary and a `warning:` line for every field that did not fit its type
/// and gave way. Exits 0 when it parsed into a typed event, 3 when the event is
/// unknown to this version, 1 when the payload does not fit (naming the JSON path):
/// not a JSON object, an identifying field (the action, the main object's id or
/// number) absent or of the wrong type, or, with `--strict`, any field that would
/// have given way.
#[derive(Debug, Args)]
pub(crate) struct ParseArgs {
    /// The event name, as sent in `X-GitHub-Event` (`pull_request`, `push`, ...).
    #[arg(long, value_name = "NAME")]
    event: String,
    /// The JSON payload; standard input when absent or `-`.
    file: Option<PathBuf>,
    /// Fail (exit 1) on any field that does not fit its type, instead of letting it
    /// give way with a warning: for noticing schema drift.
    #[arg(long)]
    strict: bool,
    /// Print one JSON object: `event` (as sent), `known`, `variant`, `action`,
    /// `summary` and `warnings`.
    #[arg(long)]
    json: bool,
}

pub(crate) fn events(args: EventsArgs) -> Result<(), Box<dyn std::error::Error>> {
    let names: Vec<String> = if args.examples {
        let examples = ExamplePayloads::load()?;
        examples.iter().map(|(name, _)| name.to_owned()).collect()
    } else {
        supported_names().collect()
    };
    if args.json {
        let rows = names
            .iter()
            .map(|name| {
                let (event, action) = match name.split_once('.') {
                    Some((event, action)) => (event, Some(action)),
                    None => (name.as_str(), None),
                };
                json!({"name": name, "event": event, "action": action})
            })
            .collect();
        json_output::print(&Value::Array(rows))?;
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    for name in names {
        // A closed pipe (`octohook events | head`) ends the listing quietly.
        if writeln!(out, "{name}").is_err() {
            break;
        }
    }
    Ok(())
}

pub(crate) fn parse(args: ParseArgs) -> ExitCode {
    let payload = match read(args.file.as_ref()) {
        Ok(payload) => payload,
        Err(message) => {
            eprintln!("octohook: {message}");
            return ExitCode::FAILURE;
        }
    };
    let kind = EventKind::from_name(&args.event);
    let parsed = if args.strict {
        Event::parse_strict(&kind, payload)
    } else {
        Event::parse(&kind, payload)
    };
    match parsed {
        Ok(event) if args.json => {
            let known = !event.is_unknown();
            let document = json!({
                "event": args.event,
                "known": known,
                "variant": known.then(|| event.variant_name()),
                "action": event.action(),
                "summary": summary(&event),
                "warnings": event.warnings().iter().map(ToString::to_string).collect::<Vec<_>>(),
            });
            if let Err(error) = json_output::print(&document) {
                eprintln!("octohook: cannot write the output: {error}");
                return ExitCode::FAILURE;
            }
            if known {
                ExitCode::SUCCESS
            } else {
                Status::UnknownEvent.into()
            }
        }
        Ok(event) if event.is_unknown() => {
            println!("event: {} (unknown to this version)", args.event);
            println!("summary: {}", summary(&event));
            Status::UnknownEvent.into()
        }
        Ok(event) => {
            println!("event: {} ({})", event.variant_name(), event.kind());
            println!("action: {}", event.action().unwrap_or("-"));
            println!("summary: {}", summary(&event));
            for warning in event.warnings() {
                println!("warning: {warning}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!(
                "octohook: the {} payload does not parse {error}",
                args.event
            );
            ExitCode::FAILURE
        }
    }
}

fn read(file: Option<&PathBuf>) -> Result<Vec<u8>, String> {
    let mut payload = Vec::new();
    match file {
        Some(path) if path.as_os_str() != "-" => {
            payload = std::fs::read(path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        }
        _ => {
            std::io::stdin()
                .lock()
                .read_to_end(&mut payload)
                .map_err(|error| format!("cannot read standard input: {error}"))?;
        }
    }
    Ok(payload)
}

/// `pull_request.opened octo/repo #2 by octocat`: the event and action, and the
/// repository, number or ref, and sender when the payload has them.
fn summary(event: &Event) -> String {
    let mut line = event.kind().to_string();
    if let Some(action) = event.action() {
        line.push('.');
        line.push_str(action);
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(event.raw()) else {
        return line;
    };
    let text = |pointer: &str| json.pointer(pointer).and_then(serde_json::Value::as_str);
    if let Some(repository) = text("/repository/full_name") {
        line.push(' ');
        line.push_str(repository);
    } else if let Some(organization) = text("/organization/login") {
        line.push(' ');
        line.push_str(organization);
    }
    if let Some(number) = json.get("number").and_then(serde_json::Value::as_i64) {
        line.push_str(&format!(" #{number}"));
    } else if let Some(reference) = text("/ref") {
        line.push(' ');
        line.push_str(reference);
    }
    if let Some(sender) = text("/sender/login") {
        line.push_str(" by ");
        line.push_str(sender);
    }
    line
}
