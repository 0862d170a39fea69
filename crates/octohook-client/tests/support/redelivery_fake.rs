//! A stateful fake of GitHub's webhook deliveries API over real HTTP on
//! 127.0.0.1, for the redelivery tests of octohook-client and octohook-cli.
//!
//! Unlike `fake_github.rs`, deliveries here live and change: a redelivery POST
//! that the fake accepts appends a new delivery (`redelivery: true`, same GUID,
//! made now) with a scripted outcome, as GitHub does. Every POST is recorded with
//! whether it was acted on. Faults can be injected per request kind (5xx, 429,
//! primary rate limits, delays longer than the client's timeout), and the Nth
//! POST can be stalled, acted on or not, so that a test can kill the client
//! while the request is in flight.
//!
//! For pull mode, `GET …/deliveries/{id}` answers each delivery's detail with
//! its `request` (GitHub's headers and the payload), as GitHub records it;
//! [`RedeliveryFake::add_event`] seeds deliveries with an event and payload of
//! their own, and [`Kind::Get`] faults apply to those reads.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// GitHub's redelivery window.
pub const WINDOW: Duration = Duration::from_secs(3 * 24 * 60 * 60);

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `OK`, 200.
    Ok,
    /// `Invalid HTTP Response: CODE`.
    Http(u16),
    /// `timed out`, status code 0.
    TimedOut,
    /// `failed to connect to host`, status code 0.
    ConnectFailed,
}

impl Outcome {
    fn status(self) -> (String, u16) {
        match self {
            Self::Ok => ("OK".into(), 200),
            Self::Http(code) => (format!("Invalid HTTP Response: {code}"), code),
            Self::TimedOut => ("timed out".into(), 0),
            Self::ConnectFailed => ("failed to connect to host".into(), 0),
        }
    }
}

#[derive(Clone, Debug)]
struct Delivery {
    id: u64,
    guid: String,
    delivered_at: OffsetDateTime,
    redelivery: bool,
    outcome: Outcome,
    visible_at: Instant,
    event: String,
    payload: serde_json::Value,
}

impl Delivery {
    /// The hook id a delivery of `hook` carries in `X-GitHub-Hook-ID`
    /// (an App hook's is 4242).
    fn hook_id(hook: &str) -> u64 {
        hook.rsplit('/')
            .next()
            .and_then(|id| id.parse().ok())
            .unwrap_or(4242)
    }

    /// The detail `GET …/deliveries/{id}` answers: the summary, the request as
    /// sent (headers and payload) and the response.
    fn detail(&self, hook: &str) -> serde_json::Value {
        let mut detail = self.json();
        let (target_type, target_id) = match hook.split('/').next() {
            Some("repos") => ("repository", 42),
            Some("orgs") => ("organization", 43),
            _ => ("integration", 44),
        };
        detail["url"] = json!("https://receiver.example/webhook");
        detail["request"] = json!({
            "headers": {
                "Accept": "*/*",
                "Content-Type": "application/json",
                "User-Agent": "GitHub-Hookshot/044aadd",
                "X-GitHub-Delivery": self.guid,
                "X-GitHub-Event": self.event,
                "X-GitHub-Hook-ID": Self::hook_id(hook).to_string(),
                "X-GitHub-Hook-Installation-Target-ID": target_id.to_string(),
                "X-GitHub-Hook-Installation-Target-Type": target_type,
                "X-Hub-Signature": "sha1=0000000000000000000000000000000000000000",
                "X-Hub-Signature-256": "sha256=0000000000000000000000000000000000000000000000000000000000000000",
            },
            "payload": self.payload,
        });
        detail["response"] = json!({"headers": {"Content-Type": "text/plain"}, "payload": "ok"});
        detail
    }

    fn json(&self) -> serde_json::Value {
        let (status, status_code) = self.outcome.status();
        json!({
            "id": self.id,
            "guid": self.guid,
            "delivered_at": self.delivered_at.format(&Rfc3339).unwrap(),
            "redelivery": self.redelivery,
            "duration": 0.5,
            "status": status,
            "status_code": status_code,
            "event": self.event,
            "action": self.payload.get("action"),
            "installation_id": null,
            "repository_id": 42,
            "throttled_at": null,
        })
    }
}

