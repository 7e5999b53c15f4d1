//! The `api` load-balanced endpoint: three HTTP routes and a WebSocket route.

use std::sync::atomic::{AtomicU64, Ordering};

use flash_runtime::{HandlerError, Input};
use futures_util::{stream, Stream};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, PartialEq)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub email: Option<String>,
}

/// The JSON body of `PUT /users/{id}`, taken whole.
#[derive(Debug, Deserialize, PartialEq)]
pub struct UserUpdate {
    pub name: String,
    pub email: Option<String>,
}

/// One WebSocket frame of `WS /stream`.
#[derive(Debug, Serialize, PartialEq)]
pub struct Token {
    pub token: String,
    pub index: usize,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// `GET /users/{id}`: `id` comes from the path (`/users/42` → `42`).
pub async fn get(id: u64) -> User {
    User {
        id,
        name: format!("user-{id}"),
        email: None,
    }
}

/// `POST /users` with the body `{"name": "Ada", "email": "ada@example.com"}`; `email` may be
/// left out. A bad email is the caller's mistake: 400 `{"error": "..."}`.
pub async fn create(name: String, email: Option<String>) -> Result<User, HandlerError> {
    if name.trim().is_empty() {
        return Err(HandlerError::client("name must not be empty"));
    }
    if let Some(email) = &email {
        if !email.contains('@') {
            return Err(HandlerError::client(format!(
                "`{email}` is not an email address"
            )));
        }
    }
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    Ok(User { id, name, email })
}

/// `PUT /users/{id}` with the body `{"name": "Ada"}`: the whole body is one `UserUpdate`
/// (`Input<T>`), as a FastAPI route with one model parameter; `id` comes from the path.
pub async fn replace(id: u64, Input(update): Input<UserUpdate>) -> User {
    User {
        id,
        name: update.name,
        email: update.email,
    }
}

/// `WS /stream`: the client's first frame `{"text": "a b c"}` binds `text`; every word goes
/// back as one frame `{"token": "a", "index": 0}`.
pub fn stream(text: String) -> impl Stream<Item = Token> {
    let tokens: Vec<Token> = text
        .split_whitespace()
        .enumerate()
        .map(|(index, word)| Token {
            token: word.to_string(),
            index,
        })
        .collect();
    stream::iter(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn get_echoes_the_id() {
        assert_eq!(get(7).await.name, "user-7");
    }

    #[tokio::test]
    async fn create_checks_its_input() {
        let user = create("Ada".into(), Some("ada@example.com".into()))
            .await
            .unwrap();
        assert_eq!(user.name, "Ada");
        assert_eq!(
            create("Ada".into(), Some("nope".into())).await.unwrap_err(),
            HandlerError::client("`nope` is not an email address")
        );
        assert!(matches!(
            create(" ".into(), None).await,
            Err(HandlerError::Client(_))
        ));
    }

    #[tokio::test]
    async fn stream_sends_one_frame_per_word() {
        let frames: Vec<Token> = stream("hello flash world".into()).collect().await;
        assert_eq!(frames.len(), 3);
        assert_eq!(
            frames[2],
            Token {
                token: "world".into(),
                index: 2
            }
        );
    }
}
