//! A dudect-style check that rejecting a wrong signature takes as long whether the
//! signature shares no leading bytes with the expected one or all but the last.
//!
//! Ignored by default: it times 3.2 million verifications (a few seconds) and
//! wants a quiet machine. Run it with optimisations:
//!
//! ```sh
//! cargo test --release -p octohook --test timing -- --ignored --nocapture
//! ```
//!
//! Method (Reparaz, Balasch and Verbauwhede, "dude, is my code constant time?",
//! 2017): two classes of inputs are measured in a random interleaved order — class
//! A, a signature whose first byte already differs from the expected MAC; class B,
//! one that matches it in all bytes but the last. Each measurement times a batch of
//! verifications. The largest samples are cropped at several percentiles, since
//! interrupts only ever add time, and Welch's t statistic compares the two classes
//! for every crop. A leak shows as |t| growing without bound as samples are added;
//! dudect reads |t| above 10 as "probably not constant time", and so does this test.
//!
//! A control runs the same statistics over an early-exit byte comparison, the bug
//! this guards against. If the control does not stand out, the measurement is too
//! noisy to say anything and the test fails rather than pass vacuously.

use std::hint::black_box;
use std::time::Instant;

use octohook::{Signature256, Verifier, WebhookSecret, sign};

/// Measurements per class.
const SAMPLES: usize = 200_000;
/// Verifications timed together in one measurement, so the clock's own cost and
/// resolution do not drown the signal.
const BATCH: usize = 8;
/// dudect's bar for "probably not constant time". (4.5, the TVLA bar, trips on
/// this shared machine's noise in either direction now and then.)
const T_THRESHOLD: f64 = 10.0;
/// Percentiles the samples are cropped at (1.0 keeps them all).
const CROPS: [f64; 5] = [0.5, 0.75, 0.9, 0.99, 1.0];

#[test]
#[ignore = "statistical timing test: run with --release -- --ignored on a quiet machine"]
fn rejecting_a_wrong_signature_takes_as_long_however_much_of_it_matches() {
    let secret = WebhookSecret::new("It's a Secret to Everybody").expect("non-empty");
    let verifier = Verifier::new(secret.clone());
    let body = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let expected = sign(&secret, body);
    let (no_byte_matches, all_but_last_match) = wrong_signatures(&expected);

    // Both candidates are copied into one buffer before each verification, so
    // they differ only in content, never in address or alignment.
    let mut header = [0u8; "sha256=".len() + 64];
    let octohook = measure(|wrong_late| {
        let candidate = if wrong_late {
            &all_but_last_match
        } else {
            &no_byte_matches
        };
        header.copy_from_slice(candidate.as_bytes());
        let outcome = verifier.verify_signature_256(black_box(&header), black_box(body));
        assert!(outcome.is_err(), "a wrong signature was accepted");
    });
    let mac = |header: &str| {
        *Signature256::parse(header.as_bytes())
            .expect("valid")
            .as_bytes()
    };
    let expected_mac = mac(&expected);
    let mut early_exit_target = expected_mac;
    let (early, late) = (mac(&no_byte_matches), mac(&all_but_last_match));
    let control = measure(|wrong_late| {
        // The same verification work, then the comparison a naive verifier makes.
        let _ = verifier.verify_signature_256(black_box(expected.as_bytes()), black_box(body));
        let candidate = if wrong_late { &late } else { &early };
        early_exit_target = black_box(expected_mac);
        assert!(!early_exit_equal(
            black_box(candidate),
            black_box(&early_exit_target)
        ));
    });

    println!("octohook verify_signature_256: {octohook}");
    println!("control (early-exit compare):  {control}");
    assert!(
        control.max_abs_t() > T_THRESHOLD,
        "the control's leak did not stand out (max |t| {:.1}): the machine is too noisy for this test",
        control.max_abs_t()
    );
    assert!(
        octohook.max_abs_t() < T_THRESHOLD,
        "verification time depends on how much of a wrong signature matches: {octohook}"
    );
}

