//! The JSON path at a position of a document, for error messages.
//!
//! Tracking the path while parsing (`serde_path_to_error`) would need a second
//! deserializer type and so a second copy of every payload type's parsing code.
//! Instead, on failure, the document is scanned up to the position serde_json
//! reports, following objects and arrays.

/// One level of nesting.
enum Frame {
    Object { key: Option<String> },
    Array { index: usize },
}

/// The path (`pull_request.labels[0].name`, `.` for the top level) at 1-based
/// `line` and `column` of `json`, as serde_json reports them. For a missing field,
/// reported at the end of the object that lacks it, the path is that object's.
pub(crate) fn path_at(json: &[u8], line: usize, column: usize, missing_field: bool) -> String {
    let end = offset(json, line, column);
    let mut frames: Vec<Frame> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while i < end {
        match json[i] {
            b'{' => {
                frames.push(Frame::Object { key: None });
                expect_key = true;
            }
            b'[' => {
                frames.push(Frame::Array { index: 0 });
                expect_key = false;
            }
            b'}' | b']' => {
                frames.pop();
                expect_key = false;
            }
            b',' => match frames.last_mut() {
                Some(Frame::Array { index }) => *index += 1,
                Some(Frame::Object { key }) => {
                    *key = None;
                    expect_key = true;
                }
                None => {}
            },
            b':' => expect_key = false,
            b'"' => {
                let start = i + 1;
                i = start;
                while i < json.len() && json[i] != b'"' {
                    i += if json[i] == b'\\' { 2 } else { 1 };
                }
                if expect_key && let Some(Frame::Object { key }) = frames.last_mut() {
                    let raw = &json[start..i.min(json.len())];
                    *key = Some(String::from_utf8_lossy(raw).into_owned());
                    expect_key = false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    if missing_field && let Some(Frame::Object { key }) = frames.last_mut() {
        *key = None;
    }
    render(frames.iter().filter_map(|frame| match frame {
        Frame::Object { key } => key.as_deref().map(PathStep::Key),
        Frame::Array { index } => Some(PathStep::Index(*index)),
    }))
}

/// The byte offset of the character at `line` and `column` (both 1-based).
fn offset(json: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match json[start..].iter().position(|b| *b == b'\n') {
            Some(newline) => start += newline + 1,
            None => return json.len(),
        }
    }
    (start + column.saturating_sub(1)).min(json.len())
}

/// One step of a path, as [`render`] writes it.
pub(crate) enum PathStep<'a> {
    /// An object member: `.key`.
    Key(&'a str),
    /// An array item: `[index]`.
    Index(usize),
}

/// The path as users read it: `pull_request.labels[0].name`, `.` for the top level.
pub(crate) fn render<'a>(steps: impl IntoIterator<Item = PathStep<'a>>) -> String {
    let mut path = String::new();
    for step in steps {
        match step {
            PathStep::Key(key) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            PathStep::Index(index) => {
                path.push('[');
                path.push_str(&index.to_string());
                path.push(']');
            }
        }
    }
    if path.is_empty() {
        path.push('.');
    }
    path
}

#[cfg(test)]
mod tests {
    use super::path_at;

    fn at(json: &str, needle: &str) -> String {
        let index = json.find(needle).expect("needle") + needle.len();
        let line = json[..index].matches('\n').count() + 1;
        let column = index - json[..index].rfind('\n').map_or(0, |n| n + 1);
        path_at(json.as_bytes(), line, column, false)
    }

    #[test]
    fn paths() {
        let json = "{\"a\": {\"b\": [1, {\"c\": \"x\\\"y\"}]},\n \"d\": true}";
        assert_eq!(at(json, "\"x"), "a.b[1].c");
        assert_eq!(at(json, "[1"), "a.b[0]");
        assert_eq!(at(json, "true"), "d");
        assert_eq!(path_at(b"[1,", 1, 1, false), ".");
        // A missing field is reported at the closing brace of the object lacking it.
        let json = br#"{"issue": {"id": 1, "title": "x"}}"#;
        assert_eq!(path_at(json, 1, 33, true), "issue");
        assert_eq!(path_at(br#"{"action": "opened"}"#, 1, 20, true), ".");
    }
}
