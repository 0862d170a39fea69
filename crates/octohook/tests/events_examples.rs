//! Every payload of `@octokit/webhooks-examples` (pinned in `corpora/`) parses into
//! its typed event: never `Unknown`, never an error.
#![cfg(feature = "events")]

mod corpora;

use corpora::Example;

use bytes::Bytes;
use octohook::EventKind;
use octohook::events::{Event, IssuesAction, PullRequestAction, Timestamp};

fn parse(name: &str, payload: &[u8]) -> Event {
    Event::parse(&EventKind::from_name(name), Bytes::copy_from_slice(payload))
        .unwrap_or_else(|e| panic!("{name} example does not parse: {e}"))
}

/// Events whose examples may stay `Unknown`: GitHub deprecated them long ago.
const DEPRECATED: &[&str] = &[
    "integration_installation",
    "integration_installation_repositories",
];

#[test]
fn every_example_of_every_source_parses_strictly_into_its_typed_event() {
    let examples = corpora::all_examples();
    // 726 in the current package's six folders, 1,220 in the historical releases.
    assert_eq!(
        examples.len(),
        1946,
        "corpora/sources.json lists 1,946 examples"
    );
    let mut events = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for example in &examples {
        let Example {
            source,
            event: name,
            index,
            payload,
        } = example;
        let raw = Bytes::copy_from_slice(payload);
        // The types are built from these examples: they must fit without giving way.
        let event = match Event::parse_strict(&EventKind::from_name(name), raw) {
            Ok(event) => event,
            Err(e) => {
                failures.push(format!("{source}: {name} example {index}: {e}"));
                continue;
            }
        };
        if event.is_unknown() && !DEPRECATED.contains(&name.as_str()) {
            failures.push(format!(
                "{source}: {name} example {index} parsed as Unknown"
            ));
        }
        assert!(event.warnings().is_empty());
        assert_eq!(&event.raw()[..], &payload[..], "the raw payload is kept");
        let json: serde_json::Value = serde_json::from_slice(payload).unwrap();
        if !event.is_unknown() {
            assert_eq!(
                event.action(),
                json.get("action").and_then(|a| a.as_str()),
                "{source}: {name} example {index}: action"
            );
        }
        events.insert(name.clone());
    }
    assert!(
        failures.is_empty(),
        "{} of {} examples failed:\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n")
    );
    assert!(
        events.len() >= 60,
        "the examples cover {} events",
        events.len()
    );
}

fn example(name: &str, index: usize) -> Event {
    let (_, _, payload) = corpora::examples()
        .into_iter()
        .find(|(n, i, _)| n == name && *i == index)
        .unwrap_or_else(|| panic!("no {name} example {index}"));
    parse(name, &payload)
}

#[test]
fn pull_request_opened_fields() {
    let Event::PullRequest(pr) = example("pull_request", 0) else {
        panic!("not a pull_request");
    };
    assert_eq!(pr.action, PullRequestAction::Opened);
    assert_eq!(pr.number, 2);
    assert_eq!(
        pr.pull_request.title,
        "Update the README with new information."
    );
    assert_eq!(pr.pull_request.number, 2);
    assert_eq!(pr.repository.full_name.as_str(), "Codertocat/Hello-World");
    let sender = pr.sender.as_ref().expect("a sender");
    assert_eq!(sender.login.as_deref(), Some("Codertocat"));
}

#[test]
fn push_fields() {
    let Event::Push(push) = example("push", 0) else {
        panic!("not a push");
    };
    assert_eq!(push.r#ref, "refs/tags/simple-tag");
    assert_eq!(push.after, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
    assert!(push.commits.is_empty());
    // `push` sends the repository's timestamps as Unix seconds.
    assert!(matches!(
        push.repository.created_at,
        Some(Timestamp::UnixSeconds(_))
    ));
    assert_eq!(event_action(&Event::Push(push)), None);
}

fn event_action(event: &Event) -> Option<&str> {
    event.action()
}

#[test]
fn issues_edited_fields() {
    let Event::Issues(issues) = example("issues", 0) else {
        panic!("not issues");
    };
    assert_eq!(issues.action, IssuesAction::Edited);
    assert_eq!(
        issues.issue.title.as_deref(),
        Some("Spelling error in the README file")
    );
    assert_eq!(issues.repository.name, "Hello-World");
}
