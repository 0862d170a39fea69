//! The workers of the inbox examples: each prints every stored delivery as a
//! JSON line, as `octohook serve --out` does.

use std::time::{Duration, SystemTime};

use octohook::{Dispatcher, Verifier};
use octohook_inbox::handlers::{Dispatch, JsonLines};
use octohook_inbox::{Attempt, Inbox, Processing, WorkerConfig};

/// Starts two workers that run a typed `Dispatcher` on `inbox`'s deliveries,
/// whose one handler prints each as a JSON line on standard output (with the
/// time it was received). Call it inside a tokio runtime; drain what it returns
/// after the server stops. `verifier` checks each stored delivery again.
pub fn print_deliveries(inbox: &Inbox, verifier: Verifier) -> Processing {
    let lines = JsonLines::stdout();
    let dispatcher = Dispatcher::new().on_any(move |event| {
        let lines = lines.clone();
        // Run by a worker: the attempt knows when the delivery was received.
        let received_at = Attempt::current().map(|attempt| attempt.received_at());
        async move {
            lines
                .write(
                    event.delivery(),
                    received_at.unwrap_or_else(SystemTime::now),
                )
                .await
        }
    });
    // After a crash, a delivery being handled is taken up again once its lease expires.
    let workers = WorkerConfig::for_this_process().lease(Duration::from_secs(10));
    // Each stored delivery is verified again (a fresh MAC check) before the
    // dispatcher sees it.
    inbox.process(Dispatch::new(dispatcher, verifier), 2, workers)
}