/// Two wrong signatures: one that differs from `expected` in its first byte, one
/// that differs only in its last.
fn wrong_signatures(expected: &str) -> (String, String) {
    let digits = &expected["sha256=".len()..];
    let flip = |digit: u8| if digit == b'0' { '1' } else { '0' };
    let first = flip(digits.as_bytes()[0]);
    let last = flip(digits.as_bytes()[digits.len() - 1]);
    (
        format!("sha256={first}{}", &digits[1..]),
        format!("sha256={}{last}", &digits[..digits.len() - 1]),
    )
}

/// Stops at the first differing byte: the timing leak constant-time comparison
/// exists to prevent.
fn early_exit_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    for (x, y) in a.iter().zip(b) {
        if black_box(x) != black_box(y) {
            return false;
        }
    }
    true
}

/// Times `operation(class)` in batches, the classes in a random interleaved order,
/// and compares their distributions.
fn measure(mut operation: impl FnMut(bool)) -> Comparison {
    let mut order = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut classes = Vec::with_capacity(2 * SAMPLES);
    for _ in 0..2 * SAMPLES {
        classes.push(order.next() & 1 == 1);
    }
    // Warm caches and branch predictors on both classes.
    for class in classes.iter().take(10_000) {
        operation(*class);
    }
    let mut times = [
        Vec::with_capacity(SAMPLES * 11 / 10),
        Vec::with_capacity(SAMPLES * 11 / 10),
    ];
    for class in classes {
        let start = Instant::now();
        for _ in 0..BATCH {
            operation(class);
        }
        times[usize::from(class)].push(start.elapsed().as_nanos() as f64 / BATCH as f64);
    }
    let [early, late] = times;
    Comparison::new(early, late)
}

/// Welch's t between the two classes at each crop percentile.
#[derive(Debug)]
struct Comparison {
    t_by_crop: Vec<(f64, f64)>,
    median_early: f64,
    median_late: f64,
}

impl Comparison {
    fn new(mut early: Vec<f64>, mut late: Vec<f64>) -> Self {
        early.sort_by(f64::total_cmp);
        late.sort_by(f64::total_cmp);
        // Both classes are cropped at the same absolute threshold, taken from the
        // pooled samples, so the crop itself cannot create a difference.
        let mut pooled: Vec<f64> = early.iter().chain(&late).copied().collect();
        pooled.sort_by(f64::total_cmp);
        let t_by_crop = CROPS
            .iter()
            .map(|&crop| {
                let limit = pooled[((pooled.len() - 1) as f64 * crop) as usize];
                let keep = |samples: &[f64]| -> Vec<f64> {
                    samples.iter().copied().filter(|t| *t <= limit).collect()
                };
                (crop, welch_t(&keep(&early), &keep(&late)))
            })
            .collect();
        Self {
            t_by_crop,
            median_early: early[early.len() / 2],
            median_late: late[late.len() / 2],
        }
    }

    fn max_abs_t(&self) -> f64 {
        self.t_by_crop
            .iter()
            .map(|(_, t)| t.abs())
            .fold(0.0, f64::max)
    }
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "median {:.1} ns (first byte wrong) vs {:.1} ns (last byte wrong); Welch's t",
            self.median_early, self.median_late
        )?;
        for (crop, t) in &self.t_by_crop {
            write!(f, " p{:.0}={t:+.2}", crop * 100.0)?;
        }
        write!(f, "; max |t| {:.2}", self.max_abs_t())
    }
}

fn welch_t(a: &[f64], b: &[f64]) -> f64 {
    let (mean_a, var_a) = mean_and_variance(a);
    let (mean_b, var_b) = mean_and_variance(b);
    let spread = (var_a / a.len() as f64 + var_b / b.len() as f64).sqrt();
    if spread == 0.0 {
        0.0
    } else {
        (mean_a - mean_b) / spread
    }
}

fn mean_and_variance(samples: &[f64]) -> (f64, f64) {
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let variance = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, variance)
}

/// Marsaglia's xorshift64: enough to shuffle the classes, nothing more.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
