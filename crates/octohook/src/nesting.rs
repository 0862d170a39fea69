//! The nesting-depth check of a JSON payload: one pass over the bytes, no
//! recursion, so a payload millions of levels deep costs no more than a flat one.

/// The deepest nesting of arrays and objects accepted by default: 127 levels, the
/// deepest `serde_json` parses (and so the typed events and
/// [`VerifiedDelivery::parse`](crate::VerifiedDelivery::parse)). Its recursion
/// limit of 128 is counted down once per level and refuses the level that reaches
/// it, so 127 nested arrays parse and 128 do not.
pub const DEFAULT_MAX_JSON_DEPTH: usize = 127;

/// The deepest nesting of arrays and objects in `json`, or `None` as soon as it
/// exceeds `limit`. A scalar has depth 0, `{}` and `[]` have depth 1, `[{}]` 2.
///
/// The count is exact for valid JSON. On other input it still ends in one pass
/// without panicking (unbalanced closers do not go below 0, an unterminated string
/// runs to the end); the syntax check that follows rejects such input.
pub(crate) fn depth_within(json: &[u8], limit: usize) -> Option<usize> {
    let mut depth = 0_usize;
    let mut deepest = 0_usize;
    let mut rest = json;
    while let Some(at) = rest
        .iter()
        .position(|b| matches!(b, b'{' | b'[' | b'}' | b']' | b'"'))
    {
        match rest[at] {
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return None;
                }
                deepest = deepest.max(depth);
                rest = &rest[at + 1..];
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                rest = &rest[at + 1..];
            }
            _ => rest = after_string(&rest[at + 1..]),
        }
    }
    Some(deepest)
}

/// What follows the string whose opening quote was just passed: brackets inside a
/// string do not nest. A backslash escapes the byte after it.
fn after_string(mut rest: &[u8]) -> &[u8] {
    loop {
        match rest.iter().position(|b| matches!(b, b'"' | b'\\')) {
            None => return &[],
            Some(at) if rest[at] == b'"' => return &rest[at + 1..],
            Some(at) => rest = rest.get(at + 2..).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, levels: usize) -> Vec<u8> {
        [open.repeat(levels), close.repeat(levels)]
            .concat()
            .into_bytes()
    }

    #[test]
    fn depth_counts_arrays_and_objects() {
        assert_eq!(depth_within(b"1", 0), Some(0));
        assert_eq!(depth_within(b"{}", 1), Some(1));
        assert_eq!(depth_within(b"{}", 0), None);
        assert_eq!(depth_within(br#"{"a":[1,{"b":[]}],"c":{}}"#, 10), Some(4));
        assert_eq!(depth_within(&nested("[", "]", 128), 128), Some(128));
        assert_eq!(depth_within(&nested("[", "]", 129), 128), None);
        assert_eq!(depth_within(&nested(r#"{"a":"#, "}", 129), 128), None);
    }

    #[test]
    fn brackets_in_strings_and_escapes_do_not_count() {
        assert_eq!(depth_within(br#"{"a":"[[[{{{"}"#, 1), Some(1));
        assert_eq!(depth_within(br#"{"a\"[[":"\\","b":"\"{"}"#, 1), Some(1));
        assert_eq!(depth_within(br#"["\\"]"#, 1), Some(1));
    }

    #[test]
    fn malformed_input_ends_without_panicking() {
        for input in [&b"]]]}}}"[..], b"\"", b"\"\\", b"[\"\\", b"{{{\"", b"[]]]["] {
            let _ = depth_within(input, 2);
        }
        assert_eq!(depth_within(b"]]][[", 2), Some(2));
    }

    #[test]
    fn a_million_levels_are_refused_in_one_pass() {
        let deep = nested("[", "]", 1_000_000);
        assert_eq!(depth_within(&deep, DEFAULT_MAX_JSON_DEPTH), None);
        assert_eq!(depth_within(&deep, usize::MAX), Some(1_000_000));
    }
}
