//! `octohook send`: post a payload to a receiver as GitHub would.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use octohook::header::{
    X_GITHUB_DELIVERY, X_GITHUB_EVENT, X_GITHUB_HOOK_ID, X_GITHUB_HOOK_INSTALLATION_TARGET_ID,
    X_GITHUB_HOOK_INSTALLATION_TARGET_TYPE, X_HUB_SIGNATURE, X_HUB_SIGNATURE_256,
};
use octohook::{sign, sign_legacy_sha1};

use serde_json::json;

use crate::example_payloads::{self, ExamplePayloads};
use crate::exit_status::{Failed, Status};
use crate::redacted_url::RedactedUrl;
use crate::terminal_text::{self, Layout};
use crate::{json_output, secrets};

/// Posts a payload with every delivery header GitHub sends: a fresh delivery GUID,
/// both signatures, the hook and target headers. Prints the receiver's status, the
/// delivery GUID and its answer (`--json`: one object with `status`, `guid`,
/// `event`, `response_body`); exits 9 when the status is not 2xx.
#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// The receiver's URL (http:// or https://); a user name and password in it
    /// are sent as Basic authentication and never printed.
    #[arg(long)]
    url: String,
    /// The event name (`X-GitHub-Event`), such as `push` or `pull_request`; with
    /// --example, the example's event by default.
    #[arg(long, required_unless_present = "example", value_parser = header_text)]
    event: Option<String>,
    /// Send GitHub's published example NAME (`pull_request.opened`, `ping`), built
    /// into octohook, instead of a file; `octohook events --examples` lists them.
    #[arg(long, value_name = "NAME", conflicts_with = "file")]
    example: Option<String>,
    /// Environment variable holding the secret, used exactly as set (a trailing
    /// newline is warned about, not dropped).
    #[arg(long, default_value = "GITHUB_WEBHOOK_SECRET", value_name = "NAME")]
    secret_env: String,
    /// Send as GitHub's `form` content type (`payload=<url-encoded JSON>`).
    #[arg(long)]
    form: bool,
    /// `X-GitHub-Hook-ID` to send.
    #[arg(long, default_value_t = 1)]
    hook_id: u64,
    /// `X-GitHub-Hook-Installation-Target-Type` to send.
    #[arg(long, default_value = "repository", value_parser = header_text)]
    target_type: String,
    /// `X-GitHub-Hook-Installation-Target-ID` to send.
    #[arg(long, default_value_t = 1)]
    target_id: u64,
    /// `X-GitHub-Delivery` to send instead of a fresh GUID (to test deduplication).
    #[arg(long, value_parser = header_text)]
    delivery: Option<String>,
    /// Print one JSON object: `status`, `guid`, `event` and `response_body`.
    #[arg(long)]
    json: bool,
    /// How long to wait for the receiver, connecting and the whole request and
    /// answer included (`10s`, `1m`): past it, send gives up and exits 1. The
    /// default is a few times GitHub's own 10 seconds: a receiver slower than
    /// that would fail GitHub's deliveries anyway.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = timeout)]
    timeout: Duration,
    /// The JSON payload; standard input when `-`.
    #[arg(required_unless_present = "example")]
    file: Option<PathBuf>,
}

/// Why `send` could not post the payload; never holds the URL's user name or
/// password, nor the secret.
#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("--url must start with http:// or https://, such as http://127.0.0.1:3000/hooks")]
    NotHttp,
    #[error("--url is not a URL: {0}")]
    BadUrl(url::ParseError),
    /// The request failed before any answer: `cause` is the whole chain, such
    /// as "tcp connect error: Connection refused (os error 111)".
    #[error("cannot send to {url}: {cause}")]
    NoAnswer { url: String, cause: String },
    /// Connected or not, no whole answer came within `--timeout`.
    #[error(
        "cannot send to {url}: no answer within {} (--timeout)",
        humantime::format_duration(*.timeout)
    )]
    TimedOut { url: String, timeout: Duration },
}

/// `--url` checked before anything is read or sent.
fn receiver_url(text: &str) -> Result<reqwest::Url, SendError> {
    let url = match reqwest::Url::parse(text) {
        Ok(url) => url,
        // `127.0.0.1:3000/` and the like: no scheme at all.
        Err(url::ParseError::RelativeUrlWithoutBase) => return Err(SendError::NotHttp),
        Err(error) => return Err(SendError::BadUrl(error)),
    };
    // `localhost:3000` parses, with the scheme `localhost`.
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SendError::NotHttp);
    }
    Ok(url)
}

