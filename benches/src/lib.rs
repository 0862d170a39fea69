//! Benchmarks live in `benches/benches/`.
//!
//! This library holds what the loopback bench servers in `src/bin/` share
//! ([`loopback`]); `benches/compare/e2e` drives them.

pub mod loopback;
