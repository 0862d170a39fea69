//! The `DeliveryStore` conformance suite: the same cases against every store.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use octohook::header::DELIVERY_HEADERS;
use octohook::{ContentType, EventKind, RawHeaders};
use octohook_inbox::{
    AttemptError, AttemptOutcome, Backoff, Claim, Claimed, Completion, DeliveryKey, DeliveryStatus,
    DeliveryStore, Finish, Inbox, Inserted, ListPages, ListQuery, NewDelivery, PurgeQuery,
    StatusCounts, StoreError, StoreFuture, StoredDelivery, StoredDeliveryId, WorkerConfig,
};
use tokio::sync::Notify;

use crate::{Backend, delivery, key};

const LONG: Duration = Duration::from_secs(60);

fn worker_config(name: &str) -> WorkerConfig {
    WorkerConfig::new(name)
        .lease(LONG)
        .poll_interval(Duration::from_millis(20))
        .backoff(
            Backoff::new(Duration::from_millis(300), 2, Duration::from_secs(2)).without_jitter(),
        )
}

async fn ok(_: StoredDelivery) -> Result<(), AttemptError> {
    Ok(())
}

pub(crate) async fn insert_is_if_absent(backend: Backend) {
    let store = backend.open().await;
    let received_at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
    let mut new = delivery(Some(42), "g-1").received_at(received_at);
    new.action = Some("opened".to_owned());
    new.headers = RawHeaders::from_pairs([
        ("x-github-event", "issues"),
        ("x-hub-signature-256", "sha256=ab"),
    ]);
    let first = store.insert(new.clone()).await.unwrap();
    assert!(matches!(first, Inserted::New { .. }));
    let mut changed = new.clone();
    changed.body = "{}".into();
    assert_eq!(
        store.insert(changed).await.unwrap(),
        Inserted::Duplicate { id: first.id() }
    );
    // Same GUID, other hook: its own copy. No hook id: a namespace of its own.
    let other_hook = store.insert(delivery(Some(43), "g-1")).await.unwrap();
    let no_hook = store.insert(delivery(None, "g-1")).await.unwrap();
    assert!(!other_hook.is_duplicate() && !no_hook.is_duplicate());
    assert!(
        store
            .insert(delivery(None, "g-1"))
            .await
            .unwrap()
            .is_duplicate()
    );
    let ids: HashSet<StoredDeliveryId> = [first.id(), other_hook.id(), no_hook.id()].into();
    assert_eq!(ids.len(), 3);

    let stored = store.get(&key(Some(42), "g-1")).await.unwrap().unwrap();
    assert_eq!(stored.id, first.id());
    assert_eq!(stored.key, key(Some(42), "g-1"));
    assert_eq!(stored.event, EventKind::Issues);
    assert_eq!(stored.action.as_deref(), Some("opened"));
    assert_eq!(stored.content_type, ContentType::Json);
    assert_eq!(stored.headers, new.headers);
    assert_eq!(stored.headers.get("X-Hub-Signature-256"), Some("sha256=ab"));
    assert_eq!(stored.body, new.body);
    assert_eq!(stored.received_at, received_at);
    assert_eq!(stored.status, DeliveryStatus::Pending);
    assert_eq!(stored.attempts, 0);
    assert_eq!(stored.last_error, None);
    assert!(stored.next_attempt_at.is_some());
    assert_eq!(stored.lease, None);
    assert_eq!(
        store
            .get(&key(None, "g-1"))
            .await
            .unwrap()
            .unwrap()
            .key
            .hook_id,
        None
    );
    assert!(store.get(&key(Some(42), "g-2")).await.unwrap().is_none());
    assert_eq!(store.counts().await.unwrap().pending, 3);
}

/// A delivery without `X-GitHub-Hook-ID` and one with hook id 0 are two
/// deliveries: each is stored, read back, requeued and deduplicated on its own.
pub(crate) async fn no_hook_id_is_not_hook_id_zero(backend: Backend) {
    let store = backend.open().await;
    let none = store.insert(delivery(None, "z-1")).await.unwrap();
    let zero = store.insert(delivery(Some(0), "z-1")).await.unwrap();
    assert!(!none.is_duplicate() && !zero.is_duplicate());
    assert_ne!(none.id(), zero.id());
    assert_eq!(
        store.insert(delivery(None, "z-1")).await.unwrap(),
        Inserted::Duplicate { id: none.id() }
    );
    assert_eq!(
        store.insert(delivery(Some(0), "z-1")).await.unwrap(),
        Inserted::Duplicate { id: zero.id() }
    );

    let stored_none = store.get(&key(None, "z-1")).await.unwrap().unwrap();
    let stored_zero = store.get(&key(Some(0), "z-1")).await.unwrap().unwrap();
    assert_eq!(
        (stored_none.id, stored_none.key),
        (none.id(), key(None, "z-1"))
    );
    assert_eq!(
        (stored_zero.id, stored_zero.key),
        (zero.id(), key(Some(0), "z-1"))
    );
    // Another handle (another connection for the SQL stores) agrees.
    let again = backend.open().await;
    assert!(
        again
            .insert(delivery(None, "z-1"))
            .await
            .unwrap()
            .is_duplicate()
    );
    assert_eq!(
        again.get(&key(Some(0), "z-1")).await.unwrap().unwrap().key,
        key(Some(0), "z-1")
    );

    // Finishing one leaves the other pending; requeueing one touches only it.
    let claimed = store.claim("w", LONG).await.unwrap().unwrap();
    store.complete(&claimed.claim).await.unwrap();
    let (done, other) = if claimed.delivery.key == key(None, "z-1") {
        (key(None, "z-1"), key(Some(0), "z-1"))
    } else {
        (key(Some(0), "z-1"), key(None, "z-1"))
    };
    assert_eq!(
        store.get(&other).await.unwrap().unwrap().status,
        DeliveryStatus::Pending
    );
    assert!(store.requeue(&done).await.unwrap());
    assert_eq!(
        store.get(&done).await.unwrap().unwrap().status,
        DeliveryStatus::Pending
    );
    let listed = store
        .list(&ListQuery::default().guid("z-1".parse().unwrap()))
        .await
        .unwrap();
    let mut keys: Vec<_> = listed.into_iter().map(|stored| stored.key).collect();
    keys.sort();
    assert_eq!(keys, [key(None, "z-1"), key(Some(0), "z-1")]);
}

pub(crate) async fn concurrent_duplicates_are_stored_once(backend: Backend) {
    let handles = [
        backend.open().await,
        backend.open().await,
        backend.open().await,
    ];
    let mut tasks = Vec::new();
    for task in 0..60 {
        let store = handles[task % handles.len()].clone();
        tasks.push(tokio::spawn(async move {
            // Every task sends the shared delivery, and one of ten others.
            let shared = store.insert(delivery(Some(7), "shared")).await.unwrap();
            let own = store
                .insert(delivery(Some(7), &format!("own-{}", task % 10)))
                .await
                .unwrap();
            (shared, own)
        }));
    }
    let mut new_shared = 0;
    let mut new_own = 0;
    let mut shared_ids = HashSet::new();
    for task in tasks {
        let (shared, own) = task.await.unwrap();
        new_shared += usize::from(!shared.is_duplicate());
        new_own += usize::from(!own.is_duplicate());
        shared_ids.insert(shared.id());
    }
    assert_eq!(
        new_shared, 1,
        "the shared delivery was stored more than once"
    );
    assert_eq!(new_own, 10);
    assert_eq!(shared_ids.len(), 1, "duplicates must name the stored row");
    assert_eq!(handles[0].counts().await.unwrap().total(), 11);
}

