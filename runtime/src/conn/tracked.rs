//! The service a connection serves: the worker's service, marking the connection's [`Entry`]
//! busy when a request's head is complete and waiting again once its response is done.
//!
//! "Done" is when hyper drops the response body, which it does after the body's last frame (or
//! at once for an empty body), so a long streamed response is not cut by the header-read
//! timeout, and a keep-alive connection's idle time counts from the end of its last answer.
//!
//! While a worker drains, every request is answered here, without reaching the worker's
//! service: 503 with a JSON body, `Retry-After` and `Connection: close` ([`refused`]).

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{ready, Context, Poll},
};

use axum::{
    body::{Body, Bytes},
    http::{header, HeaderValue, StatusCode},
    response::Response,
};
use futures_util::future::{BoxFuture, Either};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
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
    type Future = TrackedFuture<
        Either<Oneshot<S, Request<Incoming>>, BoxFuture<'static, Result<Response, Infallible>>>,
    >;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        self.entry.busy();
        let inner = if self.entry.refusing() {
            Either::Right(Box::pin(refused(req)) as BoxFuture<'static, _>)
        } else {
            Either::Left(self.service.clone().oneshot(req))
        };
        TrackedFuture {
            inner,
            entry: Some(self.entry.clone()),
        }
    }
}

/// The most of a refused request's body read before answering, and for how long.
const REFUSED_BODY_MAX: usize = 1 << 20;
const REFUSED_BODY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The answer to a request that arrived while the worker drains: 503, a JSON body,
/// `Retry-After: 1` and `Connection: close` (hyper closes the connection after it). Nothing
/// of the request was done, so any client may send it again, to this endpoint's other workers.
///
/// The body is read first (within bounds): closing a connection with unread bytes makes the
/// kernel reset it, and a reset can destroy the answer before the client reads it.
async fn refused(req: Request<Incoming>) -> Result<Response, Infallible> {
    let mut body = req.into_body();
    let _ = tokio::time::timeout(REFUSED_BODY_WAIT, async {
        let mut read = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            read += frame.data_ref().map_or(0, Bytes::len);
            if read > REFUSED_BODY_MAX {
                break;
            }
        }
    })
    .await;
    let text =
        r#"{"error":"the worker is shutting down: nothing was done; send the request again"}"#;
    let mut res = Response::new(Body::from(text));
    *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    Ok(res)
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
