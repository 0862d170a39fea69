//! TLS trust over a real socket: an HTTPS GitHub stand-in on 127.0.0.1 whose
//! certificate a CA made in the test signed. The client must refuse it with the
//! default roots and accept it once it trusts that CA (in addition to, or instead
//! of, the default roots), or through an HTTP client of the user's.

#[path = "support/private_ca.rs"]
mod private_ca;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use octohook_client::{
    CaCertificates, Client, ClientError, ClientOptions, DefaultRoots, RetryOptions, Token,
};
use private_ca::acceptor_signed_by_new_ca;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A CA, and a server whose certificate for `127.0.0.1` and `localhost` it signed.
struct Server {
    addr: SocketAddr,
    ca_pem: String,
    /// Requests answered (a TLS handshake the client refused never gets here).
    answered: Arc<AtomicUsize>,
}

async fn start() -> Server {
    let (acceptor, ca_pem) = acceptor_signed_by_new_ca("octohook test CA");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = answered.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                // A refused handshake ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let body = b"[]";
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Server {
        addr,
        ca_pem,
        answered,
    }
}

fn options(server: &Server) -> ClientOptions {
    ClientOptions {
        base_url: format!("https://{}", server.addr),
        retry: RetryOptions {
            max_retries: 0,
            ..RetryOptions::default()
        },
        ..ClientOptions::default()
    }
}

async fn list(options: ClientOptions) -> Result<usize, ClientError> {
    let client = Client::new(Token::new("t"), options)?;
    Ok(client.repo_hooks("o", "r").list().await?.len())
}

#[tokio::test]
async fn the_default_roots_refuse_a_private_ca() {
    let server = start().await;
    let error = list(options(&server)).await.unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)), "{error:?}");
    assert_eq!(server.answered.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_trusted_ca_is_accepted_with_the_default_roots() {
    let server = start().await;
    let ca = CaCertificates::from_pem(server.ca_pem.as_bytes()).unwrap();
    assert_eq!(ca.len(), 1);
    let options = options(&server).ca_certificates(ca);
    assert_eq!(options.default_roots, DefaultRoots::Mozilla);
    assert_eq!(list(options).await.unwrap(), 0);
    assert_eq!(server.answered.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_trusted_ca_is_accepted_alone_and_from_a_file() {
    let server = start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    // A bundle: an unrelated certificate first, then the server's CA.
    let other = CertifiedIssuer::self_signed(
        {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
        },
        KeyPair::generate().unwrap(),
    )
    .unwrap();
    std::fs::write(&path, format!("{}{}", other.pem(), server.ca_pem)).unwrap();
    let ca = CaCertificates::from_pem_file(&path).unwrap();
    assert_eq!(ca.len(), 2);
    assert_eq!(
        list(options(&server).only_ca_certificates(ca))
            .await
            .unwrap(),
        0
    );
    // The unrelated CA alone does not do.
    let unrelated = CaCertificates::from_pem(other.pem().as_bytes()).unwrap();
    let error = list(options(&server).only_ca_certificates(unrelated))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)), "{error:?}");
    assert_eq!(server.answered.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_http_client_of_the_users_is_used_as_is() {
    let server = start().await;
    let certificate = reqwest::Certificate::from_pem(server.ca_pem.as_bytes()).unwrap();
    // reqwest is built without a default crypto provider in this workspace.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .tls_certs_only([certificate])
        .build()
        .unwrap();
    // No CA in the options: only the user's client trusts it.
    assert_eq!(
        list(options(&server).with_http_client(http)).await.unwrap(),
        0
    );
    assert_eq!(server.answered.load(Ordering::SeqCst), 1);
}

#[test]
fn a_bundle_without_certificates_is_refused() {
    let error =
        CaCertificates::from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap_err();
    assert!(matches!(error, ClientError::InvalidInput(_)), "{error:?}");
    let error = Client::new(
        Token::new("t"),
        ClientOptions::default().default_roots(DefaultRoots::None),
    )
    .unwrap_err();
    assert!(error.to_string().contains("no root certificate"), "{error}");
}
