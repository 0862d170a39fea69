//! The tools around the receiver, through the real binary over 127.0.0.1:
//! completions, byte-size flags, `send --example`, `--json` output and exit codes.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use octohook_test_battery::SECRET;
use serde_json::Value;
use serve::Serve;

mod serve;

const BIN: &str = env!("CARGO_BIN_EXE_octohook");

/// Starts `octohook serve EXTRA` in `dir`, logging warnings only, writing to
/// `dir/out.jsonl` and, unless EXTRA asks for no inbox or one in memory,
/// storing in `dir/inbox.db`.
fn serve(dir: &Path, extra: &[&str]) -> Serve {
    let (db, out) = (dir.join("inbox.db"), dir.join("out.jsonl"));
    let mut args = Vec::new();
    if !extra
        .iter()
        .any(|a| *a == "--no-inbox" || *a == "--memory-inbox")
    {
        args.extend(["--db", db.to_str().unwrap()]);
    }
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    let mut command = Command::new(BIN);
    command.env("OCTOHOOK_LOG", "warn").current_dir(dir);
    Serve::start_with(command, &args)
}

fn octohook(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("GITHUB_WEBHOOK_SECRET", SECRET)
        .env_remove("OCTOHOOK_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The single JSON document a `--json` command printed.
fn json(output: &Output) -> Value {
    let stdout = text(&output.stdout);
    assert_eq!(stdout.lines().count(), 1, "one document: {stdout}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The committed examples file, read independently of the binary.
fn embedded_example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/example-payloads.tsv.gz");
    let mut all = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut all)
        .unwrap();
    all.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}\t")))
        .unwrap_or_else(|| panic!("no example {name}"))
        .to_owned()
}

fn wait_for_file(path: &Path) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(bytes) = std::fs::read(path)
            && !bytes.is_empty()
        {
            return bytes;
        }
        assert!(
            Instant::now() < deadline,
            "{} never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn bash_completions_name_the_subcommands_and_parse() {
    let output = octohook(&["completions", "bash"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let script = text(&output.stdout);
    for command in ["serve", "inbox", "send", "sign", "events", "parse", "hooks"] {
        assert!(script.contains(command), "{command} missing");
    }
    assert!(script.contains("--example"), "flags are completed too");
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), &output.stdout).unwrap();
    match Command::new("bash").arg("-n").arg(path.path()).output() {
        Ok(checked) => assert!(checked.status.success(), "{}", text(&checked.stderr)),
        Err(_) => eprintln!("skipped `bash -n`: no bash"),
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let output = octohook(&["completions", shell]);
        assert!(output.status.success(), "{shell}");
        assert!(text(&output.stdout).contains("octohook"), "{shell}");
    }
    assert_eq!(octohook(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn size_flags_take_binary_and_decimal_units_and_show_their_defaults() {
    let help = text(&octohook(&["serve", "--help"]).stdout);
    assert!(help.contains("[default: 25MiB]"), "{help}");
    assert!(help.contains("[default: 256MiB]"), "{help}");
    for bad in ["1.5MiB", "25 M", "-3", "MiB", "99999999999999999999"] {
        let flag = format!("--max-body={bad}");
        let output = octohook(&["serve", "--bind", "127.0.0.1:0", &flag]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("--max-body"), "{stderr}");
    }
    let output = octohook(&["serve", "--db-size-limit", "2 parsecs"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("unknown unit \"parsecs\""));

    // A 1010-byte body: over 1KB (1000 bytes), under 1KiB (1024 bytes).
    let dir = tempfile::tempdir().unwrap();
    let body = format!(r#"{{"zen":"{}"}}"#, "z".repeat(1000));
    assert_eq!(body.len(), 1010);
    let file = dir.path().join("body.json");
    std::fs::write(&file, &body).unwrap();
    let file = file.to_str().unwrap();
    for (limit, accepted) in [
        ("1KiB", true),
        ("1KB", false),
        ("1 kib", true),
        ("1009", false),
    ] {
        let run = tempfile::tempdir().unwrap();
        let server = serve(run.path(), &["--no-inbox", "--max-body", limit]);
        let sent = octohook(&[
            "send",
            "--url",
            &server.url(),
            "--event",
            "ping",
            "--json",
            file,
        ]);
        let answer = json(&sent);
        if accepted {
            assert_eq!(answer["status"], 200, "{limit}: {answer}");
            assert!(sent.status.success());
        } else {
            assert_eq!(answer["status"], 413, "{limit}: {answer}");
            assert_eq!(sent.status.code(), Some(9), "{limit}");
        }
    }
    let run = tempfile::tempdir().unwrap();
    let _server = serve(run.path(), &["--db-size-limit", "64MiB"]);
}

#[test]
fn send_example_is_accepted_by_serve_and_arrives_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let received = dir.path().join("received.json");
    let exec = format!("cat > '{}'", received.display());
    let server = serve(dir.path(), &["--exec", &exec]);
    let sent = octohook(&[
        "send",
        "--url",
        &server.url(),
        "--example",
        "pull_request.opened",
        "--json",
    ]);
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    let answer = json(&sent);
    assert_eq!(answer["status"], 200);
    assert_eq!(answer["event"], "pull_request");
    let guid = answer["guid"].as_str().unwrap().to_owned();

    let expected = embedded_example("pull_request.opened");
    assert_eq!(text(&wait_for_file(&received)), expected);
    let payload: Value = serde_json::from_str(&expected).unwrap();
    assert_eq!(payload["action"], "opened");

    // The receiver took it as a pull_request event (the header came from the name).
    let listed = octohook(&[
        "inbox",
        "--db",
        dir.path().join("inbox.db").to_str().unwrap(),
        "list",
        "--json",
    ]);
    let rows = json(&listed);
    assert_eq!(rows[0]["guid"], guid.as_str());
    assert_eq!(rows[0]["event"], "pull_request");
    assert_eq!(rows[0]["action"], "opened");

    // An event without actions, by its name alone.
    let ping = octohook(&["send", "--url", &server.url(), "--example", "ping"]);
    assert!(ping.status.success(), "{}", text(&ping.stderr));
    assert!(text(&ping.stdout).starts_with("200 "));
}

#[test]
fn send_example_with_an_unknown_name_suggests_close_ones() {
    let output = octohook(&[
        "send",
        "--url",
        "http://127.0.0.1:9/",
        "--example",
        "pull_request.opend",
    ]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("pull_request.opened"), "{stderr}");
    assert!(stderr.contains("octohook events --examples"), "{stderr}");
    assert!(output.stdout.is_empty());
    // A file and an example at once is a usage error.
    let both = octohook(&[
        "send",
        "--url",
        "http://127.0.0.1:9/",
        "--example",
        "ping",
        "x.json",
    ]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn send_exits_9_when_the_receiver_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--memory-inbox"]);
    let output = Command::new(BIN)
        .args([
            "send",
            "--url",
            &server.url(),
            "--example",
            "issues.opened",
            "--json",
        ])
        .env("GITHUB_WEBHOOK_SECRET", "not the receiver's secret")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(9), "{}", text(&output.stderr));
    let answer = json(&output);
    assert_eq!(answer["status"], 401);
    assert!(
        answer["response_body"]
            .as_str()
            .unwrap()
            .contains("signature")
    );
    // Unreachable is a plain failure, not a refusal.
    drop(server);
    let unreachable = octohook(&["send", "--url", "http://127.0.0.1:9/", "--example", "ping"]);
    assert_eq!(unreachable.status.code(), Some(1));
}

/// A receiver that accepts the connection and never answers: `send` gives up
/// after `--timeout`, exits 1 as for an unreachable receiver, and says why.
#[test]
fn send_gives_up_on_a_silent_receiver_after_its_timeout() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", silent.local_addr().unwrap());
    // Accepted connections are kept open, unanswered, until the test ends.
    let held = std::thread::spawn(move || silent.accept().map(|(stream, _)| stream));
    let started = Instant::now();
    let mut send = Command::new(BIN)
        .args([
            "send",
            "--url",
            &url,
            "--example",
            "ping",
            "--timeout",
            "1s",
        ])
        .env("GITHUB_WEBHOOK_SECRET", SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while send.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = send.kill();
            panic!("send still waits after 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = send.wait_with_output().unwrap();
    let took = started.elapsed();
    assert!(held.join().unwrap().is_ok(), "send never connected");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot send to {url}: no answer within 1s (--timeout)"
        )),
        "{stderr}"
    );
    assert!(took >= Duration::from_secs(1), "{took:?}");
}

#[test]
fn events_lists_supported_pairs_and_examples_as_text_and_json() {
    for extra in [&[][..], &["--examples"][..]] {
        let plain = octohook(&[&["events"][..], extra].concat());
        assert!(plain.status.success());
        let names: Vec<String> = text(&plain.stdout).lines().map(str::to_owned).collect();
        assert!(names.len() > 100, "{extra:?}: {}", names.len());
        assert!(names.iter().any(|n| n == "pull_request.opened"));
        assert!(names.iter().any(|n| n == "ping"));
        let listed = json(&octohook(&[&["events", "--json"][..], extra].concat()));
        let rows = listed.as_array().unwrap();
        assert_eq!(rows.len(), names.len(), "{extra:?}");
        for (row, name) in rows.iter().zip(&names) {
            assert_eq!(row["name"], name.as_str());
            match name.split_once('.') {
                Some((event, action)) => {
                    assert_eq!(row["event"], event);
                    assert_eq!(row["action"], action);
                }
                None => {
                    assert_eq!(row["event"], name.as_str());
                    assert_eq!(row["action"], Value::Null);
                }
            }
        }
    }
}

#[test]
fn parse_and_sign_print_json() {
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("pr.json");
    std::fs::write(&payload, embedded_example("pull_request.opened")).unwrap();
    let payload = payload.to_str().unwrap();
    let parsed = octohook(&["parse", "--event", "pull_request", "--json", payload]);
    assert!(parsed.status.success(), "{}", text(&parsed.stderr));
    let document = json(&parsed);
    assert_eq!(document["event"], "pull_request");
    assert_eq!(document["known"], true);
    assert_eq!(document["variant"], "PullRequest");
    assert_eq!(document["action"], "opened");
    assert!(
        document["summary"]
            .as_str()
            .unwrap()
            .starts_with("pull_request.opened ")
    );
    assert_eq!(document["warnings"], serde_json::json!([]));

    let partial = dir.path().join("partial.json");
    std::fs::write(
        &partial,
        r#"{"action":"opened","number":1,"pull_request":{"id":1,"number":1}}"#,
    )
    .unwrap();
    let document = json(&octohook(&[
        "parse",
        "--event",
        "pull_request",
        "--json",
        partial.to_str().unwrap(),
    ]));
    assert!(!document["warnings"].as_array().unwrap().is_empty());

    let unknown = octohook(&["parse", "--event", "not_an_event", "--json", payload]);
    assert_eq!(unknown.status.code(), Some(3));
    let document = json(&unknown);
    assert_eq!(document["known"], false);
    assert_eq!(document["variant"], Value::Null);

    let mut child = Command::new(BIN)
        .args(["sign", "--json"])
        .env("GITHUB_WEBHOOK_SECRET", SECRET)
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
    let signed = child.wait_with_output().unwrap();
    assert!(signed.status.success());
    assert_eq!(
        json(&signed),
        serde_json::json!({
            "header": "X-Hub-Signature-256",
            "signature": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        })
    );
}

#[test]
fn inbox_retry_and_purge_print_json_counts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    {
        let server = serve(dir.path(), &[]);
        let sent = octohook(&["send", "--url", &server.url(), "--example", "ping"]);
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let listed = octohook(&[
                "inbox",
                "--db",
                db.to_str().unwrap(),
                "list",
                "--status",
                "done",
                "--json",
            ]);
            if json(&listed).as_array().is_some_and(|rows| rows.len() == 1) {
                break;
            }
            assert!(Instant::now() < deadline, "never processed");
            std::thread::sleep(Duration::from_millis(25));
        }
    }
    let db = db.to_str().unwrap();
    let retried = octohook(&["inbox", "--db", db, "retry", "--status", "done", "--json"]);
    assert!(retried.status.success(), "{}", text(&retried.stderr));
    assert_eq!(json(&retried), serde_json::json!({"requeued": 1}));
    let shown = json(&octohook(&["inbox", "--db", db, "show", "1", "--json"]));
    assert_eq!(shown["status"], "pending");
    assert!(shown["payload"]["zen"].is_string(), "{shown}");
    let purged = octohook(&[
        "inbox",
        "--db",
        db,
        "purge",
        "--older-than",
        "0s",
        "--status",
        "pending",
        "--yes",
        "--json",
    ]);
    assert!(purged.status.success(), "{}", text(&purged.stderr));
    assert_eq!(json(&purged), serde_json::json!({"purged": 1}));
}
