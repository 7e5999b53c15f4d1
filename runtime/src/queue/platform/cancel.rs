//! Stop polling: while jobs run, long-poll the stop URL; `{"jobsToStop": [ids]}` cancels those
//! jobs here (their futures are dropped and nothing is posted for them).

use std::{sync::Arc, time::Duration};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::time::Instant;

use super::running::Running;

const STOP_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn run(
    client: reqwest::Client,
    url: String,
    min_interval: Duration,
    error_backoff: Duration,
    running: Arc<Running>,
) {
    loop {
        // Idle workers have nothing to stop; wait for a job instead of polling.
        running.wait_until(|r| !r.is_empty()).await;
        let started = Instant::now();
        let reply = client.get(&url).timeout(STOP_TIMEOUT).send().await;
        let body = match reply {
            Ok(r) if r.status() == StatusCode::OK => r.bytes().await.ok(),
            Ok(r) if r.status().is_server_error() => {
                tracing::warn!(status = %r.status(), "stop poll failed");
                tokio::time::sleep(error_backoff).await;
                None
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!("stop poll failed: {e}");
                tokio::time::sleep(error_backoff).await;
                None
            }
        };
        let ids = body.map(|b| jobs_to_stop(&b)).unwrap_or_default();
        for id in &ids {
            if running.cancel(id) {
                tracing::info!(requestId = %id, "job cancelled by the platform");
            }
        }
        if ids.is_empty() {
            // Keeps a platform that answers at once from being polled in a tight loop.
            tokio::time::sleep_until(started + min_interval).await;
        }
    }
}

pub fn jobs_to_stop(body: &[u8]) -> Vec<String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => v
            .get("jobsToStop")
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| id.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses() {
        assert_eq!(
            super::jobs_to_stop(br#"{"jobsToStop":["a","b"]}"#),
            vec!["a", "b"]
        );
        assert!(super::jobs_to_stop(b"nope").is_empty());
        assert!(super::jobs_to_stop(br#"{"jobsToStop":[1]}"#).is_empty());
    }
}
