//! A delivery as GitHub would send it, with ways to spoil it.

use http::header::{CONTENT_TYPE, USER_AGENT};
use octohook::header::{
    X_GITHUB_DELIVERY, X_GITHUB_EVENT, X_GITHUB_HOOK_ID, X_GITHUB_HOOK_INSTALLATION_TARGET_ID,
    X_GITHUB_HOOK_INSTALLATION_TARGET_TYPE, X_HUB_SIGNATURE, X_HUB_SIGNATURE_256,
};
use octohook::{WebhookSecret, sign, sign_legacy_sha1};

use crate::SECRET;

/// A signed delivery, sent as GitHub sends it.
#[derive(Debug, Clone)]
pub struct TestDelivery {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    guid: String,
}

impl TestDelivery {
    /// A JSON delivery of `event` with `body`, signed with [`SECRET`].
    pub fn json(event: &str, body: Vec<u8>) -> Self {
        Self::new(event, "application/json", body)
    }

    /// A form delivery (`payload=<url-encoded JSON>`), signed with [`SECRET`].
    pub fn form(event: &str, json: &[u8]) -> Self {
        let json = std::str::from_utf8(json).expect("test payloads are UTF-8");
        let body = reqwest::Url::parse_with_params("http://x/", [("payload", json)])
            .expect("a valid URL")
            .query()
            .unwrap_or_default()
            .as_bytes()
            .to_vec();
        Self::form_raw(event, body)
    }

    /// A form-encoded delivery with exactly `body`, signed with [`SECRET`].
    pub fn form_raw(event: &str, body: Vec<u8>) -> Self {
        Self::new(event, "application/x-www-form-urlencoded", body)
    }

    fn new(event: &str, content_type: &str, body: Vec<u8>) -> Self {
        let guid = uuid::Uuid::new_v4().to_string();
        let secret = WebhookSecret::new(SECRET).expect("non-empty");
        let headers = [
            (X_GITHUB_EVENT, event.to_owned()),
            (X_GITHUB_DELIVERY, guid.clone()),
            (X_GITHUB_HOOK_ID, "42".into()),
            (X_GITHUB_HOOK_INSTALLATION_TARGET_TYPE, "repository".into()),
            (X_GITHUB_HOOK_INSTALLATION_TARGET_ID, "7".into()),
            (USER_AGENT, "GitHub-Hookshot/test".into()),
            (CONTENT_TYPE, content_type.to_owned()),
            (X_HUB_SIGNATURE_256, sign(&secret, &body)),
            (X_HUB_SIGNATURE, sign_legacy_sha1(&secret, &body)),
        ]
        .into_iter()
        .map(|(name, value)| (name.as_str().to_owned(), value))
        .collect();
        Self {
            headers,
            body,
            guid,
        }
    }

    /// Re-signs the body (both headers) with another secret.
    pub fn signed_with(self, secret: &str) -> Self {
        let secret = WebhookSecret::new(secret).expect("non-empty");
        let sha256 = sign(&secret, &self.body);
        let sha1 = sign_legacy_sha1(&secret, &self.body);
        self.with_header(X_HUB_SIGNATURE_256.as_str(), &sha256)
            .with_header(X_HUB_SIGNATURE.as_str(), &sha1)
    }

    /// Changes one byte of the body after signing.
    pub fn tampered(mut self) -> Self {
        if let Some(byte) = self.body.iter_mut().find(|b| b.is_ascii_lowercase()) {
            *byte = byte.to_ascii_uppercase();
        }
        self
    }

    /// Sets (or replaces) a header.
    pub fn with_header(self, name: &str, value: &str) -> Self {
        let mut this = self.without(name);
        this.headers.push((name.into(), value.into()));
        this
    }

    /// Adds a header, keeping any already there under the same name (to send it
    /// twice).
    pub fn with_added_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Removes a header.
    pub fn without(mut self, name: &str) -> Self {
        self.headers
            .retain(|(header, _)| !header.eq_ignore_ascii_case(name));
        self
    }

    /// The delivery GUID.
    pub fn guid(&self) -> &str {
        &self.guid
    }

