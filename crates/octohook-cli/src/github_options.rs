//! Options shared by the commands that call GitHub's REST API (`hooks`,
//! `deliveries`, `redeliver`): where the API is, which certificate authorities to
//! trust, how to authenticate (a token, a GitHub App, or one of its
//! installations), and whether to print JSON.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use octohook_client::{
    AppJwt, CaCertificates, Client, ClientOptions, GITHUB_API_URL, HookTarget, InstallationToken,
    Token,
};
use serde::Serialize;

use crate::exit_status::{Failed, Status};
use crate::secrets::SecretError;

/// The variables a token is read from when --token-env is not given, in order
/// (`GH_TOKEN` as the gh CLI reads it).
pub(crate) const TOKEN_VARIABLES: [&str; 2] = ["GITHUB_TOKEN", "GH_TOKEN"];

/// Where GitHub's API is, how to reach it and how to authenticate to it, and
/// whether to print JSON: the options of the commands that call the API.
#[derive(Debug, Args)]
pub(crate) struct GithubOptions {
    #[command(flatten)]
    pub(crate) api: ApiOptions,
    /// Print one JSON document (compact, on one line) instead of text; `redeliver
    /// --watch` prints one per run, so its output is JSON lines.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

impl std::ops::Deref for GithubOptions {
    type Target = ApiOptions;

    fn deref(&self) -> &ApiOptions {
        &self.api
    }
}

/// Where GitHub's API is, how to reach it and how to authenticate to it (also
/// `serve --pull`'s).
#[derive(Debug, Args)]
pub(crate) struct ApiOptions {
    /// The API root: GHE.com uses `https://api.SUBDOMAIN.ghe.com`, GitHub Enterprise
    /// Server `https://HOST/api/v3`.
    #[arg(long, env = "GITHUB_API_URL", default_value = GITHUB_API_URL, global = true)]
    pub(crate) api_url: String,
    /// The environment variable holding the token (a personal access token or an
    /// installation token). Default: GITHUB_TOKEN, and GH_TOKEN when GITHUB_TOKEN
    /// is unset or empty.
    #[arg(long, env = "OCTOHOOK_TOKEN_ENV", value_name = "NAME", global = true)]
    pub(crate) token_env: Option<String>,
    /// Authenticate as this GitHub App (with --private-key) instead of with a
    /// token; with --installation-id, as one of its installations.
    #[arg(
        long,
        env = "OCTOHOOK_APP_ID",
        value_name = "ID",
        requires = "app_key",
        global = true
    )]
    pub(crate) app_id: Option<String>,
    /// The GitHub App's private key (PEM).
    #[arg(
        long = "private-key",
        visible_alias = "app-key",
        env = "OCTOHOOK_PRIVATE_KEY",
        value_name = "PEM_FILE",
        requires = "app_id",
        global = true
    )]
    pub(crate) app_key: Option<PathBuf>,
    /// Authenticate as this installation of the app (with --app-id and
    /// --private-key) with installation access tokens, minted and refreshed as
    /// needed.
    #[arg(
        long,
        env = "OCTOHOOK_INSTALLATION_ID",
        value_name = "ID",
        requires = "app_id",
        global = true
    )]
    pub(crate) installation_id: Option<u64>,
    /// Trust the certificate authorities in this PEM file too (a GitHub
    /// Enterprise Server behind a private CA).
    #[arg(long, value_name = "PEM_FILE", env = "OCTOHOOK_CA_CERT", global = true)]
    pub(crate) ca_cert: Option<PathBuf>,
    /// Trust the operating system's root certificates instead of the built-in
    /// Mozilla roots.
    #[arg(
        long,
        env = "OCTOHOOK_NATIVE_ROOTS",
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub(crate) native_roots: bool,
}

/// A failure of a `hooks`, `deliveries` or `redeliver` command.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GithubCommandError {
    #[error(transparent)]
    Api(#[from] octohook_client::ClientError),
    #[error(transparent)]
    Auth(#[from] octohook_client::AuthError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    /// A confirmation was declined or could not be asked (exit 8).
    #[error("{0}")]
    Aborted(String),
    /// Some items of a batch failed (exit 6).
    #[error("{0}")]
    PartlyDone(String),
}

impl GithubCommandError {
    /// The error as `main` classifies it (see `exit_status`): client errors stay
    /// `octohook_client::ClientError`s, aborts and partial failures carry their status.
    pub(crate) fn into_boxed(self) -> Box<dyn std::error::Error> {
        match self {
            Self::Api(error) => Box::new(error),
            Self::Auth(error) => Box::new(octohook_client::ClientError::Auth(error)),
            Self::Aborted(message) => Box::new(Failed::new(Status::Aborted, message)),
            Self::PartlyDone(message) => Box::new(Failed::new(Status::PartlyDone, message)),
            other => Box::new(other),
        }
    }
}

/// Which credential a command needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Identity {
    /// The token, or the installation with --installation-id, or the app.
    Default,
    /// The GitHub App itself (its JWT), as `/app/hook` requires.
    App,
}

impl ApiOptions {
    /// The client options: API root and trust anchors.
    fn client_options(&self) -> Result<ClientOptions, GithubCommandError> {
        let mut options = ClientOptions {
            base_url: self.api_url.clone(),
            ..ClientOptions::default()
        };
        if self.native_roots {
            options = options.native_roots();
        }
        if let Some(path) = &self.ca_cert {
            options = options.ca_certificates(CaCertificates::from_pem_file(path)?);
        }
        Ok(options)
    }

    /// A client for `identity`: the app's JWT for [`Identity::App`]; otherwise
    /// installation tokens with --installation-id, the app's JWT with --app-id,
    /// else the token.
    pub(crate) fn client(&self, identity: Identity) -> Result<Client, GithubCommandError> {
        let options = self.client_options()?;
        let client = match (&self.app_id, &self.app_key) {
            (Some(id), Some(key)) => {
                let app = AppJwt::from_pem_file(id.clone(), key)?;
                match (identity, self.installation_id) {
                    (Identity::Default, Some(installation)) => {
                        Client::new(InstallationToken::new(app, installation), options)?
                    }
                    _ => Client::new(app, options)?,
                }
            }
            _ if identity == Identity::App => {
                return Err(GithubCommandError::Usage(
                    "the GitHub App's hook needs --app-id and --private-key".into(),
                ));
            }
            _ => Client::new(self.token()?, options)?,
        };
        Ok(client)
    }

    /// The token from --token-env, or from GITHUB_TOKEN, else GH_TOKEN.
    fn token(&self) -> Result<Token, octohook_client::AuthError> {
        if let Some(name) = &self.token_env {
            return Token::from_env(name);
        }
        let [first, second] = TOKEN_VARIABLES;
        Token::from_env(first)
            .or_else(|_| Token::from_env(second))
            .map_err(|_| {
                octohook_client::AuthError::new(format!(
                    "no token: set {first} or {second}, or pass --token-env NAME or --app-id"
                ))
            })
    }
}

impl GithubOptions {
    /// Prints `value` as one line of JSON, or as `text` renders it.
    pub(crate) fn print<T: Serialize + ?Sized>(
        &self,
        value: &T,
        text: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<(), GithubCommandError> {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        if self.json {
            serde_json::to_writer(&mut out, value).map_err(std::io::Error::from)?;
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
