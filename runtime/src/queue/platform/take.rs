//! Taking jobs: one `GET` of the take URL for one free slot, of the batch URL for several.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::endpoints::Endpoints;

/// What one take call brought.
#[derive(Debug)]
pub enum Taken {
    /// Job objects as the platform sent them (each checked for an `id` by the caller).
    Jobs(Vec<Value>),
    /// 204, 400 or an empty body: nothing to do right now.
    Empty,
    /// 429: the platform asks the worker to slow down.
    Backoff,
    /// A transport error or an unexpected reply; the loop waits a little and tries again.
    Failed(String),
}

/// Long-polls must outlive the platform's hold time but not hang the loop forever.
const TAKE_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn take(
    client: &reqwest::Client,
    urls: &Endpoints,
    free: usize,
    in_progress: bool,
) -> Taken {
    let url = urls.take_url(free, in_progress);
    let resp = match client.get(url).timeout(TAKE_TIMEOUT).send().await {
        Ok(r) => r,
        Err(e) => return Taken::Failed(format!("take request failed: {e}")),
    };
    match resp.status() {
        StatusCode::NO_CONTENT | StatusCode::BAD_REQUEST => return Taken::Empty,
        StatusCode::TOO_MANY_REQUESTS => return Taken::Backoff,
        s if !s.is_success() => return Taken::Failed(format!("take answered {s}")),
        _ => {}
    }
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => return Taken::Failed(format!("take reply unreadable: {e}")),
    };
    parse(&body)
}

/// Parses a 200 reply: an object is one job, an array a batch.
pub fn parse(body: &[u8]) -> Taken {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Taken::Empty;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(jobs)) if jobs.is_empty() => Taken::Empty,
        Ok(Value::Array(jobs)) => Taken::Jobs(jobs),
        Ok(job @ Value::Object(_)) => Taken::Jobs(vec![job]),
        Ok(Value::Null) => Taken::Empty,
        Ok(other) => Taken::Failed(format!("take reply is neither a job nor a list: {other}")),
        Err(e) => Taken::Failed(format!("take reply is not JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_batch_and_empty() {
        assert!(matches!(parse(br#"{"id":"a","input":{}}"#), Taken::Jobs(j) if j.len() == 1));
        assert!(matches!(parse(br#"[{"id":"a"},{"id":"b"}]"#), Taken::Jobs(j) if j.len() == 2));
        assert!(matches!(parse(b""), Taken::Empty));
        assert!(matches!(parse(b"[]"), Taken::Empty));
        assert!(matches!(parse(b"<html>"), Taken::Failed(_)));
        assert!(matches!(parse(b"3"), Taken::Failed(_)));
    }
}
