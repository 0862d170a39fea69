//! Doc comments from the schema's descriptions: the first paragraph, on one line,
//! made safe for rustdoc (escaped brackets and angle brackets, absolute links).

/// Longest summary kept; longer first paragraphs are cut at a sentence end.
const MAX_LEN: usize = 400;

/// The first paragraph of a description, cleaned for rustdoc; `None` when empty.
pub(crate) fn summary(description: &str) -> Option<String> {
    let paragraph = description
        .split("\n\n")
        .map(str::trim)
        .find(|p| !p.is_empty())?;
    let mut text = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.len() > MAX_LEN {
        let cut = text[..MAX_LEN]
            .rfind(". ")
            .map(|i| i + 1)
            .unwrap_or_else(|| text[..MAX_LEN].rfind(' ').unwrap_or(MAX_LEN));
        text.truncate(cut);
        if !text.ends_with('.') {
            text.push_str(" ...");
        }
    }
    let cleaned = clean(&text);
    (!cleaned.is_empty()).then_some(cleaned)
}

/// Escapes what rustdoc would read as intra-doc links or HTML, keeps Markdown links
/// (making site-relative ones absolute) and wraps bare URLs.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '['
            && let Some((label, url, after)) = markdown_link(rest)
        {
            out.push('[');
            out.push_str(&escape(label));
            out.push_str("](");
            if url.starts_with('/') {
                out.push_str("https://docs.github.com");
            }
            out.push_str(url);
            out.push(')');
            rest = after;
            continue;
        }
        if rest.starts_with("https://") || rest.starts_with("http://") {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == ')' || c == '"' || c == '\'')
                .unwrap_or(rest.len());
            let url = rest[..end].trim_end_matches(['.', ',', ';', ':']);
            out.push('<');
            out.push_str(url);
            out.push('>');
            rest = &rest[url.len()..];
            continue;
        }
        out.push_str(&escape(&rest[..c.len_utf8()]));
        rest = &rest[c.len_utf8()..];
    }
    out.trim().to_owned()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '[' | ']' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// `[label](url)` at the start of `text`: the label, the URL and what follows.
fn markdown_link(text: &str) -> Option<(&str, &str, &str)> {
    let close = text.find("](")?;
    let label = &text[1..close];
    if label.contains('[') || label.contains(']') {
        return None;
    }
    let after_open = &text[close + 2..];
    let end = after_open.find(')')?;
    let url = &after_open[..end];
    if url.contains(char::is_whitespace) || url.is_empty() {
        return None;
    }
    Some((label, url, &after_open[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn cleans() {
        assert_eq!(
            summary("See [docs](/rest/x).\n\nMore.").as_deref(),
            Some("See [docs](https://docs.github.com/rest/x).")
        );
        assert_eq!(
            summary("a <b> [c] at https://x.y/z.").as_deref(),
            Some(r"a \<b\> \[c\] at <https://x.y/z>.")
        );
        assert_eq!(summary("  \n\n "), None);
    }
}
