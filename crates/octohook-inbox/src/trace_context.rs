//! [`TraceParent`]: the W3C trace context a delivery carries from the
//! receiver, through the store, to its workers and on to a broker.
//!
//! A delivery's trace is one trace per delivery: the receiver's `receive`
//! span is its root, the inbox's `store` span its child, and each worker's
//! `attempt` span a child of `store`, however long after, on whichever
//! machine. What links them is the `store` span's context, kept with the
//! delivery as a `traceparent` value (a `trace_parent` column of at most 55
//! bytes).
//!
//! The type and its stored column are there in every build; reading the
//! current span's context and parenting a span with it need the `otel`
//! feature (OpenTelemetry through `tracing-opentelemetry`).
//!
//! Brokers carry it as a `traceparent` message header:
//! [`TraceParent::inject`] writes it into any string-keyed header map,
//! [`TraceParent::extract`] reads it back.

use std::fmt;
use std::str::FromStr;

/// The header (and message header) name of a W3C trace context.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// The length of a `traceparent` value: `VV-TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT-SSSSSSSSSSSSSSSS-FF`.
pub const TRACEPARENT_LEN: usize = 55;

/// A validated W3C `traceparent` value: a trace id, the id of the span that
/// is the parent, and the trace flags
/// (`00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`).
///
/// Parsing accepts exactly [`TRACEPARENT_LEN`] ASCII characters: two
/// lowercase hex digits of version (any but `ff`), 32 of trace id, 16 of span
/// id and 2 of flags, separated by dashes. All-zero ids are refused, as the
/// W3C says. A value is written back as version `00`, the one this crate
/// speaks.
///
/// ```
/// use octohook_inbox::TraceParent;
///
/// let parent: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
///     .parse()
///     .unwrap();
/// assert!(parent.is_sampled());
/// assert_eq!(parent.trace_id()[0], 0x4b);
/// assert_eq!(
///     parent.to_string(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
/// );
/// assert!("00-00000000000000000000000000000000-00f067aa0ba902b7-01"
///     .parse::<TraceParent>()
///     .is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    flags: u8,
}

/// Why a `traceparent` value was refused. The value itself is not quoted: it
/// may come from the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadTraceParent {
    /// Not exactly 55 bytes long.
    #[error("a traceparent is {TRACEPARENT_LEN} characters long, not {0}")]
    Length(usize),
    /// The dashes are not where they belong, or a field is not lowercase hex.
    #[error("a traceparent is VERSION-TRACEID-SPANID-FLAGS in lowercase hex")]
    Format,
    /// Version `ff`, which the W3C forbids.
    #[error("traceparent version ff is invalid")]
    Version,
    /// The trace id is all zeros.
    #[error("the trace id of a traceparent is all zeros")]
    ZeroTraceId,
    /// The parent span id is all zeros.
    #[error("the span id of a traceparent is all zeros")]
    ZeroSpanId,
}

impl TraceParent {
    /// A trace context from its parts; `None` when an id is all zeros.
    pub fn new(trace_id: [u8; 16], span_id: [u8; 8], flags: u8) -> Option<Self> {
        (trace_id != [0; 16] && span_id != [0; 8]).then_some(Self {
            trace_id,
            span_id,
            flags,
        })
    }

    /// The trace id.
    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The id of the parent span.
    pub fn span_id(&self) -> [u8; 8] {
        self.span_id
    }

    /// The trace flags (bit 0: sampled).
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the trace was sampled by its root (flag bit 0).
    pub fn is_sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// Writes this value as the `traceparent` header through `set` (a
    /// broker's message headers, say).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use octohook_inbox::TraceParent;
    ///
    /// let parent = TraceParent::new([1; 16], [2; 8], 1).unwrap();
    /// let mut headers = HashMap::new();
    /// parent.inject(|name, value| {
    ///     headers.insert(name.to_owned(), value);
    /// });
    /// let back = TraceParent::extract(|name| headers.get(name).map(String::as_str));
    /// assert_eq!(back, Some(parent));
    /// ```
    pub fn inject(&self, mut set: impl FnMut(&str, String)) {
        set(TRACEPARENT_HEADER, self.to_string());
    }

    /// Reads the `traceparent` header through `get`; `None` when it is
    /// missing or not a valid value (a trace context is never worth refusing a
    /// message for).
    pub fn extract<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Option<Self> {
        get(TRACEPARENT_HEADER)?.parse().ok()
    }
}

