//! Times one `X-Hub-Signature-256` check per body size with octohook and with the
//! Rust alternatives a receiver could use instead; `benches/compare/verify` runs it.
//!
//! Usage: `octohook-compare-verify [--seconds S] [--sizes 64,1024,...]`
//!
//! Prints tab-separated lines on stdout:
//! - `sig<TAB>size<TAB>sha256=<hex>`: the signature every implementation was given
//!   (the script checks that Node and Python computed the same one);
//! - `<impl><TAB>size<TAB>ns_per_op`: the median over batches of the time per
//!   verification, in nanoseconds.
//!
//! Before timing anything, every implementation must accept the correct signature
//! and reject one with a flipped hex digit; otherwise it exits with status 2.

#![forbid(unsafe_code)]

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderValue};
use octohook::{Verifier, WebhookSecret};
use sha2::{Digest, Sha256};

/// The secret GitHub's documentation signs its example with.
const SECRET: &str = "It's a Secret to Everybody";

/// Body sizes from a tiny `ping` to GitHub's 25 MiB cap.
const DEFAULT_SIZES: [usize; 6] = [64, 1 << 10, 8 << 10, 64 << 10, 1 << 20, 25 << 20];

/// How many batches a cell aims for; the median of their per-op times is reported.
const BATCHES: u32 = 20;
/// How many turns each implementation gets per body size (at least one batch each).
const ROUNDS: u32 = 5;

/// Everything one body size needs: the body, its signature and a GitHub header set.
struct Delivery {
    body: Bytes,
    signature: String,
    wrong_signature: String,
    headers: HeaderMap,
    wrong_headers: HeaderMap,
}

/// The keys the implementations use; ring and aws-lc-rs hold a key object, as
/// their APIs intend, while the hand-written verifier keys an HMAC per request.
struct Keys {
    verifier: Verifier,
    ring: ring::hmac::Key,
    #[cfg(feature = "aws-lc")]
    aws_lc: aws_lc_rs::hmac::Key,
}

/// One implementation under test: its name in the output and the check it runs.
struct Implementation {
    name: &'static str,
    verify: fn(&Keys, &Delivery, Signed) -> bool,
}

/// Which signature (and header set) to hand to an implementation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Signed {
    Correctly,
    Wrongly,
}

impl Delivery {
    fn new(len: usize) -> Self {
        let body = json_body(len);
        let signature = reference_signature(&body);
        let wrong_signature = flip_last_digit(&signature);
        Self {
            headers: github_headers(&signature, body.len()),
            wrong_headers: github_headers(&wrong_signature, body.len()),
            body,
            signature,
            wrong_signature,
        }
    }

    fn signature(&self, signed: Signed) -> &[u8] {
        match signed {
            Signed::Correctly => self.signature.as_bytes(),
            Signed::Wrongly => self.wrong_signature.as_bytes(),
        }
    }

    fn headers(&self, signed: Signed) -> &HeaderMap {
        match signed {
            Signed::Correctly => &self.headers,
            Signed::Wrongly => &self.wrong_headers,
        }
    }
}

/// A JSON object of exactly `len` bytes (`len >= 32`) shaped like a delivery. The
/// Node and Python programs build the same bytes.
fn json_body(len: usize) -> Bytes {
    const HEAD: &[u8] = br#"{"action":"opened","padding":""#;
    const TAIL: &[u8] = br#""}"#;
    const FILL: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let fill = len
        .checked_sub(HEAD.len() + TAIL.len())
        .expect("body sizes are at least 32 bytes");
    let mut body = Vec::with_capacity(len);
    body.extend_from_slice(HEAD);
    body.extend((0..fill).map(|i| FILL[i % FILL.len()]));
    body.extend_from_slice(TAIL);
    Bytes::from(body)
}

/// The `X-Hub-Signature-256` value, computed with ring rather than with any of
/// the verifiers' own signing code.
fn reference_signature(body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    format!("sha256={}", hex::encode(tag.as_ref()))
}

