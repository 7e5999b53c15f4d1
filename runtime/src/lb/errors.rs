//! Every error a load-balanced worker answers, each with a JSON body.

use axum::{
    body::Body,
    http::{header, HeaderValue, StatusCode},
    response::Response,
};
use serde_json::json;

use crate::handler::{HandlerError, Problem};

/// A JSON response from bytes already serialized.
pub(crate) fn json_bytes(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut res = Response::new(body.into());
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// `{"error": msg}` with `status`.
pub(crate) fn error(status: StatusCode, msg: &str) -> Response {
    json_bytes(status, json!({ "error": msg }).to_string())
}

/// 422 `{"detail": [{loc, msg, type}, ...]}`.
pub(crate) fn invalid(problems: &[Problem]) -> Response {
    json_bytes(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({ "detail": problems }).to_string(),
    )
}

/// The public message of a 500: the real one only when debug output is on, since internal
/// messages can leak paths, queries or secrets.
pub(crate) fn internal_message(msg: &str, debug: bool) -> &str {
    if debug {
        msg
    } else {
        "internal server error"
    }
}

/// Maps a handler's failure to its response (400, 422 or 500).
pub(crate) fn from_handler(err: &HandlerError, debug: bool) -> Response {
    match err {
        HandlerError::Client(msg) => error(StatusCode::BAD_REQUEST, msg),
        HandlerError::Invalid(problems) => invalid(problems),
        HandlerError::Internal(msg) => {
            tracing::error!("handler failed: {msg}");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                internal_message(msg, debug),
            )
        }
    }
}

/// The text of a panic payload (`panic!("...")` gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "handler panicked"
    }
}

pub(crate) fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

pub(crate) fn method_not_allowed(allow: HeaderValue) -> Response {
    let mut res = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    res.headers_mut().insert(header::ALLOW, allow);
    res
}

pub(crate) fn too_large(limit: usize) -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("request body exceeds the limit of {limit} bytes"),
    )
}
