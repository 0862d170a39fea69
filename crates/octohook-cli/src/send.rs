//! `octohook send`: post a payload to a receiver as GitHub would.

use std::path::{Path, PathBuf};

use clap::Args;
use octohook::header::{
    X_GITHUB_DELIVERY, X_GITHUB_EVENT, X_GITHUB_HOOK_ID, X_GITHUB_HOOK_INSTALLATION_TARGET_ID,
    X_GITHUB_HOOK_INSTALLATION_TARGET_TYPE, X_HUB_SIGNATURE, X_HUB_SIGNATURE_256,
};
use octohook::{sign, sign_legacy_sha1};

use serde_json::json;

use crate::example_payloads::{self, ExamplePayloads};
use crate::exit_status::{Failed, Status};
use crate::{json_output, secrets};

/// Posts a payload with every delivery header GitHub sends: a fresh delivery GUID,
/// both signatures, the hook and target headers. Prints the receiver's status, the
/// delivery GUID and its answer (`--json`: one object with `status`, `guid`,
/// `event`, `response_body`); exits 9 when the status is not 2xx.
#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// The receiver's URL.
    #[arg(long)]
    url: String,
    /// The event name (`X-GitHub-Event`), such as `push` or `pull_request`; with
    /// --example, the example's event by default.
    #[arg(long, required_unless_present = "example")]
    event: Option<String>,
    /// Send GitHub's published example NAME (`pull_request.opened`, `ping`), built
    /// into octohook, instead of a file; `octohook events --examples` lists them.
    #[arg(long, value_name = "NAME", conflicts_with = "file")]
    example: Option<String>,
    /// Environment variable holding the secret.
    #[arg(long, default_value = "GITHUB_WEBHOOK_SECRET", value_name = "NAME")]
    secret_env: String,
    /// Send as GitHub's `form` content type (`payload=<url-encoded JSON>`).
    #[arg(long)]
    form: bool,
    /// `X-GitHub-Hook-ID` to send.
    #[arg(long, default_value_t = 1)]
    hook_id: u64,
    /// `X-GitHub-Hook-Installation-Target-Type` to send.
    #[arg(long, default_value = "repository")]
    target_type: String,
    /// `X-GitHub-Hook-Installation-Target-ID` to send.
    #[arg(long, default_value_t = 1)]
    target_id: u64,
    /// `X-GitHub-Delivery` to send instead of a fresh GUID (to test deduplication).
    #[arg(long)]
    delivery: Option<String>,
    /// Print one JSON object: `status`, `guid`, `event` and `response_body`.
    #[arg(long)]
    json: bool,
    /// The JSON payload; standard input when `-`.
    #[arg(required_unless_present = "example")]
    file: Option<PathBuf>,
}

pub(crate) async fn run(args: SendArgs) -> Result<(), Box<dyn std::error::Error>> {
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
    let response = reqwest::Client::new()
        .post(&args.url)
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
        .map_err(|error| format!("cannot send to {}: {error}", args.url))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if args.json {
        json_output::print(&json!({
            "status": status.as_u16(),
            "guid": guid,
            "event": event,
            "response_body": text,
        }))?;
    } else {
        println!("{} {guid} {}", status.as_u16(), text.trim_end());
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
