//! `octohook pull --once` against GitHub Enterprise Server: the stateful fake
//! GitHub behind HTTPS on 127.0.0.1 with a certificate from a private CA, at
//! `https://127.0.0.1:PORT/api/v3`. With `--ca-cert` it stores and writes every
//! delivery; without, the TLS handshake is refused and nothing is stored.

mod jsonl;
#[path = "../../octohook-client/tests/support/private_ca.rs"]
mod private_ca;
#[path = "../../octohook-client/tests/support/redelivery_fake.rs"]
mod redelivery_fake;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use jsonl::read_jsonl;
use private_ca::acceptor_signed_by_new_ca;
use redelivery_fake::{Outcome, RedeliveryFake};
use serde_json::json;

const TOKEN: &str = "ghp_pullGhesTokenThatMustNeverLeak";
const HOOK: &str = "repos/o/r/hooks/7";

/// A private CA's PEM, and an HTTPS front on 127.0.0.1 (certificate signed by
/// it) that hands each connection on to `backend` in plain HTTP.
async fn https_front(backend: SocketAddr) -> (SocketAddr, String) {
    let (acceptor, ca_pem) = acceptor_signed_by_new_ca("octohook GHES test CA");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut plain = tokio::net::TcpStream::connect(backend).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (address, ca_pem)
}

fn pull_once(api_url: &str, dir: &Path, extra: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_octohook"))
        .args(["pull", "--once", "--repo", "o/r", "--hook", "7", "--db"])
        .arg(dir.join("inbox.db"))
        .arg("--out")
        .arg(dir.join("out.jsonl"))
        .args(["--api-url", api_url])
        .args(extra)
        .env("GITHUB_TOKEN", TOKEN)
        .env_remove("GITHUB_API_URL")
        .env_remove("OCTOHOOK_CA_CERT")
        .env("OCTOHOOK_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(&TOKEN[4..]), "the token leaked: {stderr}");
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_once_from_ghes_behind_a_private_ca_trusts_it_only_with_ca_cert() {
    let fake = RedeliveryFake::start().await;
    let backend: SocketAddr = fake.url().trim_start_matches("http://").parse().unwrap();
    for n in 0..12u32 {
        fake.add_event(
            HOOK,
            &format!("3c4d5e6f-0000-4000-8000-{n:012x}"),
            Duration::from_secs(60 * u64::from(20 - n)),
            "push",
            json!({"ref": "refs/heads/main", "size": n}),
            Outcome::Ok,
        );
    }
    let (front, ca_pem) = https_front(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let api_url = format!("https://127.0.0.1:{}/api/v3", front.port());

    // Without the CA: the certificate is refused, nothing stored or read.
    let refused = {
        let (api_url, dir) = (api_url.clone(), dir.path().to_owned());
        tokio::task::spawn_blocking(move || pull_once(&api_url, &dir, &[]))
            .await
            .unwrap()
    };
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "trusted a private CA: {stderr}");
    assert!(read_jsonl(&dir.path().join("out.jsonl")).is_empty());
    assert_eq!(fake.list_requests(), 0, "a request got through");

    // With it: every delivery, once, pulled.
    let ca = ca_file.to_str().unwrap().to_owned();
    let output = {
        let (api_url, dir) = (api_url.clone(), dir.path().to_owned());
        tokio::task::spawn_blocking(move || pull_once(&api_url, &dir, &["--ca-cert", &ca]))
            .await
            .unwrap()
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let written = read_jsonl(&dir.path().join("out.jsonl"));
    let guids: BTreeSet<&str> = written
        .iter()
        .map(|line| line["delivery"].as_str().unwrap())
        .collect();
    assert_eq!(written.len(), 12, "{written:?}");
    assert_eq!(guids.len(), 12);
    for line in &written {
        assert_eq!(line["origin"], "pulled");
        assert_eq!(line["event"], "push");
        assert_eq!(line["hook_id"], 7);
    }
    assert_eq!(fake.get_requests(), 12);
}
