//! A receiver binary (an example, `octohook serve`) started for a test.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::{SECRET, TestDelivery};

const PATIENCE: Duration = Duration::from_secs(10);

/// A receiver process listening on 127.0.0.1, killed when dropped.
///
/// It is started with `GITHUB_WEBHOOK_SECRET` set to [`SECRET`] and
/// `OCTOHOOK_BIND=127.0.0.1:0`, and must print `listening on http://ADDRESS/` on
/// standard error. Its standard output is read line by line.
#[derive(Debug)]
pub struct ReceiverProcess {
    child: Child,
    address: SocketAddr,
    stdout: std::sync::Mutex<mpsc::Receiver<String>>,
}

impl ReceiverProcess {
    /// Starts `program` and waits (up to 10 s) until it says where it listens.
    ///
    /// # Panics
    /// When it cannot start or does not announce an address in time.
    pub fn start(program: &str) -> Self {
        Self::start_with(program, &[])
    }

    /// Starts `program` with further environment variables (such as
    /// `OCTOHOOK_DB`), as [`start`](Self::start) does.
    ///
    /// # Panics
    /// When it cannot start or does not announce an address in time.
    pub fn start_with(program: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn(Command::new(program).envs(env.iter().copied()), program)
    }

    /// Starts `command` with the secret and `OCTOHOOK_BIND` set, as
    /// [`start`](Self::start) does.
    ///
    /// # Panics
    /// When it cannot start or does not announce an address in time.
    pub fn spawn(command: &mut Command, program: &str) -> Self {
        let mut child = command
            .env("GITHUB_WEBHOOK_SECRET", SECRET)
            .env("OCTOHOOK_BIND", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {program}: {error}"));
        let stdout = lines(child.stdout.take().expect("piped"));
        let stderr = lines(child.stderr.take().expect("piped"));
        let address = loop {
            let line = stderr
                .recv_timeout(PATIENCE)
                .unwrap_or_else(|_| panic!("{program} did not say where it listens"));
            if let Some((_, rest)) = line.split_once("listening on http://") {
                let address = rest.split('/').next().expect("an address");
                break address.parse().expect("a socket address");
            }
        };
        // Keep draining standard error so the receiver never blocks on it.
        std::thread::spawn(move || stderr.iter().for_each(drop));
        Self {
            child,
            address,
            stdout: std::sync::Mutex::new(stdout),
        }
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The next line it prints on standard output, waiting up to 10 s.
    pub fn next_line(&self) -> Result<String, String> {
        self.stdout
            .lock()
            .unwrap()
            .recv_timeout(PATIENCE)
            .map_err(|_| "no line on standard output in time".to_owned())
    }

    /// Hands over its standard output, line by line (the other line methods then
    /// see nothing).
    pub fn take_lines(&self) -> impl Iterator<Item = String> + Send + 'static {
        let (sender, receiver) = mpsc::channel();
        // Forward what the reading thread sends; this receiver is moved out.
        let stdout = std::mem::replace(&mut *self.stdout.lock().unwrap(), receiver);
        drop(sender);
        stdout.into_iter()
    }

    /// Kills the process with SIGKILL (no chance to clean up) and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Every line printed so far, waiting `quiet` for each further one.
    pub fn lines_until_quiet(&self, quiet: Duration) -> Vec<String> {
        let stdout = self.stdout.lock().unwrap();
        std::iter::from_fn(|| stdout.recv_timeout(quiet).ok()).collect()
    }
}

impl Drop for ReceiverProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Runs `program` (a receiver that prints one `octohook serve --out` line per
/// accepted delivery) and checks that it passes the battery and prints one line per
/// accepted delivery, nothing for rejected ones.
///
/// # Panics
/// On any failure, with the list of failed cases.
pub async fn check_line_printing_receiver(program: &str) {
    let db = crate::crash::TempDb::new();
    let receiver = ReceiverProcess::start_with(program, &[("OCTOHOOK_DB", db.path_str())]);
    crate::assert_no_failures(&crate::run(receiver.address(), "/").await);
    // Every GitHub example, the emoji payload and the form payload; no rejection.
    let lines = receiver.lines_until_quiet(Duration::from_millis(500));
    assert_eq!(lines.len(), crate::github_examples().len() + 2);
}

/// Runs `program` and checks that each line it prints is, byte for byte apart from
/// `received_at`, what `octohook serve --out` writes for the same delivery.
///
/// # Panics
/// On the first line that differs.
pub async fn check_serve_records(program: &str) {
    let db = crate::crash::TempDb::new();
    check_records(&ReceiverProcess::start_with(
        program,
        &[("OCTOHOOK_DB", db.path_str())],
    ))
    .await;
}

/// [`check_serve_records`] on a receiver already started (`octohook serve`
/// itself, say, which takes its address as an argument).
///
/// # Panics
/// On the first line that differs.
pub async fn check_records(receiver: &ReceiverProcess) {
    let client = crate::http_client();
    let url = format!("http://{}/", receiver.address());
    let mut deliveries: Vec<TestDelivery> = crate::github_examples()
        .into_iter()
        .map(|example| TestDelivery::json(&example.event, example.body))
        .collect();
    deliveries.extend([
        // Multi-line JSON: kept byte for byte, in base64.
        TestDelivery::json(
            "issues",
            b"{\n  \"action\": \"opened\",\n  \"issue\": {\"id\": 1, \"number\": 2},\n  \"n\": [1, 2]\n}"
                .to_vec(),
        ),
        TestDelivery::json(
            "issues",
            b"{\r\n\"action\":\"opened\",\r\n\"issue\":{\"id\":1,\"number\":3}}\r\n".to_vec(),
        ),
        // As `echo ... > issue.json` writes it: a trailing newline.
        TestDelivery::json(
            "issues",
            b"{\"action\":\"opened\",\"issue\":{\"id\":1,\"number\":4}}\n".to_vec(),
        ),
        // What a re-encoding would change: key order, `\/`, `1.10`, an integer
        // beyond 64 bits, a duplicate key.
        TestDelivery::json(
            "issues",
            br#"{"z":0,"action":"opened","issue":{"number":5,"id":1},"url":"https:\/\/x","n":1.10,"big":123456789012345678901234567890,"a":1,"a":2}"#
                .to_vec(),
        ),
        TestDelivery::form(
            "issues",
            br#"{"action":"closed","issue":{"id":1,"number":6},"x":"a&b=c+d %"}"#,
        ),
        // No hook id and no target: both null.
        TestDelivery::json(
            "ping",
            br#"{"zen":"Avoid administrative distraction."}"#.to_vec(),
        )
        .without("x-github-hook-id")
        .without("x-github-hook-installation-target-type")
        .without("x-github-hook-installation-target-id"),
    ]);
    for delivery in &deliveries {
        let (status, text) = delivery.send(&client, &url).await.unwrap();
        assert_eq!(status, 200, "{text}");
        let line = receiver.next_line().unwrap();
        delivery.expect_record(&line).unwrap();
    }
    // A rejected delivery prints nothing: the next line is the next accepted one.
    let forged = TestDelivery::json("push", b"{}".to_vec()).signed_with("a guess");
    assert_eq!(forged.send(&client, &url).await.unwrap().0, 401);
    let good = TestDelivery::json("push", br#"{"ref":"refs/heads/main"}"#.to_vec());
    assert_eq!(good.send(&client, &url).await.unwrap().0, 200);
    good.expect_record(&receiver.next_line().unwrap()).unwrap();
}

/// Runs `program`, a receiver with a durable inbox (`OCTOHOOK_DB`, a fresh
/// SQLite file here) and a read timeout set by `OCTOHOOK_READ_TIMEOUT_SECS`,
/// through the whole battery: with a 30 s timeout (long enough for a 25 MiB
/// body in a debug build) the good and bad deliveries, checking that it prints
/// one line per accepted delivery and none for a redelivery of one; then, in a
/// second run, the hostile clients against `options.read_timeout`.
///
/// # Panics
/// On any failure, with the list of failed cases.
pub async fn check_inbox_receiver(program: &str, options: &crate::AdversarialOptions) {
    let db = crate::crash::TempDb::new();
    let receiver = ReceiverProcess::start_with(
        program,
        &[
            ("OCTOHOOK_DB", db.path_str()),
            ("OCTOHOOK_READ_TIMEOUT_SECS", "30"),
        ],
    );
    crate::assert_no_failures(&crate::run(receiver.address(), "/").await);
    let lines = receiver.lines_until_quiet(Duration::from_millis(1500));
    assert_eq!(lines.len(), crate::github_examples().len() + 2);
    // A redelivery (same hook, same GUID) is answered 200 and not processed again.
    let client = crate::http_client();
    let url = format!("http://{}/", receiver.address());
    let ping = TestDelivery::json(
        "ping",
        br#"{"zen":"Non-blocking is better than blocking.","hook_id":1}"#.to_vec(),
    );
    assert_eq!(ping.send(&client, &url).await.unwrap().0, 200);
    ping.expect_record(&receiver.next_line().unwrap()).unwrap();
    assert_eq!(
        ping.send(&client, &url).await.unwrap().0,
        200,
        "a redelivery"
    );
    assert!(
        receiver
            .lines_until_quiet(Duration::from_millis(1500))
            .is_empty(),
        "a redelivery was processed again"
    );
    drop(receiver);

    let db = crate::crash::TempDb::new();
    let timeout = options.read_timeout.as_secs().max(1).to_string();
    let hostile = ReceiverProcess::start_with(
        program,
        &[
            ("OCTOHOOK_DB", db.path_str()),
            ("OCTOHOOK_READ_TIMEOUT_SECS", &timeout),
        ],
    );
    crate::assert_no_failures(&crate::run_adversarial(hostile.address(), "/", options).await);
}

/// Starts `program` (with `env`) under `ulimit -n 128`, so that a server on
/// `octohook_server::serve` caps its connections at 64, then opens 200
/// idle connections: a delivery must still be answered 200 within 5 s (GitHub
/// waits 10 s), and the server must have closed at least the 136 idle
/// connections beyond its cap.
///
/// # Panics
/// On any failure.
pub async fn check_idle_flood_under_a_low_file_limit(program: &str, env: &[(&str, &str)]) {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -n 128 && exec \"$0\" \"$@\"")
        .arg(program)
        .envs(env.iter().copied());
    check_idle_flood(&ReceiverProcess::spawn(&mut command, program), 64).await;
}

/// Opens 200 idle connections to `receiver`, whose connection cap is `cap`: a
/// delivery must still be answered 200 within 5 s, and the receiver must have
/// closed at least the idle connections beyond its cap.
///
/// # Panics
/// On any failure.
pub async fn check_idle_flood(receiver: &ReceiverProcess, cap: usize) {
    use std::io::Read;
    const IDLE: usize = 200;
    let address = receiver.address();
    let mut idle: Vec<std::net::TcpStream> = (0..IDLE)
        .map(|_| std::net::TcpStream::connect(address).expect("the kernel queues the connection"))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let client = crate::http_client_builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("a client");
    let started = std::time::Instant::now();
    let delivery = TestDelivery::json("push", br#"{"ref":"refs/heads/main"}"#.to_vec());
    let (status, body) = delivery
        .send(&client, &format!("http://{address}/"))
        .await
        .unwrap_or_else(|error| {
            panic!("no answer within 5 s behind {IDLE} idle connections: {error}")
        });
    assert_eq!(status, 200, "{body}");
    let closed = idle
        .iter_mut()
        .filter_map(|stream| {
            stream
                .set_read_timeout(Some(Duration::from_millis(20)))
                .ok()?;
            let mut byte = [0u8; 1];
            match stream.read(&mut byte) {
                Ok(0) => Some(()),
                Ok(_) => None,
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    None
                }
                Err(_) => Some(()),
            }
        })
        .count();
    eprintln!(
        "idle flood: delivery answered in {:.3?}; {closed} of {IDLE} idle connections closed",
        started.elapsed()
    );
    assert!(
        closed >= IDLE - cap,
        "only {closed} idle connections were closed"
    );
}
