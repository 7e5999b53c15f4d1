//! Sending results, stream chunks and progress to the platform, with the SDK's retry policy.

use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use reqwest::Url;

use super::endpoints::Endpoints;

/// Posts of one worker. Cloned cheaply (the client is pooled and shared).
#[derive(Clone)]
pub struct Poster {
    pub client: reqwest::Client,
    pub urls: std::sync::Arc<Endpoints>,
    /// Delays between attempts; its length + 1 is the number of attempts.
    pub retry_delays: std::sync::Arc<Vec<Duration>>,
}

const POST_TIMEOUT: Duration = Duration::from_secs(30);

impl Poster {
    /// The final result of a job: `{"output": v}` or `{"error": "..."}` to the output URL.
    /// `is_stream` marks the aggregate that ends a streamed job.
    pub async fn result<T: Serialize + ?Sized>(
        &self,
        job_id: &str,
        body: &T,
        is_stream: bool,
    ) -> bool {
        let url = Endpoints::job_url(&self.urls.output, job_id, is_stream);
        self.send(job_id, &url, body).await
    }

    /// A progress update: `{"status": "IN_PROGRESS", "output": v}` to the output URL.
    pub async fn progress(&self, job_id: &str, value: Value) -> bool {
        let url = Endpoints::job_url(&self.urls.output, job_id, false);
        self.send(
            job_id,
            &url,
            &json!({"status": "IN_PROGRESS", "output": value}),
        )
        .await
    }

    /// One chunk of a streaming job: `{"output": chunk}` to the stream URL with
    /// `isStream=false`, exactly what the SDK sends (only the final post says `true`).
    pub async fn chunk(&self, job_id: &str, chunk: Value) -> bool {
        let Some(template) = &self.urls.stream else {
            return false;
        };
        let url = Endpoints::job_url(template, job_id, false);
        self.send(job_id, &url, &json!({ "output": chunk })).await
    }

    /// POSTs JSON with the SDK's headers (`Content-Type: application/x-www-form-urlencoded` —
    /// the SDK's label for its JSON text —, `charset: utf-8`, `X-Request-ID: <job id>`),
    /// retrying transport errors and 5xx replies; a 4xx is final (sending the same body again
    /// cannot succeed). Returns whether the platform accepted it.
    async fn send<T: Serialize + ?Sized>(&self, job_id: &str, url: &Url, body: &T) -> bool {
        let bytes = match serde_json::to_vec(body) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(requestId = %job_id, "cannot serialize a result: {e}");
                return false;
            }
        };
        let request_id = reqwest::header::HeaderValue::from_str(job_id).ok();
        let mut delays = self.retry_delays.iter();
        let mut attempt = 1;
        loop {
            let mut request = self.client.post(url.clone());
            if let Some(id) = &request_id {
                request = request.header("x-request-id", id.clone());
            }
            let sent = request
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .header("charset", "utf-8")
                .body(bytes.clone())
                .timeout(POST_TIMEOUT)
                .send()
                .await;
            let problem = match sent {
                Ok(r) if r.status().is_success() => return true,
                Ok(r) if r.status().is_client_error() => {
                    tracing::error!(requestId = %job_id, status = %r.status(), "the platform refused a post; not retrying");
                    return false;
                }
                Ok(r) => format!("status {}", r.status()),
                Err(e) => e.to_string(),
            };
            match delays.next() {
                Some(delay) => {
                    tracing::warn!(requestId = %job_id, attempt, "post failed ({problem}); retrying in {} ms", delay.as_millis());
                    tokio::time::sleep(*delay).await;
                    attempt += 1;
                }
                None => {
                    tracing::error!(requestId = %job_id, attempt, "post failed ({problem}); giving up");
                    return false;
                }
            }
        }
    }
}
