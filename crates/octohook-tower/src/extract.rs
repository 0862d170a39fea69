//! axum extractors for verified deliveries (feature `axum`).
//!
//! - Behind [`VerifyWebhookLayer`](crate::VerifyWebhookLayer): [`Verified`] and
//!   [`WebhookPayload<T>`] read what the layer verified; they work with any state.
//! - Without the layer: [`StandaloneWebhook`] and [`StandaloneWebhookPayload<T>`]
//!   read and verify the body themselves with the [`Verifier`] taken from the
//!   router's state (`Verifier: FromRef<S>`). Behind the layer they reuse its result
//!   instead of verifying twice. They log rejections to the process's shared
//!   [`RejectionLog`].
//!
//! ```
//! use axum::{Router, extract::FromRef, routing::post};
//! use octohook::{Verifier, WebhookSecret};
//! use octohook_tower::extract::StandaloneWebhookPayload;
//!
//! #[derive(serde::Deserialize)]
//! struct Push {
//!     after: String,
//! }
//!
//! #[derive(Clone, FromRef)]
//! struct AppState {
//!     verifier: Verifier,
//! }
//!
//! async fn push(StandaloneWebhookPayload(push): StandaloneWebhookPayload<Push>) -> String {
//!     push.after
//! }
//!
//! let state = AppState { verifier: Verifier::new(WebhookSecret::new("s3cret").unwrap()) };
//! let app: Router = Router::new().route("/webhook", post(push)).with_state(state);
//! ```

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use octohook::{Answer, RejectionLog, VerifiedDelivery, Verifier};
use serde::de::DeserializeOwned;

use crate::Rejection;
use crate::verify_body::VerifyBody;

/// The extractors' rejection: the core's [`Rejection`], answered by axum as its
/// [`Answer`].
///
/// ```
/// use axum::response::IntoResponse;
/// use octohook_tower::Rejection;
/// use octohook_tower::extract::WebhookRejection;
///
/// let response = WebhookRejection(Rejection::NotConfigured).into_response();
/// assert_eq!(response.status(), 500);
/// ```
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct WebhookRejection(pub Rejection);

impl WebhookRejection {
    /// The rejection.
    pub fn into_inner(self) -> Rejection {
        self.0
    }
}

impl From<Rejection> for WebhookRejection {
    fn from(rejection: Rejection) -> Self {
        Self(rejection)
    }
}

impl From<octohook::Error> for WebhookRejection {
    fn from(error: octohook::Error) -> Self {
        Self(error.into())
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        Answer::from(&self.0).into_response()
    }
}

/// The delivery verified by [`VerifyWebhookLayer`](crate::VerifyWebhookLayer).
///
/// Rejects with 500 when the route has no layer (a server misconfiguration).
#[derive(Clone, Debug)]
pub struct Verified(pub VerifiedDelivery);

impl<S: Send + Sync> FromRequestParts<S> for Verified {
    type Rejection = WebhookRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<VerifiedDelivery>()
            .cloned()
            .map(Self)
            .ok_or(WebhookRejection(Rejection::NotConfigured))
    }
}

/// The payload of the delivery verified by
/// [`VerifyWebhookLayer`](crate::VerifyWebhookLayer), deserialized into `T`.
///
/// A payload that does not fit `T` is rejected with 400.
#[derive(Clone, Debug)]
pub struct WebhookPayload<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for WebhookPayload<T> {
    type Rejection = WebhookRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Verified(delivery) = Verified::from_request_parts(parts, state).await?;
        Ok(Self(delivery.parse_owned()?))
    }
}

/// A delivery verified by the extractor itself, with the router state's
/// [`Verifier`]; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct StandaloneWebhook(pub VerifiedDelivery);

impl<S> FromRequest<S> for StandaloneWebhook
where
    S: Send + Sync,
    Verifier: FromRef<S>,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(delivery) = request.extensions().get::<VerifiedDelivery>() {
            return Ok(Self(delivery.clone()));
        }
        let verifier = Verifier::from_ref(state);
        let (parts, body) = request.into_parts();
        let verified = match verifier.begin(&parts.headers) {
            Ok(pending) => VerifyBody::new(pending, body).await,
            Err(error) => Err(error.into()),
        };
        verified.map(Self).map_err(|rejection| {
            crate::rejection::log(&RejectionLog::default(), &rejection, &parts.headers);
            WebhookRejection(rejection)
        })
    }
}

/// The payload of a delivery verified by the extractor itself, deserialized into
/// `T`; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct StandaloneWebhookPayload<T>(pub T);

impl<S, T> FromRequest<S> for StandaloneWebhookPayload<T>
where
    S: Send + Sync,
    Verifier: FromRef<S>,
    T: DeserializeOwned,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let StandaloneWebhook(delivery) = StandaloneWebhook::from_request(request, state).await?;
        Ok(Self(delivery.parse_owned()?))
    }
}

/// The typed [`Event`](octohook::Event) of the delivery verified by
/// [`VerifyWebhookLayer`](crate::VerifyWebhookLayer) (features `axum` and `events`).
///
/// A payload that does not fit its event's type is rejected with 400; an event this
/// version does not know is [`Event::Unknown`](octohook::Event::Unknown), not an
/// error.
#[cfg(feature = "events")]
#[derive(Debug)]
pub struct TypedEvent(pub octohook::Event);

#[cfg(feature = "events")]
impl<S: Send + Sync> FromRequestParts<S> for TypedEvent {
    type Rejection = WebhookRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Verified(delivery) = Verified::from_request_parts(parts, state).await?;
        let event = delivery
            .event()
            .map_err(|error| WebhookRejection(Rejection::Invalid(error.into())))?;
        Ok(Self(event))
    }
}

/// Runs `dispatcher` on a verified delivery and turns the outcome into a response:
/// 200 when every matching handler succeeded, 400 when the payload does not fit its
/// event's type, 500 when a handler failed (the handlers' errors go to the
/// dispatcher's error hooks and the log, not to the response).
///
/// ```
/// use axum::{Router, routing::post};
/// use octohook::events::PushEvent;
/// use octohook::{Dispatcher, Verifier, WebhookSecret};
/// use octohook_tower::VerifyWebhookLayer;
/// use octohook_tower::extract::{Verified, dispatch};
///
/// let dispatcher = Dispatcher::new().on::<PushEvent, _, _, _>(|push| async move {
///     println!("pushed {}", push.after);
/// });
/// let app: Router = Router::new()
///     .route("/", post(move |Verified(delivery): Verified| async move { dispatch(&dispatcher, delivery).await }))
///     .layer(VerifyWebhookLayer::new(Verifier::new(WebhookSecret::new("s3cret").unwrap())));
/// ```
#[cfg(feature = "events")]
pub async fn dispatch(dispatcher: &octohook::Dispatcher, delivery: VerifiedDelivery) -> Response {
    let guid = delivery.guid().clone();
    let answer = match dispatcher.dispatch(delivery).await {
        Ok(_) => Answer::ok(),
        Err(error) => {
            error.log(&guid);
            error.answer()
        }
    };
    answer.into_response()
}