    /// The headers, as sent.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body, as sent.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Checks that `line` is exactly the line `octohook serve --out` writes for this
    /// delivery (the [`DeliveryRecord`](octohook::DeliveryRecord) of its verification
    /// with [`SECRET`]), apart from the time it was received, which must be an
    /// RFC 3339 UTC time with milliseconds.
    pub fn expect_record(&self, line: &str) -> Result<(), String> {
        let record: serde_json::Value = serde_json::from_str(line)
            .map_err(|error| format!("not one JSON object ({error}): {line}"))?;
        let received_at = record["received_at"]
            .as_str()
            .ok_or_else(|| format!("no received_at string: {line}"))?;
        let time = humantime::parse_rfc3339(received_at)
            .map_err(|error| format!("received_at {received_at:?} is not RFC 3339 ({error})"))?;
        let mut headers = http::HeaderMap::new();
        for (name, value) in &self.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let value = http::HeaderValue::from_str(value).map_err(|e| e.to_string())?;
            headers.append(name, value);
        }
        let verifier =
            octohook::Verifier::new(octohook::WebhookSecret::new(SECRET).expect("non-empty"));
        let delivery = verifier
            .verify(&headers, bytes::Bytes::copy_from_slice(&self.body))
            .map_err(|error| format!("the delivery itself does not verify: {error}"))?;
        let mut expected = Vec::new();
        octohook::DeliveryRecord::new(&delivery, time)
            .write_line(&mut expected)
            .map_err(|error| error.to_string())?;
        let expected = String::from_utf8(expected).map_err(|error| error.to_string())?;
        // Independently of the writer: the payload is there byte for byte.
        let written = written_payload(line)?;
        if written != delivery.payload().as_ref() {
            return Err(format!(
                "the payload is not written byte for byte: {}",
                String::from_utf8_lossy(&written)
            ));
        }
        if line.trim_end_matches('\n') != expected.trim_end_matches('\n') {
            return Err(format!(
                "record differs from octohook serve's:\n  got      {line}\n  expected {expected}"
            ));
        }
        Ok(())
    }

    /// Posts the delivery; returns the status and the response body.
    ///
    /// The expected signatures of the body are recorded, and a response body that
    /// contains one of them or the secret is an error: see
    /// [`find_leaks`](crate::find_leaks).
    pub async fn send(&self, client: &reqwest::Client, url: &str) -> Result<(u16, String), String> {
        crate::leaks::record_sent(&self.body);
        let mut request = client.post(url).body(self.body.clone());
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|error| format!("request failed: {error}"))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|error| format!("response unreadable: {error}"))?;
        let leaks = crate::find_leaks(&text);
        if !leaks.is_empty() {
            return Err(format!("the {status} response leaks {}", leaks.join(", ")));
        }
        Ok((status, text))
    }

    /// Posts the delivery and expects a 2xx whose body, if any, names its GUID.
    pub async fn expect_accepted(&self, client: &reqwest::Client, url: &str) -> Result<(), String> {
        let (status, text) = self.send(client, url).await?;
        if !(200..300).contains(&status) {
            return Err(format!("expected 2xx, got {status}: {}", text.trim()));
        }
        if !text.is_empty() && !text.contains(&self.guid) {
            return Err(format!(
                "response does not name the delivery {}: {}",
                self.guid,
                text.trim()
            ));
        }
        Ok(())
    }

    /// Posts the delivery and expects `expected`, with a short body that leaks no
    /// secret and no signature.
    pub async fn expect_status(
        &self,
        client: &reqwest::Client,
        url: &str,
        expected: u16,
    ) -> Result<(), String> {
        let (status, text) = self.send(client, url).await?;
        if status != expected {
            return Err(format!(
                "expected {expected}, got {status}: {}",
                text.trim()
            ));
        }
        let secret = WebhookSecret::new(SECRET).expect("non-empty");
        let real_signature = sign(&secret, &self.body);
        let digest = real_signature.trim_start_matches("sha256=");
        if text.contains(SECRET) || text.contains(digest) {
            return Err("the response leaks the secret or the expected signature".into());
        }
        if text.len() > 200 {
            return Err(format!("the rejection body is {} bytes long", text.len()));
        }
        Ok(())
    }
}

/// The payload bytes of a record line: the text after `"payload":` up to the
/// closing brace, or the decoded `payload_base64`.
fn written_payload(line: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let line = line.trim_end_matches('\n');
    if let Some((_, rest)) = line.split_once(",\"payload\":") {
        return rest
            .strip_suffix('}')
            .map(|payload| payload.as_bytes().to_vec())
            .ok_or_else(|| format!("the line does not end with the payload: {line}"));
    }
    let record: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let encoded = record["payload_base64"]
        .as_str()
        .ok_or_else(|| format!("neither payload nor payload_base64: {line}"))?;
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|error| format!("payload_base64 is not base64: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(delivery: &TestDelivery) -> String {
        let mut headers = http::HeaderMap::new();
        for (name, value) in delivery.headers() {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let verifier = octohook::Verifier::new(WebhookSecret::new(SECRET).unwrap());
        let verified = verifier
            .verify(&headers, bytes::Bytes::copy_from_slice(delivery.body()))
            .unwrap();
        let mut line = Vec::new();
        octohook::DeliveryRecord::new(&verified, std::time::SystemTime::now())
            .write_line(&mut line)
            .unwrap();
        String::from_utf8(line).unwrap()
    }

    #[test]
    fn expect_record_accepts_the_record_and_nothing_else() {
        let delivery = TestDelivery::json("issues", br#"{"action":"opened","n":1}"#.to_vec());
        let line = record(&delivery);
        assert_eq!(delivery.expect_record(&line), Ok(()));
        for wrong in [
            line.replace("\"hook_id\":42", "\"hook_id\":43"),
            line.replace("\"n\":1", "\"n\":2"),
            line.replace(
                "\"action\":\"opened\",\"target\"",
                "\"action\":null,\"target\"",
            ),
            line.replace(",\"hook_id\":42", ",\"hook_id\": 42"),
            line.replacen("Z\"", "+00:00\"", 1),
            line.replace(delivery.guid(), "another"),
        ] {
            assert_ne!(wrong, line, "the test changes the line");
            assert!(delivery.expect_record(&wrong).is_err(), "accepted {wrong}");
        }
    }
}
