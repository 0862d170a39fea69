//! Routes verified deliveries to typed handlers, by event and by event and action.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use http::StatusCode;

use crate::events::{Event, EventAction, EventError, Payload, WebhookEvent};
use crate::{AuthenticDelivery, ClientBytes, DeliveryGuid, EventKind, LogRateLimit};

/// What a handler may fail with.
pub type HandlerError = Box<dyn StdError + Send + Sync>;

type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>;
type Handler = Arc<dyn Fn(&Arc<AuthenticDelivery>, &Event) -> Option<HandlerFuture> + Send + Sync>;
type Matcher = Arc<dyn Fn(&Event) -> bool + Send + Sync>;
type ErrorHook = Arc<dyn Fn(&DispatchError) + Send + Sync>;

/// Routes verified deliveries to async handlers registered by event type
/// ([`on`](Self::on)), by action ([`on_action`](Self::on_action)), for every event
/// ([`on_any`](Self::on_any)), or for the deliveries no event or action route
/// matched ([`on_unmatched`](Self::on_unmatched)): the typed counterpart of
/// `@octokit/webhooks`' `on("pull_request.opened", ...)`.
///
/// It needs no async runtime: [`dispatch`](Self::dispatch) parses the payload once and
/// awaits the matching handlers one after another, in registration order. A handler
/// returns `()` or a `Result<(), E>`; every handler runs even when an earlier one
/// failed, and the failures are reported together (and to the [`on_error`](Self::on_error)
/// hook). Cloning is cheap, so one dispatcher can serve every request.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// # use bytes::Bytes;
/// # use http::HeaderMap;
/// use octohook::events::{IssuesAction, PushEvent};
/// use octohook::{sign, Dispatcher, Verifier, WebhookSecret};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let (opened, any) = (seen.clone(), seen.clone());
/// let dispatcher = Dispatcher::new()
///     .on_action(IssuesAction::Opened, move |issues| {
///         let seen = opened.clone();
///         async move { seen.lock().unwrap().push(format!("opened #{}", issues.issue.number)) }
///     })
///     .on::<PushEvent, _, _, _>(|push| async move {
///         if push.r#ref.is_empty() {
///             return Err("push without a ref");
///         }
///         Ok(())
///     })
///     .on_any(move |delivery| {
///         let seen = any.clone();
///         async move { seen.lock().unwrap().push(format!("any {}", delivery.kind())) }
///     })
///     .on_error(|error| eprintln!("webhook failed: {error}"));
///
/// # let secret = WebhookSecret::new("s3cret").unwrap();
/// # let body = Bytes::from_static(br#"{"action":"opened","issue":{"id":1,"number":5},"repository":{},"sender":{}}"#);
/// # let mut headers = HeaderMap::new();
/// # headers.insert("x-github-event", "issues".parse().unwrap());
/// # headers.insert("x-github-delivery", "d1".parse().unwrap());
/// # headers.insert("content-type", "application/json".parse().unwrap());
/// # headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
/// let delivery = Verifier::new(secret).verify(&headers, body).unwrap();
/// let dispatched = block_on(dispatcher.dispatch(delivery)).unwrap();
/// assert_eq!(dispatched.handlers_run(), 2);
/// assert_eq!(*seen.lock().unwrap(), ["opened #5", "any issues"]);
/// # fn block_on<F: std::future::Future>(future: F) -> F::Output {
/// #     let mut future = std::pin::pin!(future);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop {
/// #         if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) { return out; }
/// #     }
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Dispatcher {
    routes: Vec<Route>,
    error_hooks: Vec<ErrorHook>,
}

/// A registered handler and which deliveries it runs for.
#[derive(Clone)]
struct Route {
    scope: Scope,
    /// Builds the handler's future for a delivery the route runs for.
    handler: Handler,
}

/// Which deliveries a route runs for.
#[derive(Clone)]
enum Scope {
    /// Those of one event, or one event and action (`on`, `on_action`): the
    /// deliveries `matches` accepts.
    Event { matches: Matcher },
    /// Every delivery: `on_any`.
    Any,
    /// Those no `Event` route matched: `on_unmatched`.
    Unmatched,
}

