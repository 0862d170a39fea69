//! One JSON line per accepted delivery: the output format of `octohook serve`.

use std::io::{self, IoSlice, Write};
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
        let mut head = serde_json::to_vec(&head)?;
        // Replace the head's closing brace with the payload field.
        head.pop();
        head.extend_from_slice(b",\"payload\":");
        let payload = delivery.payload();
        if payload.contains(&b'\n') || payload.contains(&b'\r') {
            let value: serde_json::Value = serde_json::from_slice(payload)?;
            serde_json::to_writer(&mut head, &value)?;
            head.extend_from_slice(b"}\n");
            out.write_all(&head)
        } else {
            // The payload is written from the body itself, never copied into the
            // line: a 25 MiB delivery costs no second 25 MiB buffer.
            write_all_vectored(
                &mut out,
                &mut [
                    IoSlice::new(&head),
                    IoSlice::new(payload.trim_ascii()),
                    IoSlice::new(b"}\n"),
                ],
            )
        }
    }
}

/// Writes every slice, in as few calls as the writer allows (`Write::write_all_vectored`
/// is not stable yet).
fn write_all_vectored(out: &mut impl Write, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match out.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut slices, written),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes at most three bytes a call, and is interrupted every other call.
    struct Stingy {
        written: Vec<u8>,
        calls: usize,
    }

    impl Write for Stingy {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(2) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let taken = buf.len().min(3);
            self.written.extend_from_slice(&buf[..taken]);
            Ok(taken)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_slice_is_written_whole_and_in_order_by_a_writer_that_takes_little() {
        let mut out = Stingy {
            written: Vec::new(),
            calls: 0,
        };
        let mut slices = [
            IoSlice::new(b"{\"head\":1,"),
            IoSlice::new(b""),
            IoSlice::new(b"\"payload\":{}"),
            IoSlice::new(b"}\n"),
        ];
        write_all_vectored(&mut out, &mut slices).unwrap();
        assert_eq!(out.written, b"{\"head\":1,\"payload\":{}}\n");
    }
}
