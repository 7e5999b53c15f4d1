//! `POST /greet` and `GET /health`.

use flash_runtime::HandlerError;
use serde::{Deserialize, Serialize};

/// The languages `POST /greet` speaks. A unit-only enum: `"en"`, `"fr"`, `"de"`; anything
/// else does not bind and the caller gets 422 naming the field.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Fr,
    De,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Greeting {
    pub message: String,
    pub language: Language,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Health {
    pub status: &'static str,
}

/// `POST /greet` with `{"name": "Ada"}` or `{"name": "Ada", "language": "fr"}`.
/// An empty name is the caller's mistake: 400 `{"error": "name must not be empty"}`.
pub async fn greet(name: String, language: Option<Language>) -> Result<Greeting, HandlerError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(HandlerError::client("name must not be empty"));
    }
    let language = language.unwrap_or_default();
    let message = match language {
        Language::En => format!("Hello, {name}!"),
        Language::Fr => format!("Bonjour, {name} !"),
        Language::De => format!("Hallo, {name}!"),
    };
    Ok(Greeting { message, language })
}

/// `GET /health`: the application's own check (the platform's is `/ping`, served by the runtime).
pub async fn health() -> Health {
    Health { status: "ok" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn greets_in_english_by_default() {
        let g = greet("Ada".into(), None).await.unwrap();
        assert_eq!(g.message, "Hello, Ada!");
        assert_eq!(g.language, Language::En);
    }

    #[tokio::test]
    async fn greets_in_the_asked_language() {
        let g = greet(" Ada ".into(), Some(Language::Fr)).await.unwrap();
        assert_eq!(g.message, "Bonjour, Ada !");
    }

    #[tokio::test]
    async fn an_empty_name_is_a_client_error() {
        assert_eq!(
            greet("  ".into(), None).await,
            Err(HandlerError::client("name must not be empty"))
        );
    }

    #[test]
    fn languages_are_lowercase_on_the_wire() {
        let de: Language = serde_json::from_str("\"de\"").unwrap();
        assert_eq!(de, Language::De);
        assert!(serde_json::from_str::<Language>("\"klingon\"").is_err());
    }

    #[tokio::test]
    async fn health_is_ok() {
        assert_eq!(health().await.status, "ok");
    }
}
