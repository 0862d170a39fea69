//! Every payload of `@octokit/webhooks-examples` (pinned in `corpora/`) parses into
//! its typed event: never `Unknown`, never an error.
#![cfg(feature = "events")]

mod corpora;

use bytes::Bytes;
use octohook::EventKind;
use octohook::events::{Event, IntOrString, IssuesAction, PullRequestAction};

fn parse(name: &str, payload: &[u8]) -> Event {
    Event::parse(&EventKind::from_name(name), Bytes::copy_from_slice(payload))
        .unwrap_or_else(|e| panic!("{name} example does not parse: {e}"))
}

#[test]
fn every_example_parses_into_its_typed_event() {
    let examples = corpora::examples();
    assert_eq!(examples.len(), 329, "the pinned examples hold 329 payloads");
    let mut events = std::collections::BTreeSet::new();
    for (name, index, payload) in &examples {
        let event = Event::parse(&EventKind::from_name(name), Bytes::copy_from_slice(payload))
            .unwrap_or_else(|e| panic!("{name} example {index} does not parse: {e}"));
        assert!(
            !event.is_unknown(),
            "{name} example {index} parsed as Unknown"
        );
        assert_eq!(event.kind().as_str(), name);
        assert_eq!(&event.raw()[..], &payload[..], "the raw payload is kept");
        let json: serde_json::Value = serde_json::from_slice(payload).unwrap();
        assert_eq!(
            event.action(),
            json.get("action").and_then(|a| a.as_str()),
            "{name} example {index}: action"
        );
        events.insert(name.clone());
    }
    assert_eq!(events.len(), 58, "the pinned examples cover 58 events");
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
    assert_eq!(
        pr.repository.full_name.as_deref(),
        Some("Codertocat/Hello-World")
    );
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
        Some(IntOrString::Int(_))
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
    assert_eq!(issues.repository.name.as_deref(), Some("Hello-World"));
}
