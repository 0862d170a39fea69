//! Hostile clients: slow, idle, oversized, malformed, deeply nested and
//! downgrading requests, sent over raw sockets where an HTTP client would refuse
//! to misbehave.

use std::net::SocketAddr;
use std::time::Duration;

use octohook::{WebhookSecret, sign, sign_legacy_sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::{LIMIT, SECRET, TestDelivery};

/// How long past its read timeout a receiver may take to cut a slow client off.
pub const GRACE: Duration = Duration::from_secs(2);

/// The pace of a trickling client: one byte (or one chunk) per tick.
const TRICKLE: Duration = Duration::from_millis(200);

/// How long a request that should be answered at once may take.
const PATIENCE: Duration = Duration::from_secs(10);

/// How long a valid delivery may take while idle connections crowd the receiver.
const PROMPT: Duration = Duration::from_secs(3);

/// How many idle connections crowd the receiver.
const IDLE_CONNECTIONS: usize = 200;

/// How the receiver under test is configured, for [`run_adversarial`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AdversarialOptions {
    /// The receiver's read timeout: for the request head, for idle keep-alive
    /// connections and for the body. Keep it short (1 s): each slow or idle client
    /// must be answered 408 or disconnected within it plus [`GRACE`].
    pub read_timeout: Duration,
    /// The server answers `Expect: 100-continue` with `100 Continue` before any
    /// verification runs, as actix-web's `HttpServer` does (its expect handler
    /// cannot be changed). The final answer must still be 413 without the body.
    pub continue_before_verifying: bool,
    /// The receiver accepts the legacy SHA-1 signature.
    pub legacy_sha1: bool,
    /// The size of the receiver's budget of unverified bodies
    /// (`octohook::BodyBudget`, 256 MiB by default), which the receiver under
    /// test must not share with another one under test.
    pub body_budget: u64,
}

impl AdversarialOptions {
    /// A receiver with this read timeout, SHA-256 only, that never answers
    /// `100 Continue` before verifying.
    pub fn new(read_timeout: Duration) -> Self {
        Self {
            read_timeout,
            continue_before_verifying: false,
            legacy_sha1: false,
            body_budget: octohook::DEFAULT_BODY_BUDGET,
        }
    }

    /// The server answers `100 Continue` before verifying (actix-web).
    pub fn continue_before_verifying(mut self) -> Self {
        self.continue_before_verifying = true;
        self
    }

    /// The receiver accepts the legacy SHA-1 signature.
    pub fn legacy_sha1(mut self) -> Self {
        self.legacy_sha1 = true;
        self
    }
}

/// Runs every hostile case against the receiver at `address` + `path`; returns one
/// line per failed case (empty when all pass).
///
/// The receiver verifies with [`SECRET`], the default 25 MiB limit and the
/// default JSON nesting limit (127 levels), as for
/// [`run`](crate::run), and is configured as `options` says. The slow and idle
/// clients run at the same time, so the whole battery takes a few read timeouts.
/// Every response body read is checked for [leaks](crate::find_leaks).
pub async fn run_adversarial(
    address: SocketAddr,
    path: &str,
    options: &AdversarialOptions,
) -> Vec<String> {
    let mut failures = Vec::new();
    let mut expect = |case: &str, outcome: Result<(), String>| {
        if let Err(why) = outcome {
            failures.push(format!("{case}: {why}"));
        }
    };
    let timeout = options.read_timeout;
    let (head, body, chunked, crowd, keep_alive) = tokio::join!(
        slow_head(address, path, timeout),
        slow_body(address, path, timeout, Framing::Length),
        slow_body(address, path, timeout, Framing::Chunked),
        idle_crowd(address, path, timeout),
        idle_keep_alive(address, path, timeout),
    );
    expect("request head trickled byte by byte", head);
    expect("body trickled byte by byte (Content-Length)", body);
    expect("body trickled chunk by chunk (chunked)", chunked);
    expect("idle connections", crowd);
    expect("idle keep-alive connection", keep_alive);
    for (case, outcome) in header_abuse(address, path, options).await {
        expect(&case, outcome);
    }
    for (case, outcome) in deep_nesting(address, path).await {
        expect(&case, outcome);
    }
    for (case, outcome) in budget_flood(address, path, options.body_budget).await {
        expect(&case, outcome);
    }
    failures.extend(run_downgrade(address, path, options.legacy_sha1).await);
    failures
}