/// Which requests a fault applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `GET …/deliveries`.
    List,
    /// `POST …/deliveries/{id}/attempts`.
    Redeliver,
    /// `GET …/deliveries/{id}`.
    Get,
}

/// What to do instead of (or before) answering.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer this status without acting (502, 500…).
    Status(u16),
    /// 429 with `Retry-After: SECS`, without acting.
    RetryAfter(u64),
    /// 403 with `x-ratelimit-remaining: 0` and a reset SECS from now.
    PrimaryLimit(u64),
    /// Act on the request, then answer only after this long (longer than the
    /// client's timeout: the client sees a timeout of a request that took effect).
    ActThenDelay(Duration),
    /// Wait this long, then answer normally.
    Delay(Duration),
}

/// A redelivery POST as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Post {
    pub hook: String,
    pub delivery_id: u64,
    pub guid: Option<String>,
    /// Whether the fake acted on it (GitHub's 202).
    pub accepted: bool,
}

#[derive(Clone, Copy, Debug)]
struct Stall {
    /// The POST number (1-based, counted over the fake's life) to stall.
    nth: u64,
    accept: bool,
}

#[derive(Default)]
struct Inner {
    hooks: HashMap<String, Vec<Delivery>>,
    next_id: u64,
    outcomes: HashMap<String, VecDeque<Outcome>>,
    posts: Vec<Post>,
    list_requests: u64,
    post_requests: u64,
    get_requests: u64,
    faults: Vec<(Kind, u64, Fault)>,
    stall: Option<Stall>,
    stalled: u64,
    visible_after: Duration,
}

/// The running fake.
#[derive(Clone)]
pub struct RedeliveryFake {
    inner: Arc<Mutex<Inner>>,
    pub addr: SocketAddr,
}

/// What the mixed scenario expects a correct runner to do.
#[derive(Clone, Debug, Default)]
pub struct Expected {
    /// GUIDs that must be redelivered exactly once.
    pub redeliver: BTreeSet<String>,
    /// Failed GUIDs that also succeeded.
    pub succeeded: u64,
    /// Failed GUIDs already redelivered without success.
    pub already_redelivered: u64,
    /// Failed GUIDs older than the window.
    pub too_old: u64,
    /// Deliveries seeded.
    pub deliveries: u64,
}

/// One delivery to seed: GUID, age, redelivery flag, outcome.
pub type Seed = (String, Duration, bool, Outcome);

impl RedeliveryFake {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = Self {
            inner: Arc::new(Mutex::new(Inner {
                next_id: 1_000,
                ..Inner::default()
            })),
            addr,
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

    /// A client of this fake with `token`: `timeout` per request, up to 3
    /// retries 20 ms apart at first, 20 s in all.
    pub fn client(&self, token: &str, timeout: Duration) -> octohook_client::Client {
        let options = octohook_client::ClientOptions {
            base_url: self.url(),
            timeout,
            retry: octohook_client::RetryOptions {
                max_retries: 3,
                initial_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_secs(3),
                deadline: Duration::from_secs(20),
            },
            ..octohook_client::ClientOptions::default()
        };
        octohook_client::Client::new(octohook_client::Token::new(token), options).unwrap()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    /// Adds deliveries to `hook` (`repos/o/r/hooks/1`, `orgs/o/hooks/2`,
    /// `app/hook`). Ids grow with time, as GitHub's do.
    pub fn seed(&self, hook: &str, seeds: Vec<Seed>) {
        let now = OffsetDateTime::now_utc();
        let mut inner = self.lock();
        let mut dated: Vec<(OffsetDateTime, Seed)> =
            seeds.into_iter().map(|seed| (now - seed.1, seed)).collect();
        dated.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.0.cmp(&b.1.0)));
        let visible_at = Instant::now();
        let mut added: Vec<Delivery> = Vec::with_capacity(dated.len());
        for (delivered_at, (guid, _, redelivery, outcome)) in dated {
            inner.next_id += 1;
            added.push(Delivery {
                id: inner.next_id,
                guid,
                // GitHub's times have whole seconds.
                delivered_at: delivered_at.replace_nanosecond(0).unwrap(),
                redelivery,
                outcome,
                visible_at,
                event: "push".to_owned(),
                payload: json!({"ref": "refs/heads/main", "repository": {}, "sender": {}}),
            });
        }
        let list = inner.hooks.entry(hook.to_owned()).or_default();
        list.extend(added);
        list.sort_by(|a, b| b.delivered_at.cmp(&a.delivered_at).then(b.id.cmp(&a.id)));
    }

