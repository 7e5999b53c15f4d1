//! The platform's job URLs, with the worker id filled in, and the HTTP client that calls them.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

use crate::config::Platform;

/// Appends `key=value` to a URL that may or may not already have a query string (the
/// platform's templates do: `...?gpu=...`).
pub fn with_param(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={value}")
}

/// Every URL the loop calls. Job URLs keep their `$ID` until a job id fills it.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub worker_id: String,
    /// `RUNPOD_WEBHOOK_GET_JOB` with `$ID` → worker id.
    pub take: String,
    /// The same with `/job-take/` → `/job-take-batch/`, used when more than one slot is free.
    pub take_batch: String,
    /// The same with `/job-take/` → `/job-stop/`: the long-poll that names jobs to cancel.
    pub stop: String,
    /// `RUNPOD_WEBHOOK_POST_OUTPUT` with `$RUNPOD_POD_ID` → worker id; `$ID` → job id later.
    pub output: String,
    pub stream: Option<String>,
    pub ping: Option<String>,
}

impl Endpoints {
    pub fn new(p: &Platform) -> Result<Endpoints, String> {
        let worker_id = p.pod_id.clone();
        let output = p.post_output.as_deref().ok_or(
            "RUNPOD_WEBHOOK_POST_OUTPUT is not set: the worker could not report any result",
        )?;
        let pod = |u: &str| u.replace("$RUNPOD_POD_ID", &worker_id);
        let take = p.get_job.replace("$ID", &worker_id);
        Ok(Endpoints {
            take_batch: take.replace("/job-take/", "/job-take-batch/"),
            stop: take.replace("/job-take/", "/job-stop/"),
            take,
            output: pod(output),
            stream: p.post_stream.as_deref().map(pod),
            // The SDK fills only `$RUNPOD_POD_ID` here; `$ID` too in case a template uses it.
            ping: p.ping.as_deref().map(|u| pod(u).replace("$ID", &worker_id)),
            worker_id,
        })
    }

    pub fn job_url(template: &str, job_id: &str, is_stream: bool) -> String {
        with_param(
            &template.replace("$ID", job_id),
            "isStream",
            if is_stream { "true" } else { "false" },
        )
    }
}

/// The `User-Agent` of every platform call: this runtime, its version, and the SDK protocol it
/// speaks.
pub const USER_AGENT: &str = concat!(
    "flash-runtime/",
    env!("CARGO_PKG_VERSION"),
    " (runpod-protocol 1.12.0)"
);

/// One pooled client for every platform call, with the raw `Authorization` header (no
/// `Bearer`) the platform expects. Keep-alive is reqwest's default.
pub fn client(api_key: &str) -> Result<reqwest::Client, String> {
    let mut headers = HeaderMap::new();
    let mut auth = HeaderValue::from_str(api_key)
        .map_err(|_| "RUNPOD_AI_API_KEY contains characters not allowed in a header".to_string())?;
    auth.set_sensitive(true);
    headers.insert(AUTHORIZATION, auth);
    reqwest::Client::builder()
        .default_headers(headers)
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let p = Platform {
            get_job: "http://h/v2/ep/job-take/$ID?gpu=A".into(),
            post_output: Some("http://h/v2/ep/job-done/$RUNPOD_POD_ID/$ID?gpu=A".into()),
            post_stream: Some("http://h/v2/ep/job-stream/$RUNPOD_POD_ID/$ID?gpu=A".into()),
            ping: Some("http://h/v2/ep/ping/$RUNPOD_POD_ID?gpu=A".into()),
            ping_interval: Duration::from_secs(10),
            pod_id: "w1".into(),
            api_key: "k".into(),
        };
        let e = Endpoints::new(&p).unwrap();
        assert_eq!(e.take, "http://h/v2/ep/job-take/w1?gpu=A");
        assert_eq!(e.take_batch, "http://h/v2/ep/job-take-batch/w1?gpu=A");
        assert_eq!(e.stop, "http://h/v2/ep/job-stop/w1?gpu=A");
        assert_eq!(
            Endpoints::job_url(&e.output, "j1", false),
            "http://h/v2/ep/job-done/w1/j1?gpu=A&isStream=false"
        );
        assert_eq!(e.ping.as_deref(), Some("http://h/v2/ep/ping/w1?gpu=A"));
        assert_eq!(with_param("http://h/x", "a", "1"), "http://h/x?a=1");
    }
}
