//! The fields `corpora/observed.json` (captured deliveries) and
//! `corpora/documented.json` (GitHub's early documented examples) record as absent
//! are optional: a recorded example without them still parses strictly into its
//! typed event, with no field giving way.
#![cfg(feature = "events")]

mod corpora;

use bytes::Bytes;
use octohook::EventKind;
use octohook::events::{Event, LabelAction};
use serde_json::Value;

/// The `absent` entries (`event path`) of an evidence file of `corpora/`.
fn absent_entries(file: &str) -> Vec<String> {
    let path = corpora::corpora_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).expect("an evidence file is JSON");
    json["absent"]
        .as_array()
        .unwrap_or_else(|| panic!("{file} has no absent list"))
        .iter()
        .map(|entry| entry.as_str().expect("an entry is text").to_owned())
        .collect()
}

/// Removes the field at `path` (`issue.labels[].node_id`) wherever it is; how many
/// were removed.
fn remove(value: &mut Value, steps: &[&str]) -> usize {
    let Some((first, rest)) = steps.split_first() else {
        return 0;
    };
    let (key, each) = match first.strip_suffix("[]") {
        Some(key) => (key, true),
        None => (*first, false),
    };
    let Some(object) = value.as_object_mut() else {
        return 0;
    };
    if rest.is_empty() {
        return usize::from(object.remove(key).is_some());
    }
    match (object.get_mut(key), each) {
        (Some(Value::Array(items)), true) => items.iter_mut().map(|i| remove(i, rest)).sum(),
        (Some(inner), false) => remove(inner, rest),
        _ => 0,
    }
}

fn check_every_entry_of(file: &str) {
    let examples = corpora::examples();
    let mut failures = Vec::new();
    for entry in absent_entries(file) {
        let (event, path) = entry.split_once(' ').expect("`event path`");
        let steps: Vec<&str> = path.split('.').collect();
        let mut tried = 0;
        for (_, index, payload) in examples.iter().filter(|(name, _, _)| name == event) {
            let mut json: Value = serde_json::from_slice(payload).unwrap();
            if remove(&mut json, &steps) == 0 {
                continue;
            }
            tried += 1;
            let body = Bytes::from(serde_json::to_vec(&json).unwrap());
            if let Err(error) = Event::parse_strict(&EventKind::from_name(event), body) {
                failures.push(format!("{file}: `{entry}`: example {index}: {error}"));
            }
        }
        if tried == 0 {
            failures.push(format!(
                "{file}: `{entry}`: no example of {event} has the field, so nothing checks it"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn examples_without_the_fields_documented_json_records_parse_strictly() {
    check_every_entry_of("documented.json");
}

#[test]
fn examples_without_the_fields_observed_json_records_parse_strictly() {
    check_every_entry_of("observed.json");
}

/// A `label.created` payload as GitHub documented it in 2016: the label is only
/// its URL, name and colour.
#[test]
fn an_old_label_payload_without_id_parses_typed() {
    let body = br#"{
        "action": "created",
        "label": {
            "url": "https://api.github.com/repos/octo-org/old-repo/labels/blocked",
            "name": "blocked",
            "color": "ff0000"
        },
        "repository": {"id": 1296269, "name": "old-repo", "full_name": "octo-org/old-repo"},
        "sender": {"login": "octocat", "id": 1}
    }"#;
    let event = Event::parse(&EventKind::from_name("label"), Bytes::from_static(body))
        .unwrap_or_else(|e| panic!("an old label payload must parse: {e}"));
    let Event::Label(label) = &event else {
        panic!("parsed as {:?}", event.kind());
    };
    assert_eq!(label.action, LabelAction::Created);
    assert_eq!(label.label.name, "blocked");
    assert_eq!(label.label.id, None);
    assert_eq!(label.label.node_id, None);
    assert!(
        event
            .warnings()
            .iter()
            .all(|w| !w.path().starts_with("label.")),
        "the label itself fits its type: {:?}",
        event.warnings()
    );

    // The id still identifies the label when it is sent: one of the wrong type
    // sinks the event instead of giving way.
    let wrong = br#"{"action":"created","label":{"id":"seven","name":"x","color":"f00","url":"u"},"repository":{},"sender":{}}"#;
    let error = Event::parse(&EventKind::from_name("label"), Bytes::from_static(wrong))
        .expect_err("a label id of the wrong type is an error");
    assert!(error.to_string().contains("label.id"), "{error}");
}
