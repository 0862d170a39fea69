//! Text that came from a stranger (a payload's `action`, a command's standard
//! error, a receiver's answer) made safe to print on a terminal.
//!
//! A control character sent raw to a terminal is obeyed, not shown: `ESC [`
//! recolours or moves the cursor, `ESC ]` retitles the window, `CR` overwrites
//! the start of the line, and the C1 character U+009B starts a sequence on its
//! own in some terminals. So every control character (C0, DEL and C1) is written
//! as the JSON escape that means it, `\u001b`, which keeps a JSON document that
//! passes through valid JSON.

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
    if !text.chars().any(|c| c.is_control() && !kept(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_control() && !kept(c) {
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
    fn an_escaped_json_string_decodes_to_the_original() {
        let original = "\u{1b}]0;title\u{7}\u{9b}2J\u{7f}";
        let json = serde_json::to_string(original).unwrap();
        let shown = escaped(&json, Layout::Line);
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert_eq!(serde_json::from_str::<String>(&shown).unwrap(), original);
    }
}
