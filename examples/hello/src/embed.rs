//! The `embed` queue endpoint: `init` loads a (fake) model once per worker, and every job
//! borrows it.

use serde::Serialize;

/// The loaded model: here a fixed table of "weights" that stands in for real ones.
pub struct Model {
    dims: usize,
    seeds: Vec<u64>,
}

/// The embedding of one job's text.
#[derive(Debug, Serialize)]
pub struct Embedding {
    pub dims: usize,
    pub tokens: usize,
    pub vector: Vec<f32>,
}

/// `init: embed::load_model`: runs once per worker before `/ping` says it is ready.
pub fn load_model() -> Model {
    let dims = 8;
    let seeds = (0..dims as u64)
        .map(|i| 0x9e37_79b9_7f4a_7c15 ^ i)
        .collect();
    Model { dims, seeds }
}

/// `handler: embed::run`: a job `{"input": {"text": "..."}}` binds `text`. A plain `fn`, so the
/// CPU-bound work runs on the blocking pool and never delays the worker's heartbeat.
pub fn run(model: &Model, text: String) -> Embedding {
    let mut vector = vec![0f32; model.dims];
    let words: Vec<&str> = text.split_whitespace().collect();
    for word in &words {
        for (slot, seed) in vector.iter_mut().zip(&model.seeds) {
            let h = fnv1a(word.as_bytes(), *seed);
            *slot += (h % 2001) as f32 / 1000.0 - 1.0;
        }
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    Embedding {
        dims: model.dims,
        tokens: words.len(),
        vector,
    }
}

fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325 ^ seed, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_unit_length_and_deterministic() {
        let model = load_model();
        let a = run(&model, "hello flash".to_string());
        let b = run(&model, "hello flash".to_string());
        assert_eq!(a.dims, 8);
        assert_eq!(a.tokens, 2);
        assert_eq!(a.vector, b.vector);
        let norm: f32 = a.vector.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn empty_text_is_a_zero_vector() {
        let e = run(&load_model(), String::new());
        assert_eq!(e.tokens, 0);
        assert!(e.vector.iter().all(|x| *x == 0.0));
    }
}
