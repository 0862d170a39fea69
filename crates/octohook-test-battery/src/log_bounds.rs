//! What a receiver logs of requests a stranger sends: bounded and escaped,
//! whatever the headers hold.

use std::net::SocketAddr;
use std::time::Duration;

use crate::TestDelivery;

/// The length of the hostile `X-GitHub-Delivery` values: far past what a
/// log line may hold, and within every receiver's limit on a request head
/// (actix-web's is the smallest).
pub const HOSTILE_GUID_LEN: usize = 24 * 1024;

/// The longest log line a rejected request may cause, in bytes (the
/// timestamp, level and target included).
pub const MAX_LOG_LINE: usize = 1024;

/// An `X-GitHub-Event` value that would add a field of its own to a text log
/// line if written raw (a tab or a space, then `key=value`).
const INJECTED_FIELD: &str = "injected=yes";

/// Sends the receiver at `address` + `path` unsigned requests with hostile
/// headers (a [`HOSTILE_GUID_LEN`]-byte `X-GitHub-Delivery`; an
/// `X-GitHub-Event` holding a tab or a space before a `key=value`), and checks
/// what it logged meanwhile, read with `log` (everything logged so far; only
/// what comes after its first call is checked): no line longer than
/// [`MAX_LOG_LINE`], none with the raw value or the injected field, and the
/// rejections logged or counted by a suppression summary.
///
/// Returns one line per failed check (empty when all pass).
pub async fn check_log_bounds(
    address: SocketAddr,
    path: &str,
    log: &(dyn Fn() -> String + Sync),
) -> Vec<String> {
    let url = format!("http://{address}{path}");
    let client = crate::http_client();
    let mut failures = Vec::new();
    let before = log().len();
    let long_guid = "g".repeat(HOSTILE_GUID_LEN);
    let unsigned = || {
        TestDelivery::json("push", br#"{"ref":"refs/heads/main"}"#.to_vec())
            .without("x-hub-signature-256")
            .without("x-hub-signature")
    };
    let hostile = [
        (
            "a long X-GitHub-Delivery",
            "x-github-delivery",
            long_guid.clone(),
        ),
        (
            "a tab in X-GitHub-Event",
            "x-github-event",
            format!("push\t{INJECTED_FIELD}"),
        ),
        (
            "a space in X-GitHub-Event",
            "x-github-event",
            format!("push {INJECTED_FIELD}"),
        ),
    ];
    // Unsigned, they are refused for the missing signature (401) before their
    // headers are read; with a signature (a forged one, as a stranger would
    // send), for the headers (400). Both are logged.
    let signed = || TestDelivery::json("push", b"{}".to_vec()).signed_with("not the secret");
    let senders = [
        ("unsigned", unsigned as fn() -> TestDelivery, 401),
        ("forged signature", signed, 400),
    ];
    for _ in 0..5 {
        for (sent, delivery, status) in senders {
            for (case, name, value) in &hostile {
                let outcome = delivery()
                    .with_header(name, value)
                    .expect_status(&client, &url, status)
                    .await;
                if let Err(why) = outcome {
                    failures.push(format!("log bounds, {case}, {sent}: {why}"));
                }
            }
        }
    }
    // A rejection in a later second: a receiver that suppressed some of the
    // lines above writes its summary now.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    if let Err(why) = unsigned().expect_status(&client, &url, 401).await {
        failures.push(format!("log bounds, an unsigned delivery: {why}"));
    }
    // Give a receiver in another process time to write.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = log();
    let logged = text.get(before..).unwrap_or_default();
    for line in logged.lines() {
        if line.len() > MAX_LOG_LINE {
            failures.push(format!(
                "log bounds: a {}-byte log line: {}...",
                line.len(),
                line.get(..200).unwrap_or(line)
            ));
        }
    }
    if logged.contains(&long_guid[..1024]) {
        failures.push("log bounds: the long X-GitHub-Delivery is in the log".into());
    }
    for raw in [format!("\t{INJECTED_FIELD}"), format!(" {INJECTED_FIELD}")] {
        if logged.contains(&raw) {
            failures.push(format!(
                "log bounds: the log holds the raw X-GitHub-Event {raw:?}"
            ));
        }
    }
    if !logged.contains("rejected webhook delivery") && !logged.contains("suppressed") {
        failures.push(format!(
            "log bounds: no rejection logged nor counted as suppressed in:\n{logged}"
        ));
    }
    failures
}
