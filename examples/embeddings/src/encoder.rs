//! all-MiniLM-L6-v2 on candle: BERT, mean pooling over the real tokens, L2 normalisation —
//! what sentence-transformers' `SentenceTransformer("all-MiniLM-L6-v2").encode(texts,
//! normalize_embeddings=True)` computes.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// sentence-transformers' `max_seq_length` for this model (sentence_bert_config.json): longer
/// texts are cut to this many tokens, as there.
pub const MAX_TOKENS: usize = 256;

/// The files a model directory must hold (what `fetch-model.sh` unpacks).
pub const FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// Why a model directory could not be loaded: which file, and what is wrong with it.
#[derive(Debug)]
pub struct LoadError {
    pub file: PathBuf,
    pub reason: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.reason)
    }
}

impl std::error::Error for LoadError {}

/// The model and its tokenizer, loaded once. `embed` takes `&self`: one encoder serves every
/// batch.
pub struct Encoder {
    bert: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dimension: usize,
    /// Benchmarks only (`Encoder::noop`): answer a fixed vector, run nothing.
    noop: bool,
}

impl Encoder {
    /// Loads `dir/{config.json,tokenizer.json,model.safetensors}` on the CPU; the weights are
    /// read through a memory map (never the whole file into a buffer) and copied once, into
    /// the layout the forward pass reads (`load_weights`).
    pub fn load(dir: &Path) -> Result<Encoder, LoadError> {
        Self::load_on(dir, Device::Cpu)
    }

    pub fn load_on(dir: &Path, device: Device) -> Result<Encoder, LoadError> {
        if !dir.is_dir() {
            return Err(LoadError {
                file: dir.to_path_buf(),
                reason: format!(
                    "no model directory here (it must hold {}; examples/embeddings/fetch-model.sh DIR prepares one)",
                    FILES.join(", ")
                ),
            });
        }
        let path = |name: &str| dir.join(name);
        let fail = |name: &str, reason: String| LoadError {
            file: path(name),
            reason,
        };

        let config = std::fs::read_to_string(path("config.json"))
            .map_err(|e| fail("config.json", e.to_string()))?;
        let config: Config = serde_json::from_str(&config)
            .map_err(|e| fail("config.json", format!("not a BERT config: {e}")))?;

        let mut tokenizer = Tokenizer::from_file(path("tokenizer.json"))
            .map_err(|e| fail("tokenizer.json", e.to_string()))?;
        // tokenizer.json pads every text to 128 tokens and cuts at 128; sentence-transformers
        // pads a batch to its longest text and cuts at 256: do as it does.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| fail("tokenizer.json", e.to_string()))?;

        let weights = path("model.safetensors");
        if !weights.is_file() {
            return Err(fail("model.safetensors", "no such file".into()));
        }
        let tensors = load_weights(&weights, &device)
            .map_err(|e| fail("model.safetensors", e.to_string()))?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let bert = BertModel::load(vb, &config)
            .map_err(|e| fail("model.safetensors", format!("not this BERT's weights: {e}")))?;
        Ok(Encoder {
            bert,
            tokenizer,
            device,
            dimension: config.hidden_size,
            noop: false,
        })
    }

    /// For benchmarks only, never the default: an encoder that answers every text with the
    /// same unit vector and runs neither the tokenizer nor the model, so a benchmark measures
    /// what serving costs without the model (`EMBED_NOOP_MODEL`, model.rs).
    pub fn noop(self) -> Encoder {
        Encoder { noop: true, ..self }
    }

    /// Length of every embedding (384 for all-MiniLM-L6-v2).
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// One L2-normalised embedding per text, in one forward pass.
    pub fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>, String> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        if self.noop {
            let unit = vec![(self.dimension as f32).sqrt().recip(); self.dimension];
            return Ok(vec![unit; texts.len()]);
        }
        let inputs: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| format!("tokenizer: {e}"))?;
        let rows = encodings.len();
        let width = encodings[0].get_ids().len();
        let mut ids = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        self.forward(ids, mask, (rows, width))
            .map_err(|e| format!("model: {e}"))
    }

    fn forward(
        &self,
        ids: Vec<u32>,
        mask: Vec<u32>,
        shape: (usize, usize),
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        let token_types = ids.zeros_like()?;
        let hidden = self.bert.forward(&ids, &token_types, Some(&mask))?; // (rows, width, dim)
                                                                          // Mean over the real tokens: padding counts for nothing.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (rows, width, 1)
        let sum = hidden.broadcast_mul(&mask)?.sum(1)?; // (rows, dim)
        let count = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?; // (rows, 1)
        let mean = sum.broadcast_div(&count)?;
        let norm = mean
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        mean.broadcast_div(&norm)?.to_vec2::<f32>()
    }
}

/// The tensors of `model.safetensors`, every `Linear` weight laid out for the multiply.
///
/// `Linear` computes `x · wᵀ` with `w` as stored, `(out, in)` row-major; its transpose is then
/// a strided view, and gemm re-packs that view into a contiguous panel on every call. With ~10
/// tokens a text the packing cost more than the multiply (62% of a one-text request's time).
/// Stored once as the transpose of a contiguous `(in, out)` matrix, `wᵀ` is contiguous and
/// the multiply reads it as it is. Same values, same shapes: only the memory order changes.
fn load_weights(path: &Path, device: &Device) -> candle_core::Result<HashMap<String, Tensor>> {
    // SAFETY: the file is mapped read-only while the tensors are copied out of it, and it is
    // the worker's own model directory (a volume or the image), never rewritten under it.
    // safetensors checks the header against the file's length.
    let file = unsafe { MmapedSafetensors::new(path)? };
    let mut tensors = HashMap::new();
    for (name, _) in file.tensors() {
        let tensor = file.load(&name, device)?;
        let tensor = if is_linear_weight(&name, &tensor) {
            tensor.t()?.contiguous()?.t()?
        } else {
            tensor
        };
        tensors.insert(name, tensor);
    }
    Ok(tensors)
}

/// A 2-D `*.weight` outside the embedding tables: the `(out, in)` matrix of a `Linear`
/// (attention query, key, value and output, the feed-forward layers, the pooler).
fn is_linear_weight(name: &str, tensor: &Tensor) -> bool {
    tensor.rank() == 2 && name.ends_with(".weight") && !name.contains("embeddings.")
}

/// Cosine similarity of two L2-normalised vectors: their dot product.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
