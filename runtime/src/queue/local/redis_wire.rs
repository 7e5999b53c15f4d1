//! What the Redis store says on the wire, apart from its scripts: its configuration, the keys
//! of a queue, and the reading of Redis's replies (stream entries, final views).

use std::time::Duration;

use redis::Value;

use super::store::{render_view, Status, View, Webhook};

/// How to reach the queue and how long a lease lasts.
#[derive(Clone)]
pub struct RedisOptions {
    /// `redis://[user:password@]host:port/db` or `rediss://…` (TLS). Never logged.
    pub url: String,
    /// `FLASH_QUEUE_NAME` (default `default`): the queue's keys are `flash:{name}:…`. Replicas of
    /// one endpoint share it; endpoints sharing one Redis need different names.
    pub name: String,
    /// `FLASH_QUEUE_LEASE_MS` (default 30 s): a running attempt whose replica stopped renewing
    /// its lease for this long is taken back.
    pub lease: Duration,
    /// `FLASH_QUEUE_CA_FILE`: a PEM file of the certificate authority that signed a `rediss://`
    /// server's certificate (a private CA), trusted instead of the public roots.
    pub ca_file: Option<std::path::PathBuf>,
}

impl RedisOptions {
    /// From `FLASH_QUEUE_NAME` and `FLASH_QUEUE_LEASE_MS`, for the queue at `url`.
    pub fn from_env(url: String) -> Result<RedisOptions, String> {
        Self::from_lookup(url, |k| std::env::var(k).ok())
    }

    pub fn from_lookup(
        url: String,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<RedisOptions, String> {
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(
                "FLASH_QUEUE_URL must start with redis:// or rediss:// (the URL is not shown: it may hold a password)"
                    .to_string(),
            );
        }
        let name = get("FLASH_QUEUE_NAME")
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_string());
        if name.len() > 100
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(format!(
                "FLASH_QUEUE_NAME={name:?}: expected up to 100 letters, digits, '-', '_' or '.'"
            ));
        }
        let lease = match get("FLASH_QUEUE_LEASE_MS").filter(|v| !v.trim().is_empty()) {
            None => Duration::from_secs(30),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(ms) if ms >= 300 => Duration::from_millis(ms),
                _ => {
                    return Err(format!(
                        "FLASH_QUEUE_LEASE_MS={v:?}: expected milliseconds, at least 300"
                    ))
                }
            },
        };
        let ca_file = get("FLASH_QUEUE_CA_FILE")
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .map(std::path::PathBuf::from);
        if ca_file.is_some() && !url.starts_with("rediss://") {
            return Err(
                "FLASH_QUEUE_CA_FILE is set, but FLASH_QUEUE_URL is not a rediss:// (TLS) URL"
                    .to_string(),
            );
        }
        Ok(RedisOptions {
            url,
            name,
            lease,
            ca_file,
        })
    }
}

/// The keys of one queue. All share the hash tag `{name}`, so they live on one node.
pub(super) struct Keys {
    pub(super) stream: String,
    pub(super) queued: String,
    pub(super) running: String,
    pub(super) stats: String,
    /// Webhooks owed (a sorted set: id → when its deliverer last renewed its claim).
    pub(super) hooks: String,
    pub(super) job_prefix: String,
    pub(super) chunk_prefix: String,
}

impl Keys {
    pub(super) fn new(name: &str) -> Keys {
        let p = crate::route_contract::queue_key_prefix(name);
        Keys {
            stream: crate::route_contract::queue_stream(name),
            queued: format!("{p}queued"),
            running: format!("{p}running"),
            stats: format!("{p}stats"),
            hooks: format!("{p}hooks"),
            job_prefix: format!("{p}job:"),
            chunk_prefix: format!("{p}chunks:"),
        }
    }

    pub(super) fn job(&self, id: &str) -> String {
        format!("{}{id}", self.job_prefix)
    }

    pub(super) fn chunks(&self, id: &str) -> String {
        format!("{}{id}", self.chunk_prefix)
    }
}

/// Whether a Redis error means the server cannot be reached (rather than a refused command).
pub(super) fn is_outage(e: &redis::RedisError) -> bool {
    match e.code() {
        // No reply from the server at all: it is away (refused, dropped, timed out).
        None => true,
        Some(code) => matches!(code, "LOADING" | "MASTERDOWN" | "READONLY" | "TRYAGAIN"),
    }
}