/// The same signature with its last hex digit changed.
fn flip_last_digit(signature: &str) -> String {
    let (head, last) = signature.split_at(signature.len() - 1);
    let flipped = if last == "0" { "1" } else { "0" };
    format!("{head}{flipped}")
}

/// The headers GitHub sends with a delivery.
fn github_headers(signature: &str, len: usize) -> HeaderMap {
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
    put("content-length", &len.to_string());
    put("x-hub-signature-256", signature);
    headers
}

/// Decodes `sha256=<64 hex digits>` into the 32-byte tag, as a user of ring or
/// aws-lc-rs has to before calling their `hmac::verify`.
fn decode_signature(header: &[u8]) -> Option<[u8; 32]> {
    let digits = header.strip_prefix(b"sha256=")?;
    let mut tag = [0u8; 32];
    hex::decode_to_slice(digits, &mut tag).ok()?;
    Some(tag)
}

fn octohook_signature(keys: &Keys, delivery: &Delivery, signed: Signed) -> bool {
    keys.verifier
        .verify_signature_256(
            black_box(delivery.signature(signed)),
            black_box(&delivery.body[..]),
        )
        .is_ok()
}

fn octohook_full(keys: &Keys, delivery: &Delivery, signed: Signed) -> bool {
    keys.verifier
        .verify(
            black_box(delivery.headers(signed)),
            black_box(delivery.body.clone()),
        )
        .is_ok()
}

fn ring_verify(keys: &Keys, delivery: &Delivery, signed: Signed) -> bool {
    decode_signature(black_box(delivery.signature(signed))).is_some_and(|tag| {
        ring::hmac::verify(&keys.ring, black_box(&delivery.body[..]), &tag).is_ok()
    })
}

#[cfg(feature = "aws-lc")]
fn aws_lc_verify(keys: &Keys, delivery: &Delivery, signed: Signed) -> bool {
    decode_signature(black_box(delivery.signature(signed))).is_some_and(|tag| {
        aws_lc_rs::hmac::verify(&keys.aws_lc, black_box(&delivery.body[..]), &tag).is_ok()
    })
}

/// What a receiver writes without a webhook library: key an HMAC per request,
/// hex-decode the header, and compare with `verify_slice` (constant time).
fn hand_written(_keys: &Keys, delivery: &Delivery, signed: Signed) -> bool {
    let header = black_box(delivery.signature(signed));
    let Some(digits) = header.strip_prefix(b"sha256=") else {
        return false;
    };
    let Ok(tag) = hex::decode(digits) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()) else {
        return false;
    };
    mac.update(black_box(&delivery.body[..]));
    mac.verify_slice(&tag).is_ok()
}

/// Plain SHA-256 of the body with the `sha2` crate octohook uses: no key, no hex,
/// no compare. A reference row, not a verifier, so the "wrong signature" check
/// does not apply to it.
fn sha2_plain(_keys: &Keys, delivery: &Delivery, _signed: Signed) -> bool {
    let digest = Sha256::digest(black_box(&delivery.body[..]));
    black_box(digest).len() == 32
}

fn implementations() -> Vec<Implementation> {
    let mut all = vec![
        Implementation {
            name: "octohook-verify_signature_256",
            verify: octohook_signature,
        },
        Implementation {
            name: "octohook-verify",
            verify: octohook_full,
        },
        Implementation {
            name: "ring",
            verify: ring_verify,
        },
    ];
    #[cfg(feature = "aws-lc")]
    all.push(Implementation {
        name: "aws-lc-rs",
        verify: aws_lc_verify,
    });
    all.push(Implementation {
        name: "rustcrypto-hand-written",
        verify: hand_written,
    });
    all
}

/// The reference row; kept apart because it verifies nothing.
const SHA2_PLAIN: Implementation = Implementation {
    name: "sha2-plain-sha256",
    verify: sha2_plain,
};

