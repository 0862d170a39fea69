//! One JSON line per accepted delivery: the output format of `octohook serve`.

use std::io::{self, Write};
use std::time::SystemTime;

use serde::Serialize;

use crate::{InstallationTarget, VerifiedDelivery};

/// A verified delivery as one JSON line, the format `octohook serve --out` writes:
///
/// ```text
/// {"received_at":"2026-11-22T00:06:39.123Z","delivery":"72d3…","hook_id":42,
///  "event":"issues","action":"opened","target":{"type":"repository","id":1},
///  "payload":{…}}
/// ```
///
/// `hook_id`, `action` and `target` are `null` when the delivery has none. The
/// payload is embedded as received (re-encoded on one line only when it spans
/// several), so writing a record costs little more than copying the body.
///
/// ```
/// # use bytes::Bytes;
/// # use http::HeaderMap;
/// # use octohook::{sign, Verifier, WebhookSecret};
/// use octohook::DeliveryRecord;
/// # let secret = WebhookSecret::new("s3cret").unwrap();
/// # let body = Bytes::from_static(br#"{"action":"opened"}"#);
/// # let mut headers = HeaderMap::new();
/// # headers.insert("x-github-event", "issues".parse().unwrap());
/// # headers.insert("x-github-delivery", "a1".parse().unwrap());
/// # headers.insert("content-type", "application/json".parse().unwrap());
/// # headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
/// let delivery = Verifier::new(secret).verify(&headers, body).unwrap();
/// let mut line = Vec::new();
/// DeliveryRecord::new(&delivery, std::time::UNIX_EPOCH).write_line(&mut line).unwrap();
/// assert_eq!(
///     String::from_utf8(line).unwrap(),
///     concat!(
///         r#"{"received_at":"1970-01-01T00:00:00.000Z","delivery":"a1","hook_id":null,"#,
///         r#""event":"issues","action":"opened","target":null,"payload":{"action":"opened"}}"#,
///         "\n",
///     ),
/// );
/// ```
#[derive(Debug)]
pub struct DeliveryRecord<'a> {
    delivery: &'a VerifiedDelivery,
    received_at: SystemTime,
}

#[derive(Serialize)]
struct Head<'a> {
    received_at: String,
    delivery: &'a str,
    hook_id: Option<u64>,
    event: &'a str,
    action: Option<&'a str>,
    target: Option<&'a InstallationTarget>,
}

impl<'a> DeliveryRecord<'a> {
    /// The record of `delivery`, received at `received_at`.
    pub fn new(delivery: &'a VerifiedDelivery, received_at: SystemTime) -> Self {
        Self {
            delivery,
            received_at,
        }
    }

    /// Writes the record and a newline.
    pub fn write_line(&self, mut out: impl Write) -> io::Result<()> {
        let delivery = self.delivery;
        let head = Head {
            received_at: humantime::format_rfc3339_millis(self.received_at).to_string(),
            delivery: delivery.guid().as_str(),
            hook_id: delivery.hook_id().map(|id| id.get()),
            event: delivery.event_kind().as_str(),
            action: delivery.action(),
            target: delivery.target(),
        };
        let mut line = serde_json::to_vec(&head)?;
        // Replace the head's closing brace with the payload field.
        line.pop();
        line.extend_from_slice(b",\"payload\":");
        let payload = delivery.payload();
        if payload.contains(&b'\n') || payload.contains(&b'\r') {
            let value: serde_json::Value = serde_json::from_slice(payload)?;
            serde_json::to_writer(&mut line, &value)?;
        } else {
            line.extend_from_slice(payload.trim_ascii());
        }
        line.extend_from_slice(b"}\n");
        out.write_all(&line)
    }
}
