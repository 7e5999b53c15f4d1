//! The handlers: `POST /embed` and `POST /similarity` on the load-balanced endpoint, and the
//! queue endpoint's job (`{"input": {"texts": [...]}}`, the same answer as `POST /embed`).

use flash_runtime::HandlerError;
use serde::{Deserialize, Serialize};

use crate::encoder::cosine;
use crate::model::Model;

/// Texts one request may carry: more is a 400 (split them over requests).
pub const MAX_TEXTS: usize = 256;

#[derive(Debug, Serialize, Deserialize)]
pub struct Embeddings {
    /// One L2-normalised vector per text, in the order of `texts`.
    pub embeddings: Vec<Vec<f32>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Similarity {
    /// Cosine similarity of the two texts' embeddings, in [-1, 1].
    pub score: f32,
}

/// `POST /embed` with `{"texts": ["...", ...]}`.
pub async fn embed(model: &Model, texts: Vec<String>) -> Result<Embeddings, HandlerError> {
    if texts.is_empty() {
        return Err(HandlerError::client("`texts` must hold at least one text"));
    }
    if texts.len() > MAX_TEXTS {
        return Err(HandlerError::client(format!(
            "`texts` holds {} texts; at most {MAX_TEXTS} a request",
            texts.len()
        )));
    }
    let embeddings = model
        .batcher()
        .embed(texts)
        .await
        .map_err(HandlerError::internal)?;
    Ok(Embeddings { embeddings })
}

/// `POST /similarity` with `{"a": "...", "b": "..."}`.
pub async fn similarity(model: &Model, a: String, b: String) -> Result<Similarity, HandlerError> {
    let rows = model
        .batcher()
        .embed(vec![a, b])
        .await
        .map_err(HandlerError::internal)?;
    Ok(Similarity {
        score: cosine(&rows[0], &rows[1]),
    })
}
