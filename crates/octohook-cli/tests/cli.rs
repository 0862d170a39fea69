//! The `octohook` binary: `serve` against the receiver battery, `sign`, `send`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use octohook_test_battery::SECRET;
use serve::Serve;

mod serve;

const BIN: &str = env!("CARGO_BIN_EXE_octohook");

/// Starts `octohook serve --out OUT EXTRA`, logging warnings only, with its
/// inbox file beside the output, not in the working directory.
fn serve(extra: &[&str], out: &Path) -> Serve {
    let db = out.with_extension("db");
    let mut args = vec!["--out", out.to_str().unwrap(), "--db", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut command = Command::new(BIN);
    command.env("OCTOHOOK_LOG", "warn");
    Serve::start_with(command, &args)
}

fn octohook(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args).env("GITHUB_WEBHOOK_SECRET", SECRET);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_passes_the_battery_and_writes_one_line_per_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("deliveries.jsonl");
    let server = serve(&[], &out);
    let failures = octohook_test_battery::run(server.address(), "/").await;
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // SIGTERM is a clean shutdown.
    server.terminate();

    let text = std::fs::read_to_string(&out).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect();
    // Every GitHub example, the emoji payload and the form payload were accepted.
    let expected = octohook_test_battery::github_examples().len() + 2;
    assert_eq!(records.len(), expected);
    for record in &records {
        for key in [
            "received_at",
            "delivery",
            "hook_id",
            "event",
            "action",
            "target",
            "payload",
        ] {
            assert!(record.get(key).is_some(), "{key} missing in {record}");
        }
        assert_eq!(record["hook_id"], 42);
        assert_eq!(
            record["target"],
            serde_json::json!({"type": "repository", "id": 7})
        );
        assert!(record["payload"].is_object());
    }
    let emoji = records
        .iter()
        .find(|r| {
            r["event"] == "issue_comment"
                && r["payload"]["comment"]["body"]
                    .as_str()
                    .is_some_and(|b| b.contains('🎉'))
        })
        .expect("the emoji payload was recorded");
    assert_eq!(
        emoji["payload"]["comment"]["body"],
        "Ça marche 🎉 — naïve café ✓"
    );
    assert_eq!(emoji["action"], "edited");
    let form = records
        .iter()
        .find(|r| r["payload"]["x"] == "a&b=c+d %")
        .expect("the form payload was decoded");
    assert_eq!(form["event"], "issues");
    let ping = records
        .iter()
        .find(|r| r["event"] == "ping")
        .expect("a ping example");
    assert_eq!(ping["action"], serde_json::Value::Null);
}

#[test]
fn sign_prints_githubs_documented_signature() {
    let mut child = octohook(&["sign"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Hello, World!")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\n"
    );
}

#[test]
fn sign_streams_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("body");
    std::fs::write(&path, b"Hello, World!").unwrap();
    let output = octohook(&["sign"]).arg(&path).output().unwrap();
    assert!(output.status.success());
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .starts_with("sha256=757107ea")
    );
}

#[test]
fn sign_without_secret_fails_without_printing_a_signature() {
    let output = Command::new(BIN)
        .args(["sign", "--secret-env", "OCTOHOOK_TEST_UNSET_VARIABLE"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("OCTOHOOK_TEST_UNSET_VARIABLE"));
}

#[test]
fn send_posts_json_and_form_and_reports_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("deliveries.jsonl");
    let payload = dir.path().join("issues.json");
    std::fs::write(&payload, br#"{"action":"opened","issue":{"number":1}}"#).unwrap();
    let secret_file = dir.path().join("old-secret");
    std::fs::write(&secret_file, "the old secret\n").unwrap();
    let server = serve(&["--secret-file", secret_file.to_str().unwrap()], &out);
    let url = format!("http://{}/", server.address());

    for extra in [&[][..], &["--form"][..]] {
        let status = octohook(&["send", "--url", &url, "--event", "issues"])
            .args(extra)
            .arg(&payload)
            .status()
            .unwrap();
        assert!(status.success(), "send {extra:?}");
    }
    let rotated = octohook(&["send", "--url", &url, "--event", "issues"])
        .env("GITHUB_WEBHOOK_SECRET", "the old secret")
        .arg(&payload)
        .status()
        .unwrap();
    assert!(
        rotated.success(),
        "the secret from --secret-file verifies too"
    );
    let rejected = octohook(&["send", "--url", &url, "--event", "issues"])
        .env("GITHUB_WEBHOOK_SECRET", "a wrong secret")
        .arg(&payload)
        .output()
        .unwrap();
    assert!(!rejected.status.success());
    assert!(String::from_utf8_lossy(&rejected.stdout).starts_with("401 "));
    server.terminate();

    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(lines.lines().count(), 3);
    for line in lines.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(record["payload"]["issue"]["number"], 1);
        assert_eq!(record["action"], "opened");
    }
}

#[test]
fn serve_answers_405_to_other_methods_and_refuses_to_start_without_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&[], &dir.path().join("out.jsonl"));
    let mut stream = std::net::TcpStream::connect(server.address()).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 405"), "{response}");
    drop(server);

    let output = Command::new(BIN)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--secret-env",
            "OCTOHOOK_TEST_UNSET_VARIABLE",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no secret configured"));
}

#[cfg(unix)]
#[test]
fn serve_refuses_secret_variables_too_large_to_pass_on_without_echoing_them() {
    let dir = tempfile::tempdir().unwrap();
    // Past the 64 KiB that can be passed on (and within Linux's 128 KiB for one
    // environment string).
    let secret = format!("{}{}", "s".repeat(64 * 1024), "-tail-of-the-secret");
    let output = octohook(&["serve", "--bind", "127.0.0.1:0", "--no-inbox"])
        .current_dir(dir.path())
        .env("GITHUB_WEBHOOK_SECRET", &secret)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("more than the 65536"), "{stderr}");
    assert!(stderr.contains("use --secret-file"), "{stderr}");
    assert!(!stderr.contains("tail-of-the-secret"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn serve_refuses_a_malformed_hand_over_of_the_secret_variables() {
    // The marker of a restart, with standard input that is no hand-over.
    let mut child = octohook(&["serve", "--bind", "127.0.0.1:0", "--no-inbox"])
        .env("OCTOHOOK_SECRETS_ON_STDIN", "1")
        .env_remove("GITHUB_WEBHOOK_SECRET")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GITHUB_WEBHOOK_SECRET")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("malformed"), "{stderr}");
}
