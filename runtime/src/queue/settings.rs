//! Timing knobs of the queue modes. The defaults are the platform's (and the Python SDK's);
//! each can be overridden from the environment so tests and benchmarks need not wait seconds.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `FLASH_QUEUE_BACKOFF_MS` | `5000` | wait after a `429` from the take endpoint |
//! | `FLASH_QUEUE_ERROR_BACKOFF_MS` | `1000` | wait after a take/stop call failed (transport error, 5xx) |
//! | `FLASH_QUEUE_RETRY_DELAYS_MS` | `2000,3000` | delays between the attempts of a result post (3 attempts) |
//! | `FLASH_QUEUE_EMPTY_TAKE_MS` | `100` | least time between two takes that found no job |
//! | `FLASH_QUEUE_STOP_POLL_MS` | `1000` | least time between two stop polls that found nothing |
//! | `FLASH_QUEUE_DRAIN_TAKE_MS` | `2000` | on SIGTERM, how long a take already sent may still deliver jobs |
//! | `FLASH_QUEUE_RUN_TTL_MS` | `1800000` | how long a local `/run` result is kept |
//! | `FLASH_QUEUE_RUNSYNC_TTL_MS` | `60000` | how long a local `/runsync` result is kept |
//! | `FLASH_QUEUE_RUNSYNC_WAIT_MS` | `90000` | how long a local `/runsync` waits when `?wait=` is absent |
//! | `FLASH_QUEUE_WEBHOOK_RETRY_MS` | `10000` | delay between webhook attempts (3 attempts) |
//! | `FLASH_QUEUE_RETAIN_BYTES` | `268435456` | most bytes of final results the local queue keeps; past it the oldest go early |

use std::time::Duration;

use crate::config::ConfigError;

/// Timing of the platform loop.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformTiming {
    pub backoff_429: Duration,
    pub error_backoff: Duration,
    /// One delay per retry: `[2 s, 3 s]` means 3 attempts in all.
    pub result_retry_delays: Vec<Duration>,
    /// The platform long-polls take requests; if a stand-in answers "no job" at once this keeps
    /// the loop from spinning, without delaying a take that follows a freed slot.
    pub empty_take_interval: Duration,
    pub stop_poll_interval: Duration,
    pub drain_take_grace: Duration,
    /// On shutdown, how long running jobs may still take; past it they are stopped and reported
    /// as failed (`WorkerShutdown`), so no job is left unreported. `FLASH_SHUTDOWN_GRACE_MS`.
    pub shutdown_grace: Duration,
}

impl Default for PlatformTiming {
    fn default() -> Self {
        PlatformTiming {
            backoff_429: Duration::from_secs(5),
            error_backoff: Duration::from_secs(1),
            result_retry_delays: vec![Duration::from_secs(2), Duration::from_secs(3)],
            empty_take_interval: Duration::from_millis(100),
            stop_poll_interval: Duration::from_secs(1),
            drain_take_grace: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl PlatformTiming {
    pub fn from_env() -> Result<PlatformTiming, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = PlatformTiming::default();
        Ok(PlatformTiming {
            backoff_429: ms(&get, "FLASH_QUEUE_BACKOFF_MS")?.unwrap_or(d.backoff_429),
            error_backoff: ms(&get, "FLASH_QUEUE_ERROR_BACKOFF_MS")?.unwrap_or(d.error_backoff),
            result_retry_delays: match get("FLASH_QUEUE_RETRY_DELAYS_MS")
                .filter(|v| !v.trim().is_empty())
            {
                None => d.result_retry_delays,
                Some(v) => v
                    .split(',')
                    .map(|p| p.trim().parse::<u64>().map(Duration::from_millis))
                    .collect::<Result<_, _>>()
                    .map_err(|_| ConfigError {
                        var: "FLASH_QUEUE_RETRY_DELAYS_MS",
                        value: v.clone(),
                        expected: "comma-separated milliseconds",
                    })?,
            },
            empty_take_interval: ms(&get, "FLASH_QUEUE_EMPTY_TAKE_MS")?
                .unwrap_or(d.empty_take_interval),
            stop_poll_interval: ms(&get, "FLASH_QUEUE_STOP_POLL_MS")?
                .unwrap_or(d.stop_poll_interval),
            drain_take_grace: ms(&get, "FLASH_QUEUE_DRAIN_TAKE_MS")?.unwrap_or(d.drain_take_grace),
            shutdown_grace: ms(&get, "FLASH_SHUTDOWN_GRACE_MS")?.unwrap_or(d.shutdown_grace),
        })
    }
}

/// Timing of the local queue.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalTiming {
    pub run_ttl: Duration,
    pub runsync_ttl: Duration,
    pub runsync_wait: Duration,
    pub webhook_retry: Duration,
    /// Retained final results are bounded by bytes as well as by time: past this many, the
    /// results closest to their expiry are dropped early (their `/status` is then 404).
    pub retain_bytes: usize,
}

impl Default for LocalTiming {
    fn default() -> Self {
        LocalTiming {
            run_ttl: Duration::from_secs(30 * 60),
            runsync_ttl: Duration::from_secs(60),
            runsync_wait: Duration::from_secs(90),
            webhook_retry: Duration::from_secs(10),
            retain_bytes: 256 * 1024 * 1024,
        }
    }
}

impl LocalTiming {
    pub fn from_env() -> Result<LocalTiming, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = LocalTiming::default();
        Ok(LocalTiming {
            run_ttl: ms(&get, "FLASH_QUEUE_RUN_TTL_MS")?.unwrap_or(d.run_ttl),
            runsync_ttl: ms(&get, "FLASH_QUEUE_RUNSYNC_TTL_MS")?.unwrap_or(d.runsync_ttl),
            runsync_wait: ms(&get, "FLASH_QUEUE_RUNSYNC_WAIT_MS")?.unwrap_or(d.runsync_wait),
            webhook_retry: ms(&get, "FLASH_QUEUE_WEBHOOK_RETRY_MS")?.unwrap_or(d.webhook_retry),
            retain_bytes: match get("FLASH_QUEUE_RETAIN_BYTES").filter(|v| !v.trim().is_empty()) {
                None => d.retain_bytes,
                Some(v) => v.trim().parse().map_err(|_| ConfigError {
                    var: "FLASH_QUEUE_RETAIN_BYTES",
                    value: v.clone(),
                    expected: "a size in bytes",
                })?,
            },
        })
    }
}

fn ms(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<Option<Duration>, ConfigError> {
    match get(var).filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(|n| Some(Duration::from_millis(n)))
            .map_err(|_| ConfigError {
                var,
                value: v,
                expected: "milliseconds",
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides() {
        let t = PlatformTiming::from_lookup(|k| match k {
            "FLASH_QUEUE_BACKOFF_MS" => Some("50".into()),
            "FLASH_QUEUE_RETRY_DELAYS_MS" => Some("10, 20".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(t.backoff_429, Duration::from_millis(50));
        assert_eq!(
            t.result_retry_delays,
            vec![Duration::from_millis(10), Duration::from_millis(20)]
        );
        assert!(PlatformTiming::from_lookup(|_| Some("x".into())).is_err());
        assert_eq!(
            LocalTiming::from_lookup(|_| None).unwrap(),
            LocalTiming::default()
        );
    }
}
