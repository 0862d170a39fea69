//! An in-process fake of GitHub's webhook REST API over real HTTP on 127.0.0.1,
//! for behaviour tests: hooks with `page` pagination, deliveries with `Link`
//! cursors, redeliveries, GitHub's duplicate-hook rule, and scripted failures
//! (rate limits, 5xx) injected ahead of the normal answers.
//!
//! Shared by the client's and the CLI's tests through `#[path]`.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A request as the fake received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// An answer to give instead of the normal one.
#[derive(Clone, Debug)]
pub struct Injected {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

#[derive(Default)]
struct Store {
    next_hook_id: u64,
    /// Owner path (`repos/o/r`, `orgs/o`) → hook id → hook.
    hooks: BTreeMap<String, BTreeMap<u64, Value>>,
    /// Hook path (`repos/o/r/hooks/1`, `app/hook`) → deliveries, newest first.
    deliveries: BTreeMap<String, Vec<Value>>,
    /// Secrets as written, by hook id, to check what the client sent.
    secrets: BTreeMap<u64, String>,
    redelivered: Vec<(String, u64)>,
    /// Installation access tokens minted, as `(installation id, token)`.
    minted: Vec<(u64, String)>,
    injected: VecDeque<(Option<Method>, String, Injected)>,
    requests: Vec<Recorded>,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeGitHub {
    store: Arc<Mutex<Store>>,
    pub addr: SocketAddr,
    /// When set, `/app/hook/...` requires a JWT verifiable with this PEM public key.
    app_public_key: Option<Arc<Vec<u8>>>,
}

impl FakeGitHub {
    /// The installation tokens minted so far, as `(installation id, token)`.
    pub fn minted(&self) -> Vec<(u64, String)> {
        self.store().minted.clone()
    }

    pub async fn start() -> Self {
        Self::start_with_app_key(None).await
    }

