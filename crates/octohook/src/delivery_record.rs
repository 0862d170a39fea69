//! One JSON line per accepted delivery: the output format of `octohook serve`.

use std::borrow::Cow;
use std::io::{self, IoSlice, Write};
use std::sync::LazyLock;
use std::time::SystemTime;

use base64::prelude::BASE64_STANDARD;
use base64::write::EncoderWriter;
use memchr::memmem;
use serde::Serialize;

use crate::header::{X_GITHUB_HOOK_INSTALLATION_TARGET_ID, X_GITHUB_HOOK_INSTALLATION_TARGET_TYPE};
use crate::{
    AuthenticDelivery, Authenticity, DeliveryGuid, EventKind, HookId, InstallationTarget,
    PulledDelivery, RawHeaders, TargetType, VerifiedDelivery,
};

/// An authentic delivery as one JSON line, the format `octohook serve --out`
/// and `octohook pull --out` write:
///
/// ```text
/// {"received_at":"2026-11-22T00:06:39.123Z","delivery":"72d3…","hook_id":42,
///  "event":"issues","action":"opened","target":{"type":"repository","id":1},
///  "origin":"pushed","payload":{…}}
/// ```
///
/// `hook_id`, `action` and `target` are `null` when the delivery has none.
/// `origin` says how the delivery came in (see [`Authenticity::origin`]):
/// `pushed` (GitHub sent it and its signature was verified) or `pulled` (read
/// back from GitHub's API by `octohook pull`; its payload is re-serialised, see
/// [`PulledDelivery`]).
///
/// A record is made of a [`VerifiedDelivery`] ([`new`](Self::new)), as a
/// receiver writes it before answering, or of the parts a store kept of one
/// ([`from_parts`](Self::from_parts)), as a worker writes it later: the same
/// line either way.
///
/// The payload is written byte for byte as received, never re-encoded: key order,
/// escapes such as `\/`, number spellings such as `1.10` or integers beyond 64
/// bits, and duplicate keys all stay as GitHub sent them. (A number is accepted
/// as long as `serde_json` can read it: within the range of an `f64`, about
/// 1.8 × 10³⁰⁸, so every integer of up to 308 digits; a larger one, such as
/// 10³⁰⁹, 310 digits, or `1e400`, fails the [check](VerifiedDelivery::check_payload).)
/// - As `"payload": {…}`, the JSON text itself, when it is on one line (every
///   payload GitHub sends). Writing the record then costs little more than
///   copying the body.
/// - Otherwise as `"payload_base64": "…"`, the exact bytes in standard base64: a
///   payload spread over several lines (pretty-printed JSON, or a file ending in
///   a newline) cannot stand in one JSON line as it is. Nor can one holding a
///   raw U+2028, U+2029 or U+0085 inside a string: the line would still be valid
///   JSON Lines, but tools that split text on every Unicode line break (Python's
///   `str.splitlines`, some editors) would cut it. `jq` reads both with
///   `.payload // (.payload_base64 | @base64d | fromjson)`.
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
///         r#""event":"issues","action":"opened","target":null,"origin":"pushed","#,
///         r#""payload":{"action":"opened"}}"#,
///         "\n",
///     ),
/// );
/// ```
#[derive(Debug)]
pub struct DeliveryRecord<'a> {
    /// The delivery whose payload is checked, and its action read, when the
    /// line is written; `None` for a record made of stored parts.
    verified: Option<&'a VerifiedDelivery>,
    guid: &'a DeliveryGuid,
    hook_id: Option<HookId>,
    event: &'a EventKind,
    /// The stored action (a verified delivery's is read after the check).
    action: Option<&'a str>,
    target: Option<Cow<'a, InstallationTarget>>,
    authenticity: Authenticity,
    payload: Cow<'a, [u8]>,
    received_at: SystemTime,
}

/// What a store kept of a delivery, to make its [`DeliveryRecord`] without
/// a [`VerifiedDelivery`] (see [`DeliveryRecord::from_parts`]).
#[derive(Clone, Debug)]
pub struct RecordParts<'a> {
    /// The event (`X-GitHub-Event`).
    pub event: &'a EventKind,
    /// The delivery's GUID (`X-GitHub-Delivery`).
    pub guid: &'a DeliveryGuid,
    /// The hook's id (`X-GitHub-Hook-ID`), when sent.
    pub hook_id: Option<HookId>,
    /// The payload's `action`, as read when the delivery was received.
    pub action: Option<&'a str>,
    /// The JSON payload (a form body's `payload` field already decoded), as
    /// [checked](VerifiedDelivery::check_payload) when it was received.
    pub payload: Cow<'a, [u8]>,
    /// The headers the delivery was received with: the installation target is
    /// read from them.
    pub headers: &'a RawHeaders,
    /// How the delivery was authenticated when it was received: the line's
    /// `origin`.
    pub authenticity: Authenticity,
}

