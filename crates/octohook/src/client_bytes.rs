//! [`ClientBytes`]: bytes a client sent, made fit for a log line.

use std::fmt;

/// Bytes a client sent (a header value, a path), written for a log line: cut to
/// a few dozen bytes and escaped, so that whatever a stranger sends, the line
/// stays one short line of visible ASCII with no field of its own making.
///
/// Visible ASCII (`!` to `~`) is written as it is, except `\` and `"`; every
/// other byte (space, tab, newline, `ESC`, anything not ASCII, invalid UTF-8) is
/// written as `\xNN`. Once the escaped text would pass the
/// [limit](Self::with_limit) ([`DEFAULT_LIMIT`](Self::DEFAULT_LIMIT) bytes by
/// default), the rest is left out and `...[NB]` says how long the value was, in
/// bytes.
///
/// ```
/// use octohook::ClientBytes;
///
/// assert_eq!(ClientBytes::new(b"push").to_string(), "push");
/// assert_eq!(
///     ClientBytes::new(b"push\tstatus=200\n").to_string(),
///     r"push\x09status=200\x0a"
/// );
/// let long = ClientBytes::new(&[b'a'; 400 * 1024]).to_string();
/// assert_eq!(long, format!("{}...[409600B]", "a".repeat(48)));
/// ```
///
/// A message that holds client bytes (a payload error, a handler's error) reads
/// better [`quoted`](Self::quoted): spaces kept, inside double quotes.
///
/// ```
/// use octohook::ClientBytes;
///
/// let message = ClientBytes::new(b"1 handler(s) failed: \"no\"\n").quoted();
/// assert_eq!(message.to_string(), r#""1 handler(s) failed: \x22no\x22\x0a""#);
/// ```
#[derive(Clone, Copy)]
pub struct ClientBytes<'a> {
    bytes: &'a [u8],
    limit: usize,
    quoted: bool,
}

impl<'a> ClientBytes<'a> {
    /// How many bytes of escaped text are written at most by default, before the
    /// `...[NB]` that says the value was cut. Known event names have at
    /// most 42 characters, delivery GUIDs 36.
    pub const DEFAULT_LIMIT: usize = 48;

    /// `bytes`, to be written with the default limit.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            limit: Self::DEFAULT_LIMIT,
            quoted: false,
        }
    }

    /// The same bytes written inside double quotes, spaces kept: for messages.
    pub fn quoted(mut self) -> Self {
        self.quoted = true;
        self
    }

    /// The same bytes, with at most `limit` bytes of escaped text written.
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

/// Whether `byte` is written as it is: visible ASCII that no log format quotes.
fn is_plain(byte: u8) -> bool {
    matches!(byte, b'!'..=b'~') && byte != b'\\' && byte != b'"'
}

impl fmt::Display for ClientBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.quoted {
            f.write_str("\"")?;
        }
        let mut written = 0;
        let mut plain_from = 0;
        for (index, &byte) in self.bytes.iter().enumerate() {
            let plain = is_plain(byte) || (self.quoted && byte == b' ');
            let width = if plain { 1 } else { 4 };
            if written + width > self.limit {
                f.write_str(ascii(&self.bytes[plain_from..index]))?;
                write!(f, "...[{}B]", self.bytes.len())?;
                return self.close(f);
            }
            written += width;
            if width == 4 {
                f.write_str(ascii(&self.bytes[plain_from..index]))?;
                write!(f, "\\x{byte:02x}")?;
                plain_from = index + 1;
            }
        }
        f.write_str(ascii(&self.bytes[plain_from..]))?;
        self.close(f)
    }
}

impl ClientBytes<'_> {
    fn close(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.quoted {
            f.write_str("\"")?;
        }
        Ok(())
    }
}

/// A run of plain bytes, which are ASCII.
fn ascii(plain: &[u8]) -> &str {
    std::str::from_utf8(plain).unwrap_or_default()
}

impl fmt::Debug for ClientBytes<'_> {
    /// The same as [`Display`](fmt::Display), quoted: never the raw bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.quoted(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(bytes: &[u8]) -> String {
        ClientBytes::new(bytes).to_string()
    }

    #[test]
    fn visible_ascii_is_kept_and_everything_else_escaped() {
        assert_eq!(shown(b"pull_request"), "pull_request");
        assert_eq!(shown(b"a\tb"), r"a\x09b");
        assert_eq!(shown(b"a\r\nb"), r"a\x0d\x0ab");
        assert_eq!(shown(b"a b"), r"a\x20b");
        assert_eq!(shown(b"\x1b[31mred\x1b[0m"), r"\x1b[31mred\x1b[0m");
        assert_eq!(shown(br#"say "hi" \o/"#), r"say\x20\x22hi\x22\x20\x5co/");
        assert_eq!(shown(b"\x00\x7f"), r"\x00\x7f");
        assert_eq!(shown("café".as_bytes()), r"caf\xc3\xa9");
        assert_eq!(shown(b"\xff\xfe"), r"\xff\xfe");
        assert_eq!(shown(b""), "");
    }

    #[test]
    fn output_never_passes_the_limit_and_says_how_long_the_value_was() {
        assert_eq!(shown(&[b'x'; 48]), "x".repeat(48));
        assert_eq!(shown(&[b'x'; 49]), format!("{}...[49B]", "x".repeat(48)));
        // An escape is never cut in half.
        let tabs = shown(&[b'\t'; 100]);
        assert_eq!(tabs, format!("{}...[100B]", r"\x09".repeat(12)));
        let mixed = ClientBytes::new(b"abc\ndef").with_limit(5).to_string();
        assert_eq!(mixed, "abc...[7B]");
        for limit in 0..20 {
            for input in [&b"plain text"[..], b"\t\t\t\t\t", b"\xe2\x80\x8b\n"] {
                let text = ClientBytes::new(input).with_limit(limit).to_string();
                let content = text.split("...[").next().unwrap();
                assert!(content.len() <= limit, "{limit}: {text}");
                assert!(text.bytes().all(|b| b.is_ascii_graphic()), "{text}");
            }
        }
    }

    #[test]
    fn quoted_text_keeps_spaces_inside_the_quotes() {
        assert_eq!(format!("{:?}", ClientBytes::new(b"a\"b")), r#""a\x22b""#);
        let quoted = ClientBytes::new(b"a b\tc").quoted();
        assert_eq!(quoted.to_string(), r#""a b\x09c""#);
        let cut = ClientBytes::new(b"word word").quoted().with_limit(4);
        assert_eq!(cut.to_string(), r#""word...[9B]""#);
    }
}
