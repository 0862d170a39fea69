//! Rust identifiers from schema names, JSON keys and enum values.

/// Rust keywords that cannot be plain field names (they are emitted as raw identifiers).
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod",
    "move", "mut", "override", "priv", "pub", "ref", "return", "static", "struct", "trait", "true",
    "try", "type", "typeof", "unsafe", "use", "where", "while", "yield", "abstract", "become",
    "do", "final", "macro", "unsized", "virtual",
];

/// Splits a name into words at non-alphanumeric characters and at lower-to-upper
/// case changes (`pullRequest`, `PullRequestAutoMerge`).
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous: Option<char> = None;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous = None;
            continue;
        }
        if let Some(p) = previous
            && c.is_ascii_uppercase()
            && (p.is_ascii_lowercase() || p.is_ascii_digit())
            && !current.is_empty()
        {
            words.push(std::mem::take(&mut current));
        }
        current.push(c);
        previous = Some(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `UpperCamelCase` for a type or variant name.
pub(crate) fn pascal(name: &str) -> String {
    let special = match name {
        "+1" => Some("PlusOne"),
        "-1" => Some("MinusOne"),
        "" => Some("Empty"),
        "*" => Some("All"),
        _ => None,
    };
    if let Some(special) = special {
        return special.to_owned();
    }
    let mut out = String::new();
    for word in words(name) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            let rest: String = chars.collect();
            // Keep camel-cased words (`AutoMerge`), lower all-caps ones (`CRITICAL`).
            if rest.chars().all(|c| !c.is_ascii_lowercase()) {
                out.push_str(&rest.to_ascii_lowercase());
            } else {
                out.push_str(&rest);
            }
        }
    }
    if out.is_empty() {
        out.push_str("Other");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// `snake_case` for a field name, raw when it is a keyword.
pub(crate) fn snake(key: &str) -> String {
    let special = match key {
        "+1" => Some("plus_one"),
        "-1" => Some("minus_one"),
        _ => None,
    };
    if let Some(special) = special {
        return special.to_owned();
    }
    let mut out = words(key)
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    if out.is_empty() {
        out.push_str("field");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'n');
    }
    if matches!(out.as_str(), "self" | "super" | "crate") {
        out.push('_');
    } else if KEYWORDS.contains(&out.as_str()) {
        out.insert_str(0, "r#");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(pascal("pull_request"), "PullRequest");
        assert_eq!(pascal("Pull Request"), "PullRequest");
        assert_eq!(pascal("PullRequestAutoMerge"), "PullRequestAutoMerge");
        assert_eq!(pascal("CRITICAL"), "Critical");
        assert_eq!(pascal("2fa_required"), "V2faRequired");
        assert_eq!(pascal("+1"), "PlusOne");
        assert_eq!(snake("_links"), "links");
        assert_eq!(snake("type"), "r#type");
        assert_eq!(snake("-1"), "minus_one");
        assert_eq!(snake("pullRequest"), "pull_request");
    }
}