    pub async fn start_with_app_key(app_public_key: Option<Vec<u8>>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = Self {
            store: Arc::new(Mutex::new(Store {
                next_hook_id: 1,
                ..Store::default()
            })),
            addr,
            app_public_key: app_public_key.map(Arc::new),
        };
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(fake.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        fake
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap()
    }

    /// Adds a hook directly, as if created earlier; returns its id.
    pub fn add_hook(&self, owner: &str, url: &str, events: &[&str], secret: Option<&str>) -> u64 {
        let mut store = self.store();
        let id = store.next_hook_id;
        store.next_hook_id += 1;
        let mut config = json!({"url": url, "content_type": "json", "insecure_ssl": "0"});
        if let Some(secret) = secret {
            config["secret"] = json!("********");
            store.secrets.insert(id, secret.to_owned());
        }
        let hook = hook_json(owner, id, events.iter().map(|e| json!(e)).collect(), config);
        store
            .hooks
            .entry(owner.to_owned())
            .or_default()
            .insert(id, hook);
        id
    }

    /// Adds deliveries to a hook (`repos/o/r/hooks/1`, `app/hook`), newest first;
    /// every third one failed, every fifth one is a redelivery.
    pub fn add_deliveries(&self, hook_path: &str, count: u64) {
        let mut store = self.store();
        let list = store.deliveries.entry(hook_path.to_owned()).or_default();
        for n in 0..count {
            let id = 1_000_000 - n;
            let failed = n % 3 == 0;
            list.push(json!({
                "id": id,
                "guid": format!("0b989ba4-242f-11e5-81e1-{:012x}", id),
                "delivered_at": format!("2024-05-{:02}T{:02}:{:02}:00Z", 28 - (n / 1440) % 28, 23 - (n / 60) % 24, 59 - n % 60),
                "redelivery": n % 5 == 0,
                "duration": 0.25,
                "status": if failed { "Invalid HTTP Response: 503" } else { "OK" },
                "status_code": if failed { 503 } else { 200 },
                "event": "push",
                "action": null,
                "installation_id": null,
                "repository_id": 42,
                "throttled_at": null,
            }));
        }
    }

    /// Answers the next request whose path starts with `path_prefix` (and method,
    /// if given) with `injected` instead.
    pub fn inject(&self, method: Option<Method>, path_prefix: &str, injected: Injected) {
        self.store()
            .injected
            .push_back((method, path_prefix.to_owned(), injected));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.store().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.store().requests.clear();
    }

    pub fn hooks(&self, owner: &str) -> Vec<Value> {
        self.store()
            .hooks
            .get(owner)
            .map(|hooks| hooks.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn secret_of(&self, id: u64) -> Option<String> {
        self.store().secrets.get(&id).cloned()
    }

    pub fn redelivered(&self) -> Vec<(String, u64)> {
        self.store().redelivered.clone()
    }
}

fn hook_json(owner: &str, id: u64, events: Vec<Value>, config: Value) -> Value {
    let kind = if owner.starts_with("orgs/") {
        "Organization"
    } else {
        "Repository"
    };
    json!({
        "type": kind,
        "id": id,
        "name": "web",
        "active": true,
        "events": events,
        "config": config,
        "updated_at": "2024-05-01T00:00:00Z",
        "created_at": "2024-05-01T00:00:00Z",
        "url": format!("https://api.github.com/{owner}/hooks/{id}"),
        "test_url": format!("https://api.github.com/{owner}/hooks/{id}/test"),
        "ping_url": format!("https://api.github.com/{owner}/hooks/{id}/pings"),
        "deliveries_url": format!("https://api.github.com/{owner}/hooks/{id}/deliveries"),
        "last_response": {"code": null, "status": "unused", "message": null},
    })
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(
            json!({"message": message, "documentation_url": "https://docs.github.com/rest"}),
        ),
    )
        .into_response()
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Merges a written config into a stored one; a secret is stored masked.
fn write_config(store: &mut Store, id: u64, stored: &mut Value, written: &Value) {
    for key in ["url", "content_type", "insecure_ssl"] {
        if let Some(value) = written.get(key) {
            stored[key] = value.clone();
        }
    }
    if let Some(secret) = written.get("secret").and_then(Value::as_str) {
        stored["secret"] = json!("********");
        store.secrets.insert(id, secret.to_owned());
    }
}

async fn handle(
    State(fake): State<FakeGitHub>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_start_matches('/').to_owned();
    let query = uri.query().map(str::to_owned);
    let mut store = fake.store();
    store.requests.push(Recorded {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        headers: headers.clone(),
        body: body.clone(),
    });

    let position = store.injected.iter().position(|(m, prefix, _)| {
        m.as_ref().is_none_or(|m| *m == method) && path.starts_with(prefix.as_str())
    });
    if let Some(position) = position {
        let (_, _, injected) = store.injected.remove(position).unwrap();
        let mut response = (
            StatusCode::from_u16(injected.status).unwrap(),
            axum::Json(injected.body),
        )
            .into_response();
        for (name, value) in injected.headers {
            response.headers_mut().insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(&value).unwrap(),
            );
        }
        return response;
    }

    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(bearer) = authorization.strip_prefix("Bearer ") else {
        return error(StatusCode::UNAUTHORIZED, "Requires authentication");
    };
    if bearer == "revoked" {
        return error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    if path.starts_with("app/")
        && let Some(key) = &fake.app_public_key
        && !valid_app_jwt(bearer, key)
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded",
        );
    }

    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(_) => return error(StatusCode::BAD_REQUEST, "Problems parsing JSON"),
        }
    };
    let segments: Vec<&str> = path.split('/').collect();
    // Split into the owner (`repos/o/r`, `orgs/o`) or `app`, and the rest.
    let (owner, rest): (String, &[&str]) = match segments.as_slice() {
        ["repos", o, r, rest @ ..] => (format!("repos/{o}/{r}"), rest),
        ["orgs", o, rest @ ..] => (format!("orgs/{o}"), rest),
        ["app", rest @ ..] => ("app".to_owned(), rest),
        _ => return error(StatusCode::NOT_FOUND, "Not Found"),
    };
    let base = format!("http://{}", fake.addr);

    // `/app/hook/...` is handled like one hook's sub-resources.
    let (hook_path, hook_id, sub): (String, Option<u64>, &[&str]) = match (owner.as_str(), rest) {
        ("app", ["hook", sub @ ..]) => ("app/hook".to_owned(), None, sub),
        ("app", ["installations", id, "access_tokens"]) if method == Method::POST => {
            let Ok(installation) = id.parse::<u64>() else {
                return error(StatusCode::NOT_FOUND, "Not Found");
            };
            let token = format!("ghs_fakeInstallation{}", store.minted.len() + 1);
            store.minted.push((installation, token.clone()));
            return (
                StatusCode::CREATED,
                axum::Json(json!({
                    "token": token,
                    "expires_at": "2999-01-01T00:00:00Z",
                    "permissions": {"administration": "write"},
                    "repository_selection": "all",
                })),
            )
                .into_response();
        }
        ("app", _) => return error(StatusCode::NOT_FOUND, "Not Found"),
        (_, ["hooks"]) => {
            return hooks_collection(
                &mut store,
                &method,
                &owner,
                query.as_deref(),
                &body,
                &base,
                &path,
            );
        }
        (_, ["hooks", id, sub @ ..]) => match id.parse::<u64>() {
            Ok(id) => (format!("{owner}/hooks/{id}"), Some(id), sub),
            Err(_) => return error(StatusCode::NOT_FOUND, "Not Found"),
        },
        _ => return error(StatusCode::NOT_FOUND, "Not Found"),
    };
    // A hook exists if it was added, or if deliveries were added for it.
    if let Some(id) = hook_id {
        let known = store
            .hooks
            .get(&owner)
            .is_some_and(|hooks| hooks.contains_key(&id));
        let only_deliveries =
            sub.first() == Some(&"deliveries") && store.deliveries.contains_key(&hook_path);
        if !known && !only_deliveries {
            return error(StatusCode::NOT_FOUND, "Not Found");
        }
    }

