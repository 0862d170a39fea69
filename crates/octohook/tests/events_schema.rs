//! For every event-action of the pinned schema (`@octokit/openapi-webhooks`), payloads
//! generated from the schema by json-schema-faker (fixed seeds, 10 per event-action,
//! three with only the required fields) parse into the typed variant.
//!
//! The test runs `node corpora/generate-payloads.mjs` itself (into Cargo's temporary
//! test directory); it needs Node and `cd corpora && npm ci`.
#![cfg(feature = "events")]

mod corpora;

use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use octohook::EventKind;
use octohook::events::{Event, SUPPORTED};

fn generate() -> PathBuf {
    corpora::octokit_dir();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("schema-payloads");
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../corpora/generate-payloads.mjs");
    let status = Command::new("node")
        .arg(&script)
        .arg(&out)
        .arg("10")
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run node {}: {e} (Node 20 and `cd corpora && npm ci` are needed)",
                script.display()
            )
        });
    assert!(status.success(), "{} failed: {status}", script.display());
    out
}

#[test]
fn schema_generated_payloads_parse_into_typed_events() {
    let dir = generate();
    let mut event_actions = 0;
    let mut payloads = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the generated payloads") {
        let path = entry.expect("a directory entry").path();
        let file: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let event = file["event"].as_str().expect("event").to_owned();
        let action = file["action"].as_str().map(str::to_owned);
        let generated = file["payloads"].as_array().expect("payloads");
        assert!(
            generated.len() >= 10,
            "{}: fewer than 10 payloads",
            path.display()
        );
        event_actions += 1;
        for (i, payload) in generated.iter().enumerate() {
            payloads += 1;
            let bytes = Bytes::from(serde_json::to_vec(payload).unwrap());
            match Event::parse(&EventKind::from_name(&event), bytes) {
                Ok(parsed) => {
                    assert!(!parsed.is_unknown(), "{event}: parsed as Unknown");
                    assert_eq!(parsed.kind().as_str(), event);
                    let sent = payload.get("action").and_then(|a| a.as_str());
                    assert_eq!(parsed.action(), sent, "{event} payload {i}: action");
                    // `repository_dispatch` actions are free-form; all others are the schema's.
                    if let (Some(action), false) = (&action, event == "repository_dispatch") {
                        assert_eq!(sent, Some(action.as_str()), "{event}.{action} payload {i}");
                    }
                }
                Err(error) => failures.push(format!(
                    "{event}.{} payload {i}: {error}",
                    action.as_deref().unwrap_or("-")
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {payloads} generated payloads failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        event_actions, 261,
        "the pinned schema has 261 event-actions"
    );
    let supported: usize = SUPPORTED.iter().map(|(_, a)| a.len().max(1)).sum();
    assert_eq!(supported, 261);
}

#[test]
fn supported_events_match_event_kind() {
    let names: Vec<&str> = SUPPORTED.iter().map(|(name, _)| *name).collect();
    let kinds: Vec<&str> = EventKind::KNOWN.iter().map(EventKind::as_str).collect();
    assert_eq!(names, kinds);
    assert_eq!(names.len(), 75);
}
