//! Routes verified deliveries to typed handlers, by event and by event and action.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use http::StatusCode;

use crate::events::{Event, EventAction, EventError, Payload, WebhookEvent};
use crate::{EventKind, VerifiedDelivery};

/// What a handler may fail with.
pub type HandlerError = Box<dyn StdError + Send + Sync>;

type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>;
type Route = Arc<dyn Fn(&Arc<VerifiedDelivery>, &Event) -> Option<HandlerFuture> + Send + Sync>;
type ErrorHook = Arc<dyn Fn(&DispatchError) + Send + Sync>;

/// Routes verified deliveries to async handlers registered by event type
/// ([`on`](Self::on)), by action ([`on_action`](Self::on_action)) or for every event
/// ([`on_any`](Self::on_any)): the typed counterpart of `@octokit/webhooks`'
/// `on("pull_request.opened", ...)`.
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
        self.routes.push(Arc::new(move |delivery, event| {
            let payload = E::from_event(event)?.clone();
            Some(run(handler(Delivered::new(delivery, payload))))
        }));
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
        self.routes.push(Arc::new(move |delivery, event| {
            let payload = <A::Event as WebhookEvent>::from_event(event)?;
            if A::of(payload.get()) != Some(&action) {
                return None;
            }
            Some(run(handler(Delivered::new(delivery, payload.clone()))))
        }));
        self
    }

    /// Runs `handler` for every delivery, including events this version does not know.
    pub fn on_any<F, Fut, R>(mut self, handler: F) -> Self
    where
        F: Fn(Delivered<Event>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: HandlerOutcome,
    {
        self.routes.push(Arc::new(move |delivery, event| {
            Some(run(handler(Delivered::new(delivery, event.clone()))))
        }));
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
    pub async fn dispatch(&self, delivery: VerifiedDelivery) -> Result<Dispatched, DispatchError> {
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
        let mut handlers_run = 0;
        let mut failures = Vec::new();
        for route in &self.routes {
            if let Some(future) = route(&delivery, &event) {
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

/// What a handler receives: the payload (it dereferences to it) and the verified
/// delivery it came in (headers, GUID, raw body).
pub struct Delivered<T> {
    delivery: Arc<VerifiedDelivery>,
    value: T,
}

impl<T> Delivered<T> {
    fn new(delivery: &Arc<VerifiedDelivery>, value: T) -> Self {
        Self {
            delivery: Arc::clone(delivery),
            value,
        }
    }

    /// The verified delivery: headers, GUID, hook id, raw body.
    pub fn delivery(&self) -> &VerifiedDelivery {
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

    /// The body a receiver answers with: why the payload does not parse, or only
    /// that a handler failed. Handlers' own errors may hold internal details, so
    /// they go to the error hooks and logs, never to the response.
    pub fn response_text(&self) -> String {
        match self {
            Self::Parse { .. } => format!("{self}\n"),
            Self::Handlers { .. } => "a webhook handler failed\n".to_owned(),
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
