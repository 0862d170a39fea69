//! Run with: GITHUB_WEBHOOK_SECRET=… cargo run -p example-jetstream-consumer
//!
//! The other end of `octohook serve --publish nats://127.0.0.1:4222/github.{event}.{action}`:
//! a durable JetStream pull consumer with explicit acknowledgements. Each
//! message is verified again with the webhook secret (the signature travels
//! with the body, so authenticity survives the broker) and dispatched with a
//! typed `Dispatcher`; then it is acknowledged, NAKed with a 5 s delay when a
//! handler failed (redelivered up to 5 times in all), or terminated when it
//! does not verify.
//!
//! It reads `GITHUB_WEBHOOK_SECRET`, `NATS_ADDRESS` (default
//! `127.0.0.1:4222`), `OCTOHOOK_SUBJECT` (default `github.>`: the stream that
//! covers it is found by subject) and `OCTOHOOK_CONSUMER` (the durable name,
//! default `octohook-example`). Create the stream first, for instance with
//! `nats stream add GITHUB --subjects 'github.>' --dupe-window 10m`.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::AckPolicy, consumer::pull};
use futures_util::StreamExt;
use octohook::events::{IssuesAction, PushEvent};
use octohook::{Dispatcher, Verifier, WebhookSecret};
use octohook_broker::Consumer;
use octohook_broker::jetstream::{Settled, settle};

const NAK_DELAY: Duration = Duration::from_secs(5);
const MAX_DELIVER: i64 = 5;

fn variable(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(variable(
            "RUST_LOG", "info",
        )))
        .init();
    let secret = WebhookSecret::new(std::env::var("GITHUB_WEBHOOK_SECRET")?)?;
    let subject = variable("OCTOHOOK_SUBJECT", "github.>");
    let client = async_nats::connect(variable("NATS_ADDRESS", "127.0.0.1:4222")).await?;
    let context = jetstream::new(client);
    let stream = context.stream_by_subject(subject.as_str()).await?;
    let consumer = context
        .get_stream(&stream)
        .await?
        .get_or_create_consumer(
            &variable("OCTOHOOK_CONSUMER", "octohook-example"),
            pull::Config {
                durable_name: Some(variable("OCTOHOOK_CONSUMER", "octohook-example")),
                filter_subject: subject.clone(),
                ack_policy: AckPolicy::Explicit,
                max_deliver: MAX_DELIVER,
                ..Default::default()
            },
        )
        .await?;

    let dispatcher = Dispatcher::new()
        .on_action(IssuesAction::Opened, |issues| async move {
            println!("issue #{} opened", issues.issue.number);
        })
        .on::<PushEvent, _, _, _>(|push| async move {
            println!("push to {}", push.r#ref);
        })
        .on_any(|delivery| async move {
            println!("{} {}", delivery.kind(), delivery.delivery().guid());
        });
    let verified = Consumer::new(Verifier::new(secret), dispatcher);
    println!("consuming {subject} from stream {stream}");

    let mut messages = consumer.messages().await?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            next = messages.next() => {
                let Some(message) = next else { return Ok(()) };
                let message = message?;
                match settle(&verified, &message, NAK_DELAY).await? {
                    Settled::Acked => {}
                    Settled::Nacked => eprintln!("a handler failed: redelivered in {NAK_DELAY:?}"),
                    Settled::Terminated => eprintln!("a message that does not verify: terminated"),
                    _ => {}
                }
            }
        }
    }
}
