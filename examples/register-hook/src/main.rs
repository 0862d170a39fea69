//! Run with: cargo run -p example-register-hook
//!
//! What a service does at start-up: make sure GitHub sends its webhooks to it,
//! with the events it handles and the secret it verifies, without ever creating a
//! second hook when it restarts or runs as several instances.
//!
//! It reads:
//! - `GITHUB_TOKEN`: a token allowed to manage the repository's hooks
//!   ("Webhooks" write permission, or the classic `admin:repo_hook` scope);
//! - `GITHUB_REPOSITORY`: `OWNER/REPO`;
//! - `WEBHOOK_URL`: where GitHub should POST deliveries;
//! - `WEBHOOK_SECRET`: the secret the service verifies signatures with;
//! - `GITHUB_API_URL` (optional): the API root, for GHE.com or GitHub Enterprise
//!   Server.

use std::process::ExitCode;

use octohook_client::{
    Client, ClientOptions, EnsureAction, EventKind, HookContentType, HookTarget, Token,
    WebhookSecret,
};

#[tokio::main]
async fn main() -> ExitCode {
    match register().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("register-hook: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn register() -> Result<(), String> {
    let env = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let target: HookTarget = env("GITHUB_REPOSITORY")?
        .parse()
        .map_err(|e| format!("GITHUB_REPOSITORY: {e}"))?;
    let url = env("WEBHOOK_URL")?;
    let secret =
        WebhookSecret::new(env("WEBHOOK_SECRET")?).map_err(|e| format!("WEBHOOK_SECRET: {e}"))?;

    let mut options = ClientOptions::default();
    if let Ok(api_url) = std::env::var("GITHUB_API_URL") {
        options.base_url = api_url;
    }
    let token = Token::from_env("GITHUB_TOKEN").map_err(|e| e.to_string())?;
    let client = Client::new(token, options).map_err(|e| e.to_string())?;

    // The events this service handles; ensure_hook makes the hook's list exactly
    // this, whatever it was before.
    let events = [EventKind::Push, EventKind::PullRequest];
    let ensured = client
        .ensure_hook(&target, &url, &events, Some(&secret), HookContentType::Json)
        .await
        .map_err(|e| format!("could not register the webhook on the {target}: {e}"))?;

    let what = match ensured.action {
        EnsureAction::Created => "created",
        EnsureAction::Updated => "updated",
        EnsureAction::Unchanged => "already up to date",
        _ => "ensured",
    };
    println!("webhook {} on the {target}: {what}", ensured.hook.id);
    // A real service would now start serving, verifying deliveries with `secret`
    // (see the `octohook` crate) and checking `X-GitHub-Hook-ID` against this id.
    Ok(())
}
