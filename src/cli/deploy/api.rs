//! The Runpod REST v2 client: `RUNPOD_API_BASE_URL` (default `https://api.runpod.io`) and
//! `RUNPOD_API_KEY` (or the file named by `RUNPOD_API_KEY_FILE`). The key goes only to an
//! HTTPS base, or to plain HTTP on loopback (`flashc emulate`), and never into output, logs,
//! records or errors: errors name the method and path, never the headers.
//!
//! 429 and 5xx answers (and dropped connections) are retried with exponential backoff; a 429's
//! wait is the longest of `Retry-After` and the exhausted `RateLimit` window's reset (`t=`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::Value;
use ureq::http;

pub const DEFAULT_BASE_URL: &str = "https://api.runpod.io";
const ATTEMPTS: u32 = 6;
const LONGEST_WAIT: Duration = Duration::from_secs(30);

pub struct Client {
    base: String,
    key: String,
    agent: ureq::Agent,
    /// Calls that change something (POST, PATCH, DELETE), for the "no write call" guarantee.
    pub writes: AtomicU32,
    /// First backoff; tests shorten it with `FLASHC_RETRY_BASE_MS`.
    backoff: Duration,
}

/// What the API refused, or why it could not be reached.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// An RFC 9457 problem (or any non-2xx answer).
    Problem {
        status: u16,
        title: String,
        detail: String,
        errors: Vec<String>,
    },
    Transport(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Problem {
                status,
                title,
                detail,
                errors,
            } => {
                write!(f, "{status} {title}: {detail}")?;
                for e in errors {
                    write!(f, "\n  - {e}")?;
                }
                if matches!(status, 401 | 403) {
                    // The key is never shown; say which one was used and where to look.
                    write!(
                        f,
                        "\n  help: Runpod did not accept the API key (RUNPOD_API_KEY or RUNPOD_API_KEY_FILE); \
                         check it under Settings → API Keys, with read/write access to Serverless"
                    )?;
                }
                Ok(())
            }
            ApiError::Transport(e) => write!(f, "{e}"),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Problem { status, .. } => Some(*status),
            ApiError::Transport(_) => None,
        }
    }
}

