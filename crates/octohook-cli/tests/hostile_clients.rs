//! `octohook serve` against hostile clients (slow, idle, oversized, malformed,
//! downgrading), its logs at TRACE level checked for the secret and the expected
//! signatures, and its graceful shutdown with the connections it keeps.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use octohook_test_battery::{AdversarialOptions, SECRET, TestDelivery};

const BIN: &str = env!("CARGO_BIN_EXE_octohook");

/// A running `octohook serve` logging at TRACE level, whose standard output and
/// standard error are both kept; killed when dropped.
struct TracedServe {
    child: Child,
    address: SocketAddr,
    output: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

impl TracedServe {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0"])
            // Every rejection logged: all of them are checked for leaks.
            .args(["--rejection-log-rate", "1000000"])
            .args(args)
            .env("GITHUB_WEBHOOK_SECRET", SECRET)
            .env("OCTOHOOK_LOG", "trace")
            .env_remove("OCTOHOOK_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("octohook starts");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (found, address) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let readers = vec![
            keep_lines(stdout, Arc::clone(&output), None),
            keep_lines(stderr, Arc::clone(&output), Some(found)),
        ];
        let Ok(address) = address.recv_timeout(Duration::from_secs(20)) else {
            let _ = child.kill();
            panic!(
                "octohook serve did not start:\n{}",
                output.lock().unwrap().join("\n")
            );
        };
        Self {
            child,
            address,
            output,
            readers,
        }
    }

    /// Sends SIGTERM without waiting.
    fn signal_terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGTERM; waits for a clean exit and returns everything it printed.
    fn terminate(self) -> String {
        self.signal_terminate();
        self.finish()
    }

    /// Waits for a clean exit and returns everything it printed.
    fn finish(mut self) -> String {
        let exit = self.child.wait().unwrap();
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        let output = self.output.lock().unwrap().join("\n");
        assert!(exit.success(), "serve exited with {exit}:\n{output}");
        output
    }
}

impl Drop for TracedServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Keeps every line of `stream`; sends the address once it says where it listens.
fn keep_lines(
    stream: impl Read + Send + 'static,
    output: Arc<Mutex<Vec<String>>>,
    found: Option<mpsc::Sender<SocketAddr>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut found = found;
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("octohook: listening on http://") {
                let address = rest.split('/').next().unwrap().parse().unwrap();
                if let Some(found) = found.take() {
                    let _ = found.send(address);
                }
            }
            output.lock().unwrap().push(line);
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_withstands_hostile_clients_and_logs_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    // The whole battery with the default read timeout; the hostile clients against
    // a 1 s one; the downgrade cases with SHA-1 enabled.
    let battery = TracedServe::start(&["--db", &db("battery.db")]);
    let hostile = TracedServe::start(&["--db", &db("hostile.db"), "--read-timeout", "1s"]);
    let sha1 = TracedServe::start(&["--no-inbox", "--allow-sha1", "--read-timeout", "1s"]);

    let mut failures = octohook_test_battery::run(battery.address, "/").await;
    let started = Instant::now();
    let options = AdversarialOptions::new(Duration::from_secs(1));
    failures.extend(octohook_test_battery::run_adversarial(hostile.address, "/", &options).await);
    eprintln!("adversarial battery: {:.1?}", started.elapsed());
    failures.extend(octohook_test_battery::run_downgrade(sha1.address, "/", true).await);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );

    let output = [battery.terminate(), hostile.terminate(), sha1.terminate()].join("\n");
    for expected in [
        "rejected webhook delivery",
        "status=401",
        "status=408",
        "accepted delivery",
        " DEBUG ",
        "\"delivery\":",
    ] {
        assert!(
            output.contains(expected),
            "no {expected:?} in the output:\n{output}"
        );
    }
    // Both signatures of every body sent were recorded, and none appears.
    let sent = octohook_test_battery::sent_signatures().len();
    assert!(
        sent > 2 * octohook_test_battery::github_examples().len(),
        "{sent}"
    );
    let leaks = octohook_test_battery::find_leaks(&output);
    assert!(leaks.is_empty(), "the output leaks {}", leaks.join(", "));
}

/// Reads a response head (the responses here have no body).
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Reads until the server closes the connection.
fn read_to_close(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

fn raw_head(delivery: &TestDelivery) -> String {
    let mut head = "POST / HTTP/1.1\r\nhost: 127.0.0.1\r\n".to_owned();
    for (name, value) in delivery.headers() {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\n\r\n",
        delivery.body().len()
    ));
    head
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_drops_idle_connections() {
    let serve = TracedServe::start(&["--no-inbox", "--read-timeout", "5s"]);
    let delivery = TestDelivery::json("push", br#"{"ref":"refs/heads/main"}"#.to_vec());
    let (first, rest) = delivery.body().split_at(8);

    // An idle keep-alive connection, a silent one, and a delivery half sent.
    let mut idle = TcpStream::connect(serve.address).unwrap();
    let warm_up = TestDelivery::json("ping", br#"{"zen":"Keep it logically awesome."}"#.to_vec());
    idle.write_all(raw_head(&warm_up).as_bytes()).unwrap();
    idle.write_all(warm_up.body()).unwrap();
    let head = read_head(&mut idle);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("content-length: 0\r\n"), "{head}");
    let mut silent = TcpStream::connect(serve.address).unwrap();
    let mut in_flight = TcpStream::connect(serve.address).unwrap();
    in_flight.write_all(raw_head(&delivery).as_bytes()).unwrap();
    in_flight.write_all(first).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    serve.signal_terminate();
    let signalled = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    let refused = TcpStream::connect(serve.address);
    assert!(refused.is_err(), "still accepting after SIGTERM");
    in_flight.write_all(rest).unwrap();
    let response = read_to_close(&mut in_flight);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // The idle and silent connections were closed without an answer.
    assert_eq!(read_to_close(&mut idle), "");
    assert_eq!(read_to_close(&mut silent), "");

    let output = serve.finish();
    assert!(
        signalled.elapsed() < Duration::from_secs(3),
        "exit took {:.1?}",
        signalled.elapsed()
    );
    let line = output
        .lines()
        .find(|line| line.contains(delivery.guid()) && line.starts_with('{'))
        .unwrap_or_else(|| panic!("no record of the delivery in flight:\n{output}"));
    delivery.expect_record(line).unwrap();
}

#[test]
fn read_timeout_must_be_a_positive_duration() {
    for (value, complaint) in [("0s", "must not be zero"), ("soon", "soon")] {
        let output = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0", "--read-timeout", value])
            .env("GITHUB_WEBHOOK_SECRET", SECRET)
            .output()
            .unwrap();
        assert!(!output.status.success(), "--read-timeout {value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(complaint), "{stderr}");
    }
}
