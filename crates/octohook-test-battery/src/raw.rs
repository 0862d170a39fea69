//! Cases that need control over the bytes on the wire.

use std::net::SocketAddr;
use std::time::Duration;

use octohook::{WebhookSecret, sign};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::SECRET;

const PATIENCE: Duration = Duration::from_secs(10);

fn head(path: &str, framing: &str) -> String {
    let secret = WebhookSecret::new(SECRET).expect("non-empty");
    format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-github-event: push\r\n\
         x-github-delivery: {}\r\ncontent-type: application/json\r\n\
         x-hub-signature-256: {}\r\n{framing}\r\n",
        uuid::Uuid::new_v4(),
        sign(&secret, b"{}"),
    )
}

/// Reads the status code of the first response on `stream`.
async fn read_status(stream: &mut (impl AsyncReadExt + Unpin)) -> Result<u16, String> {
    let mut response = Vec::new();
    let mut buffer = [0u8; 1024];
    while !response.windows(2).any(|w| w == b"\r\n") {
        let read = tokio::time::timeout(PATIENCE, stream.read(&mut buffer))
            .await
            .map_err(|_| "no response in time".to_owned())?
            .map_err(|error| format!("read failed: {error}"))?;
        if read == 0 {
            return Err("connection closed without a response".into());
        }
        response.extend_from_slice(&buffer[..read]);
    }
    let line = String::from_utf8_lossy(&response);
    line.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {line:?}"))
}

/// Announces `length` bytes and sends none: the answer must be 413, at once.
pub(crate) async fn oversize_announced(
    address: SocketAddr,
    path: &str,
    length: u64,
) -> Result<(), String> {
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    let request = head(path, &format!("content-length: {length}\r\n"));
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    match read_status(&mut stream).await? {
        413 => Ok(()),
        other => Err(format!("expected 413, got {other}")),
    }
}

/// Streams a chunked body of `length` bytes: the answer must be 413.
///
/// The response is read while the body is still being written, since a server
/// that answers early may close the connection on the rest.
pub(crate) async fn oversize_chunked(
    address: SocketAddr,
    path: &str,
    length: usize,
) -> Result<(), String> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    let (mut reader, mut writer) = stream.into_split();
    let request = head(path, "transfer-encoding: chunked\r\n");
    writer
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let writing = tokio::spawn(async move {
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < length {
            let size = chunk.len().min(length - sent);
            let frame = [format!("{size:x}\r\n").as_bytes(), &chunk[..size], b"\r\n"].concat();
            if writer.write_all(&frame).await.is_err() {
                return;
            }
            sent += size;
        }
        let _ = writer.write_all(b"0\r\n\r\n").await;
        // Keep the write half open until the response has been read.
        tokio::time::sleep(PATIENCE).await;
    });
    let status = read_status(&mut reader).await;
    writing.abort();
    match status? {
        413 => Ok(()),
        other => Err(format!("expected 413, got {other}")),
    }
}
