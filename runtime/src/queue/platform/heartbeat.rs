//! The heartbeat: `GET <ping>&job_id=<running ids>&runpod_version=...` every interval, so the
//! platform knows the worker is alive and which jobs it holds.

use std::{sync::Arc, time::Duration};

use super::{endpoints::with_param, running::Running};

/// `runpod_version` on the heartbeat: the SDK protocol version this runtime speaks (the
/// runtime's own name and version go in the `User-Agent`).
pub const VERSION: &str = crate::queue::job::RUNPOD_VERSION;

pub async fn run(client: reqwest::Client, url: String, interval: Duration, running: Arc<Running>) {
    let mut tick = tokio::time::interval(interval.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let ids = running.ids();
        let mut target = url.clone();
        if !ids.is_empty() {
            target = with_param(&target, "job_id", &ids.join(","));
        }
        target = with_param(&target, "runpod_version", VERSION);
        // A missed heartbeat is not fatal; the next one follows on schedule.
        match client
            .get(&target)
            .timeout(interval.max(Duration::from_secs(1)))
            .send()
            .await
        {
            Ok(r) if !r.status().is_success() => {
                tracing::warn!(status = %r.status(), "heartbeat refused")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("heartbeat failed: {e}"),
        }
    }
}
