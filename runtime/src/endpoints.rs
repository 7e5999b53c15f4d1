//! Calling the project's other queue endpoints from a handler, through Runpod's public queue API
//! (`/run`, `/runsync`, `/status`, `/stream`, `/cancel`).
//!
//! ```no_run
//! use flash_runtime::endpoints::{Endpoint, EndpointError};
//!
//! # async fn demo() -> Result<(), EndpointError> {
//! // FLASH_ENDPOINT_GPU_BACKEND holds the endpoint's id (on Runpod) or its local base URL.
//! let job = Endpoint::named("gpu-backend")
//!     .runsync(serde_json::json!({ "prompt": "hello" }))
//!     .await?;
//! assert!(job.is_final());
//! # Ok(()) }
//! ```
//!
//! Where an endpoint is comes from the variable `FLASH_ENDPOINT_<NAME>` (the name upper-cased,
//! `-` → `_`), read at each call: an endpoint id is called at
//! `$RUNPOD_ENDPOINT_BASE_URL/<id>` (default `https://api.runpod.ai/v2/<id>`); a value starting
//! with `http://` or `https://` is the endpoint's queue API itself, such as a queue worker
//! serving the local queue API (`http://127.0.0.1:8001` → `http://127.0.0.1:8001/run`).
//! `RUNPOD_API_KEY`, when set, is sent as `Authorization: Bearer <key>`. All endpoints share
//! one pooled keep-alive HTTP client.

use std::{fmt, sync::OnceLock, time::Duration};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::handler::HandlerError;

/// Runpod's public API, where endpoint ids are resolved unless `RUNPOD_ENDPOINT_BASE_URL` says.
pub const DEFAULT_BASE_URL: &str = "https://api.runpod.ai/v2";

/// Longest wait for one `/runsync` request (the platform holds one up to ~90 s).
const RUNSYNC_TIMEOUT: Duration = Duration::from_secs(150);
/// Longest wait for any other request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Polling of `/status` after a `/runsync` that returned before the job ended.
const POLL_FIRST: Duration = Duration::from_millis(200);
const POLL_MAX: Duration = Duration::from_secs(2);

/// Another queue endpoint of the project. Cheap to build; nothing is read until a call.
#[derive(Debug, Clone)]
pub struct Endpoint {
    name: String,
    base: Option<String>,
}

/// A job's state as the queue API reports it (`/run`, `/runsync`, `/status`, `/cancel`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    pub id: String,
    /// `IN_QUEUE`, `IN_PROGRESS`, `COMPLETED`, `FAILED`, `CANCELLED` or `TIMED_OUT`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// A failed job's error (from a flash or Python worker: JSON text with `error_type`,
    /// `error_message`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Milliseconds the job waited in the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_time: Option<u64>,
    /// Milliseconds the job ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_time: Option<u64>,
}

impl JobStatus {
    /// The job has ended (`COMPLETED`, `FAILED`, `CANCELLED` or `TIMED_OUT`): its state will not
    /// change any more.
    pub fn is_final(&self) -> bool {
        matches!(
            self.status.as_str(),
            "COMPLETED" | "FAILED" | "CANCELLED" | "TIMED_OUT"
        )
    }
}

/// What `/stream/{id}` returned: the chunks produced since the last call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamChunks {
    pub status: String,
    /// The chunks themselves (each `{"output": chunk}` entry of the API unwrapped to `chunk`).
    pub stream: Vec<Value>,
}

/// Why a call to another endpoint failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointError {
    /// `FLASH_ENDPOINT_<NAME>` is not set (or empty).
    NotConfigured { var: String },
    /// The input was refused before sending: it must be a non-empty JSON object (the platform
    /// never runs a job whose input is empty).
    Input(String),
    /// The API answered with an error status.
    Http { status: u16, body: String },
    /// No answer: connection refused, timeout, TLS.
    Transport(String),
    /// The answer was not what the queue API sends.
    Decode(String),
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::NotConfigured { var } => write!(
                f,
                "endpoint not configured: set {var} to its endpoint id or its queue API's URL"
            ),
            EndpointError::Input(msg) => write!(f, "invalid input: {msg}"),
            EndpointError::Http { status, body } => {
                write!(f, "endpoint answered HTTP {status}: {body}")
            }
            EndpointError::Transport(msg) => write!(f, "endpoint unreachable: {msg}"),
            EndpointError::Decode(msg) => write!(f, "unexpected answer from endpoint: {msg}"),
        }
    }
}

impl std::error::Error for EndpointError {}

impl From<EndpointError> for HandlerError {
    fn from(e: EndpointError) -> HandlerError {
        HandlerError::Internal(e.to_string())
    }
}

