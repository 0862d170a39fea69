//! Credentials: a token, a GitHub App JWT, or your own [`Authenticate`].

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::client::Client;
use crate::error::{AuthError, ClientError};

/// Produces the `Authorization` header of each request.
///
/// The client asks [`Authenticate::fetch_credential`] once per attempt, so an
/// implementation can refresh a short-lived credential (an installation token, a
/// JWT) as it nears expiry. Its default answers the synchronous
/// [`Authenticate::credential`], which is all a static token or a locally signed
/// JWT needs; a credential minted over the network (like [`InstallationToken`])
/// overrides `fetch_credential` and asks GitHub through the client it is given.
/// After a 401 the client calls [`Authenticate::rejected`] and, if that returns
/// `true`, repeats the request once with a fresh credential.
///
/// [`InstallationToken`]: crate::InstallationToken
///
/// ```
/// use octohook_client::{AuthError, Authenticate, Credential};
///
/// #[derive(Debug)]
/// struct FromVault;
///
/// impl Authenticate for FromVault {
///     fn credential(&self) -> Result<Credential, AuthError> {
///         Ok(Credential::bearer("token fetched elsewhere"))
///     }
/// }
/// ```
pub trait Authenticate: Send + Sync + fmt::Debug {
    /// The credential for the next request, without I/O.
    fn credential(&self) -> Result<Credential, AuthError>;

    /// The credential for the next request, possibly obtained through `client`
    /// (the client that is about to send it, with its base URL and TLS settings).
    /// Default: [`Authenticate::credential`].
    fn fetch_credential<'a>(
        &'a self,
        client: &'a Client,
    ) -> BoxFuture<'a, Result<Credential, ClientError>> {
        let _ = client;
        Box::pin(std::future::ready(
            self.credential().map_err(ClientError::from),
        ))
    }

    /// GitHub answered 401 to a request sent with `credential`. Return `true` if
    /// the next [`Authenticate::fetch_credential`] will produce a different one
    /// (the client then repeats the request once). Default: `false`.
    fn rejected(&self, credential: &Credential) -> bool {
        let _ = credential;
        false
    }
}

/// `Authenticate` through a smart pointer, so that one authenticator can be shared
/// (`Arc`) or chosen at run time (`Box<dyn Authenticate>`).
macro_rules! authenticate_through {
    ($($pointer:ident),+) => {$(
        impl<A: Authenticate + ?Sized> Authenticate for $pointer<A> {
            fn credential(&self) -> Result<Credential, AuthError> {
                (**self).credential()
            }

            fn fetch_credential<'a>(
                &'a self,
                client: &'a Client,
            ) -> BoxFuture<'a, Result<Credential, ClientError>> {
                (**self).fetch_credential(client)
            }

            fn rejected(&self, credential: &Credential) -> bool {
                (**self).rejected(credential)
            }
        }
    )+};
}

authenticate_through!(Arc, Box);

/// The value of an `Authorization` header. Its `Debug` is redacted and its memory
/// is wiped on drop.
#[derive(Clone)]
pub struct Credential(Zeroizing<String>);

impl Credential {
    /// `Bearer TOKEN`, for tokens and JWTs alike.
    pub fn bearer(token: &str) -> Self {
        let mut value = Zeroizing::new(String::with_capacity(7 + token.len()));
        value.push_str("Bearer ");
        value.push_str(token);
        Self(value)
    }

    /// A header value used as is, e.g. `token ghp_…`.
    pub fn header_value(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Credential {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes() == other.0.as_bytes()
    }
}

impl Eq for Credential {}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

/// A token sent as `Bearer`: a personal access token (classic or fine-grained), an
/// installation access token, or an OAuth token.
///
/// ```
/// use octohook_client::Token;
///
/// let token = Token::new("ghp_example");
/// assert_eq!(format!("{token:?}"), "Token(<redacted>)");
/// ```
#[derive(Clone)]
pub struct Token(Zeroizing<String>);

impl Token {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(Zeroizing::new(token.into()))
    }

    /// Reads the token from the environment variable `name`, trimmed of
    /// surrounding whitespace. The error names the variable, never its value.
    pub fn from_env(name: &str) -> Result<Self, AuthError> {
        let value = std::env::var(name).map_err(|e| match e {
            std::env::VarError::NotPresent => {
                AuthError::new(format!("environment variable {name} is not set"))
            }
            std::env::VarError::NotUnicode(_) => {
                AuthError::new(format!("environment variable {name} is not valid UTF-8"))
            }
        })?;
        let value = Zeroizing::new(value);
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(AuthError::new(format!(
                "environment variable {name} is empty"
            )));
        }
        Ok(Self::new(trimmed))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Authenticate for Token {
    fn credential(&self) -> Result<Credential, AuthError> {
        Ok(Credential::bearer(&self.0))
    }
}

/// Authenticates as a GitHub App with a JWT signed RS256 by the app's private key,
/// as the `/app/hook/...` endpoints require.
///
/// Each JWT is valid for nine minutes (GitHub accepts at most ten) from a minute in
/// the past (to absorb clock drift), and is reused until a minute before it
/// expires, so the key signs about once every eight minutes.
///
/// ```no_run
/// use octohook_client::{AppJwt, Client, ClientOptions};
///
/// let auth = AppJwt::from_pem_file("123456", "app.private-key.pem")?;
/// let client = Client::new(auth, ClientOptions::default())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AppJwt {
    app_id: String,
    key: EncodingKey,
    cached: Mutex<Option<CachedJwt>>,
}

