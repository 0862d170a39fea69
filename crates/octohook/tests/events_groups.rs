//! Event groups (`events-<group>` features): every recorded example of an enabled
//! group parses to its typed variant; one of a disabled group parses to
//! `Event::Unknown` with its name and JSON, is left out of `supported_names`, and
//! reaches only `on_any` handlers of the dispatcher.
//!
//! With every group enabled (the default) only the first half is exercised; CI also
//! runs this file with a single group:
//! `cargo test -p octohook --no-default-features --features events-pull-request --test events_groups`.
#![cfg(feature = "events-core")]

mod corpora;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::HeaderMap;
use octohook::events::{Event, supported_names};
use octohook::{Dispatcher, EventKind, Verifier, WebhookSecret, sign};

/// Whether a group's feature is enabled in this build.
fn enabled(feature: &str) -> bool {
    match feature {
        "events-repository" => cfg!(feature = "events-repository"),
        "events-pull-request" => cfg!(feature = "events-pull-request"),
        "events-issues" => cfg!(feature = "events-issues"),
        "events-checks" => cfg!(feature = "events-checks"),
        "events-security" => cfg!(feature = "events-security"),
        "events-org" => cfg!(feature = "events-org"),
        "events-apps" => cfg!(feature = "events-apps"),
        "events-projects" => cfg!(feature = "events-projects"),
        "events-discussions" => cfg!(feature = "events-discussions"),
        "events-packages" => cfg!(feature = "events-packages"),
        other => panic!("unknown group feature {other}: add it to `enabled`"),
    }
}

/// The group feature of every event, from the generated table in the docs.
fn groups() -> BTreeMap<String, String> {
    let table = include_str!("../src/events/generated/groups.md");
    let mut group_of = BTreeMap::new();
    for row in table.lines().filter(|l| l.starts_with("| `events-")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let feature = cells[1].trim_matches('`');
        for event in cells[2].split(", ") {
            let event = event.trim_matches('`').to_owned();
            assert!(
                group_of.insert(event.clone(), feature.to_owned()).is_none(),
                "{event} is in two groups"
            );
        }
    }
    assert!(
        group_of.len() >= 75,
        "the groups table lists {} events",
        group_of.len()
    );
    group_of
}

#[test]
fn each_event_is_typed_exactly_when_its_group_is_enabled() {
    let group_of = groups();
    let supported: Vec<String> = supported_names().collect();
    let supported_event = |event: &str| {
        supported
            .iter()
            .any(|name| name == event || name.split_once('.').is_some_and(|(e, _)| e == event))
    };
    let mut checked = BTreeMap::<bool, usize>::new();
    for (event, index, payload) in corpora::examples() {
        let feature = group_of
            .get(&event)
            .unwrap_or_else(|| panic!("{event} has no group in the table"));
        let on = enabled(feature);
        let kind = EventKind::from_name(&event);
        let raw = Bytes::from(payload);
        let parsed = Event::parse(&kind, raw.clone())
            .unwrap_or_else(|e| panic!("{event} example {index}: {e}"));
        assert_eq!(parsed.kind(), kind, "{event} example {index}");
        assert_eq!(parsed.raw(), &raw, "{event} example {index}");
        assert_eq!(supported_event(&event), on, "{event} in supported_names");
        if on {
            assert!(!parsed.is_unknown(), "{event} example {index}: {parsed:?}");
        } else {
            match &parsed {
                Event::Unknown {
                    kind: name,
                    raw: kept,
                } => {
                    assert_eq!(name, &event);
                    assert_eq!(kept, &raw);
                }
                other => panic!("{event} of disabled {feature} parsed to {other:?}"),
            }
            assert_eq!(parsed.action(), None);
        }
        *checked.entry(on).or_default() += 1;
    }
    // Every group enabled: no example may be left over as unknown.
    if cfg!(feature = "events") {
        assert_eq!(checked.get(&false), None);
    }
    assert!(checked.values().sum::<usize>() > 100, "{checked:?}");
}

fn delivery(event: &str, body: Bytes) -> octohook::VerifiedDelivery {
    let secret = WebhookSecret::new("s3cret").unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-github-event", event.parse().unwrap());
    headers.insert("x-github-delivery", "d-1".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
    Verifier::new(secret).verify(&headers, body).unwrap()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// The first recorded example of `event`.
fn example(event: &str) -> Bytes {
    let (_, _, payload) = corpora::examples()
        .into_iter()
        .find(|(name, _, _)| name == event)
        .unwrap_or_else(|| panic!("no {event} example"));
    Bytes::from(payload)
}

/// A dispatcher that logs what `on_any` sees, and whether a typed `push` handler ran.
fn logging_dispatcher() -> (Arc<Mutex<Vec<String>>>, Dispatcher) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let any = log.clone();
    let mut dispatcher = Dispatcher::new();
    #[cfg(feature = "events-repository")]
    {
        let typed = log.clone();
        dispatcher = dispatcher.on::<octohook::events::PushEvent, _, _, _>(move |push| {
            let log = typed.clone();
            async move { log.lock().unwrap().push(format!("push {}", push.r#ref)) }
        });
    }
    dispatcher = dispatcher.on_any(move |event| {
        let log = any.clone();
        async move {
            let unknown = if event.is_unknown() { " (unknown)" } else { "" };
            log.lock()
                .unwrap()
                .push(format!("any {}{unknown}", event.kind()));
        }
    });
    (log, dispatcher)
}

/// A `push` reaches its typed handler with `events-repository`, and otherwise only
/// `on_any`, as an unknown event of kind `push`.
#[test]
fn dispatcher_sends_events_of_disabled_groups_to_on_any() {
    let (log, dispatcher) = logging_dispatcher();
    let push = example("push");
    let dispatched = block_on(dispatcher.dispatch(delivery("push", push))).unwrap();
    assert_eq!(dispatched.event().kind(), EventKind::Push);
    let typed = cfg!(feature = "events-repository");
    assert_eq!(dispatched.event().is_unknown(), !typed);
    assert_eq!(dispatched.handlers_run(), if typed { 2 } else { 1 });
    let log = log.lock().unwrap();
    if typed {
        assert_eq!(*log, ["push refs/tags/simple-tag", "any push"]);
    } else {
        assert_eq!(*log, ["any push (unknown)"]);
    }
}

/// Handlers of an enabled group's events and actions run whatever else is enabled.
#[cfg(feature = "events-pull-request")]
#[test]
fn dispatcher_routes_an_enabled_group_by_event_and_action() {
    use octohook::events::{PullRequestAction, PullRequestEvent};

    let log = Arc::new(Mutex::new(Vec::new()));
    let (typed, opened) = (log.clone(), log.clone());
    let dispatcher = Dispatcher::new()
        .on::<PullRequestEvent, _, _, _>(move |pr| {
            let log = typed.clone();
            async move { log.lock().unwrap().push(format!("pr {}", pr.action)) }
        })
        .on_action(PullRequestAction::Opened, move |_| {
            let log = opened.clone();
            async move { log.lock().unwrap().push("opened".to_owned()) }
        });
    let mut pr: serde_json::Value = serde_json::from_slice(&example("pull_request")).unwrap();
    pr["action"] = "opened".into();
    let delivered = delivery(
        "pull_request",
        Bytes::from(serde_json::to_vec(&pr).unwrap()),
    );
    let dispatched = block_on(dispatcher.dispatch(delivered)).unwrap();
    assert_eq!(dispatched.handlers_run(), 2);
    assert_eq!(*log.lock().unwrap(), ["pr opened", "opened"]);
}