impl FromStr for TraceParent {
    type Err = BadTraceParent;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = text.as_bytes();
        if bytes.len() != TRACEPARENT_LEN {
            return Err(BadTraceParent::Length(bytes.len()));
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return Err(BadTraceParent::Format);
        }
        let [version] = hex_field::<1>(&bytes[..2])?;
        if version == 0xff {
            return Err(BadTraceParent::Version);
        }
        let trace_id = hex_field::<16>(&bytes[3..35])?;
        let span_id = hex_field::<8>(&bytes[36..52])?;
        let [flags] = hex_field::<1>(&bytes[53..])?;
        if trace_id == [0; 16] {
            return Err(BadTraceParent::ZeroTraceId);
        }
        if span_id == [0; 8] {
            return Err(BadTraceParent::ZeroSpanId);
        }
        Ok(Self {
            trace_id,
            span_id,
            flags,
        })
    }
}

/// Decodes `2 * N` lowercase hex digits.
fn hex_field<const N: usize>(digits: &[u8]) -> Result<[u8; N], BadTraceParent> {
    let nibble = |digit: u8| match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        _ => Err(BadTraceParent::Format),
    };
    let mut out = [0; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Ok(out)
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("00-")?;
        for byte in self.trace_id {
            write!(f, "{byte:02x}")?;
        }
        f.write_str("-")?;
        for byte in self.span_id {
            write!(f, "{byte:02x}")?;
        }
        write!(f, "-{:02x}", self.flags)
    }
}

impl fmt::Debug for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceParent({self})")
    }
}

/// Runs `insert` on `delivery` in a new `store` span, the delivery carrying
/// that span's context (when an OpenTelemetry layer sees it).
#[cfg(feature = "otel")]
pub(crate) async fn store_in_span<F, Fut>(
    mut delivery: crate::NewDelivery,
    insert: F,
) -> Fut::Output
where
    F: FnOnce(crate::NewDelivery) -> Fut,
    Fut: std::future::Future,
{
    use tracing::Instrument;

    let span = tracing::info_span!("store");
    async move {
        delivery.trace_parent = TraceParent::current();
        insert(delivery).await
    }
    .instrument(span)
    .await
}

/// Records what became of an attempt on its span: an `outcome` attribute
/// (`done`, `retry`, `failed` or `lost`, as the metrics name them) and, when
/// the handler failed, an error status. Not the error's text: a handler's
/// error may quote anything it read.
#[cfg(feature = "otel")]
pub(crate) fn record_outcome(span: &tracing::Span, outcome: &crate::AttemptOutcome) {
    use crate::AttemptOutcome;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    let (label, failed) = match outcome {
        AttemptOutcome::Done => ("done", false),
        AttemptOutcome::Retrying { .. } => ("retry", true),
        AttemptOutcome::Failed { .. } => ("failed", true),
        AttemptOutcome::Lost => ("lost", false),
    };
    span.set_attribute("outcome", label);
    if failed {
        span.set_status(opentelemetry::trace::Status::error("the handler failed"));
    }
}

#[cfg(feature = "otel")]
mod otel {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    use super::TraceParent;

    impl TraceParent {
        /// The OpenTelemetry context of the current `tracing` span, when it
        /// has one: the span is seen by a `tracing-opentelemetry` layer and
        /// its context is valid. `None` outside any span, without such a
        /// layer, or in a span that layer filters out.
        pub fn current() -> Option<Self> {
            Self::of(&tracing::Span::current())
        }

        /// The OpenTelemetry context of `span` (see [`current`](Self::current)).
        pub fn of(span: &tracing::Span) -> Option<Self> {
            let context = span.context();
            let span = context.span();
            let span_context = span.span_context();
            if !span_context.is_valid() {
                return None;
            }
            Self::new(
                span_context.trace_id().to_bytes(),
                span_context.span_id().to_bytes(),
                span_context.trace_flags().to_u8(),
            )
        }

        /// The remote span context this value names, for OpenTelemetry APIs.
        pub fn span_context(&self) -> SpanContext {
            SpanContext::new(
                TraceId::from_bytes(self.trace_id),
                SpanId::from_bytes(self.span_id),
                TraceFlags::new(self.flags),
                true,
                TraceState::default(),
            )
        }

