//! Extractors for verified deliveries.
//!
//! - [`Verified`]: the [`VerifiedDelivery`] itself.
//! - [`WebhookPayload<T>`]: its payload, deserialized into any `T: Deserialize`.
//! - [`TypedEvent`] (feature `events`, on by default): its payload parsed into the
//!   typed [`octohook::events::Event`] of its event.
//!
//! Behind [`VerifyWebhook`](crate::VerifyWebhook) they read what the middleware
//! verified. Without it they read and verify the payload themselves, with the
//! [`VerifyConfig`] from the app data; then, as with actix-web's own body
//! extractors, use one of them per handler (the first consumes the payload). Either
//! way, rejections go through the app data's
//! [error handler](VerifyConfig::with_error_handler), if any.
//!
//! ```
//! use actix_web::{App, test, web};
//! use octohook::{Verifier, WebhookSecret, sign};
//! use octohook_actix::{VerifyConfig, extract::WebhookPayload};
//!
//! #[derive(serde::Deserialize)]
//! struct Push {
//!     #[serde(rename = "ref")]
//!     git_ref: String,
//! }
//!
//! async fn push(WebhookPayload(push): WebhookPayload<Push>) -> String {
//!     push.git_ref
//! }
//!
//! # actix_web::rt::System::new().block_on(async {
//! let secret = WebhookSecret::new("s3cret").unwrap();
//! let app = test::init_service(
//!     App::new()
//!         .app_data(VerifyConfig::new(Verifier::new(secret.clone())))
//!         .route("/", web::post().to(push)),
//! )
//! .await;
//!
//! let send = |body: &'static str| {
//!     test::TestRequest::post()
//!         .insert_header(("x-github-event", "push"))
//!         .insert_header(("x-github-delivery", "d1"))
//!         .insert_header(("content-type", "application/json"))
//!         .insert_header(("x-hub-signature-256", sign(&secret, body.as_bytes())))
//!         .set_payload(body)
//!         .to_request()
//! };
//! let response = test::call_service(&app, send(r#"{"ref":"refs/heads/main"}"#)).await;
//! assert_eq!(response.status(), 200);
//! assert_eq!(test::read_body(response).await, "refs/heads/main");
//!
//! // Signed, but not a push: 400.
//! let response = test::call_service(&app, send(r#"{"ref":7}"#)).await;
//! assert_eq!(response.status(), 400);
//! # });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use octohook::VerifiedDelivery;
use pin_project_lite::pin_project;
use serde::de::DeserializeOwned;

use crate::{Rejection, VerifyConfig, VerifyPayload};

/// A verified delivery: by [`VerifyWebhook`](crate::VerifyWebhook) when it wraps
/// the route, else by the extractor itself with the app data's [`VerifyConfig`].
///
/// Rejects with the rejection's status (400, 401, 413, 415), or with 500 when
/// neither the middleware nor a configuration with a verifier is there.
#[derive(Clone, Debug)]
pub struct Verified(pub VerifiedDelivery);

impl Verified {
    /// The delivery.
    pub fn into_inner(self) -> VerifiedDelivery {
        self.0
    }
}

impl std::ops::Deref for Verified {
    type Target = VerifiedDelivery;

    fn deref(&self) -> &VerifiedDelivery {
        &self.0
    }
}

impl FromRequest for Verified {
    type Error = actix_web::Error;
    type Future = VerifiedFuture;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if let Some(delivery) = request.extensions().get::<VerifiedDelivery>() {
            return VerifiedFuture::done(Ok(Self(delivery.clone())));
        }
        let config = VerifyConfig::from_req(request);
        let verify = match config.verifier() {
            Some(verifier) => VerifyPayload::begin(verifier, request.headers(), payload.take())
                .map(|verify| verify.with_read_timeout(config.read_timeout())),
            None => Err(Rejection::NotConfigured),
        };
        match verify {
            Ok(verify) => VerifiedFuture {
                state: VerifiedState::Verifying {
                    verify,
                    request: Some(request.clone()),
                },
            },
            Err(rejection) => VerifiedFuture::done(Err(config.reject(rejection, request))),
        }
    }
}

pin_project! {
    /// The future of the [`Verified`] extractor.
    #[must_use = "futures do nothing unless polled"]
    pub struct VerifiedFuture {
        #[pin]
        state: VerifiedState,
    }
}

