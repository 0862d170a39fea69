//! The HTTP server of `octohook serve`: an accept loop on hyper-util's connection
//! builder, with read timeouts and a graceful shutdown.
//!
//! `axum::serve` sets no timer on its connections, so it has no timeout on the
//! request head: a client that connects and sends nothing, or trickles its head a
//! byte at a time, holds a connection for as long as it likes. Here, with the read
//! timeout `T`:
//! - a new connection must show which protocol it speaks within `T`: the first
//!   bytes of an HTTP/1 request, or the whole HTTP/2 preface;
//! - an HTTP/1 request head must arrive within `T` of the server starting to wait
//!   for it (hyper's `header_read_timeout`), which also closes a keep-alive
//!   connection left idle for `T`;
//! - the body must arrive within `T` of the request reaching the router: that is
//!   the layer's [`with_read_timeout`](octohook_tower::VerifyWebhookLayer::with_read_timeout),
//!   set by the caller.
//!
//! hyper has no head timeout for HTTP/2 (cleartext with prior knowledge, which
//! GitHub does not use): there only the body is timed, and keep-alive pings close
//! connections whose peer has gone.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What an HTTP/2 client sends first when it speaks HTTP/2 without an upgrade.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How long to wait after a failed `accept` (out of file descriptors, say) before
/// the next, rather than spin.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets
/// each connection finish the request it is serving, and returns once all are
/// closed.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(read_timeout)
        .keep_alive_timeout(read_timeout);
    let builder = Arc::new(builder);
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        match accepted {
            Ok((stream, _)) => {
                connections.spawn(connection(
                    Arc::clone(&builder),
                    stream,
                    app.clone(),
                    read_timeout,
                    stopping.clone(),
                ));
            }
            Err(error) if is_connection_error(&error) => {}
            Err(error) => {
                tracing::warn!(%error, "cannot accept a connection");
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    () = &mut shutdown => break,
                }
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
}

/// Serves one connection until it closes, or until `stopping` turns true, when the
/// request in flight, if any, is finished first.
async fn connection(
    builder: Arc<Builder<TokioExecutor>>,
    stream: TcpStream,
    app: Router,
    read_timeout: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let known = tokio::select! {
        known = tokio::time::timeout(read_timeout, protocol_known(&stream)) => known,
        () = stopped(&mut stopping) => return,
    };
    match known {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::debug!(%error, "connection failed");
            return;
        }
        Err(_) => {
            tracing::debug!("connection closed: no request within the read timeout");
            return;
        }
    }
    let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    let mut connection = std::pin::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = stopped(&mut stopping) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = ended {
        tracing::debug!(%error, "connection ended");
    }
}

/// Resolves once `stopping` turns true.
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    // The sender lives until every connection has ended: no error to handle.
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// Waits until the first bytes on `stream` tell HTTP/1 from HTTP/2, without
/// consuming them: hyper-util's builder reads them again to pick the protocol, and
/// it would wait for them without any timeout.
///
/// An HTTP/1 request differs from the HTTP/2 preface by its second byte at the
/// latest (`POST`, `PUT`, `PATCH` against `PRI`), so only an HTTP/2 client, or one
/// mimicking its preface, makes this wait for more than the first bytes.
async fn protocol_known(stream: &TcpStream) -> io::Result<()> {
    let mut buffer = [0u8; H2_PREFACE.len()];
    loop {
        let peeked = stream.peek(&mut buffer).await?;
        let partial_preface = peeked < H2_PREFACE.len() && buffer[..peeked] == H2_PREFACE[..peeked];
        // Zero bytes: the client closed; hyper will see it.
        if peeked == 0 || !partial_preface {
            return Ok(());
        }
        // Part of the HTTP/2 preface: the rest is on its way. `peek` returns at
        // once while any byte is unread, so wait a little before looking again.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Errors of one connection that `accept` reports, after which the next `accept`
/// works (as `axum::serve` does).
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