pub(crate) async fn concurrent_workers_never_share_a_delivery(backend: Backend) {
    let store = backend.open().await;
    const DELIVERIES: usize = 40;
    for n in 0..DELIVERIES {
        store
            .insert(delivery(Some(1), &format!("d-{n}")))
            .await
            .unwrap();
    }
    let running: Arc<Mutex<HashSet<StoredDeliveryId>>> = Arc::default();
    let runs: Arc<Mutex<HashMap<StoredDeliveryId, u32>>> = Arc::default();
    let mut workers = Vec::new();
    for n in 0..4 {
        let inbox = Inbox::from_shared(backend.open().await);
        let (running, runs) = (running.clone(), runs.clone());
        workers.push(tokio::spawn(async move {
            let worker = inbox.worker(worker_config(&format!("worker-{n}")));
            let handler = move |delivery: StoredDelivery| {
                let (running, runs) = (running.clone(), runs.clone());
                async move {
                    assert!(
                        running.lock().unwrap().insert(delivery.id),
                        "delivery {} handed to two workers at once",
                        delivery.id
                    );
                    *runs.lock().unwrap().entry(delivery.id).or_default() += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    running.lock().unwrap().remove(&delivery.id);
                    Ok(())
                }
            };
            let mut done = 0;
            while let Some(processed) = worker.run_once(&handler).await.unwrap() {
                assert_eq!(processed.outcome, AttemptOutcome::Done);
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for worker in workers {
        total += worker.await.unwrap();
    }
    assert_eq!(total, DELIVERIES);
    {
        let runs = runs.lock().unwrap();
        assert_eq!(runs.len(), DELIVERIES);
        assert!(runs.values().all(|&count| count == 1), "{runs:?}");
    }
    assert_eq!(store.counts().await.unwrap().done, DELIVERIES as u64);
}

pub(crate) async fn failed_attempts_are_retried_with_backoff(backend: Backend) {
    let inbox = Inbox::from_shared(backend.open().await);
    inbox.insert(delivery(Some(1), "flaky")).await.unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let handler = {
        let calls = calls.clone();
        move |_: StoredDelivery| {
            let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if call < 3 {
                    Err(AttemptError::retry(format!("boom {call}")))
                } else {
                    Ok(())
                }
            }
        }
    };
    let worker = inbox.worker(worker_config("w").max_attempts(5));

    let first = worker.run_once(&handler).await.unwrap().unwrap();
    assert_eq!(
        first.outcome,
        AttemptOutcome::Retrying {
            attempt: 1,
            delay: Duration::from_millis(300)
        }
    );
    let stored = inbox.store().get(&first.key).await.unwrap().unwrap();
    assert_eq!(stored.status, DeliveryStatus::Pending);
    assert_eq!(stored.attempts, 1);
    assert_eq!(stored.last_error.as_deref(), Some("boom 1"));
    assert!(stored.next_attempt_at.unwrap() > SystemTime::now());
    // Not due yet.
    assert!(worker.run_once(&handler).await.unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = worker.run_once(&handler).await.unwrap().unwrap();
    assert_eq!(
        second.outcome,
        AttemptOutcome::Retrying {
            attempt: 2,
            delay: Duration::from_millis(600)
        }
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        worker.run_once(&handler).await.unwrap().is_none(),
        "the second delay must be longer"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let third = worker.run_once(&handler).await.unwrap().unwrap();
    assert_eq!(third.outcome, AttemptOutcome::Done);
    let stored = inbox.store().get(&first.key).await.unwrap().unwrap();
    assert_eq!(stored.status, DeliveryStatus::Done);
    assert_eq!(stored.attempts, 3);
    assert_eq!(stored.last_error.as_deref(), Some("boom 2"));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

pub(crate) async fn deliveries_fail_after_max_attempts_and_can_be_requeued(backend: Backend) {
    let inbox = Inbox::from_shared(backend.open().await);
    let config =
        worker_config("w")
            .max_attempts(2)
            .backoff(Backoff::new(Duration::ZERO, 2, Duration::ZERO));
    let worker = inbox.worker(config);
    inbox.insert(delivery(Some(1), "doomed")).await.unwrap();
    let failing = |_: StoredDelivery| async { Err(AttemptError::retry("nope")) };

    let first = worker.run_once(&failing).await.unwrap().unwrap();
    assert!(matches!(
        first.outcome,
        AttemptOutcome::Retrying { attempt: 1, .. }
    ));
    let second = worker.run_once(&failing).await.unwrap().unwrap();
    assert_eq!(second.outcome, AttemptOutcome::Failed { attempts: 2 });
    assert!(worker.run_once(&failing).await.unwrap().is_none());
    let stored = inbox.store().get(&first.key).await.unwrap().unwrap();
    assert_eq!(stored.status, DeliveryStatus::Failed);
    assert_eq!(stored.attempts, 2);
    assert_eq!(stored.last_error.as_deref(), Some("nope"));
    assert_eq!(stored.next_attempt_at, None);

    // A permanent error dead-letters at the first attempt.
    inbox.insert(delivery(Some(1), "hopeless")).await.unwrap();
    let permanent = |_: StoredDelivery| async { Err(AttemptError::permanent("bad payload")) };
    let hopeless = worker.run_once(&permanent).await.unwrap().unwrap();
    assert_eq!(hopeless.outcome, AttemptOutcome::Failed { attempts: 1 });

    // `octohook inbox retry`.
    assert!(inbox.store().requeue(&first.key).await.unwrap());
    let requeued = inbox.store().get(&first.key).await.unwrap().unwrap();
    assert_eq!(
        (requeued.status, requeued.attempts),
        (DeliveryStatus::Pending, 0)
    );
    let again = worker.run_once(&ok).await.unwrap().unwrap();
    assert_eq!(
        (again.key, again.outcome),
        (first.key, AttemptOutcome::Done)
    );
    assert!(
        !inbox
            .store()
            .requeue(&key(Some(9), "unknown"))
            .await
            .unwrap()
    );
}

pub(crate) async fn expired_leases_make_claims_claimable_again(backend: Backend) {
    let store = backend.open().await;
    let other = backend.open().await;
    store.insert(delivery(Some(1), "slow")).await.unwrap();
    let lease = Duration::from_millis(300);
    let crashed = store.claim("crashed", lease).await.unwrap().unwrap();
    assert_eq!(crashed.delivery.status, DeliveryStatus::Processing);
    assert_eq!(crashed.delivery.attempts, 1);
    assert_eq!(
        crashed.delivery.lease.as_ref().map(|l| l.owner.as_str()),
        Some("crashed")
    );
    assert!(other.claim("rescuer", lease).await.unwrap().is_none());

    tokio::time::sleep(Duration::from_millis(450)).await;
    let rescued = other.claim("rescuer", LONG).await.unwrap().unwrap();
    assert_eq!(rescued.delivery.id, crashed.delivery.id);
    assert_eq!(rescued.delivery.attempts, 2);
    // The first worker comes back: its claim is gone.
    assert_eq!(
        store.complete(&crashed.claim).await,
        Err(StoreError::ClaimLost {
            id: crashed.delivery.id
        })
    );
    assert!(matches!(
        store.renew(&crashed.claim, lease).await,
        Err(StoreError::ClaimLost { .. })
    ));
    assert!(matches!(
        store.retry_later(&crashed.claim, "late", lease).await,
        Err(StoreError::ClaimLost { .. })
    ));
    other.complete(&rescued.claim).await.unwrap();
    assert_eq!(
        store
            .get(rescued.claim.key())
            .await
            .unwrap()
            .unwrap()
            .status,
        DeliveryStatus::Done
    );
    // A finished claim cannot finish twice.
    assert!(matches!(
        other.fail(&rescued.claim, "again").await,
        Err(StoreError::ClaimLost { .. })
    ));

    // Renewing keeps a claim.
    store.insert(delivery(Some(1), "renewed")).await.unwrap();
    let held = store.claim("holder", lease).await.unwrap().unwrap();
    let renewed = store.renew(&held.claim, LONG).await.unwrap();
    assert!(renewed.lease_until() > held.claim.lease_until());
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(other.claim("rescuer", lease).await.unwrap().is_none());
    store.complete(&renewed).await.unwrap();
}

pub(crate) async fn workers_give_up_on_deliveries_that_keep_killing_them(backend: Backend) {
    let inbox = Inbox::from_shared(backend.open().await);
    inbox.insert(delivery(Some(1), "poison")).await.unwrap();
    let lease = Duration::from_millis(60);
    // Two workers die while handling it: their claims are never finished.
    for _ in 0..2 {
        assert!(inbox.store().claim("dies", lease).await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let worker = inbox.worker(worker_config("survivor").max_attempts(2));
    let must_not_run = |_: StoredDelivery| async {
        panic!("a delivery past its attempts must not run again");
    };
    let processed = worker.run_once(&must_not_run).await.unwrap().unwrap();
    assert_eq!(processed.outcome, AttemptOutcome::Failed { attempts: 2 });
    let stored = inbox.store().get(&processed.key).await.unwrap().unwrap();
    assert_eq!(stored.status, DeliveryStatus::Failed);
    assert!(
        stored.last_error.unwrap().contains("worker stopped"),
        "the error must say why"
    );
}

pub(crate) async fn a_panicking_handler_counts_as_a_failed_attempt(backend: Backend) {
    let inbox = Inbox::from_shared(backend.open().await);
    inbox.insert(delivery(Some(1), "panics")).await.unwrap();
    let worker = inbox.worker(worker_config("w").max_attempts(3));
    let panicking = |_: StoredDelivery| async { panic!("handler bug") };
    let processed = worker.run_once(&panicking).await.unwrap().unwrap();
    assert!(matches!(
        processed.outcome,
        AttemptOutcome::Retrying { attempt: 1, .. }
    ));
    let stored = inbox.store().get(&processed.key).await.unwrap().unwrap();
    assert_eq!(stored.last_error.as_deref(), Some("the handler panicked"));
}

pub(crate) async fn purge_removes_old_deliveries_in_the_given_statuses(backend: Backend) {
    let store = backend.open().await;
    let hours_ago = |hours: u64| SystemTime::now() - Duration::from_secs(hours * 3600);
    for (guid, at) in [
        ("old-done", hours_ago(3)),
        ("old-pending", hours_ago(3)),
        ("new-done", hours_ago(0)),
    ] {
        store
            .insert(delivery(Some(1), guid).received_at(at))
            .await
            .unwrap();
    }
    // Finish the two "done" ones (oldest due first: old-done, old-pending, ...).
    let mut claims = Vec::new();
    while let Some(claimed) = store.claim("w", LONG).await.unwrap() {
        claims.push(claimed);
    }
    for claimed in &claims {
        if claimed.delivery.key.guid.as_str().ends_with("done") {
            store.complete(&claimed.claim).await.unwrap();
        } else {
            store
                .retry_later(&claimed.claim, "later", Duration::ZERO)
                .await
                .unwrap();
        }
    }
    let hour = Duration::from_secs(3600);
    let is_stored = async |guid: &str| store.get(&key(Some(1), guid)).await.unwrap().is_some();
    assert_eq!(
        store
            .purge(&PurgeQuery::finished_older_than(hour))
            .await
            .unwrap(),
        1
    );
    assert!(!is_stored("old-done").await);
    assert!(is_stored("old-pending").await);
    assert!(is_stored("new-done").await);
    // A purged key is forgotten: a redelivery is stored again.
    assert!(
        !store
            .insert(delivery(Some(1), "old-done"))
            .await
            .unwrap()
            .is_duplicate()
    );
    assert_eq!(
        store
            .purge(&PurgeQuery::older_than(hour, [DeliveryStatus::Pending]))
            .await
            .unwrap(),
        1
    );
    assert!(!is_stored("old-pending").await);
    assert_eq!(store.counts().await.unwrap().total(), 2);
}

/// Stores `count` deliveries of hook 1, `{prefix}-0` first; returns their
/// ids in that order.
async fn insert_numbered(
    store: &dyn DeliveryStore,
    prefix: &str,
    count: usize,
) -> Vec<StoredDeliveryId> {
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let new = delivery(Some(1), &format!("{prefix}-{n}"));
        ids.push(store.insert(new).await.unwrap().id());
    }
    ids
}

pub(crate) async fn list_filters_by_status_and_guid_newest_first(backend: Backend) {
    let store = backend.open().await;
    let ids = insert_numbered(&*store, "l", 5).await;
    store.insert(delivery(Some(2), "l-0")).await.unwrap();
    // Oldest first: l-0 (hook 1) is claimed and failed.
    let claimed = store.claim("w", LONG).await.unwrap().unwrap();
    assert_eq!(claimed.delivery.id, ids[0]);
    store.fail(&claimed.claim, "broken").await.unwrap();

    let all = store.list(&ListQuery::default()).await.unwrap();
    assert_eq!(all.len(), 6);
    assert!(all.windows(2).all(|pair| pair[0].id > pair[1].id));
    let failed = store
        .list(&ListQuery::default().status(DeliveryStatus::Failed))
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, ids[0]);
    assert_eq!(failed[0].last_error.as_deref(), Some("broken"));
    let pending = store
        .list(
            &ListQuery::default()
                .status(DeliveryStatus::Pending)
                .limit(2),
        )
        .await
        .unwrap();
    assert_eq!(pending.len(), 2);
    assert!(pending.iter().all(|d| d.status == DeliveryStatus::Pending));
    let by_guid = store
        .list(&ListQuery::default().guid("l-0".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(by_guid.len(), 2);
    let page = store
        .list(&ListQuery::default().before_id(ids[2]))
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|d| d.id).collect::<Vec<_>>(),
        [ids[1], ids[0]]
    );
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.pending, counts.failed, counts.total()), (5, 1, 6));
}

pub(crate) async fn running_workers_are_woken_and_stop_on_shutdown(backend: Backend) {
    let inbox = Inbox::from_shared(backend.open().await);
    // A poll interval far longer than the test: only the wakeup can be in time.
    let config = worker_config("w").poll_interval(Duration::from_secs(3600));
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = inbox.worker(config);
    let running = tokio::spawn(async move {
        let handler = move |delivery: StoredDelivery| {
            let seen = seen_tx.clone();
            async move {
                seen.send(delivery.key).unwrap();
                Ok(())
            }
        };
        worker
            .run(&handler, async {
                let _ = stop_rx.await;
            })
            .await;
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    for n in 0..3 {
        let new: NewDelivery = delivery(Some(5), &format!("wake-{n}"));
        inbox.insert(new).await.unwrap();
        let seen = tokio::time::timeout(Duration::from_secs(5), seen_rx.recv())
            .await
            .expect("the worker was not woken")
            .unwrap();
        assert_eq!(seen, key(Some(5), &format!("wake-{n}")));
    }
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the worker did not stop")
        .unwrap();
}

/// A store keeps a delivery's headers as [`RawHeaders`] kept them, and reads
/// them back alike: only GitHub's delivery headers, the first of each name, at
/// most `RawHeaders::MAX_BYTES` in all (90 padding headers of 5 KB are not
/// stored), in the order received.
pub(crate) async fn only_githubs_headers_are_stored_within_the_cap(backend: Backend) {
    let store = backend.open().await;
    let signature = format!("sha256={}", "ab".repeat(32));
    let githubs = [
        ("content-type", "application/json"),
        ("user-agent", "GitHub-Hookshot/044aadd"),
        ("x-github-event", "issues"),
        ("x-github-delivery", "h-1"),
        ("x-github-hook-id", "42"),
        ("x-hub-signature-256", signature.as_str()),
    ];
    let padding: Vec<(String, String)> = (0..90)
        .map(|n| (format!("x-github-padding-{n}"), "p".repeat(5_000)))
        .collect();
    let long_host = "h".repeat(RawHeaders::MAX_BYTES);
    let received = githubs
        .iter()
        .copied()
        .chain(
            padding
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        )
        .chain([
            ("x-github-event", "push"),
            ("X-GitHub-Enterprise-Host", long_host.as_str()),
        ]);
    let mut new = delivery(Some(42), "h-1");
    new.headers = RawHeaders::from_pairs(received);
    assert_eq!(new.headers.dropped().headers, 92);
    store.insert(new).await.unwrap();

    let claimed = store.claim("w", LONG).await.unwrap().unwrap().delivery;
    let got = store.get(&key(Some(42), "h-1")).await.unwrap().unwrap();
    let listed = store.list(&ListQuery::default()).await.unwrap();
    for stored in [&claimed, &got, &listed[0]] {
        assert_eq!(stored.headers.iter().collect::<Vec<_>>(), githubs);
        assert!(stored.headers.byte_len() <= RawHeaders::MAX_BYTES);
        assert!(
            stored
                .headers
                .iter()
                .all(|(name, _)| { DELIVERY_HEADERS.iter().any(|allowed| allowed == name) })
        );
    }
}

/// The counts follow every change of status, and purges.
pub(crate) async fn counts_follow_every_change(backend: Backend) {
    let store = backend.open().await;
    for guid in ["c-1", "c-2", "c-3", "c-4"] {
        store.insert(delivery(Some(1), guid)).await.unwrap();
    }
    store.insert(delivery(Some(1), "c-1")).await.unwrap();
    let first = store.claim("w", LONG).await.unwrap().unwrap().claim;
    let second = store.claim("w", LONG).await.unwrap().unwrap().claim;
    let third = store.claim("w", LONG).await.unwrap().unwrap().claim;
    store.complete(&first).await.unwrap();
    store.fail(&second, "no").await.unwrap();
    let counts = store.counts().await.unwrap();
    assert_eq!(
        (
            counts.pending,
            counts.processing,
            counts.done,
            counts.failed
        ),
        (1, 1, 1, 1)
    );
    store
        .retry_later(&third, "later", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(store.requeue(first.key()).await.unwrap());
    // The cut-off is exclusive and some stores keep whole milliseconds: let
    // the clock pass the failed delivery's.
    tokio::time::sleep(Duration::from_millis(2)).await;
    let purged = store
        .purge(&PurgeQuery::older_than(
            Duration::ZERO,
            [DeliveryStatus::Failed],
        ))
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let counts = store.counts().await.unwrap();
    assert_eq!(
        (
            counts.pending,
            counts.processing,
            counts.done,
            counts.failed
        ),
        (3, 0, 0, 0)
    );
}

/// `get_by_id` finds what `list` shows under that id, with or without a hook
/// id, and nothing for an id never given or purged.
pub(crate) async fn get_by_id_finds_the_listed_delivery(backend: Backend) {
    let store = backend.open().await;
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let mut ids = Vec::new();
    for hook in [Some(7), None] {
        let new = delivery(hook, "g-1").received_at(hour_ago);
        ids.push(store.insert(new).await.unwrap().id());
    }
    let [with_hook, without] = ids[..] else {
        unreachable!()
    };
    // Oldest due first: the one with a hook id fails.
    let claimed = store.claim("w", LONG).await.unwrap().unwrap();
    store.fail(&claimed.claim, "broken").await.unwrap();

    for id in [with_hook, without] {
        let found = store.get_by_id(id).await.unwrap().expect("stored");
        let listed = store
            .list(&ListQuery::default().guid("g-1".parse().unwrap()))
            .await
            .unwrap()
            .into_iter()
            .find(|delivery| delivery.id == id)
            .unwrap();
        assert_eq!(found, listed);
    }
    let found = store.get_by_id(with_hook).await.unwrap().unwrap();
    assert_eq!(found.key, key(Some(7), "g-1"));
    assert_eq!(found.status, DeliveryStatus::Failed);
    assert_eq!(found.last_error.as_deref(), Some("broken"));
    assert_eq!(
        store.get_by_id(without).await.unwrap().unwrap().key,
        key(None, "g-1")
    );
    let unknown = StoredDeliveryId::new(without.get() + 1000);
    assert_eq!(store.get_by_id(unknown).await.unwrap(), None);
    assert_eq!(
        store.get_by_id(StoredDeliveryId::new(-1)).await.unwrap(),
        None
    );
    let purged = store
        .purge(&PurgeQuery::older_than(LONG, [DeliveryStatus::Failed]))
        .await
        .unwrap();
    assert_eq!(purged, 1);
    assert_eq!(store.get_by_id(with_hook).await.unwrap(), None);
    assert!(store.get_by_id(without).await.unwrap().is_some());
}

/// `ListPages` returns every match once, newest first, in pages of the query's
/// limit, ends after an exactly full last page, and does not see deliveries
/// stored while it pages.
pub(crate) async fn pages_walk_every_match_once_newest_first(backend: Backend) {
    let store = backend.open().await;
    let ids = insert_numbered(&*store, "p", 7).await;
    let claimed = store.claim("w", LONG).await.unwrap().unwrap();
    store.complete(&claimed.claim).await.unwrap();
    let newest_first: Vec<StoredDeliveryId> = ids.iter().rev().copied().collect();

    let mut pages = ListPages::new(&*store, ListQuery::default().limit(3));
    let mut sizes = Vec::new();
    let mut seen = Vec::new();
    while let Some(page) = pages.next_page().await.unwrap() {
        if sizes.is_empty() {
            // Stored after paging began: below no page's start, so never seen.
            store.insert(delivery(Some(1), "p-late")).await.unwrap();
        }
        sizes.push(page.len());
        seen.extend(page.iter().map(|delivery| delivery.id));
    }
    assert_eq!(sizes, [3, 3, 1]);
    assert_eq!(seen, newest_first);
    assert_eq!(pages.next_page().await.unwrap(), None);

    // Filters hold on every page; six pending split into exactly full pages.
    let pending = ListPages::new(
        &*store,
        ListQuery::default()
            .status(DeliveryStatus::Pending)
            .limit(2),
    )
    .collect_all()
    .await
    .unwrap();
    assert_eq!(pending.len(), 7);
    assert!(pending.iter().all(|d| d.status == DeliveryStatus::Pending));
    assert!(pending.windows(2).all(|pair| pair[0].id > pair[1].id));
    assert!(!pending.iter().any(|d| d.id == ids[0]));

    let from = ListPages::new(&*store, ListQuery::default().before_id(ids[3]).limit(2))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(
        from.iter().map(|d| d.id).collect::<Vec<_>>(),
        [ids[2], ids[1], ids[0]]
    );
    let mut none = ListPages::new(&*store, ListQuery::default().limit(0));
    assert_eq!(none.next_page().await.unwrap(), None);
}

/// A batch claims what is claimable, up to its limit, oldest first; a limit
/// beyond what is there gives a short batch, and an empty one when nothing is.
pub(crate) async fn batches_claim_up_to_their_limit(backend: Backend) {
    let store = backend.open().await;
    let first: Vec<NewDelivery> = (0..3)
        .map(|n| delivery(Some(1), &format!("p-{n}")))
        .collect();
    let inserted = store.insert_batch(first).await.unwrap();
    assert!(inserted.iter().all(|inserted| !inserted.is_duplicate()));
    assert!(store.claim_batch("w", LONG, 0).await.unwrap().is_empty());
    let claimed = store.claim_batch("w", LONG, 10).await.unwrap();
    let mut ids: Vec<StoredDeliveryId> = claimed.iter().map(|c| c.claim.id()).collect();
    ids.sort();
    let mut expected: Vec<StoredDeliveryId> = inserted.iter().map(|i| i.id()).collect();
    expected.sort();
    assert_eq!(
        ids, expected,
        "a short batch holds every claimable delivery"
    );
    for claimed in &claimed {
        assert_eq!(claimed.delivery.status, DeliveryStatus::Processing);
        assert_eq!(claimed.delivery.attempts, 1);
        assert_eq!(claimed.claim.worker(), "w");
        assert_eq!(claimed.delivery.id, claimed.claim.id());
        assert_eq!(
            claimed.delivery.body,
            format!(
                r#"{{"action":"opened","guid":"{}"}}"#,
                claimed.delivery.key.guid
            )
        );
    }
    assert!(store.claim_batch("w", LONG, 10).await.unwrap().is_empty());

    let later: Vec<NewDelivery> = (3..8)
        .map(|n| delivery(Some(1), &format!("p-{n}")))
        .collect();
    let later = store.insert_batch(later).await.unwrap();
    let two = store.claim_batch("w", LONG, 2).await.unwrap();
    assert_eq!(
        two.iter().map(|c| c.claim.id()).collect::<Vec<_>>(),
        [later[0].id(), later[1].id()],
        "oldest first"
    );
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.processing, counts.pending), (5, 3));
    // The whole lot, finished in one batch, each as asked.
    let finishes = claimed
        .iter()
        .chain(&two)
        .enumerate()
        .map(|(n, claimed)| {
            let outcome = match n % 3 {
                0 => Completion::Done,
                1 => Completion::RetryLater {
                    error: "later".into(),
                    delay: LONG,
                },
                _ => Completion::Failed {
                    error: "broken".into(),
                },
            };
            Finish::new(claimed.claim.clone(), outcome)
        })
        .collect::<Vec<_>>();
    let results = store.finish_batch(finishes.clone()).await.unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for finish in &finishes {
        let stored = store.get(finish.claim.key()).await.unwrap().unwrap();
        let (status, error) = match &finish.outcome {
            Completion::Done => (DeliveryStatus::Done, None),
            Completion::RetryLater { .. } => (DeliveryStatus::Pending, Some("later")),
            Completion::Failed { .. } => (DeliveryStatus::Failed, Some("broken")),
        };
        assert_eq!(stored.status, status);
        assert_eq!(stored.last_error.as_deref(), error);
        assert_eq!(stored.lease, None);
    }
    // Finishing them again: every claim is spent.
    let again = store.finish_batch(finishes).await.unwrap();
    assert!(
        again
            .iter()
            .all(|result| matches!(result, Err(StoreError::ClaimLost { .. }))),
        "{again:?}"
    );
}

/// A key twice in one batch is stored once: the first is new, the later one a
/// duplicate naming the same row, as is a key stored before the batch.
pub(crate) async fn duplicates_inside_one_batch_are_stored_once(backend: Backend) {
    let store = backend.open().await;
    let earlier = store.insert(delivery(Some(9), "d-0")).await.unwrap();
    let batch = vec![
        delivery(Some(9), "d-1"),
        delivery(Some(9), "d-2"),
        delivery(Some(9), "d-1"),
        delivery(Some(9), "d-0"),
        delivery(None, "d-1"),
    ];
    let inserted = store.insert_batch(batch).await.unwrap();
    assert_eq!(inserted.len(), 5);
    assert!(matches!(inserted[0], Inserted::New { .. }));
    assert!(matches!(inserted[1], Inserted::New { .. }));
    assert_eq!(
        inserted[2],
        Inserted::Duplicate {
            id: inserted[0].id()
        }
    );
    assert_eq!(inserted[3], Inserted::Duplicate { id: earlier.id() });
    assert!(
        matches!(inserted[4], Inserted::New { .. }),
        "no hook id: its own key"
    );
    assert_ne!(inserted[0].id(), inserted[1].id());
    assert_eq!(store.counts().await.unwrap().total(), 4);
    assert_eq!(
        store.get(&key(Some(9), "d-1")).await.unwrap().unwrap().id,
        inserted[0].id()
    );
    assert!(store.insert_batch(Vec::new()).await.unwrap().is_empty());
}

/// Two handles (two receivers on one database) store overlapping batches at
/// the same time, in opposite orders: each key is stored once, and both
/// handles name the same row for it.
pub(crate) async fn racing_batches_store_each_key_once(backend: Backend) {
    let handles = [backend.open().await, backend.open().await];
    const KEYS: usize = 40;
    let mut tasks = Vec::new();
    for (n, store) in handles.iter().enumerate() {
        for round in 0..3 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut keys: Vec<usize> = (0..KEYS).collect();
                if (n + round) % 2 == 1 {
                    keys.reverse();
                }
                let batch = keys
                    .iter()
                    .map(|k| delivery(Some(4), &format!("race-{k}")))
                    .collect();
                let inserted = store.insert_batch(batch).await.unwrap();
                keys.into_iter().zip(inserted).collect::<Vec<_>>()
            }));
        }
    }
    let mut new = HashMap::<usize, usize>::new();
    let mut ids = HashMap::<usize, HashSet<StoredDeliveryId>>::new();
    for task in tasks {
        for (key, inserted) in task.await.unwrap() {
            *new.entry(key).or_default() += usize::from(!inserted.is_duplicate());
            ids.entry(key).or_default().insert(inserted.id());
        }
    }
    for key in 0..KEYS {
        assert_eq!(
            new.get(&key),
            Some(&1),
            "race-{key} stored {:?} times",
            new.get(&key)
        );
        assert_eq!(ids[&key].len(), 1, "race-{key} named by several rows");
    }
    assert_eq!(handles[1].counts().await.unwrap().total(), KEYS as u64);
}

/// A lease that expires in the middle of a batch, its delivery claimed by
/// another worker: finishing the batch loses that one item only.
pub(crate) async fn a_lease_expiring_mid_batch_loses_only_its_item(backend: Backend) {
    let store = backend.open().await;
    let other = backend.open().await;
    let batch = (0..3)
        .map(|n| delivery(Some(6), &format!("e-{n}")))
        .collect();
    store.insert_batch(batch).await.unwrap();
    let short = Duration::from_millis(400);
    let claimed = store.claim_batch("w", short, 3).await.unwrap();
    assert_eq!(claimed.len(), 3);
    // The first and last are renewed; the middle one's lease runs out, and
    // another worker takes it over.
    let first = store.renew(&claimed[0].claim, LONG).await.unwrap();
    let last = store.renew(&claimed[2].claim, LONG).await.unwrap();
    tokio::time::sleep(short + Duration::from_millis(200)).await;
    let taken = other
        .claim("thief", LONG)
        .await
        .unwrap()
        .expect("the expired lease's delivery is claimable");
    assert_eq!(taken.claim.id(), claimed[1].claim.id());
    assert_eq!(taken.delivery.attempts, 2);
    let results = store
        .finish_batch(vec![
            Finish::new(first, Completion::Done),
            Finish::new(claimed[1].claim.clone(), Completion::Done),
            Finish::new(last, Completion::Failed { error: "no".into() }),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0], Ok(()));
    assert_eq!(
        results[1],
        Err(StoreError::ClaimLost {
            id: claimed[1].claim.id()
        })
    );
    assert_eq!(results[2], Ok(()));
    assert_eq!(
        store
            .get(claimed[0].claim.key())
            .await
            .unwrap()
            .unwrap()
            .status,
        DeliveryStatus::Done
    );
    let stolen = store.get(claimed[1].claim.key()).await.unwrap().unwrap();
    assert_eq!(stolen.status, DeliveryStatus::Processing);
    assert_eq!(
        stolen.lease.map(|lease| lease.owner),
        Some("thief".to_owned())
    );
    assert_eq!(
        store
            .get(claimed[2].claim.key())
            .await
            .unwrap()
            .unwrap()
            .status,
        DeliveryStatus::Failed
    );
    // The thief's claim is intact.
    other.complete(&taken.claim).await.unwrap();
}

/// Concurrent callers of one inbox are stored in shared batches, and each
/// gets its own answer: one new per key, the duplicates naming its row.
pub(crate) async fn an_inboxs_concurrent_inserts_each_get_their_answer(backend: Backend) {
    let inbox = Inbox::from_shared(backend.open().await);
    let mut tasks = Vec::new();
    for n in 0..80 {
        let inbox = inbox.clone();
        tasks.push(tokio::spawn(async move {
            let guid = format!("q-{}", n % 20);
            (
                n % 20,
                inbox.insert(delivery(Some(8), &guid)).await.unwrap(),
            )
        }));
    }
    let mut new = HashMap::<usize, usize>::new();
    let mut ids = HashMap::<usize, HashSet<StoredDeliveryId>>::new();
    for task in tasks {
        let (key, inserted) = task.await.unwrap();
        *new.entry(key).or_default() += usize::from(!inserted.is_duplicate());
        ids.entry(key).or_default().insert(inserted.id());
    }
    assert!(new.values().all(|&count| count == 1), "{new:?}");
    assert!(ids.values().all(|ids| ids.len() == 1));
    assert_eq!(inbox.counts().await.unwrap().total(), 20);
    assert_eq!(inbox.queued_inserts(), 0);
}

/// A pool of workers processes many deliveries, claimed and finished in
/// batches, each once, retrying failures as a lone worker does.
pub(crate) async fn a_pool_processes_each_delivery_once(backend: Backend) {
    let inbox = Inbox::from_shared(backend.open().await);
    const DELIVERIES: usize = 60;
    let runs = Arc::new(Mutex::new(HashMap::<String, u32>::new()));
    let handler = {
        let runs = runs.clone();
        move |delivery: StoredDelivery| {
            let runs = runs.clone();
            async move {
                let guid = delivery.key.guid.to_string();
                let attempt = {
                    let mut runs = runs.lock().unwrap();
                    let count = runs.entry(guid.clone()).or_default();
                    *count += 1;
                    *count
                };
                // Every fifth fails its first attempt.
                if attempt == 1 && (guid.ends_with('0') || guid.ends_with('5')) {
                    return Err(AttemptError::retry("first attempt fails"));
                }
                Ok(())
            }
        }
    };
    let config = worker_config("pool").backoff(
        Backoff::new(Duration::from_millis(50), 2, Duration::from_millis(100)).without_jitter(),
    );
    let processing = inbox.process(handler, 4, config);
    assert_eq!(processing.workers(), 4);
    let mut tasks = Vec::new();
    for n in 0..DELIVERIES {
        let inbox = inbox.clone();
        tasks.push(tokio::spawn(async move {
            inbox
                .insert(delivery(Some(2), &format!("pool-{n}")))
                .await
                .unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    wait_for_counts(&inbox, |counts| counts.done == DELIVERIES as u64).await;
    assert!(processing.drain(Duration::from_secs(5)).await.is_finished());
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), DELIVERIES);
    for (guid, count) in runs.iter() {
        let expected = if guid.ends_with('0') || guid.ends_with('5') {
            2
        } else {
            1
        };
        assert_eq!(*count, expected, "{guid}");
    }
    let done = inbox
        .store()
        .list(
            &ListQuery::default()
                .status(DeliveryStatus::Done)
                .limit(1000),
        )
        .await
        .unwrap();
    assert_eq!(done.len(), DELIVERIES);
    assert!(done.iter().all(|d| d.lease.is_none()));
    let retried = done.iter().filter(|d| d.attempts == 2).count();
    assert_eq!(retried, DELIVERIES / 5);
}

/// A batch stored and claimed at once: of the first `limit` deliveries,
/// those that are new come back claimed (`processing`, first attempt) and
/// finish as any claim does; the others are stored `pending` and claimed the
/// usual way; a claim made at insert expires as any other.
pub(crate) async fn a_batch_claimed_as_it_is_stored(backend: Backend) {
    let store = backend.open().await;
    let other = backend.open().await;
    store.insert(delivery(Some(9), "c-old")).await.unwrap();
    let batch = vec![
        delivery(Some(9), "c-old"),
        delivery(Some(9), "c-1"),
        delivery(Some(9), "c-1"),
        delivery(Some(9), "c-2"),
        delivery(Some(9), "c-3"),
    ];
    let short = Duration::from_millis(600);
    let results = store
        .insert_and_claim_batch(batch, "early", short, 3)
        .await
        .unwrap();
    let shape: Vec<(bool, bool)> = results
        .iter()
        .map(|(inserted, claimed)| (inserted.is_duplicate(), claimed.is_some()))
        .collect();
    // Within the first three: a duplicate of a stored key, a new key
    // (claimed), the same key again (a duplicate). Past them: new, unclaimed.
    assert_eq!(
        shape,
        [
            (true, false),
            (false, true),
            (true, false),
            (false, false),
            (false, false)
        ]
    );
    let (inserted, claimed) = &results[1];
    let claimed = claimed.as_ref().unwrap();
    assert_eq!(claimed.claim.id(), inserted.id());
    assert_eq!(results[2].0.id(), inserted.id());
    assert_eq!(claimed.delivery.status, DeliveryStatus::Processing);
    assert_eq!(claimed.delivery.attempts, 1);
    assert_eq!(claimed.delivery.key, key(Some(9), "c-1"));
    assert_eq!(
        &claimed.delivery.body[..],
        &delivery(Some(9), "c-1").body[..]
    );
    let stored = other.get(claimed.claim.key()).await.unwrap().unwrap();
    assert_eq!(stored.status, DeliveryStatus::Processing);
    assert_eq!(stored.attempts, 1);
    assert_eq!(
        stored.lease.map(|lease| lease.owner),
        Some("early".to_owned())
    );
    // The old key and the two unclaimed new ones are claimable; the claimed
    // one is not.
    let pending = other.claim_batch("late", LONG, 10).await.unwrap();
    let mut guids: Vec<String> = pending
        .iter()
        .map(|claimed| claimed.delivery.key.guid.to_string())
        .collect();
    guids.sort();
    assert_eq!(guids, ["c-2", "c-3", "c-old"]);
    // Its lease runs out like any other: another worker takes it over, and
    // the first claim is lost.
    tokio::time::sleep(short + Duration::from_millis(300)).await;
    let taken = other
        .claim("thief", LONG)
        .await
        .unwrap()
        .expect("the expired lease's delivery is claimable");
    assert_eq!(taken.claim.id(), claimed.claim.id());
    assert_eq!(taken.delivery.attempts, 2);
    assert_eq!(
        store
            .finish_batch(vec![Finish::new(claimed.claim.clone(), Completion::Done)])
            .await
            .unwrap(),
        [Err(StoreError::ClaimLost {
            id: claimed.claim.id()
        })]
    );
    other.complete(&taken.claim).await.unwrap();
    // A claim made at insert finishes as any other.
    let results = store
        .insert_and_claim_batch(vec![delivery(Some(9), "c-4")], "early", LONG, 1)
        .await
        .unwrap();
    let claim = results[0].1.as_ref().unwrap().claim.clone();
    assert_eq!(
        store
            .finish_batch(vec![Finish::new(claim.clone(), Completion::Done)])
            .await
            .unwrap(),
        [Ok(())]
    );
    assert_eq!(
        other.get(claim.key()).await.unwrap().unwrap().status,
        DeliveryStatus::Done
    );
}

/// An inbox with a pool that has free workers hands it each delivery as it
/// is stored: the pool processes them without claiming them from the store.
pub(crate) async fn a_pool_with_free_workers_takes_deliveries_as_they_are_stored(backend: Backend) {
    let store = Arc::new(CountingClaims {
        inner: backend.open().await,
        claims: AtomicU32::new(0),
    });
    let inbox = Inbox::from_shared(store.clone());
    // No polling while the test runs: every claim is one a wake-up asked for.
    let config = worker_config("pool").poll_interval(Duration::from_secs(600));
    let processing = inbox.process(ok, 4, config);
    // The pool's first claim, at start, finds nothing.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while store.claims.load(Ordering::SeqCst) == 0 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A store that listens for wake-ups (PostgreSQL) wakes the pool once when
    // its listening starts, in case it missed one: let that pass.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let claims_before = store.claims.load(Ordering::SeqCst);
    const DELIVERIES: usize = 30;
    // One at a time, each processed before the next arrives: a worker is
    // always free when a delivery is stored.
    for n in 0..DELIVERIES {
        inbox
            .insert(delivery(Some(4), &format!("h-{n}")))
            .await
            .unwrap();
        wait_for_counts(&inbox, |counts| counts.done > n as u64).await;
    }
    assert!(processing.drain(Duration::from_secs(5)).await.is_finished());
    // A delivery stored without a free worker would wake the pool for a
    // claim of its own.
    let claims = store.claims.load(Ordering::SeqCst) - claims_before;
    assert_eq!(claims, 0, "{claims} claims for {DELIVERIES} deliveries");
    let done = inbox
        .store()
        .list(&ListQuery::default().status(DeliveryStatus::Done).limit(100))
        .await
        .unwrap();
    assert_eq!(done.len(), DELIVERIES);
    assert!(done.iter().all(|delivery| delivery.attempts == 1));
}

/// Waits (up to 20 s) until `ready` holds of the inbox's counts.
async fn wait_for_counts(inbox: &Inbox, ready: impl Fn(&StatusCounts) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let counts = inbox.counts().await.unwrap();
        if ready(&counts) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{counts:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A handler that records the GUIDs it sees and how many run at once, and
/// holds the delivery `held` until `gate` gets a permit.
fn recording_handler(
    seen: Arc<Mutex<Vec<String>>>,
    most_at_once: Arc<AtomicU32>,
    held: &'static str,
    gate: Arc<tokio::sync::Semaphore>,
) -> impl Fn(StoredDelivery) -> std::pin::Pin<Box<dyn Future<Output = Result<(), AttemptError>> + Send>>
+ Send
+ Sync
+ 'static {
    let running = Arc::new(AtomicU32::new(0));
    move |delivery: StoredDelivery| {
        let (seen, most_at_once, gate, running) = (
            seen.clone(),
            most_at_once.clone(),
            gate.clone(),
            running.clone(),
        );
        Box::pin(async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most_at_once.fetch_max(now, Ordering::SeqCst);
            let guid = delivery.key.guid.to_string();
            if guid == held {
                gate.acquire().await.unwrap().forget();
            }
            seen.lock().unwrap().push(guid);
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

/// A worker with a prefetch holds that many deliveries claimed while it
/// handles one, and handles them one at a time in the order claimed.
pub(crate) async fn a_prefetching_worker_holds_claims_and_keeps_their_order(backend: Backend) {
    let store = backend.open().await;
    const DELIVERIES: usize = 40;
    for n in 0..DELIVERIES {
        store
            .insert(delivery(Some(5), &format!("p-{n:02}")))
            .await
            .unwrap();
    }
    let inbox = Inbox::from_shared(store);
    let (seen, most_at_once) = (Arc::default(), Arc::new(AtomicU32::new(0)));
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let handler = recording_handler(
        Arc::clone(&seen),
        Arc::clone(&most_at_once),
        "p-00",
        Arc::clone(&gate),
    );
    let processing = inbox.process(handler, 1, worker_config("prefetch").prefetch(8));
    // The first delivery is held: the worker claims seven more meanwhile,
    // and no more.
    wait_for_counts(&inbox, |counts| counts.processing == 8).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(inbox.counts().await.unwrap().processing, 8);
    gate.add_permits(1);
    wait_for_counts(&inbox, |counts| counts.done == DELIVERIES as u64).await;
    assert!(processing.drain(Duration::from_secs(5)).await.is_finished());
    let expected: Vec<String> = (0..DELIVERIES).map(|n| format!("p-{n:02}")).collect();
    assert_eq!(*seen.lock().unwrap(), expected);
    assert_eq!(most_at_once.load(Ordering::SeqCst), 1);
}

/// A prefetched delivery whose lease runs out while it waits is not handled
/// on that claim (another worker may hold it by then): it is claimed again.
pub(crate) async fn a_prefetched_delivery_whose_lease_ran_out_is_claimed_again(backend: Backend) {
    let store = backend.open().await;
    for guid in ["q-0", "q-1"] {
        store.insert(delivery(Some(6), guid)).await.unwrap();
    }
    let inbox = Inbox::from_shared(store);
    let (seen, most_at_once) = (Arc::new(Mutex::new(Vec::new())), Arc::default());
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let handler = recording_handler(Arc::clone(&seen), most_at_once, "q-0", Arc::clone(&gate));
    let lease = Duration::from_millis(300);
    let config = worker_config("prefetch").lease(lease).prefetch(2);
    let processing = inbox.process(handler, 1, config);
    wait_for_counts(&inbox, |counts| counts.processing == 2).await;
    // q-0's lease is renewed while its handler runs; q-1's runs out.
    tokio::time::sleep(lease * 3).await;
    gate.add_permits(1);
    wait_for_counts(&inbox, |counts| counts.done == 2).await;
    assert!(processing.drain(Duration::from_secs(5)).await.is_finished());
    assert_eq!(*seen.lock().unwrap(), ["q-0", "q-1"]);
    let second = inbox
        .store()
        .get(&key(Some(6), "q-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        second.attempts, 2,
        "handled on the claim whose lease ran out"
    );
}

/// A store that counts the claims made of it, and passes every call on.
#[derive(Debug)]
struct CountingClaims {
    inner: Arc<dyn DeliveryStore>,
    claims: AtomicU32,
}

impl DeliveryStore for CountingClaims {
    fn insert(&self, delivery: NewDelivery) -> StoreFuture<'_, Inserted> {
        self.inner.insert(delivery)
    }
    fn insert_batch(&self, deliveries: Vec<NewDelivery>) -> StoreFuture<'_, Vec<Inserted>> {
        self.inner.insert_batch(deliveries)
    }
    fn insert_and_claim_batch(
        &self,
        deliveries: Vec<NewDelivery>,
        worker: &str,
        lease: Duration,
        limit: usize,
    ) -> StoreFuture<'_, Vec<(Inserted, Option<Claimed>)>> {
        self.inner
            .insert_and_claim_batch(deliveries, worker, lease, limit)
    }
    fn claim(&self, worker: &str, lease: Duration) -> StoreFuture<'_, Option<Claimed>> {
        self.claims.fetch_add(1, Ordering::SeqCst);
        self.inner.claim(worker, lease)
    }
    fn claim_batch(
        &self,
        worker: &str,
        lease: Duration,
        limit: usize,
    ) -> StoreFuture<'_, Vec<Claimed>> {
        self.claims.fetch_add(1, Ordering::SeqCst);
        self.inner.claim_batch(worker, lease, limit)
    }
    fn finish_batch(&self, finishes: Vec<Finish>) -> StoreFuture<'_, Vec<Result<(), StoreError>>> {
        self.inner.finish_batch(finishes)
    }
    fn renew(&self, claim: &Claim, lease: Duration) -> StoreFuture<'_, Claim> {
        self.inner.renew(claim, lease)
    }
    fn finish(&self, finish: Finish) -> StoreFuture<'_, ()> {
        self.inner.finish(finish)
    }
    fn requeue(&self, key: &DeliveryKey) -> StoreFuture<'_, bool> {
        self.inner.requeue(key)
    }
    fn get(&self, key: &DeliveryKey) -> StoreFuture<'_, Option<StoredDelivery>> {
        self.inner.get(key)
    }
    fn get_by_id(&self, id: StoredDeliveryId) -> StoreFuture<'_, Option<StoredDelivery>> {
        self.inner.get_by_id(id)
    }
    fn list(&self, query: &ListQuery) -> StoreFuture<'_, Vec<StoredDelivery>> {
        self.inner.list(query)
    }
    fn purge(&self, query: &PurgeQuery) -> StoreFuture<'_, u64> {
        self.inner.purge(query)
    }
    fn counts(&self) -> StoreFuture<'_, StatusCounts> {
        self.inner.counts()
    }
    fn wakeups(&self) -> Option<Arc<Notify>> {
        self.inner.wakeups()
    }
}

