//! What the broker tests share: waiting for an inbox's workers.

use std::time::{Duration, Instant};

use octohook_inbox::Inbox;

/// Waits (up to 30 s) until `expected` deliveries of `inbox` are done.
pub(crate) async fn wait_done(inbox: &Inbox, expected: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let counts = inbox.store().counts().await.unwrap();
        if counts.done == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not all done in time: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
