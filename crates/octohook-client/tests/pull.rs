//! Pull mode against a stateful fake GitHub over real HTTP on 127.0.0.1: every
//! delivery of the window stored once, with the event, action and payload
//! GitHub recorded; push and pull of one GUID stored once, in either order;
//! 502s, 429s and a credential refused halfway; repository, organization and
//! App hooks; the cursor kept in the store across a restart; follow mode; and
//! the cost figures (API requests per delivery, catch-up time for 1,000).

#![cfg(feature = "pull")]

#[path = "support/redelivery_fake.rs"]
mod redelivery_fake;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use octohook::{DeliveryGuid, HookId, Verifier, WebhookSecret};
use octohook_client::pull::{MAX_SKIPPED_LISTED, PullError, PullOptions, PullSource, SkipReason};
use octohook_client::{Client, ClientOptions, HookRef, RetryOptions, Token};
use octohook_inbox::{
    DeliveryKey, DeliveryOrigin, Inbox, ListPages, ListQuery, SqliteStore, StoredDelivery,
};
use redelivery_fake::{Fault, Kind, Outcome, RedeliveryFake};
use serde_json::json;

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const REPO_HOOK: &str = "repos/o/r/hooks/7";

fn client(fake: &RedeliveryFake) -> Client {
    fake.client("ghp_pullTestToken", Duration::from_secs(2))
}

fn repo_hook() -> HookRef {
    HookRef::repository("o", "r", HookId::new(7))
}

fn source(fake: &RedeliveryFake, hook: HookRef, inbox: &Inbox) -> PullSource {
    PullSource::new(client(fake), hook, inbox.clone(), PullOptions::default())
}

fn guid(n: usize) -> String {
    format!("1a2b3c4d-0000-4000-8000-{n:012x}")
}

/// An `issues` payload as GitHub records it: key order and a float included,
/// so that a re-serialisation that changed them would show.
fn issues_payload(n: usize, action: &str) -> serde_json::Value {
    json!({
        "action": action,
        "issue": {"id": n, "number": n, "title": format!("issue \"{n}\" — ünïcode"), "score": 1.5},
        "repository": {"id": 42, "full_name": "o/r"},
        "sender": {"login": "octocat"},
    })
}

/// Seeds `count` deliveries spread over the last two days (oldest first),
/// every tenth failed and then redelivered (the same GUID listed twice), and
/// one older than the window; returns GUID → (event, payload) of those in it.
fn seed(
    fake: &RedeliveryFake,
    hook: &str,
    count: usize,
) -> BTreeMap<String, (String, serde_json::Value)> {
    // First, so that ids grow with time, as GitHub's do.
    fake.add_event(
        hook,
        &guid(1_000_000),
        DAY * 4,
        "issues",
        issues_payload(0, "opened"),
        Outcome::Ok,
    );
    let mut expected = BTreeMap::new();
    for n in 0..count {
        let age = MINUTE * 10 + (DAY * 2).mul_f64((count - n) as f64 / count as f64);
        let (event, payload) = match n % 3 {
            0 => ("issues", issues_payload(n, "opened")),
            1 => ("issues", issues_payload(n, "closed")),
            _ => (
                "push",
                json!({"ref": "refs/heads/main", "n": n, "repository": {}, "sender": {}}),
            ),
        };
        let outcome = if n % 10 == 0 {
            Outcome::Http(502)
        } else {
            Outcome::Ok
        };
        fake.add_event(hook, &guid(n), age, event, payload.clone(), outcome);
        if n % 10 == 0 {
            fake.add_event(
                hook,
                &guid(n),
                age - MINUTE,
                event,
                payload.clone(),
                Outcome::Ok,
            );
        }
        expected.insert(guid(n), (event.to_owned(), payload));
    }
    expected
}

async fn all_stored(inbox: &Inbox) -> Vec<StoredDelivery> {
    ListPages::new(inbox.store().as_ref(), ListQuery::default().limit(500))
        .collect_all()
        .await
        .unwrap()
}

