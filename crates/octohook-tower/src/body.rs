//! [`LayerBody`]: the request and response bodies of the middleware.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use pin_project_lite::pin_project;

pin_project! {
    /// A body the layer either holds in memory or passes through untouched.
    ///
    /// Going in ([`RequestBody`]), the inner service receives the verified bytes
    /// of a `POST` delivery, or the body of a request with another method.
    /// Coming out ([`ResponseBody`]), the client receives the inner service's
    /// body, or a rejection's short text.
    // pin-project-lite cannot carry docs on variant fields; each variant says it.
    #[allow(missing_docs)]
    #[project = LayerBodyProj]
    #[derive(Debug)]
    pub enum LayerBody<B> {
        /// Bytes the layer holds: a verified delivery's body, or a rejection's
        /// `text/plain` answer.
        Buffered {
            #[pin]
            body: Full<Bytes>,
        },
        /// A body the layer did not read: a request that is not a `POST`, or the
        /// inner service's response.
        Passthrough {
            #[pin]
            body: B,
        },
    }
}

/// The body the inner service receives.
pub type RequestBody<B> = LayerBody<B>;

/// The body the layer answers with.
pub type ResponseBody<B> = LayerBody<B>;

impl<B> Body for LayerBody<B>
where
    B: Body,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project() {
            LayerBodyProj::Buffered { body } => body
                .poll_frame(cx)
                .map(|frame| frame.map(|result| result.map_err(|never| match never {}))),
            // `copy_to_bytes` of `Bytes` is a cheap split, not a copy.
            LayerBodyProj::Passthrough { body } => body.poll_frame(cx).map(|frame| {
                frame.map(|frame| {
                    frame.map(|frame| {
                        frame.map_data(|mut data| data.copy_to_bytes(data.remaining()))
                    })
                })
            }),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Buffered { body } => body.is_end_stream(),
            Self::Passthrough { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Buffered { body } => body.size_hint(),
            Self::Passthrough { body } => body.size_hint(),
        }
    }
}
