//! A load of signed `issues` deliveries posted to `octohook serve` from several
//! connections, each posted until answered 200, following the receiver to its
//! new port when a test kills and restarts it.

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use octohook_test_battery::TestDelivery;
use tokio::task::JoinSet;

/// The idempotency key `octohook serve` gives a test delivery (hook 42).
pub(crate) fn key(delivery: &TestDelivery) -> String {
    format!("42:{}", delivery.guid())
}

/// `unique` signed `issues` deliveries, in the order they are to be posted,
/// with every fourth one posted twice; delivery `n` carries `pad(n)` bytes of
/// padding.
pub(crate) fn issue_posts(unique: usize, pad: impl Fn(usize) -> usize) -> Vec<TestDelivery> {
    let mut posts = Vec::new();
    for n in 0..unique {
        let body = format!(
            r#"{{"action":"opened","issue":{{"number":{n}}},"pad":"{}"}}"#,
            "x".repeat(pad(n))
        );
        posts.push(TestDelivery::json("issues", body.into_bytes()));
        if n % 4 == 3 {
            posts.push(posts[posts.len() - 3].clone());
        }
    }
    posts
}

/// The posts still to make, the URL they go to, and what happened so far.
pub(crate) struct Load {
    url: RwLock<String>,
    queue: Mutex<Vec<TestDelivery>>,
    answered: AtomicUsize,
    /// Answers other than 200 (each a 503).
    non_200: AtomicUsize,
    /// Requests sent again, after a 503 or a broken connection.
    retried: AtomicUsize,
    /// Requests sent and not answered yet.
    in_flight: AtomicUsize,
}

impl Load {
    /// Posts `posts` to `url`, in order, from `connections` connections; each
    /// task returns the keys it saw answered 200.
    pub(crate) fn start(
        url: String,
        mut posts: Vec<TestDelivery>,
        connections: usize,
    ) -> (Arc<Self>, JoinSet<Vec<String>>) {
        posts.reverse(); // popped from the end: posted in order.
        let load = Arc::new(Self {
            url: RwLock::new(url),
            queue: Mutex::new(posts),
            answered: AtomicUsize::new(0),
            non_200: AtomicUsize::new(0),
            retried: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
        });
        let mut tasks = JoinSet::new();
        for _ in 0..connections {
            let load = Arc::clone(&load);
            tasks.spawn(async move { load.post_until_empty().await });
        }
        (load, tasks)
    }

    async fn post_until_empty(&self) -> Vec<String> {
        let client = octohook_test_battery::http_client_builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut answered = Vec::new();
        loop {
            let Some(delivery) = self.queue.lock().unwrap().pop() else {
                return answered;
            };
            loop {
                let url = self.url.read().unwrap().clone();
                self.in_flight.fetch_add(1, Ordering::SeqCst);
                let sent = delivery.send(&client, &url).await;
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                match sent {
                    Ok((200, _)) => break,
                    Ok((status, body)) => {
                        self.non_200.fetch_add(1, Ordering::Relaxed);
                        assert_eq!(status, 503, "unexpected answer: {body}");
                    }
                    Err(_) => {}
                }
                self.retried.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            self.answered.fetch_add(1, Ordering::SeqCst);
            answered.push(key(&delivery));
        }
    }

    /// Sends the posts from now on to `url` (a restarted receiver's).
    pub(crate) fn follow(&self, url: String) {
        *self.url.write().unwrap() = url;
    }

    /// Posts answered 200 so far.
    pub(crate) fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    /// Answers other than 200 so far.
    pub(crate) fn non_200(&self) -> usize {
        self.non_200.load(Ordering::Relaxed)
    }

    /// Requests sent again so far.
    pub(crate) fn retried(&self) -> usize {
        self.retried.load(Ordering::Relaxed)
    }

    /// Requests sent and not answered yet.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Waits until at least `at_least` posts are answered 200; panics when that
    /// takes longer than `patience`.
    pub(crate) async fn wait_answered(&self, at_least: usize, patience: Duration) {
        let deadline = Instant::now() + patience;
        while self.answered() < at_least {
            assert!(Instant::now() < deadline, "the load is stuck");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// Every key the load's tasks saw answered 200, once they are all done.
pub(crate) async fn all_answered(tasks: &mut JoinSet<Vec<String>>) -> BTreeSet<String> {
    let mut answered = BTreeSet::new();
    while let Some(keys) = tasks.join_next().await {
        answered.extend(keys.unwrap());
    }
    answered
}