/// The SHA-1 downgrade cases alone: a valid legacy `X-Hub-Signature` is accepted
/// only when `legacy_sha1` is enabled, and never decides when an
/// `X-Hub-Signature-256` is present.
pub async fn run_downgrade(address: SocketAddr, path: &str, legacy_sha1: bool) -> Vec<String> {
    let url = format!("http://{address}{path}");
    let client = crate::http_client();
    let wrong = WebhookSecret::new("not the secret").expect("non-empty");
    let sha1_only = good().without("x-hub-signature-256");
    let bad_sha256 = {
        let delivery = good();
        let forged = sign(&wrong, delivery.body());
        delivery.with_header("x-hub-signature-256", &forged)
    };
    let bad_sha1 = {
        let delivery = good();
        let forged = sign_legacy_sha1(&wrong, delivery.body());
        delivery.with_header("x-hub-signature", &forged)
    };
    let mut failures = Vec::new();
    let sha1_only = if legacy_sha1 {
        sha1_only.expect_accepted(&client, &url).await
    } else {
        sha1_only.expect_status(&client, &url, 401).await
    };
    let cases = [
        ("valid SHA-1 only", sha1_only),
        (
            "valid SHA-1 and a wrong SHA-256: SHA-256 decides",
            bad_sha256.expect_status(&client, &url, 401).await,
        ),
        (
            "wrong SHA-1 and a valid SHA-256: SHA-256 decides",
            bad_sha1.expect_accepted(&client, &url).await,
        ),
    ];
    for (case, outcome) in cases {
        if let Err(why) = outcome {
            let mode = if legacy_sha1 { "enabled" } else { "disabled" };
            failures.push(format!("downgrade (SHA-1 {mode}), {case}: {why}"));
        }
    }
    failures
}

