//! Options shared by the commands that call GitHub's REST API (`hooks`,
//! `deliveries`): where the API is, how to authenticate, what to print.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use octohook_client::{AppJwt, Client, ClientOptions, GITHUB_API_URL, HookTarget, Token};
use serde::Serialize;

use crate::secrets::SecretError;

/// Where GitHub's API is and how to authenticate to it.
#[derive(Debug, Args)]
pub(crate) struct GithubOptions {
    /// The API root: GHE.com uses `https://api.SUBDOMAIN.ghe.com`, GitHub Enterprise
    /// Server `https://HOST/api/v3`.
    #[arg(long, env = "GITHUB_API_URL", default_value = GITHUB_API_URL, global = true)]
    pub(crate) api_url: String,
    /// The environment variable holding the token (a personal access token or an
    /// installation token).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "GITHUB_TOKEN",
        global = true
    )]
    pub(crate) token_env: String,
    /// Authenticate as this GitHub App (with --app-key) instead of with a token.
    #[arg(long, value_name = "ID", requires = "app_key", global = true)]
    pub(crate) app_id: Option<String>,
    /// The GitHub App's private key (PEM).
    #[arg(long, value_name = "PEM_FILE", requires = "app_id", global = true)]
    pub(crate) app_key: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// A failure of a `hooks` or `deliveries` command.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GithubCommandError {
    #[error(transparent)]
    Api(#[from] octohook_client::Error),
    #[error(transparent)]
    Auth(#[from] octohook_client::AuthError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl GithubOptions {
    /// A client authenticated as the app when --app-id is given, else with the token.
    pub(crate) fn client(&self) -> Result<Client, GithubCommandError> {
        let options = ClientOptions {
            base_url: self.api_url.clone(),
            ..ClientOptions::default()
        };
        let client = match (&self.app_id, &self.app_key) {
            (Some(id), Some(key)) => Client::new(AppJwt::from_pem_file(id.clone(), key)?, options)?,
            _ => Client::new(Token::from_env(&self.token_env)?, options)?,
        };
        Ok(client)
    }

    /// Prints `value` as JSON, or as `text` renders it.
    pub(crate) fn print<T: Serialize + ?Sized>(
        &self,
        value: &T,
        text: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<(), GithubCommandError> {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        if self.json {
            serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
            writeln!(out)?;
        } else {
            text(&mut out)?;
        }
        out.flush()?;
        Ok(())
    }
}

/// `--repo OWNER/REPO` or `--org ORG`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct TargetArgs {
    /// A repository's hooks.
    #[arg(long, value_name = "OWNER/REPO")]
    pub(crate) repo: Option<HookTarget>,
    /// An organization's hooks.
    #[arg(long, value_name = "ORG")]
    pub(crate) org: Option<String>,
}

impl TargetArgs {
    pub(crate) fn target(&self) -> Result<HookTarget, GithubCommandError> {
        match (&self.repo, &self.org) {
            (Some(repo), _) => Ok(repo.clone()),
            (None, Some(org)) => Ok(HookTarget::organization(org.clone())),
            (None, None) => Err(GithubCommandError::Usage(
                "pass --repo OWNER/REPO or --org ORG".into(),
            )),
        }
    }
}

/// A comma-separated list of event names, as `--events push,pull_request`.
pub(crate) fn parse_events(list: &str) -> Vec<octohook_client::EventKind> {
    list.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(octohook_client::EventKind::from_name)
        .collect()
}
