//! What the `octohook` binary must not let out, through the real binary: the
//! `--forward` URL's credentials in an `--exec` child's environment, a URL's
//! password in `send`'s errors, a stranger's terminal escapes in `inbox show`;
//! and the secret it must not refuse or change silently (a long one in the
//! variable, one that ends in a newline).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use octohook_test_battery::SECRET;
use serve::Serve;

mod serve;

const BIN: &str = env!("CARGO_BIN_EXE_octohook");

/// Runs `octohook ARGS` with the secret `secret` in `GITHUB_WEBHOOK_SECRET`.
fn octohook(args: &[&str], secret: &str) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("OCTOHOOK_DATABASE_URL")
        .env("GITHUB_WEBHOOK_SECRET", secret)
        .stdin(Stdio::null())
        .output()
        .expect("octohook runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Waits up to 20 s for `path` to exist and be written.
fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(100));
    std::fs::read_to_string(path).unwrap()
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A forward target: answers every request 200 and passes its head on.
fn forward_target() -> (SocketAddr, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (heads, received) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let head = read_request(&mut stream);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if heads.send(head).is_err() {
                break;
            }
        }
    });
    (address, received)
}

/// Reads one request: returns its head, after reading its body.
fn read_request(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut bytes = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return text(&bytes),
            Ok(read) => bytes.extend_from_slice(&chunk[..read]),
        }
    };
    let head = text(&bytes[..head_end]);
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while bytes.len() < head_end + 4 + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(read) => bytes.extend_from_slice(&chunk[..read]),
        }
    }
    head
}

/// Writes `payload` to a file in `dir` and posts it to `url` with `octohook send`.
fn send(dir: &Path, url: &str, payload: &[u8], secret: &str) -> Output {
    let file = dir.join("payload.json");
    std::fs::write(&file, payload).unwrap();
    octohook(
        &[
            "send",
            "--url",
            url,
            "--event",
            "issues",
            file.to_str().unwrap(),
        ],
        secret,
    )
}

#[cfg(target_os = "linux")]
#[test]
fn an_exec_child_finds_no_forward_credentials_and_no_octohook_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let probe = dir.path().join("probe");
    std::fs::create_dir(&probe).unwrap();
    let (target, forwarded) = forward_target();
    let forward = format!("http://forwarder:pw-of-the-forward@{target}/hooks");
    let quoted = format!("'{}'", probe.display());
    // The child's own environment, and its parent's initial one.
    let exec =
        format!("tr '\\0' '\\n' < /proc/$PPID/environ > {quoted}/parent && env > {quoted}/own");
    let serve = Serve::start_with_env(
        &[
            "--db",
            dir.path().join("inbox.db").to_str().unwrap(),
            "--out",
            "/dev/null",
            "--exec",
            &exec,
        ],
        &[
            ("OCTOHOOK_FORWARD", forward.as_str()),
            ("OCTOHOOK_RETRY_BACKOFF", "1s"),
        ],
    );
    let sent = send(dir.path(), &serve.url(), br#"{"action":"opened"}"#, SECRET);
    assert!(sent.status.success(), "{}", text(&sent.stderr));

    let own = wait_for_file(&probe.join("own"));
    let parent = wait_for_file(&probe.join("parent"));
    // What was read is real: the delivery's variables, the parent's others.
    assert!(own.contains("OCTOHOOK_EVENT=issues"), "{own}");
    assert!(parent.contains("OCTOHOOK_RETRY_BACKOFF=1s"), "{parent}");
    // octohook's configuration stays with octohook.
    assert!(!own.contains("OCTOHOOK_RETRY_BACKOFF"), "{own}");
    assert!(!own.contains("OCTOHOOK_LOG"), "{own}");
    for environ in [&own, &parent] {
        assert!(!environ.contains("OCTOHOOK_FORWARD"), "{environ}");
        assert!(!environ.contains("pw-of-the-forward"), "{environ}");
        assert!(!environ.contains("GITHUB_WEBHOOK_SECRET"), "{environ}");
        assert!(!environ.contains(SECRET), "{environ}");
    }

    // The URL taken out of the environment is still the one forwarded to, with
    // its credentials as Basic authentication ("forwarder:pw-of-the-forward").
    let head = forwarded
        .recv_timeout(Duration::from_secs(20))
        .expect("the delivery is forwarded");
    assert!(head.starts_with("POST /hooks "), "{head}");
    assert!(
        head.to_ascii_lowercase().contains(
            "authorization: basic Zm9yd2FyZGVyOnB3LW9mLXRoZS1mb3J3YXJk"
                .to_ascii_lowercase()
                .as_str()
        ),
        "{head}"
    );
    let log = serve.log();
    assert!(log.contains("http://***@127.0.0.1"), "{log}");
    assert!(!log.contains("pw-of-the-forward"), "{log}");
}