fn good() -> TestDelivery {
    TestDelivery::json("push", br#"{"ref":"refs/heads/main","size":1}"#.to_vec())
}

/// How a raw request frames its body.
#[derive(Clone, Copy, Debug)]
enum Framing {
    Length,
    Chunked,
}

/// A request written byte for byte.
#[derive(Clone, Debug)]
struct RawRequest {
    request_line: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl RawRequest {
    /// `delivery` as an HTTP/1.1 `POST` with a `Content-Length`.
    fn of(delivery: &TestDelivery, path: &str) -> Self {
        crate::leaks::record_sent(delivery.body());
        let mut headers = vec![("host".to_owned(), b"127.0.0.1".to_vec())];
        headers.extend(
            delivery
                .headers()
                .iter()
                .map(|(name, value)| (name.clone(), value.clone().into_bytes())),
        );
        headers.push((
            "content-length".to_owned(),
            delivery.body().len().to_string().into_bytes(),
        ));
        Self {
            request_line: format!("POST {path} HTTP/1.1"),
            headers,
            body: delivery.body().to_vec(),
        }
    }

    /// Replaces every value of `name` by `value`.
    fn with(mut self, name: &str, value: &[u8]) -> Self {
        self.headers.retain(|(header, _)| header != name);
        self.headers.push((name.to_owned(), value.to_vec()));
        self
    }

    fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(header, _)| header != name);
        self
    }

    fn head(&self) -> Vec<u8> {
        let mut head = format!("{}\r\n", self.request_line).into_bytes();
        for (name, value) in &self.headers {
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        head
    }

    fn bytes(&self) -> Vec<u8> {
        [self.head(), self.body.clone()].concat()
    }
}

/// A response, read off the wire.
#[derive(Debug)]
struct Response {
    status: u16,
    body: Vec<u8>,
    retry_after: Option<String>,
}

/// How a wait for a response ended.
#[derive(Debug)]
enum Answer {
    /// A whole response.
    Response(Response),
    /// The server closed or reset the connection before sending any response.
    Closed,
}

/// Reads the responses of one connection in turn.
struct ResponseReader<R> {
    reader: R,
    buffer: Vec<u8>,
}

impl<R: AsyncRead + Unpin> ResponseReader<R> {
    fn new(reader: R) -> Self {
        Self {
            reader,
            buffer: Vec::new(),
        }
    }

    /// The next response, or the end of the connection, by `deadline`. Every
    /// response body is checked for leaks.
    async fn next(&mut self, deadline: Instant) -> Result<Answer, String> {
        let head_end = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                break end + 4;
            }
            if self.fill(deadline).await? == 0 {
                if self.buffer.is_empty() {
                    return Ok(Answer::Closed);
                }
                return Err(format!(
                    "connection closed in the middle of a response: {:?}",
                    String::from_utf8_lossy(&self.buffer)
                ));
            }
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).into_owned();
        self.buffer.drain(..head_end);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("not an HTTP response: {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let header = |wanted: &str| {
            headers
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value.as_str())
        };
        let body = if (100..200).contains(&status) || status == 204 || status == 304 {
            Vec::new()
        } else if let Some(length) = header("content-length") {
            let length = length
                .parse()
                .map_err(|_| format!("bad Content-Length {length:?}"))?;
            self.take(length, deadline).await?
        } else if header("transfer-encoding").is_some_and(|value| value.contains("chunked")) {
            self.chunked(deadline).await?
        } else {
            while self.fill(deadline).await? > 0 {}
            std::mem::take(&mut self.buffer)
        };
        let text = String::from_utf8_lossy(&body);
        let leaks = crate::find_leaks(&text);
        if !leaks.is_empty() {
            return Err(format!("the {status} response leaks {}", leaks.join(", ")));
        }
        let retry_after = header("retry-after").map(str::to_owned);
        Ok(Answer::Response(Response {
            status,
            body,
            retry_after,
        }))
    }

    /// Reads more into the buffer; 0 at the end of the stream or on a reset.
    async fn fill(&mut self, deadline: Instant) -> Result<usize, String> {
        let mut chunk = [0u8; 16 * 1024];
        match tokio::time::timeout_at(deadline, self.reader.read(&mut chunk)).await {
            Err(_) => Err("neither answered nor closed in time".into()),
            Ok(Ok(read)) => {
                self.buffer.extend_from_slice(&chunk[..read]);
                Ok(read)
            }
            Ok(Err(error)) if is_disconnect(&error) => Ok(0),
            Ok(Err(error)) => Err(format!("read failed: {error}")),
        }
    }

    async fn take(&mut self, length: usize, deadline: Instant) -> Result<Vec<u8>, String> {
        while self.buffer.len() < length {
            if self.fill(deadline).await? == 0 {
                return Err("connection closed in the middle of a response body".into());
            }
        }
        Ok(self.buffer.drain(..length).collect())
    }

    async fn chunked(&mut self, deadline: Instant) -> Result<Vec<u8>, String> {
        let mut body = Vec::new();
        loop {
            let line = self.line(deadline).await?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| format!("bad chunk size line {line:?}"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.line(deadline).await?.is_empty() {}
                return Ok(body);
            }
            body.extend(self.take(size, deadline).await?);
            self.take(2, deadline).await?;
        }
    }

    async fn line(&mut self, deadline: Instant) -> Result<String, String> {
        loop {
            if let Some(end) = find(&self.buffer, b"\r\n") {
                let line: Vec<u8> = self.buffer.drain(..end + 2).collect();
                return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            if self.fill(deadline).await? == 0 {
                return Err("connection closed in the middle of a chunked body".into());
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn is_disconnect(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}

async fn connect(address: SocketAddr) -> Result<TcpStream, String> {
    TcpStream::connect(address)
        .await
        .map_err(|error| format!("cannot connect: {error}"))
}

/// Opens a connection and sends `head` on it; the halves, to read the answer and
/// write the rest.
async fn send_head(
    address: SocketAddr,
    head: &[u8],
) -> Result<(OwnedReadHalf, OwnedWriteHalf), String> {
    let (reader, mut writer) = connect(address).await?.into_split();
    writer
        .write_all(head)
        .await
        .map_err(|error| format!("cannot send the head: {error}"))?;
    Ok((reader, writer))
}

/// Writes `bytes` one by one (or, for a chunked body, one chunk of one byte at a
/// time), a [`TRICKLE`] apart, until done or the server stops listening.
async fn trickle(mut writer: OwnedWriteHalf, bytes: Vec<u8>, framing: Option<Framing>) {
    for byte in bytes {
        let piece = match framing {
            Some(Framing::Chunked) => [&b"1\r\n"[..], &[byte], b"\r\n"].concat(),
            _ => vec![byte],
        };
        if writer.write_all(&piece).await.is_err() {
            return;
        }
        tokio::time::sleep(TRICKLE).await;
    }
    // Keep the connection open: a client that finished early must not end the case.
    tokio::time::sleep(PATIENCE * 2).await;
}

/// The answer a slow or idle client must get in time: 408, or the connection
/// closed.
fn cut_off(answer: Result<Answer, String>, since: Instant) -> Result<(), String> {
    let waited = since.elapsed();
    match answer {
        Ok(Answer::Closed) => Ok(()),
        Ok(Answer::Response(response)) if response.status == 408 => Ok(()),
        Ok(Answer::Response(response)) => Err(format!(
            "answered {} after {waited:.1?} instead of 408 or closing: {}",
            response.status,
            String::from_utf8_lossy(&response.body).trim()
        )),
        Err(why) => Err(format!("after {waited:.1?}: {why}")),
    }
}

/// A valid delivery whose head arrives one byte per [`TRICKLE`]: the server must
/// give up within the read timeout.
async fn slow_head(address: SocketAddr, path: &str, timeout: Duration) -> Result<(), String> {
    let request = RawRequest::of(&good(), path).bytes();
    let stream = connect(address).await?;
    let started = Instant::now();
    let (reader, writer) = stream.into_split();
    let writing = tokio::spawn(trickle(writer, request, None));
    let answer = ResponseReader::new(reader)
        .next(started + timeout + GRACE)
        .await;
    writing.abort();
    cut_off(answer, started)
}

/// A valid delivery whose head arrives at once and whose body then arrives one
/// byte per [`TRICKLE`]: the server must give up within the read timeout.
async fn slow_body(
    address: SocketAddr,
    path: &str,
    timeout: Duration,
    framing: Framing,
) -> Result<(), String> {
    let mut request = RawRequest::of(&good(), path);
    if let Framing::Chunked = framing {
        request = request
            .without("content-length")
            .with("transfer-encoding", b"chunked");
    }
    let (reader, writer) = send_head(address, &request.head()).await?;
    let started = Instant::now();
    let writing = tokio::spawn(trickle(writer, request.body, Some(framing)));
    let answer = ResponseReader::new(reader)
        .next(started + timeout + GRACE)
        .await;
    writing.abort();
    cut_off(answer, started)
}

/// [`IDLE_CONNECTIONS`] connections that send nothing, half a request head, or
/// half the HTTP/2 preface (which keeps a server that detects the protocol
/// waiting): a valid delivery is still served at once, and the server closes them
/// all within the read timeout (an HTTP/1-only server refuses the preface at once).
async fn idle_crowd(address: SocketAddr, path: &str, timeout: Duration) -> Result<(), String> {
    let half_head = format!("POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-github-event: push\r\n");
    let openings: [&[u8]; 3] = [b"", half_head.as_bytes(), b"PRI * HTTP/2.0\r\n"];
    let mut idle = Vec::with_capacity(IDLE_CONNECTIONS);
    for index in 0..IDLE_CONNECTIONS {
        let mut stream = connect(address).await?;
        let opening = openings[index % openings.len()];
        stream
            .write_all(opening)
            .await
            .map_err(|error| format!("cannot send the opening bytes: {error}"))?;
        idle.push((stream, opening.starts_with(b"PRI")));
    }
    let last_connected = Instant::now();

    let client = crate::http_client_builder()
        .timeout(PATIENCE)
        .build()
        .map_err(|error| error.to_string())?;
    let url = format!("http://{address}{path}");
    let sent = Instant::now();
    good()
        .expect_accepted(&client, &url)
        .await
        .map_err(|why| format!("a delivery among {IDLE_CONNECTIONS} idle connections: {why}"))?;
    let took = sent.elapsed();
    if took > PROMPT {
        return Err(format!(
            "a delivery among {IDLE_CONNECTIONS} idle connections took {took:.1?}"
        ));
    }

    let deadline = last_connected + timeout + GRACE;
    let mut waiting = JoinSet::new();
    for (stream, preface) in idle {
        waiting.spawn(async move {
            let answer = ResponseReader::new(stream).next(deadline).await;
            if preface {
                refused(answer)
            } else {
                cut_off(answer, last_connected)
            }
        });
    }
    let mut still_open = Vec::new();
    while let Some(outcome) = waiting.join_next().await {
        if let Err(why) = outcome.map_err(|error| error.to_string())? {
            still_open.push(why);
        }
    }
    match still_open.first() {
        None => Ok(()),
        Some(first) => Err(format!(
            "{} of {IDLE_CONNECTIONS} idle connections not cut off (first: {first})",
            still_open.len()
        )),
    }
}

/// A connection that stays open, silent, after a served delivery: the server must
/// close it within the read timeout.
async fn idle_keep_alive(address: SocketAddr, path: &str, timeout: Duration) -> Result<(), String> {
    let stream = connect(address).await?;
    let (reader, mut writer) = stream.into_split();
    writer
        .write_all(&RawRequest::of(&good(), path).bytes())
        .await
        .map_err(|error| format!("cannot send: {error}"))?;
    let mut reader = ResponseReader::new(reader);
    match reader.next(Instant::now() + PATIENCE).await? {
        Answer::Response(response) if (200..300).contains(&response.status) => {}
        Answer::Response(response) => {
            return Err(format!(
                "the delivery was answered {}: {}",
                response.status,
                String::from_utf8_lossy(&response.body).trim()
            ));
        }
        Answer::Closed => return Err("the delivery was not answered".into()),
    }
    let idle_since = Instant::now();
    let answer = reader.next(idle_since + timeout + GRACE).await;
    let outcome = cut_off(answer, idle_since);
    drop(writer);
    outcome
}

/// Sends `request` on a fresh connection (while reading, so that a server that
/// answers early is heard) and waits for the first answer.
async fn exchange(
    address: SocketAddr,
    request: Vec<u8>,
    end_writes: bool,
) -> Result<Answer, String> {
    let stream = connect(address).await?;
    let (reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        if writer.write_all(&request).await.is_ok() && end_writes {
            let _ = writer.shutdown().await;
        }
        tokio::time::sleep(PATIENCE).await;
        drop(writer);
    });
    let answer = ResponseReader::new(reader)
        .next(Instant::now() + PATIENCE)
        .await;
    writing.abort();
    answer
}

/// Expects exactly `expected`.
fn status(answer: Result<Answer, String>, expected: u16) -> Result<(), String> {
    match answer? {
        Answer::Response(response) if response.status == expected => Ok(()),
        Answer::Response(response) => Err(format!(
            "expected {expected}, got {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body).trim()
        )),
        Answer::Closed => Err(format!("expected {expected}, the connection was closed")),
    }
}

/// Expects a 4xx answer, or the connection closed: never 2xx, 5xx or silence.
fn refused(answer: Result<Answer, String>) -> Result<(), String> {
    match answer? {
        Answer::Closed => Ok(()),
        Answer::Response(response) if (400..500).contains(&response.status) => Ok(()),
        Answer::Response(response) => Err(format!(
            "expected 4xx or a closed connection, got {}",
            response.status
        )),
    }
}

/// Headers sent twice, too large, not UTF-8 or oddly spelled; HTTP/1.0 without a
/// length; `Expect: 100-continue` with an oversized body.
async fn header_abuse(
    address: SocketAddr,
    path: &str,
    options: &AdversarialOptions,
) -> Vec<(String, Result<(), String>)> {
    let url = format!("http://{address}{path}");
    let client = crate::http_client_builder()
        .timeout(PATIENCE)
        .build()
        .expect("a client");
    let mut outcomes: Vec<(String, Result<(), String>)> = Vec::new();
    let secret = WebhookSecret::new(SECRET).expect("non-empty");

    let twice = good();
    let signature = sign(&secret, twice.body());
    outcomes.push((
        "X-Hub-Signature-256 sent twice, both valid (a repeated signature is malformed)".into(),
        twice
            .with_added_header("x-hub-signature-256", &signature)
            .expect_status(&client, &url, 401)
            .await,
    ));
    let forged = format!("sha256={}", "0".repeat(64));
    outcomes.push((
        "X-Hub-Signature-256 sent twice, valid then forged".into(),
        good()
            .with_added_header("x-hub-signature-256", &forged)
            .expect_status(&client, &url, 401)
            .await,
    ));
    outcomes.push((
        "X-GitHub-Event sent twice".into(),
        good()
            .with_added_header("x-github-event", "issues")
            .expect_status(&client, &url, 400)
            .await,
    ));

    // Oversized values, in a validly signed delivery. The server must refuse them
    // (4xx, or closing the connection) and then serve the next delivery.
    for size in [64 * 1024, 1024 * 1024] {
        let kib = size / 1024;
        let digits = vec![b'0'; size];
        let request = RawRequest::of(&good(), path)
            .with("x-hub-signature-256", &[&b"sha256="[..], &digits].concat());
        outcomes.push((
            format!("X-Hub-Signature-256 of {kib} KiB"),
            refused(exchange(address, request.bytes(), false).await),
        ));
        outcomes.push((
            format!("a delivery after an X-Hub-Signature-256 of {kib} KiB"),
            good().expect_accepted(&client, &url).await,
        ));
        let name = vec![b'a'; size];
        let request = RawRequest::of(&good(), path).with("x-github-event", &name);
        // Headers are not signed: a captured body replayed with a huge event name
        // would pass verification, so names over 255 bytes are refused (400), or
        // the head is over the server's own limit (431, or the connection closed).
        let outcome = refused(exchange(address, request.bytes(), false).await);
        outcomes.push((format!("X-GitHub-Event of {kib} KiB"), outcome));
        outcomes.push((
            format!("a delivery after an X-GitHub-Event of {kib} KiB"),
            good().expect_accepted(&client, &url).await,
        ));
    }

    // obs-text (bytes 0x80-0xff) is valid in an HTTP header value, but not in
    // GitHub's tokens.
    for (header, value) in [
        ("x-github-event", &b"push\xff"[..]),
        ("x-github-delivery", &b"\xff\xfe-72d3162e"[..]),
    ] {
        let request = RawRequest::of(&good(), path).with(header, value);
        outcomes.push((
            format!("{header} with a non-UTF-8 byte"),
            status(exchange(address, request.bytes(), false).await, 400),
        ));
    }

    // HTTP servers strip the optional whitespace around a header value, so the
    // signature is parsed without it and the delivery is accepted.
    let delivery = good();
    let padded = format!(" \t{} \t", sign(&secret, delivery.body()));
    let request = RawRequest::of(&delivery, path).with("x-hub-signature-256", padded.as_bytes());
    outcomes.push((
        "X-Hub-Signature-256 with surrounding whitespace is accepted".into(),
        accepted(exchange(address, request.bytes(), false).await),
    ));
    // `Signature256::parse`: the `sha256=` prefix is matched exactly, the hex
    // digits in either case.
    let delivery = good();
    let upper = sign(&secret, delivery.body()).to_ascii_uppercase();
    let digits = upper.trim_start_matches("SHA256=").to_owned();
    outcomes.push((
        "upper-case hex digits are accepted".into(),
        delivery
            .clone()
            .with_header("x-hub-signature-256", &format!("sha256={digits}"))
            .expect_accepted(&client, &url)
            .await,
    ));
    for prefix in ["SHA256=", "Sha256="] {
        outcomes.push((
            format!("the prefix {prefix} is refused"),
            good()
                .with_header("x-hub-signature-256", &format!("{prefix}{digits}"))
                .expect_status(&client, &url, 401)
                .await,
        ));
    }

    // HTTP/1.0 without Content-Length, the body sent until the client ends the
    // connection: that is not the payload. hyper reads no body (a request without
    // a length has none, RFC 9112, section 6.3), so the signature, made over the
    // bytes sent, does not match: 401. actix-web refuses the request itself (RFC
    // 1945 requires a Content-Length on an HTTP/1.0 POST): 400.
    let request = RawRequest::of(&good(), path).without("content-length");
    let request = RawRequest {
        request_line: format!("POST {path} HTTP/1.0"),
        ..request
    };
    let outcome = match exchange(address, request.bytes(), true).await {
        Ok(Answer::Response(response)) if matches!(response.status, 400 | 401) => Ok(()),
        answer => status(answer, 401),
    };
    outcomes.push((
        "HTTP/1.0 without Content-Length, body until the end of the connection".into(),
        outcome,
    ));

    outcomes.push((
        "Expect: 100-continue with a Content-Length over the limit".into(),
        expect_continue(address, path, options.continue_before_verifying).await,
    ));
    outcomes
}

/// `levels` nested objects, `{"a":{"a":…{}}}`.
fn nested_objects(levels: usize) -> Vec<u8> {
    let levels = levels.saturating_sub(1);
    [
        r#"{"a":"#.repeat(levels),
        "{}".to_owned(),
        "}".repeat(levels),
    ]
    .concat()
    .into_bytes()
}

/// Validly signed payloads nested 1,000,000 levels deep, as JSON and in a form,
/// must be refused with 400 (and the receiver must live on to serve the next
/// delivery); the default limit lets 127 levels through, the deepest `serde_json`
/// parses, and refuses 128.
async fn deep_nesting(address: SocketAddr, path: &str) -> Vec<(String, Result<(), String>)> {
    const DEEP: usize = 1_000_000;
    let url = format!("http://{address}{path}");
    // A fresh connection per request: between these large requests a kept-alive
    // one can pass the receiver's short idle timeout and be closed just as it is
    // reused.
    let client = crate::http_client_builder()
        .timeout(PATIENCE)
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    let arrays = [
        &br#"{"a":"#[..],
        &b"[".repeat(DEEP),
        &b"]".repeat(DEEP),
        b"}",
    ]
    .concat();
    let cases = [
        (
            "JSON objects nested 1,000,000 deep",
            TestDelivery::json("push", nested_objects(DEEP)),
            400,
        ),
        (
            "JSON arrays nested 1,000,000 deep",
            TestDelivery::json("push", arrays.clone()),
            400,
        ),
        (
            "a form payload nested 1,000,000 deep",
            TestDelivery::form("push", &arrays),
            400,
        ),
        (
            "JSON nested 128 deep (one past serde_json's limit)",
            TestDelivery::json("push", nested_objects(128)),
            400,
        ),
        (
            "JSON nested 127 deep (the default limit)",
            TestDelivery::json("push", nested_objects(127)),
            200,
        ),
    ];
    let mut outcomes = Vec::new();
    for (case, delivery, expected) in cases {
        let outcome = if expected == 200 {
            delivery.expect_accepted(&client, &url).await
        } else {
            delivery.expect_status(&client, &url, expected).await
        };
        outcomes.push((case.to_owned(), outcome));
    }
    outcomes.push((
        "a delivery after the deeply nested ones".to_owned(),
        good().expect_accepted(&client, &url).await,
    ));
    outcomes
}

/// Expects a 2xx answer.
fn accepted(answer: Result<Answer, String>) -> Result<(), String> {
    match answer? {
        Answer::Response(response) if (200..300).contains(&response.status) => Ok(()),
        Answer::Response(response) => Err(format!(
            "expected 2xx, got {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body).trim()
        )),
        Answer::Closed => Err("expected 2xx, the connection was closed".into()),
    }
}

/// Announces a body over the limit with `Expect: 100-continue` and sends none:
/// the answer must be 413, without `100 Continue` first (unless the server is
/// known to send it before verifying).
async fn expect_continue(
    address: SocketAddr,
    path: &str,
    continue_before_verifying: bool,
) -> Result<(), String> {
    let announced = u64::try_from(LIMIT).unwrap_or(u64::MAX) + 1;
    let request = RawRequest::of(&good(), path)
        .with("content-length", announced.to_string().as_bytes())
        .with("expect", b"100-continue");
    let (reader, writer) = send_head(address, &request.head()).await?;
    let mut reader = ResponseReader::new(reader);
    let deadline = Instant::now() + PATIENCE;
    let mut answer = reader.next(deadline).await?;
    if let Answer::Response(Response { status: 100, .. }) = answer {
        if !continue_before_verifying {
            return Err("answered 100 Continue to a body over the limit".into());
        }
        answer = reader.next(deadline).await?;
    }
    drop(writer);
    status(Ok(answer), 413)
}

/// Connections that announce 25 MiB bodies with a well-formed but wrong
/// signature and hold them: as many as the budget's share for large bodies
/// takes. One more is refused at once with 503 and `Retry-After`, unread; a
/// small good delivery still gets through; and once the holders are gone the
/// budget is whole again.
async fn budget_flood(
    address: SocketAddr,
    path: &str,
    budget: u64,
) -> Vec<(String, Result<(), String>)> {
    const LARGE: u64 = 25 * 1024 * 1024;
    let share = octohook::BodyBudget::new(budget).large_body_share();
    let holders = usize::try_from(share / LARGE).unwrap_or(usize::MAX);
    let wrong = "sha256=".to_owned() + &"0".repeat(64);
    let announce = || {
        RawRequest::of(&good(), path)
            .with("x-hub-signature-256", wrong.as_bytes())
            .with("content-length", LARGE.to_string().as_bytes())
            .head()
    };
    let mut outcomes = Vec::new();
    let mut held = Vec::with_capacity(holders);
    for _ in 0..holders {
        match connect(address).await {
            Ok(mut stream) => {
                let _ = stream.write_all(&announce()).await;
                let _ = stream.write_all(b"{").await;
                held.push(stream);
            }
            Err(error) => {
                outcomes.push(("budget: holders connect".to_owned(), Err(error)));
                return outcomes;
            }
        }
    }
    // Let the receiver reserve what they announced.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let over = exchange(address, announce(), false).await;
    outcomes.push((
        format!("budget: a 25 MiB body beyond {holders} held ones"),
        match over {
            Ok(Answer::Response(response))
                if response.status == 503 && response.retry_after.is_some() =>
            {
                Ok(())
            }
            Ok(Answer::Response(response)) if response.status == 413 => Ok(()),
            Ok(Answer::Response(response)) => Err(format!(
                "expected 503 with Retry-After, got {} (Retry-After {:?})",
                response.status, response.retry_after
            )),
            Ok(Answer::Closed) => Err("expected 503, the connection was closed".to_owned()),
            Err(error) => Err(error),
        },
    ));
    let client = crate::http_client();
    let url = format!("http://{address}{path}");
    outcomes.push((
        "budget: a small delivery while large bodies hold the budget".to_owned(),
        good().expect_accepted(&client, &url).await,
    ));
    drop(held);
    // The holders' bodies are abandoned: their bytes are given back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stream = connect(address).await;
    let released = match stream {
        Ok(mut stream) => {
            let _ = stream.write_all(&announce()).await;
            let (reader, _writer) = stream.into_split();
            match ResponseReader::new(reader)
                .next(Instant::now() + Duration::from_millis(500))
                .await
            {
                Ok(Answer::Response(response)) if response.status == 503 => {
                    Err("the budget was not given back after the holders left".to_owned())
                }
                _ => Ok(()),
            }
        }
        Err(error) => Err(error),
    };
    outcomes.push((
        "budget: given back by abandoned bodies".to_owned(),
        released,
    ));
    outcomes
}
