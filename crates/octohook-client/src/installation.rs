//! Installation access tokens of a GitHub App, minted with the app's JWT, cached
//! and refreshed before they expire.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde::Deserialize;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::auth::{AppJwt, Authenticate, Credential};
use crate::client::{Client, Request};
use crate::error::{AuthError, ClientError};
use crate::retry::Idempotence;
use crate::target::Route;

/// How long before `expires_at` a token is replaced by default. GitHub's tokens
/// live an hour; five minutes absorbs clock drift and long requests.
pub const INSTALLATION_TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Authenticates as one installation of a GitHub App with installation access
/// tokens, which GitHub mints on `POST /app/installations/{id}/access_tokens`
/// against the app's JWT.
///
/// The first request mints a token through the same [`Client`] (its base URL, TLS
/// settings and retries); later requests reuse it until
/// [`refresh_margin`](InstallationToken::refresh_margin) before its `expires_at`,
/// and once more after GitHub answers 401. Concurrent requests that find no valid
/// token wait for a single mint. Tokens are never logged, and `Debug` redacts
/// them: the cached token is a [`Credential`], whose `Debug` is redacted.
///
/// ```no_run
/// use octohook_client::{AppJwt, Client, ClientOptions, InstallationToken};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let app = AppJwt::from_pem_file("123456", "app.private-key.pem")?;
/// let client = Client::new(InstallationToken::new(app, 987_654), ClientOptions::default())?;
/// let hooks = client.repo_hooks("octo-org", "hello-world").list().await?;
/// println!("{} hooks", hooks.len());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct InstallationToken {
    app: AppJwt,
    installation_id: u64,
    refresh_margin: Duration,
    cached: Mutex<Option<Minted>>,
    /// Held while minting, so that concurrent requests share one mint.
    minting: tokio::sync::Mutex<()>,
}

#[derive(Clone, Debug)]
struct Minted {
    credential: Credential,
    expires_at: SystemTime,
}

/// GitHub's answer to a mint; only the fields the client needs.
#[derive(Deserialize)]
struct MintAnswer {
    token: String,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

impl InstallationToken {
    /// Tokens for installation `installation_id` of the app `app` authenticates
    /// as.
    pub fn new(app: AppJwt, installation_id: u64) -> Self {
        Self {
            app,
            installation_id,
            refresh_margin: INSTALLATION_TOKEN_REFRESH_MARGIN,
            cached: Mutex::new(None),
            minting: tokio::sync::Mutex::new(()),
        }
    }

    /// Replace tokens this long before they expire instead of
    /// [`INSTALLATION_TOKEN_REFRESH_MARGIN`].
    ///
    /// ```
    /// # fn build(app: octohook_client::AppJwt) {
    /// use std::time::Duration;
    /// use octohook_client::InstallationToken;
    ///
    /// let auth = InstallationToken::new(app, 42).refresh_margin(Duration::from_secs(60));
    /// assert_eq!(auth.installation_id(), 42);
    /// # }
    /// ```
    #[must_use]
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// The installation the tokens are for.
    pub fn installation_id(&self) -> u64 {
        self.installation_id
    }

    /// The app whose JWT mints the tokens.
    pub fn app(&self) -> &AppJwt {
        &self.app
    }

    /// When the cached token expires, if one was minted and is still held.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.lock().as_ref().map(|minted| minted.expires_at)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Minted>> {
        // The cache is replaced wholesale, so a poisoned lock still holds a
        // consistent value.
        self.cached.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached token, if it is not yet due for replacement at `now`.
    fn fresh(&self, now: SystemTime) -> Option<Credential> {
        self.lock()
            .as_ref()
            .filter(|minted| {
                minted
                    .expires_at
                    .checked_sub(self.refresh_margin)
                    .is_some_and(|due| now < due)
            })
            .map(|minted| minted.credential.clone())
    }

    async fn mint(&self, client: &Client) -> Result<Credential, ClientError> {
        if let Some(credential) = self.fresh(SystemTime::now()) {
            return Ok(credential);
        }
        let _minting = self.minting.lock().await;
        // Another request may have minted while this one waited.
        if let Some(credential) = self.fresh(SystemTime::now()) {
            return Ok(credential);
        }
        let route = Route::new([
            "app".to_owned(),
            "installations".to_owned(),
            self.installation_id.to_string(),
            "access_tokens".to_owned(),
        ]);
        // A second token minted by a retry is harmless: retry like a GET.
        let request = Request::new(Method::POST, &route).idempotence(Idempotence::Safe);
        let answer: MintAnswer = client.send_as(request, &self.app).await?.json()?;
        let token = Zeroizing::new(answer.token);
        let expires_at = SystemTime::from(answer.expires_at);
        let credential = Credential::bearer(&token);
        tracing::debug!(
            installation_id = self.installation_id,
            expires_at = %answer.expires_at,
            "minted a GitHub App installation token"
        );
        *self.lock() = Some(Minted {
            credential: credential.clone(),
            expires_at,
        });
        Ok(credential)
    }
}

impl Authenticate for InstallationToken {
    /// The cached token; fails when none was minted yet or it is due for
    /// replacement, as minting needs the client ([`Authenticate::fetch_credential`]).
    fn credential(&self) -> Result<Credential, AuthError> {
        self.fresh(SystemTime::now()).ok_or_else(|| {
            AuthError::new(format!(
                "no valid token for GitHub App installation {} yet: it is minted by the client's first request",
                self.installation_id
            ))
        })
    }

    fn fetch_credential<'a>(
        &'a self,
        client: &'a Client,
    ) -> BoxFuture<'a, Result<Credential, ClientError>> {
        Box::pin(self.mint(client))
    }

    fn rejected(&self, credential: &Credential) -> bool {
        let mut cached = self.lock();
        // Drop the token only if it is the one refused: a concurrent request may
        // already have replaced it.
        if cached
            .as_ref()
            .is_some_and(|minted| &minted.credential == credential)
        {
            *cached = None;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_cached_token() {
        let app =
            AppJwt::from_pem("4242", include_bytes!("../tests/fixtures/test-app-key.pem")).unwrap();
        let auth = InstallationToken::new(app, 7);
        *auth.lock() = Some(Minted {
            credential: Credential::bearer("ghs_s3cret"),
            expires_at: SystemTime::now(),
        });
        let shown = format!("{auth:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("installation_id: 7"), "{shown}");
    }
}