    match (&method, sub) {
        (&Method::GET, []) => {
            axum::Json(store.hooks[&owner][&hook_id.unwrap()].clone()).into_response()
        }
        (&Method::PATCH, []) => {
            let id = hook_id.unwrap();
            let mut hook = store.hooks[&owner][&id].clone();
            if let Some(events) = body.get("events") {
                hook["events"] = events.clone();
            }
            let mut events: Vec<Value> = hook["events"].as_array().cloned().unwrap_or_default();
            for added in body
                .get("add_events")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if !events.contains(added) {
                    events.push(added.clone());
                }
            }
            if let Some(removed) = body.get("remove_events").and_then(Value::as_array) {
                events.retain(|e| !removed.contains(e));
            }
            hook["events"] = Value::Array(events);
            if let Some(active) = body.get("active") {
                hook["active"] = active.clone();
            }
            if let Some(config) = body.get("config") {
                // A full update replaces the config: an omitted secret is removed.
                let mut replaced = json!({});
                store.secrets.remove(&id);
                write_config(&mut store, id, &mut replaced, config);
                hook["config"] = replaced;
            }
            hook["updated_at"] = json!("2024-06-01T00:00:00Z");
            store
                .hooks
                .get_mut(&owner)
                .unwrap()
                .insert(id, hook.clone());
            axum::Json(hook).into_response()
        }
        (&Method::DELETE, []) => {
            store
                .hooks
                .get_mut(&owner)
                .unwrap()
                .remove(&hook_id.unwrap());
            StatusCode::NO_CONTENT.into_response()
        }
        (&Method::GET, ["config"]) => {
            let config = match hook_id {
                Some(id) => store.hooks[&owner][&id]["config"].clone(),
                None => {
                    json!({"url": "https://app.example.com/hook", "content_type": "json", "insecure_ssl": "0", "secret": "********"})
                }
            };
            axum::Json(config).into_response()
        }
        (&Method::PATCH, ["config"]) => {
            let Some(id) = hook_id else {
                let mut config = json!({"url": "https://app.example.com/hook", "content_type": "json", "insecure_ssl": "0", "secret": "********"});
                write_config(&mut store, 0, &mut config, &body);
                return axum::Json(config).into_response();
            };
            let mut config = store.hooks[&owner][&id]["config"].clone();
            write_config(&mut store, id, &mut config, &body);
            store.hooks.get_mut(&owner).unwrap().get_mut(&id).unwrap()["config"] = config.clone();
            axum::Json(config).into_response()
        }
        (&Method::GET, ["deliveries"]) => {
            deliveries_page(&store, &hook_path, query.as_deref(), &base, &path)
        }
        (&Method::GET, ["deliveries", delivery]) => {
            let found = store
                .deliveries
                .get(&hook_path)
                .into_iter()
                .flatten()
                .find(|d| delivery.parse::<u64>().ok() == d["id"].as_u64())
                .cloned();
            match found {
                Some(mut delivery) => {
                    delivery["url"] = json!("https://service.example.com/hook");
                    delivery["request"] = json!({"headers": {"X-GitHub-Event": "push"}, "payload": {"ref": "refs/heads/main"}});
                    delivery["response"] =
                        json!({"headers": {"Content-Type": "text/plain"}, "payload": "ok"});
                    axum::Json(delivery).into_response()
                }
                None => error(StatusCode::NOT_FOUND, "Not Found"),
            }
        }
        (&Method::POST, ["deliveries", delivery, "attempts"]) => {
            let Ok(id) = delivery.parse::<u64>() else {
                return error(StatusCode::NOT_FOUND, "Not Found");
            };
            store.redelivered.push((hook_path.clone(), id));
            (StatusCode::ACCEPTED, axum::Json(json!({}))).into_response()
        }
        (&Method::POST, ["pings"]) if hook_id.is_some() => StatusCode::NO_CONTENT.into_response(),
        (&Method::POST, ["tests"]) if owner.starts_with("repos/") => {
            StatusCode::NO_CONTENT.into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

fn link(base: &str, path: &str, pairs: &[(&str, String)]) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("<{base}/{path}?{query}>; rel=\"next\"")
}

fn hooks_collection(
    store: &mut Store,
    method: &Method,
    owner: &str,
    query: Option<&str>,
    body: &Value,
    base: &str,
    path: &str,
) -> Response {
    match *method {
        Method::GET => {
            let per_page: usize = query_param(query, "per_page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(30);
            let page: usize = query_param(query, "page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            let all: Vec<Value> = store
                .hooks
                .get(owner)
                .map(|h| h.values().cloned().collect())
                .unwrap_or_default();
            let items: Vec<Value> = all
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .cloned()
                .collect();
            let mut response = axum::Json(items).into_response();
            if page * per_page < all.len() {
                let next = link(
                    base,
                    path,
                    &[
                        ("per_page", per_page.to_string()),
                        ("page", (page + 1).to_string()),
                    ],
                );
                response
                    .headers_mut()
                    .insert("link", HeaderValue::from_str(&next).unwrap());
            }
            response
        }
        Method::POST => {
            let url = body
                .pointer("/config/url")
                .and_then(Value::as_str)
                .filter(|url| !url.is_empty());
            if body.get("name").and_then(Value::as_str) != Some("web") || url.is_none() {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    axum::Json(json!({
                        "message": "Validation Failed",
                        "errors": [{"resource": "Hook", "field": "config.url", "code": "missing_field"}],
                        "documentation_url": "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook",
                    })),
                )
                    .into_response();
            }
            let events = body.get("events").cloned().unwrap_or(json!(["push"]));
            // GitHub refuses a second hook with the same URL and events.
            let duplicate = store
                .hooks
                .get(owner)
                .into_iter()
                .flat_map(|h| h.values())
                .any(|hook| {
                    hook.pointer("/config/url").and_then(Value::as_str) == url
                        && hook["events"] == events
                });
            if duplicate {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    axum::Json(json!({
                        "message": "Validation Failed",
                        "errors": [{"resource": "Hook", "code": "custom", "message": "Hook already exists on this repository"}],
                        "documentation_url": "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook",
                    })),
                )
                    .into_response();
            }
            let id = store.next_hook_id;
            store.next_hook_id += 1;
            let mut config = json!({"insecure_ssl": "0", "content_type": "form"});
            write_config(store, id, &mut config, &body["config"]);
            let mut hook = hook_json(
                owner,
                id,
                events.as_array().cloned().unwrap_or_default(),
                config,
            );
            hook["active"] = body.get("active").cloned().unwrap_or(json!(true));
            store
                .hooks
                .entry(owner.to_owned())
                .or_default()
                .insert(id, hook.clone());
            (StatusCode::CREATED, axum::Json(hook)).into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

fn deliveries_page(
    store: &Store,
    hook_path: &str,
    query: Option<&str>,
    base: &str,
    path: &str,
) -> Response {
    let per_page: usize = query_param(query, "per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30);
    let status = query_param(query, "status");
    let all: Vec<&Value> = store
        .deliveries
        .get(hook_path)
        .into_iter()
        .flatten()
        .filter(|d| {
            let code = d["status_code"].as_u64().unwrap_or(0);
            match status.as_deref() {
                Some("success") => (200..400).contains(&code),
                Some("failure") => (400..600).contains(&code),
                _ => true,
            }
        })
        .collect();
    // The cursor names the id of the first delivery of the page, as an opaque
    // string with characters that need encoding in a query.
    let start = match query_param(query, "cursor") {
        Some(cursor) => {
            let Some(id) = cursor
                .strip_prefix("v1+")
                .and_then(|id| id.parse::<u64>().ok())
            else {
                return error(StatusCode::BAD_REQUEST, "Bad cursor");
            };
            all.iter()
                .position(|d| d["id"].as_u64() == Some(id))
                .unwrap_or(all.len())
        }
        None => 0,
    };
    let items: Vec<Value> = all
        .iter()
        .skip(start)
        .take(per_page)
        .map(|d| (*d).clone())
        .collect();
    let mut response = axum::Json(items).into_response();
    if let Some(next) = all.get(start + per_page) {
        let mut pairs = vec![
            ("per_page", per_page.to_string()),
            ("cursor", format!("v1+{}", next["id"])),
        ];
        if let Some(status) = status {
            pairs.push(("status", status));
        }
        let link = link(base, path, &pairs);
        response
            .headers_mut()
            .insert("link", HeaderValue::from_str(&link).unwrap());
    }
    response
}

fn valid_app_jwt(token: &str, public_key_pem: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Claims {
        iss: String,
        iat: u64,
        exp: u64,
    }
    let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_pem(public_key_pem) else {
        return false;
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_required_spec_claims(&["exp", "iat", "iss"]);
    match jsonwebtoken::decode::<Claims>(token, &key, &validation) {
        Ok(data) => data.claims.iss == "4242" && data.claims.exp - data.claims.iat <= 600,
        Err(_) => false,
    }
}
