//! The request and response bodies of the middleware.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use pin_project_lite::pin_project;

pin_project! {
    /// The body the inner service receives: the verified bytes of a `POST` delivery,
    /// or the untouched body of a request with another method.
    // pin-project-lite cannot carry docs on variant fields; each variant says it.
    #[allow(missing_docs)]
    #[project = RequestBodyProj]
    #[derive(Debug)]
    pub enum RequestBody<B> {
        /// A delivery's body, verified and held in memory.
        Verified {
            #[pin]
            body: Full<Bytes>,
        },
        /// The body of a request the layer did not verify (not a `POST`).
        Unverified {
            #[pin]
            body: B,
        },
    }
}

impl<B> Body for RequestBody<B>
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
            RequestBodyProj::Verified { body } => body
                .poll_frame(cx)
                .map(|frame| frame.map(|result| result.map_err(|never| match never {}))),
            RequestBodyProj::Unverified { body } => body.poll_frame(cx).map(|frame| {
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
            Self::Verified { body } => body.is_end_stream(),
            Self::Unverified { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Verified { body } => body.size_hint(),
            Self::Unverified { body } => body.size_hint(),
        }
    }
}

pin_project! {
    /// The response body: the inner service's, or a rejection's short text.
    #[allow(missing_docs)]
    #[project = ResponseBodyProj]
    #[derive(Debug)]
    pub enum ResponseBody<B> {
        /// The inner service's body.
        Inner {
            #[pin]
            body: B,
        },
        /// A rejection's `text/plain` body.
        Rejection {
            #[pin]
            body: Full<Bytes>,
        },
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project() {
            ResponseBodyProj::Inner { body } => body.poll_frame(cx),
            ResponseBodyProj::Rejection { body } => body
                .poll_frame(cx)
                .map(|frame| frame.map(|result| result.map_err(|never| match never {}))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Inner { body } => body.is_end_stream(),
            Self::Rejection { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Inner { body } => body.size_hint(),
            Self::Rejection { body } => body.size_hint(),
        }
    }
}
