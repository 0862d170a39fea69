//! One odd field never sinks an event: real payloads with one field removed, or set
//! to `null`, still parse. Where the field is plain, it gives way with exactly one
//! warning naming it, and strict parsing fails at that path; where it identifies
//! the event, parsing fails and the error names the object that lacks it.
//!
//! The payloads are the first example of every event in the current github.com
//! folder and in the oldest historical release; every field down to three levels
//! deep (objects inside arrays included) is mutated in turn.
#![cfg(feature = "events")]

mod corpora;

use bytes::Bytes;
use octohook::EventKind;
use octohook::events::{Event, Found};
use serde_json::Value;

const SOURCES: &[&str] = &[
    "@octokit/webhooks-examples/api.github.com/index.json",
    "historical-webhooks-definitions-1.1.2/index.json",
];

/// Every path to an object member, down to `depth` levels: keys and array indexes.
fn paths(value: &Value, prefix: &mut Vec<Step>, depth: usize, out: &mut Vec<Vec<Step>>) {
    if depth == 0 {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                prefix.push(Step::Key(key.clone()));
                out.push(prefix.clone());
                paths(inner, prefix, depth - 1, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                prefix.push(Step::Index(0));
                paths(first, prefix, depth, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn render(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() { ".".to_owned() } else { out }
}

/// The object holding the last step of `path`, and that step's key.
fn parent<'v>(
    root: &'v mut Value,
    path: &[Step],
) -> (&'v mut serde_json::Map<String, Value>, String) {
    let (last, rest) = path.split_last().expect("a path");
    let mut node = root;
    for step in rest {
        node = match step {
            Step::Key(key) => node.get_mut(key).expect("a key on the path"),
            Step::Index(i) => node.get_mut(*i).expect("an index on the path"),
        };
    }
    let Step::Key(key) = last else {
        panic!("paths end in keys")
    };
    (node.as_object_mut().expect("an object"), key.clone())
}

#[test]
fn removing_or_nulling_one_field_never_sinks_an_event() {
    let mut payloads = 0;
    let mut mutations = 0;
    let mut gave_way = 0;
    let mut identifying = 0;
    let mut failures = Vec::new();
    for example in corpora::all_examples() {
        if !SOURCES.contains(&example.source.as_str()) || example.index != 0 {
            continue;
        }
        let kind = EventKind::from_name(&example.event);
        let original: Value = serde_json::from_slice(&example.payload).unwrap();
        if Event::parse(&kind, Bytes::from(example.payload.clone()))
            .unwrap()
            .is_unknown()
        {
            continue;
        }
        payloads += 1;
        let mut all = Vec::new();
        paths(&original, &mut Vec::new(), 3, &mut all);
        for path in all {
            for null in [false, true] {
                mutations += 1;
                let mut mutated = original.clone();
                let (object, key) = parent(&mut mutated, &path);
                if null {
                    object.insert(key.clone(), Value::Null);
                } else {
                    object.remove(&key);
                }
                let name = format!(
                    "{} {}: {} {}",
                    example.source,
                    example.event,
                    if null { "null" } else { "remove" },
                    render(&path)
                );
                let bytes = Bytes::from(serde_json::to_vec(&mutated).unwrap());
                let strict = Event::parse_strict(&kind, bytes.clone());
                match Event::parse(&kind, bytes) {
                    Ok(event) => match event.warnings() {
                        [] => {
                            if let Err(e) = strict {
                                failures.push(format!("{name}: no warning, yet strict fails: {e}"));
                            }
                        }
                        [warning] => {
                            gave_way += 1;
                            let expected = if null { Found::Null } else { Found::Missing };
                            if warning.path() != render(&path) || warning.found() != expected {
                                failures.push(format!("{name}: warning {warning}"));
                            }
                            match strict {
                                Ok(_) => failures.push(format!("{name}: strict accepts it")),
                                Err(e) if !null && e.path() != render(&path[..path.len() - 1]) => {
                                    failures.push(format!("{name}: strict error {e}"));
                                }
                                Err(e) if null && e.path() != render(&path) => {
                                    failures.push(format!("{name}: strict error {e}"));
                                }
                                Err(_) => {}
                            }
                        }
                        more => failures.push(format!("{name}: {} warnings", more.len())),
                    },
                    Err(error) => {
                        // Only an identifying field may sink the event.
                        identifying += 1;
                        let key = render(&path);
                        let expected_path = if null {
                            key.clone()
                        } else {
                            render(&path[..path.len() - 1])
                        };
                        // The action, the number, the main object (a top-level
                        // key) and its id and number.
                        let identifies =
                            !key.contains('.') || key.ends_with(".id") || key.ends_with(".number");
                        if !identifies || error.path() != expected_path {
                            failures.push(format!("{name}: {error}"));
                        }
                    }
                }
            }
        }
    }
    println!(
        "{payloads} payloads, {mutations} mutations: {gave_way} plain fields gave way, \
         {identifying} identifying fields sank the event"
    );
    assert!(payloads >= 90, "only {payloads} payloads");
    assert!(gave_way > 0 && identifying > 0);
    assert!(
        failures.is_empty(),
        "{} of {mutations} mutations misbehaved:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
