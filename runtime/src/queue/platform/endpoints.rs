//! The platform's job URLs, with the worker id filled in, and the HTTP client that calls them.

use std::time::Duration;

use reqwest::{
    header::{HeaderMap, HeaderValue, AUTHORIZATION},
    Url,
};

use crate::config::Platform;

/// Appends `key=value` to a URL that may or may not already have a query string (the
/// platform's templates do: `...?gpu=...`).
pub fn with_param(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={value}")
}

/// A URL the loop calls for every job, parsed once: per call only its query, and the job id in
/// place of `$ID`, change. Parsing the whole URL on every call (scheme, host, IDNA, path) cost
/// ~30,000 instructions per job, a fifth of the platform loop's CPU (callgrind).
#[derive(Debug, Clone)]
pub struct Target {
    url: Url,
    /// The template's own query (`gpu=...`), kept first.
    query: Option<String>,
}

impl Target {
    fn parse(text: &str, var: &str) -> Result<Target, String> {
        let url =
            Url::parse(text).map_err(|e| format!("{var} is not a valid URL ({e}): {text}"))?;
        if url.host_str().is_some_and(|h| h.contains("$ID")) {
            return Err(format!("{var} has $ID in its host: {text}"));
        }
        let query = url.query().map(str::to_string);
        Ok(Target { url, query })
    }

    /// The URL with `$ID` (in its path or query) → `id` when given, and `params` after its own
    /// query.
    pub fn with(&self, id: Option<&str>, params: &[(&str, &str)]) -> Url {
        let mut url = self.url.clone();
        let mut query = self.query.clone().unwrap_or_default();
        if let Some(id) = id {
            if url.path().contains("$ID") {
                let path = url.path().replace("$ID", id);
                url.set_path(&path);
            }
            query = query.replace("$ID", id);
        }
        for (key, value) in params {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(key);
            query.push('=');
            query.push_str(value);
        }
        url.set_query((!query.is_empty()).then_some(query.as_str()));
        url
    }
}

/// Every URL the loop calls. Job URLs keep their `$ID` until a job id fills it.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub worker_id: String,
    /// `RUNPOD_WEBHOOK_GET_JOB` with `$ID` → worker id.
    pub take: Target,
    /// The same with `/job-take/` → `/job-take-batch/`, used when more than one slot is free.
    pub take_batch: Target,
    /// The same with `/job-take/` → `/job-stop/`: the long-poll that names jobs to cancel.
    pub stop: String,
    /// `RUNPOD_WEBHOOK_POST_OUTPUT` with `$RUNPOD_POD_ID` → worker id; `$ID` → job id later.
    pub output: Target,
    pub stream: Option<Target>,
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
            take_batch: Target::parse(
                &take.replace("/job-take/", "/job-take-batch/"),
                "RUNPOD_WEBHOOK_GET_JOB",
            )?,
            stop: take.replace("/job-take/", "/job-stop/"),
            take: Target::parse(&take, "RUNPOD_WEBHOOK_GET_JOB")?,
            output: Target::parse(&pod(output), "RUNPOD_WEBHOOK_POST_OUTPUT")?,
            stream: p
                .post_stream
                .as_deref()
                .map(|s| Target::parse(&pod(s), "RUNPOD_WEBHOOK_POST_STREAM"))
                .transpose()?,
            // The SDK fills only `$RUNPOD_POD_ID` here; `$ID` too in case a template uses it.
            ping: p.ping.as_deref().map(|u| pod(u).replace("$ID", &worker_id)),
            worker_id,
        })
    }

    /// A job's result or stream URL: `$ID` → the job id, `isStream` appended.
    pub fn job_url(template: &Target, job_id: &str, is_stream: bool) -> Url {
        let flag = if is_stream { "true" } else { "false" };
        template.with(Some(job_id), &[("isStream", flag)])
    }

    /// The take URL for `free` slots (the batch URL when more than one), saying whether jobs
    /// are in progress.
    pub fn take_url(&self, free: usize, in_progress: bool) -> Url {
        let busy = if in_progress { "1" } else { "0" };
        if free > 1 {
            let batch = free.to_string();
            self.take_batch
                .with(None, &[("batch_size", &batch), ("job_in_progress", busy)])
        } else {
            self.take.with(None, &[("job_in_progress", busy)])
        }
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
        // As the SDK's aiohttp session (trust_env off): platform calls never go through a
        // proxy from the environment; looking one up cost every call ~1,800 instructions.
        .no_proxy()
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
        assert_eq!(e.stop, "http://h/v2/ep/job-stop/w1?gpu=A");
        assert_eq!(
            Endpoints::job_url(&e.output, "j1", false).as_str(),
            "http://h/v2/ep/job-done/w1/j1?gpu=A&isStream=false"
        );
        assert_eq!(
            e.take_url(1, false).as_str(),
            "http://h/v2/ep/job-take/w1?gpu=A&job_in_progress=0"
        );
        assert_eq!(
            e.take_url(3, true).as_str(),
            "http://h/v2/ep/job-take-batch/w1?gpu=A&batch_size=3&job_in_progress=1"
        );
        let bare = Target::parse("http://h:8/done/$ID", "V").unwrap();
        assert_eq!(
            Endpoints::job_url(&bare, "a b", true).as_str(),
            "http://h:8/done/a%20b?isStream=true"
        );
        assert!(Target::parse("not a url", "V").is_err());
        assert_eq!(e.ping.as_deref(), Some("http://h/v2/ep/ping/w1?gpu=A"));
        assert_eq!(with_param("http://h/x", "a", "1"), "http://h/x?a=1");
    }
}