impl Endpoint {
    /// The endpoint called `name` in flash.yaml; where it is comes from `FLASH_ENDPOINT_<NAME>`,
    /// read at each call.
    pub fn named(name: &str) -> Endpoint {
        Endpoint {
            name: name.to_string(),
            base: None,
        }
    }

    /// An endpoint at a fixed queue API base URL (`http://127.0.0.1:8001`), for tests.
    pub fn with_base(name: &str, base_url: &str) -> Endpoint {
        Endpoint {
            name: name.to_string(),
            base: Some(base_url.trim_end_matches('/').to_string()),
        }
    }

    /// The variable [`Endpoint::named`] reads: `FLASH_ENDPOINT_` + the name upper-cased with
    /// `-` → `_` (`gpu-backend` → `FLASH_ENDPOINT_GPU_BACKEND`).
    pub fn env_var(name: &str) -> String {
        crate::route_contract::endpoint_id_env(name)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The queue API base of this endpoint as it resolves now.
    pub fn base_url(&self) -> Result<String, EndpointError> {
        if let Some(base) = &self.base {
            return Ok(base.clone());
        }
        let var = Endpoint::env_var(&self.name);
        let value = std::env::var(&var).unwrap_or_default();
        let value = value.trim();
        if value.is_empty() {
            return Err(EndpointError::NotConfigured { var });
        }
        if value.starts_with("http://") || value.starts_with("https://") {
            return Ok(value.trim_end_matches('/').to_string());
        }
        let api = std::env::var("RUNPOD_ENDPOINT_BASE_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        Ok(format!("{}/{value}", api.trim().trim_end_matches('/')))
    }

    /// Queues a job (`POST /run`); the answer is `IN_QUEUE` with the job's id.
    pub async fn run(&self, input: impl Serialize) -> Result<JobStatus, EndpointError> {
        let body = job_body(input)?;
        self.send(Method::Post, "run", Some(&body), REQUEST_TIMEOUT)
            .await
    }

    /// Runs a job and waits for its end (`POST /runsync`, then `/status` polls while the job
    /// is not final yet). The answer's `status` says how it ended.
    pub async fn runsync(&self, input: impl Serialize) -> Result<JobStatus, EndpointError> {
        let body = job_body(input)?;
        let mut job: JobStatus = self
            .send(Method::Post, "runsync", Some(&body), RUNSYNC_TIMEOUT)
            .await?;
        let mut pause = POLL_FIRST;
        while !job.is_final() {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(POLL_MAX);
            job = self.status(&job.id).await?;
        }
        Ok(job)
    }

    /// The job's current state (`GET /status/{id}`).
    pub async fn status(&self, id: &str) -> Result<JobStatus, EndpointError> {
        let op = format!("status/{}", path_segment(id)?);
        self.send(Method::Get, &op, None, REQUEST_TIMEOUT).await
    }

    /// The chunks a streaming job produced since the last call (`GET /stream/{id}`).
    pub async fn stream(&self, id: &str) -> Result<StreamChunks, EndpointError> {
        #[derive(Deserialize)]
        struct Raw {
            status: String,
            #[serde(default)]
            stream: Vec<Value>,
        }
        let op = format!("stream/{}", path_segment(id)?);
        let raw: Raw = self.send(Method::Get, &op, None, REQUEST_TIMEOUT).await?;
        let stream = raw
            .stream
            .into_iter()
            .map(|entry| match entry {
                Value::Object(mut map) if map.contains_key("output") => {
                    map.remove("output").unwrap_or(Value::Null)
                }
                other => other,
            })
            .collect();
        Ok(StreamChunks {
            status: raw.status,
            stream,
        })
    }

    /// Cancels the job (`POST /cancel/{id}`); a job that already ended keeps its state.
    pub async fn cancel(&self, id: &str) -> Result<JobStatus, EndpointError> {
        let op = format!("cancel/{}", path_segment(id)?);
        self.send(Method::Post, &op, None, REQUEST_TIMEOUT).await
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        op: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<T, EndpointError> {
        let url = format!("{}/{op}", self.base_url()?);
        let client = client()?;
        let mut req = match method {
            Method::Get => client.get(&url),
            Method::Post => client.post(&url),
        }
        .timeout(timeout);
        if let Some(body) = body {
            req = req.json(body);
        }
        if let Some(key) = std::env::var("RUNPOD_API_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
        {
            req = req.bearer_auth(key.trim());
        }
        let res = req.send().await.map_err(|e| {
            EndpointError::Transport(format!("{} {url}: {}", method.as_str(), chain(&e)))
        })?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(|e| {
            EndpointError::Transport(format!("reading the answer of {url}: {}", chain(&e)))
        })?;
        if !status.is_success() {
            return Err(EndpointError::Http {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            let text = String::from_utf8_lossy(&bytes);
            let shown: String = text.chars().take(200).collect();
            EndpointError::Decode(format!("{e} in the answer of {url}: {shown}"))
        })
    }
}

#[derive(Clone, Copy)]
enum Method {
    Get,
    Post,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// `{"input": input}`, refusing what the platform would never run.
fn job_body(input: impl Serialize) -> Result<Value, EndpointError> {
    let input = serde_json::to_value(input)
        .map_err(|e| EndpointError::Input(format!("the input does not serialize: {e}")))?;
    match &input {
        Value::Object(map) if map.is_empty() => Err(EndpointError::Input(
            "the input is an empty object: send the handler's parameters as its fields \
             (the platform never runs a job whose input is empty)"
                .to_string(),
        )),
        Value::Object(_) => Ok(serde_json::json!({ "input": input })),
        other => Err(EndpointError::Input(format!(
            "the input must be a JSON object whose fields are the handler's parameters, got {}",
            match other {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(_) => "a string",
                Value::Array(_) => "an array",
                Value::Object(_) => "an object",
            }
        ))),
    }
}

/// A job id as one path segment: ids are tokens, anything that would change the path is refused.
fn path_segment(id: &str) -> Result<&str, EndpointError> {
    if !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && id != "."
        && id != ".."
    {
        Ok(id)
    } else {
        Err(EndpointError::Input(format!("not a job id: {id:?}")))
    }
}

/// The process-wide client: one connection pool for every endpoint.
fn client() -> Result<&'static reqwest::Client, EndpointError> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .pool_idle_timeout(Duration::from_secs(60))
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {e}"))
        })
        .as_ref()
        .map_err(|e| EndpointError::Transport(e.clone()))
}

/// An error with its causes (reqwest's own text often omits the root cause).
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    match HandlerError::from_ref(err) {
        HandlerError::Internal(text) => text,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn variable_names() {
        assert_eq!(
            Endpoint::env_var("gpu-backend"),
            "FLASH_ENDPOINT_GPU_BACKEND"
        );
        assert_eq!(Endpoint::env_var("embed"), "FLASH_ENDPOINT_EMBED");
    }

    #[test]
    fn inputs_the_platform_would_never_run_are_refused() {
        assert!(matches!(job_body(json!({})), Err(EndpointError::Input(m)) if m.contains("empty")));
        assert!(
            matches!(job_body(json!([1])), Err(EndpointError::Input(m)) if m.contains("an array"))
        );
        assert!(matches!(job_body(()), Err(EndpointError::Input(m)) if m.contains("null")));
        assert_eq!(
            job_body(json!({"a": 1})).unwrap(),
            json!({"input": {"a": 1}})
        );
    }

    #[test]
    fn where_a_named_endpoint_is() {
        // The only test that touches these variables.
        let var = "FLASH_ENDPOINT_UNIT_TEST_EP";
        let ep = Endpoint::named("unit-test-ep");
        std::env::remove_var(var);
        std::env::remove_var("RUNPOD_ENDPOINT_BASE_URL");
        assert_eq!(
            ep.base_url(),
            Err(EndpointError::NotConfigured { var: var.into() })
        );
        std::env::set_var(var, "http://127.0.0.1:8001/");
        assert_eq!(ep.base_url().unwrap(), "http://127.0.0.1:8001");
        std::env::set_var(var, "abc123");
        assert_eq!(ep.base_url().unwrap(), "https://api.runpod.ai/v2/abc123");
        std::env::set_var("RUNPOD_ENDPOINT_BASE_URL", "http://127.0.0.1:9/v2/");
        assert_eq!(ep.base_url().unwrap(), "http://127.0.0.1:9/v2/abc123");
        std::env::remove_var("RUNPOD_ENDPOINT_BASE_URL");
        std::env::remove_var(var);
        assert_eq!(
            Endpoint::with_base("x", "http://h:1/").base_url().unwrap(),
            "http://h:1"
        );
    }

    #[test]
    fn job_ids_are_single_segments() {
        assert!(path_segment("abc-123_x").is_ok());
        for bad in ["", "..", "a/b", "a?b", "a b"] {
            assert!(path_segment(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn job_status_reads_the_api_shape() {
        let job: JobStatus = serde_json::from_value(json!({
            "id": "j1", "status": "COMPLETED", "output": {"x": 1},
            "delayTime": 3, "executionTime": 40, "workerId": "w"
        }))
        .unwrap();
        assert!(job.is_final());
        assert_eq!(job.execution_time, Some(40));
        let queued: JobStatus =
            serde_json::from_value(json!({"id": "j2", "status": "IN_QUEUE"})).unwrap();
        assert!(!queued.is_final());
        assert_eq!(
            serde_json::to_value(&queued).unwrap(),
            json!({"id": "j2", "status": "IN_QUEUE"})
        );
    }
}
