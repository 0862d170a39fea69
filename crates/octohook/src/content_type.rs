//! The two body encodings a hook can be configured with.

use std::borrow::Cow;

use crate::Error;

/// How a delivery's body is encoded (the hook's `content_type` setting).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentType {
    /// `application/json`: the body is the JSON payload.
    Json,
    /// `application/x-www-form-urlencoded`: the JSON payload is in the `payload` field.
    Form,
}

impl ContentType {
    /// Recognises a `Content-Type` header value; parameters such as `charset` are
    /// allowed, the media type is compared case-insensitively.
    ///
    /// ```
    /// use octohook::ContentType;
    ///
    /// assert_eq!(ContentType::from_header(b"application/json; charset=utf-8").unwrap(), ContentType::Json);
    /// assert!(ContentType::from_header(b"text/plain").is_err());
    /// ```
    pub fn from_header(value: &[u8]) -> Result<Self, Error> {
        let media_type = value.split(|b| *b == b';').next().unwrap_or_default();
        let media_type = media_type.trim_ascii();
        if media_type.eq_ignore_ascii_case(b"application/json") {
            Ok(Self::Json)
        } else if media_type.eq_ignore_ascii_case(b"application/x-www-form-urlencoded") {
            Ok(Self::Form)
        } else {
            Err(Error::UnsupportedContentType)
        }
    }

    /// The media type as GitHub sends it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Form => "application/x-www-form-urlencoded",
        }
    }

    /// The JSON payload inside a body of this encoding: the body itself for JSON,
    /// the decoded `payload` field for a form.
    pub fn payload_json(self, body: &[u8]) -> Result<Cow<'_, [u8]>, Error> {
        match self {
            Self::Json => Ok(Cow::Borrowed(body)),
            Self::Form => form_payload(body),
        }
    }
}

/// The `payload` field of a form body, percent-decoded.
///
/// Exactly one `payload` field is accepted: with two, a proxy or a client that
/// reads the last one would see another payload than the one checked here
/// ([`Error::RepeatedFormPayload`]). Its decoded bytes must be UTF-8
/// ([`Error::FormPayloadNotUtf8`]): `form_urlencoded` decodes lossily, and a
/// payload changed by the decoding is not what GitHub sent.
fn form_payload(body: &[u8]) -> Result<Cow<'_, [u8]>, Error> {
    let mut payloads = form_urlencoded::parse(body).filter(|(name, _)| name == "payload");
    let payload = payloads.next().ok_or(Error::MissingFormPayload)?.1;
    if payloads.next().is_some() {
        return Err(Error::RepeatedFormPayload);
    }
    // Lossy decoding leaves U+FFFD where the bytes were not UTF-8 (and borrows
    // only bytes that are). A payload may hold a real U+FFFD too, so only then
    // are its raw bytes decoded again, strictly.
    if matches!(payload, Cow::Owned(_))
        && payload.contains(char::REPLACEMENT_CHARACTER)
        && !raw_payload_is_utf8(body)
    {
        return Err(Error::FormPayloadNotUtf8);
    }
    Ok(match payload {
        Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
        Cow::Owned(text) => Cow::Owned(text.into_bytes()),
    })
}

/// Whether the (one) `payload` field of `body` is UTF-8 once percent-decoded.
///
/// A field is what lies between two `&`, its name what comes before the first
/// `=`, as `form_urlencoded` splits them; the name is decoded by
/// `form_urlencoded` itself. A `+` stands for a space, and both are ASCII, so the
/// value is percent-decoded without replacing it.
fn raw_payload_is_utf8(body: &[u8]) -> bool {
    body.split(|&byte| byte == b'&')
        .filter_map(|field| {
            let (name, _) = form_urlencoded::parse(field).next()?;
            let value = field
                .splitn(2, |&byte| byte == b'=')
                .nth(1)
                .unwrap_or_default();
            (name == "payload").then_some(value)
        })
        .all(|value| {
            percent_encoding::percent_decode(value)
                .decode_utf8()
                .is_ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_ignores_case_and_parameters_only() {
        assert_eq!(
            ContentType::from_header(b"Application/JSON").unwrap(),
            ContentType::Json
        );
        assert_eq!(
            ContentType::from_header(b"application/x-www-form-urlencoded ; charset=utf-8").unwrap(),
            ContentType::Form
        );
        for bad in [
            &b""[..],
            b"application/jsonx",
            b"text/json",
            b"multipart/form-data",
        ] {
            assert!(ContentType::from_header(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn form_payload_is_percent_decoded() {
        let body = b"other=1&payload=%7B%22a%22%3A%22%C3%A9+%F0%9F%8E%89%22%7D";
        let json = ContentType::Form.payload_json(body).unwrap();
        assert_eq!(std::str::from_utf8(&json).unwrap(), "{\"a\":\"é 🎉\"}");
        assert!(matches!(
            ContentType::Form.payload_json(b"x=1"),
            Err(Error::MissingFormPayload)
        ));
    }

    /// Asserts that the form payload of each of `bodies` is refused with an error
    /// that `expected` accepts.
    fn assert_form_refused(bodies: &[&[u8]], expected: fn(&Error) -> bool) {
        for body in bodies {
            let refused = ContentType::Form.payload_json(body);
            assert!(
                refused.as_ref().is_err_and(expected),
                "{refused:?} for {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn form_payload_is_refused_when_repeated() {
        assert_form_refused(
            &[
                b"payload=%7B%7D&payload=%7B%22a%22%3A1%7D",
                b"payload=%7B%7D&x=1&payload=%7B%7D",
                b"payload=%7B%7D&pay%6Coad=%7B%7D",
                b"payload&payload=%7B%7D",
            ],
            |error| matches!(error, Error::RepeatedFormPayload),
        );
        // Another field named alike is not the payload.
        assert!(
            ContentType::Form
                .payload_json(b"payloads=1&payload=%7B%7D&payload_=2")
                .is_ok()
        );
    }

    #[test]
    fn form_payload_is_refused_when_not_utf8_once_decoded() {
        assert_form_refused(
            &[
                b"payload=%7B%22a%22%3A%22%FF%22%7D",
                b"payload=%7B%22a%22%3A%22%C3%22%7D",
                b"payload=%7B%22a%22%3A%22\xff%22%7D",
                b"x=%FF&payload=%7B%22a%22%3A%22%ED%A0%80%22%7D",
                // A real U+FFFD does not excuse an invalid byte next to it.
                b"payload=%7B%22a%22%3A%22%EF%BF%BD%FF%22%7D",
            ],
            |error| matches!(error, Error::FormPayloadNotUtf8),
        );
        // U+FFFD sent as such, escaped or raw, is kept; invalid bytes in another
        // field are not the payload's concern.
        for (body, json) in [
            (
                &b"payload=%7B%22a%22%3A%22%EF%BF%BD%22%7D"[..],
                "{\"a\":\"\u{fffd}\"}",
            ),
            (
                "payload={\"a\":\"\u{fffd}+\"}".as_bytes(),
                "{\"a\":\"\u{fffd} \"}",
            ),
            (b"x=%FF&payload=%7B%7D", "{}"),
        ] {
            let decoded = ContentType::Form.payload_json(body).unwrap();
            assert_eq!(std::str::from_utf8(&decoded).unwrap(), json);
        }
    }
}
