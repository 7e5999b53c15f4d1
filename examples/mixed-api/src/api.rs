//! The public `api` endpoint. `POST /summarize` checks the request, runs a job on the
//! `gpu-backend` endpoint of the same project and answers with its output.
//!
//! Where `gpu-backend` is comes from `FLASH_ENDPOINT_GPU_BACKEND`: its endpoint id on Runpod,
//! or the URL of a local queue worker (`http://127.0.0.1:8081`).

use flash_runtime::endpoints::{Endpoint, JobStatus};
use flash_runtime::HandlerError;
use serde::Serialize;
use serde_json::json;

use crate::backend::Summary;

/// The backend's name in flash.yaml.
pub const BACKEND: &str = "gpu-backend";

#[derive(Debug, Serialize, PartialEq)]
pub struct Health {
    pub status: &'static str,
    pub backend: &'static str,
}

/// `POST /summarize` with `{"text": "...", "max_words": 5}` (`max_words` optional).
pub async fn summarize(text: String, max_words: Option<u32>) -> Result<Summary, HandlerError> {
    summarize_on(&Endpoint::named(BACKEND), text, max_words).await
}

/// `GET /health`.
pub async fn health() -> Health {
    Health {
        status: "ok",
        backend: BACKEND,
    }
}

async fn summarize_on(
    backend: &Endpoint,
    text: String,
    max_words: Option<u32>,
) -> Result<Summary, HandlerError> {
    // Refuse bad input here, with a 400, rather than spending a GPU job on it.
    if text.trim().is_empty() {
        return Err(HandlerError::client("`text` must not be empty"));
    }
    if max_words == Some(0) {
        return Err(HandlerError::client("`max_words` must be at least 1"));
    }
    // An `EndpointError` (backend not configured, unreachable) becomes a 500.
    let job = backend
        .runsync(json!({ "text": text, "max_words": max_words }))
        .await?;
    output_of(job)
}

/// The backend job's output as a `Summary`, or why there is none.
fn output_of(job: JobStatus) -> Result<Summary, HandlerError> {
    match (job.status.as_str(), job.output) {
        ("COMPLETED", Some(output)) => {
            serde_json::from_value(output).map_err(HandlerError::internal)
        }
        (status, _) => Err(HandlerError::internal(format!(
            "backend job {} ended {status}: {}",
            job.id,
            job.error.unwrap_or_default()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-request stand-in for the backend's queue API that answers `/runsync` with `reply`
    /// and returns the request it got.
    async fn fake_backend(reply: serde_json::Value) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.ends_with(b"}") {
                let n = socket.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
            }
            let body = reply.to_string();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
            String::from_utf8(request).unwrap()
        });
        (url, task)
    }

    #[tokio::test]
    async fn calls_the_backend_and_answers_its_output() {
        let (url, request) = fake_backend(json!({
            "id": "job-1",
            "status": "COMPLETED",
            "output": {"summary": "one two…", "words_in": 4, "words_out": 2}
        }))
        .await;
        let backend = Endpoint::with_base(BACKEND, &url);
        let summary = summarize_on(&backend, "one two three four".into(), Some(2))
            .await
            .unwrap();
        assert_eq!(summary.summary, "one two…");
        let request = request.await.unwrap();
        assert!(request.starts_with("POST /runsync"), "{request}");
        assert!(request.contains(r#""max_words":2"#), "{request}");
    }

    #[tokio::test]
    async fn bad_input_never_reaches_the_backend() {
        let backend = Endpoint::with_base(BACKEND, "http://127.0.0.1:9");
        assert_eq!(
            summarize_on(&backend, "  ".into(), None).await,
            Err(HandlerError::client("`text` must not be empty"))
        );
        assert_eq!(
            summarize_on(&backend, "text".into(), Some(0)).await,
            Err(HandlerError::client("`max_words` must be at least 1"))
        );
    }

    #[test]
    fn a_failed_job_is_a_server_error() {
        let job: JobStatus = serde_json::from_value(json!({
            "id": "job-2", "status": "FAILED", "error": "out of memory"
        }))
        .unwrap();
        assert!(matches!(output_of(job), Err(HandlerError::Internal(m)) if m.contains("FAILED")));
    }

    #[tokio::test]
    async fn health_names_the_backend() {
        assert_eq!(health().await.backend, "gpu-backend");
    }
}
