//! The pinned corpora (`corpora/package.json`): GitHub's webhook schema and recorded
//! examples. Missing corpora fail the test with the command that installs them.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

/// `corpora/node_modules/@octokit` in the repository.
pub fn octokit_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../corpora/node_modules/@octokit");
    assert!(
        dir.join("webhooks-examples").is_dir() && dir.join("openapi-webhooks").is_dir(),
        "the pinned webhook corpora are not installed at {}: run `cd corpora && npm ci` first",
        dir.display()
    );
    dir
}

/// Reads a JSON file of the corpora.
pub fn read_json(relative: &str) -> serde_json::Value {
    let path = octokit_dir().join(relative);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (run `cd corpora && npm ci`)",
            path.display()
        )
    });
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every recorded example: (event name, index, payload bytes).
pub fn examples() -> Vec<(String, usize, Vec<u8>)> {
    let index = read_json("webhooks-examples/api.github.com/index.json");
    let mut out = Vec::new();
    for event in index.as_array().expect("the examples index is an array") {
        let name = event["name"]
            .as_str()
            .expect("an example has a name")
            .to_owned();
        for (i, example) in event["examples"]
            .as_array()
            .expect("examples")
            .iter()
            .enumerate()
        {
            out.push((
                name.clone(),
                i,
                serde_json::to_vec(example).expect("serializes"),
            ));
        }
    }
    out
}