pub(super) fn is_final_body(body: &str) -> bool {
    ["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]
        .iter()
        .any(|s| body.ends_with(&format!("\"status\":\"{s}\"}}")))
}

pub(super) fn parse_status(s: &str) -> Option<Status> {
    Some(match s {
        "IN_QUEUE" => Status::InQueue,
        "IN_PROGRESS" => Status::InProgress,
        "COMPLETED" => Status::Completed,
        "FAILED" => Status::Failed,
        "CANCELLED" => Status::Cancelled,
        "TIMED_OUT" => Status::TimedOut,
        _ => return None,
    })
}

/// How many values a script's final view has (`redis_scripts.rs`).
pub(super) const FINAL_VIEW_LEN: usize = 8;

/// The webhook of a job a script made final: `{'final', delay, err, exec, out, st, hook, fin}`.
pub(super) fn final_webhook(id: &str, v: &[Option<String>]) -> Option<Webhook> {
    let field = |i: usize| v.get(i).cloned().flatten().filter(|s| !s.is_empty());
    let url = field(6)?;
    let status = field(5)?;
    if !matches!(status.as_str(), "COMPLETED" | "FAILED" | "TIMED_OUT") {
        return None;
    }
    let (delay, error, exec, output) = (field(1), field(2), field(3), field(4));
    let body = render_view(
        id,
        &View {
            delay_ms: delay.and_then(|d| d.parse().ok()),
            error: error.as_deref(),
            exec_ms: exec.and_then(|d| d.parse().ok()),
            output: output.as_deref(),
            status: &status,
        },
    );
    // The attempt that made the job final: a job made final again after `/retry` is another
    // delivery, a delivery of the same final status again is not.
    let fin = field(7).unwrap_or_else(|| "0".to_string());
    Some(Webhook {
        url,
        body,
        key: format!("{id}.{fin}"),
    })
}

/// `XREADGROUP`'s reply → the first entry's `(entry id, job id, gen)`.
pub(super) fn first_entry(v: Value) -> Option<(String, String, u64)> {
    // [[stream, [[entry, [field, value, ...]], ...]]] (RESP2) or a map (RESP3).
    let streams = match v {
        Value::Array(a) => a,
        Value::Map(m) => m
            .into_iter()
            .map(|(k, v)| Value::Array(vec![k, v]))
            .collect(),
        _ => return None,
    };
    let Value::Array(mut stream) = streams.into_iter().next()? else {
        return None;
    };
    let Value::Array(entries) = stream.pop()? else {
        return None;
    };
    entries.into_iter().find_map(entry_fields)
}

/// `[entry id, [field, value, ...]]` → `(entry id, job id, gen)`.
pub(super) fn entry_fields(v: Value) -> Option<(String, String, u64)> {
    let Value::Array(mut parts) = v else {
        return None;
    };
    if parts.len() < 2 {
        return None;
    }
    let fields = parts.pop()?;
    let entry = text(parts.pop()?)?;
    let Value::Array(fields) = fields else {
        return None;
    };
    let mut id = None;
    let mut gen = None;
    let mut it = fields.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        match text(k)?.as_str() {
            "id" => id = text(v),
            "gen" => gen = text(v).and_then(|g| g.parse().ok()),
            _ => {}
        }
    }
    Some((entry, id?, gen?))
}

/// `XAUTOCLAIM`'s reply → the claimed entries (deleted ones are left out by Redis 7).
pub(super) fn autoclaimed(v: Value) -> Vec<(String, String, u64)> {
    let Value::Array(mut parts) = v else {
        return Vec::new();
    };
    if parts.len() < 2 {
        return Vec::new();
    }
    let Value::Array(entries) = parts.swap_remove(1) else {
        return Vec::new();
    };
    entries.into_iter().filter_map(entry_fields).collect()
}

pub(super) fn text(v: Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b).ok(),
        Value::SimpleString(s) => Some(s),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

pub(super) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let none = |_: &str| None;
        assert!(RedisOptions::from_lookup("http://x".into(), none).is_err());
        let o = RedisOptions::from_lookup("redis://:pw@127.0.0.1:6379/0".into(), none).unwrap();
        assert_eq!(o.name, "default");
        assert_eq!(o.lease, Duration::from_secs(30));
        let bad = |k: &'static str, v: &'static str| {
            RedisOptions::from_lookup("rediss://h".into(), move |q| (q == k).then(|| v.into()))
                .err()
                .unwrap()
        };
        assert!(bad("FLASH_QUEUE_NAME", "a b").contains("FLASH_QUEUE_NAME"));
        assert!(bad("FLASH_QUEUE_NAME", "a}b").contains("FLASH_QUEUE_NAME"));
        assert!(bad("FLASH_QUEUE_LEASE_MS", "10").contains("at least 300"));
        // The password never shows in an error.
        let e = RedisOptions::from_lookup("http://:secret@h".into(), none)
            .err()
            .unwrap();
        assert!(!e.contains("secret"));
        assert_eq!(Keys::new("q").job("j"), "flash:{q}:job:j");
    }

    #[test]
    fn final_bodies() {
        assert!(is_final_body(
            r#"{"id":"a","output":1,"status":"COMPLETED"}"#
        ));
        assert!(!is_final_body(r#"{"id":"a","status":"IN_PROGRESS"}"#));
    }
}