#[derive(Serialize)]
struct Head<'a> {
    received_at: String,
    delivery: &'a str,
    hook_id: Option<u64>,
    event: &'a str,
    action: Option<&'a str>,
    target: Option<&'a InstallationTarget>,
    origin: &'static str,
}

impl<'a> DeliveryRecord<'a> {
    /// The record of `delivery`, received at `received_at`.
    pub fn new(delivery: &'a VerifiedDelivery, received_at: SystemTime) -> Self {
        Self {
            verified: Some(delivery),
            guid: delivery.guid(),
            hook_id: delivery.hook_id(),
            event: delivery.event_kind(),
            action: None,
            target: delivery.target().map(Cow::Borrowed),
            authenticity: Authenticity::Signature,
            payload: Cow::Borrowed(delivery.payload()),
            received_at,
        }
    }

    /// The record of a delivery pulled from GitHub's API, received (pulled)
    /// at `received_at`: its `origin` is `pulled`, its payload the
    /// re-serialised one.
    pub fn pulled(delivery: &'a PulledDelivery, received_at: SystemTime) -> Self {
        Self {
            verified: None,
            guid: delivery.guid(),
            hook_id: delivery.hook_id(),
            event: delivery.event_kind(),
            action: delivery.action(),
            target: delivery.target().map(Cow::Borrowed),
            authenticity: Authenticity::GitHubApi,
            payload: Cow::Borrowed(delivery.payload()),
            received_at,
        }
    }

    /// The record of either kind of delivery ([`new`](Self::new) or
    /// [`pulled`](Self::pulled)).
    pub fn of(delivery: &'a AuthenticDelivery, received_at: SystemTime) -> Self {
        match delivery {
            AuthenticDelivery::Signed(delivery) => Self::new(delivery, received_at),
            AuthenticDelivery::Pulled(delivery) => Self::pulled(delivery, received_at),
        }
    }

    /// The record of a delivery received at `received_at` and kept by a store,
    /// made of the parts it kept: a worker writes it without verifying the
    /// delivery again.
    ///
    /// The payload is written as it is: it must be one a receiver
    /// [checked](VerifiedDelivery::check_payload) before storing it (what
    /// `octohook_inbox::Inbox::receive` stores), or the line may not be JSON.
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use octohook::{Authenticity, DeliveryRecord, EventKind, RawHeaders, RecordParts};
    ///
    /// let headers = RawHeaders::from_pairs([
    ///     ("x-github-hook-installation-target-type", "repository"),
    ///     ("x-github-hook-installation-target-id", "7"),
    /// ]);
    /// let parts = RecordParts {
    ///     event: &EventKind::Issues,
    ///     guid: &"a1".parse().unwrap(),
    ///     hook_id: None,
    ///     action: Some("opened"),
    ///     payload: Cow::Borrowed(br#"{"action":"opened"}"#),
    ///     headers: &headers,
    ///     authenticity: Authenticity::GitHubApi,
    /// };
    /// let mut line = Vec::new();
    /// DeliveryRecord::from_parts(parts, std::time::UNIX_EPOCH).write_line(&mut line).unwrap();
    /// assert!(String::from_utf8(line).unwrap().contains(
    ///     r#""action":"opened","target":{"type":"repository","id":7},"origin":"pulled","payload":{"#
    /// ));
    /// ```
    pub fn from_parts(parts: RecordParts<'a>, received_at: SystemTime) -> Self {
        Self {
            verified: None,
            guid: parts.guid,
            hook_id: parts.hook_id,
            event: parts.event,
            action: parts.action,
            target: target_of(parts.headers).map(Cow::Owned),
            authenticity: parts.authenticity,
            payload: parts.payload,
            received_at,
        }
    }