        /// Makes `span` a child of the span this value names, in its trace.
        /// Call it before `span` is first entered: a span already started
        /// keeps its parent (then, and when no OpenTelemetry layer sees
        /// `span`, this does nothing).
        pub fn set_as_parent_of(&self, span: &tracing::Span) {
            let parent =
                opentelemetry::Context::new().with_remote_span_context(self.span_context());
            // An error only says the span is not traced or already started:
            // nothing a delivery should fail for.
            let _ = span.set_parent(parent);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_value_round_trips() {
        let parent: TraceParent = VALID.parse().unwrap();
        assert_eq!(parent.to_string(), VALID);
        assert_eq!(
            parent.trace_id(),
            [
                0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e,
                0x47, 0x36
            ]
        );
        assert_eq!(
            parent.span_id(),
            [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
        );
        assert!(parent.is_sampled());
        let unsampled: TraceParent = VALID.replace("-01", "-00").parse().unwrap();
        assert!(!unsampled.is_sampled());
        assert_eq!(format!("{parent:?}"), format!("TraceParent({VALID})"));
    }

    #[test]
    fn a_later_version_is_read_and_written_as_version_00() {
        let parent: TraceParent = VALID.replacen("00", "01", 1).parse().unwrap();
        assert_eq!(parent.to_string(), VALID);
    }

    #[test]
    fn invalid_values_are_refused_with_the_reason() {
        let cases = [
            ("", BadTraceParent::Length(0)),
            (&VALID[..54], BadTraceParent::Length(54)),
            (&format!("{VALID}-00"), BadTraceParent::Length(58)),
            (&"0".repeat(4096), BadTraceParent::Length(4096)),
            (&VALID.to_uppercase(), BadTraceParent::Format),
            (&VALID.replacen('-', "_", 1), BadTraceParent::Format),
            (&VALID.replace("4bf9", "4bg9"), BadTraceParent::Format),
            (&VALID.replace("-01", "-0x"), BadTraceParent::Format),
            (&VALID.replacen("00", "ff", 1), BadTraceParent::Version),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                BadTraceParent::ZeroTraceId,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                BadTraceParent::ZeroSpanId,
            ),
        ];
        for (text, reason) in cases {
            assert_eq!(text.parse::<TraceParent>(), Err(reason), "{text:?}");
        }
        // 55 bytes, but not 55 ASCII characters: no slicing inside a character.
        let accented = format!("é{}", &VALID[2..]);
        assert_eq!(accented.len(), 55);
        assert_eq!(accented.parse::<TraceParent>(), Err(BadTraceParent::Format));
    }

    #[test]
    fn errors_do_not_quote_the_value() {
        let hostile = format!("{}\n<script>", "a".repeat(100));
        let error = hostile.parse::<TraceParent>().unwrap_err().to_string();
        assert!(
            !error.contains("script") && !error.contains("aaa"),
            "{error}"
        );
    }

    #[test]
    fn all_zero_ids_cannot_be_built() {
        assert!(TraceParent::new([0; 16], [1; 8], 1).is_none());
        assert!(TraceParent::new([1; 16], [0; 8], 1).is_none());
        assert!(TraceParent::new([1; 16], [1; 8], 0).is_some());
    }

    #[test]
    fn a_missing_or_bad_header_extracts_nothing() {
        assert_eq!(TraceParent::extract(|_| None), None);
        assert_eq!(TraceParent::extract(|_| Some("00-zz")), None);
        let only_traceparent = |name: &str| (name == TRACEPARENT_HEADER).then_some(VALID);
        assert_eq!(
            TraceParent::extract(only_traceparent),
            Some(VALID.parse().unwrap())
        );
    }

    proptest! {
        #[test]
        fn any_ids_round_trip(trace_id in any::<[u8; 16]>(), span_id in any::<[u8; 8]>(), flags in any::<u8>()) {
            if let Some(parent) = TraceParent::new(trace_id, span_id, flags) {
                let text = parent.to_string();
                prop_assert_eq!(text.len(), TRACEPARENT_LEN);
                prop_assert_eq!(text.parse::<TraceParent>(), Ok(parent));
            }
        }

        #[test]
        fn any_text_parses_or_fails_without_panicking(text in "\\PC{0,80}") {
            let _ = text.parse::<TraceParent>();
        }

        #[test]
        fn near_valid_text_parses_or_fails_without_panicking(text in "[0-9a-fA-F-]{55}") {
            if let Ok(parent) = text.parse::<TraceParent>() {
                prop_assert_eq!(parent.to_string().len(), TRACEPARENT_LEN);
            }
        }
    }
}