pin_project! {
    // The future is built once per request and moved at most once, into the
    // handler's future: boxing the larger variant would cost an allocation for
    // nothing.
    #[allow(clippy::large_enum_variant)]
    #[project = VerifiedStateProj]
    enum VerifiedState {
        Done {
            result: Option<Result<Verified, actix_web::Error>>,
        },
        Verifying {
            #[pin]
            verify: VerifyPayload,
            request: Option<HttpRequest>,
        },
    }
}

impl VerifiedFuture {
    fn done(result: Result<Verified, actix_web::Error>) -> Self {
        Self {
            state: VerifiedState::Done {
                result: Some(result),
            },
        }
    }
}

impl std::fmt::Debug for VerifiedFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedFuture").finish_non_exhaustive()
    }
}

impl Future for VerifiedFuture {
    type Output = Result<Verified, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            VerifiedStateProj::Done { result } => Poll::Ready(
                result
                    .take()
                    .expect("VerifiedFuture polled after completion"),
            ),
            VerifiedStateProj::Verifying { verify, request } => {
                let verified = ready!(verify.poll(cx));
                let request = request
                    .take()
                    .expect("VerifiedFuture polled after completion");
                Poll::Ready(match verified {
                    Ok(delivery) => {
                        // Later extractors of the same request reuse the result.
                        request.extensions_mut().insert(delivery.clone());
                        Ok(Verified(delivery))
                    }
                    Err(rejection) => {
                        Err(VerifyConfig::from_req(&request).reject(rejection, &request))
                    }
                })
            }
        }
    }
}

/// The payload of a verified delivery (see [`Verified`]), deserialized into `T`.
///
/// A payload that does not fit `T` is rejected with 400.
#[derive(Clone, Debug)]
pub struct WebhookPayload<T>(pub T);

impl<T> WebhookPayload<T> {
    /// The payload.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for WebhookPayload<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for WebhookPayload<T> {
    type Error = actix_web::Error;
    type Future = WebhookPayloadFuture<T>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        FromVerifiedFuture::new(request, payload, |delivery| {
            Ok(Self(delivery.parse_owned()?))
        })
    }
}

/// The future of the [`WebhookPayload`] extractor.
pub type WebhookPayloadFuture<T> = FromVerifiedFuture<WebhookPayload<T>>;

pin_project! {
    /// The future of an extractor made from the verified delivery (see
    /// [`Verified`]): [`WebhookPayload`], [`TypedEvent`]. A delivery that does not
    /// make one is rejected through the configuration's error handler.
    #[must_use = "futures do nothing unless polled"]
    pub struct FromVerifiedFuture<T> {
        #[pin]
        verified: VerifiedFuture,
        request: Option<HttpRequest>,
        make: fn(VerifiedDelivery) -> Result<T, Rejection>,
    }
}

impl<T> FromVerifiedFuture<T> {
    fn new(
        request: &HttpRequest,
        payload: &mut Payload,
        make: fn(VerifiedDelivery) -> Result<T, Rejection>,
    ) -> Self {
        Self {
            verified: Verified::from_request(request, payload),
            request: Some(request.clone()),
            make,
        }
    }
}

impl<T> std::fmt::Debug for FromVerifiedFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FromVerifiedFuture").finish_non_exhaustive()
    }
}

impl<T> Future for FromVerifiedFuture<T> {
    type Output = Result<T, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Verified(delivery) = ready!(this.verified.poll(cx))?;
        let request = this
            .request
            .take()
            .expect("FromVerifiedFuture polled after completion");
        Poll::Ready(
            (this.make)(delivery)
                .map_err(|rejection| VerifyConfig::from_req(&request).reject(rejection, &request)),
        )
    }
}

