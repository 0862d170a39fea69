//! Form-encoded bodies whose `payload` field is ambiguous or not text: refused
//! with 400, as a bad payload.

use crate::TestDelivery;

/// The form cases: each correctly signed, each refused with 400.
pub(crate) async fn run(
    client: &reqwest::Client,
    url: &str,
) -> Vec<(&'static str, Result<(), String>)> {
    let cases: [(&str, &[u8]); 4] = [
        (
            "form with two payload fields",
            b"payload=%7B%22action%22%3A%22opened%22%7D&payload=%7B%22action%22%3A%22closed%22%7D",
        ),
        (
            "form with two payload fields, one spelt with an escape",
            b"payload=%7B%7D&pay%6Coad=%7B%22action%22%3A%22closed%22%7D",
        ),
        (
            "form payload with %FF",
            b"payload=%7B%22action%22%3A%22opened%22%2C%22x%22%3A%22%FF%22%7D",
        ),
        (
            "form payload with a raw byte that is not UTF-8",
            b"payload=%7B%22action%22%3A%22opened%22%2C%22x%22%3A%22\xC3%22%7D",
        ),
    ];
    let mut outcomes = Vec::new();
    for (case, body) in cases {
        let delivery = TestDelivery::form_raw("issues", body.to_vec());
        outcomes.push((case, expect_bad_payload(&delivery, client, url).await));
    }
    outcomes
}

/// 400, with an answer that names the payload when it says anything.
async fn expect_bad_payload(
    delivery: &TestDelivery,
    client: &reqwest::Client,
    url: &str,
) -> Result<(), String> {
    let (status, text) = delivery.send(client, url).await?;
    if status != 400 {
        return Err(format!("expected 400, got {status}: {}", text.trim()));
    }
    if !text.is_empty() && !text.contains("payload") {
        return Err(format!(
            "the answer does not say the payload is bad: {}",
            text.trim()
        ));
    }
    Ok(())
}
