//! The pinned corpora (`corpora/package.json`, listed in `corpora/sources.json`):
//! every variant of GitHub's webhook schema and every folder of recorded examples,
//! current and historical. Missing corpora fail the test with the command that
//! installs them.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

/// `corpora/` in the repository.
pub fn corpora_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../corpora")
}

/// `corpora/node_modules/@octokit` in the repository.
pub fn octokit_dir() -> PathBuf {
    let dir = corpora_dir().join("node_modules/@octokit");
    assert!(
        dir.join("webhooks-examples").is_dir() && dir.join("openapi-webhooks").is_dir(),
        "the pinned webhook corpora are not installed at {}: run `cd corpora && npm ci` first",
        dir.display()
    );
    dir
}

fn read_path(path: &std::path::Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (run `cd corpora && npm ci`)",
            path.display()
        )
    });
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads a JSON file of the `@octokit` packages.
pub fn read_json(relative: &str) -> serde_json::Value {
    read_path(&octokit_dir().join(relative))
}

/// A file named in `corpora/sources.json`: `package/file`.
pub struct Source {
    pub name: String,
    pub json: serde_json::Value,
}

/// The files of one list of `corpora/sources.json` (`schemas`, `examples`).
pub fn sources(list: &str) -> Vec<Source> {
    octokit_dir();
    let index = read_path(&corpora_dir().join("sources.json"));
    let modules = corpora_dir().join("node_modules");
    index[list]
        .as_array()
        .unwrap_or_else(|| panic!("corpora/sources.json has no {list}"))
        .iter()
        .map(|entry| {
            let package = entry["package"].as_str().expect("a package");
            let file = entry["file"].as_str().expect("a file");
            Source {
                name: format!("{package}/{file}"),
                json: read_path(&modules.join(package).join(file)),
            }
        })
        .collect()
}

/// One recorded example payload.
pub struct Example {
    /// The examples file it comes from (`@octokit/webhooks-examples/ghes-35/index.json`).
    pub source: String,
    pub event: String,
    pub index: usize,
    pub payload: Vec<u8>,
}

/// Every recorded example of every examples file in `corpora/sources.json`.
pub fn all_examples() -> Vec<Example> {
    let mut out = Vec::new();
    for source in sources("examples") {
        for event in source
            .json
            .as_array()
            .expect("an examples index is an array")
        {
            let name = event["name"].as_str().expect("an example has a name");
            for (index, example) in event["examples"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                out.push(Example {
                    source: source.name.clone(),
                    event: name.to_owned(),
                    index,
                    payload: serde_json::to_vec(example).expect("serializes"),
                });
            }
        }
    }
    out
}

/// The examples of the current `@octokit/webhooks-examples` for github.com:
/// (event name, index, payload bytes).
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
