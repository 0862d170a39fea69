//! The client: base URL, credential, headers, retries, and the handlers per area.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::Method;
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::app::AppHook;
use crate::auth::{Authenticate, Credential};
use crate::deliveries::Deliveries;
use crate::error::{
    ApiError, AuthError, ClientError, DecodeError, FieldError, RateLimit, RateLimitKind,
    TransportError, ValidationError,
};
use crate::hooks::{EnsuredHook, Hooks};
use crate::models::{ConfigUpdate, RegisteredHookConfig, wire};
use crate::retry::{Idempotence, RetryOptions};
use crate::target::{HookRef, HookTarget, Route};
use crate::tls::{self, CaCertificates, DefaultRoots};

/// The public GitHub API.
pub const GITHUB_API_URL: &str = "https://api.github.com";

/// The REST API version every request asks for (`X-GitHub-Api-Version`).
pub const API_VERSION: &str = "2022-11-28";

/// How a [`Client`] talks to GitHub. A plain struct: set the fields you need and
/// take the rest from [`Default`], or chain the builder-style methods.
///
/// ```
/// use std::time::Duration;
/// use octohook_client::ClientOptions;
///
/// let options = ClientOptions {
///     timeout: Duration::from_secs(10),
///     ..ClientOptions::enterprise_server("github.example.com")
/// };
/// assert_eq!(options.base_url, "https://github.example.com/api/v3");
/// ```
///
/// GitHub Enterprise Server behind a company CA, trusting the operating system's
/// roots as well:
///
/// ```no_run
/// use octohook_client::{CaCertificates, Client, ClientOptions, Token};
///
/// # fn run() -> Result<(), octohook_client::ClientError> {
/// let options = ClientOptions::enterprise_server("github.example.com")
///     .ca_certificates(CaCertificates::from_pem_file("/etc/company/ca.pem")?)
///     .native_roots();
/// let client = Client::new(Token::from_env("GITHUB_TOKEN")?, options)?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The API root. Default: [`GITHUB_API_URL`]. GHE.com uses
    /// `https://api.SUBDOMAIN.ghe.com`, GitHub Enterprise Server
    /// `https://HOST/api/v3`.
    pub base_url: String,
    /// The `User-Agent` GitHub requires. Default: `octohook-client/VERSION`.
    pub user_agent: String,
    /// The longest one attempt may take, connection to last body byte.
    /// Default: 30 s.
    pub timeout: Duration,
    /// Retries, backoff and the overall deadline of an operation.
    pub retry: RetryOptions,
    /// The built-in trust anchors. Default: [`DefaultRoots::Mozilla`].
    pub default_roots: DefaultRoots,
    /// Certificate authorities trusted in addition to
    /// [`default_roots`](ClientOptions::default_roots). Default: none.
    pub extra_roots: CaCertificates,
    /// An HTTP client of your own, used as is: its TLS, proxy, redirect and
    /// connection settings are then yours, and `default_roots` and `extra_roots`
    /// are ignored. The client still adds its headers and credential to every
    /// request. Default: `None`, a client built from these options.
    pub http_client: Option<reqwest::Client>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            base_url: GITHUB_API_URL.to_owned(),
            user_agent: concat!("octohook-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            timeout: Duration::from_secs(30),
            retry: RetryOptions::default(),
            default_roots: DefaultRoots::default(),
            extra_roots: CaCertificates::default(),
            http_client: None,
        }
    }
}

impl ClientOptions {
    /// Defaults for an enterprise on GHE.com: `https://api.SUBDOMAIN.ghe.com`.
    pub fn ghe_com(subdomain: &str) -> Self {
        Self {
            base_url: format!("https://api.{subdomain}.ghe.com"),
            ..Self::default()
        }
    }

    /// Defaults for GitHub Enterprise Server at `host`: `https://HOST/api/v3`.
    pub fn enterprise_server(host: &str) -> Self {
        Self {
            base_url: format!("https://{host}/api/v3"),
            ..Self::default()
        }
    }