/// Every expected delivery is stored exactly once, pulled, with the event,
/// action and payload GitHub recorded, under hook `hook_id`.
async fn assert_stored_once(
    inbox: &Inbox,
    expected: &BTreeMap<String, (String, serde_json::Value)>,
    hook_id: u64,
) {
    let stored = all_stored(inbox).await;
    let mut seen = BTreeSet::new();
    for delivery in &stored {
        let guid = delivery.key.guid.to_string();
        assert!(seen.insert(guid.clone()), "{guid} stored twice");
        let (event, payload) = expected
            .get(&guid)
            .unwrap_or_else(|| panic!("{guid} stored but not expected"));
        assert_eq!(delivery.key.hook_id, Some(HookId::new(hook_id)));
        assert_eq!(delivery.origin, DeliveryOrigin::Pulled);
        assert_eq!(delivery.event.as_str(), event);
        assert_eq!(
            delivery.action.as_deref(),
            payload.get("action").and_then(|a| a.as_str())
        );
        let body: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap();
        assert_eq!(&body, payload, "{guid}");
        // Compact, and without the recorded signatures (they cover other bytes).
        assert_eq!(delivery.body.as_ref(), serde_json::to_vec(payload).unwrap());
        assert_eq!(delivery.headers.get("x-hub-signature-256"), None);
        assert_eq!(delivery.headers.get("x-github-event"), Some(event.as_str()));
    }
    let missing: Vec<_> = expected.keys().filter(|g| !seen.contains(*g)).collect();
    assert!(missing.is_empty(), "not stored: {missing:?}");
}