    /// Seeds `events` events of every kind the runner must tell apart, spread
    /// over `span` (at most the window), and returns what a correct runner does.
    ///
    /// Event `i` is of kind `i % 10`: 0–2 succeeded; 3 failed with 503; 4 timed
    /// out (status code 0); 5 could not connect (status code 0); 6 failed and
    /// then succeeded on redelivery; 7 failed and was redelivered without
    /// success; 8 failed more than 3 days ago; 9 succeeded, then a manual
    /// redelivery failed.
    pub fn seed_mixed(&self, hook: &str, events: usize, span: Duration) -> Expected {
        let mut seeds = Vec::new();
        let mut expected = Expected::default();
        for i in 0..events {
            let guid = format!("{:08x}-0000-4000-8000-{:012x}", hook_hash(hook), i);
            // Oldest events first; keep 20 minutes clear at the newest end.
            let age = Duration::from_secs(1200) + span.mul_f64((events - i) as f64 / events as f64);
            let later = age - Duration::from_secs(600);
            match i % 10 {
                0..=2 => seeds.push((guid, age, false, Outcome::Ok)),
                3 => {
                    seeds.push((guid.clone(), age, false, Outcome::Http(503)));
                    expected.redeliver.insert(guid);
                }
                4 => {
                    seeds.push((guid.clone(), age, false, Outcome::TimedOut));
                    expected.redeliver.insert(guid);
                }
                5 => {
                    seeds.push((guid.clone(), age, false, Outcome::ConnectFailed));
                    expected.redeliver.insert(guid);
                }
                6 => {
                    seeds.push((guid.clone(), age, false, Outcome::Http(500)));
                    seeds.push((guid, later, true, Outcome::Ok));
                    expected.succeeded += 1;
                }
                7 => {
                    seeds.push((guid.clone(), age, false, Outcome::Http(502)));
                    seeds.push((guid, later, true, Outcome::TimedOut));
                    expected.already_redelivered += 1;
                }
                8 => {
                    let old = WINDOW + Duration::from_secs(3600 + i as u64);
                    seeds.push((guid, old, false, Outcome::Http(503)));
                    expected.too_old += 1;
                }
                _ => {
                    seeds.push((guid.clone(), age, false, Outcome::Ok));
                    seeds.push((guid, later, true, Outcome::Http(502)));
                    expected.succeeded += 1;
                }
            }
        }
        expected.deliveries = seeds.len() as u64;
        self.seed(hook, seeds);
        expected
    }

    /// Adds one delivery of `event` with `payload` to `hook`, delivered `age`
    /// ago (whole seconds), with `outcome`; returns its id.
    pub fn add_event(
        &self,
        hook: &str,
        guid: &str,
        age: Duration,
        event: &str,
        payload: serde_json::Value,
        outcome: Outcome,
    ) -> u64 {
        let delivered_at = (OffsetDateTime::now_utc() - age)
            .replace_nanosecond(0)
            .unwrap();
        let mut inner = self.lock();
        inner.next_id += 1;
        let delivery = Delivery {
            id: inner.next_id,
            guid: guid.to_owned(),
            delivered_at,
            redelivery: false,
            outcome,
            visible_at: Instant::now(),
            event: event.to_owned(),
            payload,
        };
        let id = delivery.id;
        let list = inner.hooks.entry(hook.to_owned()).or_default();
        list.push(delivery);
        list.sort_by(|a, b| b.delivered_at.cmp(&a.delivered_at).then(b.id.cmp(&a.id)));
        id
    }