/// Per-op times of every implementation on one delivery: the median over batches
/// of nanoseconds per call. The implementations take turns in rounds, so load from
/// elsewhere on the machine falls on all of them alike. `Err` names an
/// implementation that rejected the correct signature.
fn measure(
    budget: Duration,
    implementations: &[&Implementation],
    keys: &Keys,
    delivery: &Delivery,
) -> Result<Vec<f64>, &'static str> {
    let run = |implementation: &Implementation, times: u64| {
        (0..times).all(|_| (implementation.verify)(keys, delivery, Signed::Correctly))
    };
    // Warm up each for a fifth of the budget, and size its batches from that.
    let mut batches = Vec::new();
    for implementation in implementations {
        let start = Instant::now();
        let mut ops: u32 = 0;
        while ops == 0 || start.elapsed() < budget / 5 {
            if !run(implementation, 1) {
                return Err(implementation.name);
            }
            ops += 1;
        }
        let per_op = start.elapsed().as_secs_f64() / f64::from(ops);
        let batch_time = budget.as_secs_f64() / f64::from(BATCHES);
        // Truncating to a whole number of iterations is intended.
        batches.push(((batch_time / per_op) as u64).max(1));
    }

    let mut samples = vec![Vec::new(); implementations.len()];
    for _ in 0..ROUNDS {
        for ((implementation, &batch), samples) in
            implementations.iter().zip(&batches).zip(&mut samples)
        {
            let start = Instant::now();
            let taken = samples.len();
            while samples.len() == taken || start.elapsed() < budget / ROUNDS {
                let batch_start = Instant::now();
                if !run(implementation, batch) {
                    return Err(implementation.name);
                }
                samples.push(batch_start.elapsed().as_secs_f64() * 1e9 / batch as f64);
            }
        }
    }
    Ok(samples
        .into_iter()
        .map(|mut samples| {
            samples.sort_by(f64::total_cmp);
            samples[samples.len() / 2]
        })
        .collect())
}

struct Options {
    seconds: f64,
    sizes: Vec<usize>,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        seconds: 1.0,
        sizes: DEFAULT_SIZES.to_vec(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--seconds" => {
                let text = value()?;
                options.seconds = text
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or(format!("--seconds: not a positive number: {text}"))?;
            }
            "--sizes" => {
                options.sizes = value()?
                    .split(',')
                    .map(|s| match s.parse::<usize>() {
                        Ok(n) if n >= 32 => Ok(n),
                        _ => Err(format!("--sizes: not a size of at least 32: {s}")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            _ => return Err(format!("unknown argument: {arg}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("octohook-compare-verify: {message}");
            eprintln!("usage: octohook-compare-verify [--seconds S] [--sizes 64,1024,...]");
            return ExitCode::from(64);
        }
    };
    let secret = WebhookSecret::new(SECRET).expect("the secret is not empty");
    let keys = Keys {
        verifier: Verifier::new(secret.clone()),
        ring: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes()),
        #[cfg(feature = "aws-lc")]
        aws_lc: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SECRET.as_bytes()),
    };
    let implementations = implementations();
    let budget = Duration::from_secs_f64(options.seconds);

    for &len in &options.sizes {
        let delivery = Delivery::new(len);
        if octohook::sign(&secret, &delivery.body) != delivery.signature {
            eprintln!("octohook::sign and ring disagree on the {len}-byte body");
            return ExitCode::from(2);
        }
        for implementation in &implementations {
            let accepts = (implementation.verify)(&keys, &delivery, Signed::Correctly);
            let rejects = !(implementation.verify)(&keys, &delivery, Signed::Wrongly);
            if !(accepts && rejects) {
                eprintln!(
                    "{}: {len}-byte body: correct signature accepted: {accepts}, wrong one rejected: {rejects}",
                    implementation.name
                );
                return ExitCode::from(2);
            }
        }
        println!("sig\t{len}\t{}", delivery.signature);

        let timed: Vec<&Implementation> = implementations.iter().chain([&SHA2_PLAIN]).collect();
        match measure(budget, &timed, &keys, &delivery) {
            Ok(times) => {
                for (implementation, ns) in timed.iter().zip(times) {
                    println!("{}\t{len}\t{ns:.1}", implementation.name);
                }
            }
            Err(name) => {
                eprintln!("{name}: {len}-byte body: rejected a correct signature while timing");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}