    /// Writes the record and a newline.
    ///
    /// A verified delivery's payload is first
    /// [checked](VerifiedDelivery::check_payload) (once per delivery): one that
    /// is not a JSON object fails with [`io::ErrorKind::InvalidData`], its
    /// [`crate::Error`] inside, and nothing is written. A receiver answers that
    /// with 400.
    pub fn write_line(&self, mut out: impl Write) -> io::Result<()> {
        let action = match self.verified {
            Some(delivery) => {
                delivery
                    .check_payload()
                    .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
                delivery.action()
            }
            None => self.action,
        };
        let head = Head {
            received_at: humantime::format_rfc3339_millis(self.received_at).to_string(),
            delivery: self.guid.as_str(),
            hook_id: self.hook_id.map(HookId::get),
            event: self.event.as_str(),
            action,
            target: self.target.as_deref(),
            origin: self.authenticity.origin(),
        };
        let mut head = serde_json::to_vec(&head)?;
        // Replace the head's closing brace with the payload field.
        head.pop();
        let payload: &[u8] = &self.payload;
        if embeddable(payload) {
            head.extend_from_slice(b",\"payload\":");
            // The payload is written from the body itself, never copied into the
            // line: a 25 MiB delivery costs no second 25 MiB buffer.
            write_all_vectored(
                &mut out,
                &mut [
                    IoSlice::new(&head),
                    IoSlice::new(payload),
                    IoSlice::new(b"}\n"),
                ],
            )
        } else {
            head.extend_from_slice(b",\"payload_base64\":\"");
            out.write_all(&head)?;
            // Encoded as it is written: no second copy of the body either.
            let mut encoder = EncoderWriter::new(&mut out, &BASE64_STANDARD);
            encoder.write_all(payload)?;
            encoder.finish()?.write_all(b"\"}\n")
        }
    }
}

/// The installation target among stored headers, as verification read it
/// (both headers, the id decimal), or none.
fn target_of(headers: &RawHeaders) -> Option<InstallationTarget> {
    let kind = headers.get(X_GITHUB_HOOK_INSTALLATION_TARGET_TYPE.as_str())?;
    let id = headers.get(X_GITHUB_HOOK_INSTALLATION_TARGET_ID.as_str())?;
    Some(InstallationTarget {
        kind: TargetType::from_name(kind),
        id: crate::ids::parse_decimal(id.as_bytes())?,
    })
}

/// Whether a payload can stand in a line as it is: without CR or LF (which, in a
/// JSON text, can only be whitespace between tokens, and would split the line),
/// nor the other line breaks of Unicode, U+2028, U+2029 and U+0085 (which can
/// only be inside a string).
///
/// Called on a [checked](VerifiedDelivery::check_payload) payload, which is valid
/// UTF-8 already (`serde_json` accepts no other bytes), so the line is too.
fn embeddable(payload: &[u8]) -> bool {
    if memchr::memchr2(b'\n', b'\r', payload).is_some() {
        return false;
    }
    // Most payloads hold neither lead byte, and take one more pass; from the
    // first one on, each line break is searched for whole.
    memchr::memchr2(0xE2, 0xC2, payload).is_none_or(|first| {
        let rest = &payload[first..];
        UNICODE_LINE_BREAKS
            .iter()
            .all(|line_break| line_break.find(rest).is_none())
    })
}

