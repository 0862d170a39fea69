//! [`PayloadCheck`]: whether verification parses the payload, or leaves it to the
//! code that reads it.

use crate::DEFAULT_MAX_JSON_DEPTH;

/// When a verified delivery's JSON payload is checked (see
/// [`Verifier::with_payload_check`](crate::Verifier::with_payload_check)).
///
/// Either way nothing reads the payload before its signature matched, and a
/// payload that is not a JSON object is answered 400 by the code that finds out.
///
/// ```
/// use octohook::{PayloadCheck, Verifier, WebhookSecret};
///
/// let verifier = Verifier::new(WebhookSecret::new("s3cret").unwrap());
/// assert_eq!(verifier.payload_check(), PayloadCheck::WhenRead);
/// let strict = verifier.with_payload_check(PayloadCheck::on_verify());
/// assert_eq!(strict.payload_check(), PayloadCheck::OnVerify { max_depth: 127 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PayloadCheck {
    /// The default: verification checks the signature and the headers only, and
    /// the payload is parsed once, where it is read (an extractor, the
    /// dispatcher, [`VerifiedDelivery::check_payload`](crate::VerifiedDelivery::check_payload)).
    /// A handler that deserialises the payload pays for one parse, not two.
    #[default]
    WhenRead,
    /// Verification also checks, in two passes over the payload, that it nests
    /// arrays and objects no deeper than `max_depth` levels
    /// ([`Error::PayloadTooDeep`](crate::Error::PayloadTooDeep) otherwise) and
    /// that it is a JSON object
    /// ([`Error::InvalidPayload`](crate::Error::InvalidPayload)), both 400,
    /// before any handler runs.
    ///
    /// The nesting count needs no recursion, so a body millions of levels deep
    /// costs one linear scan. The JSON check that follows is `serde_json`'s, which
    /// stops at [`DEFAULT_MAX_JSON_DEPTH`]: a higher limit refuses the same
    /// payloads, as [`Error::InvalidPayload`](crate::Error::InvalidPayload).
    OnVerify {
        /// The deepest nesting accepted: `{}` is one level, `{"a":[]}` two.
        max_depth: usize,
    },
}

impl PayloadCheck {
    /// [`OnVerify`](Self::OnVerify) with the default nesting limit,
    /// [`DEFAULT_MAX_JSON_DEPTH`] (127 levels, the deepest `serde_json` parses).
    pub const fn on_verify() -> Self {
        Self::OnVerify {
            max_depth: DEFAULT_MAX_JSON_DEPTH,
        }
    }

    /// The nesting limit checked at verification, if the payload is checked then.
    pub const fn max_depth(self) -> Option<usize> {
        match self {
            Self::WhenRead => None,
            Self::OnVerify { max_depth } => Some(max_depth),
        }
    }
}
