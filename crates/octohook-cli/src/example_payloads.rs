//! GitHub's published example payloads, carried in the binary for
//! `octohook send --example NAME` and `octohook events --examples`.
//!
//! `data/example-payloads.tsv.gz` is written by `cargo run -p xtask -- examples`
//! from `@octokit/webhooks-examples` (pinned in `corpora/package.json`): gzip of
//! lines `NAME<TAB>JSON`, one per `event.action` (per event when it has no
//! action), sorted by name, after a `#` comment line naming the source.

use std::io::Read;

const COMPRESSED: &[u8] = include_bytes!("../data/example-payloads.tsv.gz");

/// The built-in examples, decompressed.
#[derive(Debug)]
pub(crate) struct ExamplePayloads {
    text: String,
}

/// Why an example cannot be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExampleError {
    #[error("the built-in examples are damaged: {0}")]
    Damaged(std::io::Error),
    #[error("no built-in example {name:?}{}; `octohook events --examples` lists them all", suggest(.close))]
    Unknown { name: String, close: Vec<String> },
}

fn suggest(close: &[String]) -> String {
    if close.is_empty() {
        String::new()
    } else {
        format!(" (close: {})", close.join(", "))
    }
}

impl ExamplePayloads {
    /// Decompresses the examples carried in the binary.
    pub(crate) fn load() -> Result<Self, ExampleError> {
        let mut text = String::new();
        flate2::read::GzDecoder::new(COMPRESSED)
            .read_to_string(&mut text)
            .map_err(ExampleError::Damaged)?;
        Ok(Self { text })
    }

    /// Every example as its name and payload, sorted by name.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once('\t'))
    }

    /// The payload of the example `name` (`pull_request.opened`, `ping`), exactly
    /// as published but without insignificant whitespace.
    pub(crate) fn get(&self, name: &str) -> Result<&str, ExampleError> {
        if let Some((_, payload)) = self.iter().find(|(known, _)| *known == name) {
            return Ok(payload);
        }
        let event = name.split('.').next().unwrap_or(name);
        let mut close: Vec<(usize, &str)> = self
            .iter()
            .map(|(known, _)| known)
            .filter_map(|known| {
                let distance = edit_distance(name, known);
                let same_event = known.split('.').next() == Some(event);
                (same_event || distance <= 3).then_some((distance, known))
            })
            .collect();
        close.sort();
        Err(ExampleError::Unknown {
            name: name.to_owned(),
            close: close
                .into_iter()
                .take(8)
                .map(|(_, known)| known.to_owned())
                .collect(),
        })
    }
}

/// The event name of an example: `pull_request` for `pull_request.opened`.
pub(crate) fn event_of(name: &str) -> &str {
    name.split_once('.').map_or(name, |(event, _)| event)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_is_a_json_object_named_by_its_event_and_action() {
        let examples = ExamplePayloads::load().unwrap();
        let mut count = 0;
        for (name, payload) in examples.iter() {
            let json: serde_json::Value = serde_json::from_str(payload).unwrap();
            match json.get("action").and_then(serde_json::Value::as_str) {
                Some(action) => assert_eq!(name, format!("{}.{action}", event_of(name))),
                None => assert!(!name.contains('.'), "{name}"),
            }
            count += 1;
        }
        assert!(count > 100, "{count} examples");
        assert!(examples.get("pull_request.opened").is_ok());
        assert!(examples.get("ping").is_ok());
    }

    #[test]
    fn an_unknown_name_suggests_close_ones() {
        let examples = ExamplePayloads::load().unwrap();
        let error = examples.get("pull_request.opend").unwrap_err().to_string();
        assert!(error.contains("pull_request.opened"), "{error}");
        assert!(error.contains("octohook events --examples"), "{error}");
        let error = examples.get("zzzz").unwrap_err().to_string();
        assert!(!error.contains("close:"), "{error}");
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