/// The payload of a verified delivery (see [`Verified`]) parsed into its typed
/// [`Event`](octohook::events::Event) (feature `events`).
///
/// An event this version of `octohook` does not know is
/// [`Event::Unknown`](octohook::events::Event::Unknown), not an error; a payload
/// that does not fit its event's type is rejected with 400.
///
/// ```
/// use actix_web::{App, test, web};
/// use octohook::events::{Event, IssuesAction};
/// use octohook::{Verifier, WebhookSecret, sign};
/// use octohook_actix::{VerifyConfig, extract::TypedEvent};
///
/// async fn handle(TypedEvent(event): TypedEvent) -> String {
///     match event {
///         Event::Issues(issues) if issues.action == IssuesAction::Opened => {
///             format!("issue #{} opened", issues.issue.number)
///         }
///         other => format!("ignored {}", other.kind()),
///     }
/// }
///
/// # actix_web::rt::System::new().block_on(async {
/// let secret = WebhookSecret::new("s3cret").unwrap();
/// let app = test::init_service(
///     App::new()
///         .app_data(VerifyConfig::new(Verifier::new(secret.clone())))
///         .route("/", web::post().to(handle)),
/// )
/// .await;
/// let body = r#"{"action":"opened","issue":{"id":1,"number":7},"repository":{},"sender":{}}"#;
/// let request = test::TestRequest::post()
///     .insert_header(("x-github-event", "issues"))
///     .insert_header(("x-github-delivery", "d1"))
///     .insert_header(("content-type", "application/json"))
///     .insert_header(("x-hub-signature-256", sign(&secret, body.as_bytes())))
///     .set_payload(body)
///     .to_request();
/// let response = test::call_service(&app, request).await;
/// assert_eq!(response.status(), 200);
/// assert_eq!(test::read_body(response).await, "issue #7 opened");
/// # });
/// ```
#[cfg(feature = "events")]
#[derive(Debug)]
pub struct TypedEvent(pub octohook::events::Event);

#[cfg(feature = "events")]
impl TypedEvent {
    /// The event.
    pub fn into_inner(self) -> octohook::events::Event {
        self.0
    }
}

#[cfg(feature = "events")]
impl std::ops::Deref for TypedEvent {
    type Target = octohook::events::Event;

    fn deref(&self) -> &octohook::events::Event {
        &self.0
    }
}

#[cfg(feature = "events")]
impl FromRequest for TypedEvent {
    type Error = actix_web::Error;
    type Future = TypedEventFuture;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        FromVerifiedFuture::new(request, payload, |delivery| {
            let event = delivery.event().map_err(octohook::Error::from)?;
            Ok(Self(event))
        })
    }
}

/// The future of the [`TypedEvent`] extractor (feature `events`).
#[cfg(feature = "events")]
pub type TypedEventFuture = FromVerifiedFuture<TypedEvent>;

/// Runs `dispatcher` on a verified delivery and turns the outcome into a response
/// (feature `events`): 200 when every matching handler succeeded, 400 when the
/// payload does not fit its event's type, 500 when a handler failed. The handlers'
/// errors go to the dispatcher's error hooks and the log, not to the response.
///
/// ```
/// use actix_web::{App, test, web};
/// use octohook::events::IssuesAction;
/// use octohook::{Dispatcher, Verifier, WebhookSecret, sign};
/// use octohook_actix::VerifyConfig;
/// use octohook_actix::extract::{Verified, dispatch};
///
/// # actix_web::rt::System::new().block_on(async {
/// let dispatcher = web::Data::new(Dispatcher::new().on_action(IssuesAction::Opened, |issues| async move {
///     println!("issue #{} opened", issues.issue.number);
/// }));
/// let secret = WebhookSecret::new("s3cret").unwrap();
/// let app = test::init_service(
///     App::new()
///         .app_data(VerifyConfig::new(Verifier::new(secret.clone())))
///         .app_data(dispatcher)
///         .route(
///             "/",
///             web::post().to(|Verified(delivery): Verified, dispatcher: web::Data<Dispatcher>| async move {
///                 dispatch(&dispatcher, delivery).await
///             }),
///         ),
/// )
/// .await;
/// let body = r#"{"action":"opened","issue":{"id":1,"number":7},"repository":{},"sender":{}}"#;
/// let request = test::TestRequest::post()
///     .insert_header(("x-github-event", "issues"))
///     .insert_header(("x-github-delivery", "d1"))
///     .insert_header(("content-type", "application/json"))
///     .insert_header(("x-hub-signature-256", sign(&secret, body.as_bytes())))
///     .set_payload(body)
///     .to_request();
/// assert_eq!(test::call_service(&app, request).await.status(), 200);
/// # });
/// ```
#[cfg(feature = "events")]
pub async fn dispatch(
    dispatcher: &octohook::Dispatcher,
    delivery: octohook::VerifiedDelivery,
) -> actix_web::HttpResponse {
    let guid = delivery.guid().clone();
    let answer = match dispatcher.dispatch(delivery).await {
        Ok(_) => octohook::Answer::ok(),
        Err(error) => {
            error.log(&guid);
            error.answer()
        }
    };
    crate::answer_response(answer)
}
