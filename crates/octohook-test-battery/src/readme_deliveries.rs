//! The deliveries a README tells a newcomer to send: each `send` command of its
//! `sh` blocks, resolved to the event and the body `octohook send` would post.
//!
//! The README is the source, not a copy of it: a test that sends what these
//! functions return fails as soon as a README sends something that no typed
//! handler accepts.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::{ReceiverProcess, TestDelivery};

/// One `octohook send` command of a README.
#[derive(Debug, Clone)]
pub struct ReadmeSend {
    /// The line as written in the README.
    pub line: String,
    /// The arguments after `send`, as `octohook send` takes them.
    pub args: Vec<String>,
    /// The `X-GitHub-Event` it sends.
    pub event: String,
    /// The body it sends: the built-in example for `--example NAME`, or the file
    /// an `echo '…' > FILE` or `printf '%s' '…' > FILE` line of the same block
    /// writes.
    pub body: Vec<u8>,
}

impl ReadmeSend {
    /// The same delivery, signed with [`crate::SECRET`] as the battery's receivers expect.
    pub fn delivery(&self) -> TestDelivery {
        TestDelivery::json(&self.event, self.body.clone())
    }
}

/// The repository's root: `README.md` and `crates/` are in it.
pub fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `send` command in the `sh` blocks of `readme`, in order.
///
/// # Panics
/// When the README cannot be read, or a command names an example that is not
/// built in, or a file no `echo` or `printf` line of its block writes.
pub fn readme_sends(readme: &Path) -> Vec<ReadmeSend> {
    let text = std::fs::read_to_string(readme)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", readme.display()));
    let mut sends = Vec::new();
    let mut block: Option<Vec<&str>> = None;
    for line in text.lines() {
        match (&mut block, line.trim_start()) {
            (None, "```sh") => block = Some(Vec::new()),
            (Some(_), "```") => block = None,
            (Some(lines), line) => {
                if let Some(send) = send_command(line, lines) {
                    sends.push(send);
                }
                lines.push(line);
            }
            (None, _) => {}
        }
    }
    sends
}

/// The first `send` command of the repository's `README.md`: the first delivery
/// a newcomer makes.
///
/// # Panics
/// When the README has none.
pub fn readme_first_delivery() -> ReadmeSend {
    let readme = repository_root().join("README.md");
    readme_sends(&readme)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{} has no `send` command", readme.display()))
}

/// Starts `program` (a receiver that prints one `octohook serve --out` line per
/// delivery it handles) and sends it the README's first delivery: it must answer
/// 200 and print the line. A receiver that prints from a typed handler, as the
/// inbox examples do, prints it only when the payload parses as its event.
///
/// # Panics
/// When the delivery is refused or no line comes within 10 s.
pub async fn check_readme_first_delivery(program: &str, env: &[(&str, &str)]) {
    let send = readme_first_delivery();
    let receiver = ReceiverProcess::start_with(program, env);
    let delivery = send.delivery();
    let url = format!("http://{}/", receiver.address());
    delivery
        .expect_accepted(&crate::http_client(), &url)
        .await
        .unwrap_or_else(|e| panic!("the README's first delivery ({}): {e}", send.line));
    let line = receiver.next_line().unwrap_or_else(|e| {
        panic!(
            "the README's first delivery ({}) was accepted but not handled: {e}",
            send.line
        )
    });
    delivery.expect_record(&line).unwrap();
}

fn send_command(line: &str, earlier: &[&str]) -> Option<ReadmeSend> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|word| *word == "send")?;
    // `octohook send`, or `cargo run … -- send`.
    if at == 0 || !matches!(words[at - 1], "octohook" | "--") {
        return None;
    }
    let args: Vec<String> = words[at + 1..].iter().map(|w| (*w).to_owned()).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|arg| arg == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (event, body) = if let Some(name) = value("--example") {
        let event = name.split('.').next().unwrap_or(&name).to_owned();
        (event, built_in_example(&name))
    } else {
        let event = value("--event").unwrap_or_else(|| panic!("no --event in `{line}`"));
        let file = args.last().unwrap_or_else(|| panic!("no file in `{line}`"));
        (event, echoed_file(file, earlier, line))
    };
    Some(ReadmeSend {
        line: line.to_owned(),
        args,
        event,
        body,
    })
}

/// What `echo '…' > file` (with `echo`'s newline) or `printf '%s' '…' > file`
/// (without) in `earlier` writes.
fn echoed_file(file: &str, earlier: &[&str], line: &str) -> Vec<u8> {
    earlier
        .iter()
        .rev()
        .find_map(|earlier| {
            let (rest, end) = match earlier.strip_prefix("printf '%s' '") {
                Some(rest) => (rest, ""),
                None => (earlier.strip_prefix("echo '")?, "\n"),
            };
            let (json, target) = rest.rsplit_once("' > ")?;
            (target.trim() == file).then(|| format!("{json}{end}").into_bytes())
        })
        .unwrap_or_else(|| {
            panic!("no `echo '…' > {file}` or `printf '%s' '…' > {file}` before `{line}`")
        })
}

/// The example `octohook send --example name` posts, from the file built into it.
fn built_in_example(name: &str) -> Vec<u8> {
    let path = repository_root().join("crates/octohook-cli/data/example-payloads.tsv.gz");
    let compressed =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{} is not gzip text: {e}", path.display()));
    text.lines()
        .filter_map(|line| line.split_once('\t'))
        .find(|(known, _)| *known == name)
        .map(|(_, json)| json.as_bytes().to_vec())
        .unwrap_or_else(|| panic!("`octohook send --example {name}`: no such built-in example"))
}
