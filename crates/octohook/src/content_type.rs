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

/// The `payload` field of a form body; the first one wins if it is repeated.
fn form_payload(body: &[u8]) -> Result<Cow<'_, [u8]>, Error> {
    form_urlencoded::parse(body)
        .find(|(name, _)| name == "payload")
        .map(|(_, value)| match value {
            Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        })
        .ok_or(Error::MissingFormPayload)
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
}
