//! The service a connection serves: the worker's service, marking the connection's [`Entry`]
//! busy when a request's head is complete and waiting again once its response is done.
//!
//! "Done" is when hyper drops the response body, which it does after the body's last frame (or
//! at once for an empty body), so a long streamed response is not cut by the header-read
//! timeout, and a keep-alive connection's idle time counts from the end of its last answer.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{ready, Context, Poll},
};

use axum::{
    body::{Body, Bytes},
    response::Response,
};
use http_body::{Frame, SizeHint};
use hyper::{body::Incoming, Request};
use tower::util::{Oneshot, ServiceExt};

use super::table::Entry;

/// `service` for one connection (what hyper-util's `TowerToHyperService` does, plus the
/// connection's state).
pub(super) struct Tracked<S> {
    service: S,
    entry: Arc<Entry>,
}

impl<S> Tracked<S> {
    pub(super) fn new(service: S, entry: Arc<Entry>) -> Self {
        Tracked { service, entry }
    }
}

impl<S> hyper::service::Service<Request<Incoming>> for Tracked<S>
where
    S: tower::Service<Request<Incoming>, Response = Response, Error = Infallible> + Clone,
{
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = TrackedFuture<Oneshot<S, Request<Incoming>>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        self.entry.busy();
        TrackedFuture {
            inner: self.service.clone().oneshot(req),
            entry: Some(self.entry.clone()),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future; its response's body carries the connection's entry.
    pub(super) struct TrackedFuture<F> {
        #[pin]
        inner: F,
        entry: Option<Arc<Entry>>,
    }
}

impl<F> Future for TrackedFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response<TrackedBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = ready!(this.inner.poll(cx));
        let entry = this.entry.take();
        Poll::Ready(Ok(response.map(|inner| TrackedBody { inner, entry })))
    }
}

/// A response body that marks its connection waiting for the next request when dropped.
pub(super) struct TrackedBody {
    inner: Body,
    entry: Option<Arc<Entry>>,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        if let Some(entry) = &self.entry {
            entry.waiting();
        }
    }
}
