//! The routes. Each takes the store as `&Store` (from `init`) and its arguments by name: path
//! segments (`{user_id}`), the query string (GET), or the JSON body's fields (POST).

use std::sync::Arc;

use flash_runtime::HandlerError;
use futures_util::{stream, Stream};
use serde::Serialize;

use crate::store::{Store, User};

/// Users listed when the query names no `limit`.
pub const DEFAULT_LIMIT: u32 = 50;

#[derive(Debug, Serialize, PartialEq)]
pub struct Deleted {
    pub deleted: u64,
}

/// `GET /users?limit=10`: `limit` comes from the query string and may be left out.
pub async fn list(store: &Store, limit: Option<u32>) -> Vec<User> {
    store.list(limit.unwrap_or(DEFAULT_LIMIT) as usize)
}

/// `POST /users` with `{"name": "Ada", "email": "ada@example.com"}`.
pub async fn create(store: &Store, name: String, email: String) -> Result<User, HandlerError> {
    if name.trim().is_empty() {
        return Err(HandlerError::client("name must not be empty"));
    }
    if !email.contains('@') {
        return Err(HandlerError::client(format!(
            "`{email}` is not an email address"
        )));
    }
    if store.email_taken(&email) {
        return Err(HandlerError::client(format!("`{email}` is already taken")));
    }
    Ok(store.insert(name, email))
}

/// `GET /users/{user_id}`: `/users/1` binds `user_id = 1`; `/users/abc` is a 422 before the
/// handler runs. An unknown id is answered 400 (the handler contract has no 404).
pub async fn get(store: &Store, user_id: u64) -> Result<User, HandlerError> {
    store.get(user_id).ok_or_else(|| not_found(user_id))
}

/// `DELETE /users/{user_id}`: no body needed, the id is in the path.
pub async fn delete(store: &Store, user_id: u64) -> Result<Deleted, HandlerError> {
    match store.remove(user_id) {
        Some(user) => Ok(Deleted { deleted: user.id }),
        None => Err(not_found(user_id)),
    }
}

/// `PATCH /users/{id}` with `{"name": "Ada L."}`: this route calls the path's parameter `id`,
/// where the others call it `user_id`; each binds its own name.
pub async fn rename(store: &Store, id: u64, name: String) -> Result<User, HandlerError> {
    if name.trim().is_empty() {
        return Err(HandlerError::client("name must not be empty"));
    }
    store.rename(id, name).ok_or_else(|| not_found(id))
}

/// `WS /users/{uid}`: a WebSocket on the path of `GET /users/{user_id}`; the client's first
/// message may be `{}`. Sends the user as one frame (or an error frame), then closes. The
/// stream outlives the call, so it takes the state as `Arc<Store>`.
pub fn watch(store: Arc<Store>, uid: u64) -> impl Stream<Item = Result<User, HandlerError>> {
    stream::iter([store.get(uid).ok_or_else(|| not_found(uid))])
}

fn not_found(user_id: u64) -> HandlerError {
    HandlerError::not_found(format!("no user with id {user_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store;

    #[tokio::test]
    async fn create_get_list_delete() {
        let store = store::open();
        let ada = create(&store, "Ada".into(), "ada@example.com".into())
            .await
            .unwrap();
        let bob = create(&store, "Bob".into(), "bob@example.com".into())
            .await
            .unwrap();
        assert_eq!((ada.id, bob.id), (1, 2));

        assert_eq!(get(&store, 2).await.unwrap(), bob);
        assert_eq!(list(&store, None).await, vec![ada.clone(), bob.clone()]);
        assert_eq!(list(&store, Some(1)).await, vec![ada]);

        let renamed = rename(&store, 2, "Robert".into()).await.unwrap();
        assert_eq!(renamed.name, "Robert");
        assert!(rename(&store, 9, "Nobody".into()).await.is_err());

        assert_eq!(delete(&store, 2).await.unwrap(), Deleted { deleted: 2 });
        assert_eq!(
            get(&store, 2).await,
            Err(HandlerError::not_found("no user with id 2"))
        );
        assert!(delete(&store, 2).await.is_err());
    }

    #[tokio::test]
    async fn bad_input_is_a_client_error() {
        let store = store::open();
        assert_eq!(
            create(&store, "Ada".into(), "ada".into()).await,
            Err(HandlerError::client("`ada` is not an email address"))
        );
        create(&store, "Ada".into(), "ada@example.com".into())
            .await
            .unwrap();
        assert_eq!(
            create(&store, "Ada 2".into(), "ada@example.com".into()).await,
            Err(HandlerError::client("`ada@example.com` is already taken"))
        );
        assert!(list(&store, None).await.len() == 1);
    }
}