struct CachedJwt {
    credential: Credential,
    refresh_after: SystemTime,
}

/// Lifetime of a JWT, counted from its backdated `iat`.
const JWT_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// How far `iat` is backdated.
const JWT_BACKDATE: Duration = Duration::from_secs(60);
/// Margin before expiry at which a fresh JWT is signed.
const JWT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

#[derive(Serialize)]
struct Claims<'a> {
    iat: u64,
    exp: u64,
    iss: &'a str,
}

impl AppJwt {
    /// An app's id (or client id) and its private key in PEM (PKCS#1 `RSA PRIVATE
    /// KEY`, as GitHub issues it, or PKCS#8).
    pub fn from_pem(app_id: impl Into<String>, pem: &[u8]) -> Result<Self, AuthError> {
        let key = EncodingKey::from_rsa_pem(pem)
            .map_err(|e| AuthError::with_source("the GitHub App key is not an RSA PEM key", e))?;
        let app_id = app_id.into();
        if app_id.is_empty() {
            return Err(AuthError::new("the GitHub App id is empty"));
        }
        let auth = Self {
            app_id,
            key,
            cached: Mutex::new(None),
        };
        // Sign once now so that a key ring cannot use fails here, not on the
        // first request.
        auth.credential()?;
        Ok(auth)
    }

    /// Like [`AppJwt::from_pem`], reading the key from a file.
    pub fn from_pem_file(
        app_id: impl Into<String>,
        path: impl AsRef<Path>,
    ) -> Result<Self, AuthError> {
        let path = path.as_ref();
        let pem = Zeroizing::new(std::fs::read(path).map_err(|e| {
            AuthError::with_source(
                format!("could not read the GitHub App key {}", path.display()),
                e,
            )
        })?);
        Self::from_pem(app_id, &pem)
    }

    /// The app id used as the JWT's issuer.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    fn sign(&self, now: SystemTime) -> Result<CachedJwt, AuthError> {
        let since_epoch = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|_| AuthError::new("the system clock is before 1970"))?;
        let iat = since_epoch.saturating_sub(JWT_BACKDATE);
        let exp = iat + JWT_LIFETIME;
        let claims = Claims {
            iat: iat.as_secs(),
            exp: exp.as_secs(),
            iss: &self.app_id,
        };
        let jwt = Zeroizing::new(
            jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
                .map_err(|e| AuthError::with_source("could not sign the GitHub App JWT", e))?,
        );
        Ok(CachedJwt {
            credential: Credential::bearer(&jwt),
            refresh_after: SystemTime::UNIX_EPOCH + exp - JWT_REFRESH_MARGIN,
        })
    }
}

impl Authenticate for AppJwt {
    fn credential(&self) -> Result<Credential, AuthError> {
        let now = SystemTime::now();
        // A poisoned lock only means another thread panicked while signing; the
        // cache is replaced wholesale, so its content is still consistent.
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(jwt) = cached.as_ref().filter(|jwt| now < jwt.refresh_after) {
            return Ok(jwt.credential.clone());
        }
        let fresh = self.sign(now)?;
        let credential = fresh.credential.clone();
        *cached = Some(fresh);
        Ok(credential)
    }
}

impl fmt::Debug for AppJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppJwt")
            .field("app_id", &self.app_id)
            .field("key", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_and_credential_debug_are_redacted() {
        let token = Token::new("ghp_very_secret");
        assert!(!format!("{token:?}").contains("very_secret"));
        let credential = token.credential().unwrap();
        assert_eq!(credential.expose(), "Bearer ghp_very_secret");
        assert!(!format!("{credential:?}").contains("very_secret"));
    }

    #[test]
    fn token_from_env_names_the_variable_only() {
        let error = Token::from_env("OCTOHOOK_CLIENT_TEST_SURELY_UNSET").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("OCTOHOOK_CLIENT_TEST_SURELY_UNSET")
        );
    }

    #[test]
    fn app_jwt_rejects_a_non_rsa_key() {
        let error =
            AppJwt::from_pem("1", b"-----BEGIN NOTHING-----\n-----END NOTHING-----\n").unwrap_err();
        assert!(error.to_string().contains("not an RSA PEM key"), "{error}");
    }
}
