//! `octohook sign`: the `X-Hub-Signature-256` value of a body.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;
use octohook::Signer;

use crate::{json_output, secrets};

/// Prints the `sha256=` signature header value of a body (streamed, any size).
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// Environment variable holding the secret, used exactly as set (a trailing
    /// newline is warned about, not dropped).
    #[arg(long, default_value = "GITHUB_WEBHOOK_SECRET", value_name = "NAME")]
    secret_env: String,
    /// The body to sign; standard input when absent or `-`.
    file: Option<PathBuf>,
    /// Print one JSON object: `header` (`X-Hub-Signature-256`) and `signature`.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: SignArgs) -> Result<(), Box<dyn std::error::Error>> {
    let secret = secrets::from_env(&args.secret_env)?;
    let mut signer = Signer::new(&secret);
    let mut input: Box<dyn Read> = match &args.file {
        Some(path) if path.as_os_str() != "-" => Box::new(
            std::fs::File::open(path)
                .map_err(|error| format!("cannot open {}: {error}", path.display()))?,
        ),
        _ => Box::new(std::io::stdin().lock()),
    };
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => signer.update(&buffer[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(format!("cannot read the body: {error}").into()),
        }
    }
    let signature = signer.finish();
    if args.json {
        json_output::print(&serde_json::json!({
            "header": "X-Hub-Signature-256",
            "signature": signature,
        }))?;
    } else {
        println!("{signature}");
    }
    Ok(())
}
