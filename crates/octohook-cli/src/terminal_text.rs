//! Text that came from a stranger (a payload's `action`, a command's standard
//! error, a receiver's answer) made safe to print on a terminal.
//!
//! A control character sent raw to a terminal is obeyed, not shown: `ESC [`
//! recolours or moves the cursor, `ESC ]` retitles the window, `CR` overwrites
//! the start of the line, and the C1 character U+009B starts a sequence on its
//! own in some terminals. So every control character (C0, DEL and C1) is written
//! as the JSON escape that means it, `\u001b`, which keeps a JSON document that
//! passes through valid JSON.
//!
//! The Unicode bidirectional formatting characters ([`is_bidi_control`]) are
//! no control characters (their category is Cf), but a terminal obeys them
//! too: they reorder the text shown after them ("Trojan Source",
//! CVE-2021-42574), so that `admin\u202e` can read as something else. They are
//! escaped the same way, `\u202e`; log lines, whose formats deal with control
//! characters themselves, have them escaped by [`bidi_escaped`].

use std::borrow::Cow;
use std::fmt::Write;

/// Whether line breaks and tabs are kept ([`Layout::Block`]) or escaped too
/// ([`Layout::Line`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// One line: every control character is escaped, `\n` and `\t` included.
    Line,
    /// Several lines: `\n` and `\t` are kept, every other control character
    /// (`\r` included) is escaped.
    Block,
}

/// `text` with its control characters escaped as `\u001b` (see the module);
/// borrowed when there is none.
///
/// ```text
/// <ESC>[31mred   (0x1b, then "[31mred")   is written as   \u001b[31mred
/// ```
pub(crate) fn escaped(text: &str, layout: Layout) -> Cow<'_, str> {
    let kept = |c: char| layout == Layout::Block && matches!(c, '\n' | '\t');
    escaped_where(text, |c| is_hidden(c) && !kept(c))
}

/// `text` with only its bidirectional formatting characters escaped (as
/// `\u202e`): for log lines, whose text and JSON formats escape control
/// characters themselves but not these. Inside a JSON string the escape means
/// the same character, so a JSON line stays the same JSON.
pub(crate) fn bidi_escaped(text: &str) -> Cow<'_, str> {
    escaped_where(text, is_bidi_control)
}

/// Whether `c` is a Unicode bidirectional formatting character: the Arabic
/// letter mark U+061C, the marks U+200E and U+200F, the embeddings and
/// overrides U+202A to U+202E, and the isolates U+2066 to U+2069.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// Whether a terminal would obey `c` rather than show it: a control character
/// or a bidirectional formatting one.
pub(crate) fn is_hidden(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// `text` with the characters `escape` picks written as `\u001b`; borrowed
/// when there is none.
fn escaped_where(text: &str, escape: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if escape(c) {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_json_escapes() {
        assert_eq!(
            escaped("plain text é 日本", Layout::Line),
            "plain text é 日本"
        );
        assert!(matches!(escaped("plain", Layout::Line), Cow::Borrowed(_)));
        assert_eq!(escaped("\u{1b}[31mred", Layout::Line), "\\u001b[31mred");
        assert_eq!(
            escaped("a\u{9b}31m\u{7f}", Layout::Line),
            "a\\u009b31m\\u007f"
        );
        assert_eq!(
            escaped("a\r\nb\tc", Layout::Line),
            "a\\u000d\\u000ab\\u0009c"
        );
        assert_eq!(escaped("a\r\nb\tc", Layout::Block), "a\\u000d\nb\tc");
    }

    #[test]
    fn bidirectional_formatting_characters_are_escaped_too() {
        let all = "\u{61c}\u{200e}\u{200f}\u{202a}\u{202b}\u{202c}\u{202d}\u{202e}\u{2066}\u{2067}\u{2068}\u{2069}";
        let expected =
            "\\u061c\\u200e\\u200f\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069";
        assert_eq!(escaped(all, Layout::Line), expected);
        assert_eq!(escaped(all, Layout::Block), expected);
        assert_eq!(bidi_escaped(all), expected);
        // Their neighbours are shown: the zero-width joiner, the word joiner.
        assert_eq!(
            escaped("a\u{200d}b\u{2060}c", Layout::Line),
            "a\u{200d}b\u{2060}c"
        );
        // bidi_escaped leaves control characters to the log formats.
        assert_eq!(bidi_escaped("\u{1b}[1m\u{202e}x"), "\u{1b}[1m\\u202ex");
        assert!(matches!(bidi_escaped("plain é"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_json_line_with_bidi_escaped_decodes_to_the_original() {
        let original = serde_json::json!({ "action": "\u{202e}denepo\u{2066}" });
        let line = serde_json::to_string(&original).unwrap();
        assert!(
            line.contains('\u{202e}'),
            "serde_json leaves it raw: {line}"
        );
        let shown = bidi_escaped(&line);
        assert!(!shown.chars().any(is_bidi_control), "{shown}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&shown).unwrap(),
            original
        );
    }

    #[test]
    fn an_escaped_json_string_decodes_to_the_original() {
        let original = "\u{1b}]0;title\u{7}\u{9b}2J\u{7f}";
        let json = serde_json::to_string(original).unwrap();
        let shown = escaped(&json, Layout::Line);
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert_eq!(serde_json::from_str::<String>(&shown).unwrap(), original);
    }
}