    /// Trusts `certificates` in addition to the default roots (call it again to
    /// add more).
    ///
    /// ```no_run
    /// use octohook_client::{CaCertificates, ClientOptions, DefaultRoots};
    ///
    /// # fn run() -> Result<(), octohook_client::ClientError> {
    /// let options = ClientOptions::enterprise_server("github.example.com")
    ///     .ca_certificates(CaCertificates::from_pem_file("ca.pem")?);
    /// assert_eq!(options.default_roots, DefaultRoots::Mozilla);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn ca_certificates(mut self, certificates: CaCertificates) -> Self {
        self.extra_roots.extend(certificates);
        self
    }

    /// Trusts only `certificates`: no built-in root at all.
    ///
    /// ```no_run
    /// use octohook_client::{CaCertificates, ClientOptions, DefaultRoots};
    ///
    /// # fn run() -> Result<(), octohook_client::ClientError> {
    /// let options = ClientOptions::enterprise_server("github.example.com")
    ///     .only_ca_certificates(CaCertificates::from_pem_file("ca.pem")?);
    /// assert_eq!(options.default_roots, DefaultRoots::None);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn only_ca_certificates(mut self, certificates: CaCertificates) -> Self {
        self.default_roots = DefaultRoots::None;
        self.extra_roots.extend(certificates);
        self
    }

    /// Starts from the operating system's trust store instead of Mozilla's roots.
    ///
    /// ```
    /// use octohook_client::{ClientOptions, DefaultRoots};
    ///
    /// let options = ClientOptions::default().native_roots();
    /// assert_eq!(options.default_roots, DefaultRoots::Native);
    /// ```
    #[must_use]
    pub fn native_roots(self) -> Self {
        self.default_roots(DefaultRoots::Native)
    }

    /// Chooses the built-in trust anchors.
    #[must_use]
    pub fn default_roots(mut self, roots: DefaultRoots) -> Self {
        self.default_roots = roots;
        self
    }

    /// Sends through `http` as is (its TLS, proxy and connection settings); see
    /// [`ClientOptions::http_client`](ClientOptions#structfield.http_client).
    ///
    /// octohook-client builds reqwest with `rustls-no-provider`: unless your
    /// build enables another TLS backend of reqwest, install a rustls crypto
    /// provider before building your client, as below.
    ///
    /// ```
    /// use std::time::Duration;
    /// use octohook_client::{Client, ClientOptions, Token};
    ///
    /// let _ = rustls::crypto::ring::default_provider().install_default();
    /// let http = reqwest::Client::builder()
    ///     .connect_timeout(Duration::from_secs(3))
    ///     .build()?;
    /// let client = Client::new(Token::new("t"), ClientOptions::default().with_http_client(http))?;
    /// assert!(client.options().http_client.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http_client = Some(http);
        self
    }
}

/// A GitHub REST client for webhooks. Cheap to clone: clones share one connection
/// pool and credential.
///
/// ```no_run
/// use octohook_client::{Client, ClientOptions, Token};
///
/// # async fn run() -> Result<(), octohook_client::ClientError> {
/// let client = Client::new(Token::from_env("GITHUB_TOKEN")?, ClientOptions::default())?;
/// for hook in client.repo_hooks("octo-org", "hello-world").list().await? {
///     println!("{} {:?}", hook.id, hook.config.url);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// Sent with every request, also through a client of the user's.
    headers: HeaderMap,
    base: Url,
    auth: Box<dyn Authenticate>,
    options: ClientOptions,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("auth", &self.inner.auth)
            .field("options", &self.inner.options)
            .finish()
    }
}

/// A request, before the credential is attached.
pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    pub(crate) route: &'a Route,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) idempotence: Idempotence,
}

impl<'a> Request<'a> {
    pub(crate) fn new(method: Method, route: &'a Route) -> Self {
        // Every method but POST is idempotent in GitHub's API.
        let idempotence = if method == Method::POST {
            Idempotence::Unsafe
        } else {
            Idempotence::Safe
        };
        Self {
            method,
            route,
            query: Vec::new(),
            body: None,
            idempotence,
        }
    }

    pub(crate) fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }

    pub(crate) fn json(mut self, body: &impl Serialize) -> Result<Self, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            ClientError::InvalidInput(format!("could not encode the request body: {e}"))
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    pub(crate) fn idempotence(mut self, idempotence: Idempotence) -> Self {
        self.idempotence = idempotence;
        self
    }

    fn label(&self) -> String {
        format!("{} {}", self.method, self.route)
    }
}

/// A successful (2xx) answer.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) label: String,
}

