//! The inbox as a [`ReceiveDelivery`].
// TODO(merge): Inbox implements ReceiveDelivery; this file then goes.

use octohook::{Answer, ReceiveDelivery, ReceiveFuture, VerifiedDelivery};
use octohook_inbox::Inbox;

/// Stores each delivery in the inbox and answers as its receipt says.
#[derive(Clone, Debug)]
pub(crate) struct InboxReceiver(pub(crate) Inbox);

impl ReceiveDelivery for InboxReceiver {
    fn receive(&self, delivery: VerifiedDelivery) -> ReceiveFuture<'_> {
        Box::pin(async move {
            let headers = delivery.raw_headers().to_header_map();
            let receipt = self.0.receive(delivery, &headers).await;
            let answer = Answer::new(receipt.status(), receipt.body());
            match receipt.retry_after_secs() {
                Some(seconds) => answer.with_retry_after(seconds),
                None => answer,
            }
        })
    }
}
