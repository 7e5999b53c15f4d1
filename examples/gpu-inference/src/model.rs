//! A stand-in for a real model: `load` builds a vocabulary table once per worker (where a real
//! worker would read weights onto the GPU), and `classify` scores a text with it. Everything is
//! deterministic, so the tests can check exact answers.

use std::collections::HashMap;

use flash_runtime::{Context, HandlerError};
use serde::Serialize;

/// The labels the model predicts, in the order of its weight rows.
pub const LABELS: [&str; 3] = ["positive", "negative", "neutral"];

/// Inputs longer than this many tokens report progress every `PROGRESS_EVERY` tokens.
pub const PROGRESS_EVERY: usize = 10_000;

const POSITIVE: &str = "good great excellent love fast happy nice best wonderful clean";
const NEGATIVE: &str = "bad awful terrible hate slow sad broken worst ugly crash";

/// The endpoint's state. Every job borrows it (`&Model`); it is never copied.
pub struct Model {
    /// word → row of `weights`
    vocab: HashMap<String, usize>,
    /// one score per label for each vocabulary word
    weights: Vec<[f32; 3]>,
}

/// One job's answer: the labels, most likely first.
#[derive(Debug, Serialize, PartialEq)]
pub struct Classification {
    pub labels: Vec<Scored>,
    pub tokens: usize,
    pub unknown_tokens: usize,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Scored {
    pub label: &'static str,
    pub score: f32,
}

/// Progress updates of long jobs: `{"status": "IN_PROGRESS", "output": {"done": .., "total": ..}}`.
#[derive(Debug, Serialize)]
struct Progress {
    done: usize,
    total: usize,
}

/// `init: model::load`. Runs once per worker before it takes jobs; an `Err` marks the worker
/// unhealthy (`/ping` answers 503) with the message in the log.
pub fn load() -> Result<Model, String> {
    let mut vocab = HashMap::new();
    let mut weights = Vec::new();
    for (words, row) in [(POSITIVE, [2.0, -1.0, 0.0]), (NEGATIVE, [-1.0, 2.0, 0.0])] {
        for word in words.split_whitespace() {
            if vocab.insert(word.to_string(), weights.len()).is_some() {
                return Err(format!("`{word}` is in the vocabulary twice"));
            }
            weights.push(row);
        }
    }
    Ok(Model { vocab, weights })
}

/// `handler: model::classify`. A job `{"input": {"text": "...", "top_k": 2}}` binds `text` and
/// `top_k` (optional). A plain `fn`: the worker runs it on its blocking pool, so a long input
/// never stops the heartbeat. An empty text fails the job (`FAILED`, with the message).
pub fn classify(
    model: &Model,
    ctx: &Context,
    text: String,
    top_k: Option<usize>,
) -> Result<Classification, HandlerError> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() {
        return Err(HandlerError::client("`text` has no words to classify"));
    }

    let mut logits = [0f32, 0.0, 0.5]; // a slight prior for "neutral"
    let mut unknown_tokens = 0;
    for (i, word) in words.iter().enumerate() {
        match model.vocab.get(word) {
            Some(&row) => {
                for (logit, w) in logits.iter_mut().zip(model.weights[row]) {
                    *logit += w;
                }
            }
            None => unknown_tokens += 1,
        }
        if words.len() > PROGRESS_EVERY && (i + 1) % PROGRESS_EVERY == 0 {
            ctx.progress(Progress {
                done: i + 1,
                total: words.len(),
            });
        }
    }

    let max = logits.iter().copied().fold(f32::MIN, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    let mut labels: Vec<Scored> = LABELS
        .iter()
        .zip(exp)
        .map(|(label, e)| Scored {
            label,
            score: e / sum,
        })
        .collect();
    labels.sort_by(|a, b| b.score.total_cmp(&a.score));
    labels.truncate(top_k.unwrap_or(LABELS.len()).max(1));

    Ok(Classification {
        labels,
        tokens: words.len(),
        unknown_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flash_runtime::handler::Progress as Sink;

    fn ctx() -> Context {
        Context::new("test-job", Sink::default())
    }

    #[test]
    fn the_model_loads() {
        let model = load().unwrap();
        assert_eq!(model.vocab.len(), 20);
    }

    #[test]
    fn classifies_by_vocabulary() {
        let model = load().unwrap();
        let c = classify(&model, &ctx(), "Great, fast and clean!".into(), None).unwrap();
        assert_eq!(c.labels[0].label, "positive");
        assert_eq!(c.labels.len(), 3);
        assert_eq!((c.tokens, c.unknown_tokens), (4, 1));
        let total: f32 = c.labels.iter().map(|s| s.score).sum();
        assert!((total - 1.0).abs() < 1e-5);

        let c = classify(&model, &ctx(), "slow and broken".into(), Some(1)).unwrap();
        assert_eq!(c.labels.len(), 1);
        assert_eq!(c.labels[0].label, "negative");

        let c = classify(&model, &ctx(), "the weather".into(), Some(1)).unwrap();
        assert_eq!(c.labels[0].label, "neutral");
    }

    #[test]
    fn an_empty_text_fails_the_job() {
        let model = load().unwrap();
        assert!(matches!(
            classify(&model, &ctx(), " ?! ".into(), None),
            Err(HandlerError::Client(_))
        ));
    }

    #[test]
    fn long_inputs_report_progress() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let ctx = Context::new("long-job", Sink::new(tx));
        let text = "good ".repeat(2 * PROGRESS_EVERY + 5);
        classify(&load().unwrap(), &ctx, text, None).unwrap();
        let mut updates = Vec::new();
        while let Ok(update) = rx.try_recv() {
            updates.push(update);
        }
        assert_eq!(
            updates,
            vec![
                serde_json::json!({"done": PROGRESS_EVERY, "total": 2 * PROGRESS_EVERY + 5}),
                serde_json::json!({"done": 2 * PROGRESS_EVERY, "total": 2 * PROGRESS_EVERY + 5}),
            ]
        );
    }
}