impl Client {
    /// From the environment. Refuses a plain-HTTP base that is not loopback, and a missing key.
    pub fn from_env() -> Result<Client, String> {
        let base = std::env::var("RUNPOD_API_BASE_URL")
            .ok()
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let key = match std::env::var("RUNPOD_API_KEY") {
            Ok(key) if !key.trim().is_empty() => key.trim().to_string(),
            _ => match std::env::var("RUNPOD_API_KEY_FILE") {
                Ok(path) => std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read RUNPOD_API_KEY_FILE ({path}): {e}"))?
                    .trim()
                    .to_string(),
                Err(_) => {
                    return Err(
                        "set RUNPOD_API_KEY (or RUNPOD_API_KEY_FILE) to a Runpod API key".into(),
                    )
                }
            },
        };
        let backoff = std::env::var("FLASHC_RETRY_BASE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_millis(500), Duration::from_millis);
        Client::new(&base, key, backoff)
    }

    pub fn new(base: &str, key: String, backoff: Duration) -> Result<Client, String> {
        let base = base.trim_end_matches('/').to_string();
        let parsed = base.parse::<http::Uri>().ok().filter(|uri| {
            matches!(uri.scheme_str(), Some("https" | "http"))
                && uri.host().is_some_and(|host| !host.is_empty())
        });
        if parsed.is_none() {
            return Err(format!(
                "RUNPOD_API_BASE_URL `{base}` is not an http(s) URL with a host (such as `https://api.runpod.io`)"
            ));
        }
        let loopback = is_loopback(&base);
        let allowed = base.starts_with("https://") || (base.starts_with("http://") && loopback);
        if !allowed {
            return Err(format!(
                "RUNPOD_API_BASE_URL `{base}`: the API key is sent only over HTTPS (plain HTTP only to 127.0.0.1, ::1 or localhost)"
            ));
        }
        if key.is_empty() {
            return Err("RUNPOD_API_KEY is empty".into());
        }
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .max_redirects(0);
        if loopback {
            // A proxy from the environment must not see loopback traffic (or the key).
            config = config.proxy(None);
        }
        Ok(Client {
            base,
            key,
            agent: config.build().into(),
            writes: AtomicU32::new(0),
            backoff,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The API is on this machine (`flashc emulate`), not Runpod.
    pub fn is_local(&self) -> bool {
        is_loopback(&self.base)
    }

    pub fn get(&self, path: &str) -> Result<Value, ApiError> {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.call("POST", path, Some(body))
    }

    pub fn patch(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.call("PATCH", path, Some(body))
    }

    pub fn delete(&self, path: &str) -> Result<Value, ApiError> {
        self.call("DELETE", path, None)
    }

    /// A call to one of an endpoint's own URLs (its `requestUrls`), which carry the same key:
    /// it goes only over HTTPS or to loopback, as to the API. Any status is an answer; a
    /// transport failure is an error (scrubbed of the key). No retries: what verify calls
    /// must answer.
    pub fn endpoint_call(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let loopback = is_loopback(url);
        if !(url.starts_with("https://") || (url.starts_with("http://") && loopback)) {
            return Err(format!(
                "{method} {url}: the API key is sent only over HTTPS (plain HTTP only to loopback)"
            ));
        }
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(330)))
            .max_redirects(0);
        if loopback {
            config = config.proxy(None);
        }
        let agent: ureq::Agent = config.build().into();
        let mut builder = http::Request::builder()
            .method(method)
            .uri(url)
            .header("Authorization", format!("Bearer {}", self.key))
            .header("Accept", "application/json");
        if body.is_some() {
            builder = builder.header("Content-Type", "application/json");
        }
        let bytes = body.map(Value::to_string).unwrap_or_default().into_bytes();
        let request = builder
            .body(bytes)
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let mut response = agent
            .run(request)
            .map_err(|e| format!("{method} {url}: {}", scrub(&e.to_string(), &self.key)))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap_or_default();
        let text = scrub(&text, &self.key);
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    /// One call, retried on 429, 5xx and transport failures. A POST is retried only after a
    /// 429 (nothing was created); after a 5xx the caller decides (it may have been created).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, ApiError> {
        self.send(method, path, body, method != "GET", method != "POST")
    }

    /// A GraphQL request (`POST /graphql`, `{query, variables}`): its `data`, or its `errors`
    /// as a problem. `write`: a mutation (counted as a write call); `idempotent`: the request
    /// may be sent again after a 5xx or a dropped connection (a query, a `saveEndpoint` with
    /// an id, a delete), where a create may not.
    pub fn graphql(
        &self,
        request: &Value,
        write: bool,
        idempotent: bool,
    ) -> Result<Value, ApiError> {
        let answer = self.send("POST", "/graphql", Some(request), write, idempotent)?;
        let messages: Vec<String> = answer
            .get("errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|e| scrub(e["message"].as_str().unwrap_or("(no message)"), &self.key))
            .collect();
        if !messages.is_empty() {
            return Err(ApiError::Problem {
                status: 200,
                title: "GraphQL error".into(),
                detail: messages.join("; "),
                errors: messages,
            });
        }
        Ok(answer.get("data").cloned().unwrap_or(Value::Null))
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        write: bool,
        idempotent: bool,
    ) -> Result<Value, ApiError> {
        let mut wait = self.backoff;
        let mut attempt = 1;
        loop {
            if write {
                self.writes.fetch_add(1, Ordering::Relaxed);
            }
            let result = self.once(method, path, body);
            let retry_after = match &result {
                Ok((_, value)) => return Ok(value.clone()),
                Err((ApiError::Problem { status: 429, .. }, hint)) => Some(hint.unwrap_or(wait)),
                Err((ApiError::Problem { status, .. }, _)) if *status >= 500 && idempotent => {
                    Some(wait)
                }
                Err((ApiError::Transport(_), _)) if idempotent => Some(wait),
                Err(_) => None,
            };
            match retry_after {
                Some(pause) if attempt < ATTEMPTS => {
                    std::thread::sleep(pause.min(LONGEST_WAIT));
                    wait = (wait * 2).min(LONGEST_WAIT);
                    attempt += 1;
                }
                _ => return result.map(|(_, v)| v).map_err(|(e, _)| e),
            }
        }
    }

    /// One attempt: the answer, or the error and how long the server asked to wait.
    #[allow(clippy::type_complexity)]
    fn once(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), (ApiError, Option<Duration>)> {
        let url = format!("{}{path}", self.base);
        let bytes = body.map(Value::to_string).unwrap_or_default().into_bytes();
        let mut builder = http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Authorization", format!("Bearer {}", self.key))
            .header("Accept", "application/json");
        if body.is_some() {
            builder = builder.header("Content-Type", "application/json");
        }
        let request = builder
            .body(bytes)
            .map_err(|e| (ApiError::Transport(format!("{method} {path}: {e}")), None))?;
        let mut response = self.agent.run(request).map_err(|e| {
            (
                ApiError::Transport(format!(
                    "{method} {url}: {}",
                    scrub(&e.to_string(), &self.key)
                )),
                None,
            )
        })?;
        let status = response.status().as_u16();
        let wait = retry_hint(response.headers());
        let text = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap_or_default();
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if (200..300).contains(&status) {
            return Ok((status, value));
        }
        let field = |k: &str| {
            value
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        Err((
            ApiError::Problem {
                status,
                title: field("title"),
                detail: scrub(&field("detail"), &self.key),
                errors: value
                    .get("errors")
                    .and_then(Value::as_array)
                    .map(|a| {
                        // Problem JSON lists strings; a GraphQL error answer, objects.
                        a.iter()
                            .filter_map(|e| e.as_str().or_else(|| e["message"].as_str()))
                            .map(|s| scrub(s, &self.key))
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            wait,
        ))
    }
}

/// Never echo the key, whatever a server or a library puts in a message.
fn scrub(text: &str, key: &str) -> String {
    if key.len() >= 4 {
        text.replace(key, "[redacted]")
    } else {
        text.to_string()
    }
}

/// `Retry-After` (seconds) and the exhausted `RateLimit` window's `t=`: the longer.
fn retry_hint(headers: &http::HeaderMap) -> Option<Duration> {
    let retry_after = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let window = headers
        .get("ratelimit")
        .and_then(|v| v.to_str().ok())
        .and_then(rate_limit_reset);
    retry_after.max(window).map(Duration::from_secs)
}

/// `"minute";r=0;t=12, "hour";r=2800;t=1812` → 12: the reset of the longest exhausted window.
pub fn rate_limit_reset(value: &str) -> Option<u64> {
    value
        .split(',')
        .filter_map(|member| {
            let mut r = None;
            let mut t = None;
            for param in member.split(';').skip(1) {
                match param.trim().split_once('=') {
                    Some(("r", v)) => r = v.trim().parse::<u64>().ok(),
                    Some(("t", v)) => t = v.trim().parse::<u64>().ok(),
                    _ => {}
                }
            }
            (r == Some(0)).then_some(t).flatten()
        })
        .max()
}

pub fn is_loopback(base: &str) -> bool {
    // A parsed URL's host, not the text before a colon: `http://localhost:80@example.com` goes
    // to example.com.
    let Ok(uri) = base.parse::<http::Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        let key = || "k".repeat(10);
        let ms = Duration::from_millis(1);
        assert!(Client::new("http://127.0.0.1:8787", key(), ms).is_ok());
        assert!(Client::new("http://[::1]:8787", key(), ms).is_ok());
        assert!(Client::new("http://localhost:1", key(), ms).is_ok());
        assert!(Client::new("https://api.runpod.io", key(), ms).is_ok());
        let err = Client::new("http://api.runpod.io", key(), ms)
            .err()
            .unwrap();
        assert!(err.contains("HTTPS"), "{err}");
        assert!(!err.contains(&key()));
        assert!(Client::new("http://127.0.0.1.example.com", key(), ms).is_err());
        // The host is what follows the user information.
        assert!(Client::new("http://localhost:80@example.com", key(), ms).is_err());
        assert!(Client::new("http://127.0.0.1@example.com", key(), ms).is_err());
        for not_a_url in [
            "not a url",
            "https://",
            "api.runpod.io",
            "ftp://api.runpod.io",
        ] {
            let err = Client::new(not_a_url, key(), ms).err().unwrap();
            assert!(err.contains("not an http(s) URL with a host"), "{err}");
        }
    }

    #[test]
    fn rate_limit_windows() {
        assert_eq!(
            rate_limit_reset("\"minute\";r=0;t=12, \"hour\";r=2800;t=1812"),
            Some(12)
        );
        assert_eq!(rate_limit_reset("\"minute\";r=3;t=12"), None);
    }

    #[test]
    fn the_key_is_scrubbed() {
        assert_eq!(
            scrub("bad key sk_123456", "sk_123456"),
            "bad key [redacted]"
        );
    }
}
