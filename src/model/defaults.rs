//! Every default of flash.yaml in one table. The JSON Schema's `default`s (what editors show)
//! and lowering (what is generated) read these same constants, so the documented default and
//! the one a worker gets cannot differ.

pub use super::vocab::DEFAULT_CUDA_VERSION as MIN_CUDA_VERSION;

/// `crate:`: the handler crate is beside flash.yaml.
pub const CRATE_DIR: &str = ".";
/// `retries:` of a queue endpoint.
pub const RETRIES: u32 = 0;
/// `max_concurrency:` of a queue endpoint: jobs one worker runs at once.
pub const MAX_CONCURRENCY: u32 = 1;
/// `return_aggregate_stream:` of a queue endpoint.
pub const RETURN_AGGREGATE_STREAM: bool = false;
/// `gpu_count:`: GPUs per worker.
pub const GPU_COUNT: u32 = 1;
/// `workers:` bounds.
pub const WORKERS_MIN: u32 = 0;
pub const WORKERS_MAX: u32 = 1;
/// `idle_timeout:`, in seconds.
pub const IDLE_TIMEOUT_SECONDS: u32 = 60;
/// `flashboot:`.
pub const FLASHBOOT: bool = true;
/// `scaler.value:` (seconds of queue delay, or requests per worker).
pub const SCALER_VALUE: u32 = 4;
/// `volume.size:`, in GB.
pub const VOLUME_SIZE_GB: u32 = 100;
/// `volume.datacenter:`.
pub const VOLUME_DATACENTER: &str = "EU-RO-1";
