//! A toy text generator, the same tokens two ways: all at once (`POST /generate`) or one
//! WebSocket frame per token (`WS /ws`). Tokens are the prompt's words followed by a fixed
//! continuation, so every answer is predictable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use flash_runtime::HandlerError;
use futures_util::{stream, Stream, StreamExt};
use serde::Serialize;

/// Tokens generated when the request names no `max_tokens`.
pub const DEFAULT_MAX_TOKENS: usize = 16;
/// The most tokens one request may ask for.
pub const MAX_TOKENS: usize = 1_000;

const CONTINUATION: &[&str] = &["and", "then", "the", "model", "kept", "on", "talking"];

/// The endpoint's state: counters shared by every request of the worker.
#[derive(Debug, Default)]
pub struct Stats {
    requests: AtomicU64,
    tokens: AtomicU64,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub tokens: u64,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Generated {
    pub text: String,
    pub total_tokens: usize,
}

/// One WebSocket frame: `{"token": "the", "index": 2}` for each token, then
/// `{"done": true, "total_tokens": 16}`. `untagged`: each variant is written as its own fields.
#[derive(Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Frame {
    Token { token: String, index: usize },
    Done { done: bool, total_tokens: usize },
}

/// `init: generate::start`.
pub fn start() -> Stats {
    Stats::default()
}

/// `POST /generate` with `{"prompt": "...", "max_tokens": 8}`: the whole text at once.
pub async fn generate(
    stats: &Stats,
    prompt: String,
    max_tokens: Option<usize>,
) -> Result<Generated, HandlerError> {
    let tokens = tokens(&prompt, max_tokens)?;
    stats.record(tokens.len());
    Ok(Generated {
        total_tokens: tokens.len(),
        text: tokens.join(" "),
    })
}

/// `GET /stats`: what this worker has generated so far.
pub async fn stats(stats: &Stats) -> StatsSnapshot {
    StatsSnapshot {
        requests: stats.requests.load(Ordering::Relaxed),
        tokens: stats.tokens.load(Ordering::Relaxed),
    }
}

/// `WS /ws`: the client's first frame `{"prompt": "...", "max_tokens": 8, "delay_ms": 50}` binds
/// the parameters; each token is one frame, `delay_ms` apart (default 20), then a `Done` frame.
/// The stream outlives this call, so it takes the state as `Arc<Stats>`, not `&Stats`.
/// A bad request ends the stream with one error frame (close code 1008).
pub fn stream(
    stats: Arc<Stats>,
    prompt: String,
    max_tokens: Option<usize>,
    delay_ms: Option<u64>,
) -> impl Stream<Item = Result<Frame, HandlerError>> {
    let delay = Duration::from_millis(delay_ms.unwrap_or(20));
    let frames: Vec<Result<Frame, HandlerError>> = match tokens(&prompt, max_tokens) {
        Err(e) => vec![Err(e)],
        Ok(tokens) => {
            stats.record(tokens.len());
            let total_tokens = tokens.len();
            let mut frames: Vec<_> = tokens
                .into_iter()
                .enumerate()
                .map(|(index, token)| Ok(Frame::Token { token, index }))
                .collect();
            frames.push(Ok(Frame::Done {
                done: true,
                total_tokens,
            }));
            frames
        }
    };
    stream::iter(frames).then(move |frame| async move {
        if matches!(frame, Ok(Frame::Token { .. })) {
            tokio::time::sleep(delay).await;
        }
        frame
    })
}

impl Stats {
    fn record(&self, tokens: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.tokens.fetch_add(tokens as u64, Ordering::Relaxed);
    }
}

/// The tokens of one answer, or why the request is refused (400).
fn tokens(prompt: &str, max_tokens: Option<usize>) -> Result<Vec<String>, HandlerError> {
    let max_tokens = max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    if prompt.trim().is_empty() {
        return Err(HandlerError::client("`prompt` must not be empty"));
    }
    if max_tokens == 0 || max_tokens > MAX_TOKENS {
        return Err(HandlerError::client(format!(
            "`max_tokens` must be between 1 and {MAX_TOKENS}"
        )));
    }
    Ok(prompt
        .split_whitespace()
        .chain(CONTINUATION.iter().copied().cycle())
        .take(max_tokens)
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn generates_the_whole_text() {
        let stats = start();
        let g = generate(&stats, "once upon".into(), Some(5)).await.unwrap();
        assert_eq!(g.text, "once upon and then the");
        assert_eq!(g.total_tokens, 5);
        assert_eq!(
            super::stats(&stats).await,
            StatsSnapshot {
                requests: 1,
                tokens: 5
            }
        );
    }

    #[tokio::test]
    async fn streams_tokens_then_done() {
        let stats = Arc::new(start());
        let frames: Vec<_> = stream(stats.clone(), "hi".into(), Some(3), Some(0))
            .collect()
            .await;
        let frames: Vec<Frame> = frames.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            frames,
            vec![
                Frame::Token {
                    token: "hi".into(),
                    index: 0
                },
                Frame::Token {
                    token: "and".into(),
                    index: 1
                },
                Frame::Token {
                    token: "then".into(),
                    index: 2
                },
                Frame::Done {
                    done: true,
                    total_tokens: 3
                },
            ]
        );
        assert_eq!(stats.tokens.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn frames_have_the_wire_shape() {
        let token = Frame::Token {
            token: "hi".into(),
            index: 0,
        };
        let done = Frame::Done {
            done: true,
            total_tokens: 1,
        };
        assert_eq!(
            serde_json::to_string(&token).unwrap(),
            r#"{"token":"hi","index":0}"#
        );
        assert_eq!(
            serde_json::to_string(&done).unwrap(),
            r#"{"done":true,"total_tokens":1}"#
        );
    }

    #[tokio::test]
    async fn bad_requests_are_client_errors() {
        let stats = start();
        assert!(matches!(
            generate(&stats, " ".into(), None).await,
            Err(HandlerError::Client(_))
        ));
        let frames: Vec<_> = stream(Arc::new(start()), "hi".into(), Some(0), None)
            .collect()
            .await;
        assert!(matches!(frames.as_slice(), [Err(HandlerError::Client(_))]));
        assert_eq!(super::stats(&stats).await.requests, 0);
    }
}