/// Parses `--timeout`: a humantime duration (`10s`, `1m`), not zero.
fn timeout(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("the timeout must not be zero".into()),
        Ok(duration) => Ok(duration),
        Err(error) => Err(error.to_string()),
    }
}

/// Parses a flag sent as a header: visible ASCII characters and spaces, on one
/// line (anything else could not be sent).
fn header_text(text: &str) -> Result<String, String> {
    match reqwest::header::HeaderValue::from_str(text) {
        Ok(_) => Ok(text.to_owned()),
        Err(_) => Err(
            "it is sent as a header, which holds visible ASCII characters and spaces only, on one line"
                .to_owned(),
        ),
    }
}

/// A request error and its causes ("error sending request: client error
/// (Connect): tcp connect error: Connection refused (os error 111)"), without
/// the URL reqwest puts in its own message.
fn causes(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

pub(crate) async fn run(args: SendArgs) -> Result<(), Box<dyn std::error::Error>> {
    let url = receiver_url(&args.url)?;
    let secret = secrets::from_env(&args.secret_env)?;
    let (payload, event) = match (&args.example, &args.file) {
        (Some(name), _) => {
            let examples = ExamplePayloads::load()?;
            let payload = examples.get(name)?.as_bytes().to_vec();
            let event = args
                .event
                .clone()
                .unwrap_or_else(|| example_payloads::event_of(name).to_owned());
            (payload, event)
        }
        (None, Some(file)) => (read(file).await?, args.event.clone().unwrap_or_default()),
        (None, None) => return Err("name a payload file or --example".into()),
    };
    let (body, content_type) = if args.form {
        let json = String::from_utf8(payload).map_err(|_| "a form payload must be UTF-8 JSON")?;
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &json)
            .finish()
            .into_bytes();
        (body, "application/x-www-form-urlencoded")
    } else {
        (payload, "application/json")
    };
    let guid = args
        .delivery
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // reqwest 0.13 comes without a crypto provider here: rustls on ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .connect_timeout(args.timeout)
        .timeout(args.timeout)
        .build()?;
    let no_answer = |error: reqwest::Error| {
        let url = RedactedUrl(&url).to_string();
        if error.is_timeout() {
            SendError::TimedOut {
                url,
                timeout: args.timeout,
            }
        } else {
            SendError::NoAnswer {
                url,
                cause: causes(error),
            }
        }
    };
    let response = client
        .post(url.clone())
        .header(
            reqwest::header::USER_AGENT,
            concat!("GitHub-Hookshot/octohook-", env!("CARGO_PKG_VERSION")),
        )
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .header(X_GITHUB_EVENT, &event)
        .header(X_GITHUB_DELIVERY, &guid)
        .header(X_GITHUB_HOOK_ID, args.hook_id.to_string())
        .header(X_GITHUB_HOOK_INSTALLATION_TARGET_TYPE, &args.target_type)
        .header(
            X_GITHUB_HOOK_INSTALLATION_TARGET_ID,
            args.target_id.to_string(),
        )
        .header(X_HUB_SIGNATURE_256, sign(&secret, &body))
        .header(X_HUB_SIGNATURE, sign_legacy_sha1(&secret, &body))
        .body(body)
        .send()
        .await
        .map_err(no_answer)?;
    let status = response.status();
    // Within the same timeout: a receiver that sends its head and then stalls
    // fails; an answer cut short otherwise is shown empty.
    let text = match response.text().await {
        Ok(text) => text,
        Err(error) if error.is_timeout() => return Err(no_answer(error).into()),
        Err(_) => String::new(),
    };
    if args.json {
        json_output::print(&json!({
            "status": status.as_u16(),
            "guid": guid,
            "event": event,
            "response_body": text,
        }))?;
    } else {
        // The receiver's answer is a stranger's text: no terminal escapes.
        let answer = terminal_text::escaped(text.trim_end(), Layout::Block);
        println!("{} {guid} {answer}", status.as_u16());
    }
    if status.is_success() {
        Ok(())
    } else {
        Err(Failed::new(Status::Rejected, format!("the receiver answered {status}")).into())
    }
}

async fn read(file: &Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    if file.as_os_str() == "-" {
        let mut buffer = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut tokio::io::stdin(), &mut buffer).await?;
        Ok(buffer)
    } else {
        Ok(tokio::fs::read(file)
            .await
            .map_err(|error| format!("cannot read {}: {error}", file.display()))?)
    }
}
