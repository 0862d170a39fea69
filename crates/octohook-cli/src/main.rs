//! `octohook`: a verifying GitHub webhook receiver, and tools to sign, send and
//! manage deliveries. The commands live in the `octohook_cli` library.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    octohook_cli::run()
}
