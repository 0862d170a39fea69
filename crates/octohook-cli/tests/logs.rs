//! What `octohook serve` writes on standard error, through the real binary over
//! loopback: bounded however many hostile requests arrive, and nothing but JSON
//! lines with `--log-format json`, from startup to shutdown and errors at exit.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use octohook_test_battery::{SECRET, TestDelivery};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_octohook");
const PATIENCE: Duration = Duration::from_secs(20);

/// How many hostile requests the flood sends: the red team's 3,000 in a
/// release build. A debug build of hyper parses a 400 KiB head about 20 times
/// slower, so there it sends 300, which are 120 MB of logs without the
/// bounds, and still several seconds of them with the rate limit.
const FLOOD: usize = if cfg!(debug_assertions) { 300 } else { 3000 };
/// The length of their `X-GitHub-Delivery`: within hyper's limit on a request
/// head (about 408 KiB), as an attacker would choose it.
const GUID_LEN: usize = 400 * 1024;
/// Connections the flood is sent over, each kept alive.
const CONNECTIONS: usize = 4;

/// A running `octohook serve` whose standard error goes to a file; killed
/// when dropped.
struct Served {
    child: Child,
    stderr: PathBuf,
    address: SocketAddr,
    admin: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Served {
    /// Starts `octohook serve` with an SQLite inbox and `--admin-bind`, as the
    /// red team ran it, plus `args`.
    fn start(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stderr = dir.path().join("stderr.log");
        let db = dir.path().join("inbox.db");
        let child = Command::new(BIN)
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--admin-bind",
                "127.0.0.1:0",
            ])
            .arg("--db")
            .arg(&db)
            .args(args)
            .env("GITHUB_WEBHOOK_SECRET", SECRET)
            .env_remove("OCTOHOOK_DATABASE_URL")
            .env_remove("OCTOHOOK_LOG")
            .env_remove("OCTOHOOK_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("octohook starts");
        let deadline = Instant::now() + PATIENCE;
        let (address, admin) = loop {
            let text = std::fs::read_to_string(&stderr).unwrap_or_default();
            let found = |marker: &str| {
                text.split_once(marker)
                    .and_then(|(_, rest)| rest.split('/').next()?.parse::<SocketAddr>().ok())
            };
            if let (Some(address), Some(admin)) = (
                found("listening on http://"),
                found("admin endpoints at http://"),
            ) {
                break (address, admin);
            }
            assert!(
                Instant::now() < deadline,
                "serve did not say where it listens:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Self {
            child,
            stderr,
            address,
            admin,
            _dir: dir,
        }
    }

    fn log_len(&self) -> u64 {
        std::fs::metadata(&self.stderr).unwrap().len()
    }

    fn log(&self) -> String {
        read_log(&self.stderr)
    }

    /// SIGTERM; waits for the exit and returns its standard error.
    fn terminate(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let log = self.log();
        assert!(exit.success(), "serve exited with {exit}:\n{log}");
        log
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_log(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

/// One request with an empty body and `extra` headers (each ending in CRLF).
fn hostile_request(guid: &str, event: &str, extra: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nhost: 127.0.0.1\r\nx-github-event: {event}\r\n\
         x-github-delivery: {guid}\r\ncontent-type: application/json\r\n\
         {extra}content-length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Reads one response off `stream`; its status.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> u16 {
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
        let mut chunk = [0; 4096];
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "the connection closed before an answer");
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .map_or(0, |value| value.trim().parse().unwrap());
    while buffer.len() < head_end + length {
        let mut chunk = [0; 4096];
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "the connection closed within an answer");
        buffer.extend_from_slice(&chunk[..read]);
    }
    buffer.drain(..head_end + length);
    status
}

/// Sends [`FLOOD`] unsigned requests with a [`GUID_LEN`]-byte
/// `X-GitHub-Delivery`, refused with 401 (no signature), and, one in a
/// hundred, a request with a forged signature, a valid GUID and a tab and a
/// fake field in `X-GitHub-Event`, refused with 400; over [`CONNECTIONS`]
/// kept-alive connections.
async fn flood(address: SocketAddr) {
    let long = hostile_request(&"g".repeat(GUID_LEN), "push", "");
    let forged = format!("x-hub-signature-256: sha256={}\r\n", "0".repeat(64));
    let tabbed = hostile_request("flood-tab", "push\tinjected=yes", &forged);
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (long, tabbed) = (long.clone(), tabbed.clone());
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(address).await.unwrap();
                let mut buffer = Vec::new();
                for n in 0..FLOOD / CONNECTIONS {
                    let (request, expected) = if n % 100 == 0 {
                        (&tabbed, 400)
                    } else {
                        (&long, 401)
                    };
                    stream.write_all(request).await.unwrap();
                    let status = read_response(&mut stream, &mut buffer).await;
                    assert_eq!(status, expected, "request {n}");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// Posts `delivery`; the status.
async fn post(address: SocketAddr, delivery: &TestDelivery) -> u16 {
    let (status, _) = delivery
        .send(
            &octohook_test_battery::http_client(),
            &format!("http://{address}/"),
        )
        .await
        .unwrap();
    status
}

fn unsigned() -> TestDelivery {
    TestDelivery::json("push", b"{}".to_vec())
        .without("x-hub-signature-256")
        .without("x-hub-signature")
}

/// The flood grows the log by less than a megabyte: each line bounded, and
/// past 10 a second, one line counting the rest.
async fn flood_grows_the_log_by_less_than_a_megabyte(format: &str) {
    let served = Served::start(&["--log-format", format]);
    let before = served.log_len();
    let started = Instant::now();
    flood(served.address).await;
    let took = started.elapsed();
    // A rejection in a later second writes the summary of the last one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(post(served.address, &unsigned()).await, 401);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let grown = served.log_len() - before;
    eprintln!("{format}: {FLOOD} hostile requests in {took:.1?} grew the log by {grown} bytes");
    let log = served.terminate();
    assert!(grown < 1_000_000, "{grown} bytes:\n{log}");
    for line in log.lines() {
        assert!(line.len() < 1024, "a {}-byte line", line.len());
        assert!(!line.contains("\tinjected=yes"), "{line}");
        assert!(!line.contains(&"g".repeat(100)), "{}", &line[..200]);
    }
    assert!(log.contains("rejected webhook delivery"), "{log}");
    assert!(
        log.contains("rejection log lines in the last 1s"),
        "no summary in:\n{log}"
    );
    assert!(log.contains("missing_signature:"), "{log}");
    if format == "json" {
        for line in log.lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|error| panic!("{error}: {line}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_hostile_headers_grows_the_text_log_by_less_than_a_megabyte() {
    flood_grows_the_log_by_less_than_a_megabyte("text").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_hostile_headers_grows_the_json_log_by_less_than_a_megabyte() {
    flood_grows_the_log_by_less_than_a_megabyte("json").await;
}

/// Every line of `log` as JSON; panics on one that is not.
fn json_lines(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect()
}

fn messages(records: &[serde_json::Value]) -> Vec<String> {
    records
        .iter()
        .filter_map(|record| record["fields"]["message"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn json_logs_are_json_from_startup_to_shutdown() {
    let served = Served::start(&["--log-format", "json"]);
    let accepted = TestDelivery::json("ping", br#"{"zen":"Speak like a human."}"#.to_vec());
    assert_eq!(post(served.address, &accepted).await, 200);
    assert_eq!(post(served.address, &unsigned()).await, 401);
    // Signed, a tab in X-GitHub-Event is refused by the core itself.
    let tabbed = TestDelivery::json("push", b"{}".to_vec())
        .with_header("x-github-event", "push\tinjected=yes");
    assert_eq!(post(served.address, &tabbed).await, 400);
    let health = octohook_test_battery::http_client()
        .get(format!("http://{}/healthz", served.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // Let the worker write its line.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = served.terminate();
    let messages = messages(&json_lines(&log));
    for expected in [
        "listening on http://",
        "admin endpoints at http://",
        "stored delivery",
        "rejected webhook delivery",
        "stopped",
    ] {
        assert!(
            messages.iter().any(|message| message.starts_with(expected)),
            "no {expected:?} in {messages:#?}"
        );
    }
}

/// A payload's `action` is logged ("stored delivery"); with U+202E in it, a
/// terminal showing the JSON log would reorder the line. It is written as
/// `\u202e`, and the line still decodes to the action received.
#[tokio::test]
async fn json_logs_escape_a_bidi_override_in_a_logged_field() {
    const ACTION: &str = "\u{202e}denepo";
    let served = Served::start(&["--log-format", "json"]);
    let body = serde_json::json!({ "action": ACTION, "zen": "Keep it logically awesome." });
    let delivery = TestDelivery::json("issues", body.to_string().into_bytes());
    assert_eq!(post(served.address, &delivery).await, 200);
    let log = served.terminate();
    assert!(!log.contains('\u{202e}'), "{log}");
    let stored = json_lines(&log)
        .into_iter()
        .find(|record| record["fields"]["message"] == "stored delivery")
        .unwrap_or_else(|| panic!("no stored delivery in {log}"));
    assert_eq!(stored["fields"]["action"], ACTION, "{stored}");
    assert!(log.contains(r"\u202edenepo"), "{log}");
}

#[test]
fn an_error_at_exit_is_a_json_line_too() {
    // The address is taken: serve cannot listen and exits with 1.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = Command::new(BIN)
        .args([
            "--log-format",
            "json",
            "serve",
            "--no-inbox",
            "--bind",
            &address,
        ])
        .env("GITHUB_WEBHOOK_SECRET", SECRET)
        .env_remove("OCTOHOOK_DATABASE_URL")
        .env_remove("OCTOHOOK_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let log = String::from_utf8(output.stderr).unwrap();
    let records = json_lines(&log);
    let last = records.last().unwrap_or_else(|| panic!("no line: {log}"));
    assert_eq!(last["level"], "ERROR", "{log}");
    let message = last["fields"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("cannot listen on {address}")),
        "{message}"
    );
    // In text, the same error is the friendly line.
    let output = Command::new(BIN)
        .args(["serve", "--no-inbox", "--bind", &address])
        .env("GITHUB_WEBHOOK_SECRET", SECRET)
        .env_remove("OCTOHOOK_DATABASE_URL")
        .env_remove("OCTOHOOK_LOG_FORMAT")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(
        text.lines()
            .any(|line| line.starts_with(&format!("octohook: cannot listen on {address}"))),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_passes_the_log_bounds_battery() {
    let served = Served::start(&[]);
    let stderr = served.stderr.clone();
    let log = move || read_log(&stderr);
    let failures = octohook_test_battery::check_log_bounds(served.address, "/", &log).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
