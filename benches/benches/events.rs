//! Parsing real webhook payloads (from the pinned `@octokit/webhooks-examples`) into
//! typed events and into `serde_json::Value`, in one run, reported as throughput.
//!
//! `cargo bench -p octohook-benches --bench events` (needs `cd corpora && npm ci`).
//! A third row per payload measures the slow path: the same payload with one field
//! of the wrong type (`sender.login` a number), which gives way with a warning.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use octohook::EventKind;
use octohook::events::Event;

/// (label, event, payload): a push, a pull_request, and the largest example.
fn payloads() -> Vec<(String, String, Bytes)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../corpora/node_modules/@octokit/webhooks-examples/api.github.com/index.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (run `cd corpora && npm ci`)",
            path.display()
        )
    });
    let index: serde_json::Value = serde_json::from_slice(&bytes).expect("examples index");
    let mut all = Vec::new();
    for event in index.as_array().expect("an array") {
        let name = event["name"].as_str().expect("a name").to_owned();
        for example in event["examples"].as_array().expect("examples") {
            all.push((
                name.clone(),
                Bytes::from(serde_json::to_vec(example).expect("json")),
            ));
        }
    }
    let first = |event: &str| {
        all.iter()
            .find(|(name, _)| name == event)
            .cloned()
            .unwrap_or_else(|| panic!("no {event} example"))
    };
    let largest = all
        .iter()
        .max_by_key(|(_, body)| body.len())
        .cloned()
        .expect("examples");
    let mut out = Vec::new();
    for (label, (event, body)) in [
        ("push".to_owned(), first("push")),
        ("pull_request".to_owned(), first("pull_request")),
        (format!("largest ({})", largest.0), largest.clone()),
    ] {
        out.push((label, event, body));
    }
    out
}

fn parse(c: &mut Criterion) {
    for (label, event, body) in payloads() {
        let kind = EventKind::from_name(&event);
        let mut group = c.benchmark_group(format!("parse {label}, {} bytes", body.len()));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("typed Event", |b| {
            b.iter(|| Event::parse(black_box(&kind), black_box(body.clone())).expect("parses"));
        });
        // The slow path: one field of the wrong type gives way (a `Value`, the repair
        // walk, and a second deserialisation).
        let mut odd: serde_json::Value = serde_json::from_slice(&body).expect("json");
        if let Some(sender) = odd.get_mut("sender") {
            sender["login"] = serde_json::json!(42);
        }
        let odd = Bytes::from(serde_json::to_vec(&odd).expect("json"));
        group.bench_function("typed Event, one field gives way", |b| {
            b.iter(|| Event::parse(black_box(&kind), black_box(odd.clone())).expect("parses"));
        });
        group.bench_function("serde_json::Value", |b| {
            b.iter(|| {
                serde_json::from_slice::<serde_json::Value>(black_box(&body)).expect("parses")
            });
        });
        group.finish();
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);
