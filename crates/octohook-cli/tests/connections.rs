//! `octohook serve`'s connections against an attacker without the secret: the
//! open-file limit raised, idle connections shed at the cap before new ones are
//! refused, cleartext HTTP/2 off by default, idle HTTP/2 connections closed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use octohook_test_battery::{ReceiverProcess, TestDelivery};

const BIN: &str = env!("CARGO_BIN_EXE_octohook");

/// `serve` started through `sh` with the open-file limits `ulimit` sets first.
fn serve_under(ulimit: &str, args: &str) -> ReceiverProcess {
    let script = format!(
        "{ulimit} && exec \"$0\" serve --bind 127.0.0.1:0 --no-inbox --out /dev/null {args}"
    );
    let mut command = Command::new("sh");
    command.arg("-c").arg(script).arg(BIN);
    ReceiverProcess::spawn(&mut command, "octohook serve")
}

fn good() -> TestDelivery {
    TestDelivery::json("push", br#"{"ref":"refs/heads/main"}"#.to_vec())
}

async fn deliver_within(address: SocketAddr, limit: Duration) {
    let client = octohook_test_battery::http_client_builder()
        .timeout(limit)
        .build()
        .unwrap();
    let started = Instant::now();
    let (status, body) = good()
        .send(&client, &format!("http://{address}/"))
        .await
        .unwrap_or_else(|error| panic!("no answer within {limit:?}: {error}"));
    assert_eq!(status, 200, "{body}");
    eprintln!("delivery answered in {:.0?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_soft_open_file_limit_is_raised_to_the_hard_one() {
    let receiver = serve_under("ulimit -Sn 256", "");
    let pid = receiver.id();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers[0], numbers[1], "soft = hard: {line}");
    assert_ne!(numbers[0], "256", "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_flood_past_the_open_file_limit_does_not_delay_a_delivery() {
    // 128 descriptors in all: a cap of 64 connections.
    let receiver = serve_under("ulimit -n 128", "--read-timeout 30s");
    octohook_test_battery::check_idle_flood(&receiver, 64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_a_new_connection_is_refused_only_when_every_one_is_busy() {
    let receiver = serve_under("true", "--max-connections 8 --read-timeout 30s");
    let address = receiver.address();
    // Eight requests in progress: heads sent, bodies still owed.
    let delivery = good();
    let mut head = format!("POST / HTTP/1.1\r\nhost: {address}\r\n");
    for (name, value) in delivery.headers() {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\n\r\n",
        delivery.body().len()
    ));
    let mut busy: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut stream = TcpStream::connect(address).unwrap();
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&delivery.body()[..1]).unwrap();
            stream
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut refused = TcpStream::connect(address).unwrap();
    refused.write_all(head.as_bytes()).ok();
    refused
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = refused.read_to_end(&mut answer);
    assert!(
        answer.is_empty(),
        "a ninth connection was served: {}",
        String::from_utf8_lossy(&answer)
    );
    // The busy ones finish their requests and are answered.
    for stream in &mut busy {
        stream.write_all(&delivery.body()[1..]).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut response = [0u8; 12];
        stream.read_exact(&mut response).unwrap();
        assert!(
            response.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&response)
        );
    }
    // Now idle, they give way to a new delivery.
    deliver_within(address, Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleartext_http2_is_off_by_default() {
    let receiver = serve_under("true", "");
    let mut stream = TcpStream::connect(receiver.address()).unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    // Refused as a malformed HTTP/1 request (or just closed); never an HTTP/2 frame.
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 4"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_http2_an_idle_connection_that_answers_pings_is_closed() {
    let receiver = serve_under("true", "--http2 --read-timeout 1s");
    let stream = tokio::net::TcpStream::connect(receiver.address())
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("an HTTP/2 handshake");
    // One request works over it.
    let delivery = good();
    let mut request = http::Request::post(format!("http://{}/", receiver.address()));
    for (name, value) in delivery.headers() {
        request = request.header(name, value);
    }
    let driver = tokio::spawn(connection);
    let response = sender
        .send_request(
            request
                .body(http_body_util::Full::new(bytes::Bytes::from(
                    delivery.body().to_vec(),
                )))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Then, idle, the client's driver answers the server's PINGs; the server
    // closes the connection after the read timeout anyway.
    let closed = tokio::time::timeout(Duration::from_secs(5), driver).await;
    assert!(
        closed.is_ok(),
        "the idle HTTP/2 connection is still open after 5 s"
    );
}
