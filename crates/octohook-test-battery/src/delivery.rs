//! A delivery as GitHub would send it, with ways to spoil it.

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
        let headers = vec![
            ("x-github-event".into(), event.into()),
            ("x-github-delivery".into(), guid.clone()),
            ("x-github-hook-id".into(), "42".into()),
            (
                "x-github-hook-installation-target-type".into(),
                "repository".into(),
            ),
            ("x-github-hook-installation-target-id".into(), "7".into()),
            ("user-agent".into(), "GitHub-Hookshot/test".into()),
            ("content-type".into(), content_type.into()),
            ("x-hub-signature-256".into(), sign(&secret, &body)),
            ("x-hub-signature".into(), sign_legacy_sha1(&secret, &body)),
        ];
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
        self.with_header("x-hub-signature-256", &sha256)
            .with_header("x-hub-signature", &sha1)
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

    /// Posts the delivery; returns the status and the response body.
    pub async fn send(&self, client: &reqwest::Client, url: &str) -> Result<(u16, String), String> {
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