    /// How many `GET …/deliveries/{id}` requests the fake answered or refused.
    pub fn get_requests(&self) -> u64 {
        self.lock().get_requests
    }

    /// What the next redeliveries of `guid` end in; `OK` once the script runs out.
    pub fn script(&self, guid: &str, outcomes: &[Outcome]) {
        self.lock()
            .outcomes
            .insert(guid.to_owned(), outcomes.iter().copied().collect());
    }

    /// Applies `fault` to the request of `kind` after the next `skip` ones.
    pub fn fault(&self, kind: Kind, skip: u64, fault: Fault) {
        self.lock().faults.push((kind, skip, fault));
    }

    /// Stalls the POST `after` POSTs from now (0: the next one), acting on it
    /// first when `accept`; it is never answered with success.
    pub fn stall_post(&self, after: u64, accept: bool) {
        let mut inner = self.lock();
        let nth = inner.post_requests + after + 1;
        inner.stall = Some(Stall { nth, accept });
    }

    pub fn clear_stall(&self) {
        self.lock().stall = None;
    }

    /// How many POSTs have been stalled so far.
    pub fn stalled(&self) -> u64 {
        self.lock().stalled
    }

    /// Redeliveries made from now on are listed only after `delay`.
    pub fn list_redeliveries_after(&self, delay: Duration) {
        self.lock().visible_after = delay;
    }

    pub fn posts(&self) -> Vec<Post> {
        self.lock().posts.clone()
    }

