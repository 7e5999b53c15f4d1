//! Every setting a worker reads, from environment variables only, in one place.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PORT` | `80` | port of the HTTP server (routes, WebSocket, `/ping`, local queue API) |
//! | `PORT_HEALTH` | `PORT` | port the platform polls for health; served too when it differs |
//! | `HEALTH_CHECK_PATH` | `/ping` | path of the health check on both ports; the Kubernetes probes `{path}/ready` and `{path}/live` are served beside it (see `health`) |
//! | `FLASH_HOST` | `0.0.0.0` | address to bind |
//! | `SCRIPT_NAME` | empty | path prefix every route is served under (health stays at the root too) |
//! | `FLASH_BODY_LIMIT` | `31457280` (30 MB) | largest request body in bytes; larger → 413 |
//! | `FLASH_EXECUTION_TIMEOUT_MS` | from the endpoint (none) | longest a handler may run; longer → 504 / `TIMED_OUT` |
//! | `FLASH_DEBUG` | off | `1`/`true`: 500 bodies carry the error message |
//! | `FLASH_LOG_LEVEL` | `info` | `error`, `warn`, `info`, `debug`, `trace`, or per-target `info,hyper=warn` |
//! | `FLASH_WORKER_THREADS` | number of usable cores | tokio worker threads; with `1` (or one usable core) a single-threaded runtime |
//! | `FLASH_SHUTDOWN_GRACE_MS` | `30000` | how long shutdown waits for in-flight work before exiting |
//! | `FLASH_QUEUE_DIR` | unset | local queue, feature `persist`: the directory of its store (`queue.redb`); set on a worker built without the feature, an error at start |
//! | `RUNPOD_ENDPOINT_ID` | unset | when set, logs are JSON lines `{"requestId","message","level"}` |
//! | `RUNPOD_WEBHOOK_GET_JOB` | unset | when set the worker is on the platform and takes queue jobs |
//! | `RUNPOD_WEBHOOK_POST_OUTPUT`, `RUNPOD_WEBHOOK_POST_STREAM`, `RUNPOD_WEBHOOK_PING` | unset | platform URLs |
//! | `RUNPOD_PING_INTERVAL` | `10000` | heartbeat interval in ms |
//! | `RUNPOD_POD_ID` | empty | worker id substituted for `$ID` / `$RUNPOD_POD_ID` |
//! | `RUNPOD_AI_API_KEY` | empty | sent raw as `Authorization` on every platform call |
//!
//! A malformed value is an error at start (the worker exits with a message) rather than a silent
//! default, so a typo in a deployment is seen at once.

use std::{fmt, net::IpAddr, time::Duration};

/// The platform's payload limit, used as the default body limit.
pub const DEFAULT_BODY_LIMIT: usize = 30 * 1024 * 1024;

/// The worker's configuration. Build it with [`Config::from_env`] (or [`Config::from_lookup`] in tests).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub host: IpAddr,
    pub port: u16,
    pub port_health: u16,
    /// Always starts with `/`.
    pub health_path: String,
    /// Empty, or `/a/b` (leading slash, no trailing slash).
    pub script_name: String,
    pub body_limit: usize,
    /// `None` means the endpoint's own setting (or no limit) applies.
    pub execution_timeout: Option<Duration>,
    pub debug_errors: bool,
    pub log_level: String,
    pub shutdown_grace: Duration,
    /// `None`: one per usable core.
    pub worker_threads: Option<usize>,
    pub endpoint_id: Option<String>,
    /// `RUNPOD_API_KEY`: the key the local queue API requires (`Authorization: Bearer <key>`)
    /// when set; also what calls to other endpoints send.
    pub api_key: Option<String>,
    /// Header-read, body-read timeouts and the connection cap of the HTTP servers.
    pub conn: crate::conn::ConnLimits,
    /// `FLASH_QUEUE_DIR`: where the local queue keeps its store (feature `persist`).
    pub queue_dir: Option<std::path::PathBuf>,
    /// Present only when `RUNPOD_WEBHOOK_GET_JOB` is set.
    pub platform: Option<Platform>,
}

/// The Runpod platform's job endpoints, as its variables give them.
#[derive(Debug, Clone, PartialEq)]
pub struct Platform {
    pub get_job: String,
    pub post_output: Option<String>,
    pub post_stream: Option<String>,
    pub ping: Option<String>,
    pub ping_interval: Duration,
    pub pod_id: String,
    pub api_key: String,
}

/// A variable whose value could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={:?}: expected {}",
            self.var, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

