//! `init: model::load` of both endpoints: the model directory, loaded once per worker.

use std::path::{Path, PathBuf};

use crate::batch::{Batcher, Settings};
use crate::encoder::Encoder;

/// Where the model is unless `MODEL_DIR` says otherwise: on the endpoint's network volume
/// (Runpod mounts it at `/runpod-volume`), so the image carries no weights.
pub const DEFAULT_MODEL_DIR: &str = "/runpod-volume/models/all-MiniLM-L6-v2";

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
    load_from(&dir, Settings::from_env()?)
}

/// `load` with the directory and batching settings given.
pub fn load_from(dir: &Path, settings: Settings) -> Result<Model, String> {
    // The GPU when the crate is built with `cuda` and one is there, else the CPU.
    let device = candle_core::Device::cuda_if_available(0)
        .map_err(|e| format!("cannot open the GPU: {e}"))?;
    let encoder =
        Encoder::load_on(dir, device).map_err(|e| format!("cannot load the model: {e}"))?;
    let dimension = encoder.dimension();
    let batcher = Batcher::start(encoder, settings)
        .map_err(|e| format!("cannot start the batching thread: {e}"))?;
    Ok(Model {
        batcher,
        dimension,
        dir: dir.to_path_buf(),
    })
}
