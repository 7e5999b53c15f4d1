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

/// 422 `{"detail": [{type, loc, msg, input, ctx?}, ...]}`, FastAPI's bytes.
pub(crate) fn invalid(problems: &[Problem]) -> Response {
    // Serialized straight from the problems so each entry keeps FastAPI's key order.
    #[derive(serde::Serialize)]
    struct Detail<'a> {
        detail: &'a [Problem],
    }
    match serde_json::to_vec(&Detail { detail: problems }) {
        Ok(body) => json_bytes(StatusCode::UNPROCESSABLE_ENTITY, body),
        Err(_) => error(StatusCode::UNPROCESSABLE_ENTITY, "invalid arguments"),
    }
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

/// Maps a handler's failure to its response (400, 422, 500 or the status it names).
pub(crate) fn from_handler(err: &HandlerError, debug: bool) -> Response {
    match err {
        HandlerError::Client(msg) => error(StatusCode::BAD_REQUEST, msg),
        HandlerError::Status(status, msg) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if err.is_server_error() {
                tracing::error!("handler answered {status}: {msg}");
            }
            error(status, msg)
        }
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

/// FastAPI's 404: `{"detail": "Not Found"}`.
pub(crate) fn not_found() -> Response {
    json_bytes(StatusCode::NOT_FOUND, r#"{"detail":"Not Found"}"#)
}

/// FastAPI's 405: `{"detail": "Method Not Allowed"}` with `Allow`.
pub(crate) fn method_not_allowed(allow: HeaderValue) -> Response {
    let mut res = json_bytes(
        StatusCode::METHOD_NOT_ALLOWED,
        r#"{"detail":"Method Not Allowed"}"#,
    );
    res.headers_mut().insert(header::ALLOW, allow);
    res
}

/// FastAPI's trailing-slash redirect: 307 (the method and body are kept), empty body.
pub(crate) fn redirect(location: &str) -> Option<Response> {
    let location = HeaderValue::from_str(location).ok()?;
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    res.headers_mut().insert(header::LOCATION, location);
    Some(res)
}

pub(crate) fn too_large(limit: usize) -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("request body exceeds the limit of {limit} bytes"),
    )
}
