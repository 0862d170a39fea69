//! Runs the example binary on a free port of 127.0.0.1: it must pass the receiver
//! battery and print exactly the lines `octohook serve --out` writes.

use std::time::Duration;

use octohook_test_battery::{ReceiverProcess, TestDelivery};

const BIN: &str = env!("CARGO_BIN_EXE_example-actix-receiver");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_battery_and_prints_one_line_per_accepted_delivery() {
    let receiver = ReceiverProcess::start(BIN);
    let failures = octohook_test_battery::run(receiver.address(), "/").await;
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every GitHub example, the emoji payload and the form payload; no rejection.
    let lines = receiver.lines_until_quiet(Duration::from_millis(500));
    assert_eq!(
        lines.len(),
        octohook_test_battery::github_examples().len() + 2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prints_exactly_what_octohook_serve_writes() {
    let receiver = ReceiverProcess::start(BIN);
    let client = reqwest::Client::new();
    let url = format!("http://{}/", receiver.address());
    let mut deliveries: Vec<TestDelivery> = octohook_test_battery::github_examples()
        .into_iter()
        .map(|example| TestDelivery::json(&example.event, example.body))
        .collect();
    deliveries.extend([
        // Multi-line JSON, re-encoded on one line.
        TestDelivery::json(
            "issues",
            b"{\n  \"action\": \"opened\",\n  \"n\": [1, 2]\n}".to_vec(),
        ),
        TestDelivery::form("issues", br#"{"action":"closed","x":"a&b=c+d %"}"#),
        // No hook id and no target: both null.
        TestDelivery::json(
            "ping",
            br#"{"zen":"Avoid administrative distraction."}"#.to_vec(),
        )
        .without("x-github-hook-id")
        .without("x-github-hook-installation-target-type")
        .without("x-github-hook-installation-target-id"),
    ]);
    for delivery in &deliveries {
        let (status, text) = delivery.send(&client, &url).await.unwrap();
        assert_eq!(status, 200, "{text}");
        let line = receiver.next_line().unwrap();
        delivery.expect_record(&line).unwrap();
    }
    // A rejected delivery prints nothing: the next line is the next accepted one.
    let forged = TestDelivery::json("push", b"{}".to_vec()).signed_with("a guess");
    assert_eq!(forged.send(&client, &url).await.unwrap().0, 401);
    let good = TestDelivery::json("push", br#"{"ref":"refs/heads/main"}"#.to_vec());
    assert_eq!(good.send(&client, &url).await.unwrap().0, 200);
    good.expect_record(&receiver.next_line().unwrap()).unwrap();
}