impl Dispatcher {
    /// A dispatcher without handlers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `handler` for every delivery of event `E`, whatever its action.
    pub fn on<E, F, Fut, R>(mut self, handler: F) -> Self
    where
        E: WebhookEvent,
        F: Fn(Delivered<Payload<E>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: HandlerOutcome,
    {
        self.routes.push(Route {
            scope: Scope::Event {
                matches: Arc::new(|event| E::from_event(event).is_some()),
            },
            handler: Arc::new(move |delivery, event| {
                let payload = E::from_event(event)?.clone();
                Some(run(handler(Delivered::new(delivery, payload))))
            }),
        });
        self
    }

    /// Runs `handler` for deliveries of `action`'s event with that action, such as
    /// `on_action(PullRequestAction::Opened, ..)` for `pull_request.opened`.
    pub fn on_action<A, F, Fut, R>(mut self, action: A, handler: F) -> Self
    where
        A: EventAction,
        F: Fn(Delivered<Payload<A::Event>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: HandlerOutcome,
    {
        self.routes.push(Route {
            scope: Scope::Event {
                matches: Arc::new(move |event| {
                    <A::Event as WebhookEvent>::from_event(event)
                        .is_some_and(|payload| A::of(payload.get()) == Some(&action))
                }),
            },
            handler: Arc::new(move |delivery, event| {
                let payload = <A::Event as WebhookEvent>::from_event(event)?;
                Some(run(handler(Delivered::new(delivery, payload.clone()))))
            }),
        });
        self
    }

    /// Runs `handler` for every delivery, including events this version does not know.
    ///
    /// It runs beside the other routes, never instead of them, and does not count
    /// as a match for [`on_unmatched`](Self::on_unmatched).
    pub fn on_any<F, Fut, R>(self, handler: F) -> Self
    where
        F: Fn(Delivered<Event>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: HandlerOutcome,
    {
        self.route_whole_events(Scope::Any, handler)
    }

    /// Runs `handler` for the deliveries that no [`on`](Self::on) or
    /// [`on_action`](Self::on_action) route matched: other events, other actions of
    /// a routed event, and events this version does not know (`Event::Unknown`).
    /// It is the dispatcher's counterpart of axum's `Router::fallback`: "everything
    /// else" needs no list of the routed events, which would go stale.
    ///
    /// [`on_any`](Self::on_any) routes do not count as a match: they run for every
    /// delivery. Several `on_unmatched` handlers all run, in registration order
    /// among the other routes. A payload that does not fit its event's type runs
    /// no handler at all: it is a [`DispatchError::Parse`].
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # use bytes::Bytes;
    /// # use http::HeaderMap;
    /// use octohook::events::PushEvent;
    /// use octohook::{sign, Dispatcher, Verifier, WebhookSecret};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let (pushes, others) = (seen.clone(), seen.clone());
    /// let dispatcher = Dispatcher::new()
    ///     .on::<PushEvent, _, _, _>(move |push| {
    ///         let seen = pushes.clone();
    ///         async move { seen.lock().unwrap().push(format!("push to {}", push.r#ref)) }
    ///     })
    ///     .on_unmatched(move |event| {
    ///         let seen = others.clone();
    ///         async move { seen.lock().unwrap().push(format!("not routed: {}", event.kind())) }
    ///     });
    ///
    /// # let secret = WebhookSecret::new("s3cret").unwrap();
    /// # let verifier = Verifier::new(secret.clone());
    /// # let deliver = |event: &str, body: &'static [u8]| {
    /// #     let body = Bytes::from_static(body);
    /// #     let mut headers = HeaderMap::new();
    /// #     headers.insert("x-github-event", event.parse().unwrap());
    /// #     headers.insert("x-github-delivery", "d1".parse().unwrap());
    /// #     headers.insert("content-type", "application/json".parse().unwrap());
    /// #     headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
    /// #     verifier.verify(&headers, body).unwrap()
    /// # };
    /// let push = deliver("push", br#"{"ref":"refs/heads/main","repository":{},"sender":{}}"#);
    /// let star = deliver("star", br#"{"action":"created","repository":{},"sender":{}}"#);
    /// block_on(dispatcher.dispatch(push)).unwrap();
    /// block_on(dispatcher.dispatch(star)).unwrap();
    /// assert_eq!(*seen.lock().unwrap(), ["push to refs/heads/main", "not routed: star"]);
    /// # fn block_on<F: std::future::Future>(future: F) -> F::Output {
    /// #     let mut future = std::pin::pin!(future);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop {
    /// #         if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) { return out; }
    /// #     }
    /// # }
    /// ```
    pub fn on_unmatched<F, Fut, R>(self, handler: F) -> Self
    where
        F: Fn(Delivered<Event>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: HandlerOutcome,
    {
        self.route_whole_events(Scope::Unmatched, handler)
    }

    /// Adds a route in `scope` whose handler takes the whole event.
    fn route_whole_events<F, Fut, R>(mut self, scope: Scope, handler: F) -> Self
    where
        F: Fn(Delivered<Event>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: HandlerOutcome,
    {
        self.routes.push(Route {
            scope,
            handler: Arc::new(move |delivery, event| {
                Some(run(handler(Delivered::new(delivery, event.clone()))))
            }),
        });
        self
    }

    /// Calls `hook` with every failed dispatch: a payload that does not fit its
    /// event's type, or handlers that failed.
    pub fn on_error<F>(mut self, hook: F) -> Self
    where
        F: Fn(&DispatchError) + Send + Sync + 'static,
    {
        self.error_hooks.push(Arc::new(hook));
        self
    }

    /// Parses the delivery's payload and runs the matching handlers.
    ///
    /// Takes a [`VerifiedDelivery`](crate::VerifiedDelivery) (pushed, its
    /// signature checked), a [`PulledDelivery`](crate::PulledDelivery) (read
    /// from GitHub's API) or an [`AuthenticDelivery`] holding either; handlers
    /// tell them apart with [`AuthenticDelivery::authenticity`].
    pub async fn dispatch(
        &self,
        delivery: impl Into<AuthenticDelivery>,
    ) -> Result<Dispatched, DispatchError> {
        let delivery = delivery.into();
        let event = match delivery.event() {
            Ok(event) => event,
            Err(source) => {
                return Err(self.report(DispatchError::Parse {
                    kind: delivery.event_kind().clone(),
                    source,
                }));
            }
        };
        let delivery = Arc::new(delivery);
        // Matching is decided before any handler runs, so an `on_unmatched` route
        // registered before the event routes sees the same answer as one after.
        let runs: Vec<bool> = self
            .routes
            .iter()
            .map(|route| match &route.scope {
                Scope::Event { matches } => matches(&event),
                Scope::Any | Scope::Unmatched => true,
            })
            .collect();
        let matched = self
            .routes
            .iter()
            .zip(&runs)
            .any(|(route, runs)| *runs && matches!(route.scope, Scope::Event { .. }));
        let mut handlers_run = 0;
        let mut failures = Vec::new();
        for (route, runs) in self.routes.iter().zip(runs) {
            if !runs || (matches!(route.scope, Scope::Unmatched) && matched) {
                continue;
            }
            if let Some(future) = (route.handler)(&delivery, &event) {
                handlers_run += 1;
                if let Err(error) = future.await {
                    failures.push(error);
                }
            }
        }
        if failures.is_empty() {
            Ok(Dispatched {
                event,
                handlers_run,
            })
        } else {
            Err(self.report(DispatchError::Handlers {
                kind: event.kind(),
                action: event.action().map(str::to_owned),
                failures,
            }))
        }
    }

    fn report(&self, error: DispatchError) -> DispatchError {
        for hook in &self.error_hooks {
            hook(&error);
        }
        error
    }
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("routes", &self.routes.len())
            .field("error_hooks", &self.error_hooks.len())
            .finish()
    }
}

fn run<Fut, R>(future: Fut) -> HandlerFuture
where
    Fut: Future<Output = R> + Send + 'static,
    R: HandlerOutcome,
{
    Box::pin(async move { future.await.into_outcome() })
}

/// What a handler's future may return: `()`, or a `Result` whose error converts into
/// a boxed error.
pub trait HandlerOutcome: Send {
    /// The outcome as a result.
    fn into_outcome(self) -> Result<(), HandlerError>;
}

impl HandlerOutcome for () {
    fn into_outcome(self) -> Result<(), HandlerError> {
        Ok(())
    }
}

impl<E: Into<HandlerError> + Send> HandlerOutcome for Result<(), E> {
    fn into_outcome(self) -> Result<(), HandlerError> {
        self.map_err(Into::into)
    }
}

/// What a handler receives: the payload (it dereferences to it) and the
/// delivery it came in (headers, GUID, how it was authenticated).
pub struct Delivered<T> {
    delivery: Arc<AuthenticDelivery>,
    value: T,
}

impl<T> Delivered<T> {
    fn new(delivery: &Arc<AuthenticDelivery>, value: T) -> Self {
        Self {
            delivery: Arc::clone(delivery),
            value,
        }
    }

    /// The delivery: headers, GUID, hook id, and whether it was pushed and
    /// verified by its signature or pulled from GitHub's API
    /// ([`AuthenticDelivery::authenticity`]).
    pub fn delivery(&self) -> &AuthenticDelivery {
        &self.delivery
    }

    /// The payload.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Deref for Delivered<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Delivered<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivered")
            .field("guid", self.delivery.guid())
            .field("value", &self.value)
            .finish()
    }
}

/// A successful dispatch.
#[derive(Debug)]
pub struct Dispatched {
    event: Event,
    handlers_run: usize,
}

impl Dispatched {
    /// The parsed event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// How many handlers matched and ran.
    pub fn handlers_run(&self) -> usize {
        self.handlers_run
    }
}

/// Why a dispatch failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum DispatchError {
    /// The payload does not fit its event's type; no handler ran.
    Parse {
        /// The delivery's event.
        kind: EventKind,
        /// Where and why parsing failed.
        source: EventError,
    },
    /// One or more handlers failed (the others still ran).
    Handlers {
        /// The delivery's event.
        kind: EventKind,
        /// The delivery's action.
        action: Option<String>,
        /// The handlers' errors, in registration order.
        failures: Vec<HandlerError>,
    },
}

impl DispatchError {
    /// The status a receiver answers with: 400 when the payload does not fit its
    /// event's type, 500 when a handler failed.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Parse { .. } => StatusCode::BAD_REQUEST,
            Self::Handlers { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What a receiver answers with: [`status`](Self::status), and why the
    /// payload does not parse, or only that a handler failed. Handlers' own
    /// errors may hold internal details, so they go to the error hooks and logs,
    /// never to the response.
    pub fn answer(&self) -> crate::Answer {
        match self {
            Self::Parse { .. } => crate::Answer::new(self.status(), format!("{self}\n")),
            Self::Handlers { .. } => {
                crate::Answer::new(self.status(), "a webhook handler failed\n")
            }
        }
    }

    /// Writes the `WARN` line of a failed dispatch of `delivery`, as both
    /// adapters' `dispatch` do: the error cut to 200 bytes and escaped (it may
    /// quote the payload, a parse error or an action), and at most
    /// [`LogRateLimit::DEFAULT_LINES_PER_SECOND`] such lines a second in the
    /// process, then a summary.
    pub fn log(&self, delivery: &DeliveryGuid) {
        static LIMIT: std::sync::OnceLock<LogRateLimit> = std::sync::OnceLock::new();
        let limit = LIMIT.get_or_init(|| {
            LogRateLimit::per_second("dispatch failure", LogRateLimit::DEFAULT_LINES_PER_SECOND)
        });
        let reason = match self {
            Self::Parse { .. } => "parse",
            Self::Handlers { .. } => "handlers",
        };
        if limit.admit(reason) {
            let text = self.to_string();
            tracing::warn!(
                delivery = %delivery,
                status = self.status().as_u16(),
                error = %ClientBytes::new(text.as_bytes()).quoted().with_limit(200),
                "webhook dispatch failed"
            );
        }
    }
}

impl fmt::Display for DispatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse { kind, source } => write!(f, "{kind} payload does not parse {source}"),
            Self::Handlers {
                kind,
                action,
                failures,
            } => {
                write!(f, "{} handler(s) failed for {kind}", failures.len())?;
                if let Some(action) = action {
                    write!(f, ".{action}")?;
                }
                for failure in failures {
                    write!(f, "; {failure}")?;
                }
                Ok(())
            }
        }
    }
}

impl StdError for DispatchError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Parse { source, .. } => Some(source),
            Self::Handlers { failures, .. } => {
                failures.first().map(|e| &**e as &(dyn StdError + 'static))
            }
        }
    }
}
