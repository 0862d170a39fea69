//! The HTTP test battery every octohook receiver must pass, over a real socket.
//!
//! A receiver under test listens on 127.0.0.1, verifies with [`SECRET`], SHA-256
//! only, with the default 25 MiB body limit and JSON nesting limit, and answers an accepted delivery with
//! a 2xx whose body, when not empty, contains the delivery GUID. [`run`] sends it
//! every kind of delivery, good and bad, and returns the failures.
//! [`run_adversarial`] adds hostile clients (slow, idle, oversized, malformed,
//! nested 1,000,000 levels deep, downgrading) for a receiver with a short read timeout. Every body sent is
//! recorded, so that [`find_leaks`] can check logs and responses for the secret
//! and the signatures the receiver expected.
//!
//! For the tests that hand deliveries to a broker, the features `jetstream` and
//! `amqp` add `TestStream` and `TestQueue`: a stream, or an exchange and a queue,
//! of the test's own on the real NATS or RabbitMQ server.
#![forbid(unsafe_code)]

mod adversarial;
#[cfg(feature = "amqp")]
mod amqp_queue;
mod corpus;
mod crash;
mod delivery;
mod form_bodies;
#[cfg(feature = "jetstream")]
mod jetstream_stream;
mod leaks;
mod log_bounds;
#[cfg(feature = "otlp")]
pub mod otlp;
mod process;
mod raw;
mod readme_deliveries;
mod receiving_route;
mod small_disk;
#[cfg(feature = "inbox")]
mod stored_headers;

use std::net::SocketAddr;

pub use adversarial::{AdversarialOptions, GRACE, run_adversarial, run_downgrade};
#[cfg(feature = "amqp")]
pub use amqp_queue::TestQueue;
pub use corpus::{GithubExample, github_examples};
pub use crash::{CrashReport, CrashSubject, Lines, TempDb};
#[cfg(feature = "inbox")]
pub use crash::{check_crash_safety, check_program_crash_safety};
pub use delivery::TestDelivery;
#[cfg(feature = "jetstream")]
pub use jetstream_stream::TestStream;
pub use leaks::{CapturedLogs, find_leaks, sent_signatures};
pub use log_bounds::{HOSTILE_GUID_LEN, MAX_LOG_LINE, check_log_bounds};
pub use process::{
    ReceiverProcess, check_idle_flood, check_idle_flood_under_a_low_file_limit,
    check_inbox_receiver, check_line_printing_receiver, check_records, check_serve_records,
};
pub use readme_deliveries::{
    ReadmeSend, check_readme_first_delivery, readme_first_delivery, readme_sends, repository_root,
};
pub use receiving_route::{
    Received, RecordingReceiver, check_receiving_route, check_unverified_route,
};
pub use small_disk::SmallDisk;
#[cfg(feature = "inbox")]
pub use stored_headers::{
    check_inbox_receiver_stored_headers, check_receiver_stored_headers, check_stored_headers,
};

/// The secret a receiver under test verifies with.
pub const SECRET: &str = "It's a Secret to Everybody";

/// GitHub's payload cap, the receivers' default body limit.
pub const LIMIT: usize = 25 * 1024 * 1024;

/// 16 random hex digits, for names (streams, queues, consumers) that tests
/// running at the same time must not share.
pub fn random_suffix() -> String {
    use std::hash::{BuildHasher, RandomState};
    format!(
        "{:016x}",
        RandomState::new().hash_one(std::time::Instant::now())
    )
}

