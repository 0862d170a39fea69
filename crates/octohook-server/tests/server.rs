//! `serve`, the hardened server on its own, over real sockets on 127.0.0.1:
//! its head timeout, its connection cap, and its graceful shutdown.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use octohook_server::{ServerConfig, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const READ_TIMEOUT: Duration = Duration::from_millis(300);

/// Serves a router that answers `POST /` after `delay`, until `stop` is sent.
async fn start(
    config: ServerConfig,
    delay: Duration,
) -> (SocketAddr, oneshot::Sender<()>, JoinHandle<()>) {
    let app = Router::new().route(
        "/",
        post(move || async move {
            tokio::time::sleep(delay).await;
            "done"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        serve(listener, app, &config, async {
            let _ = stopped.await;
        })
        .await;
    });
    (address, stop, served)
}

/// Reads until the peer closes; returns what it sent.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut text = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut text)).await;
    String::from_utf8_lossy(&text).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_no_head_is_closed_after_the_read_timeout() {
    let config = ServerConfig::default().with_read_timeout(READ_TIMEOUT);
    let (address, stop, served) = start(config, Duration::ZERO).await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(address).await.unwrap();
    read_to_close(&mut silent).await;
    let waited = started.elapsed();
    assert!(
        waited >= READ_TIMEOUT && waited < READ_TIMEOUT * 10,
        "closed after {waited:?}"
    );
    stop.send(()).unwrap();
    served.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_request_in_progress_then_returns() {
    let config = ServerConfig::default().with_read_timeout(Duration::from_secs(5));
    let (address, stop, served) = start(config, Duration::from_millis(500)).await;
    let mut client = TcpStream::connect(address).await.unwrap();
    client
        .write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
        .await
        .unwrap();
    // The request is in progress when the shutdown comes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    let answer = read_to_close(&mut client).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("done"), "{answer}");
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("serve returns once the connection is closed")
        .unwrap();
    // No longer listening.
    assert!(TcpStream::connect(address).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_the_idlest_connection_gives_way() {
    let config = ServerConfig::default()
        .with_read_timeout(Duration::from_secs(5))
        .with_max_connections(2);
    assert_eq!(config.max_connections(), 2);
    let (address, stop, served) = start(config, Duration::ZERO).await;
    let mut first = TcpStream::connect(address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = TcpStream::connect(address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut third = TcpStream::connect(address).await.unwrap();
    // The first, idle the longest, is closed to make room for the third.
    let started = Instant::now();
    read_to_close(&mut first).await;
    assert!(started.elapsed() < Duration::from_secs(4));
    third
        .write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stop.send(()).unwrap();
    drop(second);
    served.await.unwrap();
}
