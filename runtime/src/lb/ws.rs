//! WebSocket routes: the first text frame is the JSON payload (bound like a POST body), the
//! handler's items go out as JSON text frames, then a normal close (1000, reason "done"). The
//! frames are the handler's alone, as in a Flash (FastAPI) WebSocket handler: one that wants an
//! end frame yields it (the seed protocol ends with `{"done": true, "total_tokens": n}`); the
//! runtime adding its own made such handlers send two. A bad payload or a failing handler gets
//! one `{"error": ...}` frame and a close with a code saying why; a client that goes away
//! cancels the handler by dropping its stream.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::ws::{
        rejection::WebSocketUpgradeRejection, CloseFrame, Message, WebSocket, WebSocketUpgrade,
    },
    http::{HeaderMap, StatusCode},
    response::Response,
};
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::{
    errors,
    route::{body_args, call_handler, not_ready, request_id, Outcome, PathArgs},
    Shared,
};
use crate::handler::{Args, Call, Handler, HandlerError, ItemStream, Progress, Reply, Source};

const NORMAL: u16 = 1000;
const POLICY: u16 = 1008;
const INTERNAL: u16 = 1011;

pub(crate) async fn upgrade<S: Send + Sync + 'static>(
    shared: Arc<Shared<S>>,
    handler: Handler<S>,
    timeout: Option<Duration>,
    path: PathArgs,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    headers: HeaderMap,
) -> Response {
    let Ok(ws) = ws else {
        return errors::error(StatusCode::UPGRADE_REQUIRED, "expected a WebSocket upgrade");
    };
    // The path's parameters are bound like a plain route's, before the upgrade: a malformed
    // one is answered 400 rather than after the socket opened.
    let mut path_args = Args::new();
    if let Err(malformed) = path.insert_into(&mut path_args) {
        return malformed.response();
    }
    let what = path.handler_name().to_string();
    let Some(state) = shared.state.get().cloned() else {
        return not_ready(&shared);
    };
    let request_id = request_id(&headers);
    let limit = shared.body_limit;
    ws.max_message_size(limit)
        .on_upgrade(move |socket| async move {
            let _open = shared.sessions.enter();
            let session = Session {
                socket,
                debug: shared.debug,
            };
            let id = request_id.clone();
            let run = session.run(
                handler,
                state,
                path_args,
                request_id,
                timeout.or(shared.timeout),
                &what,
            );
            crate::logging::with_request_id(&id, run).await
        })
}

struct Session {
    socket: WebSocket,
    debug: bool,
}

impl Session {
    async fn run<S>(
        mut self,
        handler: Handler<S>,
        state: Arc<S>,
        path_args: Args,
        request_id: String,
        timeout: Option<Duration>,
        what: &str,
    ) {
        let Some(payload) = self.first_payload().await else {
            return;
        };
        let mut args = match body_args(payload.as_bytes()) {
            Ok(args) => args,
            Err(problem) => {
                let frame = json!({ "error": "invalid payload", "detail": [problem] });
                return self.fail(frame, POLICY).await;
            }
        };
        // Path parameters win over same-named fields of the message, as over a body's.
        for (name, value) in path_args {
            args.insert(name, value);
        }
        let call = Call::new(args, Source::Body, request_id, Progress::default());
        // The client may leave while the handler is still producing its reply.
        let outcome = tokio::select! {
            outcome = call_handler(&handler, state, call, timeout, what) => outcome,
            () = wait_for_close(&mut self.socket) => {
                tracing::info!("client disconnected; call cancelled");
                return;
            }
        };
        match outcome {
            Outcome::Done(Ok(Reply::Stream(items))) => self.pump(items).await,
            Outcome::Done(Ok(Reply::Value(v))) => {
                if self.send(&v).await {
                    self.finish().await;
                }
            }
            Outcome::Done(Ok(Reply::Json(j))) => {
                if self.send_text(j.into_string()).await {
                    self.finish().await;
                }
            }
            Outcome::Done(Err(e)) => {
                let (frame, code) = self.error_frame(&e);
                self.fail(frame, code).await;
            }
            Outcome::Panicked(msg) => {
                let msg = errors::internal_message(&msg, self.debug).to_string();
                self.fail(json!({ "error": msg }), INTERNAL).await;
            }
            Outcome::TimedOut => {
                let frame = json!({ "error": "execution timeout exceeded" });
                self.fail(frame, INTERNAL).await;
            }
        }
    }

    /// The first text (or binary) frame; `None` when the client left first.
    async fn first_payload(&mut self) -> Option<String> {
        loop {
            match self.socket.recv().await? {
                Ok(Message::Text(t)) => return Some(t.to_string()),
                Ok(Message::Binary(b)) => return Some(String::from_utf8_lossy(&b).into_owned()),
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                Ok(Message::Close(_)) | Err(_) => return None,
            }
        }
    }

    async fn pump(mut self, mut items: ItemStream) {
        let mut total: u64 = 0;
        loop {
            tokio::select! {
                item = items.next() => match item {
                    Some(Ok(json)) => {
                        if !self.send_text(json.into_string()).await {
                            return;
                        }
                        total += 1;
                    }
                    Some(Err(e)) => {
                        let (frame, code) = self.error_frame(&e);
                        return self.fail(frame, code).await;
                    }
                    None => break,
                },
                () = wait_for_close(&mut self.socket) => {
                    // Returning drops `items`, which cancels the handler's work.
                    tracing::info!("client disconnected after {total} items; stream cancelled");
                    return;
                }
            }
        }
        tracing::debug!("stream done after {total} items");
        self.finish().await;
    }

    fn error_frame(&self, err: &HandlerError) -> (Value, u16) {
        match err {
            HandlerError::Client(msg) => (json!({ "error": msg }), POLICY),
            HandlerError::Status(_, msg) => {
                let code = if err.is_server_error() {
                    INTERNAL
                } else {
                    POLICY
                };
                (json!({ "error": msg }), code)
            }
            HandlerError::Invalid(problems) => (
                json!({ "error": "invalid payload", "detail": problems }),
                POLICY,
            ),
            HandlerError::Internal(msg) => {
                tracing::error!("handler failed: {msg}");
                let msg = errors::internal_message(msg, self.debug);
                (json!({ "error": msg }), INTERNAL)
            }
        }
    }

    /// Sends one JSON frame; false when the client is gone.
    async fn send(&mut self, value: &Value) -> bool {
        self.send_text(value.to_string()).await
    }

    /// Sends one frame of JSON text (serialized by the handler's reply); false when the
    /// client is gone.
    async fn send_text(&mut self, text: String) -> bool {
        self.socket.send(Message::Text(text.into())).await.is_ok()
    }

    /// The end of a successful answer: the close frame says it.
    async fn finish(mut self) {
        self.close(NORMAL, "done").await;
    }

    async fn fail(mut self, frame: Value, code: u16) {
        if self.send(&frame).await {
            self.close(code, "error").await;
        }
    }

    /// A clean close: send our close frame, then wait briefly for the client's reply.
    async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        if self.socket.send(Message::Close(Some(frame))).await.is_err() {
            return;
        }
        let _ =
            tokio::time::timeout(Duration::from_secs(2), wait_for_close(&mut self.socket)).await;
    }
}

/// Resolves when the client closes or the connection drops; other frames are ignored.
async fn wait_for_close(socket: &mut WebSocket) {
    loop {
        match socket.recv().await {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
            Some(Ok(_)) => continue,
        }
    }
}
