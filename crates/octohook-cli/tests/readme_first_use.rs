//! The READMEs' first commands, run as a newcomer runs them: `octohook serve`
//! with its defaults (an inbox in the working directory), then every `octohook
//! send` command the README shows. Each delivery must be accepted, written as a
//! line, and parse as its typed event; the root README's first one strictly.

use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use octohook::EventKind;
use octohook::events::Event;
use octohook_test_battery::{ReadmeSend, ReceiverProcess, SECRET, readme_sends, repository_root};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_octohook");

/// `send`'s arguments with the README's URL replaced by `url`.
fn args_for(send: &ReadmeSend, url: &str) -> Vec<String> {
    let mut args = send.args.clone();
    let at = args
        .iter()
        .position(|arg| arg == "--url")
        .unwrap_or_else(|| panic!("no --url in `{}`", send.line));
    args[at + 1] = url.to_owned();
    args
}

/// Runs every `send` of `readme` against `octohook serve` started in an empty
/// directory with no flag; returns the sends, each checked.
fn walk_through(readme: &Path) -> Vec<ReadmeSend> {
    let sends = readme_sends(readme);
    assert!(!sends.is_empty(), "{} shows no `send`", readme.display());
    let dir = tempfile::tempdir().unwrap();
    let mut serve = Command::new(BIN);
    serve.arg("serve").current_dir(dir.path());
    let receiver = ReceiverProcess::spawn(&mut serve, "octohook serve");
    let url = format!("http://{}/", receiver.address());
    for send in &sends {
        // The file an `echo` or `printf` line writes sits in the working directory.
        if let Some(file) = send.args.last().filter(|arg| arg.ends_with(".json")) {
            std::fs::write(dir.path().join(file), &send.body).unwrap();
        }
        let sent = Command::new(BIN)
            .arg("send")
            .args(args_for(send, &url))
            .current_dir(dir.path())
            .env("GITHUB_WEBHOOK_SECRET", SECRET)
            .output()
            .unwrap();
        assert!(
            sent.status.success(),
            "`{}`: {}",
            send.line,
            String::from_utf8_lossy(&sent.stderr)
        );
        let line = receiver
            .next_line()
            .unwrap_or_else(|e| panic!("`{}`: {e}", send.line));
        let record: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(record["event"], send.event.as_str(), "{line}");
        // As the README shows it: the payload itself, not `payload_base64`
        // (which a payload over several lines, a trailing newline included,
        // would come as).
        assert!(
            record["payload"].is_object(),
            "`{}` comes without \"payload\": {line}",
            send.line
        );
        let sent_payload: Value = serde_json::from_slice(&send.body).unwrap();
        assert_eq!(record["action"], sent_payload["action"], "{line}");

        let event = Event::parse(
            &EventKind::from_name(&send.event),
            Bytes::from(send.body.clone()),
        )
        .unwrap_or_else(|e| panic!("`{}` does not parse as a typed event: {e}", send.line));
        assert!(!event.is_unknown(), "`{}` is an unknown event", send.line);
    }
    sends
}

#[test]
fn the_readmes_first_delivery_is_accepted_by_serve_and_parses_strictly() {
    let sends = walk_through(&repository_root().join("README.md"));
    let first = &sends[0];
    Event::parse_strict(
        &EventKind::from_name(&first.event),
        Bytes::from(first.body.clone()),
    )
    .unwrap_or_else(|e| panic!("`{}`: {e}", first.line));
}

#[test]
fn every_send_of_the_cli_readme_is_accepted_by_serve_and_parses_typed() {
    walk_through(&repository_root().join("crates/octohook-cli/README.md"));
}
