//! Bench fixture: the bare server plus a fixed amount of busy work per request.
//! `POST /` reads the whole body, spins on the clock for `OCTOHOOK_BENCH_BUSY_US`
//! microseconds (default 4.7, what SHA-256 of 8 KiB costs on the reference
//! machine) and answers 200, verifying nothing. `benches/compare/e2e --flavours`
//! uses it to show what in-handler work costs a loopback server beyond its own
//! time; command line and environment in [`octohook_benches::loopback`].

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;

async fn accept(State(busy): State<Duration>, body: Bytes) -> StatusCode {
    let start = Instant::now();
    while start.elapsed() < busy {
        black_box(&body);
    }
    StatusCode::OK
}

fn main() -> ExitCode {
    octohook_benches::loopback::serve(|_secret| {
        let micros = match std::env::var("OCTOHOOK_BENCH_BUSY_US") {
            Ok(value) => value
                .parse::<f64>()
                .ok()
                .filter(|micros| micros.is_finite() && *micros >= 0.0)
                .ok_or_else(|| {
                    format!("OCTOHOOK_BENCH_BUSY_US is not a duration in µs: {value}")
                })?,
            Err(_) => 4.7,
        };
        let busy = Duration::from_secs_f64(micros / 1e6);
        Ok(Router::new().route("/", post(accept)).with_state(busy))
    })
}