impl Default for Config {
    fn default() -> Self {
        // An empty environment cannot fail to parse.
        match Config::from_lookup(|_| None) {
            Ok(c) => c,
            Err(_) => unreachable!("defaults always parse"),
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads every setting through `get`; empty values count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let port = parse(&get, "PORT", "a port number")?.unwrap_or(80);
        let port_health = parse(&get, "PORT_HEALTH", "a port number")?.unwrap_or(port);
        let host =
            parse(&get, "FLASH_HOST", "an IP address")?.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let health_path = get("HEALTH_CHECK_PATH").map_or_else(
            || "/ping".to_string(),
            |p| format!("/{}", p.trim().trim_start_matches('/')),
        );
        let body_limit =
            parse(&get, "FLASH_BODY_LIMIT", "a size in bytes")?.unwrap_or(DEFAULT_BODY_LIMIT);
        let execution_timeout = parse::<u64>(&get, "FLASH_EXECUTION_TIMEOUT_MS", "milliseconds")?
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        let debug_errors = match get("FLASH_DEBUG") {
            None => false,
            Some(v) => parse_bool(&v).ok_or(ConfigError {
                var: "FLASH_DEBUG",
                value: v,
                expected: "1, 0, true or false",
            })?,
        };
        let shutdown_grace = Duration::from_millis(
            parse(&get, "FLASH_SHUTDOWN_GRACE_MS", "milliseconds")?.unwrap_or(30_000),
        );
        let worker_threads =
            parse::<usize>(&get, "FLASH_WORKER_THREADS", "a thread count")?.filter(|n| *n > 0);
        // Without the store, a caller who set this would silently lose the queue on restart.
        let queue_dir =
            match get("FLASH_QUEUE_DIR") {
                Some(value) if !cfg!(feature = "persist") => return Err(ConfigError {
                    var: "FLASH_QUEUE_DIR",
                    value,
                    expected:
                        "it unset: this worker is built without flash-runtime's `persist` feature",
                }),
                dir => dir.map(std::path::PathBuf::from),
            };
        let platform = match get("RUNPOD_WEBHOOK_GET_JOB") {
            None => None,
            Some(get_job) => Some(Platform {
                get_job,
                post_output: get("RUNPOD_WEBHOOK_POST_OUTPUT"),
                post_stream: get("RUNPOD_WEBHOOK_POST_STREAM"),
                ping: get("RUNPOD_WEBHOOK_PING"),
                ping_interval: Duration::from_millis(
                    parse(&get, "RUNPOD_PING_INTERVAL", "milliseconds")?.unwrap_or(10_000),
                ),
                pod_id: get("RUNPOD_POD_ID").unwrap_or_default(),
                api_key: get("RUNPOD_AI_API_KEY").unwrap_or_default(),
            }),
        };
        Ok(Config {
            host,
            port,
            port_health,
            health_path,
            script_name: normalize_prefix(get("SCRIPT_NAME").as_deref().unwrap_or("")),
            body_limit,
            execution_timeout,
            debug_errors,
            log_level: get("FLASH_LOG_LEVEL").unwrap_or_else(|| "info".to_string()),
            shutdown_grace,
            worker_threads,
            endpoint_id: get("RUNPOD_ENDPOINT_ID"),
            api_key: get("RUNPOD_API_KEY").map(|k| k.trim().to_string()),
            conn: {
                let d = crate::conn::ConnLimits::default();
                let ms = |var: &'static str, default: Duration| {
                    parse::<u64>(&get, var, "milliseconds")
                        .map(|v| v.filter(|n| *n > 0).map_or(default, Duration::from_millis))
                };
                crate::conn::ConnLimits {
                    header_read: ms("FLASH_HEADER_READ_TIMEOUT_MS", d.header_read)?,
                    body_read: ms("FLASH_BODY_READ_TIMEOUT_MS", d.body_read)?,
                    max_connections: parse::<usize>(&get, "FLASH_MAX_CONNECTIONS", "a count")?
                        .filter(|n| *n > 0)
                        .unwrap_or(d.max_connections),
                }
            },
            queue_dir,
            platform,
        })
    }
}

fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    expected: &'static str,
) -> Result<Option<T>, ConfigError> {
    match get(var) {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| ConfigError {
            var,
            value: v,
            expected,
        }),
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `a/b/`, `/a/b` and `//a//b/` all become `/a/b`; `/` and empty become empty.
pub fn normalize_prefix(raw: &str) -> String {
    let mut out = String::new();
    for seg in raw.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(seg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.port, 80);
        assert_eq!(c.port_health, 80);
        assert_eq!(c.health_path, "/ping");
        assert_eq!(c.body_limit, 30 * 1024 * 1024);
        assert_eq!(c.script_name, "");
        assert!(!c.debug_errors);
        assert!(c.platform.is_none());
        assert!(c.execution_timeout.is_none());
    }

    /// A queue directory is kept only by a worker that can keep it; elsewhere it is an error at
    /// start (exit 2), not a queue silently lost on restart.
    #[test]
    fn a_queue_dir_needs_the_persist_feature() {
        let c = cfg(&[("FLASH_QUEUE_DIR", "/tmp/q")]);
        if cfg!(feature = "persist") {
            assert_eq!(c.unwrap().queue_dir, Some("/tmp/q".into()));
        } else {
            let e = c.unwrap_err().to_string();
            assert!(
                e.contains("FLASH_QUEUE_DIR") && e.contains("persist"),
                "{e}"
            );
        }
    }

    #[test]
    fn values_and_errors() {
        let c = cfg(&[
            ("PORT", "8080"),
            ("SCRIPT_NAME", "org/proj//dep/"),
            ("FLASH_DEBUG", "true"),
            ("FLASH_EXECUTION_TIMEOUT_MS", "1500"),
            ("HEALTH_CHECK_PATH", "health"),
        ])
        .unwrap();
        assert_eq!((c.port, c.port_health), (8080, 8080));
        assert_eq!(c.script_name, "/org/proj/dep");
        assert_eq!(c.health_path, "/health");
        assert!(c.debug_errors);
        assert_eq!(c.execution_timeout, Some(Duration::from_millis(1500)));
        let e = cfg(&[("PORT", "eighty")]).unwrap_err();
        assert_eq!(e.var, "PORT");
        assert!(cfg(&[("FLASH_DEBUG", "maybe")]).is_err());
    }
}