impl Response {
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ClientError::Decode(Box::new(DecodeError::new(
                self.status,
                self.label.clone(),
                e,
            )))
        })
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Client {
    /// A client authenticating with `auth`.
    ///
    /// Fails with [`ClientError::InvalidInput`] when the base URL is not an `http(s)` URL
    /// without credentials, query or fragment, the user agent is not a valid
    /// header value, or no root certificate is left to trust (the operating
    /// system's store is empty with [`DefaultRoots::Native`], or
    /// [`DefaultRoots::None`] comes without CA certificates).
    pub fn new(
        auth: impl Authenticate + 'static,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let base = parse_base_url(&options.base_url)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "x-github-api-version",
            HeaderValue::from_static(API_VERSION),
        );
        let user_agent = HeaderValue::from_str(&options.user_agent).map_err(|_| {
            ClientError::InvalidInput("the user agent is not a valid header value".into())
        })?;
        headers.insert(header::USER_AGENT, user_agent);
        let http = match &options.http_client {
            Some(http) => http.clone(),
            None => reqwest::Client::builder()
                .tls_backend_preconfigured(tls::client_config(
                    options.default_roots,
                    &options.extra_roots,
                )?)
                // reqwest drops `Authorization` when a redirect leaves the host.
                .redirect(reqwest::redirect::Policy::limited(5))
                .build()
                .map_err(|e| {
                    ClientError::InvalidInput(format!("could not build the HTTP client: {e}"))
                })?,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                headers,
                base,
                auth: Box::new(auth),
                options,
            }),
        })
    }

    /// The API root requests go to.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// The options the client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// A repository's hooks.
    pub fn repo_hooks(&self, owner: impl Into<String>, repo: impl Into<String>) -> Hooks {
        self.hooks(HookTarget::repository(owner, repo))
    }

    /// An organization's hooks.
    pub fn org_hooks(&self, org: impl Into<String>) -> Hooks {
        self.hooks(HookTarget::organization(org))
    }

    /// The hooks of a repository or organization chosen at run time.
    pub fn hooks(&self, target: HookTarget) -> Hooks {
        Hooks::new(self.clone(), target)
    }

    /// The authenticated GitHub App's hook; needs [`AppJwt`](crate::AppJwt)
    /// authentication.
    pub fn app_hook(&self) -> AppHook {
        AppHook::new(self.clone())
    }

    /// The deliveries of `hook`, whichever kind of hook it is (a program that
    /// chooses the hook at run time holds a [`HookRef`]).
    ///
    /// ```no_run
    /// use octohook_client::{Client, DeliveryQuery, HookRef, Token};
    ///
    /// # async fn run() -> Result<(), octohook_client::ClientError> {
    /// let client = Client::new(Token::new("ghp_..."), Default::default())?;
    /// let hook = HookRef::organization("octo-org", 12.into());
    /// let page = client.hook_deliveries(&hook).page(&DeliveryQuery::default()).await?;
    /// # Ok(()) }
    /// ```
    pub fn hook_deliveries(&self, hook: &HookRef) -> Deliveries {
        Deliveries::new(self.clone(), hook.route())
    }

    /// The configuration of `hook` (see [`Hooks::config`], [`AppHook::config`]).
    pub async fn hook_config(&self, hook: &HookRef) -> Result<RegisteredHookConfig, ClientError> {
        let route = hook.route().join("config");
        self.send(Request::new(Method::GET, &route)).await?.json()
    }

    /// Changes single configuration settings of `hook`, leaving the others (the
    /// secret included) as they are (see [`Hooks::update_config`],
    /// [`AppHook::update_config`]).
    pub async fn update_hook_config(
        &self,
        hook: &HookRef,
        update: &ConfigUpdate,
    ) -> Result<RegisteredHookConfig, ClientError> {
        let route = hook.route().join("config");
        let request =
            Request::new(Method::PATCH, &route).json(&wire::Config::from_update(update)?)?;
        self.send(request).await?.json()
    }

    /// Registers `url` on `target` idempotently; see [`Hooks::ensure`].
    pub async fn ensure_hook(
        &self,
        target: &HookTarget,
        url: &str,
        events: &[octohook::EventKind],
        secret: Option<&octohook::WebhookSecret>,
        content_type: crate::HookContentType,
    ) -> Result<EnsuredHook, ClientError> {
        self.hooks(target.clone())
            .ensure(url, events, secret, content_type)
            .await
    }

    /// Sends `request` with retries and returns its 2xx answer.
    pub(crate) async fn send(&self, request: Request<'_>) -> Result<Response, ClientError> {
        self.send_as(request, &*self.inner.auth).await
    }

    /// Like [`Client::send`], authenticating with `auth` instead of the client's
    /// credential (an installation token is minted with the app's JWT).
    pub(crate) async fn send_as(
        &self,
        request: Request<'_>,
        auth: &dyn Authenticate,
    ) -> Result<Response, ClientError> {
        let options = &self.inner.options;
        let label = request.label();
        let url = self.url(&request)?;
        let deadline = Instant::now() + options.retry.deadline;
        let mut attempt = 0;
        let mut reauthenticated = false;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ClientError::Transport(TransportError::deadline(label)));
            }
            let credential = auth.fetch_credential(self).await?;
            let error = match self
                .attempt(
                    &request,
                    &url,
                    &label,
                    remaining.min(options.timeout),
                    &credential,
                )
                .await
            {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            // A 401 was not acted on: repeat once with a fresh credential if the
            // credential can produce one (an expired or revoked installation token).
            if matches!(error, ClientError::Unauthorized(_))
                && !reauthenticated
                && auth.rejected(&credential)
            {
                tracing::debug!(request = %label, "credential refused; retrying with a fresh one");
                reauthenticated = true;
                continue;
            }
            let Some(wait) =
                options
                    .retry
                    .wait_after(&error, attempt, request.idempotence, SystemTime::now())
            else {
                return Err(error);
            };
            if Instant::now() + wait >= deadline {
                return Err(error);
            }
            tracing::debug!(
                request = %label,
                attempt = attempt + 1,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                %error,
                "retrying GitHub request"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        request: &Request<'_>,
        url: &Url,
        label: &str,
        timeout: Duration,
        credential: &Credential,
    ) -> Result<Response, ClientError> {
        let mut authorization = HeaderValue::from_str(credential.expose())
            .map_err(|_| AuthError::new("the credential is not a valid header value"))?;
        // Keeps the value out of hyper's and reqwest's debug output.
        authorization.set_sensitive(true);
        let mut builder = self
            .inner
            .http
            .request(request.method.clone(), url.clone())
            .headers(self.inner.headers.clone())
            .header(header::AUTHORIZATION, authorization)
            .timeout(timeout);
        if let Some(body) = &request.body {
            builder = builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let transport =
            |e| ClientError::Transport(TransportError::from_reqwest(label.to_owned(), e));
        let response = builder.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?.to_vec();
        if (200..300).contains(&status) {
            Ok(Response {
                status,
                headers,
                body,
                label: label.to_owned(),
            })
        } else {
            Err(classify(status, &headers, &body, label))
        }
    }

    fn url(&self, request: &Request<'_>) -> Result<Url, ClientError> {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| ClientError::InvalidInput("the base URL cannot have a path".into()))?
            .pop_if_empty()
            .extend(request.route.segments());
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        Ok(url)
    }
}

fn parse_base_url(text: &str) -> Result<Url, ClientError> {
    let invalid = |why: &str| ClientError::InvalidInput(format!("the API base URL {why}"));
    let url = Url::parse(text).map_err(|_| invalid("is not a URL"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(invalid("must be http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Credentials belong in the Authenticate implementation, which keeps them
        // out of errors and logs; a URL is printed freely.
        return Err(invalid("must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() || url.cannot_be_a_base() {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(url)
}

/// GitHub's error body; every field is optional because proxies and 5xx pages may
/// answer something else entirely.
#[derive(serde::Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    documentation_url: Option<String>,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum ErrorItem {
    Detailed(FieldError),
    Text(String),
}

/// Maps a non-2xx answer to its typed error.
pub(crate) fn classify(status: u16, headers: &HeaderMap, body: &[u8], label: &str) -> ClientError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let api = ApiError {
        status,
        request: label.to_owned(),
        message: parsed.message,
        documentation_url: parsed.documentation_url,
    };
    let number =
        |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
    match status {
        401 => ClientError::Unauthorized(Box::new(api)),
        404 => ClientError::NotFound(Box::new(api)),
        422 => ClientError::Validation(Box::new(ValidationError {
            api,
            errors: parsed
                .errors
                .into_iter()
                .map(|item| match item {
                    ErrorItem::Detailed(detail) => detail,
                    ErrorItem::Text(message) => FieldError {
                        message: Some(message),
                        ..FieldError::default()
                    },
                })
                .collect(),
        })),
        403 | 429 => {
            let remaining = number("x-ratelimit-remaining");
            let retry_after = number("retry-after").map(Duration::from_secs);
            let mentions_limit = api
                .message
                .as_deref()
                .is_some_and(|m| m.to_ascii_lowercase().contains("rate limit"));
            let kind = if retry_after.is_some() {
                Some(RateLimitKind::Secondary)
            } else if remaining == Some(0) {
                Some(RateLimitKind::Primary)
            } else if mentions_limit || status == 429 {
                Some(RateLimitKind::Secondary)
            } else {
                None
            };
            match kind {
                Some(kind) => {
                    let reset = number("x-ratelimit-reset")
                        .map(|epoch| SystemTime::UNIX_EPOCH + Duration::from_secs(epoch));
                    // A secondary limit without Retry-After has no reset of its own;
                    // x-ratelimit-reset then describes the primary budget.
                    let reset = if kind == RateLimitKind::Primary || remaining == Some(0) {
                        reset
                    } else {
                        None
                    };
                    ClientError::RateLimited(Box::new(RateLimit {
                        kind,
                        api,
                        limit: number("x-ratelimit-limit"),
                        remaining,
                        reset,
                        retry_after,
                    }))
                }
                None => ClientError::Forbidden(Box::new(api)),
            }
        }
        500..=599 => ClientError::Server(Box::new(api)),
        _ => ClientError::UnexpectedStatus(Box::new(api)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    header::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn base_urls_without_credentials_only() {
        assert!(parse_base_url("https://api.github.com").is_ok());
        assert!(parse_base_url("https://github.example.com/api/v3/").is_ok());
        assert!(parse_base_url("https://user:pw@github.example.com").is_err());
        assert!(parse_base_url("ftp://example.com").is_err());
        assert!(parse_base_url("https://example.com/?x=1").is_err());
    }

    #[test]
    fn urls_keep_the_base_path_and_encode_segments() {
        let client = Client::new(
            crate::Token::new("t"),
            ClientOptions::enterprise_server("ghe.example.com"),
        )
        .unwrap();
        let route = HookTarget::repository("o", "a/b").hooks_route();
        let request = Request::new(Method::GET, &route).query("per_page", 100);
        assert_eq!(
            client.url(&request).unwrap().as_str(),
            "https://ghe.example.com/api/v3/repos/o/a%2Fb/hooks?per_page=100"
        );
    }

    #[test]
    fn classifies_rate_limits() {
        let primary = classify(
            403,
            &headers(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1700000000"),
            ]),
            br#"{"message":"API rate limit exceeded"}"#,
            "GET /x",
        );
        let limit = primary.rate_limit().unwrap();
        assert_eq!(limit.kind, RateLimitKind::Primary);
        assert_eq!(
            limit.reset,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        let secondary = classify(429, &headers(&[("retry-after", "7")]), b"", "GET /x");
        let limit = secondary.rate_limit().unwrap();
        assert_eq!(limit.kind, RateLimitKind::Secondary);
        assert_eq!(limit.retry_after, Some(Duration::from_secs(7)));
        let forbidden = classify(
            403,
            &headers(&[("x-ratelimit-remaining", "4999")]),
            br#"{"message":"Resource not accessible by integration"}"#,
            "GET /x",
        );
        assert!(matches!(forbidden, ClientError::Forbidden(_)));
    }

    #[test]
    fn validation_details_accept_objects_and_strings() {
        let error = classify(
            422,
            &HeaderMap::new(),
            br#"{"message":"Validation Failed","errors":[{"resource":"Hook","code":"custom","message":"Hook already exists"},"plain"],"documentation_url":"https://docs"}"#,
            "POST /repos/o/r/hooks",
        );
        let ClientError::Validation(validation) = error else {
            panic!("{error:?}")
        };
        assert_eq!(validation.errors.len(), 2);
        assert_eq!(validation.errors[0].code.as_deref(), Some("custom"));
        assert_eq!(validation.errors[1].message.as_deref(), Some("plain"));
        assert_eq!(
            validation.api.documentation_url.as_deref(),
            Some("https://docs")
        );
    }
}