#[test]
fn send_errors_name_the_flag_and_the_cause_and_never_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("payload.json");
    std::fs::write(&payload, br#"{"action":"opened"}"#).unwrap();
    let payload = payload.to_str().unwrap();

    let port = closed_port();
    let url = format!("http://sender:hunter2-password@127.0.0.1:{port}/hooks");
    let closed = octohook(
        &["send", "--url", &url, "--event", "issues", payload],
        SECRET,
    );
    let stderr = text(&closed.stderr);
    assert_eq!(closed.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(
        stderr.contains(&format!("http://***@127.0.0.1:{port}/hooks")),
        "{stderr}"
    );
    assert!(
        stderr.to_ascii_lowercase().contains("connection refused"),
        "{stderr}"
    );

    let good_url = format!("http://127.0.0.1:{port}/");
    let bad_delivery = octohook(
        &[
            "send",
            "--url",
            &good_url,
            "--event",
            "issues",
            "--delivery",
            "a-guid\r\nx-injected: 1",
            payload,
        ],
        SECRET,
    );
    let stderr = text(&bad_delivery.stderr);
    assert_eq!(bad_delivery.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--delivery"), "{stderr}");
    assert!(stderr.contains("visible ASCII"), "{stderr}");
    assert!(!stderr.contains("builder error"), "{stderr}");

    for without_scheme in [
        format!("127.0.0.1:{port}/hooks"),
        format!("localhost:{port}"),
        format!("sender:hunter2-password@127.0.0.1:{port}/"),
    ] {
        let output = octohook(
            &[
                "send",
                "--url",
                &without_scheme,
                "--event",
                "issues",
                payload,
            ],
            SECRET,
        );
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{without_scheme}: {stderr}");
        assert!(
            stderr.contains("--url must start with http:// or https://"),
            "{without_scheme}: {stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
}

#[test]
fn a_secret_that_ends_in_a_newline_is_used_as_is_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body");
    std::fs::write(&body, b"{}").unwrap();
    let body = body.to_str().unwrap();

    let typed = octohook(&["sign", body], "the secret");
    assert!(typed.status.success());
    assert!(
        !text(&typed.stderr).contains("line break"),
        "{}",
        text(&typed.stderr)
    );
    let echoed = octohook(&["sign", body], "the secret\n");
    let stderr = text(&echoed.stderr);
    assert!(echoed.status.success(), "{stderr}");
    assert!(
        stderr.contains("GITHUB_WEBHOOK_SECRET ends in a line break (\\n)"),
        "{stderr}"
    );
    // Used as is: GitHub would sign with the newline too, had it been typed.
    assert_ne!(typed.stdout, echoed.stdout);

    let sent = send(
        dir.path(),
        &format!("http://127.0.0.1:{}/", closed_port()),
        b"{}",
        "the secret\r\n",
    );
    let stderr = text(&sent.stderr);
    assert!(stderr.contains("ends in a line break (\\r\\n)"), "{stderr}");
    assert!(!stderr.contains("the secret\r"), "{stderr}");

    // serve warns once per source: the variable, and a file whose one trailing
    // newline is dropped as editors add it, but not a second one.
    let typed_file = dir.path().join("typed");
    std::fs::write(&typed_file, "old secret\n").unwrap();
    let padded_file = dir.path().join("padded");
    std::fs::write(&padded_file, "older secret\n\n").unwrap();
    let serve = Serve::start_with_env(
        &[
            "--no-inbox",
            "--out",
            "/dev/null",
            "--secret-file",
            typed_file.to_str().unwrap(),
            "--secret-file",
            padded_file.to_str().unwrap(),
        ],
        &[("GITHUB_WEBHOOK_SECRET", "the secret \t")],
    );
    let log = serve.log();
    assert!(
        log.contains("environment variable GITHUB_WEBHOOK_SECRET ends in white space"),
        "{log}"
    );
    assert!(
        log.contains(&format!("{} ends in a line break", padded_file.display())),
        "{log}"
    );
    assert!(
        !log.contains(&format!("{} ends", typed_file.display())),
        "{log}"
    );
}

#[cfg(unix)]
#[test]
fn a_10_kib_secret_in_the_variable_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let long: String = (0..10 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let serve = Serve::start_with_env(
        &["--no-inbox", "--out", "/dev/null"],
        &[("GITHUB_WEBHOOK_SECRET", long.as_str())],
    );
    let accepted = send(dir.path(), &serve.url(), br#"{"action":"opened"}"#, &long);
    assert!(
        accepted.status.success(),
        "{}{}",
        text(&accepted.stdout),
        text(&accepted.stderr)
    );
    assert!(text(&accepted.stdout).starts_with("200 "));
    let refused = send(dir.path(), &serve.url(), br#"{"action":"opened"}"#, SECRET);
    assert!(
        text(&refused.stdout).starts_with("401 "),
        "{}",
        text(&refused.stdout)
    );
}

#[test]
fn inbox_show_escapes_a_strangers_control_characters_and_json_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let db = db.to_str().unwrap();
    let serve = Serve::start_with_env(&["--db", db, "--out", "/dev/null"], &[]);
    // JSON escapes that decode to ESC (a colour, a window title), BEL, and the
    // C1 CSI that serde_json writes raw.
    let payload = br#"{"action":"\u001b[31mopened\u001b]0;owned\u0007","note":"\u009b2J\r\u007f"}"#;
    let sent = send(dir.path(), &serve.url(), payload, SECRET);
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    drop(serve);

    let shown = octohook(&["inbox", "show", "1", "--db", db], SECRET);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    let stdout = text(&shown.stdout);
    for raw in ['\u{1b}', '\u{7}', '\u{9b}', '\r', '\u{7f}'] {
        assert!(!stdout.contains(raw), "{raw:?} printed raw:\n{stdout:?}");
    }
    assert!(
        stdout.contains("event:       issues.\\u001b[31mopened\\u001b]0;owned\\u0007"),
        "{stdout}"
    );
    assert!(stdout.contains(r#""note": "\u009b2J\r\u007f""#), "{stdout}");

    let json = octohook(&["inbox", "show", "1", "--db", db, "--json"], SECRET);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        value["payload"]["action"],
        "\u{1b}[31mopened\u{1b}]0;owned\u{7}"
    );
    assert_eq!(value["payload"]["note"], "\u{9b}2J\r\u{7f}");
    assert_eq!(value["action"], "\u{1b}[31mopened\u{1b}]0;owned\u{7}");
}

/// clap repeats values in its errors; a password on the command line (or in
/// a variable clap reads) is never among them, and the error still says what
/// is wrong.
#[test]
fn usage_errors_never_repeat_a_password_given() {
    const PASSWORD: &str = "pw-given-in-args";
    let url = format!("postgres://u:{PASSWORD}@127.0.0.1/x");
    let broker = format!("nats://u:{PASSWORD}@127.0.0.1:4222/?no-such-option=1");
    let dsn = format!("host=127.0.0.1 password={PASSWORD}");
    let typo = format!("--databse-url={url}");
    // The arguments, the variables, and what the error must still say.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case<'_>; 7] = [
        (
            &["serve", "--database-url", &url, "--some-bad-flag"],
            &[],
            "unexpected argument '--some-bad-flag'",
        ),
        (
            &["serve", &url],
            &[],
            "unexpected argument 'postgres://***@127.0.0.1/x'",
        ),
        (
            &["serve", "--db-size-limit", &url],
            &[],
            "invalid value 'postgres://***@127.0.0.1/x' for '--db-size-limit <SIZE>'",
        ),
        (
            &["serve", &typo],
            &[],
            "unexpected argument '--databse-url'",
        ),
        (
            &["serve", "--publish", &broker],
            &[],
            "invalid value for '--publish <URL>'",
        ),
        (
            &["inbox", "list", "--database-url", &dsn, "--bogus"],
            &[],
            "unexpected argument '--bogus'",
        ),
        (
            &["serve", "--memory-inbox"],
            &[("OCTOHOOK_DB_SIZE_LIMIT", &url)],
            "invalid value 'postgres://***@127.0.0.1/x'",
        ),
    ];
    for (args, env, expected) in cases {
        let output = Command::new(BIN)
            .args(args)
            .env_remove("OCTOHOOK_DATABASE_URL")
            .envs(env.iter().copied())
            .env("GITHUB_WEBHOOK_SECRET", SECRET)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            !stdout.contains(PASSWORD) && !stderr.contains(PASSWORD),
            "{args:?}: {stdout}{stderr}"
        );
        assert!(
            stderr.starts_with("error: ") && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn serve_help_shows_neither_url_variable() {
    let output = Command::new(BIN)
        .args(["serve", "--help"])
        .env(
            "OCTOHOOK_FORWARD",
            "http://forwarder:pw-in-help@127.0.0.1:1/",
        )
        .env(
            "OCTOHOOK_DATABASE_URL",
            "postgres://u:db-pw-in-help@127.0.0.1/test",
        )
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    assert!(output.status.success());
    assert!(stdout.contains("[env: OCTOHOOK_FORWARD]"), "{stdout}");
    assert!(!stdout.contains("pw-in-help"), "{stdout}");
}
