//! The `gpu-backend` queue endpoint. A real one would run a model on the GPU; this one keeps the
//! first words of the text, which is enough to show the wiring.

use flash_runtime::HandlerError;
use serde::{Deserialize, Serialize};

/// Words kept when the job names no `max_words`.
pub const DEFAULT_MAX_WORDS: u32 = 12;

/// The job's output. The API reads it back with the same type.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub summary: String,
    pub words_in: usize,
    pub words_out: usize,
}

/// `handler: backend::summarize`: a job `{"input": {"text": "...", "max_words": 5}}`.
pub fn summarize(text: String, max_words: Option<u32>) -> Result<Summary, HandlerError> {
    let max_words = max_words.unwrap_or(DEFAULT_MAX_WORDS);
    if max_words == 0 {
        return Err(HandlerError::client("`max_words` must be at least 1"));
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let kept = &words[..words.len().min(max_words as usize)];
    let mut summary = kept.join(" ");
    if kept.len() < words.len() {
        summary.push('…');
    }
    Ok(Summary {
        summary,
        words_in: words.len(),
        words_out: kept.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_words() {
        let s = summarize("one two three four".into(), Some(2)).unwrap();
        assert_eq!(s.summary, "one two…");
        assert_eq!((s.words_in, s.words_out), (4, 2));
        let s = summarize("short text".into(), None).unwrap();
        assert_eq!(s.summary, "short text");
    }

    #[test]
    fn zero_words_fails_the_job() {
        assert!(summarize("text".into(), Some(0)).is_err());
    }
}
