//! What pull mode keeps in every store: each delivery's origin, and the pull
//! sources' cursors, read back through another handle (another connection for
//! the SQL stores, as after a restart).

use octohook::PulledDelivery;
use octohook_inbox::{DeliveryOrigin, NewDelivery};

use crate::{Backend, delivery, key};

fn pulled(hook: u64, guid: &str) -> NewDelivery {
    let hook = hook.to_string();
    let headers = [
        ("X-GitHub-Event", "issues"),
        ("X-GitHub-Delivery", guid),
        ("X-GitHub-Hook-ID", hook.as_str()),
    ];
    let payload = serde_json::json!({"action": "opened", "guid": guid});
    NewDelivery::from_pulled(&PulledDelivery::from_github_api(headers, &payload).unwrap())
}

pub(crate) async fn the_origin_is_kept_and_the_first_copy_wins(backend: Backend) {
    let store = backend.open().await;
    store
        .insert(delivery(Some(7), "pushed-first"))
        .await
        .unwrap();
    // The same delivery pulled later: a duplicate, the pushed copy stays.
    assert!(
        store
            .insert(pulled(7, "pushed-first"))
            .await
            .unwrap()
            .is_duplicate()
    );
    store.insert(pulled(7, "pulled-first")).await.unwrap();
    let mut pushed_later = delivery(Some(7), "pulled-first");
    pushed_later.body = "{}".into();
    assert!(store.insert(pushed_later).await.unwrap().is_duplicate());

    let again = backend.open().await;
    let first = again
        .get(&key(Some(7), "pushed-first"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.origin, DeliveryOrigin::Pushed);
    let second = again
        .get(&key(Some(7), "pulled-first"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.origin, DeliveryOrigin::Pulled);
    assert_eq!(
        second.body.as_ref(),
        br#"{"action":"opened","guid":"pulled-first"}"#
    );
    assert_eq!(second.headers.get("x-github-hook-id"), Some("7"));
    let rebuilt = second.pulled().unwrap();
    assert_eq!(rebuilt.guid().as_str(), "pulled-first");
    assert_eq!(rebuilt.action(), Some("opened"));
    // The origin travels with a claim too.
    let claimed = again
        .claim("w", std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.delivery.origin, DeliveryOrigin::Pushed);
    let claimed = again
        .claim("w", std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.delivery.origin, DeliveryOrigin::Pulled);
}

pub(crate) async fn pull_cursors_survive_a_reopen_and_are_kept_per_scope(backend: Backend) {
    let store = backend.open().await;
    assert_eq!(store.load_pull_cursor("a").await.unwrap(), None);
    store.save_pull_cursor("a", "v1 one").await.unwrap();
    store.save_pull_cursor("b", "v1 other").await.unwrap();
    store.save_pull_cursor("a", "v1 two").await.unwrap();
    let again = backend.open().await;
    assert_eq!(
        again.load_pull_cursor("a").await.unwrap().as_deref(),
        Some("v1 two")
    );
    assert_eq!(
        again.load_pull_cursor("b").await.unwrap().as_deref(),
        Some("v1 other")
    );
    assert_eq!(again.load_pull_cursor("c").await.unwrap(), None);
}

macro_rules! pull_state {
    ($($backend:ident => $make:expr;)*) => {$(
        mod $backend {
            #[allow(unused_imports)]
            use crate::Backend;

            #[tokio::test]
            async fn the_origin_is_kept_and_the_first_copy_wins() {
                super::the_origin_is_kept_and_the_first_copy_wins($make).await;
            }

            #[tokio::test]
            async fn pull_cursors_survive_a_reopen_and_are_kept_per_scope() {
                super::pull_cursors_survive_a_reopen_and_are_kept_per_scope($make).await;
            }
        }
    )*};
}

pull_state! {
    memory => Backend::memory();
}

#[cfg(feature = "sqlite")]
pull_state! {
    sqlite => Backend::sqlite();
}

#[cfg(feature = "postgres")]
pull_state! {
    postgres => Backend::postgres().await;
}