/// Runs every case against the receiver at `address` + `path`; returns one line
/// per failed case (empty when all pass).
pub async fn run(address: SocketAddr, path: &str) -> Vec<String> {
    let url = format!("http://{address}{path}");
    let client = crate::http_client();
    let mut failures = Vec::new();
    let mut expect = |case: &str, outcome: Result<(), String>| {
        if let Err(why) = outcome {
            failures.push(format!("{case}: {why}"));
        }
    };

    for example in github_examples() {
        let delivery = TestDelivery::json(&example.event, example.body.clone());
        expect(
            &format!("github example {} #{}", example.event, example.index),
            delivery.expect_accepted(&client, &url).await,
        );
    }
    let emoji = r#"{"action":"edited","comment":{"id":1,"body":"Ça marche 🎉 — naïve café ✓"},"issue":{"id":2,"number":3}}"#
        .as_bytes();
    expect(
        "emoji and accented text",
        TestDelivery::json("issue_comment", emoji.to_vec())
            .expect_accepted(&client, &url)
            .await,
    );
    expect(
        "form content type",
        TestDelivery::form(
            "issues",
            br#"{"action":"opened","issue":{"id":1,"number":2},"x":"a&b=c+d %"}"#,
        )
        .expect_accepted(&client, &url)
        .await,
    );

    let good = || TestDelivery::json("push", br#"{"ref":"refs/heads/main"}"#.to_vec());
    // Refused deliveries, in the order sent, under the status each must get.
    let refused: [(u16, Vec<(&str, TestDelivery)>); 4] = [
        (
            401,
            vec![
                ("wrong secret", good().signed_with("not the secret")),
                ("tampered body", good().tampered()),
                (
                    "no signature",
                    good()
                        .without("x-hub-signature-256")
                        .without("x-hub-signature"),
                ),
                (
                    "SHA-1 signature only",
                    good().without("x-hub-signature-256"),
                ),
                (
                    "malformed signature: wrong prefix",
                    good().with_header("x-hub-signature-256", "sha512=00"),
                ),
                (
                    "malformed signature: not hex",
                    good().with_header(
                        "x-hub-signature-256",
                        &format!("sha256={}", "zz".repeat(32)),
                    ),
                ),
                (
                    "malformed signature: short",
                    good().with_header("x-hub-signature-256", "sha256=abcd"),
                ),
            ],
        ),
        (
            400,
            vec![
                ("missing X-GitHub-Event", good().without("x-github-event")),
                (
                    "missing X-GitHub-Delivery",
                    good().without("x-github-delivery"),
                ),
                (
                    "invalid X-GitHub-Hook-ID",
                    good().with_header("x-github-hook-id", "12ab"),
                ),
            ],
        ),
        (
            415,
            vec![(
                "text/plain",
                good().with_header("content-type", "text/plain"),
            )],
        ),
        (
            400,
            vec![
                (
                    "signed invalid JSON",
                    TestDelivery::json("push", b"{\"ref\":".to_vec()),
                ),
                ("signed empty body", TestDelivery::json("push", Vec::new())),
                (
                    "signed JSON that is not an object",
                    TestDelivery::json("push", b"[1,2]".to_vec()),
                ),
                (
                    "form without payload field",
                    TestDelivery::form_raw("push", b"other=1".to_vec()),
                ),
            ],
        ),
    ];
    for (status, cases) in refused {
        for (case, delivery) in cases {
            expect(case, delivery.expect_status(&client, &url, status).await);
        }
    }
    for (case, outcome) in form_bodies::run(&client, &url).await {
        expect(case, outcome);
    }

    let announced = u64::try_from(LIMIT).unwrap_or(u64::MAX) + 1;
    expect(
        "Content-Length over the limit is refused before the body is read",
        raw::oversize_announced(address, path, announced).await,
    );
    expect(
        "chunked body over the limit",
        raw::oversize_chunked(address, path, LIMIT + 1).await,
    );
    failures
}

/// Asserts that a run of the battery (or of one of its parts) found no failure.
///
/// # Panics
/// When `failures` is not empty, with their count and list.
#[track_caller]
pub fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A reqwest client builder: reqwest 0.13 is built without a default crypto
/// provider (the workspace keeps rustls on ring, see the root Cargo.toml).
pub fn http_client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// A reqwest client with rustls on ring.
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().expect("an HTTP client")
}
