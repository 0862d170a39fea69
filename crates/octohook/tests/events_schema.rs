//! For every event-action of every schema variant listed in `corpora/sources.json`
//! (github.com, GHEC and GHES, current and historical releases of
//! `@octokit/openapi-webhooks`), payloads generated from the schema by
//! json-schema-faker (fixed seeds, 4 per event-action: two with only the required
//! fields, two with every optional field) parse into the typed variant.
//!
//! The test runs `node corpora/generate-payloads.mjs` itself (into Cargo's temporary
//! test directory); it needs Node and `cd corpora && npm ci`.
#![cfg(feature = "events")]

mod corpora;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use octohook::EventKind;
use octohook::events::{Event, SUPPORTED};

fn generate() -> PathBuf {
    corpora::octokit_dir();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("schema-payloads");
    let _ = std::fs::remove_dir_all(&out);
    let script = corpora::corpora_dir().join("generate-payloads.mjs");
    let status = Command::new("node")
        .arg(&script)
        .arg(&out)
        .arg("4")
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
fn payloads_generated_from_every_schema_variant_parse_into_typed_events() {
    let dir = generate();
    let mut variants = 0;
    let mut event_actions = BTreeSet::new();
    let mut payloads = 0;
    let mut strict = 0;
    let mut failures = Vec::new();
    for variant in std::fs::read_dir(&dir).expect("the generated payloads") {
        let variant = variant.expect("a directory entry").path();
        variants += 1;
        for entry in std::fs::read_dir(&variant).expect("a variant's payloads") {
            let path = entry.expect("a directory entry").path();
            let file: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let name = format!(
                "{}: {}",
                file["variant"].as_str().unwrap_or("?"),
                path.file_name().unwrap().to_string_lossy()
            );
            let event = file["event"].as_str().expect("event").to_owned();
            let action = file["action"].as_str().map(str::to_owned);
            event_actions.insert(format!("{event}.{}", action.as_deref().unwrap_or("")));
            let generated = file["payloads"].as_array().expect("payloads");
            assert_eq!(generated.len(), 4, "{name}: 4 payloads");
            for (i, payload) in generated.iter().enumerate() {
                payloads += 1;
                let bytes = Bytes::from(serde_json::to_vec(payload).unwrap());
                let kind = EventKind::from_name(&event);
                let parsed = match Event::parse(&kind, bytes.clone()) {
                    Ok(parsed) => parsed,
                    Err(error) => {
                        failures.push(format!("{name} payload {i}: {error}"));
                        continue;
                    }
                };
                assert!(!parsed.is_unknown(), "{name}: parsed as Unknown");
                assert_eq!(parsed.kind().as_str(), event);
                let sent = payload.get("action").and_then(|a| a.as_str());
                assert_eq!(parsed.action(), sent, "{name} payload {i}: action");
                // `repository_dispatch` actions are free-form; all others are the schema's.
                if let (Some(action), false) = (&action, event == "repository_dispatch") {
                    assert_eq!(sent, Some(action.as_str()), "{name} payload {i}");
                }
                if Event::parse_strict(&kind, bytes).is_ok() {
                    strict += 1;
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {payloads} generated payloads failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{payloads} payloads of {variants} schema variants, {strict} fit without a warning");
    assert_eq!(
        variants, 23,
        "corpora/sources.json lists 23 schema variants"
    );
    let supported: BTreeSet<String> = SUPPORTED
        .iter()
        .flat_map(|(event, actions)| {
            let names: Vec<String> = if actions.is_empty() {
                vec![format!("{event}.")]
            } else {
                actions.iter().map(|a| format!("{event}.{a}")).collect()
            };
            names
        })
        .collect();
    let untyped: Vec<&String> = event_actions.difference(&supported).collect();
    assert!(
        untyped.is_empty(),
        "event-actions without a type: {untyped:?}"
    );
}

#[test]
fn supported_events_match_event_kind() {
    let names: Vec<&str> = SUPPORTED.iter().map(|(name, _)| *name).collect();
    let kinds: Vec<&str> = EventKind::KNOWN.iter().map(EventKind::as_str).collect();
    assert_eq!(names, kinds);
    assert_eq!(names.len(), 85);
}