macro_rules! conformance {
    ($($backend:ident => $make:expr;)*) => {$(
        mod $backend {
            #[allow(unused_imports)]
            use crate::Backend;

            conformance!(@cases $make;
                insert_is_if_absent,
                no_hook_id_is_not_hook_id_zero,
                concurrent_duplicates_are_stored_once,
                concurrent_workers_never_share_a_delivery,
                failed_attempts_are_retried_with_backoff,
                deliveries_fail_after_max_attempts_and_can_be_requeued,
                expired_leases_make_claims_claimable_again,
                workers_give_up_on_deliveries_that_keep_killing_them,
                a_panicking_handler_counts_as_a_failed_attempt,
                purge_removes_old_deliveries_in_the_given_statuses,
                list_filters_by_status_and_guid_newest_first,
                running_workers_are_woken_and_stop_on_shutdown,
                only_githubs_headers_are_stored_within_the_cap,
                counts_follow_every_change,
                get_by_id_finds_the_listed_delivery,
                pages_walk_every_match_once_newest_first,
                batches_claim_up_to_their_limit,
                duplicates_inside_one_batch_are_stored_once,
                racing_batches_store_each_key_once,
                a_lease_expiring_mid_batch_loses_only_its_item,
                an_inboxs_concurrent_inserts_each_get_their_answer,
                a_pool_processes_each_delivery_once,
                a_batch_claimed_as_it_is_stored,
                a_pool_with_free_workers_takes_deliveries_as_they_are_stored,
                a_prefetching_worker_holds_claims_and_keeps_their_order,
                a_prefetched_delivery_whose_lease_ran_out_is_claimed_again,
            );
        }
    )*};
    (@cases $make:expr; $($case:ident,)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            super::$case($make).await;
        }
    )*};
}

conformance! {
    memory => Backend::memory();
}

#[cfg(feature = "sqlite")]
conformance! {
    sqlite => Backend::sqlite();
}

#[cfg(feature = "postgres")]
conformance! {
    postgres => Backend::postgres().await;
}
