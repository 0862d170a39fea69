//! Verification cost beside the floor it cannot beat: one SHA-256 pass over the body.
//!
//! Each `body_*` group hashes the same bytes three ways so ratios come from one run:
//! `sha256` (plain SHA-256, the floor), `verify_signature_256` (signature header
//! parse + HMAC-SHA256 + constant-time compare) and `verify` (every delivery header
//! parsed, signature checked, JSON envelope decoded), beside `ring_hmac_verify`
//! (ring's HMAC check with a prepared key). `headers` times the header
//! parsers alone; `keyed_state` compares the verifier's precomputed HMAC key state
//! with keying a fresh HMAC per request, as a hand-written verifier does.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderValue};
use octohook::{DeliveryHeaders, Signature256, Verifier, WebhookSecret, sign, sign_legacy_sha1};
use sha2::{Digest, Sha256};

const SECRET: &str = "It's a Secret to Everybody";

/// Body sizes from a tiny `ping` to GitHub's 25 MiB cap.
const SIZES: [(&str, usize); 6] = [
    ("64B", 64),
    ("1KiB", 1 << 10),
    ("8KiB", 8 << 10),
    ("64KiB", 64 << 10),
    ("1MiB", 1 << 20),
    ("25MiB", 25 << 20),
];

/// A JSON object of exactly `len` bytes (`len >= 32`), shaped like a delivery: an
/// `action` and a long string field.
fn json_body(len: usize) -> Bytes {
    let head = br#"{"action":"opened","padding":""#;
    let tail = br#""}"#;
    assert!(len >= head.len() + tail.len(), "body too small: {len}");
    let mut body = Vec::with_capacity(len);
    body.extend_from_slice(head);
    let fill = len - head.len() - tail.len();
    body.extend((0..fill).map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36]));
    body.extend_from_slice(tail);
    assert_eq!(body.len(), len);
    Bytes::from(body)
}

/// The headers GitHub sends with a delivery of `body`, both signatures included.
fn delivery_headers(secret: &WebhookSecret, body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        headers.insert(name, HeaderValue::from_str(value).expect("valid value"));
    };
    put("x-github-event", "pull_request");
    put("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    put("x-github-hook-id", "292430182");
    put("x-github-hook-installation-target-type", "repository");
    put("x-github-hook-installation-target-id", "79929171");
    put("user-agent", "GitHub-Hookshot/044aadd");
    put("content-type", "application/json");
    put("content-length", &body.len().to_string());
    put("x-hub-signature", &sign_legacy_sha1(secret, body));
    put("x-hub-signature-256", &sign(secret, body));
    headers
}

fn secret() -> WebhookSecret {
    WebhookSecret::new(SECRET).expect("non-empty")
}

fn body_sizes(c: &mut Criterion) {
    let secret = secret();
    let verifier = Verifier::new(secret.clone());
    for (label, len) in SIZES {
        let body = json_body(len);
        let headers = delivery_headers(&secret, &body);
        let signature = sign(&secret, &body);

        let mut group = c.benchmark_group(format!("body_{label}"));
        group.throughput(Throughput::Bytes(len as u64));
        if len >= 1 << 20 {
            group.sample_size(10);
            group.warm_up_time(Duration::from_secs(1));
        }
        group.bench_function("sha256", |b| {
            b.iter(|| Sha256::digest(black_box(&body[..])));
        });
        group.bench_function("verify_signature_256", |b| {
            b.iter(|| {
                verifier
                    .verify_signature_256(black_box(signature.as_bytes()), black_box(&body[..]))
                    .expect("signature matches")
            });
        });
        group.bench_function("verify", |b| {
            b.iter(|| {
                verifier
                    .verify(black_box(&headers), black_box(body.clone()))
                    .expect("delivery verifies")
            });
        });
        // The floor of `benches/compare/micro`'s verify64-vs-ring: ring's HMAC
        // check alone, with its key prepared once and the tag already decoded.
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
        let tag = hex::decode(&signature["sha256=".len()..]).expect("hex");
        group.bench_function("ring_hmac_verify", |b| {
            b.iter(|| {
                ring::hmac::verify(&key, black_box(&body[..]), black_box(&tag))
                    .expect("tag matches")
            });
        });
        group.finish();
    }
}

fn header_parsing(c: &mut Criterion) {
    let secret = secret();
    let body = json_body(64);
    let headers = delivery_headers(&secret, &body);
    let signature = sign(&secret, &body);

    let mut group = c.benchmark_group("headers");
    group.bench_function("DeliveryHeaders::from_headers", |b| {
        b.iter(|| DeliveryHeaders::from_headers(black_box(&headers)).expect("valid headers"));
    });
    group.bench_function("Signature256::parse", |b| {
        b.iter(|| Signature256::parse(black_box(signature.as_bytes())).expect("valid signature"));
    });
    group.finish();
}

fn keyed_state(c: &mut Criterion) {
    let secret = secret();
    let verifier = Verifier::new(secret.clone());
    let body = json_body(64);
    let signature = sign(&secret, &body);

    let mut group = c.benchmark_group("keyed_state");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function(BenchmarkId::new("precomputed", "64B"), |b| {
        b.iter(|| {
            verifier
                .verify_signature_256(black_box(signature.as_bytes()), black_box(&body[..]))
                .expect("signature matches")
        });
    });
    group.bench_function(BenchmarkId::new("new_from_slice", "64B"), |b| {
        b.iter(|| {
            let expected =
                Signature256::parse(black_box(signature.as_bytes())).expect("valid signature");
            let mut mac = Hmac::<Sha256>::new_from_slice(black_box(SECRET.as_bytes()))
                .expect("any key length");
            mac.update(black_box(&body[..]));
            mac.verify_slice(expected.as_bytes())
                .expect("signature matches");
        });
    });
    group.finish();
}

// What `criterion_group!`/`criterion_main!` expand to, without the undocumented
// `pub fn` the workspace's `missing_docs` lint would flag.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    body_sizes(&mut criterion);
    header_parsing(&mut criterion);
    keyed_state(&mut criterion);
    criterion.final_summary();
}
