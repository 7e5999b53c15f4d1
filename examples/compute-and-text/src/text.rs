//! The `text` endpoint: checks and rewrites text. What the caller got wrong is a client error
//! (400 `{"error": "..."}`), never a 500.

use flash_runtime::HandlerError;
use serde::Serialize;

/// Longest text accepted when the request names no `max_length`.
pub const DEFAULT_MAX_LENGTH: usize = 10_000;

/// The operations `POST /transform` knows.
pub const OPERATIONS: [&str; 4] = ["upper", "lower", "reverse", "title"];

#[derive(Debug, Serialize, PartialEq)]
pub struct Validation {
    pub valid: bool,
    pub characters: usize,
    pub words: usize,
    pub lines: usize,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Transformed {
    pub operation: String,
    pub text: String,
}

/// `POST /validate` with `{"text": "...", "max_length": 100}` (`max_length` optional).
/// Empty or too long text is a 400 naming the problem.
pub async fn validate(text: String, max_length: Option<usize>) -> Result<Validation, HandlerError> {
    let max_length = max_length.unwrap_or(DEFAULT_MAX_LENGTH);
    let characters = text.chars().count();
    if text.trim().is_empty() {
        return Err(HandlerError::client("`text` must not be empty"));
    }
    if characters > max_length {
        return Err(HandlerError::client(format!(
            "`text` has {characters} characters, more than {max_length}"
        )));
    }
    Ok(Validation {
        valid: true,
        characters,
        words: text.split_whitespace().count(),
        lines: text.lines().count(),
    })
}

/// `POST /transform` with `{"text": "hello world", "operation": "title"}`. The operation is a
/// plain string checked here, so an unknown one is a 400 listing the known ones.
pub async fn transform(text: String, operation: String) -> Result<Transformed, HandlerError> {
    let text = match operation.as_str() {
        "upper" => text.to_uppercase(),
        "lower" => text.to_lowercase(),
        "reverse" => text.chars().rev().collect(),
        "title" => title_case(&text),
        other => {
            return Err(HandlerError::client(format!(
                "unknown operation `{other}`; expected one of {}",
                OPERATIONS.join(", ")
            )))
        }
    };
    Ok(Transformed { operation, text })
}

fn title_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at_word_start = true;
    for c in text.chars() {
        if at_word_start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        at_word_start = c.is_whitespace();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn validates_text() {
        let v = validate("two words\nand a line".into(), None)
            .await
            .unwrap();
        assert_eq!((v.words, v.lines, v.characters), (5, 2, 20));
        assert_eq!(
            validate("".into(), None).await,
            Err(HandlerError::client("`text` must not be empty"))
        );
        assert_eq!(
            validate("too long".into(), Some(3)).await,
            Err(HandlerError::client("`text` has 8 characters, more than 3"))
        );
    }

    #[tokio::test]
    async fn transforms_text() {
        let t = |op: &str| transform("hello wORLD".into(), op.into());
        assert_eq!(t("upper").await.unwrap().text, "HELLO WORLD");
        assert_eq!(t("lower").await.unwrap().text, "hello world");
        assert_eq!(t("reverse").await.unwrap().text, "DLROw olleh");
        assert_eq!(t("title").await.unwrap().text, "Hello World");
    }

    #[tokio::test]
    async fn an_unknown_operation_is_a_client_error() {
        assert_eq!(
            transform("x".into(), "shout".into()).await,
            Err(HandlerError::client(
                "unknown operation `shout`; expected one of upper, lower, reverse, title"
            ))
        );
    }
}
