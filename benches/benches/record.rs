//! The cost of writing a delivery's `--out` line ([`DeliveryRecord`]) for a 64 KiB
//! payload: plain ASCII, and text where every 16th byte leads a character of the
//! U+2000 block (`—`), the worst case of the scan for U+2028 and U+2029 that
//! decides between `payload` and `payload_base64`. `copy` is the floor: the
//! payload copied once.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput};
use http::HeaderMap;
use octohook::{DeliveryRecord, VerifiedDelivery, Verifier, WebhookSecret, sign};

/// A JSON object of about `len` bytes whose string holds `unit` repeated.
fn delivery(len: usize, unit: &str) -> VerifiedDelivery {
    let mut body = String::from(r#"{"action":"opened","padding":""#);
    while body.len() + unit.len() + 2 <= len {
        body.push_str(unit);
    }
    body.push_str(r#""}"#);
    let secret = WebhookSecret::new("bench").unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-github-event", "issues".parse().unwrap());
    headers.insert("x-github-delivery", "a1".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert(
        "x-hub-signature-256",
        sign(&secret, body.as_bytes()).parse().unwrap(),
    );
    let delivery = Verifier::new(secret)
        .verify(&headers, Bytes::from(body))
        .unwrap();
    delivery.check_payload().unwrap();
    delivery
}

fn record(c: &mut Criterion) {
    let mut group = c.benchmark_group("record_64KiB");
    group.throughput(Throughput::Bytes(64 << 10));
    for (name, unit) in [("ascii", "abcdefghijklmnop"), ("dashes", "abcdefghijklm—")] {
        let delivery = delivery(64 << 10, unit);
        let mut line = Vec::with_capacity(80 << 10);
        group.bench_function(format!("write_line_{name}"), |b| {
            b.iter(|| {
                line.clear();
                DeliveryRecord::new(black_box(&delivery), std::time::UNIX_EPOCH)
                    .write_line(&mut line)
                    .unwrap();
            });
        });
        group.bench_function(format!("copy_{name}"), |b| {
            b.iter(|| {
                line.clear();
                line.extend_from_slice(black_box(delivery.payload()));
            });
        });
    }
    group.finish();
}

// A plain `main` rather than `criterion_group!`, which generates a
// `pub fn` the workspace's `missing_docs` lint would flag.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    record(&mut criterion);
    criterion.final_summary();
}
