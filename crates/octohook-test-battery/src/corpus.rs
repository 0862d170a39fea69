//! GitHub's published example payloads, from the npm package installed in `corpora/`.

use std::path::PathBuf;

/// One example payload from `@octokit/webhooks-examples`.
#[derive(Debug, Clone)]
pub struct GithubExample {
    /// The event name (`X-GitHub-Event`).
    pub event: String,
    /// The example's position among the event's examples.
    pub index: usize,
    /// The payload, as compact JSON.
    pub body: Vec<u8>,
}

/// Every example payload of `@octokit/webhooks-examples` (329 in 7.6.1).
///
/// # Panics
/// When the corpus is not installed: run `scripts/test` (or `npm ci` in
/// `corpora/`) first. A missing corpus fails tests, it never skips them.
pub fn github_examples() -> Vec<GithubExample> {
    let path =
        corpora_dir().join("node_modules/@octokit/webhooks-examples/api.github.com/index.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "GitHub's example payloads are missing ({}: {error}); install them with `scripts/test` or `npm ci --prefix corpora`",
            path.display()
        )
    });
    let index: serde_json::Value = serde_json::from_str(&text).expect("index.json is JSON");
    let mut examples = Vec::new();
    for event in index.as_array().expect("index.json is an array") {
        let name = event["name"].as_str().expect("each event has a name");
        for (position, example) in event["examples"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            examples.push(GithubExample {
                event: name.to_owned(),
                index: position,
                body: serde_json::to_vec(example).expect("a Value serializes"),
            });
        }
    }
    assert!(
        examples.len() >= 300,
        "expected GitHub's 329 examples, found {}",
        examples.len()
    );
    examples
}

fn corpora_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../corpora")
}