/// U+2028, U+2029 and U+0085 in UTF-8, each searched for whole: a search for
/// their lead bytes alone would stop at every `—`, `“` or `…` (`E2 80 xx`).
static UNICODE_LINE_BREAKS: LazyLock<[memmem::Finder<'static>; 3]> =
    LazyLock::new(|| ["\u{2028}", "\u{2029}", "\u{85}"].map(memmem::Finder::new));

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
    use base64::Engine;

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

    fn delivery(body: &'static [u8]) -> VerifiedDelivery {
        let secret = crate::WebhookSecret::new("s3cret").unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("x-github-event", "issues".parse().unwrap());
        headers.insert("x-github-delivery", "a1".parse().unwrap());
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert(
            "x-hub-signature-256",
            crate::sign(&secret, body).parse().unwrap(),
        );
        crate::Verifier::new(secret)
            .verify(&headers, bytes::Bytes::from_static(body))
            .unwrap()
    }

    fn line(body: &'static [u8]) -> serde_json::Map<String, serde_json::Value> {
        let mut line = Vec::new();
        DeliveryRecord::new(&delivery(body), std::time::UNIX_EPOCH)
            .write_line(&mut line)
            .unwrap();
        assert_eq!(line.iter().filter(|&&byte| byte == b'\n').count(), 1);
        assert!(line.ends_with(b"}\n"));
        serde_json::from_slice(&line).unwrap()
    }

    #[test]
    fn a_one_line_payload_is_embedded_byte_for_byte() {
        let body: &[u8] =
            br#" {"z":1,"a":"https:\/\/x","n":1.10,"big":123456789012345678901234567890,"a":2} "#;
        let mut out = Vec::new();
        DeliveryRecord::new(&delivery(body), std::time::UNIX_EPOCH)
            .write_line(&mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let embedded = text
            .strip_suffix("}\n")
            .unwrap()
            .split_once(r#""payload":"#)
            .unwrap()
            .1;
        assert_eq!(embedded.as_bytes(), body);
    }

    #[test]
    fn a_payload_over_several_lines_is_kept_exactly_in_base64() {
        for body in [
            &b"{\r\n  \"action\": \"opened\",\r\n  \"n\": 1.10\r\n}"[..],
            b"{\"action\":\"opened\",\"b\":\"\\/\"}\n",
        ] {
            let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
            let fields = line(body);
            assert!(!fields.contains_key("payload"));
            let encoded = fields["payload_base64"].as_str().unwrap();
            assert_eq!(BASE64_STANDARD.decode(encoded).unwrap(), body);
            assert_eq!(fields["action"], "opened");
        }
    }

    /// Splits as Python's `str.splitlines` does, on every line boundary of Unicode.
    fn split_lines_like_python(text: &str) -> Vec<&str> {
        text.split_terminator([
            '\n', '\r', '\u{0b}', '\u{0c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}',
            '\u{2029}',
        ])
        .collect()
    }

    #[test]
    fn a_payload_with_a_unicode_line_break_is_kept_exactly_in_base64() {
        for body in [
            "{\"action\":\"opened\",\"body\":\"a\u{2028}b\"}",
            "{\"action\":\"opened\",\"body\":\"a\u{2029}\"}",
            "{\"action\":\"opened\",\"\u{85}\":\"next line\"}",
            "{\"action\":\"opened\",\"body\":\"— … \u{a0}\u{2028}\"}",
        ] {
            let body: &'static [u8] = Box::leak(body.as_bytes().to_vec().into_boxed_slice());
            let mut out = Vec::new();
            DeliveryRecord::new(&delivery(body), std::time::UNIX_EPOCH)
                .write_line(&mut out)
                .unwrap();
            let text = String::from_utf8(out).unwrap();
            assert_eq!(split_lines_like_python(&text).len(), 1, "{text}");
            let fields = line(body);
            assert!(!fields.contains_key("payload"), "{text}");
            let encoded = fields["payload_base64"].as_str().unwrap();
            assert_eq!(BASE64_STANDARD.decode(encoded).unwrap(), body);
            assert_eq!(fields["action"], "opened");
        }
    }

    #[test]
    fn other_characters_with_the_same_lead_bytes_stay_inline() {
        // U+2027, U+202A, U+2014, U+00A0, U+0084, U+0086, and escaped breaks.
        let body = "{\"a\":\"\u{2027}\u{202a}\u{2014}\u{a0}\u{84}\u{86}\\u2028\\u0085\",\"b\":\"\u{e2}\u{c2}\"}";
        let body: &'static [u8] = Box::leak(body.as_bytes().to_vec().into_boxed_slice());
        let fields = line(body);
        assert!(!fields.contains_key("payload_base64"));
        assert_eq!(
            fields["payload"],
            serde_json::from_slice::<serde_json::Value>(body).unwrap()
        );
        // A lead byte at the very end is looked at without reading past it.
        assert!(embeddable(b"\xe2\x80"));
        assert!(embeddable(b"\xc2"));
    }

    #[test]
    fn integers_up_to_the_range_of_f64_are_kept_and_larger_ones_refused() {
        let digits_309 = format!("1{}", "0".repeat(308));
        let nines_308 = "9".repeat(308);
        for number in [&digits_309, &nines_308] {
            let body = format!(r#"{{"action":"opened","n":{number},"m":-{number}}}"#);
            let body: &'static [u8] = Box::leak(body.into_bytes().into_boxed_slice());
            let mut out = Vec::new();
            DeliveryRecord::new(&delivery(body), std::time::UNIX_EPOCH)
                .write_line(&mut out)
                .unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains(&format!(r#""n":{number},"m":-{number}}}}}"#)));
        }
        let digits_310 = format!("1{}", "0".repeat(309));
        let nines_309 = "9".repeat(309);
        for number in [digits_310.as_str(), &nines_309, "1e400"] {
            let body = format!(r#"{{"action":"opened","n":{number}}}"#);
            let body: &'static [u8] = Box::leak(body.into_bytes().into_boxed_slice());
            let mut out = Vec::new();
            let error = DeliveryRecord::new(&delivery(body), std::time::UNIX_EPOCH)
                .write_line(&mut out)
                .unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData);
            assert!(error.to_string().contains("number out of range"), "{error}");
            assert!(out.is_empty());
        }
    }
}
