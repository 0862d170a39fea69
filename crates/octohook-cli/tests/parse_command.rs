//! `octohook parse`: every published example types (exit 0), odd fields give way
//! with a warning line, `--strict` fails on them, and exit codes stay 0, 3 and 1.

use std::path::PathBuf;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_octohook");

fn parse(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(BIN)
        .arg("parse")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("octohook runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn every_example_of_every_folder_of_webhooks_examples_parses() {
    let package = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../corpora/node_modules/@octokit/webhooks-examples");
    assert!(
        package.is_dir(),
        "{} is missing: run `cd corpora && npm ci`",
        package.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let mut count = 0;
    let mut failures = Vec::new();
    for folder in std::fs::read_dir(&package).unwrap() {
        let index = folder.unwrap().path().join("index.json");
        let Ok(bytes) = std::fs::read(&index) else {
            continue;
        };
        let events: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        for event in events.as_array().unwrap() {
            let name = event["name"].as_str().unwrap();
            for (i, example) in event["examples"].as_array().unwrap().iter().enumerate() {
                let file = dir.path().join(format!("{name}.{i}.json"));
                std::fs::write(&file, serde_json::to_vec_pretty(example).unwrap()).unwrap();
                let output = Command::new(BIN)
                    .args(["parse", "--event", name])
                    .arg(&file)
                    .output()
                    .unwrap();
                count += 1;
                let stdout = String::from_utf8_lossy(&output.stdout);
                if !output.status.success() || stdout.contains("warning:") {
                    failures.push(format!(
                        "{}: {name} {i}: {:?} {stdout} {}",
                        index.display(),
                        output.status.code(),
                        String::from_utf8_lossy(&output.stderr)
                    ));
                }
            }
        }
    }
    assert_eq!(
        count, 726,
        "the six folders of webhooks-examples 7.6.1 hold 726 examples"
    );
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn odd_fields_give_way_with_warnings_and_strict_fails_on_them() {
    let body = br#"{"action": "opened", "issue": {"id": 1, "number": 7, "title": 42},
                    "repository": {"id": 2, "name": "r", "full_name": "o/r"}, "sender": {"id": 3}}"#;
    let lenient = parse(&["--event", "issues"], body);
    assert_eq!(lenient.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&lenient.stdout);
    assert!(stdout.contains("action: opened"), "{stdout}");
    assert!(
        stdout.contains("warning: issue.title: expected a string, found a number; read as None"),
        "{stdout}"
    );

    let strict = parse(&["--event", "issues", "--strict"], body);
    assert_eq!(strict.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(stderr.contains("at "), "{stderr}");

    // An identifying field sinks the event, and the path names the object lacking it.
    let no_number = br#"{"action": "opened", "issue": {"id": 1, "title": "x"}}"#;
    let sunk = parse(&["--event", "issues"], no_number);
    assert_eq!(sunk.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&sunk.stderr);
    assert!(
        stderr.contains("at issue: missing field `number`"),
        "{stderr}"
    );

    let unknown = parse(&["--event", "brand_new_event"], b"{}");
    assert_eq!(unknown.status.code(), Some(3));
    let not_json = parse(&["--event", "issues"], b"[1,");
    assert_eq!(not_json.status.code(), Some(1));
}