    /// GUID → how many redeliveries the fake acted on.
    pub fn accepted_by_guid(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for post in self.lock().posts.iter().filter(|p| p.accepted) {
            if let Some(guid) = &post.guid {
                *counts.entry(guid.clone()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Asserts that every GUID of `expected` was redelivered exactly once, and
    /// nothing else was.
    pub fn assert_redelivered_once(&self, expected: &BTreeSet<String>) {
        let accepted = self.accepted_by_guid();
        let twice: Vec<_> = accepted.iter().filter(|(_, n)| **n != 1).collect();
        assert!(twice.is_empty(), "redelivered more than once: {twice:?}");
        let got: BTreeSet<String> = accepted.into_keys().collect();
        let missing: Vec<_> = expected.difference(&got).collect();
        let extra: Vec<_> = got.difference(expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "missing {missing:?}, unexpected {extra:?}"
        );
    }

    pub fn list_requests(&self) -> u64 {
        self.lock().list_requests
    }

    pub fn post_requests(&self) -> u64 {
        self.lock().post_requests
    }

    pub fn reset_counters(&self) {
        let mut inner = self.lock();
        inner.list_requests = 0;
        inner.post_requests = 0;
        inner.get_requests = 0;
        inner.posts.clear();
    }
}

fn hook_hash(hook: &str) -> u32 {
    hook.bytes().fold(2_166_136_261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    })
}

fn error(status: u16, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
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

/// Splits `repos/o/r/hooks/1/deliveries/…` into the hook path and the rest.
fn split_hook(path: &str) -> Option<(String, Vec<&str>)> {
    let segments: Vec<&str> = path.split('/').collect();
    let (hook_len, rest) = match segments.as_slice() {
        ["repos", _, _, "hooks", _, rest @ ..] => (5, rest),
        ["orgs", _, "hooks", _, rest @ ..] => (4, rest),
        ["app", "hook", rest @ ..] => (2, rest),
        _ => return None,
    };
    Some((segments[..hook_len].join("/"), rest.to_vec()))
}

async fn handle(
    State(fake): State<RedeliveryFake>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    if !authorized {
        return error(401, "Requires authentication");
    }
    // GitHub Enterprise Server's API root is `https://HOST/api/v3`.
    let path = uri.path().trim_start_matches('/');
    let path = path.strip_prefix("api/v3/").unwrap_or(path).to_owned();
    let Some((hook, rest)) = split_hook(&path) else {
        return error(404, "Not Found");
    };
    match (&method, rest.as_slice()) {
        (&Method::GET, ["deliveries"]) => list(&fake, &hook, &path, uri.query()).await,
        (&Method::POST, ["deliveries", id, "attempts"]) => match id.parse::<u64>() {
            Ok(id) => redeliver(&fake, &hook, id).await,
            Err(_) => error(404, "Not Found"),
        },
        (&Method::GET, ["deliveries", id]) => match id.parse::<u64>() {
            Ok(id) => detail(&fake, &hook, id).await,
            Err(_) => error(404, "Not Found"),
        },
        _ => error(404, "Not Found"),
    }
}

/// Takes the fault due for this request of `kind`, if any.
fn take_fault(inner: &mut Inner, kind: Kind) -> Option<Fault> {
    let position = inner.faults.iter().position(|(k, _, _)| *k == kind)?;
    let (_, skip, _) = &mut inner.faults[position];
    if *skip > 0 {
        *skip -= 1;
        return None;
    }
    Some(inner.faults.remove(position).2)
}

fn fault_response(fault: &Fault) -> Option<Response> {
    match fault {
        Fault::Status(status) => Some(error(*status, "Server Error")),
        Fault::RetryAfter(secs) => {
            let mut response = error(429, "You have exceeded a secondary rate limit.");
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(*secs));
            Some(response)
        }
        Fault::PrimaryLimit(secs) => {
            let reset = OffsetDateTime::now_utc().unix_timestamp() + *secs as i64 + 1;
            let mut response = error(403, "API rate limit exceeded");
            let headers = response.headers_mut();
            headers.insert("x-ratelimit-remaining", HeaderValue::from(0));
            headers.insert("x-ratelimit-limit", HeaderValue::from(5000));
            headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
            Some(response)
        }
        Fault::ActThenDelay(_) | Fault::Delay(_) => None,
    }
}

async fn list(fake: &RedeliveryFake, hook: &str, path: &str, query: Option<&str>) -> Response {
    let fault = {
        let mut inner = fake.lock();
        inner.list_requests += 1;
        take_fault(&mut inner, Kind::List)
    };
    if let Some(fault) = &fault {
        if let Some(response) = fault_response(fault) {
            return response;
        }
        if let Fault::Delay(delay) | Fault::ActThenDelay(delay) = fault {
            tokio::time::sleep(*delay).await;
        }
    }
    let per_page: usize = query_param(query, "per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30);
    let status = query_param(query, "status");
    let redelivery = query_param(query, "redelivery");
    let inner = fake.lock();
    let now = Instant::now();
    let all: Vec<&Delivery> = inner
        .hooks
        .get(hook)
        .into_iter()
        .flatten()
        .filter(|d| d.visible_at <= now)
        .filter(|d| {
            let code = d.outcome.status().1;
            match status.as_deref() {
                Some("success") => (200..400).contains(&code),
                Some("failure") => (400..600).contains(&code),
                _ => true,
            }
        })
        .filter(|d| {
            redelivery
                .as_deref()
                .is_none_or(|r| r == d.redelivery.to_string())
        })
        .collect();
    let start = match query_param(query, "cursor") {
        Some(cursor) => {
            let Some(id) = cursor
                .strip_prefix("v1+")
                .and_then(|id| id.parse::<u64>().ok())
            else {
                return error(400, "Bad cursor");
            };
            // The first delivery at or below the cursor's id: the list may have
            // grown at the newest end since.
            all.iter().position(|d| d.id <= id).unwrap_or(all.len())
        }
        None => 0,
    };
    let items: Vec<serde_json::Value> = all
        .iter()
        .skip(start)
        .take(per_page)
        .map(|d| d.json())
        .collect();
    let mut response = axum::Json(items).into_response();
    if let Some(next) = all.get(start + per_page) {
        let mut pairs = vec![
            ("per_page", per_page.to_string()),
            ("cursor", format!("v1+{}", next.id)),
        ];
        if let Some(status) = status {
            pairs.push(("status", status));
        }
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let link = format!("<http://{}/{path}?{query}>; rel=\"next\"", fake.addr);
        response
            .headers_mut()
            .insert("link", HeaderValue::from_str(&link).unwrap());
    }
    response
}

/// One delivery's detail, with its request.
async fn detail(fake: &RedeliveryFake, hook: &str, id: u64) -> Response {
    let (fault, found) = {
        let mut inner = fake.lock();
        inner.get_requests += 1;
        let fault = take_fault(&mut inner, Kind::Get);
        let found = inner
            .hooks
            .get(hook)
            .and_then(|list| list.iter().find(|d| d.id == id))
            .map(|d| d.detail(hook));
        (fault, found)
    };
    if let Some(fault) = &fault {
        if let Some(response) = fault_response(fault) {
            return response;
        }
        if let Fault::Delay(delay) | Fault::ActThenDelay(delay) = fault {
            tokio::time::sleep(*delay).await;
        }
    }
    match found {
        Some(detail) => axum::Json(detail).into_response(),
        None => error(404, "Not Found"),
    }
}

/// Acts on a redelivery: records the POST as accepted and lists a new attempt.
fn act(inner: &mut Inner, hook: &str, id: u64, guid: &str) {
    let outcome = inner
        .outcomes
        .get_mut(guid)
        .and_then(VecDeque::pop_front)
        .unwrap_or(Outcome::Ok);
    inner.next_id += 1;
    let delivery = Delivery {
        id: inner.next_id,
        guid: guid.to_owned(),
        delivered_at: OffsetDateTime::now_utc().replace_nanosecond(0).unwrap(),
        redelivery: true,
        outcome,
        visible_at: Instant::now() + inner.visible_after,
        event: "push".to_owned(),
        payload: json!({"ref": "refs/heads/main", "repository": {}, "sender": {}}),
    };
    inner.hooks.get_mut(hook).unwrap().insert(0, delivery);
    inner.posts.push(Post {
        hook: hook.to_owned(),
        delivery_id: id,
        guid: Some(guid.to_owned()),
        accepted: true,
    });
}

async fn redeliver(fake: &RedeliveryFake, hook: &str, id: u64) -> Response {
    let (fault, stall, guid) = {
        let mut inner = fake.lock();
        inner.post_requests += 1;
        let number = inner.post_requests;
        let found = inner
            .hooks
            .get(hook)
            .and_then(|list| list.iter().find(|d| d.id == id))
            .map(|d| (d.guid.clone(), d.delivered_at));
        let Some((guid, delivered_at)) = found else {
            inner.posts.push(Post {
                hook: hook.to_owned(),
                delivery_id: id,
                guid: None,
                accepted: false,
            });
            return error(404, "Not Found");
        };
        if OffsetDateTime::now_utc() - delivered_at > WINDOW {
            inner.posts.push(Post {
                hook: hook.to_owned(),
                delivery_id: id,
                guid: Some(guid),
                accepted: false,
            });
            return error(422, "Cannot redeliver a delivery older than 3 days");
        }
        let stall = inner.stall.filter(|s| s.nth == number);
        if stall.is_some() {
            inner.stall = None;
            inner.stalled += 1;
        }
        let fault = if stall.is_some() {
            None
        } else {
            take_fault(&mut inner, Kind::Redeliver)
        };
        let acts = match (&stall, &fault) {
            (Some(stall), _) => stall.accept,
            (None, Some(Fault::ActThenDelay(_) | Fault::Delay(_)) | None) => true,
            (None, Some(_)) => false,
        };
        if acts {
            act(&mut inner, hook, id, &guid);
        } else {
            inner.posts.push(Post {
                hook: hook.to_owned(),
                delivery_id: id,
                guid: Some(guid.clone()),
                accepted: false,
            });
        }
        (fault, stall, guid)
    };
    let _ = guid;
    if stall.is_some() {
        // Held until the client is killed; never a success.
        tokio::time::sleep(Duration::from_secs(60)).await;
        return error(500, "stalled");
    }
    if let Some(fault) = &fault {
        if let Some(response) = fault_response(fault) {
            return response;
        }
        if let Fault::Delay(delay) | Fault::ActThenDelay(delay) = fault {
            tokio::time::sleep(*delay).await;
        }
    }
    (StatusCode::ACCEPTED, axum::Json(json!({}))).into_response()
}
