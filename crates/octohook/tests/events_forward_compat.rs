//! Unknown events, actions, enum values and fields parse without error; a payload
//! that does not fit names the JSON path; the dispatcher routes by event and action.
#![cfg(feature = "events")]

mod corpora;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::HeaderMap;
use octohook::events::{
    Event, IssuesAction, IssuesEvent, PullRequestAction, PullRequestEvent, PushEvent,
};
use octohook::{DispatchError, Dispatcher, EventKind, Verifier, WebhookSecret, sign};

/// A recorded example of `event`, changed by `edit`.
fn example(event: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Bytes {
    let (_, _, payload) = corpora::examples()
        .into_iter()
        .find(|(name, _, _)| name == event)
        .unwrap_or_else(|| panic!("no {event} example"));
    let mut json: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    edit(&mut json);
    Bytes::from(serde_json::to_vec(&json).unwrap())
}

fn issues(action: &str) -> Bytes {
    example("issues", |json| {
        json["action"] = action.into();
        json["issue"]["number"] = 7.into();
    })
}

#[test]
fn unknown_event_keeps_its_name_and_raw_json() {
    let raw = Bytes::from_static(br#"{"action": "zapped", "thing": {"id": 1}}"#);
    let event = Event::parse(&EventKind::from_name("quantum_entanglement"), raw.clone()).unwrap();
    match &event {
        Event::Unknown { kind, raw: kept } => {
            assert_eq!(kind, "quantum_entanglement");
            assert_eq!(kept, &raw);
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
    assert_eq!(event.kind(), EventKind::from_name("quantum_entanglement"));
    assert_eq!(event.raw(), &raw);
}

#[test]
fn unknown_action_is_captured() {
    let event = Event::parse(&EventKind::Issues, issues("teleported")).unwrap();
    let Event::Issues(payload) = &event else {
        panic!("not issues")
    };
    assert_eq!(payload.action, IssuesAction::Unknown("teleported".into()));
    assert!(payload.action.is_unknown());
    assert_eq!(event.action(), Some("teleported"));
}

#[test]
fn unknown_enum_value_and_extra_fields_are_accepted() {
    let raw = example("pull_request", |json| {
        json["brand_new_field"] = serde_json::json!([1, {"x": null}]);
        json["pull_request"]["state"] = "superposed".into();
        json["pull_request"]["extra"] = true.into();
        json["repository"]["visibility"] = "galactic".into();
        json["sender"]["type"] = "Robot".into();
    });
    let event = Event::parse(&EventKind::PullRequest, raw).unwrap();
    let Event::PullRequest(pr) = &event else {
        panic!("not a pull_request")
    };
    assert_eq!(pr.action, PullRequestAction::Opened);
    assert_eq!(pr.pull_request.state.as_str(), "superposed");
    assert!(pr.pull_request.state.is_unknown());
    let visibility = pr.repository.visibility.as_ref().expect("visibility");
    assert_eq!(visibility.as_str(), "galactic");
    // Nothing is lost: the extra field is in the raw JSON.
    let raw: serde_json::Value = serde_json::from_slice(pr.raw()).unwrap();
    assert_eq!(raw["brand_new_field"][0], 1);
}

#[test]
fn a_payload_that_does_not_fit_names_the_path() {
    let raw = Bytes::from_static(br#"{"action": "opened", "number": 1, "pull_request": {"id": "not a number"}, "repository": {}, "sender": {}}"#);
    let error = Event::parse(&EventKind::PullRequest, raw).unwrap_err();
    assert_eq!(error.path(), "pull_request.id");
    assert!(error.to_string().contains("pull_request.id"), "{error}");
    let missing = Event::parse(
        &EventKind::PullRequest,
        Bytes::from_static(br#"{"action": "opened"}"#),
    )
    .unwrap_err();
    assert!(missing.to_string().contains("missing field"), "{missing}");
    let not_json = Event::parse(&EventKind::Push, Bytes::from_static(b"[1,")).unwrap_err();
    assert!(!not_json.to_string().is_empty());
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

fn recording() -> (Arc<Mutex<Vec<String>>>, Dispatcher) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (a, b, c, d, e) = (
        log.clone(),
        log.clone(),
        log.clone(),
        log.clone(),
        log.clone(),
    );
    let dispatcher = Dispatcher::new()
        .on::<IssuesEvent, _, _, _>(move |issues| {
            let log = a.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push(format!("issues.{}", issues.action))
            }
        })
        .on_action(IssuesAction::Opened, move |issues| {
            let log = b.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push(format!("opened #{}", issues.issue.number));
                assert_eq!(issues.delivery().guid().as_str(), "d-1");
            }
        })
        .on_action(IssuesAction::Closed, move |_| {
            let log = c.clone();
            async move { log.lock().unwrap().push("closed".into()) }
        })
        .on::<PushEvent, _, _, _>(|_| async { Err::<(), _>("push handler failed") })
        .on_any(move |event| {
            let log = d.clone();
            async move { log.lock().unwrap().push(format!("any {}", event.kind())) }
        })
        .on_error(move |error| {
            e.lock()
                .unwrap()
                .push(format!("error {}", error.status().as_u16()))
        });
    (log, dispatcher)
}

#[test]
fn dispatcher_routes_by_event_and_action() {
    let (log, dispatcher) = recording();
    let dispatched = block_on(dispatcher.dispatch(delivery("issues", issues("opened")))).unwrap();
    assert_eq!(dispatched.handlers_run(), 3);
    assert!(matches!(dispatched.event(), Event::Issues(_)));
    assert_eq!(
        *log.lock().unwrap(),
        ["issues.opened", "opened #7", "any issues"]
    );

    log.lock().unwrap().clear();
    let body = Bytes::from_static(br#"{"zen": "Keep it logically awesome."}"#);
    let dispatched = block_on(dispatcher.dispatch(delivery("brand_new_event", body))).unwrap();
    assert_eq!(dispatched.handlers_run(), 1);
    assert_eq!(*log.lock().unwrap(), ["any brand_new_event"]);
}

#[test]
fn dispatcher_reports_handler_and_parse_errors() {
    let (log, dispatcher) = recording();
    let push = example("push", |_| {});
    let error = block_on(dispatcher.dispatch(delivery("push", push))).unwrap_err();
    match &error {
        DispatchError::Handlers { failures, kind, .. } => {
            assert_eq!(kind, &EventKind::Push);
            assert_eq!(failures.len(), 1);
            assert_eq!(failures[0].to_string(), "push handler failed");
        }
        other => panic!("expected handler failures, got {other:?}"),
    }
    // The other handlers still ran, and the error hook saw the failure.
    assert_eq!(*log.lock().unwrap(), ["any push", "error 500"]);

    log.lock().unwrap().clear();
    let bad = Bytes::from_static(br#"{"action": "opened", "issue": {"number": "seven"}}"#);
    let error = block_on(dispatcher.dispatch(delivery("issues", bad))).unwrap_err();
    assert!(matches!(error, DispatchError::Parse { .. }), "{error:?}");
    assert_eq!(error.status(), http::StatusCode::BAD_REQUEST);
    assert_eq!(*log.lock().unwrap(), ["error 400"]);
}

#[test]
fn verified_delivery_parses_typed_events() {
    let body = example("pull_request", |json| {
        json["action"] = "closed".into();
        json["number"] = 9.into();
    });
    let delivery = delivery("pull_request", body);
    let event = delivery.event().unwrap();
    let Event::PullRequest(pr) = &event else {
        panic!("not a pull_request")
    };
    assert_eq!(pr.action, PullRequestAction::Closed);
    assert_eq!(pr.number, 9);
    assert_eq!(event.raw(), delivery.payload());
    let _: &PullRequestEvent = pr.get();
}

#[test]
fn errors_name_the_object_that_lacks_a_field_or_the_value_of_the_wrong_type() {
    // The top level lacks the pull request's number.
    let error = Event::parse(
        &EventKind::PullRequest,
        Bytes::from_static(br#"{"action":"opened"}"#),
    )
    .unwrap_err();
    assert_eq!(error.path(), ".");
    assert_eq!(error.missing_field(), Some("number"));
    assert_eq!(error.to_string(), "at .: missing field `number`");

    // The issue lacks its number; the path names the issue, not the last key read.
    let error = Event::parse(
        &EventKind::Issues,
        Bytes::from_static(br#"{"action":"opened","issue":{"id":1,"title":"x","body":"y"}}"#),
    )
    .unwrap_err();
    assert_eq!(error.path(), "issue");
    assert_eq!(error.missing_field(), Some("number"));

    // A value of the wrong type in an identifying field: the path names the value.
    let error = Event::parse(
        &EventKind::Issues,
        Bytes::from_static(br#"{"action":"opened","issue":{"id":1,"number":"seven"}}"#),
    )
    .unwrap_err();
    assert_eq!(error.path(), "issue.number");
    assert_eq!(
        error.to_string(),
        "at issue.number: expected an integer, found a string"
    );

    // The action itself.
    let error =
        Event::parse(&EventKind::Issues, Bytes::from_static(br#"{"action":5}"#)).unwrap_err();
    assert_eq!(error.path(), "action");
}

#[test]
fn odd_fields_give_way_in_nested_objects_and_arrays() {
    let body = br#"{
        "action": "labeled",
        "issue": {"id": 1, "number": 7, "assignees": [{"id": 1, "login": "a"}, "not a user"], "user": "octocat"},
        "label": {"id": 2, "name": "bug", "default": "yes"}
    }"#;
    let event = Event::parse(&EventKind::Issues, Bytes::from_static(body)).unwrap();
    let Event::Issues(issues) = &event else {
        panic!("not issues");
    };
    assert_eq!(issues.issue.number, 7);
    let warnings: Vec<String> = event.warnings().iter().map(ToString::to_string).collect();
    assert!(
        warnings.contains(
            &"issue.assignees[1]: expected an object, found a string; read as None".to_owned()
        ),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("issue.user: expected an object, found a string")),
        "{warnings:?}"
    );
    assert!(
        warnings.contains(
            &"label.default: expected a boolean, found a string; read as None".to_owned()
        ),
        "{warnings:?}"
    );
    // Strict parsing stops at the first of them.
    assert!(Event::parse_strict(&EventKind::Issues, Bytes::from_static(body)).is_err());

    // An array item that does not fit, in an array of plain items, is left out.
    let push = br#"{"ref": "refs/heads/main", "before": "a", "after": "b",
        "commits": [42, {"id": "c1", "message": "m"}]}"#;
    let event = Event::parse(&EventKind::Push, Bytes::from_static(push)).unwrap();
    let Event::Push(parsed) = &event else {
        panic!("not a push");
    };
    assert_eq!(parsed.commits.len(), 1);
    assert!(
        event
            .warnings()
            .iter()
            .any(|w| w.to_string() == "commits[0]: expected an object, found a number; left out"),
        "{:?}",
        event.warnings()
    );
}
