//! `init: model::load` of both endpoints: the model directory, loaded once per worker.

use std::path::{Path, PathBuf};

use crate::batch::{Batcher, Settings};
use crate::encoder::Encoder;

/// Where the model is unless `MODEL_DIR` says otherwise: on the endpoint's network volume
/// (Runpod mounts it at `/runpod-volume`), so the image carries no weights.
pub const DEFAULT_MODEL_DIR: &str = "/runpod-volume/models/all-MiniLM-L6-v2";

/// For benchmarks only: `EMBED_NOOP_MODEL=1` makes the worker answer every text with a fixed
/// unit vector without running the model (it is still loaded, so `init` is unchanged), which
/// measures what the serving costs alone (bench/bench.py `--noop`). Unset, or `0`, it is the
/// model; the generated workers and flash.yaml never set it.
pub const NOOP_MODEL_VAR: &str = "EMBED_NOOP_MODEL";

/// The endpoint's state: the batcher that owns the loaded model.
pub struct Model {
    batcher: Batcher,
    dimension: usize,
    dir: PathBuf,
}

impl Model {
    pub fn batcher(&self) -> &Batcher {
        &self.batcher
    }

    /// Length of every embedding.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// The directory it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// `init`. An `Err` marks the worker unhealthy (`/ping` 503) with the message in the log: a
/// missing or corrupt model directory names the file and what is wrong with it.
pub fn load() -> Result<Model, String> {
    let dir = std::env::var_os("MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL_DIR));
    let noop = match std::env::var(NOOP_MODEL_VAR).as_deref() {
        Err(_) | Ok("0") => false,
        Ok("1") => true,
        Ok(value) => {
            return Err(format!(
                "{NOOP_MODEL_VAR}={value:?}: expected 1 (benchmarks only: no model) or 0"
            ))
        }
    };
    let settings = Settings::from_env()?;
    if noop {
        // On stderr, the worker's log: nobody should run this by mistake unnoticed.
        eprintln!("{NOOP_MODEL_VAR}=1: no model runs, every text gets a fixed vector (benchmarks)");
        load_noop_from(&dir, settings)
    } else {
        load_from(&dir, settings)
    }
}

/// `load` with the directory and batching settings given.
pub fn load_from(dir: &Path, settings: Settings) -> Result<Model, String> {
    load_encoder(dir, settings, |encoder| encoder)
}

/// `load_from`, with the encoder of `Encoder::noop` (benchmarks only).
pub fn load_noop_from(dir: &Path, settings: Settings) -> Result<Model, String> {
    load_encoder(dir, settings, Encoder::noop)
}

fn load_encoder(
    dir: &Path,
    settings: Settings,
    mode: impl FnOnce(Encoder) -> Encoder,
) -> Result<Model, String> {
    // The GPU when the crate is built with `cuda` and one is there, else the CPU.
    let device = candle_core::Device::cuda_if_available(0)
        .map_err(|e| format!("cannot open the GPU: {e}"))?;
    let encoder =
        mode(Encoder::load_on(dir, device).map_err(|e| format!("cannot load the model: {e}"))?);
    let dimension = encoder.dimension();
    let batcher = Batcher::start(encoder, settings)
        .map_err(|e| format!("cannot start the batching thread: {e}"))?;
    Ok(Model {
        batcher,
        dimension,
        dir: dir.to_path_buf(),
    })
}