async fn sqlite_inbox(dir: &tempfile::TempDir) -> Inbox {
    Inbox::new(
        SqliteStore::open(dir.path().join("inbox.db"))
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn once_stores_every_delivery_of_the_window_once_and_a_second_run_nothing() {
    let fake = RedeliveryFake::start().await;
    let expected = seed(&fake, REPO_HOOK, 250);
    let dir = tempfile::tempdir().unwrap();
    let inbox = sqlite_inbox(&dir).await;

    let report = source(&fake, repo_hook(), &inbox).run().await.unwrap();
    assert_eq!(report.listed, 250);
    assert_eq!((report.stored, report.fetched), (250, 250));
    assert_eq!(
        report.already_stored + report.duplicates + report.unavailable,
        0
    );
    // 276 attempts listed (250, 25 redeliveries, one too old): 3 pages.
    assert_eq!(report.pages_listed, 3);
    assert_eq!(fake.get_requests(), 250);
    assert!(report.cursor_saved);
    assert_stored_once(&inbox, &expected, 7).await;

    // A restart: a new store handle and a new source find the cursor, list one
    // page (the newest), and fetch nothing.
    drop(inbox);
    fake.reset_counters();
    let inbox = sqlite_inbox(&dir).await;
    let again = source(&fake, repo_hook(), &inbox).run().await.unwrap();
    assert_eq!((again.stored, again.fetched, again.pages_listed), (0, 0, 1));
    assert_eq!(fake.get_requests(), 0);
    assert_eq!(all_stored(&inbox).await.len(), 250);
}

/// Deliveries whose recorded request no receiver would take are skipped, and
/// the report says which and why (the first `MAX_SKIPPED_LISTED` of them),
/// while the usable ones are stored.
#[tokio::test]
async fn skipped_deliveries_are_listed_with_their_reasons() {
    let fake = RedeliveryFake::start().await;
    let extra = 3;
    let ok = Outcome::Ok;
    let minutes = |n: usize| MINUTE * u32::try_from(n).unwrap();
    let not_an_object = json!(["not", "an", "object"]);
    let total = MAX_SKIPPED_LISTED + extra;
    fake.add_event(
        REPO_HOOK,
        &guid(0),
        minutes(total + 2),
        "issues",
        json!(null),
        ok,
    );
    for n in 1..total {
        let payload = not_an_object.clone();
        fake.add_event(
            REPO_HOOK,
            &guid(n),
            minutes(total + 1 - n),
            "issues",
            payload,
            ok,
        );
    }
    let payload = issues_payload(total, "opened");
    fake.add_event(REPO_HOOK, &guid(total), MINUTE, "issues", payload, ok);
    let inbox = Inbox::in_memory();

    let report = source(&fake, repo_hook(), &inbox).run().await.unwrap();
    assert_eq!((report.listed, report.stored), (total as u64 + 1, 1));
    assert_eq!(report.unavailable, total as u64);
    assert_eq!(report.skipped.len(), MAX_SKIPPED_LISTED, "{report:?}");
    // Oldest first: the one without a payload, then the refused ones.
    let first = &report.skipped[0];
    assert_eq!(first.guid.as_str(), guid(0));
    assert!(
        matches!(first.reason, SkipReason::NoRequestPayload),
        "{}",
        first.reason
    );
    for (n, skipped) in report.skipped.iter().enumerate().skip(1) {
        assert_eq!(skipped.guid.as_str(), guid(n));
        assert!(
            matches!(&skipped.reason, SkipReason::Refused(error)
                if matches!(**error, octohook::Error::InvalidPayload(_))),
            "{}",
            skipped.reason
        );
    }
    assert_eq!(all_stored(&inbox).await.len(), 1);
}

#[tokio::test]
async fn organization_and_app_hooks_are_pulled_and_an_app_hook_learns_its_id() {
    let fake = RedeliveryFake::start().await;
    let org = seed(&fake, "orgs/o/hooks/9", 30);
    let app = seed(&fake, "app/hook", 30);
    let org_inbox = Inbox::in_memory();
    let report = source(
        &fake,
        HookRef::organization("o", HookId::new(9)),
        &org_inbox,
    )
    .run()
    .await
    .unwrap();
    assert_eq!(report.stored, 30);
    assert_stored_once(&org_inbox, &org, 9).await;

    let app_inbox = Inbox::in_memory();
    let report = source(&fake, HookRef::App, &app_inbox).run().await.unwrap();
    assert_eq!(report.stored, 30);
    assert_stored_once(&app_inbox, &app, 4242).await;
    // The hook id came with the first delivery and is kept in the cursor: a
    // fresh source needs no read to tell what is stored.
    fake.reset_counters();
    let report = source(&fake, HookRef::App, &app_inbox).run().await.unwrap();
    assert_eq!((report.fetched, report.stored), (0, 0));
    assert_eq!(fake.get_requests(), 0);
}

/// A pushed delivery of the hook, signed with `secret`, verified.
fn pushed(
    guid: &str,
    payload: &serde_json::Value,
    secret: &WebhookSecret,
) -> octohook::VerifiedDelivery {
    let body = bytes::Bytes::from(serde_json::to_vec(payload).unwrap());
    let mut headers = http::HeaderMap::new();
    headers.insert("x-github-event", "issues".parse().unwrap());
    headers.insert("x-github-delivery", guid.parse().unwrap());
    headers.insert("x-github-hook-id", "7".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert(
        "x-hub-signature-256",
        octohook::sign(secret, &body).parse().unwrap(),
    );
    Verifier::new(secret.clone())
        .verify(&headers, body)
        .unwrap()
}

#[tokio::test]
async fn a_delivery_pushed_and_pulled_is_stored_once_whichever_comes_first() {
    let fake = RedeliveryFake::start().await;
    let secret = WebhookSecret::new("s3cret").unwrap();
    let inbox = Inbox::in_memory();
    let payload = issues_payload(1, "opened");
    // Pushed first: the pull finds it stored and does not even read it.
    assert!(
        inbox
            .receive(pushed(&guid(1), &payload, &secret))
            .await
            .is_committed()
    );
    fake.add_event(
        REPO_HOOK,
        &guid(1),
        MINUTE,
        "issues",
        payload.clone(),
        Outcome::Ok,
    );
    fake.add_event(
        REPO_HOOK,
        &guid(2),
        MINUTE,
        "issues",
        issues_payload(2, "opened"),
        Outcome::Ok,
    );
    let report = source(&fake, repo_hook(), &inbox).run().await.unwrap();
    assert_eq!(
        (report.already_stored, report.stored, report.fetched),
        (1, 1, 1)
    );
    // Pulled first: the push that follows is a duplicate (and answered 200).
    let receipt = inbox
        .receive(pushed(&guid(2), &issues_payload(2, "opened"), &secret))
        .await;
    assert!(
        matches!(receipt, octohook_inbox::Receipt::Duplicate { .. }),
        "{receipt:?}"
    );

    let key = |n| {
        DeliveryKey::new(
            Some(HookId::new(7)),
            guid(n).parse::<DeliveryGuid>().unwrap(),
        )
    };
    let first = inbox.store().get(&key(1)).await.unwrap().unwrap();
    let second = inbox.store().get(&key(2)).await.unwrap().unwrap();
    assert_eq!(
        (first.origin, second.origin),
        (DeliveryOrigin::Pushed, DeliveryOrigin::Pulled)
    );
    assert_eq!(all_stored(&inbox).await.len(), 2);
}

#[tokio::test]
async fn faults_lose_nothing_and_store_nothing_twice() {
    let fake = RedeliveryFake::start().await;
    let expected = seed(&fake, REPO_HOOK, 120);
    let inbox = Inbox::in_memory();
    // The client retries a 502 and a short 429 itself; the pull sits through
    // a rate limit too long for the client's own wait.
    fake.fault(Kind::List, 0, Fault::Status(502));
    fake.fault(Kind::Get, 3, Fault::Status(502));
    fake.fault(Kind::Get, 10, Fault::RetryAfter(1));
    // A credential that expires halfway: the 60th read is refused with 401.
    fake.fault(Kind::Get, 40, Fault::Status(401));
    let source = source(&fake, repo_hook(), &inbox);
    let error = source.run().await.unwrap_err();
    assert!(matches!(error, PullError::Fetch { .. }), "{error}");
    let stored_before = all_stored(&inbox).await.len();
    assert!((40..120).contains(&stored_before), "{stored_before}");

    // The next run (a fresh credential) takes up: the stored ones are not read again.
    let gets_before = fake.get_requests();
    let report = source.run().await.unwrap();
    assert_eq!(report.already_stored as usize, stored_before);
    assert_eq!(report.stored as usize, 120 - stored_before);
    assert_eq!(fake.get_requests() - gets_before, report.fetched);
    assert_eq!(report.fetched as usize, 120 - stored_before);
    assert_stored_once(&inbox, &expected, 7).await;
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_client_waits_is_sat_through() {
    let fake = RedeliveryFake::start().await;
    let expected = seed(&fake, REPO_HOOK, 5);
    let inbox = Inbox::in_memory();
    // The client waits at most max_backoff (here 100 ms) itself.
    let options = ClientOptions {
        base_url: fake.url(),
        retry: RetryOptions {
            max_retries: 1,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
            deadline: Duration::from_secs(5),
        },
        ..ClientOptions::default()
    };
    let client = Client::new(Token::new("ghp_pullTestToken"), options).unwrap();
    fake.fault(Kind::Get, 2, Fault::RetryAfter(1));
    let started = Instant::now();
    let report = PullSource::new(client, repo_hook(), inbox.clone(), PullOptions::default())
        .run()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(report.stored, 5);
    assert_stored_once(&inbox, &expected, 7).await;
}

#[tokio::test]
async fn since_bounds_how_far_back_a_first_run_goes() {
    let fake = RedeliveryFake::start().await;
    fake.add_event(
        REPO_HOOK,
        &guid(1),
        DAY,
        "issues",
        issues_payload(1, "opened"),
        Outcome::Ok,
    );
    fake.add_event(
        REPO_HOOK,
        &guid(2),
        MINUTE,
        "issues",
        issues_payload(2, "opened"),
        Outcome::Ok,
    );
    let inbox = Inbox::in_memory();
    let options = PullOptions {
        since: Duration::from_secs(3600),
        ..PullOptions::default()
    };
    let report = PullSource::new(client(&fake), repo_hook(), inbox.clone(), options)
        .run()
        .await
        .unwrap();
    assert_eq!((report.listed, report.stored), (1, 1));
    assert_eq!(all_stored(&inbox).await[0].key.guid.as_str(), guid(2));
}

#[tokio::test]
async fn follow_picks_up_deliveries_added_while_it_runs() {
    let fake = RedeliveryFake::start().await;
    fake.add_event(
        REPO_HOOK,
        &guid(1),
        MINUTE,
        "issues",
        issues_payload(1, "opened"),
        Outcome::Ok,
    );
    let inbox = Inbox::in_memory();
    let source = source(&fake, repo_hook(), &inbox);
    let following = tokio::spawn(async move {
        source.follow(Duration::from_millis(100), |_| {}).await;
    });
    let wait_for = |count: usize| {
        let inbox = inbox.clone();
        async move {
            for _ in 0..100 {
                if all_stored(&inbox).await.len() == count {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("never stored {count} deliveries");
        }
    };
    wait_for(1).await;
    fake.add_event(
        REPO_HOOK,
        &guid(2),
        Duration::ZERO,
        "issues",
        issues_payload(2, "closed"),
        Outcome::Ok,
    );
    wait_for(2).await;
    following.abort();
    let stored = all_stored(&inbox).await;
    assert_eq!(stored[0].action.as_deref(), Some("closed"));
}

/// The figures of the README: API requests per pulled delivery, and the
/// catch-up time for 1,000 deliveries into a SQLite inbox (synchronous FULL),
/// against the fake on loopback. Run with `--nocapture` to see them.
#[tokio::test]
async fn catch_up_figures_for_1000_deliveries() {
    let fake = RedeliveryFake::start().await;
    let expected = seed(&fake, REPO_HOOK, 1000);
    let dir = tempfile::tempdir().unwrap();
    let inbox = sqlite_inbox(&dir).await;
    let started = Instant::now();
    let report = source(&fake, repo_hook(), &inbox).run().await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(report.stored, 1000);
    let requests = fake.list_requests() + fake.get_requests();
    assert_eq!(requests, report.api_requests());
    println!(
        "pulled 1000 deliveries in {:.2} s: {} API requests ({} listings + {} reads), {:.3} per delivery",
        elapsed.as_secs_f64(),
        requests,
        fake.list_requests(),
        fake.get_requests(),
        requests as f64 / 1000.0
    );
    assert_stored_once(&inbox, &expected, 7).await;
    // Nothing new: one request.
    fake.reset_counters();
    source(&fake, repo_hook(), &inbox).run().await.unwrap();
    assert_eq!(fake.list_requests() + fake.get_requests(), 1);
}
